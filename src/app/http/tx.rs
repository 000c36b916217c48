//! Transactions: one request and its response, with the buffers
//! Suricata's HTTP keywords inspect.
//!
//! Each accessor names the keyword it serves. Buffers are `None` until
//! the part of the message they come from was parsed.

use super::event::AnomalySet;
use super::header::Headers;
use super::multipart;

/// A body buffer kept up to a limit.
#[derive(Debug, Clone, Default)]
pub struct Body {
    data: Vec<u8>,
    /// Body bytes as framed (dechunked, before content decoding).
    wire: u64,
    /// Bytes were dropped at the limit.
    truncated: bool,
}

impl Body {
    /// The kept bytes (decoded, for a compressed response).
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Body length so far as framed on the wire: dechunked, before
    /// content decoding, counting bytes past the limit.
    pub fn wire_len(&self) -> u64 {
        self.wire
    }

    /// Bytes were dropped at the body limit (or decoding stopped there).
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    pub(super) fn count_wire(&mut self, n: usize) {
        self.wire = self.wire.saturating_add(n as u64);
    }

    /// Keep `bytes` up to `limit` in total. Returns false when the limit
    /// was reached by this call for the first time.
    pub(super) fn push(&mut self, bytes: &[u8], limit: usize) -> bool {
        let room = limit.saturating_sub(self.data.len());
        self.data.extend_from_slice(&bytes[..bytes.len().min(room)]);
        if bytes.len() > room && !self.truncated {
            self.truncated = true;
            return false;
        }
        true
    }
}

/// The parsed request of a transaction.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub(super) line: Vec<u8>,
    pub(super) method: Vec<u8>,
    pub(super) uri_raw: Vec<u8>,
    pub(super) uri: Vec<u8>,
    pub(super) protocol: Vec<u8>,
    pub(super) headers: Headers,
    pub(super) host: Option<Vec<u8>>,
    pub(super) content_length: Option<u64>,
    pub(super) body: Body,
    pub(super) trailer: Option<Headers>,
}

/// The parsed response of a transaction.
#[derive(Debug, Clone, Default)]
pub struct Response {
    pub(super) line: Vec<u8>,
    pub(super) protocol: Vec<u8>,
    pub(super) status: Vec<u8>,
    pub(super) message: Vec<u8>,
    pub(super) headers: Headers,
    pub(super) content_length: Option<u64>,
    pub(super) body: Body,
    pub(super) trailer: Option<Headers>,
}

/// One request/response exchange; `id` counts from 0 per flow (EVE
/// `tx_id`).
#[derive(Debug, Clone, Default)]
pub struct Transaction {
    pub(super) id: u64,
    pub(super) request: Option<Request>,
    pub(super) response: Option<Response>,
    pub(super) request_done: bool,
    pub(super) response_done: bool,
    /// `100 Continue` responses seen before the final one.
    pub(super) continues: u32,
    pub(super) anomalies: AnomalySet,
}

fn start_buffer(line: &[u8], headers: &Headers) -> Vec<u8> {
    let mut b = Vec::with_capacity(line.len() + headers.normalized().len() + 4);
    b.extend_from_slice(line);
    b.extend_from_slice(b"\r\n");
    b.extend_from_slice(headers.normalized());
    b.extend_from_slice(b"\r\n");
    b
}

fn opt(v: &[u8]) -> Option<&[u8]> {
    (!v.is_empty()).then_some(v)
}

impl Transaction {
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn request(&self) -> Option<&Request> {
        self.request.as_ref()
    }

    pub fn response(&self) -> Option<&Response> {
        self.response.as_ref()
    }

    /// The request message (body included) is complete.
    pub fn request_done(&self) -> bool {
        self.request_done
    }

    /// The final response (body included) is complete.
    pub fn response_done(&self) -> bool {
        self.response_done
    }

    /// Anomalies raised for this transaction (`app-layer-event`).
    pub fn anomalies(&self) -> AnomalySet {
        self.anomalies
    }

