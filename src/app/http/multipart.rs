//! `multipart/form-data` request bodies (RFC 7578), split into parts on
//! demand from the kept body buffer.
//!
//! Nothing is stored: [`parts`] walks a borrowed body and returns
//! borrowed views, so it works on a body that is still arriving (the
//! last part is then marked incomplete) and on one cut at the body
//! limit. At most [`MAX_PARTS`] parts are returned. Delimiters are found
//! at the start of the body or after a line ending, as the RFC asks;
//! a body with no delimiter at all has no parts.

use memchr::memmem;

use super::header::trim;

/// Parts returned at most, whatever the body holds.
pub const MAX_PARTS: usize = 256;

/// One part of a multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    /// The part's header block, without its final empty line.
    pub headers: &'a [u8],
    /// `name` parameter of Content-Disposition.
    pub name: Option<&'a [u8]>,
    /// `filename` parameter of Content-Disposition: the part is a file.
    pub filename: Option<&'a [u8]>,
    /// The part's Content-Type value.
    pub content_type: Option<&'a [u8]>,
    /// The part's content.
    pub data: &'a [u8],
    /// The closing delimiter of this part was seen.
    pub complete: bool,
}

/// The boundary of a `multipart/form-data` (or any `multipart/*`)
/// Content-Type value, unquoted.
pub fn boundary(content_type: &[u8]) -> Option<&[u8]> {
    let mut params = content_type.split(|&b| b == b';');
    let media = trim(params.next()?);
    if media.len() < 10 || !media[..10].eq_ignore_ascii_case(b"multipart/") {
        return None;
    }
    let b = params.find_map(|p| param(p, b"boundary"))?;
    (!b.is_empty() && b.len() <= 200).then_some(b)
}

/// `name=value` or `name="value"` from one `;`-separated parameter.
fn param<'a>(p: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let eq = memchr::memchr(b'=', p)?;
    if !trim(&p[..eq]).eq_ignore_ascii_case(name) {
        return None;
    }
    let v = trim(&p[eq + 1..]);
    Some(match v {
        [b'"', inner @ .., b'"'] => inner,
        _ => v,
    })
}

/// Split `body` into the parts delimited by `--boundary` lines.
pub fn parts<'a>(body: &'a [u8], boundary: &[u8]) -> Vec<Part<'a>> {
    let mut delim = b"--".to_vec();
    delim.extend_from_slice(boundary);
    let finder = memmem::Finder::new(&delim);

    // The first delimiter: at the very start or after a line ending.
    let mut pos = match first_delimiter(body, &finder) {
        Some(p) => p,
        None => return Vec::new(),
    };
    let mut out = Vec::new();
    while out.len() < MAX_PARTS {
        // After "--boundary": "--" closes the body, else skip the line.
        let after = pos + delim.len();
        if body.get(after..after + 2) == Some(b"--") {
            break;
        }
        let Some(line_end) = memchr::memchr(b'\n', &body[after.min(body.len())..]) else {
            break;
        };
        let start = after + line_end + 1;

        // Part headers up to the empty line, then the content up to the
        // line ending before the next delimiter.
        let (headers, data_start) = split_headers(&body[start..]);
        let data_start = start + data_start;
        let (data, next, complete) = match next_delimiter(body, data_start, &finder) {
            Some((data_end, next)) => (&body[data_start..data_end], Some(next), true),
            None => (&body[data_start.min(body.len())..], None, false),
        };
        out.push(part(headers, data, complete));
        match next {
            Some(n) => pos = n,
            None => break,
        }
    }
    out
}

