//! Per-packet checks: everything in a rule except its payload chain.
//!
//! These are cheap and run first, so a candidate from the prefilter
//! whose addresses, ports or flow direction do not fit costs no payload
//! search.

use crate::decode::{Packet, L4};
use crate::rules::{Proto, Rule};

use super::Input;

/// Whether the header, flow and packet keywords of `rule` fit `input`.
pub fn matches(rule: &Rule, input: &Input<'_>) -> bool {
    let p = input.packet;
    proto_fits(&rule.header.proto, p)
        && endpoints_fit(rule, p)
        && flow_fits(rule, input)
        && keywords_fit(rule, p)
}

fn proto_fits(proto: &Proto, p: &Packet<'_>) -> bool {
    match proto {
        Proto::Ipv4 => p.ip.version == 4,
        Proto::Ipv6 => p.ip.version == 6,
        // The group already matched the transport.
        _ => true,
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
    if o.ip_proto
        .is_some_and(|c| !c.matches(u32::from(p.ip.proto)))
    {
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
