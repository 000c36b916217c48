//! The request direction: request line, headers, host and framing.

use super::{body_event, HttpParser, Stage};
use crate::app::http::body::Framing;
use crate::app::http::event::{Anomaly, HttpEvent};
use crate::app::http::framing::request_framing;
use crate::app::http::header::Headers;
use crate::app::http::line::parse_request_line;
use crate::app::http::tx::Request;
use crate::app::http::uri;
use crate::flow::Dir;

impl HttpParser {
    pub(super) fn step_request(
        &mut self,
        data: &[u8],
        out: &mut Vec<HttpEvent>,
        mark: usize,
    ) -> usize {
        match self.req.stage {
            Stage::Line => {
                let cap = self.cfg.max_header_bytes;
                let (used, complete) = self.req.line.feed(data, cap);
                if complete {
                    let (line, cut) = self.req.line.take();
                    self.request_line(line, cut, out, mark);
                }
                used
            }
            Stage::Headers => {
                let cap = self.header_room(Dir::ToServer);
                let (used, done) = self.req.block.feed(data, cap);
                if done {
                    self.request_headers(out);
                }
                used
            }
            Stage::Body => self.body_bytes(Dir::ToServer, data, out, mark),
        }
    }

    fn request_line(&mut self, line: Vec<u8>, cut: bool, out: &mut Vec<HttpEvent>, mark: usize) {
        let dir = Dir::ToServer;

        // RFC 9112 2.2: empty lines before a request line are ignored.
        if line.iter().all(|&b| matches!(b, b' ' | b'\t' | b'\r')) {
            if let (Some(id), false) = (self.bodyless, line.is_empty()) {
                self.unexpected_body(id, &line, true, out, mark);
            }
            return;
        }

        let mut anomalies = Vec::new();
        let Some(parts) = parse_request_line(&line, &mut anomalies) else {
            // Not a request: bytes after a bodyless request are its
            // body (a client that sent a body without framing it);
            // anything else is not HTTP.
            if let Some(id) = self.bodyless {
                self.unexpected_body(id, &line, true, out, mark);
                return;
            }
            self.raise(None, dir, Anomaly::RequestLineInvalid, out);
            self.fail(dir, out);
            return;
        };

        let Some(id) = self.open_tx(dir, out) else {
            return;
        };
        self.bodyless = None;
        let mut norm_anomalies = Vec::new();
        let norm = uri::normalize(parts.target, &mut norm_anomalies);
        let request = Request {
            line: parts.line.to_vec(),
            method: parts.method.to_vec(),
            uri_raw: parts.target.to_vec(),
            uri: norm.uri,
            protocol: parts.protocol.to_vec(),
            host: norm.authority.clone(),
            ..Request::default()
        };
        let http09 = request.protocol.is_empty();
        if let Some(tx) = self.tx_mut(id) {
            tx.request = Some(request);
        }
        self.req.tx = Some(id);
        if cut {
            anomalies.push(Anomaly::RequestFieldTooLong);
        }
        anomalies.extend(norm_anomalies);
        self.raise_all(Some(id), dir, anomalies, out);

        // HTTP/0.9: a request line alone, no headers, no body.
        if http09 {
            self.finish_request_headers(id, Headers::default(), norm.authority, out);
            out.push(HttpEvent::Headers { tx_id: id, dir });
            self.complete(dir, out);
            return;
        }
        self.req.stage = Stage::Headers;
    }

    /// Lines after a request that had no body framing: keep them as its
    /// body and say so (`request_body_unexpected`).
    pub(super) fn unexpected_body(
        &mut self,
        id: u64,
        line: &[u8],
        eol: bool,
        out: &mut Vec<HttpEvent>,
        mark: usize,
    ) {
        let dir = Dir::ToServer;
        self.raise(Some(id), dir, Anomaly::RequestBodyUnexpected, out);
        let limit = self.cfg.request_body_limit;
        let mut hit = false;
        if let Some(req) = self.tx_mut(id).and_then(|t| t.request.as_mut()) {
            req.body.count_wire(line.len() + if eol { 2 } else { 0 });
            hit |= !req.body.push(line, limit);
            if eol {
                hit |= !req.body.push(b"\r\n", limit);
            }
        }
        body_event(out, mark, id, dir);
        if hit {
            self.raise(Some(id), dir, Anomaly::RequestBodyLimit, out);
        }
    }

    pub(super) fn request_headers(&mut self, out: &mut Vec<HttpEvent>) {
        let dir = Dir::ToServer;
        let overflow = self.req.block.overflowed();
        let block = self.req.block.take();
        let Some(id) = self.req.tx else {
            return;
        };
        let mut anomalies = Vec::new();
        if overflow {
            anomalies.push(Anomaly::RequestFieldTooLong);
        }
        let headers = Headers::parse(block, dir, self.cfg.max_headers, &mut anomalies);
        self.raise_all(Some(id), dir, anomalies, out);

        let authority = self
            .tx(id)
            .and_then(|t| t.request.as_ref())
            .and_then(|r| r.host.clone());
        let framing = self.finish_request_headers(id, headers, authority, out);
        out.push(HttpEvent::Headers { tx_id: id, dir });

        match framing {
            Some(f) => {
                self.req.framing = Some(f);
                self.req.stage = Stage::Body;
            }
            None => {
                self.bodyless = Some(id);
                self.complete(dir, out);
            }
        }
    }

    /// Store the headers, work out host and Content-Length, and decide
    /// the request body's framing (RFC 9112 6.3).
    fn finish_request_headers(
        &mut self,
        id: u64,
        headers: Headers,
        authority: Option<Vec<u8>>,
        out: &mut Vec<HttpEvent>,
    ) -> Option<Framing> {
        let dir = Dir::ToServer;
        let mut anomalies = Vec::new();

        // Host: an absolute target's authority wins over the header.
        let from_uri = authority.map(|a| uri::normalize_host(&a, &mut anomalies));
        let from_header = headers
            .get("host")
            .map(|h| uri::normalize_host(h, &mut anomalies));
        if let (Some(u), Some(h)) = (&from_uri, &from_header) {
            if u.name != h.name {
                anomalies.push(Anomaly::HostHeaderAmbiguous);
            }
        }
        let protocol = self
            .tx(id)
            .and_then(|t| t.request.as_ref())
            .map(|r| r.protocol.clone())
            .unwrap_or_default();
        if from_uri.is_none() && from_header.is_none() && protocol.eq_ignore_ascii_case(b"HTTP/1.1")
        {
            anomalies.push(Anomaly::MissingHostHeader);
        }
        let host = from_uri.or(from_header).map(|h| h.name);

        let (framing, content_length) = request_framing(&headers, &mut anomalies);
        if let Some(req) = self.tx_mut(id).and_then(|t| t.request.as_mut()) {
            req.host = host;
            req.headers = headers;
            req.content_length = content_length;
        }
        self.raise_all(Some(id), dir, anomalies, out);
        framing
    }
}
