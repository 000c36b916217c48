//! Defragmentation tests. Fragments are cut by hand from whole
//! datagrams that etherparse builds (so transport checksums are right
//! for the reassembled datagram), or written out byte by byte where the
//! layout is the point.

use super::*;
use crate::decode::{checksum, decode, LinkType, L4};

const SRC4: [u8; 4] = [198, 18, 0, 2];
const DST4: [u8; 4] = [198, 18, 1, 2];
const SRC6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
const DST6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2];

fn t(secs: u64) -> Ts {
    Ts::from_secs(1_000_000 + secs)
}

/// A whole IPv4/UDP datagram, id 0x1234, DF clear, `len` payload bytes.
fn udp4(len: usize) -> Vec<u8> {
    let payload: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
    let mut out = Vec::new();
    etherparse::PacketBuilder::ipv4(SRC4, DST4, 64)
        .udp(5353, 53)
        .write(&mut out, &payload)
        .expect("build");
    out[4..6].copy_from_slice(&0x1234u16.to_be_bytes());
    out[6] = 0; // clear DF: this datagram is going to be fragmented
    fix_v4_checksum(&mut out);
    out
}

fn fix_v4_checksum(d: &mut [u8]) {
    let hlen = usize::from(d[0] & 0x0f) * 4;
    d[10] = 0;
    d[11] = 0;
    let sum = ipv4_header_checksum(&d[..hlen]);
    d[10..12].copy_from_slice(&sum.to_be_bytes());
}

/// One IPv4 fragment of `d` (a whole datagram): its header with the
/// length, MF and offset set, and `d`'s payload bytes `[off, off+len)`.
fn cut4(d: &[u8], off: usize, len: usize, more: bool) -> Vec<u8> {
    let hlen = usize::from(d[0] & 0x0f) * 4;
    let body = &d[hlen..];
    let end = (off + len).min(body.len());
    v4_fragment(&d[..hlen], off, more, &body[off..end])
}

/// An IPv4 fragment from a header template and raw data.
fn v4_fragment(header: &[u8], off: usize, more: bool, data: &[u8]) -> Vec<u8> {
    let mut f = header.to_vec();
    let total = (f.len() + data.len()) as u16;
    f[2..4].copy_from_slice(&total.to_be_bytes());
    let field = (off / 8) as u16 | if more { 0x2000 } else { 0 };
    let field = field | (u16::from(f[6] & 0x40) << 8);
    f[6..8].copy_from_slice(&field.to_be_bytes());
    fix_v4_checksum(&mut f);
    f.extend_from_slice(data);
    f
}

/// Cuts `d` into fragments of `size` data bytes (a multiple of 8).
fn split4(d: &[u8], size: usize) -> Vec<Vec<u8>> {
    let hlen = usize::from(d[0] & 0x0f) * 4;
    let n = d.len() - hlen;
    (0..n)
        .step_by(size)
        .map(|off| cut4(d, off, size, off + size < n))
        .collect()
}

/// A whole IPv6/UDP datagram; with `hbh`, an 8-byte Hop-by-Hop header
/// (PadN only) sits between the fixed header and UDP.
fn udp6(len: usize, hbh: bool) -> Vec<u8> {
    let payload: Vec<u8> = (0..len).map(|i| (i * 13 % 241) as u8).collect();
    let mut out = Vec::new();
    etherparse::PacketBuilder::ipv6(SRC6, DST6, 64)
        .udp(5353, 53)
        .write(&mut out, &payload)
        .expect("build");
    if hbh {
        // next header 17 (UDP), hdr ext len 0 (8 bytes), PadN of 4: 01 04 0000 0000
        let h = [17u8, 0, 1, 4, 0, 0, 0, 0];
        out.splice(40..40, h);
        out[6] = 0; // fixed header now names Hop-by-Hop
        let plen = u16::from_be_bytes([out[4], out[5]]) + 8;
        out[4..6].copy_from_slice(&plen.to_be_bytes());
    }
    out
}

/// Length of the unfragmentable part of `d` in the tests' datagrams.
fn unfrag6(d: &[u8]) -> usize {
    if d[6] == 0 {
        48
    } else {
        40
    }
}

/// One IPv6 fragment of `d`: unfragmentable part, a Fragment header
/// (id 0xabcd0001) in front of the fragmentable bytes `[off, off+len)`.
fn cut6(d: &[u8], off: usize, len: usize, more: bool) -> Vec<u8> {
    let u = unfrag6(d);
    let body = &d[u..];
    let end = (off + len).min(body.len());
    // The header that named the upper layer now names the Fragment
    // header; the Fragment header names the upper layer.
    let nh_at = if u == 48 { 40 } else { 6 };
    v6_fragment(&d[..u], nh_at, d[nh_at], off, more, &body[off..end])
}

fn v6_fragment(
    unfrag: &[u8],
    nh_at: usize,
    next: u8,
    off: usize,
    more: bool,
    data: &[u8],
) -> Vec<u8> {
    let mut f = unfrag.to_vec();
    f[nh_at] = 44;
    // Fragment header: next header, reserved, offset<<3 | M, identification.
    let field = ((off / 8) as u16) << 3 | u16::from(more);
    f.extend_from_slice(&[next, 0]);
    f.extend_from_slice(&field.to_be_bytes());
    f.extend_from_slice(&0xabcd_0001u32.to_be_bytes());
    f.extend_from_slice(data);
    let plen = (f.len() - 40) as u16;
    f[4..6].copy_from_slice(&plen.to_be_bytes());
    f
}

