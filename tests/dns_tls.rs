//! DNS and TLS buffers end to end: a UDP query and a TLS ClientHello
//! through the engine's app layer into per-transaction detection.

mod common;

use common::*;
use etherparse::PacketBuilder;

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

/// A standard query for `name` (dotted), from the client to port 53.
fn dns_query(id: u16, name: &str) -> Vec<u8> {
    let mut msg = id.to_be_bytes().to_vec();
    msg.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]); // RD, one question
    for label in name.split('.') {
        msg.push(label.len() as u8);
        msg.extend_from_slice(label.as_bytes());
    }
    msg.extend_from_slice(&[0, 0, 1, 0, 1]); // root, A, IN
    let b = PacketBuilder::ipv4(CLIENT, SERVER, 64).udp(40000, 53);
    let mut out = Vec::new();
    b.write(&mut out, &msg).expect("build");
    out
}

#[test]
fn dns_query_rule_alerts_once_per_message() {
    let rules = [
        r#"alert dns any any -> any any (msg:"q"; dns_query; content:"evil.example"; nocase; isdataat:!1,relative; sid:1;)"#,
        r#"alert dns any any -> any any (dns.query; dotprefix; content:".example"; endswith; sid:2;)"#,
        r#"alert dns any any -> any any (dns.query; content:"evil.example.org"; sid:3;)"#,
    ];
    let mut r = Run::new(engine(Mode::Ips, &rules));
    r.send(&dns_query(7, "www.evil.example"));
    let mut got = tx_alerts(&r);
    got.sort();
    assert_eq!(
        got,
        vec![(1, Some(0), Some("dns")), (2, Some(0), Some("dns"))]
    );
    // A second message on the same flow is its own transaction.
    r.send(&dns_query(8, "EVIL.example"));
    assert_eq!(tx_alerts(&r).len(), 4);
}

#[test]
fn tls_sni_rule_alerts_on_the_client_hello() {
    let rule = r#"alert tls any any -> any any (tls.sni; content:"example.org"; isdataat:!1,relative; sid:10;)"#;
    let other = r#"alert tls any any -> any any (tls_sni; content:"other.org"; sid:11;)"#;
    let mut r = Run::new(engine(Mode::Ips, &[rule, other]));
    r.handshake();
    let hello = portcullis::app::tls::test_hello("example.org");
    // The hello arrives in two segments, the cut inside the name.
    let cut = hello.len() - 5;
    r.send(&seg(true, F::ACK | F::PSH, 101, 501, &hello[..cut]));
    assert!(tx_alerts(&r).is_empty());
    let next = 101 + cut as u32;
    r.send(&seg(true, F::ACK | F::PSH, next, 501, &hello[cut..]));
    assert_eq!(tx_alerts(&r), vec![(10, Some(0), Some("tls"))]);
}

#[test]
fn dns_over_tcp_is_framed_and_other_udp_stays_unknown() {
    let rule = r#"alert dns any any -> any any (dns_query; content:"tcp.example"; sid:20;)"#;
    let pkt = r#"alert udp any any -> any any (content:"hello"; sid:21;)"#;
    let mut r = Run::new(engine(Mode::Ips, &[rule, pkt]));

    // Port 53 over TCP: the length prefix and the message arrive in
    // separate segments.
    let udp = dns_query(9, "tcp.example");
    let msg = &udp[28..]; // past the IPv4 and UDP headers
    let tcp53 = |seq: u32, data: &[u8]| {
        let b = PacketBuilder::ipv4(CLIENT, SERVER, 64)
            .tcp(40001, 53, seq, 65535)
            .ack(501)
            .psh();
        let mut out = Vec::new();
        b.write(&mut out, data).expect("build");
        out
    };
    let syn = {
        let b = PacketBuilder::ipv4(CLIENT, SERVER, 64)
            .tcp(40001, 53, 100, 65535)
            .syn();
        let mut out = Vec::new();
        b.write(&mut out, &[]).expect("build");
        out
    };
    let syn_ack = {
        let b = PacketBuilder::ipv4(SERVER, CLIENT, 64)
            .tcp(53, 40001, 500, 65535)
            .syn()
            .ack(101);
        let mut out = Vec::new();
        b.write(&mut out, &[]).expect("build");
        out
    };
    r.send(&syn);
    r.send(&syn_ack);
    r.send(&tcp53(101, &(msg.len() as u16).to_be_bytes()));
    r.send(&tcp53(103, msg));
    assert_eq!(tx_alerts(&r), vec![(20, Some(0), Some("dns"))]);

    // UDP that is not DNS: plain rules still fire, no app_proto.
    let b = PacketBuilder::ipv4(CLIENT, SERVER, 64).udp(5000, 6000);
    let mut out = Vec::new();
    b.write(&mut out, b"hello").expect("build");
    r.send(&out);
    assert_eq!(tx_alerts(&r).last(), Some(&(21, None, None)));
}

#[test]
fn certificate_buffers_fire_on_the_server_flight() {
    let rules = [
        r#"alert tls any any -> any any (tls_cert_subject; content:"CN=evil.example"; nocase; sid:30;)"#,
        r#"alert tls any any -> any any (tls.cert_issuer; content:"C=US, O=Let's Encrypt, CN=R3"; sid:31;)"#,
        r#"alert tls any any -> any any (tls.cert_serial; content:"00:E7:0A"; sid:32;)"#,
        // Both sides of the one TLS transaction.
        r#"alert tls any any -> any any (tls.sni; content:"example.org"; tls.cert_subject; content:"evil"; sid:33;)"#,
    ];
    let mut r = Run::new(engine(Mode::Ips, &rules));
    r.handshake();
    let hello = portcullis::app::tls::test_hello("example.org");
    r.send(&seg(true, F::ACK | F::PSH, 101, 501, &hello));
    assert!(tx_alerts(&r).is_empty());
    let der = portcullis::app::x509::test_cert("evil.example");
    let cert = portcullis::app::tls::test_certificate(&der);
    let ack = 101 + hello.len() as u32;
    r.send(&seg(false, F::ACK | F::PSH, 501, ack, &cert));
    let mut got: Vec<u32> = tx_alerts(&r).into_iter().map(|a| a.0).collect();
    got.sort();
    assert_eq!(got, vec![30, 31, 32, 33]);
}
