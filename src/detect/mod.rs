//! Compiled rules: grouping, prefilter, verification.
//!
//! Detection is two-stage. Each rule's fast pattern goes into the
//! Aho-Corasick prefilter of its group ([`group`], [`prefilter`]); a
//! packet (or the new bytes of a stream) is scanned once per group, and
//! only the rules whose pattern occurred — plus rules with no usable
//! fast pattern — are verified in full: header and packet keywords
//! ([`header`]) first, then the content/pcre chain ([`content`]).
//!
//! TCP rules read the reassembled stream when the engine supplies one
//! ([`StreamView`]); the prefilter resumes from the automaton state kept
//! in the flow direction's [`DirState`], so it only ever reads new bytes.
//! A candidate that fails only because the rest of its chain has not
//! arrived yet is kept pending in the `DirState` (a few per direction)
//! and retried when more bytes come.
//!
//! Candidates are verified in rule order ([`order`]): flowbit, flowint
//! and xbit conditions are checked with the header, and a matching
//! rule's state actions apply at once, so later rules in the same
//! packet see them. Per-flow variables live in [`FlowVars`], host and
//! pair bits and threshold counters in the engine's [`Globals`]
//! ([`state`], [`threshold`]); both are capped.
//!
//! `inspect` allocates nothing on the hot path once its [`Scratch`] has
//! grown to the rule count (state keywords that set a new bit or open
//! a new counter grow their tables); the scratch and state are the
//! caller's (one per worker) so the detector itself stays immutable and
//! shareable.

mod bytes;
mod content;
mod group;
mod header;
pub mod http;
mod order;
mod pcre;
mod prefilter;
pub mod state;
pub mod threshold;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_http;
#[cfg(test)]
mod tests_kw;

use std::sync::atomic::{AtomicU64, Ordering};

use aho_corasick::automaton::StateID;

use crate::decode::Packet;
use crate::rules::threshold::ConfigEntry;
use crate::rules::{Proto, Rule, RuleError};
use content::{Buf, Chain};
use group::{Group, Side, Transport};
use order::Extra;
use state::Ctx;
use threshold::{Outcome, Seen};

pub use group::fast_pattern;
pub use http::{AppView, TxRef, TxUpdate};
pub use state::{FlowVars, Globals};

/// Stream candidates kept for a retry per flow direction.
pub const MAX_PENDING: usize = 16;

/// What `inspect` needs to know about one packet.
pub struct Input<'a> {
    pub packet: &'a Packet<'a>,
    /// This packet goes from the flow's initiator to its responder.
    pub to_server: bool,
    /// TCP handshake done (UDP: packets seen both ways).
    pub established: bool,
    /// Reassembled in-order stream bytes for this direction (TCP only);
    /// None when the packet added no stream data.
    pub stream: Option<StreamView<'a>>,
    /// The packet's payload went into the stream (TCP with a tracked
    /// sequence space): plain `tcp` rules judge those bytes there, when
    /// they are delivered, rather than in the packet.
    pub stream_added: bool,
    /// Packet time: threshold windows and xbit expiry count in it.
    pub ts: crate::time::Ts,
    /// TCP: bytes each side has sent so far, (client, server), counted
    /// in sequence space from the ISN as `stream_size` reads them.
    pub stream_sizes: Option<(u32, u32)>,
    /// Decoder and stream anomaly events this packet raised, by full
    /// name (`decoder.ipv4.trunc_pkt`, `stream.est_syn_resend`).
    pub events: &'a [&'static str],
    /// The flow's application layer and what changed in it.
    pub app: AppView<'a>,
}

/// The retained stream bytes of one direction. `window` starts at stream
/// offset `window_start`; `window[new_from..]` is what this packet added.
#[derive(Debug, Clone, Copy)]
pub struct StreamView<'a> {
    pub window: &'a [u8],
    pub new_from: usize,
    pub window_start: u64,
}

/// A rule that matched a packet. `alert` is false when the match
/// should act (drop, pass, ...) but log nothing: `noalert`, or rate
/// control (limit reached, suppress).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub id: RuleId,
    pub alert: bool,
    /// The HTTP transaction a transaction rule matched in.
    pub tx_id: Option<u64>,
}

/// Index of a rule in the [`Detector`]. Rules are numbered in the order
/// they are evaluated ([`order`]), not the order they were loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleId(pub u32);

