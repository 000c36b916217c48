//! TLS handshakes (RFC 8446 4, RFC 5246 7.4), read from both sides
//! of a TCP flow.
//!
//! Handshake records (content type 22) are collected per direction and
//! cut into handshake messages, which may span records (RFC 8446 5.1)
//! and TCP segments. From the client's ClientHello only the server name
//! (RFC 6066 3) is read; from the server's Certificate message (TLS 1.2
//! and older: 1.3 encrypts it) the first certificate's subject, issuer
//! and serial ([`super::x509`]). All reads go through `get` on slices
//! whose length was checked, so short or lying length fields end
//! parsing instead of panicking. Each direction keeps at most
//! `MAX_HANDSHAKE` bytes and stops at its first non-handshake record.

use super::x509::{self, CertInfo};

/// Handshake bytes kept per direction; a longer handshake (a huge
/// certificate chain) is given up on.
const MAX_HANDSHAKE: usize = 64 * 1024;

/// What the TLS transaction of a flow holds so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsInfo {
    /// `server_name` extension, host_name entry.
    pub sni: Option<Vec<u8>>,
    /// The server's first certificate.
    pub cert: Option<CertInfo>,
}

/// Cuts one direction's records into handshake messages.
#[derive(Debug, Default)]
pub struct Handshakes {
    /// Raw stream bytes not yet cut into records.
    raw: Vec<u8>,
    /// Handshake-protocol bytes of complete records, not yet consumed.
    handshake: Vec<u8>,
    /// Bytes taken so far, against [`MAX_HANDSHAKE`].
    seen: usize,
    done: bool,
}

impl Handshakes {
    /// Adds stream bytes; calls `each` with (type, body) of every
    /// handshake message that became whole.
    pub fn feed(&mut self, data: &[u8], mut each: impl FnMut(u8, &[u8])) {
        if self.done {
            return;
        }
        self.seen += data.len();
        if self.seen > MAX_HANDSHAKE {
            self.give_up();
            return;
        }
        self.raw.extend_from_slice(data);

        // Records: type(1) version(2) length(2) fragment. Anything but
        // a handshake record (ChangeCipherSpec, alert, data) ends what
        // can be read in clear.
        while let Some(hdr) = self.raw.get(..5) {
            if hdr[0] != 0x16 {
                self.give_up();
                return;
            }
            let len = usize::from(u16::from_be_bytes([hdr[3], hdr[4]]));
            let Some(frag) = self.raw.get(5..5 + len) else {
                break;
            };
            self.handshake.extend_from_slice(frag);
            self.raw.drain(..5 + len);
        }

        // Messages: type(1) length(3) body.
        let mut at = 0;
        while let Some(h) = self.handshake.get(at..at + 4) {
            let len = usize::from(h[1]) << 16 | usize::from(h[2]) << 8 | usize::from(h[3]);
            let Some(body) = self.handshake.get(at + 4..at + 4 + len) else {
                break;
            };
            each(h[0], body);
            at += 4 + len;
        }
        self.handshake.drain(..at);
    }

    /// Nothing more will be read: the buffers go.
    fn give_up(&mut self) {
        self.done = true;
        self.raw = Vec::new();
        self.handshake = Vec::new();
    }
}

/// Handshake message types read here.
const CLIENT_HELLO: u8 = 1;
const CERTIFICATE: u8 = 11;

/// Both directions of one flow's handshake.
#[derive(Debug, Default)]
pub struct TlsParser {
    dirs: [Handshakes; 2],
    info: TlsInfo,
}

impl TlsParser {
    /// Adds bytes of the client (`to_server`) or server side; returns
    /// whether the transaction gained a part.
    pub fn feed(&mut self, to_server: bool, data: &[u8]) -> bool {
        let info = &mut self.info;
        let mut gained = false;
        let side = &mut self.dirs[usize::from(!to_server)];
        side.feed(data, |ty, body| match (to_server, ty) {
            (true, CLIENT_HELLO) if info.sni.is_none() => {
                info.sni = hello_sni(body);
                gained = true;
            }
            (false, CERTIFICATE) if info.cert.is_none() => {
                info.cert = first_cert(body).and_then(x509::parse);
                gained |= info.cert.is_some();
            }
            _ => {}
        });
        gained
    }

    pub fn info(&self) -> &TlsInfo {
        &self.info
    }
}

/// The first certificate of a Certificate message (RFC 5246 7.4.2):
/// a 24-bit list length, then 24-bit length and DER of each.
fn first_cert(body: &[u8]) -> Option<&[u8]> {
    let u24 = |b: &[u8]| usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]);
    let list = body.get(3..3 + u24(body.get(..3)?))?;
    list.get(3..3 + u24(list.get(..3)?))
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

/// A Certificate handshake record carrying `der` alone, for the
/// engine tests (not part of the API).
#[doc(hidden)]
pub fn test_certificate(der: &[u8]) -> Vec<u8> {
    let u24 = |n: usize| [(n >> 16) as u8, (n >> 8) as u8, n as u8];
    let mut list = u24(der.len()).to_vec();
    list.extend_from_slice(der);
    let mut body = u24(list.len()).to_vec();
    body.extend_from_slice(&list);
    // Handshake header: Certificate (11), 24-bit length.
    let mut hs = vec![CERTIFICATE];
    hs.extend_from_slice(&u24(body.len()));
    hs.extend_from_slice(&body);
    // Record header: handshake, TLS 1.2, length.
    let mut rec = vec![0x16, 0x03, 0x03];
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
        let mut p = TlsParser::default();
        assert!(!p.feed(true, &rec[..cut]));
        assert!(p.feed(true, &rec[cut..]));
        assert_eq!(p.info().sni.as_deref(), Some(&b"example.org"[..]));
        assert!(!p.feed(true, &rec)); // once per flow
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
        let mut p = TlsParser::default();
        p.feed(true, &two);
        assert_eq!(p.info().sni.as_deref(), Some(&b"example.org"[..]));

        // An extensions length past the end: no name, no panic.
        let mut bad = rec.clone();
        let n = bad.len();
        bad[n - 20] = 0xff;
        let _ = TlsParser::default().feed(true, &bad);
        // Not a handshake.
        assert!(!TlsParser::default().feed(true, b"\x17\x03\x03\x00\x01x"));
    }

    #[test]
    fn certificate_from_the_server() {
        let rec = test_certificate(&x509::test_cert("evil.example"));
        let mut p = TlsParser::default();
        // Byte by byte: records and messages are reassembled.
        let gained = rec.iter().fold(false, |g, b| g | p.feed(false, &[*b]));
        assert!(gained);
        let cert = p.info().cert.as_ref().expect("cert");
        assert_eq!(cert.subject, b"CN=evil.example");
        assert_eq!(cert.issuer, b"C=US, O=Let's Encrypt, CN=R3");
    }
}