fn split6(d: &[u8], size: usize) -> Vec<Vec<u8>> {
    let n = d.len() - unfrag6(d);
    (0..n)
        .step_by(size)
        .map(|off| cut6(d, off, size, off + size < n))
        .collect()
}

/// Feeds raw fragments; returns the outcome of the last one.
fn feed(d: &mut Defragmenter, frags: &[Vec<u8>], now: Ts, ev: &mut Vec<DefragEvent>) -> Outcome {
    let mut last = Outcome::NotFragment;
    for f in frags {
        let p = decode(f, LinkType::Raw).expect("test fragment decodes");
        last = d.add(&p, now, ev);
    }
    last
}

fn complete(o: Outcome) -> Vec<u8> {
    match o {
        Outcome::Complete(b) => b,
        other => panic!("expected a complete datagram, got {other:?}"),
    }
}

fn defrag() -> Defragmenter {
    Defragmenter::new(DefragConfig::default())
}

#[test]
fn not_a_fragment_passes() {
    let whole = udp4(40);
    let p = decode(&whole, LinkType::Raw).expect("decode");
    let mut ev = Vec::new();
    assert_eq!(defrag().add(&p, t(0), &mut ev), Outcome::NotFragment);
    assert!(ev.is_empty());
}

/// RFC 6946: offset 0 with M clear is an atomic fragment, not part of
/// any reassembly.
#[test]
fn ipv6_atomic_fragment_is_not_a_fragment() {
    let whole = udp6(16, false);
    let atomic = cut6(&whole, 0, 64, false);
    let p = decode(&atomic, LinkType::Raw).expect("decode");
    let mut d = defrag();
    assert_eq!(d.add(&p, t(0), &mut Vec::new()), Outcome::NotFragment);
    assert_eq!(d.in_progress(), 0);
}

#[test]
fn ipv4_in_order_and_reversed_rebuild_the_datagram() {
    let whole = udp4(100); // 8 UDP + 100 = 108 bytes after the header
    for reverse in [false, true] {
        let mut frags = split4(&whole, 32);
        assert_eq!(frags.len(), 4);
        if reverse {
            frags.reverse();
        }
        let mut d = defrag();
        let mut ev = Vec::new();
        for f in &frags[..3] {
            let p = decode(f, LinkType::Raw).expect("decode");
            assert_eq!(d.add(&p, t(0), &mut ev), Outcome::Held);
        }
        let out = complete(feed(&mut d, &frags[3..], t(1), &mut ev));
        assert_eq!(out, whole, "reverse={reverse}");
        assert!(ev.is_empty(), "{ev:?}");
        // The header checksum was recomputed and the UDP checksum
        // (over the whole datagram) holds.
        let p = decode(&out, LinkType::Raw).expect("decode");
        assert_eq!(checksum::verify(&p), Ok(()));
        assert!(matches!(p.l4, L4::Udp { dst_port: 53, .. }));
        assert_eq!(d.mem_used(), 0);
        assert_eq!(d.in_progress(), 0);
        assert_eq!(d.stats().ipv4_reassembled, 1);
    }
}

#[test]
fn ipv4_options_and_flags_in_the_output() {
    // Header with a 4-byte option (NOP NOP NOP EOL), so IHL 6.
    let mut h = udp4(0)[..20].to_vec();
    h[0] = 0x46;
    h.extend_from_slice(&[1, 1, 1, 0]);
    h[6] = 0x40; // DF on a fragment: nonsense, but kept as sent
    let a = v4_fragment(&h, 0, true, &[0xaa; 16]);
    let mut plain = udp4(0)[..20].to_vec();
    plain[6] = 0x40;
    let b = v4_fragment(&plain, 16, false, &[0xbb; 8]);
    let mut d = defrag();
    let out = complete(feed(&mut d, &[a, b], t(0), &mut Vec::new()));
    // 24-byte header from the first fragment, 24 data bytes.
    assert_eq!(out.len(), 48);
    assert_eq!(out[0], 0x46);
    assert_eq!(&out[2..4], &48u16.to_be_bytes());
    assert_eq!(&out[6..8], &[0x40, 0], "DF kept, MF and offset cleared");
    assert_eq!(ipv4_header_checksum(&out[..24]), 0, "checksum verifies");
    assert_eq!(&out[24..40], &[0xaa; 16]);
    assert_eq!(&out[40..], &[0xbb; 8]);
}

#[test]
fn ipv6_with_and_without_hop_by_hop() {
    for hbh in [false, true] {
        let whole = udp6(200, hbh);
        let mut frags = split6(&whole, 64);
        frags.swap(0, 2);
        let mut d = defrag();
        let mut ev = Vec::new();
        let out = complete(feed(&mut d, &frags, t(0), &mut ev));
        assert_eq!(
            out, whole,
            "hbh={hbh}: fragment header removed, chain relinked"
        );
        assert!(ev.is_empty(), "{ev:?}");
        let p = decode(&out, LinkType::Raw).expect("decode");
        assert_eq!(checksum::verify(&p), Ok(()));
        assert!(!p.ip.is_fragment());
        assert_eq!(d.stats().ipv6_reassembled, 1);
        assert_eq!(d.mem_used(), 0);
    }
}

