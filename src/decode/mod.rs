//! Decoding: raw frame bytes to a [`Packet`] view that borrows them.
//!
//! Link headers (Ethernet with VLAN tags, Linux cooked v1/v2, BSD
//! loopback, raw IP) are stripped here; the IP and transport layers are
//! read through etherparse's slices, which check every length before
//! they hand out a field, so nothing in this module indexes past the end
//! of the input. A frame that fails a check becomes a [`DecodeError`]
//! that the engine counts and turns into a decoder event.

pub mod checksum;
mod link;

use std::net::IpAddr;

use etherparse::{IpNumber, IpSlice};

pub use link::{strip_link, Link, LinkType};

/// TCP flag bits as they sit in the 13th byte of the header.
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;
}

/// One decoded packet. Every slice borrows the frame it came from.
#[derive(Debug, Clone)]
pub struct Packet<'a> {
    /// The frame as captured, link header included.
    pub frame: &'a [u8],
    pub link: Link,
    /// Offset of the IP header in `frame`.
    pub ip_offset: usize,
    pub ip: Ip<'a>,
    pub l4: L4<'a>,
    /// Transport payload (for a non-first fragment: the IP payload).
    pub payload: &'a [u8],
    /// A transport header that failed its checks: the packet is still
    /// seen at the IP layer (`ip` rules, decoder events), with `l4` set
    /// to [`L4::Other`].
    pub anomaly: Option<DecodeError>,
    /// Offset of the outer IP header when this packet came out of a
    /// tunnel (GRE); EVE's `packet` still shows the whole frame.
    pub tunnel_offset: Option<usize>,
}

/// The IP layer, common to both versions.
#[derive(Debug, Clone)]
pub struct Ip<'a> {
    pub version: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Protocol of the transport header after any IPv6 extensions.
    pub proto: u8,
    /// TTL or hop limit.
    pub ttl: u8,
    /// IPv4 identification, IPv6 fragment identification (0 if none).
    pub id: u32,
    pub tos: u8,
    /// The IP header with IPv4 options or IPv6 extension headers.
    pub header: &'a [u8],
    /// Fragment offset in bytes, and the more-fragments flag.
    pub frag_offset: u16,
    pub more_fragments: bool,
    pub dont_fragment: bool,
    /// Whole IP packet (header and payload) as bounded by its length field.
    pub datagram: &'a [u8],
}

impl Ip<'_> {
    pub fn is_fragment(&self) -> bool {
        self.frag_offset != 0 || self.more_fragments
    }
}

#[derive(Debug, Clone)]
pub enum L4<'a> {
    Tcp(Tcp<'a>),
    Udp {
        src_port: u16,
        dst_port: u16,
        checksum: u16,
    },
    Icmp(Icmp),
    /// A protocol without a decoder here, or a non-first fragment.
    Other,
}

#[derive(Debug, Clone)]
pub struct Tcp<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    pub urgent: u16,
    pub checksum: u16,
    /// The TCP header, options included.
    pub header: &'a [u8],
}

#[derive(Debug, Clone, Copy)]
pub struct Icmp {
    pub v6: bool,
    pub icmp_type: u8,
    pub code: u8,
    /// Bytes 4..8 of the ICMP header (identifier and sequence for echo).
    pub rest: [u8; 4],
}

impl Packet<'_> {
    pub fn ports(&self) -> (u16, u16) {
        match &self.l4 {
            L4::Tcp(t) => (t.src_port, t.dst_port),
            L4::Udp {
                src_port, dst_port, ..
            } => (*src_port, *dst_port),
            _ => (0, 0),
        }
    }

    pub fn tcp(&self) -> Option<&Tcp<'_>> {
        match &self.l4 {
            L4::Tcp(t) => Some(t),
            _ => None,
        }
    }
}

/// Why a frame could not be decoded. Each kind is counted under its
/// [`DecodeError::event`] name, in Suricata's decoder event naming.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    LinkTruncated,
    NotIp,
    Ipv4Truncated,
    Ipv4Invalid,
    Ipv6Truncated,
    Ipv6Invalid,
    TcpTruncated,
    TcpInvalid,
    UdpTruncated,
    IcmpTruncated,
}

