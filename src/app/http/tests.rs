//! Sample conversations, each checked whole, at every split point and
//! one byte at a time; the caps; and never-panic runs over mutated,
//! truncated and random input.
//!
//! A conversation is a list of (direction, bytes) sent in that order;
//! both directions are closed at the end. The "digest" of a parser is
//! every buffer of every transaction plus the non-body events, so the
//! split tests can compare runs exactly.
//!
//! For a longer hunt, `HTTP_SEED=n HTTP_ROUNDS=m cargo test --lib
//! mutated_samples_parse_the_same` reruns the split-invariance check on
//! other mutations.

use super::decompress::tests::gzip;
use super::*;
use crate::flow::Dir::{self, ToClient as S2C, ToServer as C2S};

type Conv = Vec<(Dir, Vec<u8>)>;

fn conv(parts: &[(Dir, &[u8])]) -> Conv {
    parts.iter().map(|(d, b)| (*d, b.to_vec())).collect()
}

/// Feed `conv` with part `split.0` cut at byte `split.1`.
fn run_split(
    cfg: HttpConfig,
    conv: &Conv,
    split: Option<(usize, usize)>,
) -> (HttpParser, Vec<HttpEvent>) {
    let mut p = HttpParser::new(cfg);
    let mut ev = Vec::new();
    for (i, (dir, bytes)) in conv.iter().enumerate() {
        match split {
            Some((part, at)) if part == i => {
                p.feed(*dir, &bytes[..at], &mut ev);
                p.feed(*dir, &bytes[at..], &mut ev);
            }
            _ => p.feed(*dir, bytes, &mut ev),
        }
    }
    p.close(C2S, &mut ev);
    p.close(S2C, &mut ev);
    (p, ev)
}

fn run(conv: &Conv) -> (HttpParser, Vec<HttpEvent>) {
    run_split(HttpConfig::default(), conv, None)
}

fn run_bytewise(cfg: HttpConfig, conv: &Conv) -> (HttpParser, Vec<HttpEvent>) {
    let mut p = HttpParser::new(cfg);
    let mut ev = Vec::new();
    for (dir, bytes) in conv {
        for b in bytes.chunks(1) {
            p.feed(*dir, b, &mut ev);
        }
    }
    p.close(C2S, &mut ev);
    p.close(S2C, &mut ev);
    (p, ev)
}

fn text(o: Option<&[u8]>) -> String {
    match o {
        Some(b) => String::from_utf8_lossy(b).escape_debug().to_string(),
        None => "-".into(),
    }
}

/// Every buffer of every transaction, and the events other than Body.
fn digest(p: &HttpParser, ev: &[HttpEvent]) -> Vec<String> {
    digest_masked(p, ev, false)
}

/// `digest`, optionally blind to how a damaged compressed body decoded:
/// how much the inflater emits before it notices damage depends on how
/// its input was split (see `decompress`), and with it whether the body
/// limit or the error was reached first.
fn digest_masked(p: &HttpParser, ev: &[HttpEvent], mask_corrupt: bool) -> Vec<String> {
    let mut d = Vec::new();
    let corrupt = |tx: &Transaction| {
        let coded = tx
            .response_headers()
            .and_then(|h| h.get("content-encoding"))
            .is_some_and(|v| Coding::from_header(v, &mut Vec::new()) != Coding::Identity);
        mask_corrupt && coded
    };
    let decoding = |a: &Anomaly| {
        matches!(
            a,
            Anomaly::ResponseBodyLimit
                | Anomaly::GzipDecompressionFailed
                | Anomaly::CompressionBomb
        )
    };
    for tx in p.transactions() {
        let req_h = tx.request_headers();
        let mut resp_body = text(tx.response_body().map(Body::data));
        let mut tx_anomalies: Vec<_> = tx.anomalies().iter().collect();
        if corrupt(tx) {
            resp_body = "<decoded>".into();
            tx_anomalies.retain(|a| !decoding(a));
        }
        let resp_h = tx.response_headers();
        d.push(format!(
            "tx {} req[{}|{}|{}|{}|{}|{}|{}|{}|{}] body[{}|{}] resp[{}|{}|{}|{}|{}|{}] body[{}|{}] \
             done {} {} an {:?}",
            tx.id(),
            text(tx.method()),
            text(tx.uri()),
            text(tx.uri_raw()),
            text(tx.request_protocol()),
            text(tx.host()),
            text(req_h.map(Headers::normalized)),
            text(req_h.map(Headers::raw)),
            text(req_h.map(Headers::names)),
            text(tx.request_trailer().map(Headers::normalized)),
            text(tx.request_body().map(Body::data)),
            tx.request_body().map_or(0, Body::wire_len),
            text(tx.response_line()),
            text(tx.stat_code()),
            text(tx.stat_msg()),
            text(resp_h.map(Headers::normalized)),
            text(resp_h.map(Headers::raw)),
            text(tx.response_trailer().map(Headers::normalized)),
            resp_body,
            tx.response_body().map_or(0, Body::wire_len),
            tx.request_done(),
            tx.response_done(),
            tx_anomalies.iter().map(|a| a.name()).collect::<Vec<_>>(),
        ));
    }
    let masked = |e: &HttpEvent| match e {
        HttpEvent::Body { .. } => true,
        HttpEvent::Anomaly {
            tx_id: Some(id),
            anomaly,
            ..
        } if decoding(anomaly) => p.tx(*id).is_some_and(corrupt),
        _ => false,
    };
    d.extend(ev.iter().filter(|e| !masked(e)).map(|e| format!("{e:?}")));
    d.push(format!(
        "failed {} upgraded {}",
        p.is_failed(),
        p.is_upgraded()
    ));
    d
}

