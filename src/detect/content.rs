//! Verifying a rule's content/pcre chain against one buffer.
//!
//! Semantics follow Suricata:
//! - `offset`/`depth` are absolute: the match starts at or after
//!   `offset` and ends within `offset + depth`; on a stream they count
//!   from the start of the stream, so a window that no longer holds
//!   those bytes cannot match.
//! - `distance`/`within` are relative to the end of the previous
//!   positive match: start at `prev + distance`, end within
//!   `prev + distance + within`.
//! - a negated item must not match where it would have been looked for;
//!   it does not move the previous-match position.
//! - when a later relative item fails, the earlier item is retried at
//!   its next occurrence (backtracking), within a step budget so a
//!   crafted payload cannot make verification quadratic without end.
//!
//! On a stream the chain must also *involve new bytes*: some positive
//! item must end after `new_from`. A match made only of bytes seen
//! before has already fired (or failed) on an earlier packet.

use memchr::memmem;

use super::bytes::{self, Vars};
use super::pcre;
use crate::rules::bytes::{ByteExtract, ByteJump, ByteMath, ByteTest, IsDataAt};
use crate::rules::{Cmp, Content, Match};

/// Positions tried per rule verification before giving up on a match.
const STEP_BUDGET: u32 = 4096;

/// The bytes a chain runs over.
#[derive(Debug, Clone, Copy)]
pub struct Buf<'a> {
    pub data: &'a [u8],
    /// Stream offset of `data[0]` (0 for a packet payload).
    pub base: u64,
    /// Bytes before this index were inspected on earlier packets.
    pub new_from: usize,
}

#[derive(Debug)]
pub enum Item {
    Content(Box<ContentMatcher>),
    Pcre(pcre::Compiled),
    ByteTest(ByteTest),
    ByteJump(ByteJump),
    ByteExtract(ByteExtract),
    ByteMath(ByteMath),
    IsDataAt(IsDataAt),
    Bsize(Cmp),
}

impl Item {
    /// Whether this item reads the cursor the previous one left.
    fn relative(&self) -> bool {
        match self {
            Item::Content(c) => c.c.is_relative(),
            Item::Pcre(p) => p.relative,
            Item::ByteTest(t) => t.ex.relative,
            Item::ByteJump(j) => j.ex.relative,
            Item::ByteExtract(e) => e.ex.relative,
            Item::ByteMath(m) => m.ex.relative,
            Item::IsDataAt(d) => d.relative,
            Item::Bsize(_) => false,
        }
    }

    /// Whether a match of this item pins bytes of the buffer (and so
    /// can show that a stream match involves new bytes).
    fn anchors(&self) -> bool {
        match self {
            Item::Content(c) => !c.c.negated,
            Item::Pcre(p) => !p.negated,
            Item::ByteTest(_) | Item::ByteJump(_) | Item::ByteExtract(_) | Item::ByteMath(_) => {
                true
            }
            Item::IsDataAt(_) | Item::Bsize(_) => false,
        }
    }
}

#[derive(Debug)]
pub struct ContentMatcher {
    c: Content,
    /// Case-sensitive searcher; `None` for nocase, which compares by
    /// hand after lowering (contents are short).
    finder: Option<memmem::Finder<'static>>,
    lower: Vec<u8>,
}

impl ContentMatcher {
    pub fn new(c: Content) -> ContentMatcher {
        let finder = (!c.nocase).then(|| memmem::Finder::new(&c.pattern).into_owned());
        let lower = c.pattern.to_ascii_lowercase();
        ContentMatcher { c, finder, lower }
    }

