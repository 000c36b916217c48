//! Payload keywords: `content` with its modifiers, and `pcre`.
//!
//! Contents and pcres are kept in one ordered list because a relative
//! match (`distance`, `within`, pcre `R`) is anchored to whatever matched
//! just before it, content or pcre.

use super::buffers::HttpBuf;
use super::bytes::{ByteExtract, ByteJump, ByteMath, ByteTest, IsDataAt};
use super::lexer::unquote;
use super::packet::Cmp;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    Content(Content),
    Pcre(Pcre),
    ByteTest(ByteTest),
    ByteJump(ByteJump),
    ByteExtract(ByteExtract),
    ByteMath(ByteMath),
    IsDataAt(IsDataAt),
    /// `bsize`: the length of the whole buffer.
    Bsize(Cmp),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Content {
    pub pattern: Vec<u8>,
    pub negated: bool,
    pub nocase: bool,
    /// Absolute: start searching at `offset`; the match must end within
    /// `depth` bytes of `offset`.
    pub offset: Option<u32>,
    pub depth: Option<u32>,
    /// Relative to the end of the previous match: start `distance` bytes
    /// after it (may be negative) and end within `distance + within`.
    pub distance: Option<i32>,
    pub within: Option<u32>,
    /// Anchored at the start of the buffer.
    pub startswith: bool,
    /// Must end at the end of the buffer.
    pub endswith: bool,
    pub fast_pattern: Option<FastPattern>,
    /// Byte variables standing in for the numbers above; a variable
    /// wins over the number in the same position.
    pub vars: ContentVars,
}

/// Indices of `byte_extract`/`byte_math` variables a content uses for
/// its position modifiers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContentVars {
    pub offset: Option<u8>,
    pub depth: Option<u8>,
    pub distance: Option<u8>,
    pub within: Option<u8>,
}

impl Content {
    pub fn is_relative(&self) -> bool {
        self.distance.is_some()
            || self.within.is_some()
            || self.vars.distance.is_some()
            || self.vars.within.is_some()
    }

    /// Whether offset or depth is given (as a number or a variable).
    pub fn is_absolute(&self) -> bool {
        self.offset.is_some()
            || self.depth.is_some()
            || self.vars.offset.is_some()
            || self.vars.depth.is_some()
    }