/// The Novak pattern ("Target-Based Fragmentation Reassembly", 2005), as
/// Suricata's tests use it: nine fragments that tile 0..184 with gaps,
/// then eight that overlap them, then the last. Each letter is one
/// 8-byte block; offsets and lengths in blocks.
const NOVAK: [(char, usize, usize); 17] = [
    ('A', 0, 3),  // <1>
    ('B', 4, 2),  // <2>
    ('C', 6, 3),  // <3>
    ('D', 10, 1), // <3_1>
    ('E', 13, 2), // <3_2>
    ('F', 15, 3), // <3_3>
    ('G', 18, 2), // <3_4>
    ('H', 20, 2), // <3_5>
    ('I', 22, 1), // <3_6>
    ('J', 1, 4),  // <4>  over A's tail, the gap and B's head
    ('K', 6, 3),  // <5>  exactly over C
    ('L', 9, 3),  // <6>  around D
    ('M', 12, 3), // <7>  before E, ending with it
    ('N', 16, 1), // <8>  inside F
    ('O', 19, 1), // <9>  G's tail
    ('P', 20, 1), // <10> H's head
    ('Q', 22, 2), // <11> last: over I and beyond
];

/// Reassembled blocks per policy. All but bsd-right are the results
/// Suricata's tests pin; bsd-right follows this module's predicate.
const NOVAK_RESULTS: [(Policy, &str); 7] = [
    (Policy::Bsd, "AAAJJBCCCLLLMMMFFFGGHHIQ"),
    (Policy::Linux, "AAAJJBKKKLLLMMMFFFGGPHQQ"),
    (Policy::Windows, "AAAJBBCCCLLLMEEFFFGGHHIQ"),
    (Policy::Solaris, "AAAJBBCCCLLLMMMFFFGGHHIQ"),
    (Policy::First, "AAAJBBCCCLDLMEEFFFGGHHIQ"),
    (Policy::Last, "AJJJJBKKKLLLMMMFNFGOPHQQ"),
    (Policy::BsdRight, "AJJJBBCCCLLLMEEFFFGGHHQQ"),
];

fn novak_fragments(v6: bool) -> Vec<Vec<u8>> {
    let h4 = udp4(0)[..20].to_vec();
    let mut u6 = udp6(0, false)[..40].to_vec();
    u6[6] = 58; // ICMPv6 upper layer: no port-bearing header to check
    let mut h4 = h4;
    h4[9] = 1; // ICMP
    NOVAK
        .iter()
        .enumerate()
        .map(|(i, &(c, off, len))| {
            let data = vec![c as u8; len * 8];
            let more = i + 1 < NOVAK.len();
            if v6 {
                v6_fragment(&u6, 6, 58, off * 8, more, &data)
            } else {
                v4_fragment(&h4, off * 8, more, &data)
            }
        })
        .collect()
}

#[test]
fn novak_pattern_under_every_policy() {
    for v6 in [false, true] {
        for (policy, want) in NOVAK_RESULTS {
            let mut cfg = DefragConfig::default();
            cfg.policies.default = policy;
            let mut d = Defragmenter::new(cfg);
            let frags = novak_fragments(v6);
            let mut ev = Vec::new();

            // The nine originals do not overlap.
            assert_eq!(feed(&mut d, &frags[..9], t(0), &mut ev), Outcome::Held);
            assert!(ev.is_empty(), "{policy} v6={v6}: {ev:?}");
            assert_eq!(feed(&mut d, &frags[9..16], t(0), &mut ev), Outcome::Held);
            assert!(ev.contains(&DefragEvent::Overlap { v6 }));
            assert!(ev.contains(&DefragEvent::OverlapDifferentData { v6 }));

            let out = complete(feed(&mut d, &frags[16..], t(0), &mut ev));
            let hdr = if v6 { 40 } else { 20 };
            let blocks: String = out[hdr..]
                .chunks(8)
                .map(|b| {
                    assert!(b.iter().all(|x| *x == b[0]), "{policy}: mixed block");
                    b[0] as char
                })
                .collect();
            assert_eq!(blocks, want, "policy {policy}, v6={v6}");
            assert_eq!(d.mem_used(), 0);
        }
    }
}

#[test]
fn policy_follows_the_destination() {
    // Two fragments at offset 0: "old" then "new" over the same bytes.
    let h = udp4(0)[..20].to_vec();
    let old = v4_fragment(&h, 0, true, &[b'o'; 16]);
    let new = v4_fragment(&h, 0, true, &[b'n'; 16]);
    let last = v4_fragment(&h, 16, false, &[b'z'; 8]);
    let mut cfg = DefragConfig::default();
    cfg.set_policy("198.18.1.0/24", "linux").expect("valid");
    let mut d = Defragmenter::new(cfg);
    let out = complete(feed(
        &mut d,
        &[old.clone(), new.clone(), last.clone()],
        t(0),
        &mut Vec::new(),
    ));
    assert_eq!(
        &out[20..36],
        &[b'n'; 16],
        "linux: same offset, newcomer wins"
    );

    let mut d = defrag();
    let both = [old, new, last];
    let out = complete(feed(&mut d, &both, t(0), &mut Vec::new()));
    assert_eq!(&out[20..36], &[b'o'; 16], "default bsd: held copy wins");

    // The caller may choose instead, e.g. from the TCP host-os table.
    let mut hosts = crate::stream::PolicyTable::default();
    hosts.add("old-linux", "198.18.1.2").expect("valid");
    let mut d = defrag();
    let mut out = None;
    for f in &both {
        let p = decode(f, LinkType::Raw).expect("decode");
        let policy = hosts.lookup(p.ip.dst).into();
        if let Outcome::Complete(b) = d.add_with_policy(&p, t(0), policy, &mut Vec::new()) {
            out = Some(b);
        }
    }
    assert_eq!(
        &out.expect("complete")[20..36],
        &[b'n'; 16],
        "old-linux -> linux"
    );
}

