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

use super::pcre;
use crate::rules::{Content, Match};

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
}

impl Item {
    fn relative(&self) -> bool {
        match self {
            Item::Content(c) => c.c.is_relative(),
            Item::Pcre(p) => p.relative,
        }
    }
    fn negated(&self) -> bool {
        match self {
            Item::Content(c) => c.c.negated,
            Item::Pcre(p) => p.negated,
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
    fn window(&self, buf: &Buf<'_>, prev_end: usize) -> Option<(usize, usize)> {
        let len = buf.data.len() as i64;
        let (start, limit) = if self.c.is_relative() {
            let s = prev_end as i64 + i64::from(self.c.distance.unwrap_or(0));
            let l = self.c.within.map_or(len, |w| s + i64::from(w));
            (s, l)
        } else {
            let base = buf.base as i64;
            let off = i64::from(self.c.offset.unwrap_or(0));
            let depth = match (self.c.startswith, self.c.depth) {
                (true, _) => Some(self.c.pattern.len() as i64),
                (false, d) => d.map(i64::from),
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
        let all_negated = self.items.iter().all(Item::negated);
        let mut budget = STEP_BUDGET;
        let involved = buf.new_from == 0 || all_negated;
        self.step(0, 0, involved, buf, &mut budget)
    }

    fn step(&self, i: usize, prev: usize, involved: bool, buf: &Buf<'_>, budget: &mut u32) -> bool {
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
                let Some((start, limit)) = c.window(buf, prev) else {
                    return c.c.negated && self.step(i + 1, prev, involved, buf, budget);
                };
                if c.c.negated {
                    return c.find(buf.data, start, limit).is_none()
                        && self.step(i + 1, prev, involved, buf, budget);
                }
                let mut from = start;
                while let Some(at) = c.find(buf.data, from, limit) {
                    let end = at + c.c.pattern.len();
                    let now = involved || end > buf.new_from;
                    if self.step(i + 1, end, now, buf, budget) {
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
                    return p.find(subject, 0).is_none()
                        && self.step(i + 1, prev, involved, buf, budget);
                }
                let mut from = 0;
                while let Some((s, e)) = p.find(subject, from) {
                    let end = origin + e;
                    let now = involved || end > buf.new_from;
                    if self.step(i + 1, end, now, buf, budget) {
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
        }
    }
}
