//! Splitting rule text into header tokens and raw `name:value` options.
//!
//! Only structure is handled here; values stay as written (escapes
//! included) and each keyword's parser decodes its own value, because
//! the escaping rules differ between, say, `content` and `pcre`.

use super::error::RuleError;

/// A rule cut into its two parts.
#[derive(Debug)]
pub struct Lexed<'a> {
    /// Whitespace-separated header fields; whitespace inside `[...]` is
    /// dropped so a list written as `[a, b]` is one token.
    pub header: Vec<String>,
    pub options: Vec<RawOption<'a>>,
}

/// One option as written: `name` lower-cased, `value` trimmed and still
/// escaped, `None` for flag keywords such as `nocase`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawOption<'a> {
    pub name: String,
    pub value: Option<&'a str>,
}

pub fn lex(text: &str) -> Result<Lexed<'_>, RuleError> {
    let open = text
        .find('(')
        .ok_or_else(|| RuleError::malformed("no option list '(...)'"))?;
    let close = text
        .rfind(')')
        .filter(|&c| c > open)
        .ok_or_else(|| RuleError::malformed("option list is not closed with ')'"))?;
    if !text[close + 1..].trim().is_empty() {
        return Err(RuleError::malformed("text after the closing ')'"));
    }
    let header = header_tokens(&text[..open])?;
    let options = split_options(&text[open + 1..close])?;
    Ok(Lexed { header, options })
}

fn header_tokens(text: &str) -> Result<Vec<String>, RuleError> {
    let mut tokens = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '[' => depth += 1,
            ']' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| RuleError::malformed("unbalanced ']' in the header"))?
            }
            _ => {}
        }
        if c.is_whitespace() {
            if depth == 0 && !cur.is_empty() {
                tokens.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(c);
        }
    }
    if depth != 0 {
        return Err(RuleError::malformed("unbalanced '[' in the header"));
    }
    if !cur.is_empty() {
        tokens.push(cur);
    }
    Ok(tokens)
}

/// Splits on `;` not escaped by a backslash. Like Suricata, quotes do not
/// protect a `;`: it must be written `\;` inside values.
fn split_options(body: &str) -> Result<Vec<RawOption<'_>>, RuleError> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, b) in body.bytes().enumerate() {
        if escaped {
            escaped = false;
        } else if b == b'\\' {
            escaped = true;
        } else if b == b';' {
            push_option(&body[start..i], &mut out)?;
            start = i + 1;
        }
    }
    push_option(&body[start..], &mut out)?;
    Ok(out)
}

fn push_option<'a>(piece: &'a str, out: &mut Vec<RawOption<'a>>) -> Result<(), RuleError> {
    let piece = piece.trim();
    if piece.is_empty() {
        return Ok(());
    }
    let (name, value) = match piece.split_once(':') {
        Some((n, v)) => (n.trim(), Some(v.trim())),
        None => (piece, None),
    };
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if name.is_empty() || !name.chars().all(valid) {
        return Err(RuleError::malformed(format!(
            "bad option name '{}'",
            name.chars().take(40).collect::<String>()
        )));
    }
    out.push(RawOption {
        name: name.to_ascii_lowercase(),
        value,
    });
    Ok(())
}

/// Removes the surrounding double quotes of a value, if any.
pub fn unquote(value: &str) -> Result<&str, String> {
    let v = value.trim();
    match v.strip_prefix('"') {
        Some(rest) => rest
            .strip_suffix('"')
            .filter(|inner| !inner.ends_with('\\') || inner.ends_with("\\\\"))
            .ok_or_else(|| "unterminated quoted string".to_string()),
        None => Ok(v),
    }
}

/// Decodes the escapes `\"`, `\;`, `\\` and `\:` in a message. Any
/// other backslash is kept as written: real rule sets carry messages such
/// as `"Mozilla\/4.0"` that Suricata loads.
pub fn unescape_lenient(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('\\', Some(&e @ ('"' | ';' | '\\' | ':'))) => {
                out.push(e);
                chars.next();
            }
            (c, _) => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_header_and_options() {
        let l = lex(r#"alert tcp [1.2.3.4, 5.6.7.8] any -> any 80 (msg:"a\;b"; nocase; sid:1;)"#)
            .unwrap();
        assert_eq!(
            l.header,
            [
                "alert",
                "tcp",
                "[1.2.3.4,5.6.7.8]",
                "any",
                "->",
                "any",
                "80"
            ]
        );
        assert_eq!(l.options.len(), 3);
        assert_eq!(l.options[0].value, Some(r#""a\;b""#));
        assert_eq!(l.options[1].value, None);
    }

    #[test]
    fn structure_errors() {
        assert!(lex("alert tcp any any -> any any").is_err());
        assert!(lex("alert tcp any any -> any any (sid:1;").is_err());
        assert!(lex("alert tcp [any any -> any any (sid:1;)").is_err());
        assert!(lex("alert tcp any any -> any any (sid:1;) x").is_err());
        assert!(lex("alert tcp any any -> any any (s id:1;)").is_err());
    }

    #[test]
    fn escapes() {
        assert_eq!(unescape_lenient(r#"a\/b\"c"#), r#"a\/b"c"#);
        assert_eq!(unquote(r#""abc""#).unwrap(), "abc");
        assert!(unquote(r#""abc"#).is_err());
        assert!(unquote(r#""abc\""#).is_err());
    }
}
