//! EVE records for alerts and flows, built from engine state.

use crate::decode::{Packet, L4};
use crate::detect::{Detector, RuleId};
use crate::flow::{Dir, Flow, FlowAction};
use crate::output::eve::{self, AlertEvent, AlertInfo, Event, FlowCounters, Header};
use crate::rules::{Action, Proto};
use crate::time::Ts;
use crate::verdict;

/// Where the packet an alert is about came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A device or a capture.
    Wire,
    /// Made up to inspect stream data left when a flow ends.
    FlowEnd,
    /// Made up to inspect acknowledged stream data of a quiet flow.
    Idle,
}

/// Everything an alert needs beyond the rule.
pub struct AlertCtx<'a> {
    pub flow: &'a Flow,
    pub pkt: &'a Packet<'a>,
    pub dir: Dir,
    pub ts: Ts,
    pub pcap_cnt: Option<u64>,
    pub link: crate::decode::LinkType,
    pub source: Source,
    /// The HTTP transaction a transaction rule matched in.
    pub tx_id: Option<u64>,
    /// Stream bytes detection saw for this packet, if any.
    pub stream: Option<&'a [u8]>,
    pub with_payload: bool,
}

/// Suricata logs at most this much of a stream in an alert's payload.
const STREAM_PAYLOAD_MAX: usize = 4096;

pub fn alert(ctx: &AlertCtx<'_>, detector: &Detector, id: RuleId, blocked: bool) -> Event {
    let rule = detector.rule(id);
    let from_stream = ctx.stream.is_some() && is_stream_rule(rule);
    let payload: Option<&[u8]> = match (ctx.with_payload, from_stream, ctx.stream) {
        (false, _, _) => None,
        (true, true, Some(s)) => Some(&s[s.len().saturating_sub(STREAM_PAYLOAD_MAX)..]),
        (true, _, _) => Some(ctx.pkt.payload),
    };
    let wire = ctx.source == Source::Wire;
    let e = AlertEvent {
        header: header("alert", ctx.ts, ctx.flow.id, ctx.pcap_cnt, ctx.pkt),
        tx_id: ctx.tx_id,
        app_proto: super::app::proto_name(ctx.flow),
        http: http_meta(ctx),
        direction: ctx.dir.name(),
        alert: alert_info(rule, blocked),
        verdict: Some(verdict_info(rule.action(), ctx.pkt, ctx.dir, blocked)),
        flow: counters(ctx.flow),
        payload: payload.map(eve::base64),
        payload_printable: payload.map(eve::printable),
        stream: u8::from(from_stream),
        packet: (ctx.with_payload && wire).then(|| eve::base64(ctx.pkt.frame)),
        packet_info: wire.then(|| eve::PacketInfo {
            linktype: ctx.link.number(),
            linktype_name: ctx.link.name(),
        }),
        ether: ctx.pkt.link.macs.map(|(s, d)| eve::Ether {
            src_mac: eve::mac(&s),
            dest_mac: eve::mac(&d),
        }),
        pkt_src: match (ctx.source, ctx.pcap_cnt) {
            (Source::FlowEnd, _) => "stream (flow timeout)",
            (Source::Idle, _) => "stream (idle)",
            (Source::Wire, Some(_)) => "wire/pcap",
            (Source::Wire, None) => "wire",
        },
    };
    Event::Alert(Box::new(e))
}

pub fn alert_info(rule: &crate::rules::Rule, blocked: bool) -> AlertInfo {
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

/// The HTTP transaction an alert is about: the one its rule matched in,
/// else the flow's newest.
fn http_meta(ctx: &AlertCtx<'_>) -> Option<eve::HttpMeta> {
    let parser = ctx.flow.app.as_deref()?.session.http()?;
    let tx = match ctx.tx_id {
        Some(id) => parser.tx(id)?,
        None => parser.transactions().last()?,
    };
    let text = |b: Option<&[u8]>| b.map(|b| String::from_utf8_lossy(b).into_owned());
    Some(eve::HttpMeta {
        hostname: text(tx.host()),
        url: text(tx.uri_raw()),
        http_user_agent: text(tx.user_agent()),
        http_method: text(tx.method()),
        protocol: text(tx.request_protocol()),
        status: tx.status(),
        length: tx.response_body().map(|b| b.wire_len()),
    })
}

/// Whether a rule's content is matched on the stream when there is one
/// (the detector's grouping makes the same choice).
fn is_stream_rule(rule: &crate::rules::Rule) -> bool {
    !rule.options.matches.is_empty()
        && match rule.proto() {
            Proto::TcpStream => true,
            Proto::Tcp | Proto::App(_) => !rule.options.flow.no_stream,
            _ => false,
        }
}

pub fn counters(flow: &Flow) -> FlowCounters {
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

/// The `flow` record of a flow that ends.
pub fn flow(flow: &Flow, now: Ts, reason: &'static str) -> Event {
    let (c, s) = (flow.client, flow.server());
    let ports = flow.key.proto == 6 || flow.key.proto == 17;
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
    let tcp = flow.key.proto == 6;
    let record = eve::FlowRecord {
        counters: counters(flow),
        end: flow.last.to_string(),
        age: flow.last.secs_since(flow.start),
        state: if tcp {
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
    Event::Flow(Box::new(eve::FlowEvent {
        header,
        flow: record,
        tcp: tcp.then(|| eve::TcpRecord {
            state: flow.tcp.state.name(),
        }),
    }))
}

/// A payload-less TCP packet from one end of `flow` to the other, to
/// stand for stream data inspected when the flow ends.
pub fn pseudo_packet(flow: &Flow, dir: Dir) -> Option<Vec<u8>> {
    use etherparse::PacketBuilder;
    use std::net::IpAddr;
    let (from, to) = match dir {
        Dir::ToServer => (flow.client, flow.server()),
        Dir::ToClient => (flow.server(), flow.client),
    };
    let step = match (from.addr, to.addr) {
        (IpAddr::V4(a), IpAddr::V4(b)) => PacketBuilder::ipv4(a.octets(), b.octets(), 64),
        (IpAddr::V6(a), IpAddr::V6(b)) => PacketBuilder::ipv6(a.octets(), b.octets(), 64),
        _ => return None,
    };
    let mut out = Vec::with_capacity(60);
    step.tcp(from.port, to.port, 0, 0)
        .ack(0)
        .write(&mut out, &[])
        .ok()?;
    Some(out)
}