#[test]
fn duplicates_overlap_without_differing() {
    let whole = udp4(64);
    let frags = split4(&whole, 24);
    let mut twice = Vec::new();
    for f in &frags[..frags.len() - 1] {
        twice.push(f.clone());
        twice.push(f.clone());
    }
    twice.push(frags[frags.len() - 1].clone());
    let mut d = defrag();
    let mut ev = Vec::new();
    let out = complete(feed(&mut d, &twice, t(0), &mut ev));
    assert_eq!(out, whole);
    assert!(ev.iter().all(|e| *e == DefragEvent::Overlap { v6: false }));
    assert_eq!(ev.len(), frags.len() - 1);
}

#[test]
fn tiny_first_fragment_is_flagged_and_still_reassembled() {
    // TCP SYN to port 80 cut after 8 bytes: ports in the first fragment,
    // flags in the second (RFC 1858 §3).
    let mut whole = Vec::new();
    etherparse::PacketBuilder::ipv4(SRC4, DST4, 64)
        .tcp(40000, 80, 1, 1024)
        .syn()
        .write(&mut whole, &[])
        .expect("build");
    whole[6] = 0;
    fix_v4_checksum(&mut whole);
    let frags = vec![cut4(&whole, 0, 8, true), cut4(&whole, 8, 12, false)];
    let mut d = defrag();
    let mut ev = Vec::new();
    let out = complete(feed(&mut d, &frags, t(0), &mut ev));
    assert_eq!(
        ev,
        [DefragEvent::TinyFragment {
            v6: false,
            len: 8,
            min: 20
        }]
    );
    assert_eq!(ev[0].name(), "defrag.ipv4.tiny_fragment");
    let p = decode(&out, LinkType::Raw).expect("decode");
    assert_eq!(
        p.tcp().map(|t| t.flags),
        Some(crate::decode::tcp_flags::SYN)
    );
}

#[test]
fn ipv6_overlap_dropped_under_rfc5722() {
    let whole = udp6(64, true);
    let mut frags = split6(&whole, 32);
    frags.insert(1, cut6(&whole, 16, 16, true)); // overlaps the first
    let cfg = DefragConfig {
        drop_overlaps_v6: true,
        ..DefragConfig::default()
    };
    let mut d = Defragmenter::new(cfg);
    let mut ev = Vec::new();
    assert_eq!(
        feed(&mut d, &frags[..2], t(0), &mut ev),
        Outcome::Refused(Refusal::Overlap)
    );
    assert_eq!(ev, [DefragEvent::Overlap { v6: true }]);
    assert_eq!(
        feed(&mut d, &frags[2..], t(0), &mut ev),
        Outcome::Refused(Refusal::DatagramDropped),
        "the rest of the datagram is refused too"
    );
}

#[test]
fn ipv6_non_last_fragment_must_be_a_multiple_of_8() {
    let whole = udp6(64, false);
    let bad = cut6(&whole, 0, 20, true);
    let mut ev = Vec::new();
    assert_eq!(
        feed(&mut defrag(), &[bad], t(0), &mut ev),
        Outcome::Refused(Refusal::InvalidLength)
    );
    assert_eq!(ev[0].name(), "decoder.ipv6.frag_invalid_length");
}

#[test]
fn timeout_expires_and_late_fragments_start_afresh() {
    let whole = udp4(64);
    let frags = split4(&whole, 24);
    let mut d = Defragmenter::new(DefragConfig {
        timeout_secs: 60,
        ..DefragConfig::default()
    });
    let mut ev = Vec::new();
    feed(&mut d, &frags[..1], t(0), &mut ev);
    assert_eq!(d.in_progress(), 1);
    assert!(d.mem_used() > 0);
    assert_eq!(d.expire(t(60), &mut ev), 0, "60 s idle is not past 60 s");
    assert_eq!(d.expire(t(61), &mut ev), 1);
    assert_eq!(
        ev,
        [DefragEvent::Timeout {
            v6: false,
            fragments: 1,
            bytes: TRACKER_OVERHEAD + 20 + 24 + FRAGMENT_OVERHEAD,
        }]
    );
    assert_eq!(ev[0].name(), "defrag.ipv4.timeouts");
    assert_eq!((d.in_progress(), d.mem_used()), (0, 0));

    // Without an expire call, a fragment arriving too late drops the
    // stale half first: the datagram never completes from two halves.
    ev.clear();
    feed(&mut d, &frags[..1], t(100), &mut ev);
    let late = feed(&mut d, &frags[1..], t(200), &mut ev);
    assert_eq!(late, Outcome::Held);
    assert_eq!(d.stats().ipv4_timeouts, 2);
    // With refresh on (Suricata's way), each fragment restarts the timer.
    let mut d = Defragmenter::new(DefragConfig {
        timeout_secs: 60,
        refresh_timeout: true,
        ..DefragConfig::default()
    });
    for (i, f) in frags.iter().enumerate() {
        let o = feed(&mut d, std::slice::from_ref(f), t(50 * i as u64), &mut ev);
        if i + 1 < frags.len() {
            assert_eq!(o, Outcome::Held);
        } else {
            assert_eq!(complete(o), whole);
        }
    }
}

