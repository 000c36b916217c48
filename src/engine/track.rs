//! Per-packet TCP work: connection state, the checks a receiver makes
//! before it accepts a segment, and stream insertion and delivery.

use super::{EngineConfig, Mode};
use crate::decode::{tcp_flags as F, Packet, L4};
use crate::flow::tcp::seq;
use crate::flow::{Dir, Flow};
use crate::stream::StreamMem;

/// Why the receiver would throw a segment away. Such a segment must
/// not feed the stream: that is how insertion attacks show an IDS bytes
/// the target never reads (Ptacek and Newsham, 1998).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discard {
    /// Its TTL or hop limit runs out before the receiver.
    TtlExpires,
    /// It starts beyond the receiver's advertised window (RFC 793 3.3).
    OutOfWindow,
    /// A checksum is wrong (RFC 793 3.1, RFC 791 3.1).
    BadChecksum,
    /// Its timestamp is older than one already seen from the same side
    /// (PAWS, RFC 7323 5.3).
    Paws,
    /// No ACK flag on a segment of an established connection (RFC 793
    /// 3.9: "if the ACK bit is off drop the segment").
    NoAck,
    /// It acknowledges data the receiver never sent (RFC 5961 5.2).
    AckUnsent,
}

impl Discard {
    pub fn counter(self) -> &'static str {
        match self {
            Discard::TtlExpires => "ttl_expires_before_target",
            Discard::OutOfWindow => "outside_window",
            Discard::BadChecksum => "invalid_checksum",
            Discard::Paws => "pkt_invalid_timestamp",
            Discard::NoAck => "est_packet_without_ack",
            Discard::AckUnsent => "est_invalid_ack",
        }
    }
}

/// What tracking one packet did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tracked {
    /// Window index where newly delivered bytes start, if any.
    pub new_from: Option<usize>,
    /// The payload went into the stream, so stream rules judge it there.
    pub stream_added: bool,
    /// Inline: the payload (in the caller's buffer) was rewritten to
    /// the bytes already accepted; forward that copy.
    pub rewritten: bool,
    /// Its bytes overlapped held ones with different values.
    pub conflict: bool,
    /// A stream cap refused its bytes; the exception policy decides.
    pub over_cap: bool,
    pub discard: Option<Discard>,
}

/// Tracks one packet of `flow`. `payload` is scratch space the payload
/// is copied into, so it can be rewritten.
pub fn segment(
    engine: &EngineConfig,
    mem: &mut StreamMem,
    flow: &mut Flow,
    dir: Dir,
    pkt: &Packet<'_>,
    payload: &mut Vec<u8>,
) -> Tracked {
    let (cfg, policies) = (&engine.stream, &engine.host_os_policy);
    let inline = engine.mode == Mode::Ips;
    let mut out = Tracked::default();
    let L4::Tcp(t) = &pkt.l4 else {
        return out;
    };
    let d = dir.index();
    let r = d ^ 1;
    if flow.ttl[d].is_none() {
        flow.ttl[d] = Some(pkt.ip.ttl);
    }
    if let Some(hops) = flow.ttl[r].map(hops_from) {
        // A packet needs a TTL above the routers between us and the
        // receiver; with less it dies on the way.
        if pkt.ip.ttl <= hops {
            out.discard = Some(Discard::TtlExpires);
            return out;
        }
    }
    if t.flags & F::SYN != 0 {
        flow.wscale[d] = window_scale(t.header);
    }
    if engine.midstream
        && flow.tcp.state == crate::flow::tcp::TcpState::None
        && t.flags & (F::SYN | F::RST) == 0
        && t.flags & F::ACK != 0
    {
        flow.tcp.pick_up(dir, t);
    }
    let was_established = flow.tcp.established();
    if !pkt.payload.is_empty() && beyond_window(flow, dir, t.seq, pkt.payload.len()) {
        out.discard = Some(Discard::OutOfWindow);
        return out;
    }
    if stale_timestamp(flow, dir, t) {
        out.discard = Some(Discard::Paws);
        return out;
    }
    if let Some(why) = unacceptable_ack(flow, dir, t) {
        out.discard = Some(why);
        return out;
    }
    flow.tcp.update(dir, t, pkt.payload.len());

    // Data on a RST is not delivered to the application (RFC 793 3.4),
    // nor is a SYN's on a connection that already exists.
    let syn_again = t.flags & F::SYN != 0 && was_established;
    let takes_data = !pkt.payload.is_empty() && t.flags & F::RST == 0 && !syn_again;
    let Some(base) = flow.tcp.stream_base(dir) else {
        return out;
    };
    let receiver = if dir == Dir::ToServer {
        flow.server().addr
    } else {
        flow.client.addr
    };
    let policy = policies.lookup(receiver);
    let acked = flow.tcp.dirs[r].ack;
    let s = &mut flow.dirs[d].stream;
    s.start(base);
    let mut range = None;
    let skip = flow.urgent_skipped[d] as usize;
    if takes_data {
        payload.clear();
        payload.extend_from_slice(pkt.payload);
        // RFC 793 3.3: a SYN takes the first sequence number, so data
        // it carries starts one later. Urgent bytes taken out of band
        // earlier shift the rest of the stream back.
        let first = seq(t.seq) + usize::from(t.flags & F::SYN != 0) - skip;
        let urgent = urgent_byte(t, payload.len());
        let ins = match urgent {
            None => s.insert(cfg, mem, policy, inline, first, payload),
            Some(k) => {
                // RFC 6093: a receiver without SO_OOBINLINE (the default)
                // takes the byte before the urgent pointer out of band;
                // the application reads the stream without it.
                let (head, tail) = payload.split_at_mut(k);
                let a = s.insert(cfg, mem, policy, inline, first, head);
                let b = s.insert(cfg, mem, policy, inline, first + k, &mut tail[1..]);
                flow.urgent_skipped[d] += 1;
                crate::stream::Inserted {
                    conflict: a.conflict || b.conflict,
                    rewritten: a.rewritten || b.rewritten,
                    over_cap: a.over_cap || b.over_cap,
                    past_depth: a.past_depth || b.past_depth,
                    offset: a.offset,
                }
            }
        };
        out.conflict = ins.conflict;
        // Inline, the urgent byte stays in the forwarded packet; the
        // receiver drops it itself. A rewrite would have to keep it.
        out.rewritten = ins.rewritten && urgent.is_none();
        out.stream_added = !ins.over_cap;
        out.over_cap = ins.over_cap;
        range = Some((ins.offset, ins.offset + payload.len() as u64));
    }

    out.new_from = if inline {
        // Inline, the stream is inspected around this packet's bytes,
        // retransmissions included, as they are forwarded again.
        let delivered = s.deliver(cfg, mem, None);
        let start = s.window_start();
        match range {
            Some((from, to)) if from < s.next_offset() && to > start => {
                let here = (from.max(start) - start) as usize;
                Some(delivered.map_or(here, |n| n.min(here)))
            }
            _ => delivered,
        }
    } else {
        // Only acknowledged bytes are final at the receiver; any packet
        // of this direction is the moment to look at them.
        match acked.and_then(|a| s.offset_of(a - skip)) {
            Some(limit) => s.deliver(cfg, mem, Some(limit)),
            None => None,
        }
    };
    out
}

