//! Start lines: `METHOD target HTTP/x.y` and `HTTP/x.y code reason`.
//!
//! Both parsers take one line without its line ending and return
//! borrowed parts. They are lenient where servers are (extra spaces,
//! tabs, a missing reason phrase) and flag each leniency; they refuse a
//! line that is not HTTP at all, which puts the parser in its failed
//! state.

use super::event::Anomaly;
use super::header::{is_tchar, trim_end};

/// Parts of a request line.
#[derive(Debug, PartialEq, Eq)]
pub struct RequestLine<'a> {
    /// The line with leading whitespace removed.
    pub line: &'a [u8],
    pub method: &'a [u8],
    pub target: &'a [u8],
    /// Empty for an HTTP/0.9 style line without a version.
    pub protocol: &'a [u8],
}

/// Parts of a status line.
#[derive(Debug, PartialEq, Eq)]
pub struct StatusLine<'a> {
    pub protocol: &'a [u8],
    pub status: &'a [u8],
    pub message: &'a [u8],
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn starts_with_http(s: &[u8]) -> bool {
    s.len() >= 5 && s[..5].eq_ignore_ascii_case(b"HTTP/")
}

/// Parse a request line, or `None` when it is not one (no method token,
/// or nothing after it).
pub fn parse_request_line<'a>(
    line: &'a [u8],
    anomalies: &mut Vec<Anomaly>,
) -> Option<RequestLine<'a>> {
    // Leading whitespace: some servers skip it, RFC 9112 2.2 does not.
    let start = line.iter().take_while(|&&b| is_ws(b)).count();
    if start > 0 {
        anomalies.push(Anomaly::RequestLineLeadingWhitespace);
    }
    let line = trim_end(&line[start..]);

    // Method token, then its delimiter.
    let m_end = line.iter().position(|&b| is_ws(b))?;
    let method = &line[..m_end];
    if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
        return None;
    }
    if line[m_end] == b'\t' {
        anomalies.push(Anomaly::MethodDelimNonCompliant);
    }
    let rest = &line[m_end..];
    let t_start = rest.iter().take_while(|&&b| is_ws(b)).count();
    let rest = &rest[t_start..];
    if rest.is_empty() {
        return None;
    }

    // The version follows the last whitespace, when it looks like one;
    // otherwise the whole rest is the target (HTTP/0.9).
    let (target, protocol) = match rest.iter().rposition(|&b| is_ws(b)) {
        Some(i) if starts_with_http(&rest[i + 1..]) => {
            if rest[i] == b'\t' {
                anomalies.push(Anomaly::UriDelimNonCompliant);
            }
            (trim_end(&rest[..i]), &rest[i + 1..])
        }
        _ => (rest, &rest[rest.len()..]),
    };
    if protocol.is_empty() {
        anomalies.push(Anomaly::RequestLineMissingProtocol);
    }
    Some(RequestLine {
        line,
        method,
        target,
        protocol,
    })
}

/// Parse a status line, or `None` when it does not start with `HTTP/`
/// (after `response_invalid_protocol` was raised). A status that is not
/// three digits raises `response_invalid_status` but is kept.
pub fn parse_status_line<'a>(
    line: &'a [u8],
    anomalies: &mut Vec<Anomaly>,
) -> Option<StatusLine<'a>> {
    if !starts_with_http(line) {
        anomalies.push(Anomaly::ResponseInvalidProtocol);
        return None;
    }
    let line = trim_end(line);
    let p_end = line.iter().position(|&b| is_ws(b)).unwrap_or(line.len());
    let protocol = &line[..p_end];

    let rest = &line[p_end..];
    let rest = &rest[rest.iter().take_while(|&&b| is_ws(b)).count()..];
    let s_end = rest.iter().position(|&b| is_ws(b)).unwrap_or(rest.len());
    let status = &rest[..s_end];
    if status.len() != 3 || !status.iter().all(u8::is_ascii_digit) {
        anomalies.push(Anomaly::ResponseInvalidStatus);
    }
    let message = &rest[s_end..];
    let message = &message[message.iter().take_while(|&&b| is_ws(b)).count()..];
    Some(StatusLine {
        protocol,
        status,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (method, target, protocol)
    type Parts = Option<(Vec<u8>, Vec<u8>, Vec<u8>)>;

    fn req(line: &[u8]) -> (Parts, Vec<Anomaly>) {
        let mut an = Vec::new();
        let r = parse_request_line(line, &mut an)
            .map(|r| (r.method.to_vec(), r.target.to_vec(), r.protocol.to_vec()));
        (r, an)
    }

    fn parts(m: &str, t: &str, p: &str) -> Parts {
        Some((m.into(), t.into(), p.into()))
    }

    #[test]
    fn request_lines() {
        assert_eq!(
            req(b"GET /x HTTP/1.1"),
            (parts("GET", "/x", "HTTP/1.1"), vec![])
        );
        assert_eq!(
            req(b"GET  /a b  HTTP/1.0 "),
            (parts("GET", "/a b", "HTTP/1.0"), vec![])
        );
        assert_eq!(
            req(b"GET\t/x\tHTTP/1.1"),
            (
                parts("GET", "/x", "HTTP/1.1"),
                vec![
                    Anomaly::MethodDelimNonCompliant,
                    Anomaly::UriDelimNonCompliant
                ]
            )
        );
        assert_eq!(
            req(b"  GET /x HTTP/1.1"),
            (
                parts("GET", "/x", "HTTP/1.1"),
                vec![Anomaly::RequestLineLeadingWhitespace]
            )
        );
        assert_eq!(
            req(b"GET /old"),
            (
                parts("GET", "/old", ""),
                vec![Anomaly::RequestLineMissingProtocol]
            )
        );
        assert_eq!(req(b"GET").0, None);
        assert_eq!(req(b"GET   ").0, None);
        assert_eq!(req(b"\x16\x03\x01 x").0, None);
        assert_eq!(req(b"").0, None);
    }

    #[test]
    fn status_lines() {
        let mut an = Vec::new();
        let s = parse_status_line(b"HTTP/1.1 200 OK", &mut an);
        assert_eq!(
            s,
            Some(StatusLine {
                protocol: b"HTTP/1.1",
                status: b"200",
                message: b"OK"
            })
        );
        let s = parse_status_line(b"http/1.0 404", &mut an);
        assert_eq!(
            s.map(|s| (s.status, s.message)),
            Some((&b"404"[..], &b""[..]))
        );
        assert!(an.is_empty());
        let s = parse_status_line(b"HTTP/1.1 2x0 Odd reason here", &mut an);
        assert_eq!(s.map(|s| s.message), Some(&b"Odd reason here"[..]));
        assert_eq!(an, vec![Anomaly::ResponseInvalidStatus]);
        an.clear();
        assert_eq!(parse_status_line(b"<html>", &mut an), None);
        assert_eq!(an, vec![Anomaly::ResponseInvalidProtocol]);
    }
}