    /// The index range `[start, limit)` the match must lie in, or None
    /// when it cannot lie anywhere in this buffer.
    fn window(&self, buf: &Buf<'_>, prev_end: usize, vars: &Vars) -> Option<(usize, usize)> {
        let len = buf.data.len() as i64;
        let v = |var: Option<u8>| {
            var.and_then(|i| vars.get(usize::from(i)))
                .map(|&x| x as i64)
        };
        let cv = &self.c.vars;
        if self.c.is_relative() {
            let distance = v(cv.distance).or(self.c.distance.map(i64::from));
            let within = v(cv.within).or(self.c.within.map(i64::from));
            let s = prev_end as i64 + distance.unwrap_or(0);
            let l = within.map_or(len, |w| s + w);
            let (start, limit) = (s.max(0), l.min(len));
            return (start <= limit).then_some((start as usize, limit as usize));
        }
        let (start, limit) = {
            let base = buf.base as i64;
            let off = v(cv.offset).or(self.c.offset.map(i64::from)).unwrap_or(0);
            let depth = match (
                self.c.startswith,
                v(cv.depth).or(self.c.depth.map(i64::from)),
            ) {
                (true, _) => Some(self.c.pattern.len() as i64),
                (false, d) => d,
            };
            (off - base, depth.map_or(len, |d| off + d - base))
        };
        let (start, limit) = (start.max(0), limit.min(len));
        (start <= limit).then_some((start as usize, limit as usize))
    }

    /// Next occurrence starting at or after `from` and ending by `limit`.
    fn find(&self, data: &[u8], from: usize, limit: usize) -> Option<usize> {
        let plen = self.c.pattern.len();
        // The parser refuses empty contents; this keeps `windows` sound.
        if plen == 0 || limit > data.len() || from + plen > limit {
            return None;
        }
        let hay = &data[from..limit];
        if self.c.endswith {
            let at = limit.checked_sub(plen)?;
            let ok = limit == data.len() && self.eq_at(data, at);
            return ok.then_some(at);
        }
        let pos = match &self.finder {
            Some(f) => f.find(hay),
            None => hay
                .windows(plen)
                .position(|w| w.eq_ignore_ascii_case(&self.lower)),
        };
        pos.map(|p| p + from)
    }

    fn eq_at(&self, data: &[u8], at: usize) -> bool {
        let Some(w) = data.get(at..at + self.c.pattern.len()) else {
            return false;
        };
        if self.c.nocase {
            w.eq_ignore_ascii_case(&self.lower)
        } else {
            w == self.c.pattern.as_slice()
        }
    }
}

/// A rule's compiled content/pcre list.
#[derive(Debug, Default)]
pub struct Chain {
    items: Vec<Item>,
}

