//! Request-target normalisation (`http.uri`) and host names
//! (`http.host`).
//!
//! What [`normalize`] does to a request target, in this order, and
//! nothing else (these follow libhtp's defaults as Suricata runs it):
//!
//! 1. `*` stays `*`. An absolute target (`scheme://authority/path`) loses
//!    its scheme and authority (the authority is returned separately,
//!    Suricata's `uri-include-all: false`); an empty path becomes `/`.
//! 2. The target is split into path, query (after the first `?`) and
//!    fragment (after the first `#`; clients rarely send one).
//! 3. Path, query and fragment are percent-decoded once: `%XX` with
//!    two hex digits becomes that byte (any byte, `%00` and `%2F`
//!    included); a `%` not followed by two hex digits stays as it is.
//!    `+` is not turned into a space (Suricata turns libhtp's
//!    plus-to-space off), and `%uXXXX` is not decoded. A decoded result
//!    that still contains a valid `%XX` raises `double_encoded_uri`.
//! 4. In the decoded path, runs of `/` collapse to one, `.` segments are
//!    removed and `..` removes the segment before it (never climbing
//!    above the root), as RFC 3986 5.2.4 describes.
//!    Backslashes are not treated as separators. Query and fragment are
//!    only decoded.
//! 5. The result is `path[?query][#fragment]`, the parts that were
//!    present.

use super::event::Anomaly;

/// A normalised request target.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NormalizedUri {
    /// Path (and `?query`) after the steps in the module docs.
    pub uri: Vec<u8>,
    /// Authority of an absolute target, as sent (userinfo removed).
    pub authority: Option<Vec<u8>>,
}

/// Normalise a request target; see the module docs.
pub fn normalize(raw: &[u8], anomalies: &mut Vec<Anomaly>) -> NormalizedUri {
    if raw == b"*" {
        return NormalizedUri {
            uri: raw.to_vec(),
            authority: None,
        };
    }

    // Absolute form: drop scheme and authority.
    let (authority, rest) = match split_absolute(raw) {
        Some((auth, rest)) => (Some(auth), rest),
        None => (None, raw),
    };
    let (rest, fragment) = match memchr::memchr(b'#', rest) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let (path, query) = match memchr::memchr(b'?', rest) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };

    // Decode once, then resolve the path's segments.
    let decoded_path = percent_decode(path);
    let mut uri = if authority.is_some() && decoded_path.is_empty() {
        b"/".to_vec()
    } else {
        remove_dot_segments(&decoded_path)
    };
    let mut double = has_escape(&decoded_path);
    if let Some(q) = query {
        let dq = percent_decode(q);
        double |= has_escape(&dq);
        uri.push(b'?');
        uri.extend_from_slice(&dq);
    }
    if let Some(f) = fragment {
        uri.push(b'#');
        uri.extend_from_slice(&percent_decode(f));
    }
    if double {
        anomalies.push(Anomaly::DoubleEncodedUri);
    }

    NormalizedUri {
        uri,
        authority: authority.map(|a| strip_userinfo(a).to_vec()),
    }
}

/// `scheme://authority rest` -> (authority, rest), for a scheme of
/// letters, digits, `+`, `-`, `.` starting with a letter.
fn split_absolute(raw: &[u8]) -> Option<(&[u8], &[u8])> {
    let sep = raw.windows(3).position(|w| w == b"://")?;
    let scheme = &raw[..sep];
    let first = *scheme.first()?;
    if !first.is_ascii_alphabetic()
        || !scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        return None;
    }
    let after = &raw[sep + 3..];
    let end = after
        .iter()
        .position(|&b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(after.len());
    Some((&after[..end], &after[end..]))
}

fn strip_userinfo(auth: &[u8]) -> &[u8] {
    match memchr::memrchr(b'@', auth) {
        Some(i) => &auth[i + 1..],
        None => auth,
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decode each valid `%XX` once; anything else is copied.
pub fn percent_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            if let (Some(h), Some(l)) = (
                s.get(i + 1).copied().and_then(hex),
                s.get(i + 2).copied().and_then(hex),
            ) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

fn has_escape(s: &[u8]) -> bool {
    s.windows(3)
        .any(|w| w[0] == b'%' && hex(w[1]).is_some() && hex(w[2]).is_some())
}

/// Collapse `//`, drop `.`, resolve `..` (RFC 3986 5.2.4 plus empty
/// segment removal).
fn remove_dot_segments(path: &[u8]) -> Vec<u8> {
    let absolute = path.first() == Some(&b'/');
    let mut stack: Vec<&[u8]> = Vec::new();
    let mut trailing_slash = false;

    for seg in path.split(|&b| b == b'/') {
        trailing_slash = false;
        match seg {
            b"" | b"." => trailing_slash = true,
            b".." => {
                stack.pop();
                trailing_slash = true;
            }
            _ => stack.push(seg),
        }
    }

    let mut out = Vec::with_capacity(path.len());
    if absolute {
        out.push(b'/');
    }
    for (i, seg) in stack.iter().enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        out.extend_from_slice(seg);
    }
    if trailing_slash && !stack.is_empty() {
        out.push(b'/');
    }
    out
}

/// A host name split from its port, for `http.host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostName {
    /// Lowercased, port and one trailing dot removed.
    pub name: Vec<u8>,
    /// The port text, when one was given.
    pub port: Option<Vec<u8>>,
}

