//! The engine: decode -> flow -> stream -> detect -> verdict, no I/O.
//!
//! [`Engine::process`] takes one frame, which side it arrived on and
//! when, and fills in what to do with it ([`Actions`]) and what to log
//! ([`Event`]s). Live devices and pcap replay are thin loops around it,
//! so both run exactly this code.

use std::collections::BTreeMap;

pub mod app;
mod events;
mod track;

/// The engine's parts a flow needs when it ends, borrowed apart from
/// the flow table so the table can hand flows over while they are used.
macro_rules! flow_end {
    ($e:ident, $now:expr, $reason:expr) => {
        FlowEnd {
            cfg: &$e.cfg,
            detector: &$e.detector,
            scratch: &mut $e.scratch,
            globals: &mut $e.globals,
            hits: &mut $e.hits,
            mem: &mut $e.mem,
            stats: &mut $e.stats,
            now: $now,
            reason: $reason,
        }
    };
}

use crate::decode::{self, DecodeError, LinkType, Packet};
use crate::detect::{Detector, Globals, Hit, Input, Scratch, StreamView};
use crate::flow::{
    tcp::seq_diff, tcp::TcpState, Dir, Flow, FlowAction, FlowKey, FlowTable, Lookup,
};
use crate::output::eve::{self, Event};
use crate::rules::Action;
use crate::stream::defrag::{DefragConfig, DefragEvent, Defragmenter, Outcome};
use crate::stream::{PolicyTable, StreamConfig, StreamMem};
use crate::time::Ts;
use crate::verdict::{self, Actions, Verdict};
use events::{AlertCtx, Source};
use track::Tracked;

/// IDS reports; IPS enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Ids,
    Ips,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Ids => "ids",
            Mode::Ips => "ips",
        }
    }
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub mode: Mode,
    pub flow_cap: usize,
    pub timeouts: crate::flow::table::Timeouts,
    pub stream: StreamConfig,
    /// Log a `flow` event when a flow ends.
    pub flow_events: bool,
    /// Put payload and packet bytes in alerts.
    pub alert_payload: bool,
    /// IPS: after a block, drop everything from and to the offending
    /// host for this many seconds (0: off).
    pub isolate_secs: u64,
    /// Validate IP, TCP, UDP and ICMP checksums. Captures taken where
    /// the NIC computes checksums carry wrong ones: turn this off there.
    pub checksums: bool,
    /// Overlap policy by receiver address (`host-os-policy`), for TCP
    /// segments and IP fragments alike.
    pub host_os_policy: PolicyTable,
    /// Defragmentation caps and timeout.
    pub defrag: DefragConfig,
    /// Take up TCP connections whose handshake was not seen (Suricata's
    /// `stream.midstream`, off by default as there).
    pub midstream: bool,
    /// What to do when a stream or defragmentation cap refuses a
    /// packet's bytes (Suricata's `exception-policy`).
    pub exception_policy: ExceptionPolicy,
    /// IDS: acknowledged stream bytes still waiting for a packet of
    /// their own direction are inspected once the flow has been quiet
    /// this long (0: only when the flow ends). Live mode sets it, so a
    /// one-shot request followed by silence is not reported minutes
    /// late; replay leaves it off to inspect when Suricata does.
    pub idle_flush_secs: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            mode: Mode::Ips,
            flow_cap: 65_536,
            timeouts: Default::default(),
            stream: StreamConfig::default(),
            flow_events: false,
            alert_payload: true,
            isolate_secs: 0,
            checksums: true,
            host_os_policy: PolicyTable::default(),
            defrag: DefragConfig::default(),
            idle_flush_secs: 0,
            midstream: false,
            exception_policy: ExceptionPolicy::Auto,
        }
    }
}

