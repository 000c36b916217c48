//! The engine: decode -> flow -> stream -> detect -> verdict, no I/O.
//!
//! [`Engine::process`] takes one frame, which side it arrived on and
//! when, and fills in what to do with it ([`Actions`]) and what to log
//! ([`Event`]s). Live devices and pcap replay are thin loops around it,
//! so both run exactly this code.

use std::collections::BTreeMap;

use crate::decode::{self, tcp_flags, DecodeError, LinkType, Packet, L4};
use crate::detect::{Detector, Globals, Hit, Input, RuleId, Scratch, StreamView};
use crate::flow::{tcp::seq, tcp::seq_diff, Dir, Flow, FlowAction, FlowKey, FlowTable, Lookup};
use crate::output::eve::{self, AlertEvent, AlertInfo, Event, FlowCounters, Header};
use crate::rules::Action;
use crate::stream::{Added, StreamConfig, StreamMem};
use crate::time::Ts;
use crate::verdict::{self, Actions, Verdict};

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
        }
    }
}

/// Counters for the stats event and the shutdown summary.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub packets: u64,
    pub bytes: u64,
    pub decoder_errors: BTreeMap<&'static str, u64>,
    pub flows: u64,
    pub flows_evicted: u64,
    pub flow_table_full: u64,
    pub alerts: u64,
    pub dropped: u64,
    pub rejected: u64,
    pub injected: u64,
    pub fragments_uninspected: u64,
    pub isolated_hosts: u64,
    pub isolated_drops: u64,
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
    isolation: Isolation,
    pub stats: Stats,
    last_expire: Ts,
}

impl Engine {
    pub fn new(cfg: EngineConfig, detector: Detector) -> Engine {
        let flows = FlowTable::new(cfg.flow_cap, cfg.timeouts);
        Engine {
            cfg,
            detector,
            flows,
            mem: StreamMem::default(),
            hits: Vec::with_capacity(16),
            scratch: Scratch::default(),
            globals: Globals::default(),
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

    /// Ends every flow (end of a replay, or shutdown), logging flow
    /// events if enabled.
    pub fn finish(&mut self, now: Ts, events: &mut Vec<Event>) {
        let (cfg, mem) = (&self.cfg, &mut self.mem);
        self.flows
            .drain(&mut |f| flow_gone(cfg, mem, f, now, "shutdown", events));
    }

    /// Expires idle flows; the live loop calls this on a timer.
    pub fn tick(&mut self, now: Ts, events: &mut Vec<Event>) {
        let (cfg, mem) = (&self.cfg, &mut self.mem);
        self.flows
            .expire(now, &mut |f| flow_gone(cfg, mem, f, now, "timeout", events));
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
        match self.cfg.mode {
            Mode::Ips => Verdict::Drop,
            Mode::Ids => Verdict::Forward,
        }
    }

    fn packet(
        &mut self,
        pkt: &Packet<'_>,
        meta: Meta,
        out: &mut Actions,
        events: &mut Vec<Event>,
    ) -> Verdict {
        // Shortcoming: fragments are not reassembled yet (issue 4), so a
        // non-first fragment cannot be inspected. IPS refuses what it
        // cannot inspect; IDS lets it through and counts it.
        if pkt.ip.frag_offset != 0 {
            self.stats.fragments_uninspected += 1;
            return self.enforce(Verdict::Drop);
        }

        // Isolation is checked before the flow table: an isolated host
        // gets no new flows, and its old ones are cut too.
        if self.isolation.contains(pkt, meta.ts) {
            self.stats.isolated_drops += 1;
            return Verdict::Drop;
        }

        let (key, _) = FlowKey::of(pkt);
        let (cfg, mem) = (&self.cfg, &mut self.mem);
        let slot = match self.flows.lookup(key, pkt, meta.ts, &mut |f| {
            flow_gone(cfg, mem, f, meta.ts, "evicted", events)
        }) {
            Lookup::Existing(s) => s,
            Lookup::New { slot, evicted } => {
                self.stats.flows += 1;
                if evicted {
                    self.stats.flows_evicted += 1;
                }
                slot
            }
            Lookup::Full => {
                // Every slot holds a blocked flow: a flood of attack
                // flows must not push inspection aside.
                self.stats.flow_table_full += 1;
                return self.enforce(Verdict::Drop);
            }
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

        let added = track(&self.cfg.stream, &mut self.mem, flow, dir, pkt);
        self.hits.clear();
        {
            let established = flow.established();
            let stream_sizes = stream_sizes(flow);
            let d = &mut flow.dirs[dir.index()];
            let stream = match added {
                Some(new_from) => Some(StreamView {
                    window: d.stream.window(),
                    new_from,
                    window_start: d.stream.window_start(),
                }),
                None => None,
            };
            let input = Input {
                packet: pkt,
                to_server: dir == Dir::ToServer,
                established,
                stream,
                ts: meta.ts,
                stream_sizes,
                events: &[],
            };
            self.detector.inspect(
                &input,
                &mut d.detect,
                &mut flow.vars,
                &mut self.globals,
                &mut self.scratch,
                &mut self.hits,
            );
        }

        let verdict = self.apply_hits(slot, pkt, dir, meta, out, events);
        if verdict == Verdict::Drop {
            self.flows.hold(slot);
            if self.cfg.isolate_secs > 0 {
                let until = Ts(meta.ts.0 + self.cfg.isolate_secs * 1_000_000);
                if self.isolation.add(pkt.ip.src, until) {
                    self.stats.isolated_hosts += 1;
                    tracing::info!(host = %pkt.ip.src, secs = self.cfg.isolate_secs, "host isolated");
                }
            }
        }
        verdict
    }

    /// Turns rule hits into alerts and a verdict.
    fn apply_hits(
        &mut self,
        slot: u32,
        pkt: &Packet<'_>,
        dir: Dir,
        meta: Meta,
        out: &mut Actions,
        events: &mut Vec<Event>,
    ) -> Verdict {
        let ips = self.cfg.mode == Mode::Ips;
        let mut verdict = Verdict::Forward;
        for i in 0..self.hits.len() {
            let Hit { id, alert } = self.hits[i];
            let rule = self.detector.rule(id);
            let Some(flow) = self.flows.get_mut(slot) else {
                break;
            };
            let action = rule.action();
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
            let alert = alert_event(&self.cfg, flow, pkt, dir, meta, id, &self.detector, blocks);
            events.push(Event::Alert(Box::new(alert)));
        }
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
                alert: alert_info(rule, blocked),
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
                "fragments_uninspected": s.fragments_uninspected,
                "isolated_hosts": s.isolated_hosts,
                "isolated_drops": s.isolated_drops,
            },
            "stream": {
                "bytes_held": self.mem.used,
                "memcap_hits": self.mem.memcap_hits,
            },
        });
        Event::Stats(Box::new(eve::StatsEvent {
            timestamp: now.to_string(),
            event_type: "stats",
            stats,
        }))
    }
}