#[test]
fn memcap_refuses_new_fragments_and_keeps_what_is_held() {
    let whole = udp4(200);
    let frags = split4(&whole, 64);
    let cfg = DefragConfig {
        // Room for one datagram's first fragment and a bit.
        memcap: TRACKER_OVERHEAD + 20 + 64 + FRAGMENT_OVERHEAD + 100,
        ..DefragConfig::default()
    };
    let mut d = Defragmenter::new(cfg);
    let mut ev = Vec::new();
    assert_eq!(feed(&mut d, &frags[..1], t(0), &mut ev), Outcome::Held);
    assert_eq!(
        feed(&mut d, &frags[1..2], t(0), &mut ev),
        Outcome::Refused(Refusal::Memcap)
    );
    assert_eq!(
        ev,
        [DefragEvent::Ignored {
            v6: false,
            cap: Cap::Memcap
        }]
    );
    assert_eq!(ev[0].name(), "decoder.ipv4.frag_ignored");
    assert!(d.mem_used() <= d.config().memcap);
    assert_eq!(d.stats().memcap_hits, 1);
    assert!(Refusal::Memcap.is_limit());

    // Once the held datagram times out its room is reused.
    assert_eq!(feed(&mut d, &frags[1..2], t(100), &mut ev), Outcome::Held);
}

#[test]
fn tracker_cap_refuses_new_datagrams_not_old_ones() {
    let cfg = DefragConfig {
        max_trackers: 2,
        ..DefragConfig::default()
    };
    let mut d = Defragmenter::new(cfg);
    let mut ev = Vec::new();
    let mut datagrams = Vec::new();
    for id in 0..3u16 {
        let mut w = udp4(40);
        w[4..6].copy_from_slice(&id.to_be_bytes());
        fix_v4_checksum(&mut w);
        datagrams.push(split4(&w, 24));
    }
    assert_eq!(
        feed(&mut d, &datagrams[0][..1], t(0), &mut ev),
        Outcome::Held
    );
    assert_eq!(
        feed(&mut d, &datagrams[1][..1], t(0), &mut ev),
        Outcome::Held
    );
    assert_eq!(
        feed(&mut d, &datagrams[2][..1], t(0), &mut ev),
        Outcome::Refused(Refusal::TooManyDatagrams)
    );
    assert!(matches!(
        feed(&mut d, &datagrams[0][1..], t(0), &mut ev),
        Outcome::Complete(_)
    ));
    assert_eq!(
        feed(&mut d, &datagrams[2][..1], t(0), &mut ev),
        Outcome::Held
    );
    assert_eq!(d.stats().tracker_hits, 1);
}

#[test]
fn too_many_fragments_drops_the_datagram() {
    let whole = udp4(200);
    let frags = split4(&whole, 16);
    let cfg = DefragConfig {
        max_frags_per_datagram: 4,
        ..DefragConfig::default()
    };
    let mut d = Defragmenter::new(cfg);
    let mut ev = Vec::new();
    assert_eq!(feed(&mut d, &frags[..4], t(0), &mut ev), Outcome::Held);
    assert_eq!(
        feed(&mut d, &frags[4..5], t(0), &mut ev),
        Outcome::Refused(Refusal::TooManyFragments)
    );
    assert_eq!(ev, [DefragEvent::MaxFragHits { v6: false }]);
    assert_eq!(ev[0].name(), "defrag.max_frag_hits");
    assert_eq!(
        feed(&mut d, &frags[5..], t(0), &mut ev),
        Outcome::Refused(Refusal::DatagramDropped)
    );
    assert_eq!(d.mem_used(), TRACKER_OVERHEAD, "only the tombstone is left");
    assert_eq!(d.expire(t(61), &mut ev), 1);
    assert_eq!(d.mem_used(), 0);
    assert_eq!(
        ev.len(),
        1,
        "no timeout event for a datagram already dropped"
    );
}

/// 8189 fragments of 8 bytes and a last of 3 fill the IPv4 maximum of
/// 65535 bytes exactly; offsets reach 8189 of the 8191 the 13-bit field
/// allows. A fragment at offset 8191 (65528 bytes) cannot fit.
#[test]
fn the_whole_ipv4_offset_range() {
    let h = udp4(0)[..20].to_vec();
    let mut h = h;
    h[9] = 253; // experimental protocol: no transport header expected
    let mut frags: Vec<Vec<u8>> = (0..8189)
        .map(|i| v4_fragment(&h, i * 8, true, &(i as u64).to_be_bytes()))
        .collect();
    frags.push(v4_fragment(&h, 8189 * 8, false, b"end"));
    frags.reverse();

    let cfg = DefragConfig {
        max_frags_per_datagram: 8192,
        ..DefragConfig::default()
    };
    let mut d = Defragmenter::new(cfg);
    let mut ev = Vec::new();
    let out = complete(feed(&mut d, &frags, t(0), &mut ev));
    assert!(ev.is_empty());
    assert_eq!(out.len(), 65_535);
    assert_eq!(&out[2..4], &[0xff, 0xff]);
    assert_eq!(&out[20 + 8 * 4242..20 + 8 * 4243], &4242u64.to_be_bytes());
    assert_eq!(&out[65_532..], b"end");

    // One byte more is refused, at the fragment.
    let over = v4_fragment(&h, 8189 * 8, false, b"end!");
    let mut ev = Vec::new();
    assert_eq!(
        feed(&mut d, &[over], t(0), &mut ev),
        Outcome::Refused(Refusal::TooLarge)
    );
    assert_eq!(ev[0].name(), "decoder.ipv4.frag_pkt_too_large");
    let top = v4_fragment(&h, 8191 * 8, false, &[0; 8]);
    assert_eq!(
        feed(&mut d, &[top], t(0), &mut ev),
        Outcome::Refused(Refusal::TooLarge)
    );

    // With the default cap the same train is dropped after 2048.
    let mut d = defrag();
    let mut ev = Vec::new();
    assert_eq!(
        feed(&mut d, &frags, t(0), &mut ev),
        Outcome::Refused(Refusal::DatagramDropped)
    );
    assert_eq!(d.stats().max_frag_hits, 1);
}