/// What happens to a packet whose bytes a cap refused, with Suricata's
/// `exception-policy` names. `auto` is `drop-flow` in IPS mode (what
/// cannot be inspected does not pass) and `ignore` in IDS mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExceptionPolicy {
    Auto,
    /// Drop the packet and the rest of its flow.
    DropFlow,
    /// Drop the packet only.
    DropPacket,
    /// Stop inspecting the flow; forward it.
    PassFlow,
    /// Forward the packet, inspected as a packet only.
    PassPacket,
    /// As pass-flow (there is no hardware to bypass to).
    Bypass,
    /// Carry on as if nothing happened.
    Ignore,
}

impl ExceptionPolicy {
    pub fn parse(s: &str) -> Option<ExceptionPolicy> {
        Some(match s {
            "auto" => ExceptionPolicy::Auto,
            "drop-flow" => ExceptionPolicy::DropFlow,
            "drop-packet" => ExceptionPolicy::DropPacket,
            "pass-flow" => ExceptionPolicy::PassFlow,
            "pass-packet" => ExceptionPolicy::PassPacket,
            "bypass" => ExceptionPolicy::Bypass,
            "ignore" => ExceptionPolicy::Ignore,
            _ => return None,
        })
    }

    fn resolve(self, mode: Mode) -> ExceptionPolicy {
        match (self, mode) {
            (ExceptionPolicy::Auto, Mode::Ips) => ExceptionPolicy::DropFlow,
            (ExceptionPolicy::Auto, Mode::Ids) => ExceptionPolicy::Ignore,
            (p, _) => p,
        }
    }
}

/// Counters for the stats event and the shutdown summary.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub packets: u64,
    pub bytes: u64,
    pub decoder_errors: BTreeMap<&'static str, u64>,
    pub invalid_checksums: BTreeMap<&'static str, u64>,
    pub flows: u64,
    pub flows_evicted: u64,
    pub flow_table_full: u64,
    pub alerts: u64,
    pub dropped: u64,
    pub rejected: u64,
    pub injected: u64,
    /// Defragmentation events by name.
    pub defrag_events: BTreeMap<&'static str, u64>,
    pub isolated_hosts: u64,
    pub isolated_drops: u64,
    /// Stream anomalies by Suricata's `stream.*` event name.
    pub stream_events: BTreeMap<&'static str, u64>,
    /// Segments rewritten inline to the bytes already accepted.
    pub rewritten: u64,
    /// Packets a cap refused, handed to the exception policy.
    pub exception_policy_hits: u64,
}

/// Where a frame came from.
#[derive(Debug, Clone, Copy)]
pub struct Meta {
    pub link: LinkType,
    pub ts: Ts,
    /// 1-based packet number in a capture.
    pub pcap_cnt: Option<u64>,
}

pub struct Engine {
    cfg: EngineConfig,
    detector: Detector,
    flows: FlowTable,
    mem: StreamMem,
    hits: Vec<Hit>,
    scratch: Scratch,
    /// Detection state shared by all flows: xbits, threshold counters.
    globals: Globals,
    /// A copy of the TCP payload, which inline normalisation may rewrite.
    payload: Vec<u8>,
    defrag: Defragmenter,
    frag_events: Vec<DefragEvent>,
    isolation: Isolation,
    pub stats: Stats,
    last_expire: Ts,
}

impl Engine {
    pub fn new(cfg: EngineConfig, detector: Detector) -> Engine {
        let flows = FlowTable::new(cfg.flow_cap, cfg.timeouts);
        let defrag = Defragmenter::new(cfg.defrag.clone());
        Engine {
            cfg,
            detector,
            flows,
            mem: StreamMem::default(),
            hits: Vec::with_capacity(16),
            scratch: Scratch::default(),
            globals: Globals::default(),
            payload: Vec::with_capacity(2048),
            defrag,
            frag_events: Vec::new(),
            isolation: Isolation::default(),
            stats: Stats::default(),
            last_expire: Ts(0),
        }
    }

