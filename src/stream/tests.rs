use super::*;
use crate::flow::tcp::seq;

fn dir(base: u32) -> (StreamDir, StreamConfig, StreamMem) {
    let mut d = StreamDir::default();
    d.start(seq(base));
    (d, StreamConfig::default(), StreamMem::default())
}

/// Inserts with a policy (IDS) and delivers everything in order.
fn add(
    d: &mut StreamDir,
    c: &StreamConfig,
    m: &mut StreamMem,
    s: u32,
    data: &[u8],
) -> Option<usize> {
    let mut buf = data.to_vec();
    d.insert(c, m, Policy::Bsd, false, seq(s), &mut buf);
    d.deliver(c, m, None)
}

#[test]
fn in_order_segments_concatenate() {
    let (mut d, c, mut m) = dir(1000);
    assert_eq!(add(&mut d, &c, &mut m, 1000, b"GET /et"), Some(0));
    assert_eq!(add(&mut d, &c, &mut m, 1007, b"c/passwd"), Some(7));
    assert_eq!(d.window(), b"GET /etc/passwd");
    assert_eq!(m.used, 15);
}

#[test]
fn retransmission_adds_nothing_and_overlap_adds_the_tail() {
    let (mut d, c, mut m) = dir(0);
    add(&mut d, &c, &mut m, 0, b"abcd");
    assert_eq!(add(&mut d, &c, &mut m, 0, b"abcd"), None);
    assert_eq!(add(&mut d, &c, &mut m, 2, b"cdef"), Some(4));
    assert_eq!(d.window(), b"abcdef");
}

#[test]
fn out_of_order_waits_for_the_gap() {
    let (mut d, c, mut m) = dir(10);
    assert_eq!(add(&mut d, &c, &mut m, 13, b"def"), None);
    assert_eq!(d.gaps, 1);
    assert_eq!(add(&mut d, &c, &mut m, 10, b"abc"), Some(0));
    assert_eq!(d.window(), b"abcdef");
    assert_eq!(m.used, 6);
}

#[test]
fn wraps_at_two_to_the_32() {
    let (mut d, c, mut m) = dir(u32::MAX - 1);
    add(&mut d, &c, &mut m, u32::MAX - 1, b"ab");
    assert_eq!(add(&mut d, &c, &mut m, 0, b"cd"), Some(2));
    assert_eq!(d.window(), b"abcd");
}

#[test]
fn window_and_depth_are_capped() {
    let (mut d, mut c, mut m) = dir(0);
    c.window = 8;
    c.depth = 20;
    add(&mut d, &c, &mut m, 0, b"0123456789");
    assert_eq!(d.window(), b"0123456789", "new bytes are all kept");
    add(&mut d, &c, &mut m, 10, b"abc");
    assert_eq!(d.window(), b"0123456789abc", "under twice the cap");
    add(&mut d, &c, &mut m, 13, b"ABCD");
    assert_eq!(
        d.window(),
        b"9abcABCD",
        "past twice the cap: back to the cap"
    );
    assert_eq!(d.window_start(), 9);
    add(&mut d, &c, &mut m, 17, b"EFGHIJ");
    assert_eq!(d.next_offset(), 20);
    let mut more = b"x".to_vec();
    assert!(
        d.insert(&c, &mut m, Policy::Bsd, false, seq(20), &mut more)
            .past_depth
    );
    assert_eq!(m.used, d.held());
}

#[test]
fn caps_refuse_and_release_returns_bytes() {
    let (mut d, mut c, mut m) = dir(0);
    c.memcap = 4;
    let mut big = b"12345".to_vec();
    assert!(
        d.insert(&c, &mut m, Policy::Bsd, false, seq(0), &mut big)
            .over_cap
    );
    assert_eq!(m.memcap_hits, 1);
    add(&mut d, &c, &mut m, 0, b"123");
    d.release(&mut m);
    assert_eq!(m.used, 0);

    let (mut d, mut c, mut m) = dir(0);
    c.max_segments = 2;
    for s in [10, 20] {
        let mut b = b"x".to_vec();
        assert!(
            !d.insert(&c, &mut m, Policy::Bsd, false, seq(s), &mut b)
                .over_cap
        );
    }
    let mut b = b"y".to_vec();
    assert!(
        d.insert(&c, &mut m, Policy::Bsd, false, seq(30), &mut b)
            .over_cap
    );
}