/// Each fragment fits, but the first one's 60-byte header (options) with
/// data laid out for a 20-byte header passes 65535: refused whole.
#[test]
fn reassembled_total_past_65535_is_refused() {
    let mut h = udp4(0)[..20].to_vec();
    h[9] = 253;
    let mut long = h.clone();
    long[0] = 0x4f;
    long.extend_from_slice(&[1; 40]); // 40 bytes of NOP options
    let first = v4_fragment(&long, 0, true, &[0; 1480]);
    let last_off = 65_000;
    let last = v4_fragment(&h, last_off, false, &[0; 515]); // ends at 65515
    let mut middle = Vec::new();
    let mut off = 1480;
    while off < last_off {
        middle.push(v4_fragment(
            &h,
            off,
            true,
            &vec![0; 1480.min(last_off - off)],
        ));
        off += 1480;
    }
    let mut d = defrag();
    let mut ev = Vec::new();
    assert_eq!(feed(&mut d, &[first], t(0), &mut ev), Outcome::Held);
    assert_eq!(feed(&mut d, &middle, t(0), &mut ev), Outcome::Held);
    assert_eq!(
        feed(&mut d, &[last], t(0), &mut ev),
        Outcome::Refused(Refusal::TooLarge)
    );
    assert_eq!(ev, [DefragEvent::PktTooLarge { v6: false }]);
    assert_eq!((d.in_progress(), d.mem_used()), (0, 0));
}

#[test]
fn conflicting_last_fragments_drop_the_datagram() {
    let h = udp4(0)[..20].to_vec();
    let frags = [
        v4_fragment(&h, 0, true, &[1; 16]),
        v4_fragment(&h, 16, false, &[2; 8]),
        v4_fragment(&h, 16, false, &[2; 16]),
    ];
    let mut d = defrag();
    let mut ev = Vec::new();
    assert_eq!(
        feed(&mut d, &frags[1..], t(0), &mut ev),
        Outcome::Refused(Refusal::Inconsistent)
    );
    assert_eq!(ev, [DefragEvent::InconsistentLength { v6: false }]);
    assert_eq!(
        feed(&mut d, &frags[..1], t(0), &mut ev),
        Outcome::Refused(Refusal::DatagramDropped)
    );
    // Data past a known end is the same contradiction.
    let mut d = defrag();
    let past = v4_fragment(&h, 24, true, &[3; 8]);
    assert_eq!(
        feed(&mut d, &[frags[1].clone(), past], t(0), &mut ev),
        Outcome::Refused(Refusal::Inconsistent)
    );
}

#[test]
fn empty_fragments_are_refused() {
    let h = udp4(0)[..20].to_vec();
    let f = v4_fragment(&h, 8, false, &[]);
    assert_eq!(
        feed(&mut defrag(), &[f], t(0), &mut Vec::new()),
        Outcome::Refused(Refusal::Empty)
    );
}

/// A small deterministic generator (xorshift), so the garbage is the
/// same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Random bytes and mutated fragments never panic, accounting never
/// goes wrong, and everything is released at the end.
#[test]
fn garbage_never_panics() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let seeds: Vec<Vec<u8>> = split4(&udp4(300), 48)
        .into_iter()
        .chain(split6(&udp6(300, true), 48))
        .chain(novak_fragments(false))
        .chain(novak_fragments(true))
        .collect();
    for policy in Policy::ALL {
        let mut cfg = DefragConfig::default();
        cfg.policies.default = policy;
        cfg.memcap = 64 * 1024;
        cfg.max_trackers = 64;
        cfg.drop_overlaps_v6 = rng.below(2) == 0;
        let mut d = Defragmenter::new(cfg);
        let mut ev = Vec::new();
        for i in 0..4000u64 {
            let mut f = seeds[rng.below(seeds.len())].clone();
            for _ in 0..rng.below(4) {
                let at = rng.below(f.len());
                f[at] = rng.next() as u8;
            }
            if rng.below(8) == 0 {
                f.truncate(rng.below(f.len() + 1));
            }
            if rng.below(16) == 0 {
                f = (0..rng.below(80)).map(|_| rng.next() as u8).collect();
            }
            if let Ok(p) = decode(&f, LinkType::Raw) {
                if let Outcome::Complete(b) = d.add(&p, t(i / 100), &mut ev) {
                    assert!(b.len() <= MAX_DATAGRAM);
                    assert!(decode(&b, LinkType::Raw).is_ok(), "{policy}");
                }
            }
            assert!(d.mem_used() <= d.config().memcap);
            if i % 500 == 0 {
                d.expire(t(i / 100), &mut ev);
            }
        }
        d.expire(t(10_000), &mut ev);
        assert_eq!((d.in_progress(), d.mem_used()), (0, 0), "{policy}");
    }
}

#[test]
fn event_names() {
    assert_eq!(
        DefragEvent::Overlap { v6: false }.name(),
        "decoder.ipv4.frag_overlap"
    );
    assert_eq!(
        DefragEvent::Overlap { v6: true }.name(),
        "decoder.ipv6.frag_overlap"
    );
    assert_eq!(
        DefragEvent::PktTooLarge { v6: true }.name(),
        "decoder.ipv6.frag_pkt_too_large"
    );
}

/// Ethernet with one 802.1Q tag: dst, src, 8100, TCI (VLAN id), 0800.
fn tagged(vlan: u16, ip: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x81, 0x00];
    f.extend_from_slice(&vlan.to_be_bytes());
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(ip);
    f
}

