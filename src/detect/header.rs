//! Per-packet checks: everything in a rule except its payload chain.
//!
//! These are cheap and run first, so a candidate from the prefilter
//! whose addresses, ports or flow direction do not fit costs no payload
//! search.

use crate::decode::{Icmp, Packet, L4};
use crate::rules::fields::{frag, ipv4_options};
use crate::rules::{AppProto, Options, Proto, Rule};

use super::Input;

/// Whether the header, flow and packet keywords of `rule` fit `input`.
pub fn matches(rule: &Rule, input: &Input<'_>) -> bool {
    let p = input.packet;
    proto_fits(&rule.header.proto, p)
        && app_fits(rule, input)
        && endpoints_fit(rule, p)
        && flow_fits(rule, input)
        && keywords_fit(rule, p)
        && fields_fit(&rule.options, input)
}

fn proto_fits(proto: &Proto, p: &Packet<'_>) -> bool {
    match proto {
        Proto::Ipv4 => p.ip.version == 4,
        Proto::Ipv6 => p.ip.version == 6,
        // The group already matched the transport.
        _ => true,
    }
}

/// App-layer protocol rules (`alert http ...`) and
/// `app-layer-protocol` wait for the flow's protocol to be detected.
fn app_fits(rule: &Rule, input: &Input<'_>) -> bool {
    let detected = input.app.proto;
    if let Proto::App(AppProto(name)) = &rule.header.proto {
        if detected.is_none() || detected != crate::rules::app_proto_of(name) {
            return false;
        }
    }
    match &rule.options.app_layer_protocol {
        None => true,
        Some((negated, name)) => {
            let want = crate::rules::app_proto_of(name);
            match (detected, negated) {
                (None, _) => false,
                (Some(d), false) => Some(d) == want,
                (Some(d), true) => Some(d) != want,
            }
        }
    }
}

fn endpoints_fit(rule: &Rule, p: &Packet<'_>) -> bool {
    let h = &rule.header;
    let (sp, dp) = p.ports();
    let has_ports = matches!(p.l4, L4::Tcp(_) | L4::Udp { .. });
    // Port specs mean nothing for a packet without ports.
    let ports =
        |src: u16, dst: u16| !has_ports || (h.src_ports.matches(src) && h.dst_ports.matches(dst));
    let forward = h.src.matches(p.ip.src) && h.dst.matches(p.ip.dst) && ports(sp, dp);
    forward
        || (h.bidirectional && h.src.matches(p.ip.dst) && h.dst.matches(p.ip.src) && ports(dp, sp))
}

fn flow_fits(rule: &Rule, input: &Input<'_>) -> bool {
    let f = &rule.options.flow;
    f.established.map_or(true, |e| e == input.established)
        && f.to_server.map_or(true, |t| t == input.to_server)
}

fn keywords_fit(rule: &Rule, p: &Packet<'_>) -> bool {
    let o = &rule.options;
    if o.dsize.is_some_and(|c| !c.matches(p.payload.len() as u32)) {
        return false;
    }
    if o.ttl.is_some_and(|c| !c.matches(u32::from(p.ip.ttl))) {
        return false;
    }
    if !o.ip_proto.iter().all(|c| c.matches(u32::from(p.ip.proto))) {
        return false;
    }
    if let Some(flags) = o.flags {
        match p.tcp() {
            Some(t) if flags.matches(t.flags) => {}
            _ => return false,
        }
    }
    if o.itype.is_some() || o.icode.is_some() {
        let L4::Icmp(icmp) = &p.l4 else { return false };
        if o.itype
            .is_some_and(|c| !c.matches(u32::from(icmp.icmp_type)))
        {
            return false;
        }
        if o.icode.is_some_and(|c| !c.matches(u32::from(icmp.code))) {
            return false;
        }
    }
    true
}