    pub fn mode(&self) -> Mode {
        self.cfg.mode
    }

    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    /// Inspects one frame. `out` is cleared first; `events` is appended to.
    pub fn process(
        &mut self,
        frame: &[u8],
        meta: Meta,
        out: &mut Actions,
        events: &mut Vec<Event>,
    ) {
        out.clear();
        self.stats.packets += 1;
        self.stats.bytes += frame.len() as u64;
        self.maybe_expire(meta.ts, events);
        let verdict = match decode::decode(frame, meta.link) {
            Ok(pkt) => self.packet(&pkt, meta, out, events),
            Err(e) => {
                self.raw_alerts(e, frame, meta, events);
                self.undecodable(e)
            }
        };
        if verdict == Verdict::Drop {
            self.stats.dropped += 1;
        }
        self.stats.injected += out.inject.len() as u64;
        out.verdict = Some(verdict);
    }

    /// Ends every flow (end of a replay, or shutdown): stream data still
    /// held is inspected, and flow events are logged if enabled.
    pub fn finish(&mut self, now: Ts, events: &mut Vec<Event>) {
        let mut end = flow_end!(self, now, "shutdown");
        self.flows.drain(&mut |f| end.gone(f, events));
    }

    /// Expires idle flows; the live loop calls this on a timer.
    pub fn tick(&mut self, now: Ts, events: &mut Vec<Event>) {
        let mut end = flow_end!(self, now, "timeout");
        self.flows.expire(now, &mut |f| end.gone(f, events));
        let idle = self.cfg.idle_flush_secs;
        if idle > 0 && self.cfg.mode == Mode::Ids {
            let mut end = flow_end!(self, now, "idle");
            self.flows.for_each_active(|f| {
                if now.secs_since(f.last) >= idle && f.action == FlowAction::Inspect {
                    end.flush(f, true, events);
                }
            });
        }
        self.frag_events.clear();
        self.defrag.expire(now, &mut self.frag_events);
        for e in &self.frag_events {
            *self.stats.defrag_events.entry(e.name()).or_default() += 1;
        }
        self.last_expire = now;
    }

    fn maybe_expire(&mut self, now: Ts, events: &mut Vec<Event>) {
        if now.secs_since(self.last_expire) >= 1 {
            self.tick(now, events);
        }
    }

    fn undecodable(&mut self, e: DecodeError) -> Verdict {
        // Non-IP frames on a bridge (ARP above all) are how L2 works:
        // they pass in both modes.
        if e == DecodeError::NotIp {
            return Verdict::Forward;
        }
        *self.stats.decoder_errors.entry(e.event()).or_default() += 1;
        tracing::trace!(error = e.event(), "undecodable packet");
        self.enforce(Verdict::Drop)
    }

