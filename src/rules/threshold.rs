//! Alert rate keywords (`threshold`, `detection_filter`) and the
//! `threshold.config` file (`threshold`, `event_filter`, `suppress`,
//! `rate_filter` lines).
//!
//! Only parsing lives here; the counting is the detector's
//! ([`crate::detect::threshold`]).

use super::header::AddrSpec;
use super::vars::Vars;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Alert on the first `count` matches per window.
    Limit,
    /// Alert on every `count`-th match in a window.
    Threshold,
    /// Alert once per window, when the `count`-th match arrives.
    Both,
}

/// What the counting is keyed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackBy {
    Src,
    Dst,
    Rule,
    /// The (source, destination) address pair.
    Both,
}

/// `threshold:` in a rule, or a `threshold`/`event_filter` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threshold {
    pub kind: Kind,
    pub track: TrackBy,
    pub count: u32,
    pub seconds: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UniqueOn {
    SrcPort,
    DstPort,
}

/// `detection_filter:` — alert only once the rule matched more than
/// `count` times in `seconds` (counting distinct ports with
/// `unique_on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectionFilter {
    pub track: TrackBy,
    pub count: u32,
    pub seconds: u32,
    pub unique_on: Option<UniqueOn>,
}

/// Splits at commas outside `[...]` (an address list is one value).
fn top_level_fields(s: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// `key value` pairs separated by commas, keys lower-cased.
fn pairs(s: &str) -> Result<Vec<(String, String)>, String> {
    top_level_fields(s)
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p
                .split_once(char::is_whitespace)
                .ok_or_else(|| format!("'{p}' is not 'key value'"))?;
            Ok((k.to_ascii_lowercase(), v.trim().to_string()))
        })
        .collect()
}

fn track(v: &str) -> Result<TrackBy, String> {
    Ok(match v.to_ascii_lowercase().as_str() {
        "by_src" => TrackBy::Src,
        "by_dst" => TrackBy::Dst,
        "by_rule" => TrackBy::Rule,
        "by_both" => TrackBy::Both,
        other => return Err(format!("unsupported track '{other}'")),
    })
}

fn num(k: &str, v: &str) -> Result<u32, String> {
    v.parse().map_err(|_| format!("bad {k} '{v}'"))
}

/// The `type/track/count/seconds` set, from already split pairs.
fn threshold_from(p: &[(String, String)]) -> Result<Threshold, String> {
    let (mut kind, mut tr, mut count, mut seconds) = (None, None, None, None);
    for (k, v) in p {
        match k.as_str() {
            "type" => {
                kind = Some(match v.to_ascii_lowercase().as_str() {
                    "limit" => Kind::Limit,
                    "threshold" => Kind::Threshold,
                    "both" => Kind::Both,
                    other => return Err(format!("unknown threshold type '{other}'")),
                })
            }
            "track" => tr = Some(track(v)?),
            "count" => count = Some(num(k, v)?),
            "seconds" => seconds = Some(num(k, v)?),
            _ => {}
        }
    }
    let need = |what: &str| format!("threshold needs '{what}'");
    let t = Threshold {
        kind: kind.ok_or_else(|| need("type"))?,
        track: tr.ok_or_else(|| need("track"))?,
        count: count.ok_or_else(|| need("count"))?,
        seconds: seconds.ok_or_else(|| need("seconds"))?,
    };
    if t.count == 0 {
        return Err("threshold count must be 1 or more".into());
    }
    Ok(t)
}

fn only_keys(p: &[(String, String)], keys: &[&str]) -> Result<(), String> {
    match p.iter().find(|(k, _)| !keys.contains(&k.as_str())) {
        Some((k, _)) => Err(format!("unknown option '{k}'")),
        None => Ok(()),
    }
}

/// The rule keyword `threshold:type T, track B, count N, seconds S`.
pub fn parse_threshold(s: &str) -> Result<Threshold, String> {
    let p = pairs(s)?;
    only_keys(&p, &["type", "track", "count", "seconds"])?;
    threshold_from(&p)
}

/// The rule keyword `detection_filter:track B, count N, seconds S
/// [, unique_on src_port|dst_port]`.
pub fn parse_detection_filter(s: &str) -> Result<DetectionFilter, String> {
    let p = pairs(s)?;
    only_keys(&p, &["track", "count", "seconds", "unique_on"])?;
    let get = |k: &str| p.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let need = |what: &str| format!("detection_filter needs '{what}'");
    let unique_on = match get("unique_on") {
        None => None,
        Some("src_port") => Some(UniqueOn::SrcPort),
        Some("dst_port") => Some(UniqueOn::DstPort),
        Some(other) => return Err(format!("unknown unique_on '{other}'")),
    };
    let f = DetectionFilter {
        track: track(get("track").ok_or_else(|| need("track"))?)?,
        count: num("count", get("count").ok_or_else(|| need("count"))?)?,
        seconds: num("seconds", get("seconds").ok_or_else(|| need("seconds"))?)?,
        unique_on,
    };
    if f.unique_on.is_some() && matches!(f.track, TrackBy::Rule | TrackBy::Both) {
        return Err("unique_on needs track by_src or by_dst".into());
    }
    Ok(f)
}

/// Which rules a config line is about; 0 means "any" for either id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigRef {
    pub gid: u32,
    pub sid: u32,
}

impl SigRef {
    pub fn covers(self, gid: u32, sid: u32) -> bool {
        (self.gid == 0 || self.gid == gid) && (self.sid == 0 || self.sid == sid)
    }
}

/// `suppress ... track by_src|by_dst|by_either, ip <addr or net>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppress {
    pub sig: SigRef,
    /// `None`: suppress everywhere. `Some((track, addrs))`: only when
    /// the tracked address is in `addrs` (rule address syntax, with
    /// variables).
    pub only: Option<(SuppressTrack, AddrSpec)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuppressTrack {
    Src,
    Dst,
    Either,
}

