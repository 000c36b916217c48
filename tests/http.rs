//! HTTP rules end to end: stream bytes through the engine's app layer
//! into per-transaction detection, and the alerts it logs.

mod common;

use common::*;

/// (sid, tx_id, app_proto) of each alert, in order.
fn tx_alerts(r: &Run) -> Vec<(u32, Option<u64>, Option<&'static str>)> {
    r.events
        .iter()
        .filter_map(|e| match e {
            Event::Alert(a) => Some((a.alert.signature_id, a.tx_id, a.app_proto)),
            _ => None,
        })
        .collect()
}

#[test]
fn body_in_two_segments_alerts_once_per_transaction() {
    let rule =
        r#"alert http any any -> any any (flow:to_server; http.request_body; content:"a"; sid:1;)"#;
    let mut r = Run::new(engine(Mode::Ips, &[rule]));
    r.handshake();
    let head = b"POST /f HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nxa";
    let first = seg(true, F::ACK | F::PSH, 101, 501, head);
    r.send(&first);
    assert_eq!(tx_alerts(&r), vec![(1, Some(0), Some("http"))]);

    // More of the same body, and a retransmission of the first part:
    // the transaction already fired, and old bytes are not parsed again.
    let next = 101 + head.len() as u32;
    r.send(&seg(true, F::ACK | F::PSH, next, 501, b"ya"));
    r.send(&first);
    assert_eq!(tx_alerts(&r).len(), 1);
}

#[test]
fn pipelined_requests_are_judged_one_by_one() {
    let rule = r#"alert http any any -> any any (http.uri; content:"/p"; startswith; sid:2;)"#;
    let mut r = Run::new(engine(Mode::Ips, &[rule]));
    r.handshake();
    let two = b"GET /p1 HTTP/1.1\r\nHost: h\r\n\r\nGET /q HTTP/1.1\r\nHost: h\r\n\r\nGET /p3 HTTP/1.1\r\nHost: h\r\n\r\n";
    r.send(&seg(true, F::ACK | F::PSH, 101, 501, two));
    let ids: Vec<_> = tx_alerts(&r).into_iter().map(|a| a.1).collect();
    assert_eq!(ids, vec![Some(0), Some(2)]);
    // Each alert names its own transaction in EVE's `http` object.
    let urls: Vec<_> = r
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Alert(a) => a.http.as_ref().and_then(|h| h.url.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(urls, ["/p1", "/p3"]);
}

#[test]
fn ips_drops_on_an_http_buffer_match() {
    let rule = r#"drop http any any -> any any (msg:"bad uri"; http.uri; content:"/evil"; sid:3;)"#;
    let mut r = Run::new(engine(Mode::Ips, &[rule]));
    r.handshake();
    // The literal is percent-encoded on the wire; http.uri decodes it.
    let req = b"GET /%65vil HTTP/1.1\r\nHost: h\r\n\r\n";
    assert_eq!(
        r.send(&seg(true, F::ACK | F::PSH, 101, 501, req)),
        Verdict::Drop
    );
    assert_eq!(r.alerts(), vec![(3, "blocked".to_string())]);
}

#[test]
fn response_rules_fire_on_the_response() {
    let rules = [
        r#"alert http any any -> any any (http.stat_code; content:"404"; sid:4;)"#,
        r#"alert http any any -> any any (http.method; content:"GET"; http.stat_code; content:"404"; sid:5;)"#,
        // Stream content on an http rule waits for the protocol.
        r#"alert http any any -> any any (content:"Not"; sid:6;)"#,
    ];
    let mut r = Run::new(engine(Mode::Ips, &rules));
    r.handshake();
    let req = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n";
    r.send(&seg(true, F::ACK | F::PSH, 101, 501, req));
    assert!(tx_alerts(&r).is_empty());
    let resp = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    let ack = 101 + req.len() as u32;
    r.send(&seg(false, F::ACK | F::PSH, 501, ack, resp));
    let mut got = tx_alerts(&r);
    got.sort();
    assert_eq!(
        got,
        vec![
            (4, Some(0), Some("http")),
            (5, Some(0), Some("http")),
            (6, None, Some("http"))
        ]
    );
}

#[test]
fn ids_judges_the_request_once_acknowledged() {
    let rule = r#"alert http any any -> any any (flow:established,to_server; http.host; content:"h.example"; sid:7;)"#;
    let mut r = Run::new(engine(Mode::Ids, &[rule]));
    r.handshake();
    let req = b"GET / HTTP/1.1\r\nHost: H.Example\r\n\r\n";
    r.send(&seg(true, F::ACK | F::PSH, 101, 501, req));
    assert!(tx_alerts(&r).is_empty());
    let ack = 101 + req.len() as u32;
    r.send(&seg(false, F::ACK, 501, ack, b""));
    r.send(&seg(true, F::ACK, ack, 501, b""));
    assert_eq!(tx_alerts(&r), vec![(7, Some(0), Some("http"))]);
}

#[test]
fn long_keep_alive_flow_stays_under_the_transaction_cap() {
    // More exchanges than the parser holds at once (512): finished
    // transactions must leave after detection for the last to parse.
    let rule = r#"alert http any any -> any any (http.uri; content:"/last"; sid:8;)"#;
    let mut r = Run::new(engine(Mode::Ips, &[rule]));
    r.handshake();
    let (mut cseq, mut sseq) = (101u32, 501u32);
    let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    for i in 0..600 {
        let uri = if i == 599 { "/last" } else { "/n" };
        let req = format!("GET {uri} HTTP/1.1\r\nHost: h\r\n\r\n");
        r.send(&seg(true, F::ACK | F::PSH, cseq, sseq, req.as_bytes()));
        cseq += req.len() as u32;
        r.send(&seg(false, F::ACK | F::PSH, sseq, cseq, resp));
        sseq += resp.len() as u32;
    }
    assert_eq!(tx_alerts(&r), vec![(8, Some(599), Some("http"))]);
}