    fn packet(
        &mut self,
        pkt: &Packet<'_>,
        meta: Meta,
        out: &mut Actions,
        events: &mut Vec<Event>,
    ) -> Verdict {
        // A receiver discards a packet whose checksum is wrong, so it
        // must not move the connection's state or feed its stream (an
        // insertion attack would otherwise show the IPS bytes the target
        // never accepts). Like Suricata, its own payload is still
        // inspected as a packet.
        let bad_checksum = match self.cfg.checksums {
            true => decode::checksum::verify(pkt).err(),
            false => None,
        };
        if let Some(bad) = bad_checksum {
            *self
                .stats
                .invalid_checksums
                .entry(bad.counter())
                .or_default() += 1;
            if pkt.ip.is_fragment() {
                return self.enforce(Verdict::Drop);
            }
        }
        if pkt.ip.is_fragment() {
            return self.fragment(pkt, meta, out, events);
        }
        if let Some(e) = pkt.anomaly {
            *self.stats.decoder_errors.entry(e.event()).or_default() += 1;
        }

        // Isolation is checked before the flow table: an isolated host
        // gets no new flows, and its old ones are cut too.
        if self.isolation.contains(pkt, meta.ts) {
            self.stats.isolated_drops += 1;
            return Verdict::Drop;
        }

        let slot = match self.lookup(pkt, meta.ts, events) {
            Some(slot) => slot,
            // Every slot holds a blocked flow: a flood of attack flows
            // must not push inspection aside.
            None => return self.enforce(Verdict::Drop),
        };
        let Some(flow) = self.flows.get_mut(slot) else {
            return Verdict::Forward;
        };

        let dir = flow.dir_of(pkt);
        let d = &mut flow.dirs[dir.index()];
        d.pkts += 1;
        d.bytes += pkt.frame.len() as u64;
        if dir == Dir::ToClient {
            flow.replied = true;
        }
        match flow.action {
            FlowAction::Drop => return Verdict::Drop,
            FlowAction::Pass => return Verdict::Forward,
            FlowAction::Inspect => {}
        }

        // Suricata's `established` for a packet is the state before it:
        // the ACK that completes the handshake is not yet established.
        let established = flow.established();
        let inline = self.cfg.mode == Mode::Ips;
        let tracked = match bad_checksum {
            Some(_) => Tracked {
                discard: Some(track::Discard::BadChecksum),
                ..Tracked::default()
            },
            None => track::segment(&self.cfg, &mut self.mem, flow, dir, pkt, &mut self.payload),
        };
        let ids_close = !inline && flow.tcp.state == TcpState::Closed;
        if let Some(why) = tracked.discard {
            self.stream_event(why.counter());
        }
        if tracked.conflict {
            self.stream_event("reassembly_overlap_different_data");
        }

        // Inline, a segment that contradicts accepted bytes goes on (and
        // is inspected) as the accepted bytes.
        let mut verdict = match tracked
            .rewritten
            .then(|| track::rewrite(pkt, &self.payload))
        {
            Some(Some(frame)) => {
                self.stats.rewritten += 1;
                let v = match decode::decode(&frame, meta.link) {
                    Ok(p2) => self.inspect(slot, &p2, dir, established, tracked, meta, out, events),
                    Err(_) => self.enforce(Verdict::Drop),
                };
                out.replace = Some(frame);
                v
            }
            Some(None) => self.enforce(Verdict::Drop),
            None => self.inspect(slot, pkt, dir, established, tracked, meta, out, events),
        };

        // A malformed packet was inspected at the IP layer, and one its
        // receiver would discard as a packet; IPS mode forwards neither.
        if pkt.anomaly.is_some() || tracked.discard.is_some() {
            verdict = self.enforce(Verdict::Drop);
        }
        if tracked.over_cap && verdict == Verdict::Forward {
            verdict = self.exception(slot);
        }
        if verdict == Verdict::Drop {
            self.flows.hold(slot);
            self.isolate(pkt, meta.ts);
        }
        // An IDS does not wait for the timeout to read what a closed
        // connection left unacknowledged.
        if ids_close {
            let mut end = flow_end!(self, meta.ts, "closed");
            if let Some(flow) = self.flows.get_mut(slot) {
                end.flush(flow, false, events);
            }
        }
        verdict
    }

    /// A fragment is held until its datagram is whole; the whole
    /// datagram is then inspected like any packet. Inline, fragments are
    /// held back and the datagram goes on whole, so the receiver gets
    /// exactly what was inspected whatever its own overlap policy.
    fn fragment(
        &mut self,
        pkt: &Packet<'_>,
        meta: Meta,
        out: &mut Actions,
        events: &mut Vec<Event>,
    ) -> Verdict {
        let policy = self.cfg.host_os_policy.lookup(pkt.ip.dst).into();
        self.frag_events.clear();
        let outcome = self
            .defrag
            .add_with_policy(pkt, meta.ts, policy, &mut self.frag_events);
        for e in &self.frag_events {
            *self.stats.defrag_events.entry(e.name()).or_default() += 1;
        }
        let datagram = match outcome {
            Outcome::Complete(d) => d,
            // Held: the rest is still to come. Refused: a cap or a
            // malformed fragment; what cannot be inspected whole does
            // not go on inline. (NotFragment cannot happen here: only
            // fragments are passed in.)
            // A cap refused it: the exception policy says what happens.
            Outcome::Refused(r) if r.is_limit() => {
                self.stats.exception_policy_hits += 1;
                return match self.cfg.exception_policy.resolve(self.cfg.mode) {
                    ExceptionPolicy::DropFlow | ExceptionPolicy::DropPacket => Verdict::Drop,
                    _ => Verdict::Forward,
                };
            }
            Outcome::Held | Outcome::Refused(_) | Outcome::NotFragment => {
                return self.enforce(Verdict::Drop)
            }
        };
        // Keep the link header (TAP); the datagram replaces the rest.
        let mut frame = pkt.frame[..pkt.ip_offset].to_vec();
        frame.extend_from_slice(&datagram);
        let verdict = match decode::decode(&frame, meta.link) {
            Ok(whole) if !whole.ip.is_fragment() => self.packet(&whole, meta, out, events),
            _ => return self.enforce(Verdict::Drop),
        };
        if self.cfg.mode == Mode::Ips && out.replace.is_none() {
            out.replace = Some(frame);
        }
        verdict
    }

