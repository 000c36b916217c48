//! Internet checksums (RFC 1071) of IPv4 headers and of TCP, UDP and
//! ICMP segments, so packets a receiver would discard can be told apart.

use std::net::IpAddr;

use super::{Packet, L4};

/// Which checksum, if any, is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bad {
    Ipv4,
    Tcp,
    Udp,
    Icmp,
}

impl Bad {
    /// Stats counter name, after Suricata's `*.invalid_checksum`.
    pub fn counter(self) -> &'static str {
        match self {
            Bad::Ipv4 => "ipv4.invalid_checksum",
            Bad::Tcp => "tcp.invalid_checksum",
            Bad::Udp => "udp.invalid_checksum",
            Bad::Icmp => "icmp.invalid_checksum",
        }
    }
}

/// Checks every checksum the packet carries. Fragments are not
/// checked at the transport layer (the sum covers the whole datagram).
pub fn verify(pkt: &Packet<'_>) -> Result<(), Bad> {
    if pkt.ip.version == 4 && fold(sum(pkt.ip.header, 0)) != 0xffff {
        return Err(Bad::Ipv4);
    }
    if pkt.ip.is_fragment() {
        return Ok(());
    }
    let Some(segment) = pkt.ip.datagram.get(pkt.ip.header.len()..) else {
        return Ok(());
    };
    let (bad, pseudo) = match pkt.l4 {
        L4::Tcp(_) => (Bad::Tcp, true),
        // A zero UDP checksum over IPv4 means "not computed" (RFC 768).
        L4::Udp { checksum: 0, .. } if pkt.ip.version == 4 => return Ok(()),
        L4::Udp { .. } => (Bad::Udp, true),
        L4::Icmp(i) => (Bad::Icmp, i.v6),
        L4::Other => return Ok(()),
    };
    let start = if pseudo {
        pseudo_header(pkt.ip.src, pkt.ip.dst, pkt.ip.proto, segment.len())
    } else {
        0
    };
    if fold(sum(segment, start)) == 0xffff {
        Ok(())
    } else {
        Err(bad)
    }
}

/// The checksum to store in a TCP, UDP or ICMPv6 header: `segment` is
/// the transport header (its checksum field zeroed) and payload.
pub fn transport(src: IpAddr, dst: IpAddr, proto: u8, segment: &[u8]) -> u16 {
    !fold(sum(segment, pseudo_header(src, dst, proto, segment.len())))
}

fn pseudo_header(src: IpAddr, dst: IpAddr, proto: u8, len: usize) -> u64 {
    let mut acc = 0u64;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            acc = sum(&s.octets(), acc);
            acc = sum(&d.octets(), acc);
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            acc = sum(&s.octets(), acc);
            acc = sum(&d.octets(), acc);
        }
        _ => {}
    }
    acc + u64::from(proto) + len as u64
}

/// Sum of big-endian 16-bit words, an odd last byte padded with zero.
fn sum(bytes: &[u8], mut acc: u64) -> u64 {
    let mut chunks = bytes.chunks_exact(2);
    for c in &mut chunks {
        acc += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode, LinkType};
    use etherparse::PacketBuilder;

    fn built(v6: bool, udp: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let step = if v6 {
            PacketBuilder::ipv6([0xfd; 16], [0xfe; 16], 64)
        } else {
            PacketBuilder::ipv4([198, 18, 0, 2], [198, 18, 1, 2], 64)
        };
        if udp {
            step.udp(1, 2).write(&mut out, b"odd").expect("build");
        } else {
            step.tcp(1, 2, 3, 4)
                .write(&mut out, b"even")
                .expect("build");
        }
        out
    }

    #[test]
    fn builder_checksums_verify_and_a_flipped_bit_does_not() {
        for v6 in [false, true] {
            for udp in [false, true] {
                let mut raw = built(v6, udp);
                let p = decode(&raw, LinkType::Raw).expect("decode");
                assert_eq!(verify(&p), Ok(()), "v6={v6} udp={udp}");
                let last = raw.len() - 1;
                raw[last] ^= 1;
                let p = decode(&raw, LinkType::Raw).expect("decode");
                assert!(verify(&p).is_err(), "v6={v6} udp={udp}");
            }
        }
    }

    #[test]
    fn bad_ipv4_header_checksum() {
        let mut raw = built(false, false);
        raw[10] ^= 0xff;
        let p = decode(&raw, LinkType::Raw).expect("decode");
        assert_eq!(verify(&p), Err(Bad::Ipv4));
    }
}