#[test]
fn vlans_do_not_mix_fragments() {
    let whole = udp4(40);
    let frags = split4(&whole, 24);
    let mut d = defrag();
    let mut ev = Vec::new();
    let mut add = |d: &mut Defragmenter, vlan: u16, ip: &[u8]| {
        let frame = tagged(vlan, ip);
        let p = decode(&frame, LinkType::Ethernet).expect("decode");
        d.add(&p, t(0), &mut ev)
    };
    assert_eq!(add(&mut d, 10, &frags[0]), Outcome::Held);
    assert_eq!(add(&mut d, 20, &frags[1]), Outcome::Held);
    assert_eq!(d.in_progress(), 2);
    assert_eq!(complete(add(&mut d, 10, &frags[1])), whole);
}

/// The trickle: "evil" at 0 s, an innocent middle fragment at 50 s,
/// "good" over the same bytes and the last at 61 s. An RFC 8200 / Linux
/// target discarded the datagram at 60 s and builds it from "good";
/// with a refreshing timer we would still hold "evil" (bsd keeps it).
#[test]
fn timer_from_the_first_fragment_follows_the_target() {
    let h = udp4(0)[..20].to_vec();
    let evil = v4_fragment(&h, 0, true, &[b'e'; 16]);
    let middle = v4_fragment(&h, 16, true, &[b'm'; 16]);
    let good = v4_fragment(&h, 0, true, &[b'g'; 16]);
    let last = v4_fragment(&h, 32, false, &[b'z'; 8]);
    for refresh in [true, false] {
        let cfg = DefragConfig {
            refresh_timeout: refresh,
            timeout_secs: 60,
            ..DefragConfig::default()
        };
        let mut d = Defragmenter::new(cfg);
        let mut ev = Vec::new();
        feed(&mut d, std::slice::from_ref(&evil), t(0), &mut ev);
        feed(&mut d, std::slice::from_ref(&middle), t(50), &mut ev);
        let o = feed(
            &mut d,
            &[good.clone(), middle.clone(), last.clone()],
            t(61),
            &mut ev,
        );
        let out = complete(o);
        let want = if refresh { b'e' } else { b'g' };
        assert_eq!(&out[20..36], &[want; 16], "refresh={refresh}");
    }
}

/// IPv6's limit is on the payload length, after the 40-byte fixed
/// header: fragmentable data may end at 65535, not one byte later.
#[test]
fn ipv6_payload_may_reach_65535() {
    let u6 = udp6(0, false)[..40].to_vec();
    let fits = v6_fragment(&u6, 6, 253, 65_528, false, &[0; 7]);
    let over = v6_fragment(&u6, 6, 253, 65_528, false, &[0; 8]);
    let mut d = defrag();
    let mut ev = Vec::new();
    assert_eq!(feed(&mut d, &[fits], t(0), &mut ev), Outcome::Held);
    assert_eq!(
        feed(&mut d, &[over], t(0), &mut ev),
        Outcome::Refused(Refusal::TooLarge)
    );
    assert_eq!(ev, [DefragEvent::PktTooLarge { v6: true }]);
}

/// Hop-by-Hop, Destination Options and Routing before the Fragment
/// header (RFC 8200 §4.1 order): all three stay in the unfragmentable
/// part; the Routing header's Next Header is relinked to UDP.
#[test]
fn ipv6_three_extension_headers_before_the_fragment_header() {
    let plain = udp6(100, false);
    let udp = &plain[40..];
    let mut whole = plain[..40].to_vec();
    whole[6] = 0; // Hop-by-Hop
    whole.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]); // HBH -> DestOpts, PadN
    whole.extend_from_slice(&[43, 0, 1, 4, 0, 0, 0, 0]); // DestOpts -> Routing, PadN
    whole.extend_from_slice(&[17, 0, 253, 0, 0, 0, 0, 0]); // Routing type 253, SL 0 -> UDP
    whole.extend_from_slice(udp);
    let plen = (whole.len() - 40) as u16;
    whole[4..6].copy_from_slice(&plen.to_be_bytes());

    let unfrag = &whole[..64];
    let body = &whole[64..];
    let frags: Vec<Vec<u8>> = (0..body.len())
        .step_by(48)
        .rev()
        .map(|off| {
            let end = (off + 48).min(body.len());
            v6_fragment(unfrag, 56, 17, off, end < body.len(), &body[off..end])
        })
        .collect();
    let mut d = defrag();
    let mut ev = Vec::new();
    let out = complete(feed(&mut d, &frags, t(0), &mut ev));
    assert_eq!(out, whole);
    assert!(ev.is_empty(), "{ev:?}");
    let p = decode(&out, LinkType::Raw).expect("decode");
    assert_eq!(checksum::verify(&p), Ok(()));
    assert!(matches!(p.l4, L4::Udp { dst_port: 53, .. }));
}