    /// Applies the exception policy to a packet a cap refused.
    fn exception(&mut self, slot: u32) -> Verdict {
        self.stats.exception_policy_hits += 1;
        let policy = self.cfg.exception_policy.resolve(self.cfg.mode);
        let Some(flow) = self.flows.get_mut(slot) else {
            return Verdict::Drop;
        };
        match policy {
            ExceptionPolicy::DropFlow => {
                flow.action = FlowAction::Drop;
                Verdict::Drop
            }
            ExceptionPolicy::DropPacket => Verdict::Drop,
            ExceptionPolicy::PassFlow | ExceptionPolicy::Bypass => {
                flow.action = FlowAction::Pass;
                Verdict::Forward
            }
            ExceptionPolicy::PassPacket | ExceptionPolicy::Ignore | ExceptionPolicy::Auto => {
                Verdict::Forward
            }
        }
    }

    /// Finds or makes the packet's flow; `None` when the table is full
    /// of flows that cannot be evicted.
    fn lookup(&mut self, pkt: &Packet<'_>, now: Ts, events: &mut Vec<Event>) -> Option<u32> {
        let (key, _) = FlowKey::of(pkt);
        let mut end = flow_end!(self, now, "evicted");
        match self
            .flows
            .lookup(key, pkt, now, &mut |f| end.gone(f, events))
        {
            Lookup::Existing(s) => Some(s),
            Lookup::New { slot, evicted } => {
                self.stats.flows += 1;
                self.stats.flows_evicted += u64::from(evicted);
                Some(slot)
            }
            Lookup::Full => {
                self.stats.flow_table_full += 1;
                None
            }
        }
    }