/// The conversation gives the same digest whole, at every split point
/// and byte by byte.
fn check_splits(name: &str, cfg: HttpConfig, conv: &Conv) {
    let (p, ev) = run_split(cfg, conv, None);
    let want = digest(&p, &ev);
    for (i, (_, bytes)) in conv.iter().enumerate() {
        for at in 0..=bytes.len() {
            let (p, ev) = run_split(cfg, conv, Some((i, at)));
            assert_eq!(digest(&p, &ev), want, "{name}: part {i} split at {at}");
        }
    }
    let (p, ev) = run_bytewise(cfg, conv);
    assert_eq!(digest(&p, &ev), want, "{name}: byte by byte");
}

fn anomalies(ev: &[HttpEvent]) -> Vec<&'static str> {
    ev.iter()
        .filter_map(|e| match e {
            HttpEvent::Anomaly { anomaly, .. } => Some(anomaly.name()),
            _ => None,
        })
        .collect()
}

fn b(s: &str) -> Option<&[u8]> {
    Some(s.as_bytes())
}

// The sample conversations.

fn get_with_query() -> Conv {
    conv(&[
        (
            C2S,
            // Request line: path with %20, query with %27 %20 %3D.
            b"GET /search%20page/index.php?q=%27or%201%3D1&x=y HTTP/1.1\r\n\
              Host: www.Example.com:8080\r\n\
              User-Agent: curl/8.5.0\r\n\
              Accept: */*\r\n\
              Accept-Language: en\r\n\
              Accept-Encoding: gzip\r\n\
              Referer: http://ref.example/\r\n\
              Cookie: a=1\r\n\
              Connection: keep-alive\r\n\
              \r\n",
        ),
        (
            S2C,
            b"HTTP/1.1 200 OK\r\n\
              Server: nginx\r\n\
              Content-Type: text/html\r\n\
              Content-Length: 5\r\n\
              \r\n\
              hello",
        ),
    ])
}

#[test]
fn get_with_query_and_percent_encoding() {
    let c = get_with_query();
    let (p, ev) = run(&c);
    let tx = p.tx(0).expect("tx 0");
    assert_eq!(tx.method(), b("GET"));
    assert_eq!(tx.uri(), b("/search page/index.php?q='or 1=1&x=y"));
    assert_eq!(
        tx.uri_raw(),
        b("/search%20page/index.php?q=%27or%201%3D1&x=y")
    );
    assert_eq!(tx.request_protocol(), b("HTTP/1.1"));
    assert_eq!(
        tx.request_line(),
        b("GET /search%20page/index.php?q=%27or%201%3D1&x=y HTTP/1.1")
    );
    assert_eq!(tx.host(), b("www.example.com"));
    assert_eq!(tx.host_raw(), b("www.Example.com:8080"));
    assert_eq!(tx.user_agent(), b("curl/8.5.0"));
    assert_eq!(tx.accept(), b("*/*"));
    assert_eq!(tx.accept_language(), b("en"));
    assert_eq!(tx.accept_encoding(), b("gzip"));
    assert_eq!(tx.referer(), b("http://ref.example/"));
    assert_eq!(tx.cookie(), b("a=1"));
    assert_eq!(tx.request_connection(), b("keep-alive"));
    let h = tx.request_headers().expect("headers");
    assert_eq!(
        h.names(),
        b"\r\nHost\r\nUser-Agent\r\nAccept\r\nAccept-Language\r\nAccept-Encoding\r\n\
          Referer\r\nCookie\r\nConnection\r\n\r\n"
    );
    assert!(h
        .normalized()
        .starts_with(b"Host: www.Example.com:8080\r\nUser-Agent: curl/8.5.0\r\n"));
    assert!(h.raw().ends_with(b"Connection: keep-alive\r\n\r\n"));

    assert_eq!(tx.stat_code(), b("200"));
    assert_eq!(tx.status(), Some(200));
    assert_eq!(tx.stat_msg(), b("OK"));
    assert_eq!(tx.response_protocol(), b("HTTP/1.1"));
    assert_eq!(tx.response_line(), b("HTTP/1.1 200 OK"));
    assert_eq!(tx.server(), b("nginx"));
    assert_eq!(tx.response_content_type(), b("text/html"));
    assert_eq!(tx.response_content_length(), Some(5));
    assert_eq!(tx.response_body().map(Body::data), b("hello"));
    assert!(tx.request_done() && tx.response_done());
    assert!(tx.anomalies().is_empty());
    assert_eq!(
        ev,
        vec![
            HttpEvent::Headers { tx_id: 0, dir: C2S },
            HttpEvent::Complete { tx_id: 0, dir: C2S },
            HttpEvent::Headers { tx_id: 0, dir: S2C },
            HttpEvent::Body { tx_id: 0, dir: S2C },
            HttpEvent::Complete { tx_id: 0, dir: S2C },
        ]
    );
    check_splits("get", HttpConfig::default(), &c);
}