impl DecodeError {
    pub fn event(self) -> &'static str {
        match self {
            DecodeError::LinkTruncated => "decoder.link.pkt_too_small",
            DecodeError::NotIp => "decoder.not_ip",
            DecodeError::Ipv4Truncated => "decoder.ipv4.trunc_pkt",
            DecodeError::Ipv4Invalid => "decoder.ipv4.hlen_too_small",
            DecodeError::Ipv6Truncated => "decoder.ipv6.trunc_pkt",
            DecodeError::Ipv6Invalid => "decoder.ipv6.wrong_ip_version",
            DecodeError::TcpTruncated => "decoder.tcp.pkt_too_small",
            DecodeError::TcpInvalid => "decoder.tcp.hlen_too_small",
            DecodeError::UdpTruncated => "decoder.udp.pkt_too_small",
            DecodeError::IcmpTruncated => "decoder.icmpv4.pkt_too_small",
        }
    }
}

/// Decodes one frame of the given link type. Link and IP failures are
/// errors; a bad transport header leaves an IP-level packet with an
/// [`Packet::anomaly`].
pub fn decode(frame: &[u8], link_type: LinkType) -> Result<Packet<'_>, DecodeError> {
    let (link, ip_offset) = strip_link(frame, link_type)?;
    let pkt = decode_ip(frame, link, ip_offset)?;
    Ok(decapsulate(pkt))
}

fn decode_ip(frame: &[u8], link: Link, ip_offset: usize) -> Result<Packet<'_>, DecodeError> {
    let l3 = frame.get(ip_offset..).ok_or(DecodeError::LinkTruncated)?;
    let ip_slice = IpSlice::from_slice(l3).map_err(|e| ip_error(l3, e))?;
    let ip = ip_view(&ip_slice, l3);
    let ip_payload = ip_slice.payload().payload;
    let mut pkt = Packet {
        frame,
        link,
        ip_offset,
        ip,
        l4: L4::Other,
        payload: ip_payload,
        anomaly: None,
        tunnel_offset: None,
    };

    // A non-first fragment carries no transport header; a first
    // fragment's header may be cut short, which defragmentation mends.
    if pkt.ip.frag_offset != 0 {
        return Ok(pkt);
    }
    match transport(pkt.ip.proto, ip_payload) {
        Ok((l4, payload)) => {
            pkt.l4 = l4;
            pkt.payload = payload;
        }
        Err(_) if pkt.ip.more_fragments => {}
        Err(e) => pkt.anomaly = Some(e),
    }
    Ok(pkt)
}

