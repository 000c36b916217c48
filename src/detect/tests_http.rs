//! Transaction rules against transactions built by the HTTP parser:
//! one table of buffer cases, each judged on the request and on the
//! response side.

use super::http::TxRules;
use crate::app::http::{AnomalySet, HttpParser};
use crate::detect::TxRef;
use crate::flow::Dir;
use crate::rules::{parse_rule, Classifications, Vars};

const REQUEST: &[u8] = b"POST /a/../Path%20x?q=1 HTTP/1.1\r\n\
Host: Ex.ORG:8080\r\n\
User-Agent: UA-1\r\n\
Cookie: c=1\r\n\
Referer: http://r/\r\n\
Accept: text/html\r\n\
Accept-Language: en\r\n\
Accept-Encoding: gzip\r\n\
Connection: keep-alive\r\n\
Content-Type: application/x-www-form-urlencoded\r\n\
Content-Length: 10\r\n\
\r\n\
k=v%41&z=1";

const RESPONSE: &[u8] = b"HTTP/1.1 302 Found\r\n\
Server: srv/1\r\n\
Location: /next\r\n\
Set-Cookie: s=2\r\n\
Content-Type: text/plain\r\n\
Connection: close\r\n\
Content-Length: 4\r\n\
\r\n\
BODY";

