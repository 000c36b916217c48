//! Whole-rule tests: grammar, error messages, loading, and the ET Open
//! 2020 corpus.

use std::collections::HashMap;
use std::path::PathBuf;

use super::*;

fn parse(text: &str) -> Result<Rule, RuleError> {
    parse_rule(text, &Vars::default(), &Classifications::default())
}

fn err(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn full_rule() {
    let r = parse(
        &r#"drop tcp $EXTERNAL_NET any -> $HOME_NET [80,8080:8090] (msg:"x \"y\""; \
           flow:established,to_server; content:"GET"; depth:3; content:"|2f|adm"; \
           nocase; distance:1; within:10; fast_pattern; pcre:"/adm[a-z]+/iR"; \
           dsize:>10; flags:PA+,CE; ttl:<128; classtype:attempted-admin; \
           reference:cve,2020-1; metadata:a b; sid:42; rev:3;)"#
            .replace("\\\n", ""),
    )
    .unwrap();
    assert_eq!(r.action(), Action::Drop);
    assert_eq!((r.sid, r.gid, r.rev, r.priority), (42, 1, 3, 1));
    assert_eq!(r.msg(), "x \"y\"");
    assert_eq!(r.category(), Some("Attempted Administrator Privilege Gain"));
    assert_eq!(r.options.matches.len(), 3);
    let Match::Content(c) = &r.options.matches[1] else {
        panic!("content expected")
    };
    assert_eq!(c.pattern, b"/adm");
    assert!(c.nocase && c.is_relative());
    assert_eq!(c.fast_pattern, Some(FastPattern::Yes));
    assert_eq!(r.options.dsize, Some(Cmp::Gt(10)));
}

#[test]
fn defaults_and_priority() {
    let r = parse("alert ip any any -> any any (sid:1;)").unwrap();
    assert_eq!((r.gid, r.rev, r.priority), (1, 0, DEFAULT_PRIORITY));
    let r = parse("alert ip any any -> any any (classtype:trojan-activity; priority:4; sid:1;)")
        .unwrap();
    assert_eq!(r.priority, 4);
    assert_eq!(r.classtype(), Some("trojan-activity"));
}

#[test]
fn protocols() {
    for (p, want) in [
        ("TCP", Proto::Tcp),
        ("tcp-stream", Proto::TcpStream),
        ("icmp", Proto::Icmp),
        ("ipv6", Proto::Ipv6),
        ("pkthdr", Proto::Pkthdr),
    ] {
        let r = parse(&format!("alert {p} any any -> any any (sid:1;)")).unwrap();
        assert_eq!(r.header.proto, want);
    }
    // Protocols we detect load; others, and HTTP buffers on another
    // app protocol, do not.
    for p in ["http", "http1", "dns", "tls", "ssh", "ftp", "smtp"] {
        assert!(parse(&format!("alert {p} any any -> any any (sid:7;)")).is_ok());
    }
    let e = parse("alert smb any any -> any any (sid:7;)").unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnsupportedProtocol);
    assert_eq!(e.to_string(), "sid 7: unsupported protocol 'smb'");
    let e = parse("alert tls any any -> any any (http.uri; content:\"a\"; sid:7;)");
    assert_eq!(e.map_err(|e| e.kind), Err(ErrorKind::UnsupportedProtocol));
}

