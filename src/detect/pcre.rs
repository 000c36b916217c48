//! Compiling `pcre` options.
//!
//! First choice is `regex_automata::meta::Regex`: no backtracking, so a
//! hostile payload cannot make a match take exponential time. It is
//! built with Unicode off and UTF-8 off, so `.` and classes work on
//! bytes, as PCRE does on a packet. Expressions that regex-syntax
//! refuses — lookaround and backreferences, which real rule sets use —
//! fall back to `fancy-regex`: a pure Rust backtracking engine that
//! handles those and delegates the rest to regex-automata, with no C
//! dependency to build or audit. Its backtracking is bounded by
//! [`BACKTRACK_LIMIT`]; hitting the limit counts as "no match".
//!
//! PCRE flags map to inline flags: `i s m x` as themselves, `G` as `U`
//! (swap greed). `A` anchors at the search start; `R` starts the search
//! at the end of the previous match, with that position seen as the
//! start of the subject (so `^` matches there), as Suricata does.

use regex_automata::meta;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input};

use crate::rules::Pcre;

/// Steps the fallback engine may take per search before giving up.
pub const BACKTRACK_LIMIT: usize = 100_000;

/// Compiled size cap for one expression's NFA.
const NFA_SIZE_LIMIT: usize = 4 << 20;

#[derive(Debug)]
pub struct Compiled {
    engine: Engine,
    pub negated: bool,
    pub relative: bool,
    anchored: bool,
}

#[derive(Debug)]
enum Engine {
    Meta(meta::Regex),
    Fancy(Box<fancy_regex::Regex>),
}

impl Compiled {
    pub fn new(p: &Pcre) -> Result<Compiled, String> {
        let mut prefix = String::new();
        for (on, flag) in [
            (p.flags.caseless, 'i'),
            (p.flags.dotall, 's'),
            (p.flags.multiline, 'm'),
            (p.flags.extended, 'x'),
            (p.flags.ungreedy, 'U'),
        ] {
            if on {
                prefix.push(flag);
            }
        }
        let pattern = if prefix.is_empty() {
            p.source.clone()
        } else {
            format!("(?{prefix}){}", p.source)
        };
        let engine = match build_meta(&pattern) {
            Ok(re) => Engine::Meta(re),
            Err(meta_err) => build_fancy(&pattern)
                .map(|re| Engine::Fancy(Box::new(re)))
                .map_err(|e| format!("pcre does not compile: {meta_err}; fallback: {e}"))?,
        };
        Ok(Compiled {
            engine,
            negated: p.negated,
            relative: p.flags.relative,
            anchored: p.flags.anchored,
        })
    }

    pub fn is_fallback(&self) -> bool {
        matches!(self.engine, Engine::Fancy(_))
    }

    /// The first match in `subject` starting at or after `from`, as
    /// (start, end) offsets in `subject`.
    pub fn find(&self, subject: &[u8], from: usize) -> Option<(usize, usize)> {
        if from > subject.len() {
            return None;
        }
        match &self.engine {
            Engine::Meta(re) => {
                let anchored = if self.anchored {
                    Anchored::Yes
                } else {
                    Anchored::No
                };
                let input = Input::new(subject).range(from..).anchored(anchored);
                re.find(input).map(|m| (m.start(), m.end()))
            }
            Engine::Fancy(re) => {
                let m = re.find_from_pos(subject, from).ok()??;
                if self.anchored && m.start() != from {
                    return None;
                }
                Some((m.start(), m.end()))
            }
        }
    }
}

fn build_meta(pattern: &str) -> Result<meta::Regex, String> {
    meta::Regex::builder()
        .syntax(syntax::Config::new().unicode(false).utf8(false))
        .configure(
            meta::Config::new()
                .utf8_empty(false)
                .nfa_size_limit(Some(NFA_SIZE_LIMIT)),
        )
        .build(pattern)
        .map_err(|e| e.to_string())
}

fn build_fancy(pattern: &str) -> Result<fancy_regex::Regex, String> {
    fancy_regex::RegexBuilder::new(pattern)
        .bytes_mode(fancy_regex::BytesMode::Ascii)
        .backtrack_limit(BACKTRACK_LIMIT)
        .delegate_size_limit(NFA_SIZE_LIMIT)
        .build()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::PcreFlags;

    fn compile(source: &str, flags: PcreFlags) -> Compiled {
        Compiled::new(&Pcre {
            source: source.into(),
            negated: false,
            flags,
        })
        .unwrap()
    }

    #[test]
    fn flags_translate() {
        let i = PcreFlags {
            caseless: true,
            ..PcreFlags::default()
        };
        assert_eq!(compile("ab+c", i).find(b"xxABBC", 0), Some((2, 6)));
        assert_eq!(
            compile("ab+c", PcreFlags::default()).find(b"xxABBC", 0),
            None
        );
        let s = PcreFlags {
            dotall: true,
            ..PcreFlags::default()
        };
        assert!(compile("a.b", s).find(b"a\nb", 0).is_some());
        assert!(compile("a.b", PcreFlags::default())
            .find(b"a\nb", 0)
            .is_none());
        let m = PcreFlags {
            multiline: true,
            ..PcreFlags::default()
        };
        assert!(compile("^b", m).find(b"a\nb", 0).is_some());
        let x = PcreFlags {
            extended: true,
            ..PcreFlags::default()
        };
        assert!(compile("a b # c", x).find(b"ab", 0).is_some());
        let g = PcreFlags {
            ungreedy: true,
            ..PcreFlags::default()
        };
        assert_eq!(compile("a.+", g).find(b"abcd", 0), Some((0, 2)));
        let a = PcreFlags {
            anchored: true,
            ..PcreFlags::default()
        };
        assert_eq!(compile("b", a).find(b"ab", 0), None);
        assert_eq!(compile("b", a).find(b"ab", 1), Some((1, 2)));
    }

    #[test]
    fn bytes_not_text() {
        // A lone 0xff is not UTF-8; PCRE on a payload must still match.
        let re = compile(r"\xff.\x00", PcreFlags::default());
        assert_eq!(re.find(b"\x01\xff\xfe\x00", 0), Some((1, 4)));
        assert!(!re.is_fallback());
    }

    #[test]
    fn lookaround_and_backrefs_fall_back() {
        let look = compile(r"foo(?!bar)", PcreFlags::default());
        assert!(look.is_fallback());
        assert!(look.find(b"foobar", 0).is_none());
        assert_eq!(look.find(b"foobar foobaz\xff", 0), Some((7, 10)));
        let back = compile(r"(a+)-\1", PcreFlags::default());
        assert!(back.find(b"xaa-aa", 0).is_some());
        assert!(back.find(b"xaa-b", 0).is_none());
        assert!(Compiled::new(&Pcre {
            source: "(".into(),
            negated: false,
            flags: PcreFlags::default(),
        })
        .is_err());
    }

    #[test]
    fn runaway_backtracking_is_bounded() {
        let re = compile(r"(a+)+\1b", PcreFlags::default());
        let subject = vec![b'a'; 64];
        assert_eq!(re.find(&subject, 0), None);
    }
}