impl RuleId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Per-flow-direction matcher state, owned by the flow table.
#[derive(Debug, Clone, Default)]
pub struct DirState {
    /// Which detector the state belongs to; a reload starts afresh.
    generation: u64,
    /// Prefilter state after the last scanned stream byte.
    automaton: Option<StateID>,
    /// Stream offset just past the last scanned byte.
    scanned_to: u64,
    pending: Vec<Pending>,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    rule: u32,
    /// Stream offset just past the fast-pattern hit.
    fast_end: u64,
}

/// Working memory for [`Detector::inspect`]; reuse one per thread.
#[derive(Debug, Default)]
pub struct Scratch {
    /// `seen[rule] == stamp` when the rule is already a candidate or
    /// already fired for this packet.
    seen: Vec<u32>,
    stamp: u32,
    /// Candidates for this packet, gathered before they are verified
    /// in rule order.
    candidates: Vec<Cand>,
    /// Transaction rule candidates for one transaction.
    tx_candidates: Vec<u32>,
}

/// A rule to verify, and against what.
#[derive(Debug, Clone, Copy)]
struct Cand {
    rule: u32,
    /// Gathering order, so that among duplicates the first wins.
    seq: u32,
    src: Src,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Src {
    /// No payload keywords.
    Header,
    /// The packet payload.
    Packet,
    /// The stream window, with the offset past the fast-pattern hit.
    Stream(Option<u64>),
}

impl Scratch {
    fn begin(&mut self, rules: usize) {
        if self.seen.len() < rules {
            self.seen.resize(rules, 0);
        }
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            // Wrapped: old stamps could collide; clear them once.
            self.seen.iter_mut().for_each(|s| *s = 0);
            self.stamp = 1;
        }
        self.candidates.clear();
    }

    fn push(&mut self, rule: u32, src: Src) {
        let seq = self.candidates.len() as u32;
        self.candidates.push(Cand { rule, seq, src });
    }

    /// Marks `rule` for this packet; false if it already was.
    fn first_time(&mut self, rule: u32) -> bool {
        match self.seen.get_mut(rule as usize) {
            Some(s) if *s != self.stamp => {
                *s = self.stamp;
                true
            }
            _ => false,
        }
    }
}

/// The detector could not be built at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError(pub String);

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "building the detector: {}", self.0)
    }
}

impl std::error::Error for BuildError {}

static GENERATION: AtomicU64 = AtomicU64::new(1);

/// The compiled rule set.
#[derive(Debug)]
pub struct Detector {
    rules: Vec<Rule>,
    chains: Vec<Chain>,
    /// State keywords and rate control, per rule.
    extras: Vec<Extra>,
    /// Rules that test nothing but decoder events on any address:
    /// the only rules that can match a frame that failed to decode.
    event_only: Vec<u32>,
    groups: [Group; 4],
    /// Rules judged per HTTP transaction.
    tx: http::TxRules,
    rejected: Vec<RuleError>,
    generation: u64,
}

/// Compiles one rule's payload chain; an error names the rule.
pub fn check_rule(rule: &Rule) -> Result<(), RuleError> {
    compile(rule).map(|_| ())
}

fn compile(rule: &Rule) -> Result<Chain, RuleError> {
    // Buffer chains are compiled again by `http::TxRules`; a pcre that
    // fails here leaves the rule out rather than failing the build.
    let mut buffers = rule.options.buffers.iter().map(|b| &b.matches[..]);
    buffers
        .try_for_each(|m| Chain::new(m).map(|_| ()))
        .and_then(|()| Chain::new(&rule.options.matches))
        .map_err(|what| {
            let mut e = RuleError::malformed(what).keyword("pcre");
            e.file = rule.file.clone();
            e.line = rule.line;
            e.sid = Some(rule.sid);
            e
        })
}

impl Detector {
    /// Compiles the rules. A rule whose pcre compiles with neither
    /// engine is left out and listed in [`Detector::rejected`]; only a
    /// failure to build a prefilter fails the whole build.
    pub fn build(rules: Vec<Rule>) -> Result<Detector, BuildError> {
        Detector::build_with(rules, &[])
    }

    /// [`Detector::build`] with threshold.config entries applied.
    pub fn build_with(rules: Vec<Rule>, config: &[ConfigEntry]) -> Result<Detector, BuildError> {
        let mut kept = Vec::with_capacity(rules.len());
        let mut chains = Vec::with_capacity(rules.len());
        let mut rejected = Vec::new();
        for rule in order::sort(rules) {
            match compile(&rule) {
                Ok(chain) => {
                    kept.push(rule);
                    chains.push(chain);
                }
                Err(e) => rejected.push(e),
            }
        }
        let groups = group::build(&kept).map_err(BuildError)?;
        let tx = http::TxRules::build(&kept).map_err(BuildError)?;
        let extras = order::extras(&kept, config).map_err(BuildError)?;
        let event_only = (0..kept.len() as u32)
            .filter(|&i| order::event_only(&kept[i as usize]))
            .collect();
        let d = Detector {
            rules: kept,
            chains,
            extras,
            event_only,
            groups,
            tx,
            rejected,
            generation: GENERATION.fetch_add(1, Ordering::Relaxed),
        };
        d.log_stats();
        Ok(d)
    }

