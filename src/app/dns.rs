//! DNS messages (RFC 1035): the header and the question section.
//!
//! Only what detection reads is parsed: the transaction id, the QR bit
//! and each question's name, in dotted form without the trailing dot
//! (what Suricata's `dns.query` buffer holds). Every read goes through
//! `get`, so a truncated or hostile message yields `None` or fewer
//! questions, never a panic. Names follow compression pointers with a
//! cap on jumps (a pointer loop ends there) and on length.
//!
//! Over TCP each message is preceded by a two-byte length
//! (RFC 1035 4.2.2); [`TcpFramer`] cuts a direction's stream into
//! messages.

/// Longest name kept, in presentation form (RFC 1035 2.3.4 allows 255
/// octets on the wire, which is at most 253 characters dotted).
const MAX_NAME: usize = 255;
/// Compression pointers followed per name; more means a loop.
const MAX_JUMPS: usize = 16;
/// Questions kept per message: real queries carry one.
const MAX_QUESTIONS: usize = 8;

/// One parsed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsMessage {
    pub id: u16,
    /// QR bit: this is a response.
    pub response: bool,
    /// Question names, dotted, no trailing dot.
    pub queries: Vec<Vec<u8>>,
    /// Transaction number within the flow (set by the session).
    pub tx_id: u64,
}

/// Parses one message; `None` when even the header or the first
/// question is unreadable.
pub fn parse(msg: &[u8]) -> Option<DnsMessage> {
    let be16 = |at: usize| Some(u16::from_be_bytes([*msg.get(at)?, *msg.get(at + 1)?]));
    // Header: id(2) flags(2) qdcount(2) ancount nscount arcount.
    let id = be16(0)?;
    let flags = be16(2)?;
    let qdcount = be16(4)?;
    be16(10)?;

    let mut queries = Vec::new();
    let mut at = 12;
    for _ in 0..usize::from(qdcount).min(MAX_QUESTIONS) {
        // A question that does not fit ends the section; the names
        // before it still count.
        let Some((name, next)) = read_name(msg, at) else {
            break;
        };
        // QTYPE and QCLASS follow the name.
        if msg.len() < next + 4 {
            break;
        }
        queries.push(name);
        at = next + 4;
    }
    if qdcount > 0 && queries.is_empty() {
        return None;
    }
    Some(DnsMessage {
        id,
        response: flags & 0x8000 != 0,
        queries,
        tx_id: 0,
    })
}