#[test]
fn error_messages() {
    assert_eq!(
        err("alert tcp any any -> any any (content:\"a\"; http_nope; sid:5;)"),
        "sid 5: unsupported keyword 'http_nope'"
    );
    assert_eq!(
        err("alert tcp any any -> any any (content:\"a\"; http_nope;)"),
        "unsupported keyword 'http_nope'"
    );
    assert_eq!(
        err("alert tcp any any -> any any (pcre:\"/a/B\"; sid:5;)"),
        "sid 5: unsupported keyword 'pcre/B'"
    );
    assert_eq!(
        err("alert tcp any any -> any any (content:\"abc\"; depth:2; sid:5;)"),
        "sid 5: depth is shorter than the content (3 bytes) (keyword 'depth')"
    );
    assert_eq!(
        err("alert tcp any any -> any any (classtype:nope; sid:5;)"),
        "sid 5: unknown classtype 'nope' (keyword 'classtype')"
    );
    assert_eq!(
        err("alert tcp any any -> any any (msg:\"x\";)"),
        "no sid (keyword 'sid')"
    );
    assert_eq!(
        err("alert tcp $NOPE any -> any any (sid:9;)"),
        "sid 9: source address: unknown address variable '$NOPE'"
    );
    assert_eq!(
        err("alert tcp any any -> any any (nocase; sid:9;)"),
        "sid 9: 'nocase' needs a content before it (keyword 'nocase')"
    );
    assert_eq!(
        err("alert tcp any any -> any any (sid:0;)"),
        "sid 0: must be 1 or more (keyword 'sid')"
    );
    for bad in [
        "alert tcp any any -> any any (content:\"a\"; depth:1; distance:0; sid:1;)",
        "alert tcp any any -> any any (content:\"ab\"; within:1; sid:1;)",
        "alert tcp any any -> any any (content:\"a\"; fast_pattern; content:\"b\"; fast_pattern; sid:1;)",
        "alert tcp any any -> any any (content:\"ab\"; fast_pattern:1,5; sid:1;)",
        "alert tcp any any -> any any (content:\"a\"; startswith; offset:1; sid:1;)",
        "alert tcp any any -> any any (dsize:x; sid:1;)",
        "alert tcp any any -> any any (flow:sideways; sid:1;)",
        "alert tcp any any -> any any (ip_proto:nope; sid:1;)",
        "alert tcp any any -> any any (sid:1; sid)",
    ] {
        let e = parse(bad).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Malformed, "{bad}: {e}");
    }
}

#[test]
fn loader_locates_errors_and_skips_comments() {
    let dir = std::env::temp_dir().join(format!("portcullis-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("a.rules");
    std::fs::write(
        &file,
        "# header comment\n\
         \n\
         alert tcp any any -> any 80 (msg:\"one\"; \\\n  content:\"x\"; sid:1;)\n\
         # alert tcp any any -> any any (msg:\"disabled\"; sid:2;)\n\
         alert tcp any any -> any any (msg:\"bad\"; foo:bar; sid:3;)\n\
         alert tcp any any -> any any (msg:\"dup\"; sid:1;)\n",
    )
    .unwrap();
    std::fs::write(dir.join("ignored.txt"), "garbage").unwrap();
    let l = load(
        &[dir.clone(), dir.join("missing.rules")],
        &Vars::default(),
        &Classifications::default(),
    );
    assert_eq!(l.rules.len(), 1);
    assert_eq!(l.rules[0].line, 3);
    let name = file.display().to_string();
    assert_eq!(
        l.errors[0].to_string(),
        format!("{name}:6: sid 3: unsupported keyword 'foo'")
    );
    assert_eq!(
        l.errors[1].to_string(),
        format!("{name}:7: sid 1: duplicate sid (keyword 'sid')")
    );
    assert_eq!(l.count(ErrorKind::UnsupportedKeyword), 1);
    assert_eq!(l.unreadable.len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn continuation_lines() {
    let lines = logical_lines("a \\\nb\\\n c\n\n#x\nd \\");
    assert_eq!(lines, vec![(1, "a b c".to_string()), (6, "d ".to_string())]);
}

fn et_open_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/et-open-2020");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipped: {} is absent", dir.display());
        None
    }
}

#[test]
fn et_open_2020_loads() {
    let Some(dir) = et_open_dir() else { return };
    let classes = Classifications::load(&dir.join("classification.config")).unwrap();
    let l = load(&[dir], &Vars::default(), &classes);
    let mut unsupported: HashMap<&str, usize> = HashMap::new();
    for e in &l.errors {
        if e.kind == ErrorKind::UnsupportedKeyword {
            *unsupported
                .entry(e.keyword.as_deref().unwrap_or("?"))
                .or_default() += 1;
        }
    }
    let mut top: Vec<_> = unsupported.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    println!(
        "ET Open 2020: {} loaded, {} failed ({} unsupported keyword, {} unsupported protocol, \
         {} malformed), {} unreadable",
        l.rules.len(),
        l.errors.len(),
        l.count(ErrorKind::UnsupportedKeyword),
        l.count(ErrorKind::UnsupportedProtocol),
        l.count(ErrorKind::Malformed),
        l.unreadable.len()
    );
    for (k, n) in top.iter().take(15) {
        println!("  {n:6}  {k}");
    }
    for e in l
        .errors
        .iter()
        .filter(|e| e.kind == ErrorKind::Malformed)
        .take(10)
    {
        println!("  malformed: {e}");
    }
    assert!(l.rules.len() > 1000, "only {} rules loaded", l.rules.len());
}

/// Every prefix of real rules must parse or fail, never panic.
#[test]
fn truncated_rules_do_not_panic() {
    let Some(dir) = et_open_dir() else { return };
    let text = std::fs::read_to_string(dir.join("emerging-exploit.rules")).unwrap();
    let (v, c) = (Vars::default(), Classifications::default());
    for (_, rule) in logical_lines(&text).into_iter().take(60) {
        for (i, _) in rule.char_indices() {
            let _ = parse_rule(&rule[..i], &v, &c);
            let _ = parse_rule(&rule[i..], &v, &c);
        }
    }
}

/// Byte-level mutations of real rules: parse or fail, never panic.
#[test]
fn mutated_rules_do_not_panic() {
    let Some(dir) = et_open_dir() else { return };
    let text = std::fs::read_to_string(dir.join("emerging-scan.rules")).unwrap();
    let (v, c) = (Vars::default(), Classifications::default());
    let mut seed = 0x9e37_79b9_u32;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed as usize
    };
    let alphabet = b"\\\";:|!,[]()$<>-/ 0aZ\xff";
    for (_, rule) in logical_lines(&text).into_iter().take(100) {
        for _ in 0..20 {
            let mut bytes = rule.clone().into_bytes();
            for _ in 0..3 {
                let at = next() % bytes.len().max(1);
                if let Some(b) = bytes.get_mut(at) {
                    *b = alphabet[next() % alphabet.len()];
                }
            }
            let _ = parse_rule(&String::from_utf8_lossy(&bytes), &v, &c);
        }
    }
}