#[test]
fn ids_delivers_only_acknowledged_bytes() {
    let (mut d, c, mut m) = dir(0);
    let mut a = b"GOOD".to_vec();
    d.insert(&c, &mut m, Policy::Bsd, false, seq(0), &mut a);
    assert_eq!(d.deliver(&c, &mut m, Some(0)), None, "nothing acked yet");
    // A second copy before the ACK: bsd keeps the first for an equal start.
    let mut b = b"EVIL".to_vec();
    let r = d.insert(&c, &mut m, Policy::Bsd, false, seq(0), &mut b);
    assert!(r.conflict && !r.rewritten);
    assert_eq!(d.deliver(&c, &mut m, Some(2)), Some(0));
    assert_eq!(d.window(), b"GO");
    assert_eq!(d.deliver(&c, &mut m, Some(4)), Some(2));
    assert_eq!(d.window(), b"GOOD");
    assert!(!d.has_pending());
    assert_eq!(m.used, 4);
}

/// The eve-payload cases: exact and partial overlaps under bsd, old-linux
/// and windows, before delivery.
#[test]
fn policies_pick_the_receivers_copy() {
    /// Policy, first copy at 0, where the second starts, second copy,
    /// and what the receiver reads.
    type Case = (Policy, &'static [u8], u32, &'static [u8], &'static [u8]);
    let cases: [Case; 4] = [
        (Policy::Bsd, b"GOOD", 0, b"EVIL", b"GOOD"),
        (Policy::OldLinux, b"GOOD", 0, b"EVIL", b"EVIL"),
        (Policy::Windows, b"GOOD", 0, b"EVIL", b"GOOD"),
        (Policy::Bsd, b"GOOD", 1, b"XXX", b"GOOD"),
    ];
    for (policy, first, at, second, want) in cases {
        let (mut d, c, mut m) = dir(0);
        let mut a = first.to_vec();
        d.insert(&c, &mut m, policy, false, seq(0), &mut a);
        let mut b = second.to_vec();
        d.insert(&c, &mut m, policy, false, seq(at), &mut b);
        d.deliver(&c, &mut m, None);
        assert_eq!(d.window(), want, "{policy:?}");
    }
}

#[test]
fn inline_keeps_the_accepted_copy_and_rewrites_the_packet() {
    let (mut d, c, mut m) = dir(0);
    let mut a = b"GOOD".to_vec();
    d.insert(&c, &mut m, Policy::Last, true, seq(0), &mut a);
    d.deliver(&c, &mut m, None);
    // Against delivered bytes.
    let mut b = b"EVIL".to_vec();
    let r = d.insert(&c, &mut m, Policy::Last, true, seq(0), &mut b);
    assert!(r.conflict && r.rewritten);
    assert_eq!(b, b"GOOD");
    // Against held (out-of-order, already forwarded) bytes the
    // receiver's policy decides; where it keeps the old copy, the new
    // one is rewritten to match.
    let mut x = b"late".to_vec();
    d.insert(&c, &mut m, Policy::First, true, seq(10), &mut x);
    let mut y = b"LATE!".to_vec();
    let r = d.insert(&c, &mut m, Policy::First, true, seq(10), &mut y);
    assert!(r.rewritten);
    assert_eq!(y, b"late!");
}

/// Evasion matrix form overlap-junk-first: junk out of order, then the
/// whole stream in order over it. A receiver that prefers the segment
/// starting earlier (bsd, linux) reads the in-order copy; so do we,
/// inline too, and nothing is rewritten.
#[test]
fn inline_follows_the_policy_against_held_bytes() {
    let (mut d, c, mut m) = dir(0);
    let mut junk = b"JUNK".to_vec();
    d.insert(&c, &mut m, Policy::Bsd, true, seq(4), &mut junk);
    let mut real = b"xxxxEVIL".to_vec();
    let r = d.insert(&c, &mut m, Policy::Bsd, true, seq(0), &mut real);
    assert!(r.conflict && !r.rewritten);
    d.deliver(&c, &mut m, None);
    assert_eq!(d.window(), b"xxxxEVIL");
}

#[test]
fn one_byte_segments_in_reverse_order() {
    let (mut d, c, mut m) = dir(0);
    let msg = b"ATTACK";
    for i in (1..msg.len()).rev() {
        assert_eq!(add(&mut d, &c, &mut m, i as u32, &msg[i..=i]), None);
    }
    assert_eq!(add(&mut d, &c, &mut m, 0, &msg[..1]), Some(0));
    assert_eq!(d.window(), msg);
    assert_eq!(m.used, msg.len());
}