/// TCP state and stream update; returns where new stream bytes start
/// in the direction's window, if this packet added any.
fn track(
    cfg: &StreamConfig,
    mem: &mut StreamMem,
    flow: &mut Flow,
    dir: Dir,
    pkt: &Packet<'_>,
) -> Option<usize> {
    let L4::Tcp(t) = &pkt.l4 else {
        return None;
    };
    flow.tcp.update(dir, t, pkt.payload.len());
    if pkt.payload.is_empty() || t.flags & tcp_flags::RST != 0 {
        return None;
    }
    let base = flow.tcp.stream_base(dir)?;
    let s = &mut flow.dirs[dir.index()].stream;
    s.start(base);
    // RFC 793 3.3: a SYN occupies the first sequence number, so data
    // carried on it (TCP Fast Open) starts one later.
    let first = seq(t.seq) + usize::from(t.flags & tcp_flags::SYN != 0);
    match s.add(cfg, mem, first, pkt.payload) {
        Added::Data { new_from } => Some(new_from),
        Added::Nothing | Added::DepthReached | Added::OverCap => None,
    }
}

/// Bytes each side of a TCP flow has sent, in sequence space from its
/// ISN (SYN and FIN count one each), for `stream_size`.
fn stream_sizes(flow: &Flow) -> Option<(u32, u32)> {
    if flow.key.proto != 6 {
        return None;
    }
    let sent =
        |d: &crate::flow::tcp::TcpDir| -> Option<u32> { Some(seq_diff(d.next?, d.isn?) as u32) };
    Some((sent(&flow.tcp.dirs[0])?, sent(&flow.tcp.dirs[1])?))
}

fn counters(flow: &Flow) -> FlowCounters {
    let (c, s) = (flow.client, flow.server());
    let ports = flow.key.proto == 6 || flow.key.proto == 17;
    FlowCounters {
        pkts_toserver: flow.dirs[0].pkts,
        pkts_toclient: flow.dirs[1].pkts,
        bytes_toserver: flow.dirs[0].bytes,
        bytes_toclient: flow.dirs[1].bytes,
        start: flow.start.to_string(),
        src_ip: c.addr,
        dest_ip: s.addr,
        src_port: ports.then_some(c.port),
        dest_port: ports.then_some(s.port),
    }
}