/// Random cuts of a random datagram, sent in random order with random
/// duplicates, rebuild it exactly under every policy.
#[test]
fn random_fragmentations_rebuild_exactly() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for round in 0..200 {
        let whole = udp4(8 + rng.below(3000));
        let n = whole.len() - 20;
        // Cut points on 8-byte boundaries.
        let mut cuts = vec![0];
        while let Some(&last) = cuts.last() {
            let next = last + 8 * (1 + rng.below(40));
            if next >= n {
                break;
            }
            cuts.push(next);
        }
        if cuts.len() == 1 {
            cuts.push(8); // one fragment at offset 0 would be no fragment
        }
        cuts.push(n);
        let mut frags: Vec<Vec<u8>> = cuts
            .windows(2)
            .map(|w| cut4(&whole, w[0], w[1] - w[0], w[1] < n))
            .collect();
        for _ in 0..rng.below(3) {
            let dup = frags[rng.below(frags.len())].clone();
            frags.push(dup);
        }
        // Fisher-Yates.
        for i in (1..frags.len()).rev() {
            frags.swap(i, rng.below(i + 1));
        }
        let policy = Policy::ALL[round % Policy::ALL.len()];
        let mut cfg = DefragConfig::default();
        cfg.policies.default = policy;
        let mut d = Defragmenter::new(cfg);
        let mut ev = Vec::new();
        let mut got = None;
        for f in &frags {
            let p = decode(f, LinkType::Raw).expect("decode");
            match d.add(&p, t(0), &mut ev) {
                Outcome::Complete(b) => got = Some(b),
                Outcome::Held => {}
                // A duplicate after completion opens a new datagram.
                other => panic!("{policy}: {other:?}"),
            }
        }
        assert_eq!(got.as_deref(), Some(&whole[..]), "{policy} round {round}");
        assert!(ev.iter().all(|e| *e == DefragEvent::Overlap { v6: false }));
    }
}

/// Overlapping fragments with random extents, each filled with its own
/// arrival number: under `first` every byte must come from the earliest
/// fragment covering it, under `last` from the latest, and under every
/// policy from *some* fragment covering it.
#[test]
fn overlaps_against_a_byte_model() {
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    let h = {
        let mut h = udp4(0)[..20].to_vec();
        h[9] = 253;
        h
    };
    for round in 0..600 {
        let policy = Policy::ALL[round % Policy::ALL.len()];
        let blocks = 1 + rng.below(24);
        // Fragments as (offset, len) in 8-byte blocks; arrival number
        // k+1 is the byte value. The final one is the last fragment.
        let mut frags: Vec<(usize, usize)> = (0..1 + rng.below(12))
            .map(|_| {
                let off = rng.below(blocks);
                (off, 1 + rng.below(blocks - off))
            })
            .collect();
        // Cover every block, and end with a block of its own: a
        // fragment spanning the whole datagram would be no fragment.
        frags.push((0, blocks));
        frags.push((blocks, 1));
        let turn = rng.below(frags.len());
        frags.rotate_right(turn);
        let mut cfg = DefragConfig::default();
        cfg.policies.default = policy;
        let mut d = Defragmenter::new(cfg);
        let mut ev = Vec::new();
        let mut done = None;
        for (k, &(off, len)) in frags.iter().enumerate() {
            let data = vec![(k + 1) as u8; len * 8];
            let more = off + len <= blocks;
            let f = v4_fragment(&h, off * 8, more, &data);
            let p = decode(&f, LinkType::Raw).expect("decode");
            if let Outcome::Complete(b) = d.add(&p, t(0), &mut ev) {
                done = Some((k, b));
                break;
            }
        }
        // The whole-span fragment guarantees completion by the end.
        let (done_at, out) = done.expect("completes");
        let seen = &frags[..=done_at];
        for (i, block) in out[20..].chunks(8).enumerate() {
            let owner = usize::from(block[0]);
            assert!(block.iter().all(|b| usize::from(*b) == owner));
            let mut covering = seen
                .iter()
                .enumerate()
                .filter(|(_, &(o, l))| o <= i && i < o + l)
                .map(|(k, _)| k + 1);
            assert!(
                covering.clone().any(|k| k == owner),
                "{policy} round {round}: block {i} from a fragment not covering it"
            );
            match policy {
                Policy::First => assert_eq!(covering.next(), Some(owner), "round {round}"),
                Policy::Last => assert_eq!(covering.next_back(), Some(owner), "round {round}"),
                _ => {}
            }
        }
    }
}

/// RFC 7112: a Destination Options header after the Fragment header is
/// part of the chain the first fragment must hold along with the upper
/// layer header. Here the first fragment holds only the options, and UDP
/// comes in the second: flagged, still reassembled.
#[test]
fn ipv6_first_fragment_without_the_upper_layer_header() {
    let plain = udp6(8, false);
    let mut u6 = plain[..40].to_vec();
    u6[6] = 58; // replaced by the fragment code's relinking
    let mut body = vec![17u8, 0, 1, 4, 0, 0, 0, 0]; // DestOpts -> UDP, PadN
    body.extend_from_slice(&plain[40..]);
    let first = v6_fragment(&u6, 6, 60, 0, true, &body[..8]);
    // Only the first fragment's Next Header counts (RFC 8200 §4.5), so
    // the second may name anything; it names UDP because the decoder
    // (etherparse) would read its payload as a Destination Options
    // header otherwise and reject it as truncated.
    let rest = v6_fragment(&u6, 6, 17, 8, false, &body[8..]);
    let mut d = defrag();
    let mut ev = Vec::new();
    let out = complete(feed(&mut d, &[first, rest], t(0), &mut ev));
    assert_eq!(
        ev,
        [DefragEvent::TinyFragment {
            v6: true,
            len: 8,
            min: 16
        }]
    );
    let p = decode(&out, LinkType::Raw).expect("decode");
    assert!(matches!(p.l4, L4::Udp { dst_port: 53, .. }));
}

/// Evasion matrix form frag4-timeout: by default the timer follows a
/// Linux target (30 s from the first fragment), so a junk first fragment
/// does not outlive the target's copy.
#[test]
fn default_timer_is_linuxs() {
    let cfg = DefragConfig::default();
    assert_eq!((cfg.timeout_secs, cfg.refresh_timeout), (30, false));
}