/// One usable line of a threshold.config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigEntry {
    /// `threshold` and `event_filter`: replaces the rule's own threshold.
    Threshold(SigRef, Threshold),
    Suppress(Suppress),
}

/// A parsed threshold.config: entries, and per-line problems as
/// `(line, message)` (unusable lines are skipped, not fatal).
#[derive(Debug, Default)]
pub struct ThresholdConfig {
    pub entries: Vec<ConfigEntry>,
    pub problems: Vec<(usize, String)>,
}

pub fn parse_threshold_config(text: &str, vars: &Vars) -> ThresholdConfig {
    let mut out = ThresholdConfig::default();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match config_line(line, vars) {
            Ok(Some(e)) => out.entries.push(e),
            Ok(None) => out
                .problems
                .push((i + 1, "rate_filter is parsed but not applied".to_string())),
            Err(e) => out.problems.push((i + 1, e)),
        }
    }
    out
}

/// One line; `Ok(None)` for a rate_filter, which we only parse.
fn config_line(line: &str, vars: &Vars) -> Result<Option<ConfigEntry>, String> {
    let (kind, rest) = line
        .split_once(char::is_whitespace)
        .ok_or_else(|| format!("'{line}' has no options"))?;
    let p = pairs(rest)?;
    let get = |k: &str| p.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let sig = SigRef {
        gid: num("gen_id", get("gen_id").unwrap_or("1"))?,
        sid: num("sig_id", get("sig_id").ok_or("missing sig_id")?)?,
    };
    match kind.to_ascii_lowercase().as_str() {
        "threshold" | "event_filter" => {
            only_keys(
                &p,
                &["gen_id", "sig_id", "type", "track", "count", "seconds"],
            )?;
            Ok(Some(ConfigEntry::Threshold(sig, threshold_from(&p)?)))
        }
        "suppress" => {
            only_keys(&p, &["gen_id", "sig_id", "track", "ip"])?;
            let only = match (get("track"), get("ip")) {
                (None, None) => None,
                (Some(t), Some(ip)) => {
                    let t = match t {
                        "by_src" => SuppressTrack::Src,
                        "by_dst" => SuppressTrack::Dst,
                        "by_either" => SuppressTrack::Either,
                        other => return Err(format!("unknown suppress track '{other}'")),
                    };
                    Some((t, AddrSpec::parse(ip, vars)?))
                }
                _ => return Err("suppress needs both 'track' and 'ip', or neither".into()),
            };
            Ok(Some(ConfigEntry::Suppress(Suppress { sig, only })))
        }
        "rate_filter" => {
            only_keys(
                &p,
                &[
                    "gen_id",
                    "sig_id",
                    "track",
                    "count",
                    "seconds",
                    "new_action",
                    "timeout",
                ],
            )?;
            Ok(None)
        }
        other => Err(format!("unknown threshold.config entry '{other}'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_keywords() {
        let t = parse_threshold("type limit, track by_src, count 1, seconds 60").unwrap();
        assert_eq!(
            (t.kind, t.track, t.count, t.seconds),
            (Kind::Limit, TrackBy::Src, 1, 60)
        );
        assert!(parse_threshold("type limit, track by_src, count 1").is_err());
        assert!(parse_threshold("type some, track by_src, count 1, seconds 1").is_err());
        let f = parse_detection_filter("track by_dst, count 3, seconds 60, unique_on dst_port")
            .unwrap();
        assert_eq!(
            (f.track, f.unique_on),
            (TrackBy::Dst, Some(UniqueOn::DstPort))
        );
        assert!(
            parse_detection_filter("track by_rule, count 3, seconds 6, unique_on dst_port")
                .is_err()
        );
    }

    #[test]
    fn suppress_addresses_take_variables() {
        let mut vars = Vars::default();
        vars.set_address("HOME_NET", "[192.168.0.0/16]").unwrap();
        let c = parse_threshold_config(
            "suppress gen_id 1, sig_id 5, track by_dst, ip $HOME_NET\n\
             suppress gen_id 1, sig_id 6, track by_src, ip [10.0.0.1,!10.0.0.0/8]\n",
            &vars,
        );
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        let ConfigEntry::Suppress(s) = &c.entries[0] else {
            panic!()
        };
        let (track, addrs) = s.only.as_ref().unwrap();
        assert_eq!(*track, SuppressTrack::Dst);
        assert!(addrs.matches("192.168.7.7".parse().unwrap()));
    }

    #[test]
    fn config_file() {
        let c = parse_threshold_config(
            "# comment\n\
             threshold gen_id 1, sig_id 10, type limit, track by_rule, count 1, seconds 60\n\
             event_filter gen_id 1, sig_id 11, type both, track by_dst, count 2, seconds 5\n\
             suppress gen_id 1, sig_id 12\n\
             suppress gen_id 1, sig_id 13, track by_src, ip 10.0.0.0/8\n\
             rate_filter gen_id 1, sig_id 14, track by_rule, count 9, seconds 1, \
             new_action drop, timeout 5\n\
             bogus line\n",
            &Vars::default(),
        );
        assert_eq!(c.entries.len(), 4);
        assert_eq!(c.problems.len(), 2);
        assert_eq!(c.problems[0].0, 6);
        let ConfigEntry::Suppress(s) = &c.entries[3] else {
            panic!()
        };
        assert!(s.sig.covers(1, 13) && !s.sig.covers(1, 12));
        let (_, addrs) = s.only.as_ref().unwrap();
        assert!(addrs.matches("10.1.2.3".parse().unwrap()));
        assert!(!addrs.matches("11.1.2.3".parse().unwrap()));
    }
}