    /// Bytes this transaction holds (lines, header blocks, bodies); the
    /// number [`super::HttpConfig::max_held_bytes`] is checked against.
    pub fn held_bytes(&self) -> usize {
        let trailer = |t: &Option<Headers>| t.as_ref().map_or(0, Headers::held_bytes);
        let req = self.request.as_ref().map_or(0, |r| {
            r.line.len()
                + r.method.len()
                + r.uri_raw.len()
                + r.uri.len()
                + r.protocol.len()
                + r.host.as_ref().map_or(0, Vec::len)
                + r.headers.held_bytes()
                + r.body.data().len()
                + trailer(&r.trailer)
        });
        let resp = self.response.as_ref().map_or(0, |r| {
            r.line.len()
                + r.protocol.len()
                + r.status.len()
                + r.message.len()
                + r.headers.held_bytes()
                + r.body.data().len()
                + trailer(&r.trailer)
        });
        req + resp
    }

    // Request side.

    /// `http.method`
    pub fn method(&self) -> Option<&[u8]> {
        self.request.as_ref().and_then(|r| opt(&r.method))
    }

    /// `http.uri`: normalised, see [`super::uri`].
    pub fn uri(&self) -> Option<&[u8]> {
        self.request.as_ref().map(|r| r.uri.as_slice())
    }

    /// `http.uri.raw`: the request target as sent.
    pub fn uri_raw(&self) -> Option<&[u8]> {
        self.request.as_ref().map(|r| r.uri_raw.as_slice())
    }

    /// `http.protocol` (request side), e.g. `HTTP/1.1`; `None` for a
    /// request line without one (HTTP/0.9).
    pub fn request_protocol(&self) -> Option<&[u8]> {
        self.request.as_ref().and_then(|r| opt(&r.protocol))
    }

    /// `http.request_line`: the line without its CRLF.
    pub fn request_line(&self) -> Option<&[u8]> {
        self.request.as_ref().map(|r| r.line.as_slice())
    }

    /// Request headers: `http.header` is [`Headers::normalized`],
    /// `http.header.raw` is [`Headers::raw`], `http.header_names` is
    /// [`Headers::names`].
    pub fn request_headers(&self) -> Option<&Headers> {
        self.request.as_ref().map(|r| &r.headers)
    }

    /// `http.start` to the server: request line, CRLF, the normalised
    /// headers ([`Headers::normalized`]) and a final CRLF.
    pub fn request_start(&self) -> Option<Vec<u8>> {
        let r = self.request.as_ref()?;
        Some(start_buffer(&r.line, &r.headers))
    }

    /// Trailer fields of a chunked request body.
    pub fn request_trailer(&self) -> Option<&Headers> {
        self.request.as_ref().and_then(|r| r.trailer.as_ref())
    }

    fn req_header(&self, name: &str) -> Option<&[u8]> {
        self.request.as_ref().and_then(|r| r.headers.get(name))
    }

    /// `http.host`: from an absolute request target, else the Host
    /// header; lowercased, port and a trailing dot removed.
    pub fn host(&self) -> Option<&[u8]> {
        self.request.as_ref().and_then(|r| r.host.as_deref())
    }

    /// `http.host.raw`: the Host header value as sent.
    pub fn host_raw(&self) -> Option<&[u8]> {
        self.req_header("host")
    }

    /// `http.user_agent`
    pub fn user_agent(&self) -> Option<&[u8]> {
        self.req_header("user-agent")
    }

    /// `http.cookie` (request side).
    pub fn cookie(&self) -> Option<&[u8]> {
        self.req_header("cookie")
    }

    /// `http.referer`
    pub fn referer(&self) -> Option<&[u8]> {
        self.req_header("referer")
    }

    /// `http.accept`
    pub fn accept(&self) -> Option<&[u8]> {
        self.req_header("accept")
    }

    /// `http.accept_lang`
    pub fn accept_language(&self) -> Option<&[u8]> {
        self.req_header("accept-language")
    }

    /// `http.accept_enc`
    pub fn accept_encoding(&self) -> Option<&[u8]> {
        self.req_header("accept-encoding")
    }

    /// `http.connection` of the request.
    pub fn request_connection(&self) -> Option<&[u8]> {
        self.req_header("connection")
    }

    /// `http.content_type` of the request.
    pub fn request_content_type(&self) -> Option<&[u8]> {
        self.req_header("content-type")
    }

    /// `http.content_len` of the request, as sent.
    pub fn request_content_length_raw(&self) -> Option<&[u8]> {
        self.req_header("content-length")
    }

