//! Verdicts, and the packets a `reject` injects.
//!
//! A reject answers like a host that refuses the connection: a TCP RST
//! to each endpoint, with sequence numbers each one accepts, or an ICMP
//! "administratively prohibited" to the sender of anything else. The
//! packets are built with etherparse's `PacketBuilder`, so lengths and
//! checksums are right by construction.

use std::net::IpAddr;

use etherparse::{PacketBuilder, PacketBuilderStep};

use crate::decode::{tcp_flags as F, Packet, L4};
use crate::rules::RejectTo;

/// What happens to the packet that was inspected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Forward,
    Drop,
}

/// Which device an injected packet leaves by, relative to the packet
/// that caused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toward {
    /// Back out of the device the packet came in on.
    Sender,
    /// Out of the device the packet was going to.
    Receiver,
}

/// A packet to write to a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inject {
    pub toward: Toward,
    pub bytes: Vec<u8>,
}

/// What the engine tells its caller about one packet.
#[derive(Debug, Default)]
pub struct Actions {
    pub verdict: Option<Verdict>,
    pub inject: Vec<Inject>,
    /// Forward this frame instead of the one received (inline
    /// normalisation rewrote it).
    pub replace: Option<Vec<u8>>,
}

impl Actions {
    pub fn clear(&mut self) {
        self.verdict = None;
        self.inject.clear();
        self.replace = None;
    }
}

const TTL: u8 = 64;

/// Who a reject answers, and how (EVE's `reject` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Targets {
    pub sender: bool,
    pub receiver: bool,
    pub kind: &'static str,
}

/// A TCP reject resets both ends unless the rule says `rejectdst`: a
/// connection left half-open on the receiver would hold its resources
/// until a timeout. Everything else gets an ICMP error to the sender.
pub fn reject_targets(pkt: &Packet<'_>, to: RejectTo) -> Targets {
    match &pkt.l4 {
        L4::Tcp(t) if t.flags & F::RST != 0 => Targets {
            sender: false,
            receiver: false,
            kind: "tcp-reset",
        },
        L4::Tcp(t) => Targets {
            sender: to != RejectTo::Dst,
            // A segment without ACK gives no sequence number the
            // receiver would accept.
            receiver: t.flags & F::ACK != 0,
            kind: "tcp-reset",
        },
        L4::Icmp(i) if is_icmp_error(i.v6, i.icmp_type) => Targets {
            sender: false,
            receiver: false,
            kind: "icmp-prohib",
        },
        _ => Targets {
            sender: true,
            receiver: false,
            kind: "icmp-prohib",
        },
    }
}

/// Builds the packets that reset or refuse `pkt`'s conversation.
/// Returns how many were appended to `out`.
pub fn reject(pkt: &Packet<'_>, to: RejectTo, out: &mut Vec<Inject>) -> usize {
    let before = out.len();
    let targets = reject_targets(pkt, to);
    match &pkt.l4 {
        L4::Tcp(t) => {
            let len = pkt.payload.len()
                + usize::from(t.flags & F::SYN != 0)
                + usize::from(t.flags & F::FIN != 0);
            // To the sender: RFC 793 3.4 "Reset Generation": if the
            // segment has an ACK, the RST takes its sequence number from
            // that ACK, which is exactly what the sender expects next.
            // Without one, seq 0 and an ACK of the segment.
            let (seq, ack) = if t.flags & F::ACK != 0 {
                (t.ack, None)
            } else {
                (0, Some(t.seq.wrapping_add(len as u32)))
            };
            if let Some(b) = tcp_rst(pkt, true, t.dst_port, t.src_port, seq, ack) {
                out.push(Inject {
                    toward: Toward::Sender,
                    bytes: b,
                });
            }
            // To the receiver, as if from the sender: the dropped segment
            // never arrived, so its own sequence number is the receiver's
            // next expected one.
            if targets.receiver && t.flags & F::ACK != 0 {
                if let Some(b) = tcp_rst(pkt, false, t.src_port, t.dst_port, t.seq, Some(t.ack)) {
                    out.push(Inject {
                        toward: Toward::Receiver,
                        bytes: b,
                    });
                }
            }
        }
        // Never answer an ICMP error with another (RFC 1122 3.2.2).
        _ if !targets.sender => {}
        _ => {
            if let Some(b) = icmp_prohibited(pkt) {
                out.push(Inject {
                    toward: Toward::Sender,
                    bytes: b,
                });
            }
        }
    }
    out.len() - before
}

fn is_icmp_error(v6: bool, t: u8) -> bool {
    if v6 {
        t < 128
    } else {
        matches!(t, 3 | 4 | 5 | 11 | 12)
    }
}