/// Whether an established connection's receiver would drop this
/// segment for its ACK field. RSTs and SYNs are judged elsewhere.
fn unacceptable_ack(flow: &Flow, dir: Dir, t: &crate::decode::Tcp<'_>) -> Option<Discard> {
    if !flow.tcp.established() || t.flags & (F::RST | F::SYN) != 0 {
        return None;
    }
    if t.flags & F::ACK == 0 {
        return Some(Discard::NoAck);
    }
    let sent = flow.tcp.dirs[dir.index() ^ 1].next?;
    let ahead = crate::flow::tcp::seq_diff(seq(t.ack), sent);
    (ahead > 0).then_some(Discard::AckUnsent)
}

/// Where in a segment's payload its urgent byte is (the byte before
/// the urgent pointer), if it has one there.
fn urgent_byte(t: &crate::decode::Tcp<'_>, len: usize) -> Option<usize> {
    if t.flags & F::URG == 0 || t.urgent == 0 {
        return None;
    }
    let k = usize::from(t.urgent) - 1;
    (k < len).then_some(k)
}

/// PAWS (RFC 7323 5.3): once both ends sent timestamps in their SYNs, a
/// segment whose TSval is older than the newest from its sender is
/// dropped by the receiver. Records the newest otherwise.
fn stale_timestamp(flow: &mut Flow, dir: Dir, t: &crate::decode::Tcp<'_>) -> bool {
    let d = dir.index();
    let ts = timestamp(t.header);
    if t.flags & F::SYN != 0 {
        flow.ts_on[d] = ts.is_some();
    }
    let (Some(v), true) = (ts, flow.ts_on[0] && flow.ts_on[1]) else {
        return false;
    };
    // A RST is not subject to PAWS.
    if t.flags & F::RST != 0 {
        return false;
    }
    match flow.ts_newest[d] {
        Some(last) if (v.wrapping_sub(last) as i32) < 0 => true,
        _ => {
            flow.ts_newest[d] = Some(v);
            false
        }
    }
}

/// The TSval of a timestamp option (RFC 7323 3), if present.
fn timestamp(header: &[u8]) -> Option<u32> {
    match tcp_option(header, 8)? {
        [a, b, c, d, _, _, _, _] => Some(u32::from_be_bytes([*a, *b, *c, *d])),
        _ => None,
    }
}

