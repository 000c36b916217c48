//! The engine end to end on synthetic conversations: rules parsed from
//! text, packets built with etherparse, time passed in. No devices.

mod common;

use common::*;
use etherparse::PacketBuilder;
use portcullis::decode::decode;
use portcullis::time::Ts;
use portcullis::verdict::Toward;
const DROP_RULE: &str = r#"drop tcp any any -> any 80 (msg:"evil"; flow:established,to_server; content:"EVIL"; sid:1;)"#;

#[test]
fn ips_drops_the_match_and_the_rest_of_the_flow() {
    let mut r = Run::new(engine(Mode::Ips, &[DROP_RULE]));
    r.handshake();
    let data = seg(
        true,
        F::ACK | F::PSH,
        101,
        501,
        b"GET /EVIL HTTP/1.0\r\n\r\n",
    );
    assert_eq!(r.send(&data), Verdict::Drop);
    assert_eq!(r.alerts(), vec![(1, "blocked".to_string())]);
    // Retransmission and later packets of the flow: dropped, no new alert.
    assert_eq!(r.send(&data), Verdict::Drop);
    assert_eq!(r.send(&seg(false, F::ACK, 501, 101, b"")), Verdict::Drop);
    assert_eq!(r.alerts().len(), 1);
}

#[test]
fn ids_alerts_on_acknowledged_data_and_forwards() {
    let mut r = Run::new(engine(Mode::Ids, &[DROP_RULE]));
    r.handshake();
    let req = b"GET /EVIL HTTP/1.0\r\n\r\n";
    assert_eq!(
        r.send(&seg(true, F::ACK | F::PSH, 101, 501, req)),
        Verdict::Forward
    );
    // Until the server acknowledges them, a later copy could still
    // replace these bytes at the receiver: not inspected yet.
    assert!(r.alerts().is_empty());
    let acked = 101 + req.len() as u32;
    assert_eq!(
        r.send(&seg(false, F::ACK, 501, acked, b"")),
        Verdict::Forward
    );
    assert_eq!(
        r.send(&seg(true, F::ACK, acked, 501, b"")),
        Verdict::Forward
    );
    assert_eq!(r.alerts(), vec![(1, "allowed".to_string())]);
}

#[test]
fn ids_inspects_unacknowledged_data_when_the_flow_ends() {
    let mut r = Run::new(engine(Mode::Ids, &[DROP_RULE]));
    r.handshake();
    r.send(&seg(true, F::ACK, 101, 501, b"GET /EVIL"));
    assert!(r.alerts().is_empty());
    let t = Ts(r.t + 1);
    r.engine.finish(t, &mut r.events);
    assert_eq!(r.alerts(), vec![(1, "allowed".to_string())]);
}

#[test]
fn inline_overlap_is_rewritten_to_the_accepted_bytes() {
    let rule = r#"alert tcp-pkt any any -> any any (msg:"evil pkt"; content:"EVIL"; sid:7;)"#;
    let mut r = Run::new(engine(Mode::Ips, &[rule, DROP_RULE]));
    r.handshake();
    assert_eq!(
        r.send(&seg(true, F::ACK, 101, 501, b"GOOD")),
        Verdict::Forward
    );
    // The same bytes again, different: forwarded as the accepted copy.
    assert_eq!(
        r.send(&seg(true, F::ACK, 101, 501, b"EVIL")),
        Verdict::Forward
    );
    let fwd = r.actions.replace.clone().expect("rewritten frame");
    let p = decode(&fwd, LinkType::Raw).expect("decode");
    assert_eq!(p.payload, b"GOOD");
    assert!(
        r.alerts().is_empty(),
        "neither copy reached detection as EVIL"
    );
}

#[test]
fn segment_whose_ttl_expires_before_the_server_does_not_feed_the_stream() {
    let mut r = Run::new(engine(Mode::Ips, &[DROP_RULE]));
    // The server is one router away: its packets arrive with TTL 63.
    r.send(&seg(true, F::SYN, 100, 0, b""));
    let mut synack = seg(false, F::SYN | F::ACK, 500, 101, b"");
    synack[8] = 63;
    fix_ip_checksum(&mut synack);
    r.send(&synack);
    r.send(&seg(true, F::ACK, 101, 501, b""));
    // Junk first, at the attack's sequence numbers: first-copy-wins
    // reassembly would keep it and miss the real bytes.
    let mut junk = seg(true, F::ACK, 101, 501, b"JUNK");
    junk[8] = 1;
    fix_ip_checksum(&mut junk);
    assert_eq!(
        r.send(&junk),
        Verdict::Drop,
        "it would die at the router anyway"
    );
    assert!(r.alerts().is_empty());
    assert_eq!(r.send(&seg(true, F::ACK, 101, 501, b"EVIL")), Verdict::Drop);
    assert_eq!(
        r.alerts().len(),
        1,
        "the copy that reaches the server is caught"
    );
}