/// Regression (ET Open sids 2015044, 2026879): a content modifier after
/// `isdataat` applies to the content before it, instead of failing the
/// rule; a pcre in between still stops it.
#[test]
fn content_modifier_after_isdataat() {
    let r = parse(
        r#"alert tcp any any -> any any (content:"a"; content:"b"; isdataat:5,relative; distance:0; nocase; sid:1;)"#,
    )
    .unwrap();
    let Match::Content(c) = &r.options.matches[1] else {
        panic!("content expected")
    };
    assert!(c.nocase && c.distance == Some(0));
    assert!(matches!(r.options.matches[2], Match::IsDataAt(_)));
    let e = err(r#"alert tcp any any -> any any (content:"a"; pcre:"/b/"; nocase; sid:1;)"#);
    assert!(e.contains("needs a content"), "{e}");
}

/// Regression (ET Open sid 2017614): byte_extract names may hold dots.
#[test]
fn byte_variable_names_with_dots() {
    let r = parse(
        "alert tcp any any -> any any (byte_extract:2,2,kelihos.p2p; \
         byte_test:2,!=,kelihos.p2p,0; sid:1;)",
    );
    assert!(r.is_ok(), "{r:?}");
}

/// The HTTP buffer lists of a rule, for comparing spellings.
fn buffers(text: &str) -> Vec<buffers::BufMatch> {
    let r = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert!(r.options.matches.is_empty(), "{text}: stream content left");
    r.options.buffers
}

#[test]
fn sticky_and_legacy_forms_agree() {
    let pairs = [
        (
            r#"alert http any any -> any any (http.uri; content:"/a"; content:"b"; distance:0; sid:1;)"#,
            r#"alert http any any -> any any (content:"/a"; http_uri; content:"b"; http_uri; distance:0; sid:1;)"#,
        ),
        (
            r#"alert http any any -> any any (http.uri; content:"/a"; sid:1;)"#,
            r#"alert http any any -> any any (uricontent:"/a"; sid:1;)"#,
        ),
        (
            r#"alert http any any -> any any (http.header; content:"X"; nocase; sid:1;)"#,
            r#"alert http any any -> any any (content:"X"; nocase; http_header; sid:1;)"#,
        ),
        (
            r#"alert http any any -> any any (http.request_body; content:"p"; sid:1;)"#,
            r#"alert http any any -> any any (content:"p"; http_client_body; sid:1;)"#,
        ),
        (
            r#"alert http any any -> any any (http.user_agent; pcre:"/x/i"; sid:1;)"#,
            r#"alert http any any -> any any (pcre:"/x/Vi"; sid:1;)"#,
        ),
        (
            r#"alert http any any -> any any (http.uri; content:"a"; pcre:"/b/R"; sid:1;)"#,
            r#"alert http any any -> any any (content:"a"; http_uri; pcre:"/b/R"; sid:1;)"#,
        ),
        (
            r#"alert http any any -> any any (http.uri.raw; bsize:<5; sid:1;)"#,
            r#"alert http any any -> any any (urilen:<5,raw; sid:1;)"#,
        ),
    ];
    for (sticky, legacy) in pairs {
        assert_eq!(buffers(sticky), buffers(legacy), "{legacy}");
    }
}

#[test]
fn buffer_keyword_errors() {
    let cases = [
        // A transform after the buffer's matches has nothing to apply to.
        r#"alert http any any -> any any (http.uri; content:"a"; to_lowercase; sid:1;)"#,
        r#"alert http any any -> any any (to_lowercase; content:"a"; sid:1;)"#,
        r#"alert http any any -> any any (bsize:3; sid:1;)"#,
        r#"alert http any any -> any any (http_uri; sid:1;)"#,
        r#"alert http any any -> any any (http.uri; content:"a"; http_uri; sid:1;)"#,
        r#"alert http any any -> any any (urilen:5,wat; sid:1;)"#,
        r#"alert http any any -> any any (pcre:"/a/UH"; sid:1;)"#,
        r#"alert http any any -> any any (flow:to_server; http.stat_code; content:"200"; sid:1;)"#,
        r#"alert http any any -> any any (flow:to_client; http.uri; content:"/"; sid:1;)"#,
    ];
    for text in cases {
        let e = parse(text).expect_err(text);
        assert_eq!(e.kind, ErrorKind::Malformed, "{text}");
    }
    let e = parse(r#"alert http any any -> any any (app-layer-event:http.nope; sid:1;)"#);
    assert_eq!(e.map_err(|e| e.kind), Err(ErrorKind::UnsupportedKeyword));
    let r = parse(
        r#"alert http any any -> any any (app-layer-protocol:!tls; app-layer-event:http.request_chunk_extension; http.host; dotprefix; to_lowercase; content:".x"; endswith; sid:1;)"#,
    )
    .unwrap();
    assert_eq!(r.options.app_layer_protocol, Some((true, "tls".into())));
    assert_eq!(r.options.app_events, vec!["http.request_chunk_extension"]);
    use buffers::Transform::*;
    assert_eq!(
        r.options.buffers[0].transforms,
        vec![DotPrefix, ToLowercase]
    );
}

/// iponly-ipv6-range-01: address ranges `a-b`, IPv4 and IPv6.
#[test]
fn address_ranges() {
    let vars = Vars::default();
    let spec = AddrSpec::parse("[10.0.0.1,2001:db8::1-2001:db8::ff]", &vars).expect("range parses");
    let ip = |s: &str| s.parse::<std::net::IpAddr>().expect("ip");
    assert!(spec.matches(ip("2001:db8::80")));
    assert!(!spec.matches(ip("2001:db8::100")));
    assert!(spec.matches(ip("10.0.0.1")));
    assert!(AddrSpec::parse("10.0.0.9-10.0.0.1", &vars).is_err());
    assert!(AddrSpec::parse("10.0.0.1-::1", &vars).is_err());
}