fn first_delimiter(body: &[u8], finder: &memmem::Finder) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = finder.find(&body[from..]) {
        let at = from + i;
        if (at == 0 || body[at - 1] == b'\n') && ends_delimiter_line(body, at, finder) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// RFC 2046 5.1.1: a delimiter is followed by `--` (the last one) or by
/// optional whitespace and the line ending. A body that stops right
/// there counts as a delimiter too.
fn ends_delimiter_line(body: &[u8], at: usize, finder: &memmem::Finder) -> bool {
    let rest = &body[(at + finder.needle().len()).min(body.len())..];
    if rest.starts_with(b"--") {
        return true;
    }
    let ws = rest
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    matches!(&rest[ws..], [] | [b'\r'] | [b'\r', b'\n', ..] | [b'\n', ..])
}

/// The next delimiter line after `from`: (end of data, delimiter start).
fn next_delimiter(body: &[u8], from: usize, finder: &memmem::Finder) -> Option<(usize, usize)> {
    let mut search = from;
    while search <= body.len() {
        let at = search + finder.find(&body[search..])?;
        if at > from && body[at - 1] == b'\n' && ends_delimiter_line(body, at, finder) {
            let mut end = at - 1;
            if end > from && body[end - 1] == b'\r' {
                end -= 1;
            }
            return Some((end, at));
        }
        search = at + 1;
    }
    None
}

/// Split a part into its header block and the offset of its content.
fn split_headers(rest: &[u8]) -> (&[u8], usize) {
    let mut line_start = 0;
    while let Some(i) = memchr::memchr(b'\n', &rest[line_start..]) {
        let line = &rest[line_start..line_start + i];
        if line.is_empty() || line == b"\r" {
            return (&rest[..line_start], line_start + i + 1);
        }
        line_start += i + 1;
    }
    // No empty line (yet): all of it is headers, no content.
    (rest, rest.len())
}

fn part<'a>(headers: &'a [u8], data: &'a [u8], complete: bool) -> Part<'a> {
    let mut p = Part {
        headers,
        name: None,
        filename: None,
        content_type: None,
        data,
        complete,
    };
    for line in headers.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let name = trim(&line[..colon]);
        let value = trim(&line[colon + 1..]);
        if name.eq_ignore_ascii_case(b"content-disposition") {
            for param_text in value.split(|&b| b == b';').skip(1) {
                p.name = p.name.or(param(param_text, b"name"));
                p.filename = p.filename.or(param(param_text, b"filename"));
            }
        } else if name.eq_ignore_ascii_case(b"content-type") {
            p.content_type = Some(value);
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = b"preamble\r\n\
        --XyZ\r\n\
        Content-Disposition: form-data; name=\"user\"\r\n\
        \r\n\
        alice\r\n\
        --XyZ\r\n\
        Content-Disposition: form-data; name=\"up\"; filename=\"shell.php\"\r\n\
        Content-Type: application/x-php\r\n\
        \r\n\
        <?php system($_GET['c']); ?>\r\n--XyZ-not-a-delimiter\r\n\
        --XyZ--\r\n\
        epilogue";

    #[test]
    fn boundaries() {
        assert_eq!(
            boundary(b"multipart/form-data; boundary=XyZ"),
            Some(&b"XyZ"[..])
        );
        assert_eq!(
            boundary(b"Multipart/Form-Data;charset=utf-8; BOUNDARY=\"a b\""),
            Some(&b"a b"[..])
        );
        assert_eq!(boundary(b"text/plain; boundary=x"), None);
        assert_eq!(boundary(b"multipart/form-data"), None);
        assert_eq!(boundary(b"multipart/form-data; boundary="), None);
    }

    #[test]
    fn form_with_a_file() {
        let p = parts(BODY, b"XyZ");
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].name, Some(&b"user"[..]));
        assert_eq!(p[0].filename, None);
        assert_eq!(p[0].data, b"alice");
        assert_eq!(p[1].filename, Some(&b"shell.php"[..]));
        assert_eq!(p[1].content_type, Some(&b"application/x-php"[..]));
        // A line that only starts like a delimiter stays content.
        assert_eq!(
            p[1].data,
            b"<?php system($_GET['c']); ?>\r\n--XyZ-not-a-delimiter"
        );
        assert!(p[1].complete);
    }

    #[test]
    fn unfinished_body() {
        let cut = &BODY[..BODY.len() - 60];
        let p = parts(cut, b"XyZ");
        assert_eq!(p.len(), 2);
        assert!(!p[1].complete);
        assert!(p[1].data.starts_with(b"<?php"));
    }

    #[test]
    fn every_prefix_is_safe() {
        for n in 0..=BODY.len() {
            let p = parts(&BODY[..n], b"XyZ");
            assert!(p.len() <= 2);
        }
        assert!(parts(b"no delimiter here", b"XyZ").is_empty());
        assert!(parts(b"x--XyZ\r\n\r\n", b"XyZ").is_empty());
    }

    #[test]
    fn part_cap() {
        let body = b"--b\r\n\r\nx\r\n".repeat(MAX_PARTS + 10);
        assert_eq!(parts(&body, b"b").len(), MAX_PARTS);
    }
}
