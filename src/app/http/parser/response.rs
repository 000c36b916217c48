//! The response direction: status line, interim responses, upgrades,
//! framing and content decoding.

use super::{HttpParser, Stage};
use crate::app::http::body::Framing;
use crate::app::http::decompress::{Coding, Decoder};
use crate::app::http::event::{Anomaly, HttpEvent};
use crate::app::http::framing::response_framing;
use crate::app::http::header::Headers;
use crate::app::http::line::parse_status_line;
use crate::app::http::tx::Response;
use crate::flow::Dir;

impl HttpParser {
    pub(super) fn step_response(
        &mut self,
        data: &[u8],
        out: &mut Vec<HttpEvent>,
        mark: usize,
    ) -> usize {
        match self.resp.stage {
            Stage::Line => {
                // An HTTP/0.9 request is answered by a bare body.
                if self.resp.line.is_empty() && self.answers_http09() {
                    self.start_http09_response(out);
                    return 0;
                }
                let cap = self.cfg.max_header_bytes;
                let (used, complete) = self.resp.line.feed(data, cap);
                if complete {
                    let (line, cut) = self.resp.line.take();
                    self.status_line(line, cut, out);
                }
                used
            }
            Stage::Headers => {
                let cap = self.header_room(Dir::ToClient);
                let (used, done) = self.resp.block.feed(data, cap);
                if done {
                    self.response_headers(out);
                }
                used
            }
            Stage::Body => self.body_bytes(Dir::ToClient, data, out, mark),
        }
    }

    fn answers_http09(&self) -> bool {
        self.tx(self.resp_next)
            .and_then(|t| t.request.as_ref())
            .is_some_and(|r| r.protocol.is_empty())
    }

    fn start_http09_response(&mut self, out: &mut Vec<HttpEvent>) {
        let id = self.resp_next;
        self.resp_next += 1;
        if let Some(tx) = self.tx_mut(id) {
            tx.response = Some(Response::default());
        }
        out.push(HttpEvent::Headers {
            tx_id: id,
            dir: Dir::ToClient,
        });
        self.resp.tx = Some(id);
        self.resp.framing = Some(Framing::UntilClose);
        self.resp.decoder = Some(Decoder::new(Coding::Identity, 0));
        self.resp.stage = Stage::Body;
    }

    pub(super) fn status_line(&mut self, line: Vec<u8>, cut: bool, out: &mut Vec<HttpEvent>) {
        let dir = Dir::ToClient;
        if line.is_empty() || line == b"\r" {
            return;
        }
        let mut anomalies = Vec::new();
        let Some(parts) = parse_status_line(&line, &mut anomalies) else {
            let tx = self.tx(self.resp_next).map(|t| t.id);
            self.raise_all(tx, dir, anomalies, out);
            self.fail(dir, out);
            return;
        };

        // Pair with the oldest request still waiting for its answer.
        let waiting = self
            .tx(self.resp_next)
            .is_some_and(|t| t.request.is_some() && !t.response_done);
        let id = if waiting {
            self.resp_next
        } else {
            let Some(id) = self.open_tx(dir, out) else {
                return;
            };
            anomalies.push(Anomaly::UnableToMatchResponseToRequest);
            self.resp_next = id;
            id
        };
        let response = Response {
            line: line.clone(),
            protocol: parts.protocol.to_vec(),
            status: parts.status.to_vec(),
            message: parts.message.to_vec(),
            ..Response::default()
        };
        if let Some(tx) = self.tx_mut(id) {
            tx.response = Some(response);
        }
        if cut {
            anomalies.push(Anomaly::ResponseFieldTooLong);
        }
        self.raise_all(Some(id), dir, anomalies, out);
        self.resp.tx = Some(id);
        self.resp.stage = Stage::Headers;
    }

    pub(super) fn response_headers(&mut self, out: &mut Vec<HttpEvent>) {
        let dir = Dir::ToClient;
        let overflow = self.resp.block.overflowed();
        let block = self.resp.block.take();
        let Some(id) = self.resp.tx else {
            return;
        };
        let mut anomalies = Vec::new();
        if overflow {
            anomalies.push(Anomaly::ResponseFieldTooLong);
        }
        let headers = Headers::parse(block, dir, self.cfg.max_headers, &mut anomalies);

        let Some(tx) = self.tx_mut(id) else {
            return;
        };
        let status = tx.status();
        let method = tx.method().map(<[u8]>::to_vec).unwrap_or_default();
        let old_proto = tx.response_protocol().is_some_and(|p| {
            p.eq_ignore_ascii_case(b"HTTP/1.0") || p.eq_ignore_ascii_case(b"HTTP/0.9")
        });

        // Interim responses (RFC 9110 15.2) precede the final one.
        if let Some(code @ 100..=199) = status {
            if code != 101 {
                if code == 100 {
                    tx.continues += 1;
                    if tx.continues > 1 {
                        anomalies.push(Anomaly::ContinueAlreadySeen);
                    }
                }
                self.raise_all(Some(id), dir, anomalies, out);
                self.resp.tx = None;
                self.resp.stage = Stage::Line;
                return;
            }
        }

        let (framing, content_length, coding) =
            response_framing(&headers, status, &method, old_proto, &mut anomalies);
        if let Some(resp) = tx.response.as_mut() {
            resp.headers = headers;
            resp.content_length = content_length;
        }
        self.resp_next = id + 1;
        self.raise_all(Some(id), dir, anomalies, out);
        out.push(HttpEvent::Headers { tx_id: id, dir });

        // 101 Switching Protocols, or a tunnel opened by CONNECT.
        let connect_ok =
            method.eq_ignore_ascii_case(b"CONNECT") && matches!(status, Some(200..=299));
        if status == Some(101) || connect_ok {
            self.complete(dir, out);
            self.upgraded = true;
            out.push(HttpEvent::Upgrade { tx_id: id });
            return;
        }

        match framing {
            Some(f) => {
                self.resp.framing = Some(f);
                self.resp.decoder = Some(Decoder::new(coding, self.cfg.decompress_limit));
                self.resp.stage = Stage::Body;
            }
            None => self.complete(dir, out),
        }
    }
}
