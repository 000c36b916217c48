//! Detector tests: the content chain as a table, the header, streaming
//! across segments, and hit ordering.

use super::content::{Buf, Chain};
use super::*;
use crate::decode::{decode, tcp_flags, LinkType};
use crate::rules::{parse_rule, Classifications, Vars};

fn rule(text: &str) -> Rule {
    parse_rule(text, &Vars::default(), &Classifications::default())
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn chain(opts: &str) -> Chain {
    let r = rule(&format!("alert tcp any any -> any any ({opts} sid:1;)"));
    Chain::new(&r.options.matches).unwrap()
}

fn packet_buf(data: &[u8]) -> Buf<'_> {
    Buf {
        data,
        base: 0,
        new_from: 0,
    }
}

/// (options, payload, expected) — one row per content-chain behaviour.
const CHAIN_CASES: &[(&str, &[u8], bool)] = &[
    // offset / depth are absolute; depth counts from offset.
    (r#"content:"abc"; offset:2;"#, b"xxabc", true),
    (r#"content:"abc"; offset:3;"#, b"xxabc", false),
    (r#"content:"abc"; depth:5;"#, b"xxabc", true),
    (r#"content:"abc"; depth:4;"#, b"xxabc", false),
    (r#"content:"abc"; offset:1; depth:4;"#, b"xxabc", true),
    (r#"content:"abc"; offset:1; depth:3;"#, b"xxabc", false),
    // distance / within are relative to the previous match end.
    (
        r#"content:"ab"; content:"cd"; distance:2;"#,
        b"ab..cd",
        true,
    ),
    (
        r#"content:"ab"; content:"cd"; distance:3;"#,
        b"ab..cd",
        false,
    ),
    (r#"content:"ab"; content:"cd"; within:4;"#, b"ab..cd", true),
    (r#"content:"ab"; content:"cd"; within:3;"#, b"ab..cd", false),
    (
        r#"content:"ab"; content:"cd"; distance:1; within:3;"#,
        b"ab..cd",
        true,
    ),
    (
        r#"content:"ab"; content:"cd"; distance:1; within:2;"#,
        b"ab..cd",
        false,
    ),
    (
        r#"content:"cd"; content:"ab"; distance:-6;"#,
        b"ab..cd",
        true,
    ),
    (
        r#"content:"cd"; content:"ab"; distance:0;"#,
        b"ab..cd",
        false,
    ),
    // Backtracking: the first "ab" fails the within, the second fits.
    (
        r#"content:"ab"; content:"cd"; within:2;"#,
        b"ab..abcd",
        true,
    ),
    (
        r#"content:"a"; content:"b"; within:1; content:"c"; within:1;"#,
        b"ab.abc",
        true,
    ),
    // Negation.
    (r#"content:!"evil";"#, b"good", true),
    (r#"content:!"evil";"#, b"so evil", false),
    (
        r#"content:"GET"; content:!"Host"; distance:0;"#,
        b"Host GET /",
        true,
    ),
    (
        r#"content:"GET"; content:!"Host"; distance:0;"#,
        b"GET / Host",
        false,
    ),
    (r#"content:"a"; content:!"b"; within:2;"#, b"ab", false),
    (r#"content:"a"; content:!"b"; within:2;"#, b"a.b", false),
    (r#"content:"a"; content:!"b"; within:2;"#, b"a..b", true),
    // nocase.
    (r#"content:"AbC"; nocase;"#, b"xaBc", true),
    (r#"content:"AbC";"#, b"xaBc", false),
    (r#"content:"|41 42|";"#, b"AB", true),
    // startswith / endswith.
    (r#"content:"GET"; startswith;"#, b"GET /", true),
    (r#"content:"GET"; startswith;"#, b" GET /", false),
    (r#"content:"end"; endswith;"#, b"the end", true),
    (r#"content:"end"; endswith;"#, b"the end.", false),
    (r#"content:"end"; endswith;"#, b"end end", true),
    // pcre, alone and relative to a content.
    (r#"pcre:"/^GET \/[a-z]+\.php/i";"#, b"get /x.php", true),
    (r#"pcre:"/^GET/";"#, b" GET", false),
    // `^` with R anchors at the previous match end; backtracking finds
    // the second "id=".
    (r#"content:"id="; pcre:"/^[0-9]+/R";"#, b"id=x", false),
    (r#"content:"id="; pcre:"/^[0-9]+/R";"#, b"id=x id=42", true),
    (r#"content:"id="; pcre:"/^[0-9]+/R";"#, b"id=42", true),
    (r#"content:"id="; pcre:"/[0-9]+/R";"#, b"id=x id=42", true),
    (r#"content:"a"; pcre:!"/b/R";"#, b"ba", true),
    (r#"content:"a"; pcre:!"/b/R";"#, b"ab", false),
    (r#"pcre:"/x(?=y)/"; content:"z"; distance:0;"#, b"xyz", true),
    (r#"pcre:"/x(?=y)/"; content:"x"; distance:0;"#, b"xyx", true),
    (r#"pcre:"/ab/"; content:"c"; within:1;"#, b"ab.abc", true),
];

#[test]
fn content_chain_table() {
    for (opts, data, want) in CHAIN_CASES {
        let got = chain(opts).matches(&packet_buf(data));
        assert_eq!(got, *want, "{opts} on {:?}", String::from_utf8_lossy(data));
    }
}

#[test]
fn stream_offsets_count_from_stream_start() {
    let c = chain(r#"content:"abc"; depth:5;"#);
    // Window starts at stream offset 2: "abc" at offsets 2..5 fits.
    let buf = Buf {
        data: b"abcdef",
        base: 2,
        new_from: 0,
    };
    assert!(c.matches(&buf));
    let late = Buf { base: 3, ..buf };
    assert!(!c.matches(&late));
    // Old bytes only: no match, it fired before.
    let old = Buf {
        data: b"abcdef",
        base: 0,
        new_from: 4,
    };
    assert!(!c.matches(&old));
    let c = chain(r#"content:"abc"; content:"f"; distance:0;"#);
    assert!(c.matches(&old));
}

// --- packets ---------------------------------------------------------

fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, ttl: u8, l4: &[u8]) -> Vec<u8> {
    let total = (20 + l4.len()) as u16;
    let mut v = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, ttl, proto, 0, 0];
    v[2..4].copy_from_slice(&total.to_be_bytes());
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v.extend_from_slice(l4);
    v
}

fn tcp(sp: u16, dp: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&sp.to_be_bytes());
    t.extend_from_slice(&dp.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    t.extend_from_slice(payload);
    t
}

fn udp(sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sp.to_be_bytes());
    u.extend_from_slice(&dp.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

const CLIENT: [u8; 4] = [192, 168, 1, 10];
const SERVER: [u8; 4] = [203, 0, 113, 5];

fn detector(rules: &[&str]) -> Detector {
    Detector::build(rules.iter().map(|r| rule(r)).collect()).unwrap()
}

/// Sids that fire on `frame` as a packet (no stream data).
fn sids(d: &Detector, frame: &[u8], to_server: bool) -> Vec<u32> {
    let p = decode(frame, LinkType::Raw).unwrap();
    let input = Input {
        packet: &p,
        to_server,
        established: true,
        stream: None,
        stream_added: false,
        ts: crate::time::Ts(0),
        stream_sizes: None,
        events: &[],
        app: Default::default(),
    };
    run(d, &input, &mut DirState::default())
}

fn run(d: &Detector, input: &Input<'_>, state: &mut DirState) -> Vec<u32> {
    let mut hits = Vec::new();
    let (mut flow, mut globals) = (FlowVars::default(), Globals::default());
    d.inspect(
        input,
        state,
        &mut flow,
        &mut globals,
        &mut Scratch::default(),
        &mut hits,
    );
    hits.into_iter().map(|h| d.rule(h.id).sid).collect()
}

#[test]
fn header_lists_negation_and_bidirectional() {
    let d = detector(&[
        "alert tcp [192.168.0.0/16,!192.168.1.0/24] any -> any 80 (sid:1;)",
        "alert tcp $HOME_NET any -> ![203.0.113.0/24,10.0.0.0/8] any (sid:2;)",
        "alert tcp $HOME_NET ![1:1023] -> $EXTERNAL_NET [80,443] (sid:3;)",
        "alert tcp $EXTERNAL_NET 80 <> $HOME_NET any (sid:4;)",
        "alert tcp $EXTERNAL_NET 80 -> $HOME_NET any (sid:5;)",
        "alert udp any any -> any any (sid:6;)",
    ]);
    let out = ipv4(CLIENT, SERVER, 6, 64, &tcp(40000, 80, tcp_flags::ACK, b""));
    assert_eq!(sids(&d, &out, true), vec![3, 4]);
    let back = ipv4(SERVER, CLIENT, 6, 64, &tcp(80, 40000, tcp_flags::ACK, b""));
    assert_eq!(sids(&d, &back, false), vec![4, 5]);
}

#[test]
fn packet_keywords() {
    let d = detector(&[
        "alert tcp any any -> any any (flags:S; sid:1;)",
        "alert tcp any any -> any any (flags:SA; sid:2;)",
        "alert ip any any -> any any (ttl:<10; sid:3;)",
        "alert ip any any -> any any (ip_proto:udp; sid:4;)",
        "alert udp any any -> any any (dsize:>3; sid:5;)",
        "alert icmp any any -> any any (itype:8; icode:0; sid:6;)",
        "alert tcp any any -> any any (flow:to_client; sid:7;)",
        "alert udp any any -> any 53 (content:\"abc\"; sid:8;)",
        "alert ipv6 any any -> any any (sid:9;)",
    ]);
    let syn = ipv4(CLIENT, SERVER, 6, 5, &tcp(1, 2, tcp_flags::SYN, b""));
    assert_eq!(sids(&d, &syn, true), vec![1, 3]);
    let u = ipv4(CLIENT, SERVER, 17, 64, &udp(5, 53, b"xabcx"));
    assert_eq!(sids(&d, &u, true), vec![4, 5, 8]);
    let mut echo = vec![8, 0, 0, 0, 0, 7, 0, 1];
    echo.extend_from_slice(b"ping");
    let i = ipv4(CLIENT, SERVER, 1, 64, &echo);
    assert_eq!(sids(&d, &i, true), vec![6]);
}

#[test]
fn action_order_then_priority_then_sid() {
    let d = detector(&[
        "alert ip any any -> any any (priority:1; sid:10;)",
        "alert ip any any -> any any (priority:1; sid:5;)",
        "alert ip any any -> any any (sid:1;)",
        "reject ip any any -> any any (sid:20;)",
        "drop ip any any -> any any (priority:2; sid:30;)",
        "drop ip any any -> any any (priority:1; sid:31;)",
        "pass ip any any -> any any (sid:40;)",
    ]);
    let f = ipv4(CLIENT, SERVER, 17, 64, &udp(1, 2, b""));
    assert_eq!(sids(&d, &f, true), vec![40, 31, 30, 20, 5, 10, 1]);
}

/// A TCP segment carrying `payload`, inspected with a stream window.
fn stream_step(
    d: &Detector,
    state: &mut DirState,
    seg: &[u8],
    window: &[u8],
    window_start: u64,
) -> Vec<u32> {
    let frame = ipv4(CLIENT, SERVER, 6, 64, &tcp(40000, 80, tcp_flags::ACK, seg));
    let p = decode(&frame, LinkType::Raw).unwrap();
    let input = Input {
        packet: &p,
        to_server: true,
        established: true,
        stream: Some(StreamView {
            window,
            new_from: window.len() - seg.len(),
            window_start,
        }),
        stream_added: true,
        ts: crate::time::Ts(0),
        stream_sizes: None,
        events: &[],
        app: Default::default(),
    };
    run(d, &input, state)
}

#[test]
fn pattern_split_across_segments() {
    let d = detector(&[
        "alert tcp any any -> any 80 (content:\"needle\"; sid:1;)",
        "alert tcp any any -> any 80 (flow:to_server; content:\"USER\"; content:\"root\"; \
         distance:1; within:5; sid:2;)",
    ]);
    let mut st = DirState::default();
    let mut window = Vec::new();
    let mut feed = |st: &mut DirState, seg: &[u8]| {
        window.extend_from_slice(seg);
        stream_step(&d, st, seg, &window, 0)
    };
    assert_eq!(feed(&mut st, b"xx nee"), Vec::<u32>::new());
    assert_eq!(feed(&mut st, b"dle yy"), vec![1]);
    // Nothing new matches: the old occurrence must not fire again.
    assert_eq!(feed(&mut st, b" zz"), Vec::<u32>::new());
    // A multi-content rule completed by a later segment.
    assert_eq!(feed(&mut st, b"USER "), Vec::<u32>::new());
    assert_eq!(feed(&mut st, b"ro"), Vec::<u32>::new());
    assert_eq!(feed(&mut st, b"ot\r\n"), vec![2]);
    assert_eq!(feed(&mut st, b"needle"), vec![1]);
}

#[test]
fn stream_window_slides_and_gaps_restart() {
    let d = detector(&["alert tcp any any -> any any (content:\"needle\"; sid:1;)"]);
    let mut st = DirState::default();
    assert!(stream_step(&d, &mut st, b"..nee", b"..nee", 100).is_empty());
    // Contiguous; the window has dropped a byte it no longer needs.
    assert_eq!(stream_step(&d, &mut st, b"dle", b".needle", 101), vec![1]);
    // A gap (offset 500, not 105): start the automaton afresh.
    assert!(stream_step(&d, &mut st, b"dle", b"dle", 500).is_empty());
}

#[test]
fn pkt_and_stream_protocols() {
    let d = detector(&[
        "alert tcp-pkt any any -> any any (content:\"abc\"; sid:1;)",
        "alert tcp-stream any any -> any any (content:\"abc\"; sid:2;)",
        "alert tcp any any -> any any (content:\"abc\"; sid:3;)",
        "alert ip any any -> any any (content:\"abc\"; sid:4;)",
    ]);
    let frame = ipv4(CLIENT, SERVER, 6, 64, &tcp(1, 2, tcp_flags::ACK, b"abc"));
    assert_eq!(sids(&d, &frame, true), vec![1, 3, 4]);
    let mut st = DirState::default();
    assert_eq!(
        stream_step(&d, &mut st, b"abc", b"abc", 0),
        vec![1, 2, 3, 4]
    );
    // Stream data without the pattern in this packet's payload; a fresh
    // state scans the whole window once.
    let mut st = DirState::default();
    assert_eq!(stream_step(&d, &mut st, b"c", b"abc", 0), vec![2, 3]);
}

#[test]
fn nocase_and_case_sensitive_share_the_prefilter() {
    let d = detector(&[
        "alert udp any any -> any any (content:\"Admin\"; sid:1;)",
        "alert udp any any -> any any (content:\"admin\"; nocase; sid:2;)",
        "alert udp any any -> any any (content:\"x\"; content:!\"ADMIN\"; sid:3;)",
    ]);
    let f = ipv4(CLIENT, SERVER, 17, 64, &udp(1, 2, b"x ADMIN"));
    assert_eq!(sids(&d, &f, true), vec![2]);
    let f = ipv4(CLIENT, SERVER, 17, 64, &udp(1, 2, b"x Admin"));
    assert_eq!(sids(&d, &f, true), vec![1, 2, 3]);
}

#[test]
fn bad_pcre_is_rejected_not_fatal() {
    let d = Detector::build(vec![
        rule("alert ip any any -> any any (pcre:\"/(/\"; sid:1;)"),
        rule("alert ip any any -> any any (sid:2;)"),
    ])
    .unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(d.rejected()[0].sid, Some(1));
    assert_eq!(d.rejected()[0].keyword.as_deref(), Some("pcre"));
}

#[test]
fn fast_pattern_choice() {
    let r = rule(
        r#"alert tcp any any -> any any (content:"ab"; content:"longest"; content:"mid"; sid:1;)"#,
    );
    assert_eq!(fast_pattern(&r), Some(&b"longest"[..]));
    let r = rule(
        r#"alert tcp any any -> any any (content:"ab"; fast_pattern; content:"longest"; sid:1;)"#,
    );
    assert_eq!(fast_pattern(&r), Some(&b"ab"[..]));
    let r = rule(r#"alert tcp any any -> any any (content:"abcdef"; fast_pattern:2,3; sid:1;)"#);
    assert_eq!(fast_pattern(&r), Some(&b"cde"[..]));
    let r = rule(r#"alert tcp any any -> any any (content:!"longest"; content:"ab"; sid:1;)"#);
    assert_eq!(fast_pattern(&r), Some(&b"ab"[..]));
}

/// The loadable part of ET Open 2020 compiles, and a packet through it
/// does not panic.
#[test]
fn et_open_2020_builds() {
    let dir =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/et-open-2020");
    if !dir.is_dir() {
        println!("skipped: {} is absent", dir.display());
        return;
    }
    let classes = Classifications::load(&dir.join("classification.config")).unwrap();
    let loaded = crate::rules::load(&[dir], &Vars::default(), &classes);
    let total = loaded.rules.len();
    let d = Detector::build(loaded.rules).unwrap();
    let fallback = d.chains.iter().filter(|c| c.uses_fallback_regex()).count();
    println!(
        "ET Open 2020 detector: {} of {total} rules compiled, {} rejected, {fallback} pcre on fancy-regex",
        d.len(),
        d.rejected().len()
    );
    for e in d.rejected().iter().take(5) {
        println!("  rejected: {e}");
    }
    assert!(d.len() > total / 2);
    let f = ipv4(
        CLIENT,
        SERVER,
        6,
        64,
        &tcp(40000, 80, tcp_flags::ACK, b"GET / HTTP/1.0\r\n"),
    );
    let _ = sids(&d, &f, true);
    let mut st = DirState::default();
    let _ = stream_step(&d, &mut st, b"GET / HTTP/1.0\r\n", b"GET / HTTP/1.0\r\n", 0);
}

/// Pseudo-random payloads and stream cuts through rules with every
/// chain feature: nothing may panic, whatever the bytes.
#[test]
fn random_payloads_do_not_panic() {
    let d = detector(&[
        r#"alert tcp any any -> any any (content:"ab"; content:"c"; distance:-3; within:4; sid:1;)"#,
        r#"alert tcp any any -> any any (content:"a"; offset:3; depth:9; content:!"b"; distance:0; sid:2;)"#,
        r#"alert tcp any any -> any any (content:"a"; nocase; endswith; sid:3;)"#,
        r#"alert tcp any any -> any any (pcre:"/(a|b)+\1c/R"; sid:4;)"#,
        r#"alert tcp any any -> any any (content:"b"; pcre:"/^a*$/R"; content:"a"; distance:-1; sid:5;)"#,
        r#"alert tcp any any -> any any (content:!"zz"; sid:6;)"#,
    ]);
    let mut seed = 0x2545_f491_u32;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    let mut st = DirState::default();
    let mut window: Vec<u8> = Vec::new();
    let mut start = 0u64;
    for _ in 0..300 {
        let len = (next() % 24) as usize;
        let seg: Vec<u8> = (0..len)
            .map(|_| b"abcAB\n"[(next() % 6) as usize])
            .collect();
        let f = ipv4(CLIENT, SERVER, 6, 64, &tcp(1, 2, tcp_flags::ACK, &seg));
        let _ = sids(&d, &f, true);
        if seg.is_empty() {
            continue;
        }
        window.extend_from_slice(&seg);
        // Slide the window now and then, as a stream would.
        if window.len() > 40 {
            let drop = window.len() - 20.max(seg.len());
            window.drain(..drop);
            start += drop as u64;
        }
        let _ = stream_step(&d, &mut st, &seg, &window, start);
    }
}

/// GPL sid 2101620 lists `ip_proto:!1; ip_proto:!6; ...`: every one must
/// hold. Keeping only the last made it fire on all TCP traffic.
#[test]
fn every_ip_proto_must_hold() {
    let d =
        detector(&["alert ip any any -> any any (ip_proto:!1; ip_proto:!6; ip_proto:!17; sid:1;)"]);
    let syn = ipv4(CLIENT, SERVER, 6, 64, &tcp(1, 2, tcp_flags::SYN, b""));
    assert!(sids(&d, &syn, true).is_empty());
    let gre = ipv4(CLIENT, SERVER, 47, 64, &[0, 0, 0x08, 0x00]);
    assert_eq!(sids(&d, &gre, true), vec![1]);
}
