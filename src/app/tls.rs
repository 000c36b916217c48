//! The TLS ClientHello (RFC 8446 4.1.2), read from the client's stream.
//!
//! Handshake records (content type 22) are collected until the first
//! handshake message is whole; it may span records (RFC 8446 5.1) and
//! TCP segments. Only a ClientHello is parsed, and from it only the
//! server name (RFC 6066 3). All reads go through `get` on slices whose
//! length was checked, so short or lying length fields end parsing
//! instead of panicking. What is kept is capped at [`MAX_HELLO`].

/// Handshake bytes kept while waiting for the ClientHello to be
/// whole; a bigger hello is given up on.
const MAX_HELLO: usize = 16 * 1024;

/// What was read from the client's first handshake message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientHello {
    /// `server_name` extension, host_name entry.
    pub sni: Option<Vec<u8>>,
}

/// Collects the client's handshake bytes.
#[derive(Debug, Default)]
pub struct HelloReader {
    /// Raw stream bytes not yet cut into records.
    raw: Vec<u8>,
    /// Handshake-protocol bytes taken out of complete records.
    handshake: Vec<u8>,
    done: bool,
}

impl HelloReader {
    /// Adds client stream bytes; returns the hello once it is whole
    /// (at most once per flow).
    pub fn feed(&mut self, data: &[u8]) -> Option<ClientHello> {
        if self.done {
            return None;
        }
        if self.raw.len() + data.len() > MAX_HELLO {
            self.done = true;
            return None;
        }
        self.raw.extend_from_slice(data);

        // Records: type(1) version(2) length(2) fragment.
        while let Some(hdr) = self.raw.get(..5) {
            let len = usize::from(u16::from_be_bytes([hdr[3], hdr[4]]));
            if hdr[0] != 0x16 {
                // Not a handshake record: no ClientHello comes first.
                self.done = true;
                return None;
            }
            let Some(frag) = self.raw.get(5..5 + len) else {
                break;
            };
            self.handshake.extend_from_slice(frag);
            self.raw.drain(..5 + len);
        }

        // Handshake: type(1) length(3) body.
        let hs = self.handshake.get(..4)?;
        if hs[0] != 1 {
            self.done = true;
            return None;
        }
        let len = usize::from(hs[1]) << 16 | usize::from(hs[2]) << 8 | usize::from(hs[3]);
        let body = self.handshake.get(4..4 + len)?;
        self.done = true;
        Some(ClientHello {
            sni: hello_sni(body),
        })
    }
}

/// A cursor over a checked slice.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<usize> {
        self.take(1).map(|b| usize::from(b[0]))
    }

    fn u16(&mut self) -> Option<usize> {
        self.take(2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
    }

    /// A vector with a `width`-byte length prefix.
    fn vec(&mut self, width: usize) -> Option<&'a [u8]> {
        let n = if width == 1 { self.u8()? } else { self.u16()? };
        self.take(n)
    }
}

/// The host_name of the ClientHello body's server_name extension.
fn hello_sni(body: &[u8]) -> Option<Vec<u8>> {
    let mut r = Reader(body);
    // legacy_version(2) random(32) session_id cipher_suites
    // compression_methods, then the extensions block.
    r.take(2 + 32)?;
    r.vec(1)?;
    r.vec(2)?;
    r.vec(1)?;
    let mut exts = Reader(r.vec(2)?);
    while !exts.0.is_empty() {
        let ty = exts.u16()?;
        let data = exts.vec(2)?;
        if ty != 0 {
            continue;
        }
        // ServerNameList: entries of name_type(1) and a vector.
        let mut list = Reader(Reader(data).vec(2)?);
        while !list.0.is_empty() {
            let kind = list.u8()?;
            let name = list.vec(2)?;
            if kind == 0 {
                return Some(name.to_vec());
            }
        }
        return None;
    }
    None
}

/// A ClientHello record naming `name`, for tests here and in the
/// engine tests (not part of the API).
#[doc(hidden)]
pub fn test_hello(name: &str) -> Vec<u8> {
    let name = name.as_bytes();
    // server_name extension: type 0, length, list length, host_name
    // entry (type 0, length, name).
    let mut sni = vec![0x00, 0x00];
    let list_len = 3 + name.len();
    sni.extend_from_slice(&((list_len + 2) as u16).to_be_bytes());
    sni.extend_from_slice(&(list_len as u16).to_be_bytes());
    sni.push(0x00);
    sni.extend_from_slice(&(name.len() as u16).to_be_bytes());
    sni.extend_from_slice(name);
    // An extension before it, to be skipped: supported_versions.
    let mut exts = vec![0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04];
    exts.extend_from_slice(&sni);

    let mut body = vec![0x03, 0x03]; // legacy_version TLS 1.2
    body.extend_from_slice(&[0xaa; 32]); // random
    body.push(0x00); // empty session_id
    body.extend_from_slice(&[0x00, 0x02, 0x13, 0x01]); // one cipher suite
    body.extend_from_slice(&[0x01, 0x00]); // null compression
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend_from_slice(&exts);

    // Handshake header: ClientHello (1), 24-bit length.
    let mut hs = vec![0x01, 0x00];
    hs.extend_from_slice(&(body.len() as u16).to_be_bytes());
    hs.extend_from_slice(&body);
    // Record header: handshake (22), TLS 1.0 record version, length.
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello_record() -> Vec<u8> {
        test_hello("example.org")
    }

    #[test]
    fn sni_split_across_segments() {
        let rec = hello_record();
        // The cut falls inside the server name.
        let cut = rec.len() - 4;
        let mut r = HelloReader::default();
        assert_eq!(r.feed(&rec[..cut]), None);
        let hello = r.feed(&rec[cut..]).expect("hello");
        assert_eq!(hello.sni.as_deref(), Some(&b"example.org"[..]));
        assert_eq!(r.feed(&rec), None); // once per flow
    }

    #[test]
    fn hello_across_records_and_lies() {
        // The handshake message split into two records.
        let rec = hello_record();
        let hs = &rec[5..];
        let mut two = Vec::new();
        for part in [&hs[..10], &hs[10..]] {
            two.extend_from_slice(&[0x16, 0x03, 0x01]);
            two.extend_from_slice(&(part.len() as u16).to_be_bytes());
            two.extend_from_slice(part);
        }
        let mut r = HelloReader::default();
        let sni = r.feed(&two).and_then(|h| h.sni);
        assert_eq!(sni.as_deref(), Some(&b"example.org"[..]));

        // An extensions length past the end: no name, no panic.
        let mut bad = rec.clone();
        let n = bad.len();
        bad[n - 20] = 0xff;
        let _ = HelloReader::default().feed(&bad);
        // Not a handshake.
        assert_eq!(HelloReader::default().feed(b"\x17\x03\x03\x00\x01x"), None);
    }
}
