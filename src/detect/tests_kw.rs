//! Keyword tests through the detector: header fields, byte keywords
//! in the chain, flow state and its evaluation order, rate control
//! with controlled timestamps.

use super::content::{Buf, Chain};
use super::*;
use crate::decode::{decode, tcp_flags, LinkType};
use crate::rules::{parse_rule, Classifications, Vars};
use crate::time::Ts;

fn rule(text: &str) -> Rule {
    parse_rule(text, &Vars::default(), &Classifications::default())
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn detector(rules: &[&str]) -> Detector {
    Detector::build(rules.iter().map(|r| rule(r)).collect()).unwrap()
}

/// IPv4 header (with `opts` appended, a multiple of 4 bytes), flags
/// and fragment field `frag`, id 0x1234, then `l4`.
fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, frag: [u8; 2], opts: &[u8], l4: &[u8]) -> Vec<u8> {
    let hlen = 20 + opts.len();
    let total = (hlen + l4.len()) as u16;
    let mut v = vec![
        0x40 | (hlen / 4) as u8,
        0,
        0,
        0,
        0x12,
        0x34,
        frag[0],
        frag[1],
        64,
        proto,
    ];
    v.extend_from_slice(&[0, 0]);
    v[2..4].copy_from_slice(&total.to_be_bytes());
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v.extend_from_slice(opts);
    v.extend_from_slice(l4);
    v
}

/// TCP from 40000 to 80: seq 1000, ack 2000, window 512, with `opts`
/// (a multiple of 4 bytes).
fn tcp(flags: u8, opts: &[u8], payload: &[u8]) -> Vec<u8> {
    let off = ((20 + opts.len()) / 4) as u8;
    let mut t = vec![0x9c, 0x40, 0, 80];
    t.extend_from_slice(&1000u32.to_be_bytes());
    t.extend_from_slice(&2000u32.to_be_bytes());
    t.extend_from_slice(&[off << 4, flags, 0x02, 0x00, 0, 0, 0, 0]);
    t.extend_from_slice(opts);
    t.extend_from_slice(payload);
    t
}

/// ICMP echo request, id 7, sequence 9.
const ECHO: [u8; 8] = [8, 0, 0, 0, 0, 7, 0, 9];

const A: [u8; 4] = [10, 0, 0, 1];
const B: [u8; 4] = [10, 0, 0, 2];

struct Run {
    flow: FlowVars,
    globals: Globals,
    state: DirState,
    scratch: Scratch,
}

impl Run {
    fn new() -> Run {
        Run {
            flow: FlowVars::default(),
            globals: Globals::default(),
            state: DirState::default(),
            scratch: Scratch::default(),
        }
    }

    /// (sid, alert) of each hit for `frame` at `secs`.
    fn hits(&mut self, d: &Detector, frame: &[u8], secs: u64) -> Vec<(u32, bool)> {
        let p = decode(frame, LinkType::Raw).unwrap();
        let input = Input {
            packet: &p,
            to_server: true,
            established: true,
            stream: None,
            stream_added: false,
            ts: Ts::from_secs(secs),
            stream_sizes: Some((100, 5000)),
            events: &["stream.est_syn_resend"],
            app: Default::default(),
        };
        let mut hits = Vec::new();
        d.inspect(
            &input,
            &mut self.state,
            &mut self.flow,
            &mut self.globals,
            &mut self.scratch,
            &mut hits,
        );
        hits.into_iter()
            .map(|h| (d.rule(h.id).sid, h.alert))
            .collect()
    }

    fn sids(&mut self, d: &Detector, frame: &[u8], secs: u64) -> Vec<u32> {
        let mut s: Vec<u32> = self.hits(d, frame, secs).iter().map(|h| h.0).collect();
        s.sort_unstable();
        s
    }
}

