//! Protocol detection from the first bytes of each direction.
//!
//! Each direction's prefix is classified on its own as a match, "could
//! still match once more bytes arrive", or "matches nothing"; the two
//! answers are then combined. What is recognised, and nothing more:
//!
//! | protocol | to server | to client |
//! |---|---|---|
//! | http | a known method followed by a space or tab | `HTTP/1.` |
//! | tls | record header `16 03 0x` (x <= 4): a handshake | same |
//! | ssh | `SSH-` | `SSH-` |
//! | smtp | `EHLO ` / `HELO ` | banner `220` whose first line says SMTP |
//! | ftp | `USER ` after a `220` banner | banner `220` whose first line says FTP |
//! | dns | never from content: see [`proto_from_port`] | |
//!
//! A `220` banner that names neither SMTP nor FTP is decided by the
//! client's first command. Ports are never consulted by
//! [`detect_protocol`]. Method names are matched case-sensitively, as
//! servers do.

use super::AppProto;

/// Bytes of a direction looked at; a prefix this long that matched
/// nothing will not match later either.
const PROBE_LEN: usize = 512;

/// Request methods that mark a client as speaking HTTP (RFC 9110 plus
/// the WebDAV ones seen in the wild).
const METHODS: &[&[u8]] = &[
    b"GET",
    b"POST",
    b"HEAD",
    b"PUT",
    b"DELETE",
    b"OPTIONS",
    b"CONNECT",
    b"TRACE",
    b"PATCH",
    b"PROPFIND",
    b"PROPPATCH",
    b"MKCOL",
    b"COPY",
    b"MOVE",
    b"LOCK",
    b"UNLOCK",
    b"SEARCH",
    b"REPORT",
];

/// One direction's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    Match(AppProto),
    /// A `220` banner that names no protocol: the client decides.
    Banner,
    /// Too few bytes to tell (includes the empty prefix).
    Maybe,
    No,
}

/// Detect the application protocol of a TCP flow from the first bytes
/// each side sent (`to_server_prefix` from the client, `to_client_prefix`
/// from the server; either may be empty).
///
/// Returns `None` while more bytes could still change the answer, the
/// protocol once one direction is recognised (the client's side is
/// consulted first), and `Some(AppProto::Failed)` when both directions
/// carried bytes that match nothing.
pub fn detect_protocol(to_server_prefix: &[u8], to_client_prefix: &[u8]) -> Option<AppProto> {
    let ts = probe_client(to_server_prefix);
    let tc = probe_server(to_client_prefix);

    // A recognised side wins; the client speaks first for most protocols.
    if let Probe::Match(p) = ts {
        return Some(p);
    }
    if let Probe::Match(p) = tc {
        return Some(p);
    }

    // A bare 220 banner: FTP and SMTP clients give themselves away.
    if tc == Probe::Banner {
        return banner_client(to_server_prefix);
    }

    match (ts, tc) {
        (Probe::No, Probe::No) => Some(AppProto::Failed),
        _ => None,
    }
}

/// The protocol a well-known server port implies, for protocols that
/// have no content probe (DNS over TCP on 53) or as a fallback when
/// [`detect_protocol`] failed. Only DNS is mapped: every other protocol
/// here is recognised from content and must not be assumed from a port.
pub fn proto_from_port(server_port: u16) -> Option<AppProto> {
    match server_port {
        53 => Some(AppProto::Dns),
        _ => None,
    }
}

/// Whether `data` starts with `pat`, or is a (shorter) prefix of it.
fn prefix_state(data: &[u8], pat: &[u8]) -> Option<bool> {
    let n = data.len().min(pat.len());
    if data[..n] != pat[..n] {
        None
    } else {
        Some(data.len() >= pat.len())
    }
}

/// Classify `data` against the probes shared by both sides.
fn probe_common(data: &[u8]) -> Probe {
    let mut maybe = false;

    // TLS: ContentType handshake (22), major version 3, minor 0..=4.
    match data {
        [0x16, 0x03, minor, ..] if *minor <= 4 => return Probe::Match(AppProto::Tls),
        [0x16] | [0x16, 0x03] => maybe = true,
        _ => {}
    }

    match prefix_state(data, b"SSH-") {
        Some(true) => return Probe::Match(AppProto::Ssh),
        Some(false) => maybe = true,
        None => {}
    }
    if maybe {
        Probe::Maybe
    } else {
        Probe::No
    }
}

fn probe_client(data: &[u8]) -> Probe {
    if data.is_empty() {
        return Probe::Maybe;
    }
    let mut verdict = probe_common(data);
    if let Probe::Match(_) = verdict {
        return verdict;
    }

    // HTTP: METHOD followed by a space (or a tab, which servers accept).
    for m in METHODS {
        match prefix_state(data, m) {
            Some(true) => match data.get(m.len()) {
                Some(b' ') | Some(b'\t') => return Probe::Match(AppProto::Http),
                None => verdict = Probe::Maybe,
                Some(_) => {}
            },
            Some(false) => verdict = Probe::Maybe,
            None => {}
        }
    }

    // SMTP clients may speak first on submission ports.
    for cmd in [&b"EHLO "[..], b"HELO "] {
        match prefix_state(data, cmd) {
            Some(true) => return Probe::Match(AppProto::Smtp),
            Some(false) => verdict = Probe::Maybe,
            None => {}
        }
    }
    if verdict == Probe::Maybe && data.len() >= PROBE_LEN {
        return Probe::No;
    }
    verdict
}

