//! Link layers: where the IP header starts in a frame.

use super::DecodeError;

/// Link types by their pcap LINKTYPE number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// BSD loopback: a 4-byte address family in host byte order.
    Null,
    Ethernet,
    /// Raw IP, version read from the first nibble (TUN devices, DLT_RAW).
    Raw,
    /// LINKTYPE_IPV4 / LINKTYPE_IPV6: raw IP too, but EVE names them
    /// apart (`packet_info.linktype_name` "IPv4" / "IPv6").
    RawIpv4,
    RawIpv6,
    /// OpenBSD loopback: a 4-byte address family in network byte order.
    Loop,
    LinuxSll,
    LinuxSll2,
}

impl LinkType {
    pub fn from_pcap(linktype: u32) -> Option<LinkType> {
        Some(match linktype {
            0 => LinkType::Null,
            1 => LinkType::Ethernet,
            12 | 14 | 101 => LinkType::Raw,
            228 => LinkType::RawIpv4,
            229 => LinkType::RawIpv6,
            108 => LinkType::Loop,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            _ => return None,
        })
    }

    /// The pcap LINKTYPE number, as EVE's `packet_info.linktype` shows it.
    pub fn number(self) -> u32 {
        match self {
            LinkType::Null => 0,
            LinkType::Ethernet => 1,
            LinkType::Raw => 101,
            LinkType::RawIpv4 => 228,
            LinkType::RawIpv6 => 229,
            LinkType::Loop => 108,
            LinkType::LinuxSll => 113,
            LinkType::LinuxSll2 => 276,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            LinkType::Null => "NULL",
            LinkType::Ethernet => "EN10MB",
            LinkType::Raw => "RAW",
            LinkType::RawIpv4 => "IPv4",
            LinkType::RawIpv6 => "IPv6",
            LinkType::Loop => "LOOP",
            LinkType::LinuxSll => "LINUX_SLL",
            LinkType::LinuxSll2 => "LINUX_SLL2",
        }
    }
}

/// What the link header said, kept for EVE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Link {
    /// Source and destination MAC, for Ethernet frames.
    pub macs: Option<([u8; 6], [u8; 6])>,
    /// Outermost VLAN id, if tagged.
    pub vlan: Option<u16>,
}

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;
const ETH_VLAN: [u16; 3] = [0x8100, 0x88a8, 0x9100];

/// Returns the link view and the offset of the IP header.
pub fn strip_link(frame: &[u8], link: LinkType) -> Result<(Link, usize), DecodeError> {
    match link {
        LinkType::Raw | LinkType::RawIpv4 | LinkType::RawIpv6 => Ok((Link::default(), 0)),
        LinkType::Null | LinkType::Loop => {
            if frame.len() < 4 {
                return Err(DecodeError::LinkTruncated);
            }
            Ok((Link::default(), 4))
        }
        LinkType::Ethernet => ethernet(frame),
        LinkType::LinuxSll => {
            // 16-byte header, protocol in the last two bytes.
            let proto = be16(frame, 14)?;
            ether_payload(frame, Link::default(), proto, 16)
        }
        LinkType::LinuxSll2 => {
            // 20-byte header, protocol first.
            let proto = be16(frame, 0)?;
            ether_payload(frame, Link::default(), proto, 20)
        }
    }
}

fn ethernet(frame: &[u8]) -> Result<(Link, usize), DecodeError> {
    let (Some(dst), Some(src)) = (frame.get(0..6), frame.get(6..12)) else {
        return Err(DecodeError::LinkTruncated);
    };
    let mut link = Link::default();
    let mut d = [0u8; 6];
    let mut s = [0u8; 6];
    d.copy_from_slice(dst);
    s.copy_from_slice(src);
    link.macs = Some((s, d));
    let proto = be16(frame, 12)?;
    ether_payload(frame, link, proto, 14)
}

/// Follows VLAN tags until an IP ethertype.
fn ether_payload(
    frame: &[u8],
    mut link: Link,
    mut proto: u16,
    mut offset: usize,
) -> Result<(Link, usize), DecodeError> {
    // Bounded: at most a few stacked tags are legitimate.
    for _ in 0..4 {
        if !ETH_VLAN.contains(&proto) {
            break;
        }
        let tci = be16(frame, offset)?;
        link.vlan.get_or_insert(tci & 0x0fff);
        proto = be16(frame, offset + 2)?;
        offset += 4;
    }
    match proto {
        ETH_IPV4 | ETH_IPV6 if offset <= frame.len() => Ok((link, offset)),
        ETH_IPV4 | ETH_IPV6 => Err(DecodeError::LinkTruncated),
        _ => Err(DecodeError::NotIp),
    }
}

fn be16(frame: &[u8], at: usize) -> Result<u16, DecodeError> {
    match frame.get(at..at + 2) {
        Some([a, b]) => Ok(u16::from_be_bytes([*a, *b])),
        _ => Err(DecodeError::LinkTruncated),
    }
}
