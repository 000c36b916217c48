//! Alert rate control: `threshold`, `detection_filter` and the
//! threshold.config entries (suppress, event_filter).
//!
//! Counting follows Suricata's: a window opens at the first match of a
//! key and lasts `seconds` of packet time; the count restarts when a
//! match arrives after the window. What a rule's match turns into:
//!
//! | kind | alert when | otherwise |
//! |---|---|---|
//! | limit | count <= N in the window | act, no alert |
//! | threshold | every N-th match | as if no match |
//! | both | exactly the N-th match | before: no match; after: act, no alert |
//! | detection_filter | count > N (distinct ports with unique_on) | as if no match |
//! | suppress | never | act, no alert |
//!
//! "Act, no alert" keeps a drop rule dropping after its alerts were
//! limited, as Suricata does.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::rules::threshold::{
    ConfigEntry, DetectionFilter, Kind, Suppress, SuppressTrack, Threshold, TrackBy, UniqueOn,
};
use crate::time::Ts;

/// Most counters held at once. When full, counters whose window has
/// passed are dropped; if none has, a new key is not tracked and its
/// match is judged as a first match (limit alerts, the others do not).
pub const THRESHOLD_CAP: usize = 65_536;

/// Distinct ports remembered per detection_filter counter.
const MAX_UNIQUE_PORTS: usize = 1024;

/// What a match becomes after rate control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Alert,
    /// Apply the rule's action, log nothing.
    Silent,
    /// Treat the rule as not matched.
    Drop,
}

/// A rule's effective rate control, fixed at build time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleRate {
    pub threshold: Option<Threshold>,
    pub filter: Option<DetectionFilter>,
    pub suppress: Vec<Suppress>,
}

impl RuleRate {
    pub fn is_empty(&self) -> bool {
        self.threshold.is_none() && self.filter.is_none() && self.suppress.is_empty()
    }
}

/// Picks each rule's rate control: a config threshold for the exact
/// sid beats the rule's own `threshold`, which beats a config entry for
/// all sids; suppress entries add up.
pub fn rule_rate(
    gid: u32,
    sid: u32,
    own: Option<Threshold>,
    filter: Option<DetectionFilter>,
    config: &[ConfigEntry],
) -> RuleRate {
    let mut exact = None;
    let mut wide = None;
    let mut suppress = Vec::new();
    for e in config {
        match e {
            ConfigEntry::Threshold(r, t) if r.covers(gid, sid) => {
                if r.sid == sid {
                    exact = Some(*t);
                } else {
                    wide = wide.or(Some(*t));
                }
            }
            ConfigEntry::Suppress(s) if s.sig.covers(gid, sid) => suppress.push(s.clone()),
            _ => {}
        }
    }
    RuleRate {
        threshold: exact.or(own).or(wide),
        filter,
        suppress,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Rule,
    Host(IpAddr),
    Pair(IpAddr, IpAddr),
}

/// Counters of both kinds share one table; a rule has at most one of
/// each, told apart by `filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Slot {
    rule: u32,
    filter: bool,
    key: Key,
}

#[derive(Debug)]
struct Counter {
    start: Ts,
    window_end: Ts,
    count: u32,
    ports: Vec<u16>,
}

/// The packet facts rate control reads.
#[derive(Debug, Clone, Copy)]
pub struct Seen {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub now: Ts,
}

#[derive(Debug, Default)]
pub struct Thresholds {
    counters: HashMap<Slot, Counter>,
    /// Matches judged untracked because the table was full.
    pub untracked: u64,
}

fn key(track: TrackBy, s: &Seen) -> Key {
    match track {
        TrackBy::Src => Key::Host(s.src),
        TrackBy::Dst => Key::Host(s.dst),
        TrackBy::Rule => Key::Rule,
        TrackBy::Both => Key::Pair(s.src.min(s.dst), s.src.max(s.dst)),
    }
}

fn suppressed(list: &[Suppress], s: &Seen) -> bool {
    list.iter().any(|sup| match &sup.only {
        None => true,
        Some((track, addrs)) => {
            let hit = |ip: IpAddr| addrs.matches(ip);
            match track {
                SuppressTrack::Src => hit(s.src),
                SuppressTrack::Dst => hit(s.dst),
                SuppressTrack::Either => hit(s.src) || hit(s.dst),
            }
        }
    })
}