/// Split and normalise a Host header value or URI authority. Raises
/// `invalid_authority_port` for a port that is not 1-5 digits up to
/// 65535 and `request_header_host_invalid` for an empty name or one
/// with whitespace, `/` or `@`.
pub fn normalize_host(raw: &[u8], anomalies: &mut Vec<Anomaly>) -> HostName {
    let raw = super::header::trim(raw);

    // "[v6]:port" keeps its brackets; otherwise the first ':' splits.
    let (name, port) = if raw.first() == Some(&b'[') {
        match memchr::memchr(b']', raw) {
            Some(i) => {
                let rest = &raw[i + 1..];
                (&raw[..=i], rest.strip_prefix(b":"))
            }
            None => (raw, None),
        }
    } else {
        match memchr::memchr(b':', raw) {
            Some(i) => (&raw[..i], Some(&raw[i + 1..])),
            None => (raw, None),
        }
    };

    if let Some(p) = port {
        let digits_ok = !p.is_empty() && p.len() <= 5 && p.iter().all(u8::is_ascii_digit);
        let value = std::str::from_utf8(p)
            .ok()
            .and_then(|s| s.parse::<u32>().ok());
        if !digits_ok || !matches!(value, Some(v) if v <= 65535) {
            anomalies.push(Anomaly::InvalidAuthorityPort);
        }
    }

    let name = name.strip_suffix(b".").unwrap_or(name);
    if name.is_empty()
        || name
            .iter()
            .any(|&b| b.is_ascii_whitespace() || b.is_ascii_control() || matches!(b, b'/' | b'@'))
    {
        anomalies.push(Anomaly::RequestHeaderHostInvalid);
    }
    HostName {
        name: name.to_ascii_lowercase(),
        port: port.map(<[u8]>::to_vec),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(raw: &str) -> (String, Vec<Anomaly>) {
        let mut an = Vec::new();
        let n = normalize(raw.as_bytes(), &mut an);
        (String::from_utf8_lossy(&n.uri).into_owned(), an)
    }

    #[test]
    fn table() {
        // (raw request target, http.uri)
        let cases = [
            ("/", "/"),
            ("/index.html", "/index.html"),
            ("/a/./b", "/a/b"),
            ("/a//b///c", "/a/b/c"),
            ("/a/b/../c", "/a/c"),
            ("/a/b/..", "/a/"),
            ("/../../etc/passwd", "/etc/passwd"),
            ("/a/%2e%2e/b", "/b"),
            ("/a/%2E%2e%2Fb", "/b"),
            ("/cgi-bin/%2e%2e/%2e%2e/bin/sh", "/bin/sh"),
            ("/p%20q?x=%41%42&y=1+2", "/p q?x=AB&y=1+2"),
            ("/q?a=../b//c", "/q?a=../b//c"),
            ("/bad%zz%4", "/bad%zz%4"),
            ("/nul%00x", "/nul\0x"),
            ("/frag#x?y%41", "/frag#x?yA"),
            ("/p?q#f", "/p?q#f"),
            ("/a/.", "/a/"),
            ("*", "*"),
            ("http://Example.COM:8080/x/../y?z", "/y?z"),
            ("http://example.com", "/"),
            ("a/../b", "b"),
            ("", ""),
        ];
        for (raw, want) in cases {
            assert_eq!(norm(raw).0, want, "raw {raw:?}");
        }
    }

    #[test]
    fn authority_and_double_encoding() {
        let mut an = Vec::new();
        let n = normalize(b"https://user:pw@Host.Example:81/p", &mut an);
        assert_eq!(n.authority.as_deref(), Some(&b"Host.Example:81"[..]));
        assert!(an.is_empty());
        let (u, an) = norm("/%252e%252e/x");
        assert_eq!(u, "/%2e%2e/x");
        assert_eq!(an, vec![Anomaly::DoubleEncodedUri]);
    }

    #[test]
    fn hosts() {
        let mut an = Vec::new();
        let h = normalize_host(b" WWW.Example.org.:8080 ", &mut an);
        assert_eq!(h.name, b"www.example.org");
        assert_eq!(h.port.as_deref(), Some(&b"8080"[..]));
        assert!(an.is_empty());
        let h = normalize_host(b"[::1]:80", &mut an);
        assert_eq!(h.name, b"[::1]");
        assert!(an.is_empty());
        normalize_host(b"a.b:99999", &mut an);
        assert_eq!(an, vec![Anomaly::InvalidAuthorityPort]);
        an.clear();
        normalize_host(b"a b", &mut an);
        normalize_host(b"", &mut an);
        assert_eq!(an, vec![Anomaly::RequestHeaderHostInvalid; 2]);
    }
}