/// The IP (and Ethernet, for TAP) headers of a packet from one end of
/// `pkt`'s conversation to the other: `back` means toward its sender.
fn ip_step(pkt: &Packet<'_>, back: bool) -> Option<PacketBuilderStep<etherparse::IpHeaders>> {
    let (src, dst) = if back {
        (pkt.ip.dst, pkt.ip.src)
    } else {
        (pkt.ip.src, pkt.ip.dst)
    };
    let link = pkt
        .link
        .macs
        .map(|(s, d)| if back { (d, s) } else { (s, d) });
    Some(match (src, dst, link) {
        (IpAddr::V4(s), IpAddr::V4(d), None) => PacketBuilder::ipv4(s.octets(), d.octets(), TTL),
        (IpAddr::V6(s), IpAddr::V6(d), None) => PacketBuilder::ipv6(s.octets(), d.octets(), TTL),
        (IpAddr::V4(s), IpAddr::V4(d), Some((ms, md))) => {
            PacketBuilder::ethernet2(ms, md).ipv4(s.octets(), d.octets(), TTL)
        }
        (IpAddr::V6(s), IpAddr::V6(d), Some((ms, md))) => {
            PacketBuilder::ethernet2(ms, md).ipv6(s.octets(), d.octets(), TTL)
        }
        _ => return None,
    })
}

fn tcp_rst(
    pkt: &Packet<'_>,
    back: bool,
    sport: u16,
    dport: u16,
    seq: u32,
    ack: Option<u32>,
) -> Option<Vec<u8>> {
    let mut b = ip_step(pkt, back)?.tcp(sport, dport, seq, 0).rst();
    if let Some(a) = ack {
        b = b.ack(a);
    }
    let mut out = Vec::with_capacity(b.size(0));
    b.write(&mut out, &[]).ok()?;
    Some(out)
}

/// ICMP destination unreachable, administratively prohibited (v4 type 3
/// code 13, v6 type 1 code 1), quoting as much of the offending packet
/// as RFC 792 / RFC 4443 ask for.
fn icmp_prohibited(pkt: &Packet<'_>) -> Option<Vec<u8>> {
    let d = pkt.ip.datagram;
    let step = ip_step(pkt, true)?;
    let mut out = Vec::new();
    let written = if pkt.ip.version == 4 {
        let q = &d[..d.len().min(pkt.ip.header.len() + 8)];
        step.icmpv4_raw(3, 13, [0; 4]).write(&mut out, q).is_ok()
    } else {
        // Stay within the IPv6 minimum MTU of 1280 bytes.
        let q = &d[..d.len().min(1280 - 48)];
        step.icmpv6_raw(1, 1, [0; 4]).write(&mut out, q).is_ok()
    };
    if !written {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode, LinkType};

    /// 198.18.0.2:40000 -> 198.18.1.2:80, ACK|PSH, seq 1000, ack 5000,
    /// payload "GET".
    fn data_segment() -> Vec<u8> {
        let b = PacketBuilder::ipv4([198, 18, 0, 2], [198, 18, 1, 2], 64)
            .tcp(40000, 80, 1000, 512)
            .ack(5000)
            .psh();
        let mut v = Vec::new();
        b.write(&mut v, b"GET").expect("build");
        v
    }

    #[test]
    fn rst_pair_carries_acceptable_sequence_numbers() {
        let raw = data_segment();
        let pkt = decode(&raw, LinkType::Raw).expect("decode");
        let mut out = Vec::new();
        assert_eq!(reject(&pkt, RejectTo::Src, &mut out), 2);

        let to_sender = decode(&out[0].bytes, LinkType::Raw).expect("rst");
        let t = to_sender.tcp().expect("tcp");
        assert_eq!(out[0].toward, Toward::Sender);
        assert_eq!(to_sender.ip.dst, pkt.ip.src);
        assert_eq!((t.src_port, t.dst_port, t.seq), (80, 40000, 5000));
        assert!(t.flags & F::RST != 0);

        let to_receiver = decode(&out[1].bytes, LinkType::Raw).expect("rst");
        let t = to_receiver.tcp().expect("tcp");
        assert_eq!(to_receiver.ip.dst, pkt.ip.dst);
        assert_eq!(
            (t.src_port, t.dst_port, t.seq, t.ack),
            (40000, 80, 1000, 5000)
        );
    }

    #[test]
    fn rst_to_a_syn_acknowledges_it() {
        let b = PacketBuilder::ipv4([1, 1, 1, 1], [2, 2, 2, 2], 64)
            .tcp(1, 2, 77, 512)
            .syn();
        let mut raw = Vec::new();
        b.write(&mut raw, &[]).expect("build");
        let pkt = decode(&raw, LinkType::Raw).expect("decode");
        let mut out = Vec::new();
        assert_eq!(reject(&pkt, RejectTo::Src, &mut out), 1);
        let r = decode(&out[0].bytes, LinkType::Raw).expect("rst");
        let t = r.tcp().expect("tcp");
        assert_eq!((t.seq, t.ack, t.flags), (0, 78, F::RST | F::ACK));
    }

    #[test]
    fn udp_gets_icmp_admin_prohibited() {
        let b = PacketBuilder::ipv4([198, 18, 0, 2], [198, 18, 1, 2], 64).udp(5000, 53);
        let mut raw = Vec::new();
        b.write(&mut raw, b"query").expect("build");
        let pkt = decode(&raw, LinkType::Raw).expect("decode");
        let mut out = Vec::new();
        assert_eq!(reject(&pkt, RejectTo::Src, &mut out), 1);
        let r = decode(&out[0].bytes, LinkType::Raw).expect("icmp");
        match r.l4 {
            L4::Icmp(i) => assert_eq!((i.icmp_type, i.code), (3, 13)),
            other => panic!("not icmp: {other:?}"),
        }
        // The quote is the IP header and the first 8 bytes after it.
        assert_eq!(r.payload, &raw[..28]);
    }
}