    fn log_stats(&self) {
        let sides = self
            .groups
            .iter()
            .flat_map(|g| [&g.stream, &g.packet_all, &g.packet_only]);
        let (mut patterns, mut memory, mut nfas) = (0, 0, 0);
        for pf in sides.filter_map(|s| s.prefilter.as_ref()) {
            patterns += pf.patterns();
            memory += pf.memory_usage();
            nfas += usize::from(!pf.is_dfa());
        }
        let fallback = self
            .chains
            .iter()
            .filter(|c| c.uses_fallback_regex())
            .count();
        let header_only: usize = self.groups.iter().map(|g| g.header_only.len()).sum();
        let (tx_patterns, tx_bytes) = self.tx.prefilter_stats();
        tracing::info!(
            rules = self.rules.len(),
            rejected = self.rejected.len(),
            prefilter_patterns = patterns,
            prefilter_bytes = memory,
            prefilter_nfas = nfas,
            fallback_pcre = fallback,
            header_only,
            tx_rules = self.tx.len(),
            tx_prefilter_patterns = tx_patterns,
            tx_prefilter_bytes = tx_bytes,
            "detector built"
        );
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn rule(&self, id: RuleId) -> &Rule {
        &self.rules[id.index()]
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Rules left out at build time, and why.
    pub fn rejected(&self) -> &[RuleError] {
        &self.rejected
    }

    /// Appends the rules that match this packet, each at most once,
    /// sorted by action (pass, drop, reject, alert), then priority,
    /// then sid.
    ///
    /// Candidates are verified in rule order, and a rule's flowbit,
    /// flowint and xbit actions apply as soon as it matches, so a
    /// setter sorted before a checker is seen by it in the same packet.
    /// `flow` is the flow's shared variables, `globals` the engine's
    /// host/pair bits and threshold counters.
    #[allow(clippy::too_many_arguments)] // the state each owner keeps apart
    pub fn inspect(
        &self,
        input: &Input<'_>,
        state: &mut DirState,
        flow: &mut FlowVars,
        globals: &mut Globals,
        scratch: &mut Scratch,
        hits: &mut Vec<Hit>,
    ) {
        let first_hit = hits.len();
        scratch.begin(self.rules.len());
        flow.adopt(self.generation);
        let transport = Transport::of(input.packet);
        let group = &self.groups[transport as usize];

        // Gather: rules without payload keywords, then the stream and
        // packet prefilters.
        for &id in &group.header_only {
            let rule = &self.rules[id as usize];
            if rule.header.proto == Proto::TcpStream && input.stream.is_none() {
                continue;
            }
            scratch.push(id, Src::Header);
        }
        let packet_side = match (transport, &input.stream) {
            (Transport::Tcp, Some(view)) => {
                self.gather_stream(&group.stream, view, state, scratch);
                &group.packet_only
            }
            (Transport::Tcp, None) if input.stream_added => &group.packet_only,
            _ => &group.packet_all,
        };
        self.gather_packet(packet_side, input, scratch);

        // Verify in rule order; among duplicates the first gathered wins.
        scratch.candidates.sort_unstable_by_key(|c| (c.rule, c.seq));
        for i in 0..scratch.candidates.len() {
            let Cand { rule: id, src, .. } = scratch.candidates[i];
            if !scratch.first_time(id) {
                continue;
            }
            let fired = match src {
                Src::Header => self.verify(id, input, flow, globals, None),
                Src::Packet => {
                    let buf = Buf {
                        data: input.packet.payload,
                        base: 0,
                        new_from: 0,
                    };
                    self.verify(id, input, flow, globals, Some(&buf))
                }
                Src::Stream(fast_end) => {
                    self.verify_stream(id, fast_end, input, state, flow, globals)
                }
            };
            if fired {
                if let Some(hit) = self.matched(id, input, flow, globals) {
                    hits.push(hit);
                }
            }
        }

        self.inspect_txs(input, flow, globals, scratch, hits);

        hits[first_hit..].sort_unstable_by_key(|h| {
            let r = &self.rules[h.id.index()];
            (r.action().order(), r.priority, r.sid)
        });
    }

    /// Judges the transactions that gained parts in this packet's
    /// direction; each rule fires at most once per transaction.
    fn inspect_txs(
        &self,
        input: &Input<'_>,
        flow: &mut FlowVars,
        globals: &mut Globals,
        scratch: &mut Scratch,
        hits: &mut Vec<Hit>,
    ) {
        let stream = match &input.stream {
            Some(v) => v.window,
            None => input.packet.payload,
        };
        let app = &input.app;
        let flow_anomalies = app.http.map(|p| p.flow_anomalies()).unwrap_or_default();
        let http = app.updates.iter().filter_map(|up| {
            let tx = app.http?.tx(up.tx_id)?;
            Some((up.tx_id, TxRef::Http(tx)))
        });
        let dns = app.dns.iter().map(|m| (m.tx_id, TxRef::Dns(m)));
        // A flow has one TLS transaction: number 0.
        let tls = app.tls.map(|t| (0, TxRef::Tls(t)));
        let mut cands = std::mem::take(&mut scratch.tx_candidates);
        for (tx_id, tx) in http.chain(dns).chain(tls) {
            self.tx.candidates(tx, input.to_server, &mut cands);
            for &id in &cands {
                if flow.tx_fired(tx_id, id) {
                    continue;
                }
                let ok = self
                    .tx
                    .matches(id, tx, input.to_server, stream, flow_anomalies)
                    && self.verify(id, input, flow, globals, None);
                if !ok {
                    continue;
                }
                flow.set_tx_fired(tx_id, id);
                if let Some(hit) = self.matched(id, input, flow, globals) {
                    hits.push(Hit {
                        tx_id: Some(tx_id),
                        ..hit
                    });
                }
            }
        }
        scratch.tx_candidates = cands;
    }

    fn gather_packet(&self, side: &Side, input: &Input<'_>, scratch: &mut Scratch) {
        if let Some(pf) = &side.prefilter {
            pf.scan(pf.start(), input.packet.payload, |pat, _| {
                for &r in &side.by_pattern[pat] {
                    scratch.push(r, Src::Packet);
                }
            });
        }
        for &r in &side.no_fast {
            scratch.push(r, Src::Packet);
        }
    }

    fn gather_stream(
        &self,
        side: &Side,
        view: &StreamView<'_>,
        state: &mut DirState,
        scratch: &mut Scratch,
    ) {
        if state.generation != self.generation {
            *state = DirState {
                generation: self.generation,
                ..DirState::default()
            };
        }
        let window = view.window;
        let new_from = view.new_from.min(window.len());
        let start = view.window_start;
        let end = start + window.len() as u64;

        // Resume where the last scan stopped if these bytes continue it,
        // skipping bytes already scanned (a retransmission overlap).
        // Otherwise (first data, a gap, a reload) scan the whole window
        // once from the start state: verification still insists that a
        // match involves new bytes.
        if let Some(pf) = &side.prefilter {
            // Inline, a retransmission is inspected again as it goes on
            // again (Suricata does the same): bytes before the resume
            // point are scanned once more from the start state.
            let again_from = start + new_from as u64;
            if state.automaton.is_some() && state.scanned_to > again_from && state.scanned_to <= end
            {
                let hi = (state.scanned_to - start) as usize;
                pf.scan(pf.start(), &window[new_from..hi], |pat, e| {
                    let fast_end = again_from + e as u64;
                    for &r in &side.by_pattern[pat] {
                        scratch.push(r, Src::Stream(Some(fast_end)));
                    }
                });
            }
            let (sid, from) = match state.automaton {
                Some(s)
                    if state.scanned_to >= start + new_from as u64 && state.scanned_to <= end =>
                {
                    (s, (state.scanned_to - start) as usize)
                }
                _ => (pf.start(), 0),
            };
            let base = start + from as u64;
            let next = pf.scan(sid, &window[from..], |pat, e| {
                let fast_end = base + e as u64;
                for &r in &side.by_pattern[pat] {
                    scratch.push(r, Src::Stream(Some(fast_end)));
                }
            });
            state.automaton = Some(next);
            state.scanned_to = end;
        }

        // Earlier hits still waiting for the rest of their chain.
        state.pending.retain(|p| p.fast_end > start);
        for p in &state.pending {
            scratch.push(p.rule, Src::Stream(Some(p.fast_end)));
        }
        for &r in &side.no_fast {
            scratch.push(r, Src::Stream(None));
        }
    }

    /// Verifies a stream candidate; one whose fast pattern hit but whose
    /// chain is not complete yet is kept pending for the next bytes.
    fn verify_stream(
        &self,
        id: u32,
        fast_end: Option<u64>,
        input: &Input<'_>,
        state: &mut DirState,
        flow: &FlowVars,
        globals: &Globals,
    ) -> bool {
        let Some(view) = &input.stream else {
            return false;
        };
        let buf = Buf {
            data: view.window,
            base: view.window_start,
            new_from: view.new_from.min(view.window.len()),
        };
        let fired = self.verify(id, input, flow, globals, Some(&buf));
        state.pending.retain(|p| p.rule != id);
        let rule = &self.rules[id as usize];
        if !fired {
            if let Some(fast_end) = fast_end.filter(|_| header::matches(rule, input)) {
                remember(&mut state.pending, Pending { rule: id, fast_end });
            }
        }
        fired
    }

    /// Header, state conditions, then the payload chain (if any).
    fn verify(
        &self,
        id: u32,
        input: &Input<'_>,
        flow: &FlowVars,
        globals: &Globals,
        buf: Option<&Buf<'_>>,
    ) -> bool {
        let extra = &self.extras[id as usize];
        let c = ctx(input);
        header::matches(&self.rules[id as usize], input)
            && extra
                .conds
                .iter()
                .all(|op| state::holds(op, flow, globals, c))
            && buf.map_or(true, |b| self.chains[id as usize].matches(b))
    }

    /// A rule matched: apply its state actions, then rate control
    /// decides whether it alerts, acts silently, or counts as no match.
    fn matched(
        &self,
        id: u32,
        input: &Input<'_>,
        flow: &mut FlowVars,
        globals: &mut Globals,
    ) -> Option<Hit> {
        let extra = &self.extras[id as usize];
        let c = ctx(input);
        for op in &extra.acts {
            state::apply(op, flow, globals, c);
        }
        let outcome = if extra.rate.is_empty() {
            Outcome::Alert
        } else {
            let (src_port, dst_port) = input.packet.ports();
            let seen = Seen {
                src: c.src,
                dst: c.dst,
                src_port,
                dst_port,
                now: c.now,
            };
            globals.thresholds.judge(id, &extra.rate, &seen)
        };
        let alert = match outcome {
            Outcome::Alert => !extra.noalert,
            Outcome::Silent => false,
            Outcome::Drop => return None,
        };
        Some(Hit {
            id: RuleId(id),
            alert,
            tx_id: None,
        })
    }
}

impl Detector {
    /// Rules that match a frame which did not decode (so has no
    /// addresses or payload) and raised decoder event `event`: rules
    /// made only of `decode-event` on any address. State actions do
    /// not apply (there is no flow); rate control counts such frames
    /// under the unspecified address.
    pub fn inspect_undecodable(
        &self,
        event: &str,
        ts: crate::time::Ts,
        globals: &mut Globals,
        hits: &mut Vec<Hit>,
    ) {
        let first_hit = hits.len();
        for &id in &self.event_only {
            let rule = &self.rules[id as usize];
            if !rule.options.events.iter().all(|e| e == event) {
                continue;
            }
            let extra = &self.extras[id as usize];
            let unspecified = std::net::IpAddr::from([0u8; 4]);
            let seen = Seen {
                src: unspecified,
                dst: unspecified,
                src_port: 0,
                dst_port: 0,
                now: ts,
            };
            let outcome = if extra.rate.is_empty() {
                Outcome::Alert
            } else {
                globals.thresholds.judge(id, &extra.rate, &seen)
            };
            let alert = match outcome {
                Outcome::Alert => !extra.noalert,
                Outcome::Silent => false,
                Outcome::Drop => continue,
            };
            hits.push(Hit {
                id: RuleId(id),
                alert,
                tx_id: None,
            });
        }
        hits[first_hit..].sort_unstable_by_key(|h| {
            let r = &self.rules[h.id.index()];
            (r.action().order(), r.priority, r.sid)
        });
    }
}

fn ctx(input: &Input<'_>) -> Ctx {
    Ctx {
        src: input.packet.ip.src,
        dst: input.packet.ip.dst,
        now: input.ts,
    }
}

/// Keeps at most [`MAX_PENDING`], dropping the oldest hit.
fn remember(pending: &mut Vec<Pending>, p: Pending) {
    if pending.len() >= MAX_PENDING {
        if let Some((i, _)) = pending.iter().enumerate().min_by_key(|(_, q)| q.fast_end) {
            pending.swap_remove(i);
        }
    }
    pending.push(p);
}
