//! HTTP/1.x: a streaming parser that turns the two byte streams of a
//! TCP flow into transactions carrying Suricata's HTTP buffers.
//!
//! # Using it
//!
//! ```
//! use portcullis::app::http::{HttpEvent, HttpParser};
//! use portcullis::flow::Dir;
//!
//! let mut p = HttpParser::default();
//! let mut events = Vec::new();
//! p.feed(Dir::ToServer, b"GET /a/../b%20c HTTP/1.1\r\nHost: Ex.org\r\n\r\n", &mut events);
//! p.feed(Dir::ToClient, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", &mut events);
//! let tx = p.tx(0).expect("one transaction");
//! assert_eq!(tx.uri(), Some(&b"/b c"[..]));
//! assert_eq!(tx.host(), Some(&b"ex.org"[..]));
//! assert_eq!(tx.response_body().map(|b| b.data()), Some(&b"hi"[..]));
//! assert!(events.contains(&HttpEvent::Complete { tx_id: 0, dir: Dir::ToClient }));
//! ```
//!
//! # Model
//!
//! * **Input**: in-order stream bytes per direction, split anywhere
//!   (one byte at a time works); [`HttpParser::close`] at the end of a
//!   direction. The parser copies what it keeps, so the caller's
//!   buffers can be reused at once.
//! * **Transactions** are opened by request lines (or by a response
//!   nobody asked for) and numbered from 0 per flow, EVE's `tx_id`.
//!   Responses pair with requests in order, so pipelined requests are
//!   answered one by one. They stay in the parser until
//!   [`HttpParser::pop_finished`] takes them; at most
//!   [`HttpConfig::max_tx`] are held.
//! * **Events** ([`HttpEvent`]) say which transaction changed: headers
//!   parsed, body bytes added, message complete, anomaly, protocol
//!   upgrade, failure. Detection can run on each `Headers` and `Body`
//!   event for the buffers that just became available.
//! * **Buffers** are [`Transaction`] accessors named after the keyword
//!   they serve (`uri()` is `http.uri`, `response_body()` is
//!   `file_data`, ...). What `http.uri` normalises is listed in
//!   [`uri`]; header buffers are described on [`Headers`].
//! * **Anomalies** ([`Anomaly`]) carry Suricata's `app-layer-event`
//!   names and are also kept per transaction
//!   ([`Transaction::anomalies`]).
//!
//! # Keywords and where their buffers are
//!
//! | keyword | [`Transaction`] accessor |
//! |---|---|
//! | `http.method` | `method()` |
//! | `http.uri` / `http.uri.raw` | `uri()` / `uri_raw()` |
//! | `http.protocol` | `request_protocol()` / `response_protocol()` |
//! | `http.request_line` / `http.response_line` | `request_line()` / `response_line()` |
//! | `http.start` | `request_start()` / `response_start()` |
//! | `http.header` / `http.header.raw` | `request_headers()` or `response_headers()`, then [`Headers::normalized`] / [`Headers::raw`] |
//! | `http.header_names` | [`Headers::names`] |
//! | `http.request_header` / `http.response_header` | [`Headers::fields`], each [`Header::line`] |
//! | `http.host` / `http.host.raw` | `host()` / `host_raw()` |
//! | `http.user_agent`, `http.cookie`, `http.referer` | `user_agent()`, `cookie()`, `referer()` |
//! | `http.accept`, `http.accept_lang`, `http.accept_enc` | `accept()`, `accept_language()`, `accept_encoding()` |
//! | `http.connection`, `http.content_type`, `http.content_len` | `request_*` / `response_*` variants |
//! | `http.request_body` (`http_client_body`) | `request_body()` |
//! | `file_data` to server | `request_file_data()`: multipart file parts, else the body |
//! | `http.stat_code`, `http.stat_msg` | `stat_code()`, `stat_msg()` |
//! | `http.server`, `http.location` | `server()`, `location()` |
//! | `http.response_body`, `file_data` to client | `response_body()` |
//! | `app-layer-event:http.*` | `anomalies()`, [`Anomaly::from_name`] |
//!
//! # Framing
//!
//! Request bodies: `Transfer-Encoding: chunked`, else Content-Length,
//! else none. Response bodies: none for HEAD, 1xx, 204 and 304; chunked;
//! Content-Length; otherwise until the server closes. Chunk extensions
//! are accepted (and flagged), trailers are parsed and kept apart from
//! the headers. `100 Continue` and other interim responses are skipped
//! while the request's transaction waits for its final response; a 101
//! or a 2xx answer to CONNECT ends HTTP parsing for the flow
//! ([`HttpEvent::Upgrade`]). A request line without a version is
//! HTTP/0.9: no headers, and its answer is a bare body until close.
//! Bytes after a request without body framing that do not form a
//! request line are kept as that request's body and raise
//! `request_body_unexpected`, as libhtp does.
//!
//! # Failure
//!
//! A request line without a method token and target, or a response
//! that does not start with `HTTP/`, is not HTTP: the parser raises the
//! anomaly, emits [`HttpEvent::Failed`] and ignores the rest of the
//! flow. It never panics, whatever the bytes (see the tests).
//!
//! # Memory
//!
//! Everything kept is bounded by [`HttpConfig`]: per message a start
//! line and header block of at most `max_header_bytes` (held in about
//! five forms: raw, fields, merged, normalised, names) and a body of at
//! most its limit; per flow at most `max_tx` transactions and
//! `max_held_bytes` held by them (checked as each one opens, so the two
//! messages in progress can add their own caps on top). Transactions
//! leave with [`HttpParser::pop_finished`]; an engine that does not pop
//! them makes long keep-alive flows hit these caps and stop parsing.
//!
//! # Limits (known gaps)
//!
//! * Multipart parts are split from the kept request body
//!   ([`multipart`]), so a file past the request body limit is seen only
//!   up to it, and no `http.multipart_*` anomalies are raised.
//! * Request bodies are dechunked but not decompressed; only one
//!   content coding layer (gzip, x-gzip, deflate) is decoded in
//!   responses. A damaged compressed body may decode to a slightly
//!   different prefix depending on segment boundaries (see
//!   `decompress`).
//! * `%u` encoding, backslash separators and case folding of the path
//!   are not normalised (libhtp's defaults leave them too).
//! * A Host header and URI authority are compared by name only; the
//!   server's TCP port is not known here, so
//!   `request_server_port_tcp_port_mismatch` is never raised.
//! * Unframed request body bytes are only seen once their line ends (or
//!   at close).

mod body;
mod config;
mod decompress;
mod event;
mod framing;
mod header;
mod line;
pub mod multipart;
mod parser;
mod tx;
pub mod uri;

pub use config::HttpConfig;
pub use decompress::Coding;
pub use event::{Anomaly, AnomalySet, HttpEvent};
pub use header::{Header, Headers};
pub use parser::HttpParser;
pub use tx::{Body, Request, Response, Transaction};

#[cfg(test)]
mod tests;