#[test]
fn header_field_keywords() {
    // (options, fires on the default TCP packet)
    let tcp_cases: &[(&str, bool)] = &[
        ("seq:1000;", true),
        ("seq:1001;", false),
        ("ack:2000;", true),
        ("window:512;", true),
        ("window:!512;", false),
        ("tcp.flags:S;", true),
        ("tcp.flags:SA;", false),
        ("id:4660;", true),
        ("id:1;", false),
        ("fragbits:D;", true),
        ("fragbits:M;", false),
        ("fragbits:!M;", true),
        ("ipopts:any;", false),
        ("sameip;", false),
        ("tcp.mss:<1000;", true),
        ("tcp.mss:>1000;", false),
        ("stream_size:server,>,4000;", true),
        ("stream_size:client,>,4000;", false),
        ("stream_size:either,>,4000;", true),
        ("stream-event:est_syn_resend;", true),
        ("decode-event:ipv4.trunc_pkt;", false),
        ("icmp_id:7;", false),
    ];
    // MSS 536 (02 04 0218), DF set.
    let frame = ipv4(
        A,
        B,
        6,
        [0x40, 0],
        &[],
        &tcp(tcp_flags::SYN, &[2, 4, 2, 0x18], b""),
    );
    for (opts, want) in tcp_cases {
        let d = detector(&[&format!("alert tcp any any -> any any ({opts} sid:1;)")]);
        let got = !Run::new().sids(&d, &frame, 0).is_empty();
        assert_eq!(got, *want, "{opts}");
    }

    // ICMP echo with a record-route option, to itself.
    let rr = [7, 7, 4, 0, 0, 0, 0, 0];
    let icmp = ipv4(A, A, 1, [0x20, 0], &rr, &ECHO);
    let icmp_cases: &[(&str, bool)] = &[
        ("icmp_id:7;", true),
        ("icmp_seq:9;", true),
        ("icmp_seq:!9;", false),
        ("ipopts:rr;", true),
        ("ipopts:ts;", false),
        ("sameip;", true),
        ("fragbits:M;", true),
        ("fragoffset:0;", true),
        ("fragoffset:>0;", false),
        ("tcp.mss:<1000;", false),
        ("seq:0;", false),
    ];
    for (opts, want) in icmp_cases {
        let d = detector(&[&format!("alert ip any any -> any any ({opts} sid:1;)")]);
        let got = !Run::new().sids(&d, &icmp, 0).is_empty();
        assert_eq!(got, *want, "{opts}");
    }
}

