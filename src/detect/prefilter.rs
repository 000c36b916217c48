//! The multi-pattern prefilter: one Aho-Corasick automaton per rule
//! group, holding each rule's fast pattern.
//!
//! We drive the `aho-corasick` crate's automata one byte at a time
//! through its `Automaton` trait instead of calling its search API,
//! because a TCP stream arrives in pieces: the state reached at the end
//! of one segment is stored per flow direction ([`super::DirState`]) and
//! the next segment continues from it, so a pattern split across
//! segments is found without keeping or rescanning old bytes. The crate
//! (by the author of regex-automata) builds automata for tens of
//! thousands of patterns with bounded memory and exposes exactly this
//! resumable state. `MatchKind::Standard` makes every state list all
//! patterns that end at it, overlapping ones included, which is what a
//! prefilter needs: every rule whose pattern occurs is a candidate.
//!
//! Case: the automaton is built ASCII case-insensitive for all patterns.
//! One automaton means one pass and one stored state per direction; the
//! price is that a case-sensitive pattern may also hit on other casings,
//! and verification (which checks case) throws those candidates out.
//! The alternative, two automata, doubles both the scan and the state.
//!
//! Size: a full DFA is fastest but its transition table grows with
//! pattern bytes times alphabet classes, so above [`DFA_MAX_PATTERN_BYTES`]
//! we build the contiguous NFA, which is compact and follows failure
//! links at run time.

use aho_corasick::automaton::Automaton;
use aho_corasick::automaton::StateID;
use aho_corasick::{dfa, nfa::contiguous, Anchored, MatchKind};

/// Total fast-pattern bytes up to which a group gets a full DFA.
pub const DFA_MAX_PATTERN_BYTES: usize = 64 * 1024;

#[derive(Debug)]
pub struct Prefilter {
    engine: Engine,
    start: StateID,
    patterns: usize,
}

#[derive(Debug)]
enum Engine {
    Dfa(dfa::DFA),
    Nfa(contiguous::NFA),
}

impl Prefilter {
    /// Builds the automaton; pattern ids are the indices in `patterns`.
    pub fn build(patterns: &[Vec<u8>]) -> Result<Prefilter, String> {
        let bytes: usize = patterns.iter().map(Vec::len).sum();
        let engine = if bytes <= DFA_MAX_PATTERN_BYTES {
            dfa::Builder::new()
                .match_kind(MatchKind::Standard)
                .ascii_case_insensitive(true)
                .start_kind(aho_corasick::StartKind::Unanchored)
                .byte_classes(true)
                .build(patterns)
                .map(Engine::Dfa)
        } else {
            contiguous::Builder::new()
                .match_kind(MatchKind::Standard)
                .ascii_case_insensitive(true)
                .build(patterns)
                .map(Engine::Nfa)
        }
        .map_err(|e| e.to_string())?;
        let start = match &engine {
            Engine::Dfa(a) => a.start_state(Anchored::No),
            Engine::Nfa(a) => a.start_state(Anchored::No),
        }
        .map_err(|e| e.to_string())?;
        Ok(Prefilter {
            engine,
            start,
            patterns: patterns.len(),
        })
    }

    pub fn start(&self) -> StateID {
        self.start
    }

    pub fn patterns(&self) -> usize {
        self.patterns
    }

    pub fn memory_usage(&self) -> usize {
        match &self.engine {
            Engine::Dfa(a) => a.memory_usage(),
            Engine::Nfa(a) => a.memory_usage(),
        }
    }

    pub fn is_dfa(&self) -> bool {
        matches!(self.engine, Engine::Dfa(_))
    }

    /// Feeds `bytes` from state `sid`; calls `hit(pattern, end)` for each
    /// pattern occurrence, `end` being the index in `bytes` just past it.
    /// Returns the state to resume from.
    ///
    /// `sid` must come from [`Prefilter::start`] or an earlier `scan` of
    /// this same prefilter; the detector checks that before resuming.
    pub fn scan(&self, sid: StateID, bytes: &[u8], hit: impl FnMut(usize, usize)) -> StateID {
        match &self.engine {
            Engine::Dfa(a) => run(a, sid, bytes, hit),
            Engine::Nfa(a) => run(a, sid, bytes, hit),
        }
    }
}

fn run<A: Automaton>(
    a: &A,
    mut sid: StateID,
    bytes: &[u8],
    mut hit: impl FnMut(usize, usize),
) -> StateID {
    for (i, &b) in bytes.iter().enumerate() {
        sid = a.next_state(Anchored::No, sid, b);
        if a.is_special(sid) && a.is_match(sid) {
            for k in 0..a.match_len(sid) {
                hit(a.match_pattern(sid, k).as_usize(), i + 1);
            }
        }
    }
    sid
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(p: &Prefilter, chunks: &[&[u8]]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut sid = p.start();
        let mut base = 0;
        for c in chunks {
            sid = p.scan(sid, c, |pat, end| out.push((pat, base + end)));
            base += c.len();
        }
        out
    }

    #[test]
    fn overlapping_and_case_folded() {
        let p = Prefilter::build(&[b"abcd".to_vec(), b"bc".to_vec(), b"CD".to_vec()]).unwrap();
        assert!(p.is_dfa());
        assert_eq!(hits(&p, &[b"xABCD"]), vec![(1, 4), (0, 5), (2, 5)]);
    }

    #[test]
    fn resumes_across_chunks_in_both_engines() {
        let small = Prefilter::build(&[b"needle".to_vec()]).unwrap();
        // Enough pattern bytes to force the contiguous NFA.
        let mut many: Vec<Vec<u8>> = (0..9000)
            .map(|i| format!("pat{i:05}x").into_bytes())
            .collect();
        many.push(b"needle".to_vec());
        let big = Prefilter::build(&many).unwrap();
        assert!(!big.is_dfa());
        for p in [&small, &big] {
            let h = hits(p, &[b"..nee", b"dl", b"e.."]);
            assert_eq!(h, vec![(p.patterns() - 1, 8)]);
        }
    }
}