    /// The bytes this content contributes to the prefilter.
    pub fn fast_bytes(&self) -> &[u8] {
        match self.fast_pattern {
            Some(FastPattern::Chop { offset, len }) => {
                let (o, l) = (usize::from(offset), usize::from(len));
                self.pattern.get(o..o + l).unwrap_or(&self.pattern)
            }
            _ => &self.pattern,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FastPattern {
    /// `fast_pattern`
    Yes,
    /// `fast_pattern:only` — the prefilter hit is the whole check; we
    /// verify anyway, which gives the same answer.
    Only,
    /// `fast_pattern:offset,length` — only this slice goes to the
    /// prefilter.
    Chop { offset: u16, len: u16 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pcre {
    /// The expression between the slashes, as written.
    pub source: String,
    pub negated: bool,
    pub flags: PcreFlags,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PcreFlags {
    pub caseless: bool,
    pub dotall: bool,
    pub multiline: bool,
    pub extended: bool,
    /// `R`: start at the end of the previous match.
    pub relative: bool,
    /// `A`: anchored at the start position.
    pub anchored: bool,
    /// `E`: `$` matches only at the very end.
    pub dollar_endonly: bool,
    /// `G`: swap greediness.
    pub ungreedy: bool,
    /// An HTTP buffer flag (`U`, `H`, ...): the pcre reads that buffer.
    pub buffer: Option<HttpBuf>,
}

/// Snort flags Suricata takes but we do not implement (`B` rawbytes,
/// `O` match-limit override). They come back in the error so the rule
/// is reported as using an unsupported keyword.
const UNSUPPORTED_FLAGS: &str = "BO";

/// Decodes a content value: `!`? then a quoted string with `|hex|`
/// blocks and the escapes `\"`, `\;`, `\\`, `\:`.
pub fn parse_content(value: &str) -> Result<Content, String> {
    let (negated, rest) = match value.trim().strip_prefix('!') {
        Some(r) => (true, r.trim()),
        None => (false, value.trim()),
    };
    if !rest.starts_with('"') {
        return Err("content must be a quoted string".into());
    }
    let body = unquote(rest)?;
    let pattern = decode_content(body)?;
    if pattern.is_empty() {
        return Err("empty content".into());
    }
    Ok(Content {
        pattern,
        negated,
        ..Content::default()
    })
}

fn decode_content(body: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(body.len());
    let mut hex = false;
    let mut nibble: Option<u8> = None;
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if hex {
            match c {
                '|' => {
                    if nibble.is_some() {
                        return Err("odd number of hex digits in |..|".into());
                    }
                    hex = false;
                }
                c if c.is_ascii_whitespace() => {}
                c => {
                    let d = c
                        .to_digit(16)
                        .ok_or_else(|| format!("bad hex digit '{c}' in |..|"))?
                        as u8;
                    match nibble.take() {
                        Some(hi) => out.push(hi << 4 | d),
                        None => nibble = Some(d),
                    }
                }
            }
            continue;
        }
        match c {
            '|' => hex = true,
            '\\' => match chars.next() {
                Some(e @ ('"' | ';' | '\\' | ':' | '|')) => push_char(&mut out, e),
                Some(e) => return Err(format!("unknown escape '\\{e}'")),
                None => return Err("dangling '\\'".into()),
            },
            '"' => return Err("unescaped '\"' inside content".into()),
            c => push_char(&mut out, c),
        }
    }
    if hex {
        return Err("unclosed |..| hex block".into());
    }
    Ok(out)
}

fn push_char(out: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// Decodes a pcre value: `!`? `"/expr/flags"`. An unsupported buffer
/// flag comes back as `Err(Ok(flag))`; a malformed value as `Err(Err)`.
pub fn parse_pcre(value: &str) -> Result<Pcre, Result<char, String>> {
    let (negated, rest) = match value.trim().strip_prefix('!') {
        Some(r) => (true, r.trim()),
        None => (false, value.trim()),
    };
    if !rest.starts_with('"') {
        return Err(Err("pcre must be a quoted \"/expr/flags\"".into()));
    }
    let body = unquote(rest).map_err(Err)?;
    let inner = body
        .strip_prefix('/')
        .ok_or_else(|| Err("pcre must start with '/'".to_string()))?;
    let close = inner
        .rfind('/')
        .ok_or_else(|| Err("pcre has no closing '/'".to_string()))?;
    let (source, flag_text) = (&inner[..close], &inner[close + 1..]);
    let mut flags = PcreFlags::default();
    for f in flag_text.chars() {
        match f {
            'i' => flags.caseless = true,
            's' => flags.dotall = true,
            'm' => flags.multiline = true,
            'x' => flags.extended = true,
            'R' => flags.relative = true,
            'A' => flags.anchored = true,
            'E' => flags.dollar_endonly = true,
            'G' => flags.ungreedy = true,
            f if UNSUPPORTED_FLAGS.contains(f) => return Err(Ok(f)),
            f => match HttpBuf::pcre_flag(f) {
                Some(b) if flags.buffer.is_none() => flags.buffer = Some(b),
                Some(_) => return Err(Err("more than one pcre buffer flag".into())),
                None => return Err(Err(format!("unknown pcre flag '{f}'"))),
            },
        }
    }
    Ok(Pcre {
        // Suricata leaves `\;` and `\"` for the rule parser; undo them so
        // the regex engine sees `;` and `"`.
        source: source.replace("\\;", ";").replace("\\\"", "\""),
        negated,
        flags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_values() {
        let c = parse_content(r#""GET |20 2f|a\"b\;c\\""#).unwrap();
        assert_eq!(c.pattern, b"GET  /a\"b;c\\");
        assert!(!c.negated);
        let c = parse_content(r#"! "|0d0a|""#).unwrap();
        assert_eq!(c.pattern, b"\r\n");
        assert!(c.negated);
        for bad in [
            r#""|0|""#,
            r#""|zz|""#,
            r#""|00""#,
            r#""""#,
            "abc",
            r#""a"b""#,
            r#""\x""#,
        ] {
            assert!(parse_content(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pcre_values() {
        let p = parse_pcre(r#""/a\/b;c/smiR""#).unwrap();
        assert_eq!(p.source, r"a\/b;c");
        assert!(p.flags.relative && p.flags.dotall && p.flags.caseless && p.flags.multiline);
        let p = parse_pcre(r#"!"/x\;y/""#).unwrap();
        assert!(p.negated);
        assert_eq!(p.source, "x;y");
        assert_eq!(parse_pcre(r#""/a/B""#), Err(Ok('B')));
        let p = parse_pcre(r#""/a/Ui""#).unwrap();
        assert_eq!(p.flags.buffer, Some(HttpBuf::Uri));
        assert!(matches!(parse_pcre(r#""/a/UH""#), Err(Err(_))));
        assert!(matches!(parse_pcre(r#""/a/z""#), Err(Err(_))));
        assert!(matches!(parse_pcre(r#""a""#), Err(Err(_))));
        assert!(matches!(parse_pcre(r#""/a""#), Err(Err(_))));
    }
}