/// Whether a datagram on a port that says nothing is a DNS query: a
/// standard query (QR 0, opcode 0) with one readable question and no
/// answers. Strict on purpose, since it decides a flow's protocol.
pub fn looks_like_query(msg: &[u8]) -> bool {
    let be16 = |at: usize| {
        msg.get(at..at + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
    };
    let (Some(flags), Some(1), Some(0), Some(0)) = (be16(2), be16(4), be16(6), be16(8)) else {
        return false;
    };
    flags & 0xf800 == 0 && parse(msg).is_some_and(|m| m.queries.len() == 1)
}

/// Reads the name at `at`; returns it and where the question goes on
/// (after the name's first pointer, or its root label).
fn read_name(msg: &[u8], mut at: usize) -> Option<(Vec<u8>, usize)> {
    let mut name = Vec::new();
    let mut resume = None;
    let mut jumps = 0;
    loop {
        let len = *msg.get(at)?;
        match len & 0xc0 {
            // The root label ends the name.
            0x00 if len == 0 => break,
            0x00 => {
                let label = msg.get(at + 1..at + 1 + usize::from(len))?;
                if !name.is_empty() {
                    name.push(b'.');
                }
                name.extend_from_slice(label);
                if name.len() > MAX_NAME {
                    return None;
                }
                at += 1 + usize::from(len);
            }
            // Pointer (RFC 1035 4.1.4): 14-bit offset from the start.
            0xc0 => {
                let lo = *msg.get(at + 1)?;
                jumps += 1;
                if jumps > MAX_JUMPS {
                    return None;
                }
                resume.get_or_insert(at + 2);
                at = usize::from(len & 0x3f) << 8 | usize::from(lo);
            }
            // 0x40 and 0x80 are reserved label types (RFC 6891 retired
            // the extended ones): nothing to read past them.
            _ => return None,
        }
    }
    Some((name, resume.unwrap_or(at + 1)))
}

/// Cuts one direction of a DNS-over-TCP stream into messages.
#[derive(Debug, Default)]
pub struct TcpFramer {
    /// Bytes of a message not complete yet (at most 2 + 65535).
    partial: Vec<u8>,
}

impl TcpFramer {
    /// Adds stream bytes; each complete message is parsed into `out`
    /// (one that does not parse is skipped: its length still frames
    /// the next).
    pub fn feed(&mut self, mut data: &[u8], out: &mut Vec<DnsMessage>) {
        while !data.is_empty() {
            // Complete the length prefix, then the message it announces.
            let want = match self.partial.get(..2) {
                Some(l) => 2 + usize::from(u16::from_be_bytes([l[0], l[1]])),
                None => 2,
            };
            let take = (want - self.partial.len()).min(data.len());
            self.partial.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.partial.len() == want && want > 2 {
                out.extend(parse(&self.partial[2..]));
                self.partial.clear();
            } else if self.partial.len() == 2 && want == 2 && self.partial == [0, 0] {
                // An empty message: nothing to parse.
                self.partial.clear();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query for www.example.com with a second question that
    /// points back into the first name.
    const QUERY: &[u8] = &[
        0x12, 0x34, // id
        0x01, 0x00, // flags: standard query, RD
        0x00, 0x02, // qdcount 2
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // an/ns/ar counts
        // offset 12: 3 "www" 7 "example" 3 "com" 0
        0x03, b'w', b'w', b'w', 0x07, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0x03, b'c', b'o',
        b'm', 0x00, //
        0x00, 0x01, 0x00, 0x01, // A, IN
        // 4 "mail" then pointer to offset 16 ("example.com")
        0x04, b'm', b'a', b'i', b'l', 0xc0, 0x10, //
        0x00, 0x0f, 0x00, 0x01, // MX, IN
    ];

    #[test]
    fn compressed_names() {
        let m = parse(QUERY).expect("parses");
        assert_eq!(m.id, 0x1234);
        assert!(!m.response);
        assert_eq!(
            m.queries,
            vec![b"www.example.com".to_vec(), b"mail.example.com".to_vec()]
        );
        assert!(!looks_like_query(QUERY)); // two questions
    }

    #[test]
    fn truncated() {
        // Cut inside the second question: the first one stands.
        let m = parse(&QUERY[..40]).expect("first question");
        assert_eq!(m.queries, vec![b"www.example.com".to_vec()]);
        // Cut inside the first name: nothing to read.
        assert_eq!(parse(&QUERY[..20]), None);
        assert_eq!(parse(&QUERY[..5]), None);
    }

    #[test]
    fn pointer_loop() {
        let msg = [
            0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, // header, one question
            0xc0, 0x0c, // pointer to itself
            0, 1, 0, 1,
        ];
        assert_eq!(parse(&msg), None);
        assert!(!looks_like_query(&msg));
    }

    #[test]
    fn tcp_framing_across_chunks() {
        let q = &QUERY[..33]; // header + first question, qdcount says 2
        let mut stream = (q.len() as u16).to_be_bytes().to_vec();
        stream.extend_from_slice(q);
        stream.extend_from_slice(&stream.clone());
        let mut f = TcpFramer::default();
        let mut out = Vec::new();
        for chunk in stream.chunks(5) {
            f.feed(chunk, &mut out);
        }
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].queries, vec![b"www.example.com".to_vec()]);
    }
}