    /// The request's Content-Length when it was valid.
    pub fn request_content_length(&self) -> Option<u64> {
        self.request.as_ref().and_then(|r| r.content_length)
    }

    /// `http.request_body` / `http_client_body`: dechunked, up to
    /// [`super::HttpConfig::request_body_limit`].
    pub fn request_body(&self) -> Option<&Body> {
        self.request.as_ref().map(|r| &r.body)
    }

    /// `file_data` in the to-server direction: the content of each
    /// file part of a `multipart/*` body (parts with a filename), else
    /// the whole request body when there is one. Computed from the kept
    /// body on each call.
    pub fn request_file_data(&self) -> Vec<&[u8]> {
        let Some(req) = self.request.as_ref() else {
            return Vec::new();
        };
        let body = req.body.data();
        let boundary = req
            .headers
            .get("content-type")
            .and_then(multipart::boundary);
        match boundary {
            Some(b) => multipart::parts(body, b)
                .into_iter()
                .filter(|p| p.filename.is_some())
                .map(|p| p.data)
                .collect(),
            None if body.is_empty() => Vec::new(),
            None => vec![body],
        }
    }

    // Response side.

    /// `http.stat_code`
    pub fn stat_code(&self) -> Option<&[u8]> {
        self.response.as_ref().and_then(|r| opt(&r.status))
    }

    /// The status code as a number, when it is three digits.
    pub fn status(&self) -> Option<u16> {
        let code = self.stat_code()?;
        std::str::from_utf8(code).ok()?.parse().ok()
    }

    /// `http.stat_msg`
    pub fn stat_msg(&self) -> Option<&[u8]> {
        self.response.as_ref().and_then(|r| opt(&r.message))
    }

    /// `http.protocol` (response side).
    pub fn response_protocol(&self) -> Option<&[u8]> {
        self.response.as_ref().and_then(|r| opt(&r.protocol))
    }

    /// `http.response_line`: the line without its CRLF.
    pub fn response_line(&self) -> Option<&[u8]> {
        self.response.as_ref().map(|r| r.line.as_slice())
    }

    /// Response headers (`http.header` etc. in the to-client direction).
    pub fn response_headers(&self) -> Option<&Headers> {
        self.response.as_ref().map(|r| &r.headers)
    }

    /// `http.start` to the client: status line, CRLF, normalised
    /// headers, CRLF.
    pub fn response_start(&self) -> Option<Vec<u8>> {
        let r = self.response.as_ref()?;
        Some(start_buffer(&r.line, &r.headers))
    }

    /// Trailer fields of a chunked response body.
    pub fn response_trailer(&self) -> Option<&Headers> {
        self.response.as_ref().and_then(|r| r.trailer.as_ref())
    }

    fn resp_header(&self, name: &str) -> Option<&[u8]> {
        self.response.as_ref().and_then(|r| r.headers.get(name))
    }

    /// `http.server`
    pub fn server(&self) -> Option<&[u8]> {
        self.resp_header("server")
    }

    /// `http.location`
    pub fn location(&self) -> Option<&[u8]> {
        self.resp_header("location")
    }

    /// `http.content_type` of the response.
    pub fn response_content_type(&self) -> Option<&[u8]> {
        self.resp_header("content-type")
    }

    /// `http.connection` of the response.
    pub fn response_connection(&self) -> Option<&[u8]> {
        self.resp_header("connection")
    }

    /// `http.content_len` of the response, as sent.
    pub fn response_content_length_raw(&self) -> Option<&[u8]> {
        self.resp_header("content-length")
    }

    /// The response's Content-Length when it was valid.
    pub fn response_content_length(&self) -> Option<u64> {
        self.response.as_ref().and_then(|r| r.content_length)
    }

    /// `file_data` / `http.response_body`: dechunked, gzip/deflate
    /// decoded, up to [`super::HttpConfig::response_body_limit`].
    pub fn response_body(&self) -> Option<&Body> {
        self.response.as_ref().map(|r| &r.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_limit() {
        let mut b = Body::default();
        assert!(b.push(b"abc", 5));
        assert!(!b.push(b"defg", 5));
        assert!(b.push(b"h", 5));
        assert_eq!(b.data(), b"abcde");
        assert_eq!(b.wire_len(), 0);
        assert!(b.is_truncated());
    }
}