/// GRE (RFC 2784/2890) carrying IPv4 or IPv6: the inner packet is the
/// one that flows, rules and verdicts see. Anything else stays as is.
fn decapsulate(pkt: Packet<'_>) -> Packet<'_> {
    if pkt.ip.proto != 47 || pkt.ip.is_fragment() || pkt.tunnel_offset.is_some() {
        return pkt;
    }
    let gre = pkt.payload;
    let (Some(&flags), Some(proto)) = (gre.first(), gre.get(2..4)) else {
        return pkt;
    };
    // Version 0 only; C, K and S each add four bytes.
    if gre.get(1).map_or(true, |v| v & 0x07 != 0) {
        return pkt;
    }
    let len = 4 + 4 * [0x80u8, 0x20, 0x10]
        .iter()
        .filter(|b| flags & *b != 0)
        .count();
    let ethertype = u16::from_be_bytes([proto[0], proto[1]]);
    if !matches!(ethertype, 0x0800 | 0x86dd) || gre.len() < len {
        return pkt;
    }
    let inner_offset = pkt.frame.len() - gre.len() + len;
    match decode_ip(pkt.frame, pkt.link, inner_offset) {
        Ok(mut inner) => {
            inner.tunnel_offset = Some(pkt.ip_offset);
            inner
        }
        Err(_) => pkt,
    }
}

fn ip_error(l3: &[u8], e: etherparse::err::ip::SliceError) -> DecodeError {
    use etherparse::err::ip::SliceError as E;
    let v6 = l3.first().is_some_and(|b| b >> 4 == 6);
    match (e, v6) {
        (E::Len(_), false) => DecodeError::Ipv4Truncated,
        (E::Len(_), true) => DecodeError::Ipv6Truncated,
        (E::IpHeaders(h), _) => {
            use etherparse::err::ip::HeadersError;
            match h {
                HeadersError::Ip(_) if v6 => DecodeError::Ipv6Invalid,
                HeadersError::Ip(_) if l3.first().is_some_and(|b| b >> 4 == 4) => {
                    DecodeError::Ipv4Invalid
                }
                HeadersError::Ip(_) => DecodeError::NotIp,
                HeadersError::Ipv4Ext(_) => DecodeError::Ipv4Invalid,
                HeadersError::Ipv6Ext(_) => DecodeError::Ipv6Invalid,
            }
        }
    }
}

fn ip_view<'a>(s: &IpSlice<'a>, l3: &'a [u8]) -> Ip<'a> {
    match s {
        IpSlice::Ipv4(v4) => {
            let h = v4.header();
            let hlen = h.slice().len();
            let total = usize::from(h.total_len()).clamp(hlen, l3.len());
            Ip {
                version: 4,
                src: IpAddr::V4(h.source_addr()),
                dst: IpAddr::V4(h.destination_addr()),
                proto: v4.payload_ip_number().0,
                ttl: h.ttl(),
                id: u32::from(h.identification()),
                tos: l3.get(1).copied().unwrap_or(0),
                header: &l3[..hlen],
                frag_offset: h.fragments_offset().value() * 8,
                more_fragments: h.more_fragments(),
                dont_fragment: h.dont_fragment(),
                datagram: &l3[..total],
            }
        }
        IpSlice::Ipv6(v6) => {
            let h = v6.header();
            let payload = v6.payload().payload;
            let hlen = l3.len().saturating_sub(payload.len()).min(l3.len());
            let total = (40 + usize::from(h.payload_length())).clamp(hlen, l3.len());
            let (frag_offset, more, id) = v6_fragment(v6);
            Ip {
                version: 6,
                src: IpAddr::V6(h.source_addr()),
                dst: IpAddr::V6(h.destination_addr()),
                proto: v6.payload().ip_number.0,
                ttl: h.hop_limit(),
                id,
                tos: h.traffic_class(),
                header: &l3[..hlen],
                frag_offset,
                more_fragments: more,
                dont_fragment: false,
                datagram: &l3[..total],
            }
        }
    }
}

fn v6_fragment(v6: &etherparse::Ipv6Slice<'_>) -> (u16, bool, u32) {
    use etherparse::Ipv6ExtensionSlice;
    for ext in v6.extensions().clone().into_iter() {
        if let Ipv6ExtensionSlice::Fragment(f) = ext {
            return (
                f.fragment_offset().value() * 8,
                f.more_fragments(),
                f.identification(),
            );
        }
    }
    (0, false, 0)
}

fn transport(proto: u8, data: &[u8]) -> Result<(L4<'_>, &[u8]), DecodeError> {
    match IpNumber(proto) {
        IpNumber::TCP => match etherparse::TcpSlice::from_slice(data) {
            Ok(t) => {
                let header = t.header_slice();
                let flags = header.get(13).copied().unwrap_or(0);
                let tcp = Tcp {
                    src_port: t.source_port(),
                    dst_port: t.destination_port(),
                    seq: t.sequence_number(),
                    ack: t.acknowledgment_number(),
                    flags,
                    window: t.window_size(),
                    urgent: t.urgent_pointer(),
                    checksum: t.checksum(),
                    header,
                };
                Ok((L4::Tcp(tcp), t.payload()))
            }
            Err(etherparse::err::tcp::HeaderSliceError::Len(_)) => Err(DecodeError::TcpTruncated),
            Err(_) => Err(DecodeError::TcpInvalid),
        },
        IpNumber::UDP => match data {
            [a, b, c, d, _, _, e, f, rest @ ..] => Ok((
                L4::Udp {
                    src_port: u16::from_be_bytes([*a, *b]),
                    dst_port: u16::from_be_bytes([*c, *d]),
                    checksum: u16::from_be_bytes([*e, *f]),
                },
                rest,
            )),
            _ => Err(DecodeError::UdpTruncated),
        },
        IpNumber::ICMP | IpNumber::IPV6_ICMP => match data {
            [t, c, _, _, r0, r1, r2, r3, rest @ ..] => Ok((
                L4::Icmp(Icmp {
                    v6: proto == IpNumber::IPV6_ICMP.0,
                    icmp_type: *t,
                    code: *c,
                    rest: [*r0, *r1, *r2, *r3],
                }),
                rest,
            )),
            _ => Err(DecodeError::IcmpTruncated),
        },
        _ => Ok((L4::Other, data)),
    }
}

#[cfg(test)]
mod tests;
