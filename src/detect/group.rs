//! Grouping rules by transport and by the buffer they inspect, each
//! group with its own prefilter.
//!
//! A packet only ever consults the group of its transport, so a UDP
//! packet never pays for TCP patterns. Inside the TCP group, rules that
//! read the reassembled stream and rules that read the packet payload
//! get separate prefilters because they scan different bytes.

use std::collections::HashMap;

use super::prefilter::Prefilter;
use crate::decode::{Packet, L4};
use crate::rules::{Content, Match, Proto, Rule};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp = 0,
    Udp = 1,
    Icmp = 2,
    Other = 3,
}

impl Transport {
    pub const ALL: [Transport; 4] = [
        Transport::Tcp,
        Transport::Udp,
        Transport::Icmp,
        Transport::Other,
    ];

    /// A non-first fragment has no transport header and lands in Other.
    pub fn of(p: &Packet<'_>) -> Transport {
        match p.l4 {
            L4::Tcp(_) => Transport::Tcp,
            L4::Udp { .. } => Transport::Udp,
            L4::Icmp(_) => Transport::Icmp,
            L4::Other => Transport::Other,
        }
    }
}

/// Rules that scan one kind of buffer, with their prefilter.
#[derive(Debug, Default)]
pub struct Side {
    pub prefilter: Option<Prefilter>,
    /// Pattern id -> rules whose fast pattern it is.
    pub by_pattern: Vec<Vec<u32>>,
    /// Payload rules without a usable fast pattern (only negated
    /// contents, or pcre only): always verified.
    pub no_fast: Vec<u32>,
}

#[derive(Debug, Default)]
pub struct Group {
    /// TCP only: rules over the reassembled stream.
    pub stream: Side,
    /// Payload rules when the packet brings no stream data.
    pub packet_all: Side,
    /// Payload rules that read the packet even when there is stream data
    /// (`tcp-pkt`, `ip`, `flow:no_stream`).
    pub packet_only: Side,
    /// Rules without content or pcre: checked on every packet.
    pub header_only: Vec<u32>,
}

#[derive(Default)]
struct SideBuilder {
    ids: HashMap<Vec<u8>, usize>,
    patterns: Vec<Vec<u8>>,
    by_pattern: Vec<Vec<u32>>,
    no_fast: Vec<u32>,
}

impl SideBuilder {
    fn add(&mut self, rule: u32, fast: Option<&[u8]>) {
        let Some(fast) = fast else {
            self.no_fast.push(rule);
            return;
        };
        // The automaton folds case, so patterns equal up to case share
        // one id.
        let key = fast.to_ascii_lowercase();
        let next = self.patterns.len();
        let id = *self.ids.entry(key.clone()).or_insert(next);
        if id == next {
            self.patterns.push(key);
            self.by_pattern.push(Vec::new());
        }
        self.by_pattern[id].push(rule);
    }

    fn build(self) -> Result<Side, String> {
        let prefilter = if self.patterns.is_empty() {
            None
        } else {
            Some(Prefilter::build(&self.patterns)?)
        };
        Ok(Side {
            prefilter,
            by_pattern: self.by_pattern,
            no_fast: self.no_fast,
        })
    }
}

#[derive(Default)]
struct GroupBuilder {
    stream: SideBuilder,
    packet_all: SideBuilder,
    packet_only: SideBuilder,
    header_only: Vec<u32>,
}

/// The prefilter bytes of a rule: the explicit `fast_pattern` (unless it
/// is negated), else the longest positive content.
pub fn fast_pattern(rule: &Rule) -> Option<&[u8]> {
    let contents = || {
        rule.options.matches.iter().filter_map(|m| match m {
            Match::Content(c) if !c.negated => Some(c),
            _ => None,
        })
    };
    let explicit = contents().find(|c| c.fast_pattern.is_some());
    // Longest wins; among equals the first, as written.
    let longest = contents().fold(None, |best: Option<&Content>, c| match best {
        Some(b) if b.pattern.len() >= c.pattern.len() => Some(b),
        _ => Some(c),
    });
    explicit.or(longest).map(|c| c.fast_bytes())
}

/// Builds the four transport groups.
pub fn build(rules: &[Rule]) -> Result<[Group; 4], String> {
    let mut builders: [GroupBuilder; 4] = Default::default();
    for (id, rule) in rules.iter().enumerate() {
        let id = id as u32;
        // Judged per transaction instead (see `http`).
        if super::http::is_tx_rule(rule) {
            continue;
        }
        let fast = fast_pattern(rule);
        let has_payload = !rule.options.matches.is_empty();
        let flow = &rule.options.flow;
        let transports: &[Transport] = match rule.header.proto {
            // DNS is parsed on UDP and TCP; the other app-layer
            // protocols are detected on TCP flows only.
            Proto::App(ref a) if a.0 == "dns" => &[Transport::Tcp, Transport::Udp],
            Proto::Tcp | Proto::TcpPkt | Proto::TcpStream | Proto::App(_) => &[Transport::Tcp],
            Proto::Udp => &[Transport::Udp],
            Proto::Icmp => &[Transport::Icmp],
            _ => &Transport::ALL,
        };
        for &t in transports {
            let g = &mut builders[t as usize];
            if !has_payload {
                g.header_only.push(id);
                continue;
            }
            let (stream, packet_all, packet_only) = match (&rule.header.proto, t) {
                (Proto::Tcp | Proto::App(_), _) if flow.only_stream => (true, false, false),
                (Proto::Tcp | Proto::App(_), _) if flow.no_stream => (false, true, true),
                (Proto::Tcp | Proto::App(_), _) => (true, true, false),
                (Proto::TcpStream, _) => (true, false, false),
                (_, Transport::Tcp) => (false, true, true),
                _ => (false, true, false),
            };
            if stream {
                g.stream.add(id, fast);
            }
            if packet_all {
                g.packet_all.add(id, fast);
            }
            if packet_only {
                g.packet_only.add(id, fast);
            }
        }
    }
    let mut out: [Group; 4] = Default::default();
    for (slot, b) in out.iter_mut().zip(builders) {
        *slot = Group {
            stream: b.stream.build()?,
            packet_all: b.packet_all.build()?,
            packet_only: b.packet_only.build()?,
            header_only: b.header_only,
        };
    }
    Ok(out)
}