/// (options, payload, expected): byte keywords inside the chain.
const BYTE_CHAIN: &[(&str, &[u8], bool)] = &[
    // byte_test reads relative to the content and leaves the cursor.
    (
        r#"content:"LEN"; byte_test:1,=,5,0,relative; content:"|05|"; distance:0; within:1;"#,
        b"LEN\x05",
        true,
    ),
    // byte_jump moves the cursor past a length-prefixed field.
    (
        r#"content:"R"; byte_jump:1,0,relative; content:"OK"; distance:0; within:2;"#,
        b"R\x03abcOK",
        true,
    ),
    (
        r#"content:"R"; byte_jump:1,0,relative; content:"OK"; distance:0; within:2;"#,
        b"R\x02abcOK",
        false,
    ),
    // byte_extract feeds offset and depth; string/dec.
    (
        r#"byte_extract:1,0,off,string,dec; content:"X"; offset:off; depth:1;"#,
        b"3abX",
        true,
    ),
    (
        r#"byte_extract:1,0,off,string,dec; content:"X"; offset:off; depth:1;"#,
        b"2abX",
        false,
    ),
    // byte_extract moves the cursor past what it read.
    (
        r#"byte_extract:2,0,n; byte_test:1,=,0x41,0,relative;"#,
        b"\x00\x01A",
        true,
    ),
    // byte_math result used by a later byte_test.
    (
        r#"byte_math:bytes 1,offset 0,oper *,rvalue 2,result d; byte_test:1,=,d,1;"#,
        b"\x03\x06",
        true,
    ),
    (
        r#"byte_math:bytes 1,offset 0,oper *,rvalue 2,result d; byte_test:1,=,d,1;"#,
        b"\x03\x07",
        false,
    ),
    // isdataat, absolute, relative and negated (end of buffer).
    (r#"content:"END"; isdataat:!1,relative;"#, b"xxEND", true),
    (r#"content:"END"; isdataat:!1,relative;"#, b"xxEND!", false),
    (r#"isdataat:4;"#, b"12345", true),
    (r#"isdataat:5;"#, b"12345", false),
    // Backtracking reaches a later occurrence that satisfies byte_test.
    (
        r#"content:"K"; byte_test:1,=,1,0,relative;"#,
        b"K\x00K\x01",
        true,
    ),
];

#[test]
fn byte_keywords_in_the_chain() {
    for (opts, data, want) in BYTE_CHAIN {
        let r = rule(&format!("alert tcp any any -> any any ({opts} sid:1;)"));
        let c = Chain::new(&r.options.matches).unwrap();
        let buf = Buf {
            data,
            base: 0,
            new_from: 0,
        };
        assert_eq!(c.matches(&buf), *want, "{opts} on {data:?}");
    }
}

#[test]
fn bsize_is_the_buffer_length() {
    use crate::rules::{Cmp, Match};
    let chain = |c| Chain::new(&[Match::Bsize(c)]).unwrap();
    let buf = Buf {
        data: b"abc",
        base: 0,
        new_from: 0,
    };
    assert!(chain(Cmp::Eq(3)).matches(&buf));
    assert!(!chain(Cmp::Gt(3)).matches(&buf));
    // Outside a sticky buffer the rule is refused, as in Suricata.
    let e = parse_rule(
        r#"alert tcp any any -> any any (content:"a"; bsize:3; sid:1;)"#,
        &Vars::default(),
        &Classifications::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("sticky buffer"), "{e}");
}

#[test]
fn flowbit_setter_runs_before_checker_in_one_packet() {
    // The checker is listed first and has the better priority; the
    // setter still runs first because it only sets state.
    let d = detector(&[
        "alert tcp any any -> any any (flowbits:isset,seen; priority:1; sid:2;)",
        "alert tcp any any -> any any (content:\"hi\"; flowbits:set,seen; flowbits:noalert; \
         priority:3; sid:1;)",
        "alert tcp any any -> any any (flowbits:isnotset,seen; sid:3;)",
    ]);
    let frame = ipv4(A, B, 6, [0, 0], &[], &tcp(tcp_flags::ACK, &[], b"hi"));
    let mut run = Run::new();
    let mut hits = run.hits(&d, &frame, 0);
    hits.sort_unstable();
    // sid 1 matched without an alert (noalert), sid 2 saw the bit, and
    // sid 3 (a reader, after the setter) no longer matches.
    assert_eq!(hits, [(1, false), (2, true)]);

    // The bit is the flow's: a later packet without "hi" still sees it.
    let plain = ipv4(B, A, 6, [0, 0], &[], &tcp(tcp_flags::ACK, &[], b""));
    assert_eq!(run.sids(&d, &plain, 1), [2]);
    // A fresh flow has no bits.
    assert_eq!(Run::new().sids(&d, &plain, 1), [3]);
}

#[test]
fn flowint_counts_across_packets() {
    let d = detector(&[
        "alert tcp any any -> any any (flowint:n,+,1; noalert; sid:1;)",
        "alert tcp any any -> any any (flowint:n,>=,3; sid:2;)",
    ]);
    let frame = ipv4(A, B, 6, [0, 0], &[], &tcp(tcp_flags::ACK, &[], b""));
    let mut run = Run::new();
    let alerts: Vec<usize> = (0..4)
        .map(|i| run.hits(&d, &frame, i).iter().filter(|h| h.1).count())
        .collect();
    assert_eq!(alerts, [0, 0, 1, 1]);
}

#[test]
fn xbits_are_shared_between_flows() {
    let d = detector(&[
        "alert tcp any any -> any any (content:\"SET\"; xbits:set,bad,track ip_src,expire 5; \
         sid:1;)",
        "alert tcp any any -> any any (xbits:isset,bad,track ip_src; sid:2;)",
    ]);
    let set = ipv4(A, B, 6, [0, 0], &[], &tcp(tcp_flags::ACK, &[], b"SET"));
    let other = ipv4(
        A,
        [10, 0, 0, 9],
        6,
        [0, 0],
        &[],
        &tcp(tcp_flags::ACK, &[], b""),
    );
    let mut first = Run::new();
    assert_eq!(first.sids(&d, &set, 100), [1, 2]);
    // Another flow (fresh FlowVars) from the same host, same globals.
    let mut second = Run {
        globals: std::mem::take(&mut first.globals),
        ..Run::new()
    };
    assert_eq!(second.sids(&d, &other, 104), [2]);
    assert!(second.sids(&d, &other, 105).is_empty(), "expired");
}

#[test]
fn threshold_and_detection_filter_use_packet_time() {
    let d = detector(&[
        "alert tcp any any -> any any (threshold:type limit, track by_src, count 1, \
         seconds 10; sid:1;)",
        "alert tcp any any -> any any (detection_filter:track by_dst, count 2, seconds 10; \
         sid:2;)",
    ]);
    let frame = ipv4(A, B, 6, [0, 0], &[], &tcp(tcp_flags::ACK, &[], b""));
    let mut run = Run::new();
    let at = |run: &mut Run, secs| {
        let mut h = run.hits(&d, &frame, secs);
        h.sort_unstable();
        h
    };
    // limit: first alerts, then silent; detection_filter: absent twice.
    assert_eq!(at(&mut run, 0), [(1, true)]);
    assert_eq!(at(&mut run, 1), [(1, false)]);
    assert_eq!(at(&mut run, 2), [(1, false), (2, true)]);
    // Eleven seconds on, both windows restart.
    assert_eq!(at(&mut run, 11), [(1, true)]);
}
