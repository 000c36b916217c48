//! Caps of the HTTP parser.

/// Limits for one [`super::HttpParser`]. Every buffer the parser keeps
/// is bounded by one of these; hitting one raises the anomaly named in
/// the field's doc and the parser carries on without growing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpConfig {
    /// Bytes kept of one message's start line plus header block (and of
    /// a chunked body's trailer block). Longer: the rest of the block is
    /// skipped unstored, framing still follows it, and
    /// `http.request_field_too_long` / `http.response_field_too_long` is
    /// raised. A start line cut this way keeps its version. Default
    /// 64 KiB.
    pub max_header_bytes: usize,
    /// Header fields kept per message; more raise
    /// `http.request_too_many_headers` / `http.response_too_many_headers`
    /// and are ignored (they stay in the raw block). Default 1024.
    pub max_headers: usize,
    /// Request body bytes kept for inspection (Suricata's
    /// `request-body-limit`). Past it `http.request_body_limit` is
    /// raised and the rest is framed but not kept. Default 100 KiB.
    pub request_body_limit: usize,
    /// Response body bytes kept, after decoding (Suricata's
    /// `response-body-limit`); `http.response_body_limit` past it.
    /// Default 100 KiB.
    pub response_body_limit: usize,
    /// Decoded bytes one gzip/deflate body may produce; more is a
    /// decompression bomb: `http.compression_bomb`, decoding stops.
    /// Default 1 MiB.
    pub decompress_limit: u64,
    /// Transactions held by one parser at once (parsed but not yet taken
    /// with [`super::HttpParser::pop_finished`]); one more raises
    /// `http.too_many_transactions` and the parser fails. Default 512,
    /// Suricata's `max-tx`.
    pub max_tx: usize,
    /// Bytes all held transactions may keep together (their lines,
    /// header blocks and bodies), checked when a transaction opens; at
    /// or past it `http.memory_limit` is raised and the parser fails.
    /// The two messages being parsed can still grow by their own caps
    /// after the check, so the bound is this plus two transactions.
    /// Default 8 MiB.
    pub max_held_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_header_bytes: 64 * 1024,
            max_headers: 1024,
            request_body_limit: 100 * 1024,
            response_body_limit: 100 * 1024,
            decompress_limit: 1024 * 1024,
            max_tx: 512,
            max_held_bytes: 8 * 1024 * 1024,
        }
    }
}