fn post_then_get() -> Conv {
    conv(&[
        (
            C2S,
            // A 22-byte form body, then a second request in the same
            // segment (pipelined).
            b"POST /login HTTP/1.1\r\n\
              Host: app\r\n\
              Content-Type: application/x-www-form-urlencoded\r\n\
              Content-Length: 22\r\n\
              \r\n\
              login=foo&password=bar\
              GET /home HTTP/1.1\r\nHost: app\r\n\r\n",
        ),
        (
            S2C,
            b"HTTP/1.1 302 Found\r\nLocation: /home\r\nContent-Length: 0\r\n\r\n\
              HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok!",
        ),
    ])
}

#[test]
fn post_with_content_length() {
    let c = post_then_get();
    let (p, ev) = run(&c);
    let tx = p.tx(0).expect("tx 0");
    assert_eq!(tx.method(), b("POST"));
    assert_eq!(
        tx.request_content_type(),
        b("application/x-www-form-urlencoded")
    );
    assert_eq!(tx.request_content_length(), Some(22));
    assert_eq!(tx.request_content_length_raw(), b("22"));
    assert_eq!(
        tx.request_body().map(Body::data),
        b("login=foo&password=bar")
    );
    assert_eq!(tx.status(), Some(302));
    assert_eq!(tx.location(), b("/home"));
    assert_eq!(tx.response_body().map(Body::data), b(""));
    let tx1 = p.tx(1).expect("tx 1");
    assert_eq!(tx1.uri(), b("/home"));
    assert_eq!(tx1.response_body().map(Body::data), b("ok!"));
    assert!(anomalies(&ev).is_empty());
    check_splits("post", HttpConfig::default(), &c);
}

