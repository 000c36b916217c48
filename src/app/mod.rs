//! Application layer: protocol detection and protocol parsers.
//!
//! This layer sits after stream reassembly. The engine hands it the
//! in-order bytes of each direction of a TCP flow as they become
//! available; it never sees packets, sequence numbers or clocks.
//!
//! # Wiring (per TCP flow)
//!
//! The short way: keep one [`AppSession`] per TCP flow, feed it each
//! direction's new in-order bytes and call its `close` at the end of a
//! direction; it runs detection, then the HTTP parser, and reports
//! [`AppEvent`]s. What it does, step by step, if the engine wants to do
//! it itself:
//!
//! 1. Until a protocol is known, keep the first bytes of each direction
//!    (a few hundred are plenty) and call [`detect_protocol`] whenever
//!    either prefix grows. `None` means "not yet decided, keep going";
//!    `Some(AppProto::Failed)` means "nothing recognised, stop trying".
//!    DNS over TCP has no content probe here: use [`proto_from_port`]
//!    when detection fails. UDP flows are DNS or nothing
//!    ([`AppSession::udp`]): port 53 or a well-formed query.
//! 2. DNS messages ([`dns`]) and the TLS handshake ([`tls`], with
//!    [`x509`] for the certificate) are parsed by [`AppSession`] itself;
//!    it hands out new DNS messages and which directions added to the
//!    flow's one TLS transaction.
//! 3. For [`AppProto::Http`], create one [`http::HttpParser`] per flow,
//!    feed it the buffered prefixes, then every new in-order chunk with
//!    [`http::HttpParser::feed`], and call [`http::HttpParser::close`]
//!    when a direction ends (FIN/RST or flow timeout).
//! 4. Each call appends [`http::HttpEvent`]s: transaction progress
//!    (headers parsed, body bytes added, message complete) and typed
//!    anomalies named like Suricata's `app-layer-event:http.*` keywords.
//!    Detection reads the sticky buffers from
//!    [`http::Transaction`] (`parser.tx(id)`), and the engine removes
//!    finished transactions with [`http::HttpParser::pop_finished`] after
//!    logging them, which keeps the per-flow transaction cap honest.
//!
//! Everything here parses borrowed byte slices, keeps only bounded
//! copies (each cap is a field of [`http::HttpConfig`]), and never
//! panics on input: malformed traffic becomes anomaly events, and
//! traffic that is not HTTP at all puts the parser in a failed state.

pub mod dns;
pub mod http;
mod probe;
mod session;
pub mod tls;
pub mod x509;

pub use probe::{detect_protocol, proto_from_port};
pub use session::{AppEvent, AppSession, PROBE_KEEP};

/// Application protocol of a flow, named as EVE's `app_proto` field
/// names it (see [`AppProto::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppProto {
    Http,
    Tls,
    Ssh,
    Smtp,
    Ftp,
    Dns,
    /// Both directions carried data and none of the probes matched.
    Failed,
}

impl AppProto {
    /// The EVE `app_proto` value.
    pub fn name(self) -> &'static str {
        match self {
            AppProto::Http => "http",
            AppProto::Tls => "tls",
            AppProto::Ssh => "ssh",
            AppProto::Smtp => "smtp",
            AppProto::Ftp => "ftp",
            AppProto::Dns => "dns",
            AppProto::Failed => "failed",
        }
    }
}