/// The data of the first TCP option of `kind` (RFC 793 3.1 layout:
/// EOL ends the list, NOP is one byte, others carry a length byte).
fn tcp_option(header: &[u8], kind: u8) -> Option<&[u8]> {
    let mut opts = header.get(20..)?;
    while let [k, rest @ ..] = opts {
        match k {
            0 => return None,
            1 => opts = rest,
            _ => {
                let len = usize::from(*rest.first()?);
                if len < 2 || opts.len() < len {
                    return None;
                }
                if *k == kind {
                    return Some(&opts[2..len]);
                }
                opts = &opts[len..];
            }
        }
    }
    None
}

/// Routers between us and a host, from the TTL its packets arrive
/// with: the distance down from the nearest common initial TTL.
fn hops_from(ttl: u8) -> u8 {
    let initial = [32u8, 64, 128, 255]
        .into_iter()
        .find(|i| *i >= ttl)
        .unwrap_or(255);
    initial - ttl
}

/// The window scale option (RFC 7323 2.2) of a SYN, if it has one.
fn window_scale(header: &[u8]) -> Option<u8> {
    match tcp_option(header, 3)? {
        [shift] => Some((*shift).min(14)),
        _ => None,
    }
}

/// Whether a segment starts past what the receiver said it would take.
/// Scaling applies only when both SYNs carried the option (RFC 7323).
fn beyond_window(flow: &Flow, dir: Dir, s: u32, len: usize) -> bool {
    let r = &flow.tcp.dirs[dir.index() ^ 1];
    let (Some(ack), true) = (r.ack, flow.tcp.established()) else {
        return false;
    };
    let scale = match (flow.wscale[0], flow.wscale[1]) {
        (Some(_), Some(_)) => flow.wscale[dir.index() ^ 1].unwrap_or(0),
        _ => 0,
    };
    let window = (u64::from(r.window) << scale).max(1);
    let ahead = i64::from(crate::flow::tcp::seq_diff(seq(s), ack));
    // Zero-window probes carry one byte at the window's edge.
    len > 0 && ahead >= 0 && ahead as u64 > window
}

/// The frame of `pkt` with its TCP payload replaced by `payload` (same
/// length) and the TCP checksum recomputed.
pub fn rewrite(pkt: &Packet<'_>, payload: &[u8]) -> Option<Vec<u8>> {
    let L4::Tcp(t) = &pkt.l4 else {
        return None;
    };
    let mut frame = pkt.frame.to_vec();
    let start = pkt.ip_offset + pkt.ip.header.len() + t.header.len();
    frame
        .get_mut(start..start + payload.len())?
        .copy_from_slice(payload);
    let csum_at = pkt.ip_offset + pkt.ip.header.len() + 16;
    frame
        .get_mut(csum_at..csum_at + 2)?
        .copy_from_slice(&[0, 0]);
    let seg_end = pkt.ip_offset + pkt.ip.datagram.len();
    let seg = frame.get(pkt.ip_offset + pkt.ip.header.len()..seg_end)?;
    let sum = crate::decode::checksum::transport(pkt.ip.src, pkt.ip.dst, 6, seg);
    frame
        .get_mut(csum_at..csum_at + 2)?
        .copy_from_slice(&sum.to_be_bytes());
    Some(frame)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{checksum, decode, LinkType};

    #[test]
    fn hop_estimate() {
        assert_eq!(hops_from(64), 0);
        assert_eq!(hops_from(63), 1);
        assert_eq!(hops_from(120), 8);
        assert_eq!(hops_from(255), 0);
    }

    #[test]
    fn wscale_is_read_from_options() {
        // 20-byte header, then NOP, window scale 7, EOL.
        let mut h = vec![0u8; 20];
        h.extend_from_slice(&[1, 3, 3, 7, 0, 0, 0, 0]);
        assert_eq!(window_scale(&h), Some(7));
        assert_eq!(window_scale(&h[..20]), None);
        assert_eq!(window_scale(&[0u8; 22]), None);
        // A length that runs off the end.
        let mut bad = vec![0u8; 20];
        bad.extend_from_slice(&[3, 9, 1]);
        assert_eq!(window_scale(&bad), None);
    }

    #[test]
    fn rewritten_frame_has_a_valid_checksum() {
        let b = etherparse::PacketBuilder::ipv4([1, 1, 1, 1], [2, 2, 2, 2], 64)
            .tcp(1, 2, 3, 100)
            .ack(4);
        let mut raw = Vec::new();
        b.write(&mut raw, b"EVIL").expect("build");
        let pkt = decode(&raw, LinkType::Raw).expect("decode");
        let new = rewrite(&pkt, b"GOOD").expect("rewrite");
        let p2 = decode(&new, LinkType::Raw).expect("decode");
        assert_eq!(p2.payload, b"GOOD");
        assert_eq!(checksum::verify(&p2), Ok(()));
    }
}