fn chunked_response() -> Conv {
    conv(&[
        (C2S, b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n"),
        (
            S2C,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
              5;name=value\r\nHello\r\n\
              7\r\n, world\r\n\
              0\r\nX-Checksum: abc\r\n\r\n\
              HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n!",
        ),
    ])
}

#[test]
fn chunked_response_with_extension_and_trailer() {
    let c = chunked_response();
    let (p, ev) = run(&c);
    let tx = p.tx(0).expect("tx 0");
    assert_eq!(tx.response_body().map(Body::data), b("Hello, world"));
    assert_eq!(
        tx.response_trailer().and_then(|t| t.get("x-checksum")),
        b("abc")
    );
    assert_eq!(
        anomalies(&ev),
        vec![
            "http.response_chunk_extension",
            "http.unable_to_match_response_to_request"
        ]
    );
    assert!(tx.response_done());
    // The extra response had no request.
    let tx1 = p.tx(1).expect("tx 1");
    assert!(tx1.request().is_none());
    assert!(tx1
        .anomalies()
        .contains(Anomaly::UnableToMatchResponseToRequest));
    check_splits("chunked", HttpConfig::default(), &c);
}

#[test]
fn chunked_request_with_extension() {
    let c = conv(&[(
        C2S,
        b"POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
          3;a=b\r\nabc\r\n0\r\n\r\n",
    )]);
    let (p, ev) = run(&c);
    let tx = p.tx(0).expect("tx 0");
    assert_eq!(tx.request_body().map(Body::data), b("abc"));
    assert_eq!(anomalies(&ev), vec!["http.request_chunk_extension"]);
    check_splits("chunked request", HttpConfig::default(), &c);
}

fn gzip_response() -> Conv {
    let page = b"<html><body>gzipped page, gzipped page</body></html>".repeat(4);
    let z = gzip(&page);
    // Chunked and gzipped: dechunk first, then decode.
    let mut resp = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\
                     Transfer-Encoding: chunked\r\n\r\n"
        .to_vec();
    for piece in z.chunks(50) {
        resp.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        resp.extend_from_slice(piece);
        resp.extend_from_slice(b"\r\n");
    }
    resp.extend_from_slice(b"0\r\n\r\n");
    vec![
        (C2S, b"GET /z HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        (S2C, resp),
    ]
}

#[test]
fn gzip_response_is_decoded() {
    let c = gzip_response();
    let (p, ev) = run(&c);
    let tx = p.tx(0).expect("tx 0");
    let page = b"<html><body>gzipped page, gzipped page</body></html>".repeat(4);
    assert_eq!(tx.response_body().map(Body::data), Some(&page[..]));
    assert!(anomalies(&ev).is_empty());
    check_splits("gzip", HttpConfig::default(), &c);
}

#[test]
fn pipelined_requests_pair_in_order() {
    let c = conv(&[
        (
            C2S,
            b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n\
              GET /2 HTTP/1.1\r\nHost: x\r\n\r\n\
              \r\n\
              GET /3 HTTP/1.1\r\nHost: x\r\n\r\n",
        ),
        (
            S2C,
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA\
              HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nB\
              HTTP/1.1 301 Moved\r\nLocation: /x\r\nContent-Length: 1\r\n\r\nC",
        ),
    ]);
    let (p, ev) = run(&c);
    let got: Vec<_> = p
        .transactions()
        .map(|t| {
            (
                text(t.uri()),
                t.status(),
                text(t.response_body().map(Body::data)),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("/1".into(), Some(200), "A".into()),
            ("/2".into(), Some(404), "B".into()),
            ("/3".into(), Some(301), "C".into()),
        ]
    );
    assert!(anomalies(&ev).is_empty());
    check_splits("pipelined", HttpConfig::default(), &c);
}

#[test]
fn path_tricks_are_normalised() {
    let c = conv(&[(
        C2S,
        // /./ and // dropped, .. resolved, %2e%2e decoded then resolved,
        // %2f decoded to a separator.
        b"GET /a/./b//c/../%2e%2e/d%2fe?../x HTTP/1.1\r\nHost: x\r\n\r\n",
    )]);
    let (p, ev) = run(&c);
    let tx = p.tx(0).expect("tx 0");
    assert_eq!(tx.uri(), b("/a/d/e?../x"));
    assert_eq!(tx.uri_raw(), b("/a/./b//c/../%2e%2e/d%2fe?../x"));
    assert!(anomalies(&ev).is_empty());
    check_splits("path", HttpConfig::default(), &c);
}

#[test]
fn absolute_uri_host() {
    let c = conv(&[(
        C2S,
        b"GET http://Proxy.Example:3128/p?q HTTP/1.1\r\nHost: other.example\r\n\r\n",
    )]);
    let (p, ev) = run(&c);
    let tx = p.tx(0).expect("tx 0");
    assert_eq!(tx.uri(), b("/p?q"));
    assert_eq!(tx.host(), b("proxy.example"));
    assert_eq!(tx.host_raw(), b("other.example"));
    assert_eq!(anomalies(&ev), vec!["http.host_header_ambiguous"]);
}

#[test]
fn head_response_has_no_body() {
    let c = conv(&[
        (
            C2S,
            b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n",
        ),
        (
            S2C,
            // Content-Length describes the GET it would have been.
            b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n\
              HTTP/1.1 204 No Content\r\n\r\n",
        ),
    ]);
    let (p, ev) = run(&c);
    assert_eq!(
        p.tx(0).and_then(|t| t.response_body()).map(Body::data),
        b("")
    );
    assert_eq!(
        p.tx(0).and_then(|t| t.response_content_length()),
        Some(1000)
    );
    assert_eq!(p.tx(1).and_then(Transaction::status), Some(204));
    assert!(p.tx(1).is_some_and(Transaction::response_done));
    assert!(anomalies(&ev).is_empty());
    check_splits("head", HttpConfig::default(), &c);
}

fn continue_100() -> Conv {
    conv(&[
        (
            C2S,
            b"PUT /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
        ),
        (S2C, b"HTTP/1.1 100 Continue\r\n\r\n"),
        (C2S, b"data"),
        (S2C, b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"),
    ])
}

#[test]
fn expect_100_continue() {
    let c = continue_100();
    let (p, ev) = run(&c);
    assert_eq!(p.transactions().count(), 1);
    let tx = p.tx(0).expect("tx 0");
    assert_eq!(tx.status(), Some(201));
    assert_eq!(tx.request_body().map(Body::data), b("data"));
    assert!(tx.request_done() && tx.response_done());
    assert!(anomalies(&ev).is_empty());
    check_splits("100-continue", HttpConfig::default(), &c);

    // Other interim answers (103 Early Hints) are skipped quietly.
    let mut hints = continue_100();
    hints.insert(
        1,
        (
            S2C,
            b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n".to_vec(),
        ),
    );
    let (p, ev) = run(&hints);
    assert!(anomalies(&ev).is_empty());
    assert_eq!(p.tx(0).and_then(Transaction::status), Some(201));

    // A second 100 Continue is an anomaly.
    let mut twice = continue_100();
    twice.insert(2, (S2C, b"HTTP/1.1 100 Continue\r\n\r\n".to_vec()));
    let (_, ev) = run(&twice);
    assert_eq!(anomalies(&ev), vec!["http.100_continue_already_seen"]);
}

#[test]
fn bad_content_lengths() {
    // Not a number: no body; the bytes after it are unexpected body.
    let c = conv(&[(
        C2S,
        b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\nab=c\r\n",
    )]);
    let (p, ev) = run(&c);
    assert_eq!(
        anomalies(&ev),
        vec![
            "http.invalid_content_length_field_in_request",
            "http.request_body_unexpected"
        ]
    );
    assert_eq!(
        p.tx(0).and_then(|t| t.request_body()).map(Body::data),
        b("ab=c\r\n")
    );
    check_splits("bad cl", HttpConfig::default(), &c);

    // Two different lengths (request smuggling): flagged, first wins.
    let c = conv(&[(
        C2S,
        b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 30\r\n\r\nabc",
    )]);
    let (p, ev) = run(&c);
    assert_eq!(
        anomalies(&ev),
        vec!["http.duplicate_content_length_field_in_request"]
    );
    assert_eq!(
        p.tx(0).and_then(|t| t.request_body()).map(Body::data),
        b("abc")
    );

    // Response: an invalid length means "until close".
    let c = conv(&[
        (C2S, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        (
            S2C,
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nall of it",
        ),
    ]);
    let (p, ev) = run(&c);
    assert_eq!(
        anomalies(&ev),
        vec!["http.invalid_content_length_field_in_response"]
    );
    assert_eq!(
        p.tx(0).and_then(|t| t.response_body()).map(Body::data),
        b("all of it")
    );
    check_splits("bad response cl", HttpConfig::default(), &c);
}

#[test]
fn body_until_close() {
    let c = conv(&[
        (C2S, b"GET / HTTP/1.0\r\n\r\n"),
        (S2C, b"HTTP/1.0 200 OK\r\nServer: old\r\n\r\nuntil the end"),
    ]);
    let mut p = HttpParser::default();
    let mut ev = Vec::new();
    for (d, bytes) in &c {
        p.feed(*d, bytes, &mut ev);
    }
    assert!(!p.tx(0).is_some_and(Transaction::response_done));
    assert!(p.pop_finished().is_none());
    p.close(S2C, &mut ev);
    assert!(ev.ends_with(&[HttpEvent::Complete { tx_id: 0, dir: S2C }]));
    let tx = p.pop_finished().expect("finished");
    assert_eq!(tx.response_body().map(Body::data), b("until the end"));
    // HTTP/1.0 without Host is fine.
    assert!(tx.anomalies().is_empty());
    check_splits("close", HttpConfig::default(), &c);
}

#[test]
fn http09() {
    let c = conv(&[(C2S, b"GET /old\r\n"), (S2C, b"<html>raw</html>")]);
    let (p, ev) = run(&c);
    let tx = p.tx(0).expect("tx 0");
    assert_eq!(tx.uri(), b("/old"));
    assert_eq!(tx.request_protocol(), None);
    assert_eq!(tx.response_body().map(Body::data), b("<html>raw</html>"));
    assert_eq!(anomalies(&ev), vec!["http.request_line_missing_protocol"]);
    check_splits("0.9", HttpConfig::default(), &c);
}

#[test]
fn upgrade_stops_parsing() {
    let c = conv(&[
        (
            C2S,
            b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        ),
        (
            S2C,
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n\x81\x05hello",
        ),
        (C2S, b"\x81\x85\x00\x00\x00\x00hello"),
    ]);
    let (p, ev) = run(&c);
    assert!(p.is_upgraded() && !p.is_failed());
    assert!(ev.contains(&HttpEvent::Upgrade { tx_id: 0 }));
    assert_eq!(
        p.tx(0).and_then(Transaction::response_connection),
        b("Upgrade")
    );
    assert!(anomalies(&ev).is_empty());
    check_splits("upgrade", HttpConfig::default(), &c);
}

#[test]
fn garbage_fails_the_parser() {
    let c = conv(&[(C2S, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n")]);
    let (p, ev) = run(&c);
    assert!(p.is_failed());
    assert_eq!(anomalies(&ev), vec!["http.request_line_invalid"]);
    assert!(ev.contains(&HttpEvent::Failed { dir: C2S }));

    let c = conv(&[
        (C2S, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        (S2C, b"SSH-2.0-OpenSSH\r\n"),
        (C2S, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
    ]);
    let (p, ev) = run(&c);
    assert!(p.is_failed());
    assert_eq!(anomalies(&ev), vec!["http.response_invalid_protocol"]);
    // Nothing after the failure is parsed.
    assert_eq!(p.transactions().count(), 1);
}

#[test]
fn unframed_request_body_is_kept() {
    // As in suricata-verify http-request-invalid: a POST without
    // Content-Length followed by its form data.
    let c = conv(&[
        (
            C2S,
            b"POST /index.html HTTP/1.1\r\nHost: 192.0.2.3\r\nConnection: keep-alive\r\n\r\n\
              login=foo&password=bar4\r\n",
        ),
        (
            S2C,
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        ),
    ]);
    let (p, ev) = run(&c);
    let tx = p.tx(0).expect("tx 0");
    assert_eq!(
        tx.request_body().map(Body::data),
        b("login=foo&password=bar4\r\n")
    );
    assert!(tx.anomalies().contains(Anomaly::RequestBodyUnexpected));
    assert_eq!(anomalies(&ev), vec!["http.request_body_unexpected"]);
    check_splits("unexpected body", HttpConfig::default(), &c);
}

#[test]
fn header_anomalies() {
    let c = conv(&[(
        C2S,
        b"GET\t/x HTTP/1.1\r\nHost: x\r\nNoColon\r\nBad Name: 1\r\n\r\n",
    )]);
    let (_, ev) = run(&c);
    assert_eq!(
        anomalies(&ev),
        vec![
            "http.method_delim_non_compliant",
            "http.request_field_missing_colon",
            "http.request_header_invalid",
        ]
    );
    let c = conv(&[(C2S, b"GET /x HTTP/1.1\r\nUser-Agent: y\r\n\r\n")]);
    assert_eq!(anomalies(&run(&c).1), vec!["http.missing_host_header"]);
    let c = conv(&[(C2S, b"GET /%252e HTTP/1.1\r\nHost: a:b\r\n\r\n")]);
    assert_eq!(
        anomalies(&run(&c).1),
        vec!["http.double_encoded_uri", "http.invalid_authority_port"]
    );
}

#[test]
fn incomplete_request_line_at_close() {
    let c = conv(&[(C2S, b"GET /never-finish")]);
    let (p, ev) = run(&c);
    assert_eq!(anomalies(&ev), vec!["http.request_line_incomplete"]);
    assert_eq!(p.transactions().count(), 0);
    assert!(p.flow_anomalies().contains(Anomaly::RequestLineIncomplete));
}

#[test]
fn pop_finished_releases_in_order() {
    let c = get_with_query();
    let (mut p, _) = run_split(HttpConfig::default(), &c, None);
    assert_eq!(p.pop_finished().map(|t| t.id()), Some(0));
    assert!(p.pop_finished().is_none());
    assert!(p.tx(0).is_none());
}

// Shapes taken from suricata-verify cases (bytes written here).

#[test]
fn bare_lf_chunked_request_with_extension_on_last_chunk() {
    // Like http-event-chunk: LF-only lines, a space after the sizes, an
    // extension on the zero chunk, then two trailer fields.
    let c = conv(&[
        (
            C2S,
            b"POST /up.bin HTTP/1.1\nHost: 127.0.0.1\nTransfer-Encoding: chunked\n\n\
              8 \nabcdefgh\n4 \nijkl\n0 ; k=v; q=\"x\"\ntrailer1: one\ntrailer2: two\n\n",
        ),
        (S2C, b"HTTP/1.1 200 OK\n\n\n"),
    ]);
    let (p, ev) = run(&c);
    let tx = p.tx(0).expect("tx 0");
    assert_eq!(tx.request_body().map(Body::data), b("abcdefghijkl"));
    assert_eq!(
        tx.request_trailer().and_then(|t| t.get("trailer2")),
        b("two")
    );
    assert!(tx.anomalies().contains(Anomaly::RequestChunkExtension));
    assert_eq!(tx.status(), Some(200));
    assert_eq!(anomalies(&ev), vec!["http.request_chunk_extension"]);
    check_splits("lf chunked", HttpConfig::default(), &c);
}

#[test]
fn close_during_response_headers() {
    // Like http-close-headers: the server closes before the empty line.
    let c = conv(&[
        (C2S, b"GET / HTTP/1.1\r\nHost: 198.51.100.2\r\n\r\n"),
        (S2C, b"HTTP/1.0 200 OK\nServer:ng1nx\r\n"),
    ]);
    let (p, _) = run(&c);
    let tx = p.tx(0).expect("tx 0");
    assert_eq!(tx.server(), b("ng1nx"));
    let h = tx.response_headers().expect("headers");
    assert_eq!(h.normalized(), b"Server: ng1nx\r\n");
    assert!(tx.response_done());
    check_splits("close in headers", HttpConfig::default(), &c);
}

#[test]
fn close_during_status_line() {
    let c = conv(&[
        (C2S, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        (S2C, b"HTTP/1.1 503 Busy"),
    ]);
    let (p, ev) = run(&c);
    let tx = p.tx(0).expect("tx 0");
    assert_eq!(tx.status(), Some(503));
    assert_eq!(tx.stat_msg(), b("Busy"));
    assert!(tx.response_done());
    assert!(anomalies(&ev).is_empty());
    assert_eq!(
        tx.response_start().as_deref(),
        Some(&b"HTTP/1.1 503 Busy\r\n\r\n"[..])
    );
    assert_eq!(
        tx.request_start().as_deref(),
        Some(&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..])
    );
    check_splits("close in status line", HttpConfig::default(), &c);
}

#[test]
fn response_connection_and_repeated_fields() {
    // Like http-connection-toclient: lowercase names, a repeated
    // content-type, connection: close.
    let c = conv(&[
        (C2S, b"GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n"),
        (
            S2C,
            b"HTTP/1.1 200 OK\r\nserver: openresty\r\ncontent-type: application/octet-stream\r\n\
              content-length: 4\r\ncontent-type: text/html\r\nconnection: close\r\n\r\nbody",
        ),
    ]);
    let (p, _) = run(&c);
    let tx = p.tx(0).expect("tx 0");
    assert_eq!(tx.response_connection(), b("close"));
    assert_eq!(
        tx.response_content_type(),
        b("application/octet-stream, text/html")
    );
    assert_eq!(tx.response_body().map(Body::data), b("body"));
}

#[test]
fn one_buffer_per_request_header() {
    // Like http-request-header-multi: http.request_header sees each
    // field as "Name: value" without its line ending.
    let key = "6a5c01728061bc79200fbea3ba58d6848d0f2a01e1ebc87c0e19bd931a564916";
    let req = format!(
        "GET /s/ws HTTP/1.1\r\nHost: foobar.example:80\r\nUser-Agent: Go-http-client/1.1\r\n\
         Connection: Upgrade\r\nKey: {key}\r\nUpgrade: websocket\r\n\r\n"
    );
    let (p, _) = run(&vec![(C2S, req.into_bytes())]);
    let tx = p.tx(0).expect("tx 0");
    let lines: Vec<Vec<u8>> = tx
        .request_headers()
        .map(|h| h.fields().iter().map(Header::line).collect())
        .unwrap_or_default();
    let want = format!("Key: {key}").into_bytes();
    assert!(lines.contains(&want));
    assert_eq!(want.len(), 69);
    assert_eq!(tx.request_connection(), b("Upgrade"));
    assert_eq!(tx.host(), b("foobar.example"));
}

#[test]
fn multipart_upload_files() {
    let c = conv(&[(
        C2S,
        b"POST /upload HTTP/1.1\r\nHost: x\r\n\
          Content-Type: multipart/form-data; boundary=----b0undary\r\n\
          Transfer-Encoding: chunked\r\n\r\n\
          b5\r\n\
          ------b0undary\r\n\
          Content-Disposition: form-data; name=\"note\"\r\n\r\n\
          hello\r\n\
          ------b0undary\r\n\
          Content-Disposition: form-data; name=\"f\"; filename=\"eicar.com\"\r\n\r\n\
          X5O!P%@AP\r\n\
          ------b0undary--\r\n\
          \r\n0\r\n\r\n",
    )]);
    let (p, ev) = run(&c);
    let tx = p.tx(0).expect("tx 0");
    assert!(tx.request_done(), "{ev:?}");
    assert_eq!(tx.request_file_data(), vec![&b"X5O!P%@AP"[..]]);
    check_splits("multipart", HttpConfig::default(), &c);

    let (p, _) = run(&multipart_sample());
    assert_eq!(
        p.tx(0).map(Transaction::request_file_data),
        Some(vec![&b"AAAA"[..]])
    );

    // Not multipart: the body is the file (PUT or a raw POST).
    let c = conv(&[(
        C2S,
        b"PUT /f HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
    )]);
    let (p, _) = run(&c);
    assert_eq!(
        p.tx(0).map(Transaction::request_file_data),
        Some(vec![&b"abc"[..]])
    );
}

// Caps.

#[test]
fn body_limits() {
    let cfg = HttpConfig {
        request_body_limit: 4,
        response_body_limit: 6,
        ..HttpConfig::default()
    };
    let c = conv(&[
        (
            C2S,
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789\
              GET /after HTTP/1.1\r\nHost: x\r\n\r\n",
        ),
        (
            S2C,
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabcdefghij\
              HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        ),
    ]);
    let (p, ev) = run_split(cfg, &c, None);
    let tx = p.tx(0).expect("tx 0");
    let req = tx.request_body().expect("body");
    assert_eq!(
        (req.data(), req.wire_len(), req.is_truncated()),
        (&b"0123"[..], 10, true)
    );
    assert_eq!(tx.response_body().map(Body::data), b("abcdef"));
    // Framing carried on past the limit.
    assert_eq!(p.tx(1).and_then(Transaction::uri), b("/after"));
    assert!(p.tx(1).is_some_and(Transaction::response_done));
    assert_eq!(
        anomalies(&ev),
        vec!["http.request_body_limit", "http.response_body_limit"]
    );
    check_splits("body limits", cfg, &c);
}

#[test]
fn header_caps() {
    let cfg = HttpConfig {
        max_header_bytes: 64,
        max_headers: 2,
        ..HttpConfig::default()
    };
    let long = format!(
        "GET /{} HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\nGET /next HTTP/1.1\r\nHost: y\r\n\r\n",
        "a".repeat(200)
    );
    let c = vec![(C2S, long.into_bytes())];
    let (p, ev) = run_split(cfg, &c, None);
    let tx = p.tx(0).expect("tx 0");
    assert_eq!(
        tx.request_protocol(),
        b("HTTP/1.1"),
        "the version survives the cut"
    );
    assert!(tx.uri().is_some_and(|u| u.len() < 64));
    assert!(tx.request_headers().is_some_and(|h| h.raw().len() <= 64));
    assert_eq!(p.tx(1).and_then(Transaction::host), b("y"));
    // The cut line left no room for the header block, Host included.
    assert_eq!(
        anomalies(&ev),
        vec!["http.request_field_too_long", "http.missing_host_header"]
    );
    check_splits("header bytes", cfg, &c);

    let c = conv(&[(C2S, b"GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n")]);
    let (p, ev) = run_split(cfg, &c, None);
    assert_eq!(anomalies(&ev), vec!["http.request_too_many_headers"]);
    assert_eq!(
        p.tx(0)
            .and_then(|t| t.request_headers())
            .map(|h| h.fields().len()),
        Some(2)
    );
}

#[test]
fn transaction_cap() {
    let cfg = HttpConfig {
        max_tx: 3,
        ..HttpConfig::default()
    };
    let c = vec![(C2S, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(5))];
    let (p, ev) = run_split(cfg, &c, None);
    assert_eq!(p.transactions().count(), 3);
    assert!(p.is_failed());
    assert_eq!(anomalies(&ev), vec!["http.too_many_transactions"]);

    // Popping finished transactions keeps a long connection going.
    let mut p = HttpParser::new(cfg);
    let mut ev = Vec::new();
    for _ in 0..10 {
        p.feed(C2S, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", &mut ev);
        p.feed(S2C, b"HTTP/1.1 204 No Content\r\n\r\n", &mut ev);
        assert!(p.pop_finished().is_some());
    }
    assert!(!p.is_failed());
}

#[test]
fn memory_budget() {
    let cfg = HttpConfig {
        max_held_bytes: 300,
        ..HttpConfig::default()
    };
    // Each request holds 98 bytes of lines and header buffers, so the
    // fifth one finds 392 held and is refused.
    let one = b"GET /aaaaaaaaaa HTTP/1.1\r\nHost: x\r\n\r\n";
    let c = vec![(C2S, one.repeat(10))];
    let (p, ev) = run_split(cfg, &c, None);
    assert!(p.is_failed());
    assert_eq!(anomalies(&ev), vec!["http.memory_limit"]);
    let held = p.held_bytes();
    assert_eq!(held, 392);
    assert_eq!(p.transactions().count(), 4);
}

#[test]
fn decompression_bomb_is_capped() {
    let cfg = HttpConfig {
        response_body_limit: 10 << 20,
        decompress_limit: 64 * 1024,
        ..HttpConfig::default()
    };
    let z = gzip(&vec![b'A'; 8 << 20]);
    let mut resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        z.len()
    )
    .into_bytes();
    resp.extend_from_slice(&z);
    resp.extend_from_slice(b"HTTP/1.1 204 No Content\r\n\r\n");
    let c = vec![
        (
            C2S,
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        ),
        (S2C, resp),
    ];
    let (p, ev) = run_split(cfg, &c, None);
    assert_eq!(
        p.tx(0)
            .and_then(|t| t.response_body())
            .map(|b| b.data().len()),
        Some(64 * 1024)
    );
    assert_eq!(anomalies(&ev), vec!["http.compression_bomb"]);
    assert_eq!(p.tx(1).and_then(Transaction::status), Some(204));
}

// Never panic.

/// A small deterministic generator (xorshift64*), so failures replay.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn multipart_sample() -> Conv {
    conv(&[(
        C2S,
        b"POST /u HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=zz\r\n\
          Content-Length: 68\r\n\r\n\
          --zz\r\nContent-Disposition: form-data; filename=\"a\"\r\n\r\nAAAA\r\n--zz--\r\n",
    )])
}

fn samples() -> Vec<Conv> {
    vec![
        multipart_sample(),
        get_with_query(),
        post_then_get(),
        chunked_response(),
        gzip_response(),
        continue_100(),
    ]
}

/// Feed `conv` in random pieces with a small config; check the caps hold.
fn feed_randomly(conv: &Conv, rng: &mut Rng) {
    let mut p = HttpParser::new(small_config());
    let mut ev = Vec::new();
    for (dir, bytes) in conv {
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let n = 1 + rng.below(rest.len().min(40));
            p.feed(*dir, &rest[..n], &mut ev);
            rest = &rest[n..];
        }
    }
    p.close(C2S, &mut ev);
    p.close(S2C, &mut ev);
    for tx in p.transactions() {
        assert!(tx.request_body().map_or(0, |b| b.data().len()) <= 16);
        assert!(tx.response_body().map_or(0, |b| b.data().len()) <= 16);
        assert!(tx.request_headers().map_or(0, |h| h.raw().len()) <= 128);
        let files = tx.request_file_data();
        assert!(files.iter().map(|f| f.len()).sum::<usize>() <= 16);
    }
    assert!(p.transactions().count() <= 4);
    // The budget, plus the two messages that may grow after its check.
    assert!(p.held_bytes() <= 1024 + 2 * (6 * 128 + 16 + 2 * 128));
    while p.pop_finished().is_some() {}
    assert_eq!(
        p.transactions().count(),
        0,
        "everything is finished after close"
    );
}

/// Damage a sample in one to four places.
fn mutate(sample: &Conv, rng: &mut Rng) -> Conv {
    let mut c = sample.clone();
    for _ in 0..1 + rng.below(4) {
        let part = rng.below(c.len());
        let bytes = &mut c[part].1;
        if bytes.is_empty() {
            continue;
        }
        let at = rng.below(bytes.len());
        match rng.below(4) {
            0 => bytes[at] = rng.next() as u8,
            1 => bytes[at] = b"\r\n:; 0%/."[rng.below(9)],
            2 => bytes.truncate(at),
            _ => {
                let dup = bytes[at..].to_vec();
                bytes.extend_from_slice(&dup);
            }
        }
    }
    c
}

fn small_config() -> HttpConfig {
    HttpConfig {
        max_header_bytes: 128,
        max_headers: 4,
        request_body_limit: 16,
        response_body_limit: 16,
        decompress_limit: 64,
        max_tx: 4,
        max_held_bytes: 1024,
    }
}

#[test]
fn mutated_samples_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for sample in samples() {
        for _ in 0..300 {
            let c = mutate(&sample, &mut rng);
            feed_randomly(&c, &mut rng);
        }
    }
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Whatever the bytes, where the stream is split changes nothing.
#[test]
fn mutated_samples_parse_the_same_byte_by_byte() {
    let mut rng = Rng(env_or("HTTP_SEED", 7));
    for sample in samples() {
        for round in 0..env_or("HTTP_ROUNDS", 60) {
            let c = mutate(&sample, &mut rng);
            let cfg = if round % 2 == 0 {
                small_config()
            } else {
                HttpConfig::default()
            };
            let (p, ev) = run_split(cfg, &c, None);
            let (pb, evb) = run_bytewise(cfg, &c);
            assert_eq!(
                digest_masked(&pb, &evb, true),
                digest_masked(&p, &ev, true),
                "{c:?}"
            );
        }
    }
}

#[test]
fn truncations_never_panic() {
    for sample in samples() {
        let all: usize = sample.iter().map(|(_, b)| b.len()).sum();
        for keep in 0..all {
            let mut left = keep;
            let c: Conv = sample
                .iter()
                .map(|(d, b)| {
                    let n = left.min(b.len());
                    left -= n;
                    (*d, b[..n].to_vec())
                })
                .collect();
            let (p, _) = run(&c);
            assert!(p.transactions().count() <= 3);
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(42);
    for round in 0..500 {
        let len = rng.below(300);
        // Half the rounds start like HTTP so the deeper states are hit.
        let mut bytes: Vec<u8> = if round % 2 == 0 {
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec()
        } else {
            Vec::new()
        };
        let alphabet = b"0123456789abcdef\r\n;: GETHTP/\x00\xff";
        bytes.extend((0..len).map(|_| alphabet[rng.below(alphabet.len())]));
        let resp: Vec<u8> = (0..rng.below(200)).map(|_| rng.next() as u8).collect();
        let c = vec![(C2S, bytes), (S2C, resp)];
        feed_randomly(&c, &mut rng);
    }
}