impl Thresholds {
    /// Judges one match of rule `rule` (an index) under `rate`.
    pub fn judge(&mut self, rule: u32, rate: &RuleRate, s: &Seen) -> Outcome {
        if let Some(f) = &rate.filter {
            if !self.filter_passes(rule, f, s) {
                return Outcome::Drop;
            }
        }
        let out = match &rate.threshold {
            Some(t) => self.threshold(rule, t, s),
            None => Outcome::Alert,
        };
        if out == Outcome::Alert && suppressed(&rate.suppress, s) {
            return Outcome::Silent;
        }
        out
    }

    /// The counter for `slot`, opened or restarted as the window says.
    /// None when the table is full of live counters.
    fn counter(&mut self, slot: Slot, seconds: u32, now: Ts) -> Option<(&mut Counter, bool)> {
        let len = self.counters.len();
        if !self.counters.contains_key(&slot) && len >= THRESHOLD_CAP {
            self.counters.retain(|_, c| c.window_end >= now);
            if self.counters.len() >= THRESHOLD_CAP {
                self.untracked += 1;
                if self.untracked == 1 {
                    tracing::info!(
                        cap = THRESHOLD_CAP,
                        "threshold table full: new keys are judged untracked"
                    );
                }
                return None;
            }
        }
        let window = u64::from(seconds) * 1_000_000;
        let mut fresh = false;
        let c = self.counters.entry(slot).or_insert_with(|| {
            fresh = true;
            Counter {
                start: now,
                window_end: Ts(now.0 + window),
                count: 0,
                ports: Vec::new(),
            }
        });
        // The window includes its last instant (Suricata compares with <=).
        if !fresh && now.0.saturating_sub(c.start.0) > window {
            // The window passed: this match opens a new one.
            *c = Counter {
                start: now,
                window_end: Ts(now.0 + window),
                count: 0,
                ports: Vec::new(),
            };
            fresh = true;
        }
        Some((c, fresh))
    }

    fn threshold(&mut self, rule: u32, t: &Threshold, s: &Seen) -> Outcome {
        let slot = Slot {
            rule,
            filter: false,
            key: key(t.track, s),
        };
        let Some((c, _)) = self.counter(slot, t.seconds, s.now) else {
            return match t.kind {
                Kind::Limit => Outcome::Alert,
                _ if t.count == 1 => Outcome::Alert,
                _ => Outcome::Drop,
            };
        };
        c.count = c.count.saturating_add(1);
        match t.kind {
            Kind::Limit if c.count <= t.count => Outcome::Alert,
            Kind::Limit => Outcome::Silent,
            Kind::Threshold if c.count >= t.count => {
                c.count = 0;
                Outcome::Alert
            }
            Kind::Both if c.count == t.count => Outcome::Alert,
            // Past the count the rule still acts, silently.
            Kind::Both if c.count > t.count => Outcome::Silent,
            Kind::Threshold | Kind::Both => Outcome::Drop,
        }
    }

    fn filter_passes(&mut self, rule: u32, f: &DetectionFilter, s: &Seen) -> bool {
        let slot = Slot {
            rule,
            filter: true,
            key: key(f.track, s),
        };
        let Some((c, _)) = self.counter(slot, f.seconds, s.now) else {
            return f.count == 0;
        };
        match f.unique_on {
            None => {
                c.count = c.count.saturating_add(1);
                c.count > f.count
            }
            Some(on) => {
                let port = match on {
                    UniqueOn::SrcPort => s.src_port,
                    UniqueOn::DstPort => s.dst_port,
                };
                if !c.ports.contains(&port) && c.ports.len() < MAX_UNIQUE_PORTS {
                    c.ports.push(port);
                }
                c.ports.len() as u64 > u64::from(f.count)
            }
        }
    }

    pub fn len(&self) -> usize {
        self.counters.len()
    }