fn fix_ip_checksum(p: &mut [u8]) {
    p[10] = 0;
    p[11] = 0;
    let mut acc = 0u32;
    for w in p[..20].chunks(2) {
        acc += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    let c = !(acc as u16);
    p[10..12].copy_from_slice(&c.to_be_bytes());
}

#[test]
fn pattern_split_across_segments_is_found() {
    let mut r = Run::new(engine(Mode::Ips, &[DROP_RULE]));
    r.handshake();
    assert_eq!(
        r.send(&seg(true, F::ACK, 101, 501, b"GET /EV")),
        Verdict::Forward
    );
    assert_eq!(
        r.send(&seg(true, F::ACK, 108, 501, b"IL HTTP/1.0")),
        Verdict::Drop
    );
    assert_eq!(r.alerts().len(), 1);
}

#[test]
fn out_of_order_segments_are_reassembled_before_matching() {
    let mut r = Run::new(engine(Mode::Ips, &[DROP_RULE]));
    r.handshake();
    // The second half arrives first: nothing to match yet.
    assert_eq!(
        r.send(&seg(true, F::ACK, 108, 501, b"IL HTTP/1.0")),
        Verdict::Forward
    );
    assert_eq!(
        r.send(&seg(true, F::ACK, 101, 501, b"GET /EV")),
        Verdict::Drop
    );
    assert_eq!(r.alerts().len(), 1);
}

#[test]
fn reject_resets_both_ends_with_acceptable_sequence_numbers() {
    let rule = r#"reject tcp any any -> any 80 (msg:"r"; content:"/reject-me"; sid:2;)"#;
    let mut r = Run::new(engine(Mode::Ips, &[rule]));
    r.handshake();
    let data = seg(
        true,
        F::ACK | F::PSH,
        101,
        501,
        b"GET /reject-me HTTP/1.0\r\n\r\n",
    );
    assert_eq!(r.send(&data), Verdict::Drop);
    let inj = &r.actions.inject;
    assert_eq!(inj.len(), 2);
    let to_client = decode(&inj[0].bytes, LinkType::Raw).expect("rst");
    let t = to_client.tcp().expect("tcp");
    assert_eq!(inj[0].toward, Toward::Sender);
    assert_eq!((t.seq, t.flags & F::RST), (501, F::RST));
    let to_server = decode(&inj[1].bytes, LinkType::Raw).expect("rst");
    assert_eq!(to_server.tcp().map(|t| t.seq), Some(101));
}

#[test]
fn pass_stops_inspection_of_the_flow() {
    let pass = r#"pass tcp any any -> any 80 (msg:"p"; content:"/healthz"; sid:3;)"#;
    let mut r = Run::new(engine(Mode::Ips, &[pass, DROP_RULE]));
    r.handshake();
    let data = seg(true, F::ACK, 101, 501, b"GET /healthz EVIL");
    assert_eq!(r.send(&data), Verdict::Forward);
    assert_eq!(
        r.send(&seg(true, F::ACK, 118, 501, b"EVIL")),
        Verdict::Forward
    );
    assert!(r.alerts().is_empty(), "pass rules do not alert");
}

#[test]
fn third_ack_is_not_yet_established() {
    // like-ip-only-01: Suricata counts the handshake's last ACK as not
    // established; the first data packet is.
    let rule = r#"alert tcp any any -> any any (msg:"e"; flow:established; sid:4;)"#;
    let mut r = Run::new(engine(Mode::Ids, &[rule]));
    r.handshake();
    assert!(r.alerts().is_empty());
    r.send(&seg(true, F::ACK, 101, 501, b"x"));
    assert_eq!(r.alerts().len(), 1);
}

/// Insertion: a bad-checksum segment carrying the first half must not
/// join the stream; the half the server really gets is what counts.
#[test]
fn bad_checksum_segment_does_not_feed_the_stream() {
    let mut r = Run::new(engine(Mode::Ips, &[DROP_RULE]));
    r.handshake();
    let mut junk = seg(true, F::ACK, 101, 501, b"EV");
    junk[36] ^= 0xff; // the TCP checksum
    assert_eq!(
        r.send(&junk),
        Verdict::Drop,
        "IPS refuses what a host would discard"
    );
    assert_eq!(
        r.send(&seg(true, F::ACK, 101, 501, b"xx")),
        Verdict::Forward
    );
    assert_eq!(
        r.send(&seg(true, F::ACK, 103, 501, b"IL")),
        Verdict::Forward
    );
    assert!(r.alerts().is_empty(), "the stream holds xxIL, not EVIL");
    assert_eq!(r.engine.stats.invalid_checksums.values().sum::<u64>(), 1);
}

/// bug-1045: a capture taken where the NIC computes checksums; Suricata
/// still matches such packets' payloads as packets.
#[test]
fn bad_checksum_packet_is_still_inspected_as_a_packet() {
    let rule = r#"alert tcp any any -> any 80 (msg:"e"; content:"EVIL"; sid:8;)"#;
    let mut r = Run::new(engine(Mode::Ids, &[rule]));
    r.handshake();
    let mut pkt = seg(true, F::ACK, 101, 501, b"EVIL");
    pkt[36] ^= 0xff; // TCP checksum
    assert_eq!(r.send(&pkt), Verdict::Forward);
    assert_eq!(r.alerts(), vec![(8, "allowed".to_string())]);
}

#[test]
fn malformed_packets_are_counted_dropped_in_ips_passed_in_ids() {
    for (mode, want) in [(Mode::Ips, Verdict::Drop), (Mode::Ids, Verdict::Forward)] {
        let mut r = Run::new(engine(mode, &[DROP_RULE]));
        let mut bad = seg(true, F::SYN, 1, 0, b"");
        bad.truncate(30); // IP header says 40 bytes
        assert_eq!(r.send(&bad), want);
        assert_eq!(r.engine.stats.decoder_errors.values().sum::<u64>(), 1);
    }
}

#[test]
fn udp_reject_answers_icmp_admin_prohibited() {
    let rule = r#"reject udp any any -> any 9001 (msg:"u"; content:"probe"; sid:5;)"#;
    let mut r = Run::new(engine(Mode::Ips, &[rule]));
    let mut pkt = Vec::new();
    PacketBuilder::ipv4(CLIENT, SERVER, 64)
        .udp(5000, 9001)
        .write(&mut pkt, b"probe\n")
        .expect("build");
    assert_eq!(r.send(&pkt), Verdict::Drop);
    let icmp = decode(&r.actions.inject[0].bytes, LinkType::Raw).expect("icmp");
    assert_eq!(icmp.ip.dst, std::net::IpAddr::from(CLIENT));
    assert_eq!(icmp.ip.proto, 1);
}

/// Splits an IPv4 packet's payload into fragments of `size` bytes.
fn fragments(whole: &[u8], size: usize) -> Vec<Vec<u8>> {
    let (hdr, body) = whole.split_at(20);
    let mut out = Vec::new();
    for (i, chunk) in body.chunks(size).enumerate() {
        let mut f = hdr.to_vec();
        let off = (i * size / 8) as u16;
        let more = (i + 1) * size < body.len();
        let flags_off = off | if more { 0x2000 } else { 0 };
        f[2..4].copy_from_slice(&((20 + chunk.len()) as u16).to_be_bytes());
        f[4..6].copy_from_slice(&[0x12, 0x34]);
        f[6..8].copy_from_slice(&flags_off.to_be_bytes());
        f.extend_from_slice(chunk);
        fix_ip_checksum(&mut f);
        out.push(f);
    }
    out
}

#[test]
fn reversed_fragments_are_reassembled_then_inspected_whole() {
    for mode in [Mode::Ips, Mode::Ids] {
        let mut r = Run::new(engine(mode, &[DROP_RULE]));
        r.handshake();
        let whole = seg(
            true,
            F::ACK | F::PSH,
            101,
            501,
            b"GET /EVIL HTTP/1.0\r\n\r\n",
        );
        let mut frags = fragments(&whole, 16);
        frags.reverse();
        let last = frags.pop().expect("fragments");
        for f in &frags {
            let want = if mode == Mode::Ips {
                Verdict::Drop
            } else {
                Verdict::Forward
            };
            assert_eq!(r.send(f), want, "fragments wait in IPS mode");
        }
        let v = r.send(&last);
        if mode == Mode::Ips {
            assert_eq!(v, Verdict::Drop, "the whole datagram matched");
            assert_eq!(r.alerts(), vec![(1, "blocked".to_string())]);
        } else {
            // IDS: inspected once the server acknowledges; here, at the end.
            let t = Ts(r.t + 1);
            r.engine.finish(t, &mut r.events);
            assert_eq!(r.alerts(), vec![(1, "allowed".to_string())]);
        }
    }
}

#[test]
fn benign_fragments_go_on_whole_in_ips_mode() {
    let mut r = Run::new(engine(Mode::Ips, &[DROP_RULE]));
    r.handshake();
    let whole = seg(
        true,
        F::ACK | F::PSH,
        101,
        501,
        b"GET /index.html HTTP/1.0\r\n\r\n",
    );
    let frags = fragments(&whole, 24);
    for f in &frags[..frags.len() - 1] {
        assert_eq!(r.send(f), Verdict::Drop);
    }
    assert_eq!(r.send(&frags[frags.len() - 1]), Verdict::Forward);
    let out = r.actions.replace.clone().expect("the datagram, whole");
    let p = decode(&out, LinkType::Raw).expect("decode");
    assert!(!p.ip.is_fragment());
    assert_eq!(p.payload, b"GET /index.html HTTP/1.0\r\n\r\n");
}

/// netns test_split_pattern, IDS mode: the phrase in two writes with
/// a pause, then FIN; each half acknowledged in between.
#[test]
fn ids_split_phrase_then_fin_is_caught() {
    let rule = r#"drop tcp any any -> any 80 (msg:"knock"; flow:established,to_server; content:"knock-knock-portcullis"; sid:11;)"#;
    let mut r = Run::new(engine(Mode::Ids, &[rule]));
    r.handshake();
    r.send(&seg(true, F::ACK | F::PSH, 101, 501, b"knock-knock-"));
    r.send(&seg(false, F::ACK, 501, 113, b""));
    r.send(&seg(true, F::ACK | F::PSH, 113, 501, b"portcullis"));
    r.send(&seg(false, F::ACK, 501, 123, b""));
    r.send(&seg(true, F::ACK | F::FIN, 123, 501, b""));
    assert_eq!(r.alerts(), vec![(11, "allowed".to_string())]);
}

/// The same, when the client's FIN overtakes the server's ACK and the
/// server closes at once: the rest is read when the connection closes,
/// and it was sent on an established connection.
#[test]
fn ids_split_phrase_flushed_at_close_counts_as_established() {
    let rule = r#"drop tcp any any -> any 80 (msg:"knock"; flow:established,to_server; content:"knock-knock-portcullis"; sid:11;)"#;
    let mut r = Run::new(engine(Mode::Ids, &[rule]));
    r.handshake();
    r.send(&seg(true, F::ACK | F::PSH, 101, 501, b"knock-knock-"));
    r.send(&seg(false, F::ACK, 501, 113, b""));
    r.send(&seg(true, F::ACK | F::PSH, 113, 501, b"portcullis"));
    r.send(&seg(true, F::ACK | F::FIN, 123, 501, b""));
    r.send(&seg(false, F::ACK, 501, 123, b""));
    assert!(r.alerts().is_empty());
    r.send(&seg(false, F::ACK | F::FIN, 501, 124, b""));
    assert_eq!(r.alerts(), vec![(11, "allowed".to_string())]);
}

/// Evasion matrix form urgent: an extra byte inside the attack, marked
/// urgent. The receiver takes it out of band and reads the attack.
#[test]
fn urgent_byte_is_taken_out_of_the_stream() {
    for mode in [Mode::Ids, Mode::Ips] {
        let mut r = Run::new(engine(mode, &[DROP_RULE]));
        r.handshake();
        let mut pkt = Vec::new();
        PacketBuilder::ipv4(CLIENT, SERVER, 64)
            .tcp(40000, 80, 101, 65535)
            .ack(501)
            .urg(3)
            .write(&mut pkt, b"EV#IL")
            .expect("build");
        r.send(&pkt);
        r.send(&seg(false, F::ACK, 501, 106, b""));
        r.send(&seg(true, F::ACK, 106, 501, b""));
        let t = Ts(r.t + 1);
        r.engine.finish(t, &mut r.events);
        assert_eq!(r.alerts().len(), 1, "{mode:?}");
    }
}

/// Evasion matrix form paws: junk with a stale timestamp first; the
/// receiver drops it (RFC 7323), and so does the stream.
#[test]
fn stale_timestamp_segment_does_not_feed_the_stream() {
    use etherparse::TcpOptionElement::Timestamp;
    let mut r = Run::new(engine(Mode::Ips, &[DROP_RULE]));
    let ts = |to_server: bool, flags: u8, seq: u32, ack: u32, val: u32, data: &[u8]| {
        let (s, d, sp, dp) = if to_server {
            (CLIENT, SERVER, 40000, 80)
        } else {
            (SERVER, CLIENT, 80, 40000)
        };
        let mut b = PacketBuilder::ipv4(s, d, 64)
            .tcp(sp, dp, seq, 65535)
            .options(&[Timestamp(val, 0)])
            .expect("options");
        if flags & F::SYN != 0 {
            b = b.syn();
        }
        if flags & F::ACK != 0 {
            b = b.ack(ack);
        }
        let mut out = Vec::new();
        b.write(&mut out, data).expect("build");
        out
    };
    r.send(&ts(true, F::SYN, 100, 0, 1000, b""));
    r.send(&ts(false, F::SYN | F::ACK, 500, 101, 7000, b""));
    r.send(&ts(true, F::ACK, 101, 501, 1001, b""));
    assert_eq!(
        r.send(&ts(true, F::ACK, 101, 501, 5, b"JUNK")),
        Verdict::Drop
    );
    assert_eq!(
        r.send(&ts(true, F::ACK, 101, 501, 1002, b"EVIL")),
        Verdict::Drop
    );
    assert_eq!(r.alerts(), vec![(1, "blocked".to_string())]);
}

/// A full stream memcap must not let bytes through uninspected in IPS
/// mode (exception policy auto = drop-flow); IDS carries on.
#[test]
fn stream_memcap_fails_closed_in_ips_mode() {
    for (mode, want) in [(Mode::Ips, Verdict::Drop), (Mode::Ids, Verdict::Forward)] {
        let mut cfg = EngineConfig {
            mode,
            ..EngineConfig::default()
        };
        cfg.stream.memcap = 8;
        let mut r = Run::new(engine_with(cfg, &[DROP_RULE]));
        r.handshake();
        assert_eq!(
            r.send(&seg(true, F::ACK, 101, 501, b"GET /EV")),
            Verdict::Forward
        );
        assert_eq!(
            r.send(&seg(true, F::ACK, 108, 501, b"IL HTTP/1.0")),
            want,
            "{mode:?}"
        );
        assert_eq!(r.engine.stats.exception_policy_hits, 1);
    }
}

/// eve-payload-03: inline, a retransmission goes on again (rewritten to
/// the accepted bytes) and is inspected again, as Suricata does.
#[test]
fn inline_retransmission_is_inspected_again() {
    let rule = r#"alert tcp-stream any any -> any any (msg:"good"; content:"GOOD"; sid:2;)"#;
    let mut r = Run::new(engine(Mode::Ips, &[rule]));
    r.handshake();
    r.send(&seg(true, F::ACK, 101, 501, b"GOOD"));
    r.send(&seg(true, F::ACK, 101, 501, b"EVIL"));
    assert_eq!(r.alerts().len(), 2);
}

/// stream.midstream: a connection first seen after its handshake is
/// reassembled when pickup is on, and not otherwise (Suricata's default).
#[test]
fn midstream_pickup_only_when_enabled() {
    let rule = r#"alert tcp any any -> any 80 (msg:"s"; flow:established; content:"EVIL"; sid:9;)"#;
    for (on, want) in [(true, 1), (false, 0)] {
        let cfg = EngineConfig {
            mode: Mode::Ids,
            midstream: on,
            ..EngineConfig::default()
        };
        let mut r = Run::new(engine_with(cfg, &[rule]));
        r.send(&seg(true, F::ACK, 1000, 5000, b"GET /EV"));
        r.send(&seg(true, F::ACK, 1007, 5000, b"IL"));
        let t = Ts(r.t + 1);
        r.engine.finish(t, &mut r.events);
        assert_eq!(r.alerts().len(), want, "midstream {on}");
    }
}

/// Evasion matrix forms no-ack and bad-ack: junk a receiver drops for
/// its ACK field (none, or acknowledging unsent data) must not take the
/// attack's place in the stream.
#[test]
fn junk_with_an_unacceptable_ack_does_not_feed_the_stream() {
    for junk in [
        seg(true, F::PSH, 101, 0, b"JUNK"),
        seg(true, F::ACK, 101, 501 + 100_000, b"JUNK"),
    ] {
        let mut r = Run::new(engine(Mode::Ips, &[DROP_RULE]));
        r.handshake();
        assert_eq!(r.send(&junk), Verdict::Drop);
        assert_eq!(r.send(&seg(true, F::ACK, 101, 501, b"EVIL")), Verdict::Drop);
        assert_eq!(r.alerts(), vec![(1, "blocked".to_string())]);
    }
}