    /// Runs detection on a packet and turns the hits into alerts and a
    /// verdict.
    #[allow(clippy::too_many_arguments)] // the packet's context, passed once
    fn inspect(
        &mut self,
        slot: u32,
        pkt: &Packet<'_>,
        dir: Dir,
        established: bool,
        tracked: Tracked,
        meta: Meta,
        out: &mut Actions,
        events: &mut Vec<Event>,
    ) -> Verdict {
        let Some(flow) = self.flows.get_mut(slot) else {
            return Verdict::Forward;
        };
        self.hits.clear();
        let stream_sizes = stream_sizes(flow);
        let mut raised: [&'static str; 2] = [""; 2];
        let mut n = 0;
        if let Some(e) = pkt.anomaly {
            raised[n] = e.event();
            n += 1;
        }
        if tracked.conflict {
            raised[n] = "stream.reassembly_overlap_different_data";
            n += 1;
        }
        app::feed(flow, dir, false);
        app::datagram(flow, dir, pkt.payload);
        let d = &mut flow.dirs[dir.index()];
        let input = Input {
            packet: pkt,
            to_server: dir == Dir::ToServer,
            established,
            stream: tracked.new_from.map(|new_from| StreamView {
                window: d.stream.window(),
                new_from,
                window_start: d.stream.window_start(),
            }),
            stream_added: tracked.stream_added,
            ts: meta.ts,
            stream_sizes,
            events: &raised[..n],
            app: app::view(flow.app.as_deref(), dir),
        };
        self.detector.inspect(
            &input,
            &mut d.detect,
            &mut flow.vars,
            &mut self.globals,
            &mut self.scratch,
            &mut self.hits,
        );

        let ips = self.cfg.mode == Mode::Ips;
        let mut verdict = Verdict::Forward;
        for i in 0..self.hits.len() {
            let Hit { id, alert, tx_id } = self.hits[i];
            let action = self.detector.rule(id).action();
            let blocks = ips && matches!(action, Action::Drop | Action::Reject(_));
            match action {
                Action::Pass => {
                    // Pass sorts first: nothing after it applies.
                    flow.action = FlowAction::Pass;
                    break;
                }
                Action::Drop | Action::Reject(_) if ips => {
                    flow.action = FlowAction::Drop;
                    verdict = Verdict::Drop;
                }
                _ => {}
            }
            // One reject answer per packet, however many reject rules hit.
            if let (Action::Reject(to), true, true) = (action, ips, out.inject.is_empty()) {
                verdict::reject(pkt, to, &mut out.inject);
                self.stats.rejected += 1;
            }
            // noalert, or rate control: the action stands, nothing is logged.
            if !alert {
                continue;
            }
            flow.alerts += 1;
            self.stats.alerts += 1;
            let ctx = AlertCtx {
                flow,
                pkt,
                dir,
                ts: meta.ts,
                pcap_cnt: meta.pcap_cnt,
                link: meta.link,
                source: Source::Wire,
                tx_id,
                stream: tracked
                    .new_from
                    .map(|_| flow.dirs[dir.index()].stream.window()),
                with_payload: self.cfg.alert_payload,
            };
            events.push(events::alert(&ctx, &self.detector, id, blocks));
        }
        app::inspected(flow, dir);
        verdict
    }

    /// `decode-event` rules that match a frame which did not decode;
    /// their alerts carry no addresses (there are none to read).
    fn raw_alerts(&mut self, e: DecodeError, frame: &[u8], meta: Meta, events: &mut Vec<Event>) {
        if e == DecodeError::NotIp {
            return;
        }
        self.hits.clear();
        self.detector
            .inspect_undecodable(e.event(), meta.ts, &mut self.globals, &mut self.hits);
        for hit in self.hits.iter().filter(|h| h.alert) {
            let rule = self.detector.rule(hit.id);
            self.stats.alerts += 1;
            let blocked = self.cfg.mode == Mode::Ips
                && matches!(rule.action(), Action::Drop | Action::Reject(_));
            events.push(Event::RawAlert(Box::new(eve::RawAlertEvent {
                timestamp: meta.ts.to_string(),
                pcap_cnt: meta.pcap_cnt,
                event_type: "alert",
                alert: events::alert_info(rule, blocked),
                packet: self.cfg.alert_payload.then(|| eve::base64(frame)),
                packet_info: eve::PacketInfo {
                    linktype: meta.link.number(),
                    linktype_name: meta.link.name(),
                },
                pkt_src: if meta.pcap_cnt.is_some() {
                    "wire/pcap"
                } else {
                    "wire"
                },
            })));
        }
    }

    fn stream_event(&mut self, name: &'static str) {
        *self.stats.stream_events.entry(name).or_default() += 1;
    }

    /// After a block, cut the offending host off, if so configured.
    fn isolate(&mut self, pkt: &Packet<'_>, now: Ts) {
        if self.cfg.isolate_secs == 0 {
            return;
        }
        let until = Ts(now.0 + self.cfg.isolate_secs * 1_000_000);
        if self.isolation.add(pkt.ip.src, until) {
            self.stats.isolated_hosts += 1;
            tracing::info!(host = %pkt.ip.src, secs = self.cfg.isolate_secs, "host isolated");
        }
    }

    fn enforce(&self, v: Verdict) -> Verdict {
        match self.cfg.mode {
            Mode::Ips => v,
            Mode::Ids => Verdict::Forward,
        }
    }

    pub fn flow_count(&self) -> usize {
        self.flows.len()
    }

    pub fn stream_bytes(&self) -> usize {
        self.mem.used
    }

    /// The `stats` event: counters so far.
    pub fn stats_event(&self, now: Ts) -> Event {
        let s = &self.stats;
        let stats = serde_json::json!({
            "decoder": {
                "pkts": s.packets,
                "bytes": s.bytes,
                "invalid": s.decoder_errors.values().sum::<u64>(),
                "errors": s.decoder_errors,
                "invalid_checksums": s.invalid_checksums,
            },
            "flow": {
                "total": s.flows,
                "active": self.flows.len(),
                "evicted": s.flows_evicted,
                "table_full": s.flow_table_full,
            },
            "detect": {
                "alert": s.alerts,
                "xbits": self.globals.xbits.len(),
                "xbits_evicted": self.globals.xbits.evicted,
                "thresholds": self.globals.thresholds.len(),
                "threshold_untracked": self.globals.thresholds.untracked,
            },
            "ips": {
                "mode": self.cfg.mode.name(),
                "dropped": s.dropped,
                "rejected": s.rejected,
                "injected": s.injected,
                "isolated_hosts": s.isolated_hosts,
                "isolated_drops": s.isolated_drops,
            },
            "defrag": {
                "events": s.defrag_events,
                "bytes_held": self.defrag.mem_used(),
                "counters": self.defrag.stats().counters().iter().copied().collect::<BTreeMap<_, _>>(),
            },
            "stream": {
                "bytes_held": self.mem.used,
                "memcap_hits": self.mem.memcap_hits,
                "events": s.stream_events,
                "rewritten": s.rewritten,
                "exception_policy_hits": s.exception_policy_hits,
            },
        });
        Event::Stats(Box::new(eve::StatsEvent {
            timestamp: now.to_string(),
            event_type: "stats",
            stats,
        }))
    }
}

/// Bytes each side has sent in sequence space since its ISN (SYN and
/// FIN count one each), as `stream_size` reads them: (client, server).
fn stream_sizes(flow: &Flow) -> Option<(u32, u32)> {
    if flow.key.proto != 6 {
        return None;
    }
    let sent =
        |d: &crate::flow::tcp::TcpDir| -> Option<u32> { Some(seq_diff(d.next?, d.isn?) as u32) };
    Some((sent(&flow.tcp.dirs[0])?, sent(&flow.tcp.dirs[1])?))
}

/// The engine's parts a flow needs when it ends: stream data still
/// held is inspected (with a stand-in packet), its bytes are released,
/// and its flow event is logged.
struct FlowEnd<'a> {
    cfg: &'a EngineConfig,
    detector: &'a Detector,
    scratch: &'a mut Scratch,
    globals: &'a mut Globals,
    hits: &'a mut Vec<Hit>,
    mem: &'a mut StreamMem,
    stats: &'a mut Stats,
    now: Ts,
    reason: &'static str,
}

