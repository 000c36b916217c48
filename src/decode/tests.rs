use super::*;

/// IPv4 + TCP SYN, 198.18.0.2:40000 -> 198.18.1.2:80, no payload.
/// 45 00 0028 | id 0001 | flags 40 00 (DF) | ttl 40 | proto 06 | csum 0000
/// src c6120002 | dst c6120102 | sport 9c40 | dport 0050 | seq 1 | ack 0
/// off 50 | flags 02 (SYN) | win ffff | csum 0000 | urg 0000
const SYN: [u8; 40] = [
    0x45, 0x00, 0x00, 0x28, 0x00, 0x01, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, 198, 18, 0, 2, 198, 18,
    1, 2, 0x9c, 0x40, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
];

#[test]
fn ipv4_tcp_syn() {
    let p = decode(&SYN, LinkType::Raw).expect("valid SYN");
    assert_eq!(p.ip.version, 4);
    assert_eq!(p.ip.ttl, 64);
    assert!(p.ip.dont_fragment);
    let t = p.tcp().expect("tcp");
    assert_eq!((t.src_port, t.dst_port), (40000, 80));
    assert_eq!(t.flags, tcp_flags::SYN);
    assert!(p.payload.is_empty());
}

#[test]
fn every_truncation_is_an_error_or_an_anomaly() {
    for n in 0..SYN.len() {
        // The IP header says 40 bytes: a shorter frame is a truncated
        // IP packet; nothing decodes as a clean TCP segment.
        match decode(&SYN[..n], LinkType::Raw) {
            Err(_) => {}
            Ok(p) => assert!(p.anomaly.is_some(), "prefix of {n} bytes decoded"),
        }
    }
}

/// mac-eve-packet: a TCP header longer than the IP packet leaves an
/// IP-level packet that `ip` rules still see, flagged as an anomaly.
#[test]
fn bad_tcp_header_length_keeps_the_ip_layer() {
    let mut f = SYN;
    f[32] = 0x60; // data offset 6 words = 24 bytes, but only 20 exist
    let p = decode(&f, LinkType::Raw).expect("ip layer decodes");
    assert!(matches!(p.l4, L4::Other));
    assert_eq!(p.anomaly, Some(DecodeError::TcpTruncated));
}

#[test]
fn gre_carries_an_inner_packet() {
    // Outer IPv4 proto 47, GRE with no options and ethertype IPv4,
    // then the SYN.
    let total = 20 + 4 + SYN.len();
    let mut f = vec![
        0x45,
        0,
        0,
        total as u8,
        0,
        0,
        0,
        0,
        64,
        47,
        0,
        0,
        10,
        0,
        0,
        1,
        10,
        0,
        0,
        2,
    ];
    f.extend_from_slice(&[0, 0, 0x08, 0x00]);
    f.extend_from_slice(&SYN);
    let p = decode(&f, LinkType::Raw).expect("gre");
    assert_eq!(p.tunnel_offset, Some(0));
    assert_eq!(p.ip_offset, 24);
    assert_eq!(p.ports(), (40000, 80));
}

#[test]
fn ethernet_vlan_is_stripped() {
    let mut f = vec![
        2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x81, 0x00, 0x00, 0x0a, 0x08, 0x00,
    ];
    f.extend_from_slice(&SYN);
    let p = decode(&f, LinkType::Ethernet).expect("tagged frame");
    assert_eq!(p.link.vlan, Some(10));
    assert_eq!(p.ip_offset, 18);
    assert_eq!(p.link.macs.map(|m| m.0[5]), Some(2));
}

#[test]
fn non_ip_ethertype_is_not_ip() {
    let f = [0u8, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 0x08, 0x06, 0, 0];
    assert_eq!(
        decode(&f, LinkType::Ethernet).err(),
        Some(DecodeError::NotIp)
    );
}

#[test]
fn udp_and_icmp() {
    // IPv4 + UDP 1.2.3.4:53 -> 5.6.7.8:1000, payload "hi".
    let mut u = vec![
        0x45, 0, 0, 30, 0, 0, 0, 0, 64, 17, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8,
    ];
    u.extend_from_slice(&[0, 53, 0x03, 0xe8, 0, 10, 0, 0, b'h', b'i']);
    let p = decode(&u, LinkType::Raw).expect("udp");
    assert_eq!(p.ports(), (53, 1000));
    assert_eq!(p.payload, b"hi");

    // IPv4 + ICMP echo request id 7 seq 1.
    let mut i = vec![
        0x45, 0, 0, 28, 0, 0, 0, 0, 64, 1, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8,
    ];
    i.extend_from_slice(&[8, 0, 0, 0, 0, 7, 0, 1]);
    let p = decode(&i, LinkType::Raw).expect("icmp");
    match p.l4 {
        L4::Icmp(c) => assert_eq!((c.icmp_type, c.code, c.rest), (8, 0, [0, 7, 0, 1])),
        other => panic!("not icmp: {other:?}"),
    }
}

#[test]
fn ipv6_udp() {
    // IPv6 fd00::1 -> fd00::2, UDP 1 -> 2, no payload.
    let mut p6 = vec![0x60, 0, 0, 0, 0, 8, 17, 64];
    p6.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    p6.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    p6.extend_from_slice(&[0, 1, 0, 2, 0, 8, 0, 0]);
    let p = decode(&p6, LinkType::Raw).expect("v6");
    assert_eq!(p.ip.version, 6);
    assert_eq!(p.ip.ttl, 64);
    assert_eq!(p.ports(), (1, 2));
}

#[test]
fn garbage_never_panics() {
    // A cheap deterministic fuzz: every byte value at every position.
    for pos in 0..SYN.len() {
        for v in [0u8, 0x0f, 0x40, 0x45, 0x60, 0xff] {
            let mut f = SYN;
            f[pos] = v;
            let _ = decode(&f, LinkType::Raw);
            let _ = decode(&f, LinkType::Ethernet);
            let _ = decode(&f, LinkType::LinuxSll2);
        }
    }
}

/// Regression: pcaps of LINKTYPE_IPV4 (228) were logged as "RAW" (101);
/// EVE names the link type as the capture did.
#[test]
fn ipv4_and_ipv6_link_types_keep_their_names() {
    let v4 = LinkType::from_pcap(228).unwrap();
    assert_eq!((v4.number(), v4.name()), (228, "IPv4"));
    let v6 = LinkType::from_pcap(229).unwrap();
    assert_eq!((v6.number(), v6.name()), (229, "IPv6"));
    assert_eq!(LinkType::from_pcap(101).unwrap().name(), "RAW");
}