fn probe_server(data: &[u8]) -> Probe {
    if data.is_empty() {
        return Probe::Maybe;
    }
    let mut verdict = probe_common(data);
    if let Probe::Match(_) = verdict {
        return verdict;
    }

    match prefix_state(data, b"HTTP/1.") {
        Some(true) => return Probe::Match(AppProto::Http),
        Some(false) => verdict = Probe::Maybe,
        None => {}
    }

    // "220 " or "220-": a greeting; its first line may name the service.
    if data.len() < 4 {
        if prefix_state(data, b"220").is_some() {
            verdict = Probe::Maybe;
        }
    } else if data.starts_with(b"220") && matches!(data[3], b' ' | b'-') {
        let line_end = data.iter().position(|&b| b == b'\n');
        let line = &data[..line_end.unwrap_or(data.len()).min(PROBE_LEN)];
        if contains_nocase(line, b"SMTP") {
            return Probe::Match(AppProto::Smtp);
        }
        if contains_nocase(line, b"FTP") {
            return Probe::Match(AppProto::Ftp);
        }
        if line_end.is_none() && data.len() < PROBE_LEN {
            return Probe::Maybe;
        }
        return Probe::Banner;
    }
    if verdict == Probe::Maybe && data.len() >= PROBE_LEN {
        return Probe::No;
    }
    verdict
}

/// After an anonymous `220` banner: the client's first command.
fn banner_client(data: &[u8]) -> Option<AppProto> {
    const SMTP: &[&[u8]] = &[b"EHLO", b"HELO", b"MAIL"];
    const FTP: &[&[u8]] = &[b"USER", b"AUTH", b"FEAT", b"SYST", b"OPTS"];
    if data.len() < 4 {
        return None;
    }
    let word = data[..4].to_ascii_uppercase();
    if SMTP.iter().any(|c| *c == word) {
        Some(AppProto::Smtp)
    } else if FTP.iter().any(|c| *c == word) {
        Some(AppProto::Ftp)
    } else {
        Some(AppProto::Failed)
    }
}

fn contains_nocase(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_from_either_side() {
        assert_eq!(
            detect_protocol(b"GET / HTTP/1.1\r\n", b""),
            Some(AppProto::Http)
        );
        assert_eq!(
            detect_protocol(b"", b"HTTP/1.0 200 OK\r\n"),
            Some(AppProto::Http)
        );
        assert_eq!(detect_protocol(b"PROPFIND\t/x", b""), Some(AppProto::Http));
    }

    #[test]
    fn short_prefixes_wait() {
        assert_eq!(detect_protocol(b"", b""), None);
        assert_eq!(detect_protocol(b"GE", b""), None);
        assert_eq!(detect_protocol(b"GET", b""), None);
        assert_eq!(detect_protocol(b"\x16", b"HTTP"), None);
        assert_eq!(detect_protocol(b"", b"22"), None);
    }

    #[test]
    fn tls_ssh() {
        let hello = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01];
        assert_eq!(detect_protocol(&hello, b""), Some(AppProto::Tls));
        assert_eq!(
            detect_protocol(&[0x16, 0x03, 0x09], b"x"),
            Some(AppProto::Failed)
        );
        assert_eq!(
            detect_protocol(b"SSH-2.0-OpenSSH_9.6\r\n", b""),
            Some(AppProto::Ssh)
        );
        assert_eq!(detect_protocol(b"", b"SSH-2.0-x"), Some(AppProto::Ssh));
    }

    #[test]
    fn banners() {
        let smtp = b"220 mx.example.org ESMTP Postfix\r\n";
        assert_eq!(detect_protocol(b"", smtp), Some(AppProto::Smtp));
        let ftp = b"220 (vsFTPd 3.0.5)\r\n";
        assert_eq!(detect_protocol(b"", ftp), Some(AppProto::Ftp));
        let bare = b"220 welcome\r\n";
        assert_eq!(detect_protocol(b"", bare), None);
        assert_eq!(
            detect_protocol(b"USER anonymous\r\n", bare),
            Some(AppProto::Ftp)
        );
        assert_eq!(detect_protocol(b"ehlo me\r\n", bare), Some(AppProto::Smtp));
        assert_eq!(detect_protocol(b"xyzzy\r\n", bare), Some(AppProto::Failed));
        // Banner line not finished yet.
        assert_eq!(detect_protocol(b"", b"220 mx.exa"), None);
    }

    #[test]
    fn garbage_fails_only_when_both_sides_spoke() {
        assert_eq!(detect_protocol(b"\x00\x01\x02", b""), None);
        assert_eq!(
            detect_protocol(b"\x00\x01\x02", b"\xff\xfe"),
            Some(AppProto::Failed)
        );
        assert_eq!(
            detect_protocol(b"get / HTTP/1.1", b"hello"),
            Some(AppProto::Failed)
        );
        let long = vec![b'G'; PROBE_LEN];
        assert_eq!(detect_protocol(&long, b"?"), Some(AppProto::Failed));
    }

    #[test]
    fn port_hint_is_dns_only() {
        assert_eq!(proto_from_port(53), Some(AppProto::Dns));
        assert_eq!(proto_from_port(80), None);
        assert_eq!(AppProto::Failed.name(), "failed");
    }
}