    pub fn is_empty(&self) -> bool {
        self.counters.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::threshold::{parse_detection_filter, parse_threshold};

    fn seen(src: u8, sport: u16, secs_x10: u64) -> Seen {
        Seen {
            src: IpAddr::from([10, 0, 0, src]),
            dst: IpAddr::from([10, 0, 0, 99]),
            src_port: sport,
            dst_port: 80,
            now: Ts(secs_x10 * 100_000),
        }
    }

    fn run(rate: &RuleRate, events: &[(u8, u16, u64)]) -> Vec<Outcome> {
        let mut t = Thresholds::default();
        events
            .iter()
            .map(|&(src, port, at)| t.judge(0, rate, &seen(src, port, at)))
            .collect()
    }

    fn with_threshold(s: &str) -> RuleRate {
        RuleRate {
            threshold: Some(parse_threshold(s).unwrap()),
            ..RuleRate::default()
        }
    }

    use Outcome::{Alert as A, Drop as D, Silent as S};

    #[test]
    fn limit_counts_per_window() {
        let r = with_threshold("type limit, track by_src, count 2, seconds 10");
        // Times in tenths of a second; a new window once 10 s have passed.
        let got = run(
            &r,
            &[(1, 1, 0), (1, 1, 5), (1, 1, 50), (2, 1, 60), (1, 1, 101)],
        );
        assert_eq!(got, [A, A, S, A, A]);
    }

    /// A match exactly `seconds` after the window opened still counts
    /// in it; one later opens a new window.
    #[test]
    fn window_includes_its_end() {
        let r = with_threshold("type limit, track by_rule, count 1, seconds 10");
        assert_eq!(run(&r, &[(1, 1, 0), (1, 1, 100), (1, 1, 101)]), [A, S, A]);
    }

    #[test]
    fn threshold_every_nth_and_both_once() {
        let r = with_threshold("type threshold, track by_rule, count 3, seconds 60");
        let got = run(
            &r,
            &[
                (1, 1, 0),
                (2, 1, 1),
                (3, 1, 2),
                (1, 1, 3),
                (1, 1, 4),
                (1, 1, 5),
            ],
        );
        assert_eq!(got, [D, D, A, D, D, A]);
        let r = with_threshold("type both, track by_dst, count 2, seconds 60");
        let got = run(
            &r,
            &[(1, 1, 0), (2, 1, 1), (3, 1, 2), (1, 1, 601), (1, 1, 602)],
        );
        assert_eq!(got, [D, A, S, D, A]);
    }

    #[test]
    fn detection_filter_and_unique_ports() {
        let rate = |s: &str| RuleRate {
            filter: Some(parse_detection_filter(s).unwrap()),
            ..RuleRate::default()
        };
        let r = rate("track by_src, count 2, seconds 60");
        assert_eq!(
            run(&r, &[(1, 1, 0), (1, 1, 1), (1, 1, 2), (2, 1, 3)]),
            [D, D, A, D]
        );
        let r = rate("track by_src, count 1, seconds 60, unique_on src_port");
        assert_eq!(run(&r, &[(1, 5, 0), (1, 5, 1), (1, 6, 2)]), [D, D, A]);
    }

    #[test]
    fn suppress_and_config_precedence() {
        use crate::rules::threshold::parse_threshold_config;
        let cfg = parse_threshold_config(
            "suppress gen_id 1, sig_id 7, track by_src, ip 10.0.0.1\n\
             threshold gen_id 0, sig_id 0, type limit, track by_rule, count 1, seconds 9\n\
             threshold gen_id 1, sig_id 8, type limit, track by_rule, count 5, seconds 9\n",
            &crate::rules::Vars::default(),
        );
        let own = parse_threshold("type limit, track by_src, count 2, seconds 1").ok();
        let r7 = rule_rate(1, 7, own, None, &cfg.entries);
        assert_eq!(r7.threshold, own, "own beats an all-sids entry");
        assert_eq!(run(&r7, &[(1, 1, 0), (2, 1, 0)]), [S, A]);
        let r8 = rule_rate(1, 8, own, None, &cfg.entries);
        assert_eq!(
            r8.threshold.map(|t| t.count),
            Some(5),
            "exact sid beats own"
        );
        let r9 = rule_rate(1, 9, None, None, &cfg.entries);
        assert_eq!(r9.threshold.map(|t| t.count), Some(1));
    }

    #[test]
    fn table_is_capped() {
        let r = with_threshold("type both, track by_src, count 2, seconds 60");
        let mut t = Thresholds::default();
        for i in 0..(THRESHOLD_CAP as u32 + 5) {
            let mut s = seen(0, 1, 0);
            s.src = IpAddr::from(i.to_be_bytes());
            t.judge(0, &r, &s);
        }
        assert_eq!(t.len(), THRESHOLD_CAP);
        assert_eq!(t.untracked, 5);
    }
}