impl Chain {
    pub fn new(matches: &[Match]) -> Result<Chain, String> {
        let items = matches
            .iter()
            .map(|m| match m {
                Match::Content(c) => Ok(Item::Content(Box::new(ContentMatcher::new(c.clone())))),
                Match::Pcre(p) => pcre::Compiled::new(p).map(Item::Pcre),
                Match::ByteTest(t) => Ok(Item::ByteTest(*t)),
                Match::ByteJump(j) => Ok(Item::ByteJump(*j)),
                Match::ByteExtract(e) => Ok(Item::ByteExtract(*e)),
                Match::ByteMath(m) => Ok(Item::ByteMath(*m)),
                Match::IsDataAt(d) => Ok(Item::IsDataAt(*d)),
                Match::Bsize(c) => Ok(Item::Bsize(*c)),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Chain { items })
    }

    pub fn uses_fallback_regex(&self) -> bool {
        self.items
            .iter()
            .any(|i| matches!(i, Item::Pcre(p) if p.is_fallback()))
    }

    /// Whether the chain matches `buf` (and involves its new bytes).
    pub fn matches(&self, buf: &Buf<'_>) -> bool {
        let anchored = self.items.iter().any(Item::anchors);
        let mut budget = STEP_BUDGET;
        let involved = buf.new_from == 0 || !anchored;
        let st = At {
            prev: 0,
            involved,
            vars: [0; crate::rules::bytes::MAX_BYTE_VARS],
        };
        self.step(0, st, buf, &mut budget)
    }

    fn step(&self, i: usize, st: At, buf: &Buf<'_>, budget: &mut u32) -> bool {
        let At {
            prev,
            involved,
            mut vars,
        } = st;
        let Some(item) = self.items.get(i) else {
            return involved;
        };
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        // When the next item does not look at our end position, one
        // occurrence that satisfies "involves new bytes" is as good as any.
        let next_relative = self.items.get(i + 1).is_some_and(Item::relative);
        match item {
            Item::Content(c) => {
                let Some((start, limit)) = c.window(buf, prev, &vars) else {
                    return c.c.negated && self.step(i + 1, st, buf, budget);
                };
                if c.c.negated {
                    return c.find(buf.data, start, limit).is_none()
                        && self.step(i + 1, st, buf, budget);
                }
                let mut from = start;
                while let Some(at) = c.find(buf.data, from, limit) {
                    let end = at + c.c.pattern.len();
                    let now = involved || end > buf.new_from;
                    if self.step(i + 1, st.to(end, now), buf, budget) {
                        return true;
                    }
                    if (!next_relative && now) || *budget == 0 {
                        return false;
                    }
                    *budget -= 1;
                    from = at + 1;
                }
                false
            }
            Item::Pcre(p) => {
                // Relative: the subject starts at the previous match end.
                let origin = if p.relative {
                    prev.min(buf.data.len())
                } else {
                    0
                };
                let subject = &buf.data[origin..];
                if p.negated {
                    return p.find(subject, 0).is_none() && self.step(i + 1, st, buf, budget);
                }
                let mut from = 0;
                while let Some((s, e)) = p.find(subject, from) {
                    let end = origin + e;
                    let now = involved || end > buf.new_from;
                    if self.step(i + 1, st.to(end, now), buf, budget) {
                        return true;
                    }
                    if (!next_relative && now) || *budget == 0 || s >= subject.len() {
                        return false;
                    }
                    *budget -= 1;
                    from = s + 1;
                }
                false
            }
            Item::ByteTest(t) => {
                let ok = bytes::test(t, buf.data, prev, &vars);
                ok && self.step(
                    i + 1,
                    st.touch(read_end(&t.ex, buf, prev, &vars)),
                    buf,
                    budget,
                )
            }
            Item::ByteJump(j) => match bytes::jump(j, buf.data, prev, &vars) {
                Some(to) => {
                    let st = st.touch(read_end(&j.ex, buf, prev, &vars));
                    self.step(i + 1, At { prev: to, ..st }, buf, budget)
                }
                None => false,
            },
            Item::ByteExtract(e) => match bytes::extract(e, buf.data, prev, &mut vars) {
                Some(end) => {
                    let now = involved || end > buf.new_from;
                    self.step(
                        i + 1,
                        At {
                            vars,
                            ..st.to(end, now)
                        },
                        buf,
                        budget,
                    )
                }
                None => false,
            },
            Item::ByteMath(m) => {
                let end = read_end(&m.ex, buf, prev, &vars);
                bytes::math(m, buf.data, prev, &mut vars)
                    && self.step(
                        i + 1,
                        At {
                            vars,
                            ..st.touch(end)
                        },
                        buf,
                        budget,
                    )
            }
            Item::IsDataAt(d) => {
                bytes::data_at(d, buf.data, prev, &vars) && self.step(i + 1, st, buf, budget)
            }
            Item::Bsize(c) => {
                let len = u32::try_from(buf.data.len()).unwrap_or(u32::MAX);
                c.matches(len) && self.step(i + 1, st, buf, budget)
            }
        }
    }
}

/// Where a chain match stands: the cursor, whether new stream bytes
/// are involved yet, and the byte variables.
#[derive(Debug, Clone, Copy)]
struct At {
    prev: usize,
    involved: bool,
    vars: Vars,
}

impl At {
    fn to(self, prev: usize, involved: bool) -> At {
        At {
            prev,
            involved,
            ..self
        }
    }

    /// Notes that bytes up to `end` were read, without moving the cursor.
    fn touch(self, end: Option<usize>) -> At {
        At {
            involved: self.involved || end.is_some(),
            ..self
        }
    }
}

/// End of the bytes an extraction reads, if they are in the buffer.
fn read_end(
    ex: &crate::rules::bytes::Extract,
    buf: &Buf<'_>,
    prev: usize,
    vars: &Vars,
) -> Option<usize> {
    bytes::read(ex, buf.data, prev, vars)
        .map(|(_, end)| end)
        .filter(|&end| end > buf.new_from)
}