fn header(
    event_type: &'static str,
    ts: Ts,
    flow_id: u64,
    pcap_cnt: Option<u64>,
    pkt: &Packet<'_>,
) -> Header {
    let (sp, dp) = pkt.ports();
    let ports = matches!(pkt.l4, L4::Tcp(_) | L4::Udp { .. });
    let icmp = match pkt.l4 {
        L4::Icmp(i) => Some((i.icmp_type, i.code)),
        _ => None,
    };
    Header {
        timestamp: ts.to_string(),
        flow_id: Some(flow_id),
        pcap_cnt,
        event_type,
        src_ip: pkt.ip.src,
        src_port: ports.then_some(sp),
        dest_ip: pkt.ip.dst,
        dest_port: ports.then_some(dp),
        proto: eve::proto_name(pkt.ip.proto),
        icmp_type: icmp.map(|i| i.0),
        icmp_code: icmp.map(|i| i.1),
    }
}

#[allow(clippy::too_many_arguments)] // one call site; a struct would only rename them
fn alert_event(
    cfg: &EngineConfig,
    flow: &Flow,
    pkt: &Packet<'_>,
    dir: Dir,
    meta: Meta,
    id: RuleId,
    detector: &Detector,
    blocked: bool,
) -> AlertEvent {
    let rule = detector.rule(id);
    let payload = cfg.alert_payload.then_some(pkt.payload);
    AlertEvent {
        header: header("alert", meta.ts, flow.id, meta.pcap_cnt, pkt),
        direction: dir.name(),
        alert: alert_info(rule, blocked),
        verdict: Some(verdict_info(rule.action(), pkt, dir, blocked)),
        flow: counters(flow),
        payload: payload.map(eve::base64),
        payload_printable: payload.map(eve::printable),
        stream: 0,
        packet: cfg.alert_payload.then(|| eve::base64(pkt.frame)),
        packet_info: Some(eve::PacketInfo {
            linktype: meta.link.number(),
            linktype_name: meta.link.name(),
        }),
        ether: pkt.link.macs.map(|(s, d)| eve::Ether {
            src_mac: eve::mac(&s),
            dest_mac: eve::mac(&d),
        }),
        pkt_src: if meta.pcap_cnt.is_some() {
            "wire/pcap"
        } else {
            "wire"
        },
    }
}

fn alert_info(rule: &crate::rules::Rule, blocked: bool) -> AlertInfo {
    AlertInfo {
        action: if blocked { "blocked" } else { "allowed" },
        gid: rule.gid,
        signature_id: rule.sid,
        rev: rule.rev,
        signature: rule.msg().to_string(),
        category: rule.category().unwrap_or_default().to_string(),
        severity: rule.severity(),
    }
}

/// EVE's `verdict`: what happened to the packet, and for reject rules
/// whom the answer went to and what it was (logged in IDS mode too, as
/// what IPS mode would have done).
fn verdict_info(action: Action, pkt: &Packet<'_>, dir: Dir, blocked: bool) -> eve::VerdictInfo {
    let mut v = eve::VerdictInfo {
        action: if blocked { "drop" } else { "alert" },
        reject_target: None,
        reject: Vec::new(),
    };
    if let Action::Reject(to) = action {
        let toward = verdict::reject_targets(pkt, to);
        let (src, dst) = (dir.name_of_sender(), dir.name());
        v.reject_target = match (toward.sender, toward.receiver) {
            (true, true) => Some("both"),
            (true, false) => Some(src),
            (false, true) => Some(dst),
            (false, false) => None,
        };
        v.reject.push(toward.kind);
    }
    v
}

/// A flow leaves the table: release its stream bytes, log it if asked.
fn flow_gone(
    cfg: &EngineConfig,
    mem: &mut StreamMem,
    mut flow: Flow,
    now: Ts,
    reason: &'static str,
    events: &mut Vec<Event>,
) {
    for d in flow.dirs.iter_mut() {
        d.stream.release(mem);
    }
    if !cfg.flow_events {
        return;
    }
    let (c, s) = (flow.client, flow.server());
    let ports = flow.key.proto == 6 || flow.key.proto == 17;
    let counters = counters(&flow);
    let header = Header {
        timestamp: now.to_string(),
        flow_id: Some(flow.id),
        pcap_cnt: None,
        event_type: "flow",
        src_ip: c.addr,
        src_port: ports.then_some(c.port),
        dest_ip: s.addr,
        dest_port: ports.then_some(s.port),
        proto: eve::proto_name(flow.key.proto),
        icmp_type: None,
        icmp_code: None,
    };
    let record = eve::FlowRecord {
        counters,
        end: flow.last.to_string(),
        age: flow.last.secs_since(flow.start),
        state: if flow.key.proto == 6 {
            flow.tcp.state.name()
        } else if flow.replied {
            "established"
        } else {
            "new"
        },
        reason,
        alerted: flow.alerts > 0,
        action: match flow.action {
            FlowAction::Drop => Some("drop"),
            FlowAction::Pass => Some("pass"),
            FlowAction::Inspect => None,
        },
    };
    events.push(Event::Flow(Box::new(eve::FlowEvent {
        header,
        flow: record,
        tcp: (flow.key.proto == 6).then(|| eve::TcpRecord {
            state: flow.tcp.state.name(),
        }),
    })));
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