/// The header-field keywords (`seq`, `window`, `fragbits`, ...), the
/// stream size and the anomaly events.
fn fields_fit(o: &Options, input: &Input<'_>) -> bool {
    let p = input.packet;
    let tcp = p.tcp();
    let tcp_field = |c: Option<crate::rules::Cmp>, f: fn(&crate::decode::Tcp<'_>) -> u32| {
        c.map_or(true, |c| tcp.is_some_and(|t| c.matches(f(t))))
    };
    if !tcp_field(o.seq, |t| t.seq)
        || !tcp_field(o.ack, |t| t.ack)
        || !tcp_field(o.window, |t| u32::from(t.window))
    {
        return false;
    }
    if let Some(c) = o.tcp_mss {
        // No MSS option: nothing to compare, no match.
        match tcp.and_then(|t| tcp_mss(t.header)) {
            Some(mss) if c.matches(u32::from(mss)) => {}
            _ => return false,
        }
    }
    // `id` and `fragbits` read IPv4 header fields.
    let v4 = p.ip.version == 4;
    if o.ip_id.is_some_and(|c| !v4 || !c.matches(p.ip.id)) {
        return false;
    }
    if let Some(f) = o.fragbits {
        let reserved = p.ip.header.get(6).is_some_and(|b| b & 0x80 != 0);
        let bit = |on: bool, b: u8| if on { b } else { 0 };
        let bits = bit(reserved, frag::R)
            | bit(p.ip.dont_fragment, frag::D)
            | bit(p.ip.more_fragments, frag::M);
        if !v4 || !f.matches(bits) {
            return false;
        }
    }
    // Both IP versions carry a fragment offset (IPv6 in its fragment
    // header); the field counts 8-byte units.
    if o.fragoffset
        .is_some_and(|c| !c.matches(u32::from(p.ip.frag_offset / 8)))
    {
        return false;
    }
    if o.ipopts
        .is_some_and(|mask| !v4 || ipv4_options(p.ip.header) & mask == 0)
    {
        return false;
    }
    if o.sameip && p.ip.src != p.ip.dst {
        return false;
    }
    if o.icmp_id.is_some() || o.icmp_seq.is_some() {
        let L4::Icmp(icmp) = &p.l4 else { return false };
        if !has_id_seq(icmp) {
            return false;
        }
        let id = u32::from(u16::from_be_bytes([icmp.rest[0], icmp.rest[1]]));
        let sq = u32::from(u16::from_be_bytes([icmp.rest[2], icmp.rest[3]]));
        if o.icmp_id.is_some_and(|c| !c.matches(id)) || o.icmp_seq.is_some_and(|c| !c.matches(sq)) {
            return false;
        }
    }
    if let Some(s) = o.stream_size {
        match input.stream_sizes {
            Some((client, server)) if s.matches(client, server) => {}
            _ => return false,
        }
    }
    o.events.iter().all(|e| input.events.contains(&e.as_str()))
}

/// ICMP messages whose bytes 4..8 are an identifier and a sequence
/// number: echo, timestamp, information and address mask (v4), echo
/// (v6).
fn has_id_seq(icmp: &Icmp) -> bool {
    if icmp.v6 {
        matches!(icmp.icmp_type, 128 | 129)
    } else {
        matches!(icmp.icmp_type, 0 | 8 | 13 | 14 | 15 | 16 | 17 | 18)
    }
}

/// The MSS option of a TCP header (kind 2, length 4), if present.
fn tcp_mss(header: &[u8]) -> Option<u16> {
    let mut opts = header.get(20..)?;
    while let Some((&kind, rest)) = opts.split_first() {
        match kind {
            0 => return None,
            1 => opts = rest,
            _ => {
                let len = usize::from(*rest.first()?);
                if len < 2 || len > opts.len() {
                    return None;
                }
                if kind == 2 && len == 4 {
                    return Some(u16::from_be_bytes([opts[2], opts[3]]));
                }
                opts = &opts[len..];
            }
        }
    }
    None
}