impl FlowEnd<'_> {
    fn gone(&mut self, mut flow: Flow, events: &mut Vec<Event>) {
        if flow.action == FlowAction::Inspect {
            self.flush(&mut flow, false, events);
        }
        for d in flow.dirs.iter_mut() {
            d.stream.release(self.mem);
        }
        if self.cfg.flow_events {
            events.push(events::flow(&flow, self.now, self.reason));
        }
    }

    /// Delivers and inspects what each direction still holds: all of
    /// it, or with `acked_only` what the receiver has acknowledged.
    fn flush(&mut self, flow: &mut Flow, acked_only: bool, events: &mut Vec<Event>) {
        for dir in [Dir::ToServer, Dir::ToClient] {
            let ack = flow.tcp.dirs[dir.index() ^ 1].ack;
            let s = &mut flow.dirs[dir.index()].stream;
            let limit = match (acked_only, ack.and_then(|a| s.offset_of(a))) {
                (false, _) => Some(None),
                (true, Some(l)) => Some(Some(l)),
                (true, None) => None,
            };
            let new_from = match limit {
                Some(limit) if s.has_pending() => s.deliver(&self.cfg.stream, self.mem, limit),
                _ => None,
            };
            // The parser hears of the end too, which can complete a
            // message delimited by the close.
            app::feed(flow, dir, !acked_only);
            if new_from.is_none() && !app::has_updates(flow, dir) {
                continue;
            }
            let Some(frame) = events::pseudo_packet(flow, dir) else {
                continue;
            };
            let Ok(pkt) = decode::decode(&frame, LinkType::Raw) else {
                continue;
            };
            self.hits.clear();
            // Data left when a connection closes was sent while it was
            // established: judge it so.
            let established = flow.established() || flow.tcp.was_established;
            let stream_sizes = stream_sizes(flow);
            let d = &mut flow.dirs[dir.index()];
            let input = Input {
                packet: &pkt,
                to_server: dir == Dir::ToServer,
                established,
                stream: new_from.map(|new_from| StreamView {
                    window: d.stream.window(),
                    new_from,
                    window_start: d.stream.window_start(),
                }),
                stream_added: true,
                ts: self.now,
                stream_sizes,
                events: &[],
                app: app::view(flow.app.as_deref(), dir),
            };
            self.detector.inspect(
                &input,
                &mut d.detect,
                &mut flow.vars,
                self.globals,
                self.scratch,
                self.hits,
            );
            for &Hit { id, alert, tx_id } in self.hits.iter() {
                let rule = self.detector.rule(id);
                if rule.action() == Action::Pass {
                    break;
                }
                // The stand-in packet is no packet of the wire: rules on
                // headers alone judged the real ones already.
                if !alert || (rule.options.matches.is_empty() && tx_id.is_none()) {
                    continue;
                }
                flow.alerts += 1;
                self.stats.alerts += 1;
                let ctx = AlertCtx {
                    flow,
                    pkt: &pkt,
                    dir,
                    ts: self.now,
                    pcap_cnt: None,
                    link: LinkType::Raw,
                    source: if acked_only {
                        Source::Idle
                    } else {
                        Source::FlowEnd
                    },
                    tx_id,
                    stream: new_from.map(|_| flow.dirs[dir.index()].stream.window()),
                    with_payload: self.cfg.alert_payload,
                };
                events.push(events::alert(&ctx, self.detector, id, false));
            }
            app::inspected(flow, dir);
        }
    }
}

/// Hosts cut off after a block, each until a deadline. Capped: when
/// full, the entry that would expire first makes room.
#[derive(Debug, Default)]
struct Isolation {
    until: std::collections::HashMap<std::net::IpAddr, Ts>,
}

const ISOLATION_CAP: usize = 4096;

impl Isolation {
    fn contains(&mut self, pkt: &Packet<'_>, now: Ts) -> bool {
        if self.until.is_empty() {
            return false;
        }
        let mut hit = false;
        for host in [pkt.ip.src, pkt.ip.dst] {
            match self.until.get(&host) {
                Some(&t) if t > now => hit = true,
                Some(_) => {
                    self.until.remove(&host);
                    tracing::info!(%host, "host isolation ended");
                }
                None => {}
            }
        }
        hit
    }

    /// Returns true when the host was not isolated before.
    fn add(&mut self, host: std::net::IpAddr, until: Ts) -> bool {
        if !self.until.contains_key(&host) && self.until.len() >= ISOLATION_CAP {
            let first = self.until.iter().min_by_key(|(_, t)| **t).map(|(h, _)| *h);
            if let Some(h) = first {
                self.until.remove(&h);
            }
        }
        self.until.insert(host, until).is_none()
    }
}