/// (options, matches on the request side, on the response side). A
/// rule reading only request buffers is judged on the request alone.
const CASES: &[(&str, bool, bool)] = &[
    (
        r#"http.uri; content:"/Path x?q=1"; startswith; endswith;"#,
        true,
        false,
    ),
    (r#"http.uri; content:"nope";"#, false, false),
    (r#"http.uri.raw; content:"/a/../Path%20x";"#, true, false),
    (r#"http.method; content:"POST"; bsize:4;"#, true, false),
    (r#"http.protocol; content:"HTTP/1.1"; bsize:8;"#, true, true),
    (
        r#"http.request_line; content:"POST /a/../Path%20x?q=1 HTTP/1.1"; bsize:32;"#,
        true,
        false,
    ),
    (
        r#"http.header; content:"User-Agent: UA-1|0d 0a|";"#,
        true,
        false,
    ),
    (
        r#"http.header; content:"Location: /next|0d 0a|";"#,
        false,
        true,
    ),
    (
        r#"http.header.raw; content:"Host: Ex.ORG:8080";"#,
        true,
        false,
    ),
    (
        r#"http.header_names; content:"|0d 0a|Host|0d 0a|User-Agent|0d 0a|";"#,
        true,
        false,
    ),
    (r#"http.host; content:"ex.org"; bsize:6;"#, true, false),
    (r#"http.host.raw; content:"Ex.ORG:8080";"#, true, false),
    (r#"http.user_agent; content:"UA-1";"#, true, false),
    (r#"http.cookie; content:"c=1";"#, true, false),
    (r#"http.cookie; content:"s=2";"#, false, true),
    (r#"http.content_type; content:"text/plain";"#, false, true),
    (
        r#"http.content_type; content:"form-urlencoded"; endswith;"#,
        true,
        false,
    ),
    (r#"http.referer; content:"http://r/";"#, true, false),
    (r#"http.accept; content:"text/html";"#, true, false),
    (r#"http.accept_lang; content:"en";"#, true, false),
    (r#"http.accept_enc; content:"gzip";"#, true, false),
    (r#"http.connection; content:"keep-alive";"#, true, false),
    (r#"http.connection; content:"close";"#, false, true),
    (r#"http.content_len; content:"10";"#, true, false),
    (r#"http.request_body; content:"k=v%41";"#, true, false),
    (
        r#"http.request_body; url_decode; content:"k=vA&z=1"; bsize:8;"#,
        true,
        false,
    ),
    (r#"http.stat_code; content:"302";"#, false, true),
    (r#"http.stat_msg; content:"Found";"#, false, true),
    (
        r#"http.response_line; content:"HTTP/1.1 302 Found";"#,
        false,
        true,
    ),
    (r#"http.server; content:"srv/1";"#, false, true),
    (r#"http.location; content:"/next";"#, false, true),
    (r#"http.response_body; content:"BODY";"#, false, true),
    (r#"file_data; content:"BODY";"#, false, true),
    (r#"file_data; content:"k=v";"#, true, false),
    (
        r#"http.start; content:"POST /a"; startswith; content:"|0d 0a 0d 0a|"; endswith;"#,
        true,
        false,
    ),
    (
        r#"http.request_header; content:"Host: Ex.ORG:8080"; bsize:17;"#,
        true,
        false,
    ),
    (
        r#"http.response_header; content:"Location: /next"; startswith;"#,
        false,
        true,
    ),
    (r#"urilen:11;"#, true, false),
    (r#"urilen:>15,raw;"#, true, false),
    (r#"urilen:>30,raw;"#, false, false),
    (
        r#"http.user_agent; to_lowercase; content:"ua-1";"#,
        true,
        false,
    ),
    (
        r#"http.user_agent; to_uppercase; content:"UA-1"; bsize:4;"#,
        true,
        false,
    ),
    (
        r#"http.host; dotprefix; content:".ex.org"; endswith;"#,
        true,
        false,
    ),
    (
        r#"http.stat_msg; strip_whitespace; content:"Found";"#,
        false,
        true,
    ),
    (
        r#"http.request_line; compress_whitespace; content:"POST /a";"#,
        true,
        false,
    ),
    (r#"pcre:"/Path x/U";"#, true, false),
    (r#"pcre:"/^30\d$/S";"#, false, true),
    (
        r#"content:"POST"; http_method; content:"/Path"; http_uri;"#,
        true,
        false,
    ),
    // Request and response buffers together: judged on the response.
    (
        r#"http.method; content:"POST"; http.stat_code; content:"302";"#,
        false,
        true,
    ),
    // flow direction narrows a buffer found on both sides.
    (
        r#"flow:to_server; http.protocol; content:"HTTP/1.1";"#,
        true,
        false,
    ),
];

fn parsed() -> HttpParser {
    let mut p = HttpParser::default();
    let mut ev = Vec::new();
    p.feed(Dir::ToServer, REQUEST, &mut ev);
    p.feed(Dir::ToClient, RESPONSE, &mut ev);
    p
}

#[test]
fn each_buffer_matches_its_part() {
    let p = parsed();
    let tx = p.tx(0).expect("one transaction");
    let (vars, classes) = (Vars::default(), Classifications::default());
    for &(opts, on_request, on_response) in CASES {
        let text = format!("alert http any any -> any any ({opts} sid:1;)");
        let rule = parse_rule(&text, &vars, &classes).unwrap_or_else(|e| panic!("{text}: {e}"));
        let rules = TxRules::build(&[rule]).expect("builds");
        let judge = |to_server| {
            let mut cands = Vec::new();
            rules.candidates(TxRef::Http(tx), to_server, &mut cands);
            cands.contains(&0)
                && rules.matches(0, TxRef::Http(tx), to_server, &[], AnomalySet::default())
        };
        assert_eq!(judge(true), on_request, "request side: {opts}");
        assert_eq!(judge(false), on_response, "response side: {opts}");
    }
}

#[test]
fn app_layer_events_read_the_transaction() {
    let mut p = HttpParser::default();
    let mut ev = Vec::new();
    p.feed(
        Dir::ToServer,
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;ext\r\na\r\n0\r\n\r\n",
        &mut ev,
    );
    let tx = p.tx(0).expect("tx");
    let (vars, classes) = (Vars::default(), Classifications::default());
    let judge = |event: &str| {
        let text = format!("alert http any any -> any any (app-layer-event:{event}; sid:1;)");
        let rule = parse_rule(&text, &vars, &classes).expect("parses");
        let rules = TxRules::build(&[rule]).expect("builds");
        rules.matches(0, TxRef::Http(tx), true, &[], p.flow_anomalies())
    };
    assert!(judge("http.request_chunk_extension"));
    assert!(!judge("http.missing_host_header"));
}
