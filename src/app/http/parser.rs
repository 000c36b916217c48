//! The per-flow HTTP/1.x state machine: bytes in, transactions and
//! events out.
//!
//! Each direction walks start line -> header block -> body -> next start
//! line. Requests open transactions in order; each final response
//! closes the oldest transaction still waiting for one, which is how
//! pipelined requests pair with their responses. Interim (1xx)
//! responses other than 101 are parsed and dropped.

use std::collections::VecDeque;

use super::body::{BodyEnd, Framing};
use super::config::HttpConfig;
use super::decompress::{Coding, Decoder};
use super::event::{Anomaly, AnomalySet, HttpEvent};
use super::header::{trim, BlockReader, Headers};
use super::line::{parse_request_line, parse_status_line};
use super::tx::{Request, Response, Transaction};
use super::uri;
use crate::flow::Dir;

/// Bytes of a start line's end kept once the line passed the cap, so a
/// cut request line still yields its version.
const LINE_TAIL: usize = 32;

/// One start line being collected.
#[derive(Debug, Default)]
struct LineBuf {
    buf: Vec<u8>,
    /// The last bytes seen once `buf` is full.
    tail: Vec<u8>,
    overflow: bool,
}

impl LineBuf {
    /// Take bytes up to and including a LF; returns (used, complete).
    fn feed(&mut self, data: &[u8], cap: usize) -> (usize, bool) {
        let (n, complete) = match memchr::memchr(b'\n', data) {
            Some(i) => (i + 1, true),
            None => (data.len(), false),
        };
        let piece = &data[..n];
        let room = cap.saturating_sub(self.buf.len());
        self.buf.extend_from_slice(&piece[..piece.len().min(room)]);
        if piece.len() > room {
            self.overflow = true;
            self.tail.extend_from_slice(&piece[room..]);
            let extra = self.tail.len().saturating_sub(LINE_TAIL);
            self.tail.drain(..extra);
        }
        (n, complete)
    }

    /// The finished line without its line ending (a cut line is the
    /// kept head plus the tail from its last space on).
    fn take(&mut self) -> (Vec<u8>, bool) {
        let mut line = std::mem::take(&mut self.buf);
        let mut tail = std::mem::take(&mut self.tail);
        let overflow = std::mem::replace(&mut self.overflow, false);
        if overflow {
            strip_eol(&mut tail);
            if let Some(i) = tail.iter().rposition(|&b| b == b' ') {
                line.extend_from_slice(&tail[i..]);
            }
        } else {
            strip_eol(&mut line);
        }
        (line, overflow)
    }

    fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

fn strip_eol(v: &mut Vec<u8>) {
    if v.last() == Some(&b'\n') {
        v.pop();
    }
    if v.last() == Some(&b'\r') {
        v.pop();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Line,
    Headers,
    Body,
}

/// Parsing state of one direction.
#[derive(Debug)]
struct Side {
    stage: Stage,
    line: LineBuf,
    block: BlockReader,
    /// Transaction whose message is being parsed.
    tx: Option<u64>,
    framing: Option<Framing>,
    decoder: Option<Decoder>,
    closed: bool,
}

impl Side {
    fn new() -> Side {
        Side {
            stage: Stage::Line,
            line: LineBuf::default(),
            block: BlockReader::default(),
            tx: None,
            framing: None,
            decoder: None,
            closed: false,
        }
    }
}

/// Incremental HTTP/1.x parser for one TCP flow.
///
/// Feed each direction's reassembled, in-order bytes with
/// [`HttpParser::feed`], split anywhere; call [`HttpParser::close`] at
/// the end of a direction. See the [module docs](super) for the event
/// and transaction model.
#[derive(Debug)]
pub struct HttpParser {
    cfg: HttpConfig,
    txs: VecDeque<Transaction>,
    next_id: u64,
    /// The transaction the next final response answers.
    resp_next: u64,
    req: Side,
    resp: Side,
    /// A request that ended without a body; lines that follow it and
    /// are not a request line are taken as its (unexpected) body.
    bodyless: Option<u64>,
    failed: bool,
    upgraded: bool,
    /// Anomalies seen before any transaction existed.
    flow_anomalies: AnomalySet,
}

impl Default for HttpParser {
    fn default() -> Self {
        HttpParser::new(HttpConfig::default())
    }
}

impl HttpParser {
    pub fn new(cfg: HttpConfig) -> HttpParser {
        HttpParser {
            cfg,
            txs: VecDeque::new(),
            next_id: 0,
            resp_next: 0,
            req: Side::new(),
            resp: Side::new(),
            bodyless: None,
            failed: false,
            upgraded: false,
            flow_anomalies: AnomalySet::default(),
        }
    }

    pub fn config(&self) -> &HttpConfig {
        &self.cfg
    }

    /// Feed in-order bytes of `dir`, appending what happened to `out`.
    /// Bytes after a failure, an upgrade or a [`close`](Self::close) of
    /// `dir` are ignored.
    pub fn feed(&mut self, dir: Dir, data: &[u8], out: &mut Vec<HttpEvent>) {
        let mark = out.len();
        let mut data = data;
        let mut stalls = 0;
        while !data.is_empty() && !self.stopped() && !self.side(dir).closed {
            let used = match dir {
                Dir::ToServer => self.step_request(data, out, mark),
                Dir::ToClient => self.step_response(data, out, mark),
            };
            data = &data[used.min(data.len())..];

            // A step may only change state without using bytes; two in
            // a row would be a bug, never a reason to spin.
            stalls = if used == 0 { stalls + 1 } else { 0 };
            if stalls > 2 {
                debug_assert!(false, "http parser made no progress");
                break;
            }
        }
    }

    /// End of `dir`'s stream (FIN, RST or flow end). A body delimited by
    /// the close completes; a message cut short completes as far as it
    /// got; a partial request line raises `request_line_incomplete`.
    pub fn close(&mut self, dir: Dir, out: &mut Vec<HttpEvent>) {
        if self.side(dir).closed {
            return;
        }
        if !self.stopped() {
            self.finish_side(dir, out);
        }
        self.side_mut(dir).closed = true;
    }

    /// The parser stopped: input was not HTTP, a cap stopped it, or the
    /// flow switched protocols.
    pub fn is_failed(&self) -> bool {
        self.failed
    }

    /// The flow switched to another protocol (101 or CONNECT).
    pub fn is_upgraded(&self) -> bool {
        self.upgraded
    }

    /// A transaction still held by the parser.
    pub fn tx(&self, id: u64) -> Option<&Transaction> {
        let front = self.txs.front()?.id;
        let idx = usize::try_from(id.checked_sub(front)?).ok()?;
        self.txs.get(idx)
    }

    /// Transactions held, oldest first.
    pub fn transactions(&self) -> impl Iterator<Item = &Transaction> {
        self.txs.iter()
    }

    /// Anomalies raised while no transaction existed.
    pub fn flow_anomalies(&self) -> AnomalySet {
        self.flow_anomalies
    }

    /// Remove and return the oldest transaction once nothing more can
    /// happen to it: both messages complete, or the parser stopped, or
    /// both directions closed. Call after detection and logging.
    pub fn pop_finished(&mut self) -> Option<Transaction> {
        let over = self.stopped() || (self.req.closed && self.resp.closed);
        let front = self.txs.front()?;
        if over || (front.request_done && front.response_done) {
            let tx = self.txs.pop_front()?;
            if self.bodyless == Some(tx.id) {
                self.bodyless = None;
            }
            return Some(tx);
        }
        None
    }

    fn stopped(&self) -> bool {
        self.failed || self.upgraded
    }

    fn side(&self, dir: Dir) -> &Side {
        match dir {
            Dir::ToServer => &self.req,
            Dir::ToClient => &self.resp,
        }
    }

    fn side_mut(&mut self, dir: Dir) -> &mut Side {
        match dir {
            Dir::ToServer => &mut self.req,
            Dir::ToClient => &mut self.resp,
        }
    }

    fn tx_mut(&mut self, id: u64) -> Option<&mut Transaction> {
        tx_in(&mut self.txs, id)
    }

    // Events.

    fn raise(&mut self, tx: Option<u64>, dir: Dir, anomaly: Anomaly, out: &mut Vec<HttpEvent>) {
        let set = match tx.and_then(|id| tx_in(&mut self.txs, id)) {
            Some(t) => &mut t.anomalies,
            None => &mut self.flow_anomalies,
        };
        // Each anomaly is reported once per transaction.
        if set.contains(anomaly) {
            return;
        }
        set.insert(anomaly);
        out.push(HttpEvent::Anomaly {
            tx_id: tx,
            dir,
            anomaly,
        });
    }

    fn raise_all(
        &mut self,
        tx: Option<u64>,
        dir: Dir,
        anomalies: Vec<Anomaly>,
        out: &mut Vec<HttpEvent>,
    ) {
        for a in anomalies {
            self.raise(tx, dir, a, out);
        }
    }

    fn fail(&mut self, dir: Dir, out: &mut Vec<HttpEvent>) {
        if !self.failed {
            self.failed = true;
            out.push(HttpEvent::Failed { dir });
        }
    }

    fn complete(&mut self, dir: Dir, out: &mut Vec<HttpEvent>) {
        let side = self.side_mut(dir);
        side.stage = Stage::Line;
        side.framing = None;
        side.decoder = None;
        let Some(id) = side.tx.take() else {
            return;
        };
        if let Some(tx) = self.tx_mut(id) {
            match dir {
                Dir::ToServer => tx.request_done = true,
                Dir::ToClient => tx.response_done = true,
            }
        }
        out.push(HttpEvent::Complete { tx_id: id, dir });
    }

    /// Open a transaction, unless the cap says no (then the parser fails).
    fn open_tx(&mut self, dir: Dir, out: &mut Vec<HttpEvent>) -> Option<u64> {
        if self.txs.len() >= self.cfg.max_tx {
            self.raise(None, dir, Anomaly::TooManyTransactions, out);
            self.fail(dir, out);
            return None;
        }
        let id = self.next_id;
        self.next_id += 1;
        self.txs.push_back(Transaction {
            id,
            ..Transaction::default()
        });
        Some(id)
    }

    // Request direction.

    fn step_request(&mut self, data: &[u8], out: &mut Vec<HttpEvent>, mark: usize) -> usize {
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

    /// Bytes left for the header block after the start line.
    fn header_room(&self, dir: Dir) -> usize {
        let line_len = self
            .side(dir)
            .tx
            .and_then(|id| self.tx(id))
            .map_or(0, |tx| match dir {
                Dir::ToServer => tx.request.as_ref().map_or(0, |r| r.line.len()),
                Dir::ToClient => tx.response.as_ref().map_or(0, |r| r.line.len()),
            });
        self.cfg.max_header_bytes.saturating_sub(line_len)
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
    fn unexpected_body(
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

    fn request_headers(&mut self, out: &mut Vec<HttpEvent>) {
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

    // Response direction.

    fn step_response(&mut self, data: &[u8], out: &mut Vec<HttpEvent>, mark: usize) -> usize {
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

    fn status_line(&mut self, line: Vec<u8>, cut: bool, out: &mut Vec<HttpEvent>) {
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

    fn response_headers(&mut self, out: &mut Vec<HttpEvent>) {
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
                tx.interim += 1;
                let again = code == 100 && tx.interim > 1;
                if again {
                    anomalies.push(Anomaly::ContinueAlreadySeen);
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

    // Bodies, both directions.

    fn body_bytes(
        &mut self,
        dir: Dir,
        data: &[u8],
        out: &mut Vec<HttpEvent>,
        mark: usize,
    ) -> usize {
        let trailer_cap = self.cfg.max_header_bytes;
        let limit = match dir {
            Dir::ToServer => self.cfg.request_body_limit,
            Dir::ToClient => self.cfg.response_body_limit,
        };
        let (side, txs) = match dir {
            Dir::ToServer => (&mut self.req, &mut self.txs),
            Dir::ToClient => (&mut self.resp, &mut self.txs),
        };
        let Some(id) = side.tx else {
            side.stage = Stage::Line;
            return 0;
        };
        let Some(framing) = side.framing.as_mut() else {
            side.stage = Stage::Line;
            return 0;
        };

        // Dechunked bytes -> (response) decoder -> body buffer. Anomalies
        // are recorded in the order they happen, whatever the split.
        let mut anomalies = Vec::new();
        let mut added = false;
        let body_limit =
            Anomaly::for_dir(dir, Anomaly::RequestBodyLimit, Anomaly::ResponseBodyLimit);
        let mut body = tx_in(txs, id).and_then(|t| match dir {
            Dir::ToServer => t.request.as_mut().map(|r| &mut r.body),
            Dir::ToClient => t.response.as_mut().map(|r| &mut r.body),
        });
        let decoder = &mut side.decoder;
        let (used, end) = framing.feed(
            data,
            dir,
            trailer_cap,
            &mut |bytes: &[u8], an: &mut Vec<Anomaly>| {
                let Some(body) = body.as_deref_mut() else {
                    return;
                };
                body.count_wire(bytes.len());
                let mut hit_limit = false;
                let mut keep = |b: &[u8]| {
                    if !b.is_empty() {
                        added = true;
                        hit_limit |= !body.push(b, limit);
                    }
                    !body.is_truncated()
                };
                match decoder.as_mut() {
                    Some(d) => d.write(bytes, &mut keep, an),
                    None => {
                        keep(bytes);
                    }
                }
                if hit_limit {
                    an.push(body_limit);
                }
            },
            &mut anomalies,
        );

        self.raise_all(Some(id), dir, anomalies, out);
        if added {
            body_event(out, mark, id, dir);
        }
        if let Some(end) = end {
            self.end_body(dir, id, end, out);
        }
        used
    }

    fn end_body(&mut self, dir: Dir, id: u64, end: BodyEnd, out: &mut Vec<HttpEvent>) {
        if let Some(block) = end.trailer {
            let mut anomalies = Vec::new();
            let trailer = Headers::parse(block, dir, self.cfg.max_headers, &mut anomalies);
            if let Some(tx) = self.tx_mut(id) {
                match dir {
                    Dir::ToServer => {
                        if let Some(r) = tx.request.as_mut() {
                            r.trailer = Some(trailer);
                        }
                    }
                    Dir::ToClient => {
                        if let Some(r) = tx.response.as_mut() {
                            r.trailer = Some(trailer);
                        }
                    }
                }
            }
            self.raise_all(Some(id), dir, anomalies, out);
        }
        self.complete(dir, out);
    }

    /// `close` for one direction: finish whatever message is open.
    fn finish_side(&mut self, dir: Dir, out: &mut Vec<HttpEvent>) {
        match self.side(dir).stage {
            Stage::Line => {
                let partial = !self.side(dir).line.is_empty();
                let (line, _) = self.side_mut(dir).line.take();
                if partial && dir == Dir::ToServer && !trim(&line).is_empty() {
                    // Unframed body bytes without a final newline, or a
                    // request line the client never finished.
                    match self.bodyless {
                        Some(id) => {
                            let mark = out.len();
                            self.unexpected_body(id, &line, false, out, mark)
                        }
                        None => self.raise(None, dir, Anomaly::RequestLineIncomplete, out),
                    }
                }
            }
            Stage::Headers => match dir {
                Dir::ToServer => self.request_headers(out),
                Dir::ToClient => self.response_headers(out),
            },
            Stage::Body => {}
        }
        // A body cut by the close (or delimited by it) ends here.
        if self.side(dir).stage == Stage::Body {
            self.complete(dir, out);
        }
    }
}

fn tx_in(txs: &mut VecDeque<Transaction>, id: u64) -> Option<&mut Transaction> {
    let front = txs.front()?.id;
    let idx = usize::try_from(id.checked_sub(front)?).ok()?;
    txs.get_mut(idx)
}

/// Push a body event unless this feed call already did for `id`/`dir`.
fn body_event(out: &mut Vec<HttpEvent>, mark: usize, id: u64, dir: Dir) {
    let ev = HttpEvent::Body { tx_id: id, dir };
    if !out.get(mark..).is_some_and(|s| s.contains(&ev)) {
        out.push(ev);
    }
}

/// Content-Length values of a message: the first one parsed, and
/// whether it was usable. Several fields raise the duplicate anomaly
/// (a request smuggling sign, RFC 9112 6.3 item 5).
fn content_length(
    headers: &Headers,
    dir: Dir,
    anomalies: &mut Vec<Anomaly>,
) -> Option<Result<u64, ()>> {
    let mut values = headers.all("content-length");
    let first = values.next()?;
    if values.next().is_some() {
        anomalies.push(Anomaly::for_dir(
            dir,
            Anomaly::DuplicateContentLengthFieldInRequest,
            Anomaly::DuplicateContentLengthFieldInResponse,
        ));
    }
    let v = trim(first);
    let parsed = if !v.is_empty() && v.len() <= 18 && v.iter().all(u8::is_ascii_digit) {
        std::str::from_utf8(v)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
    } else {
        None
    };
    if parsed.is_none() {
        anomalies.push(Anomaly::for_dir(
            dir,
            Anomaly::InvalidContentLengthFieldInRequest,
            Anomaly::InvalidContentLengthFieldInResponse,
        ));
    }
    Some(parsed.ok_or(()))
}

/// Whether Transfer-Encoding is present, and whether `chunked` is its
/// final coding.
fn transfer_chunked(headers: &Headers) -> Option<bool> {
    let te = headers.get("transfer-encoding")?;
    let last = te
        .rsplit(|&b| b == b',')
        .next()
        .map(trim)
        .unwrap_or_default();
    Some(last.eq_ignore_ascii_case(b"chunked"))
}

/// Request body framing: chunked, else a valid Content-Length, else no
/// body. A Transfer-Encoding that does not end in chunked cannot be
/// framed (RFC 9112 6.3 item 4) and is treated as no body; what follows
/// is then parsed as the next request or kept as unexpected body.
fn request_framing(
    headers: &Headers,
    anomalies: &mut Vec<Anomaly>,
) -> (Option<Framing>, Option<u64>) {
    let dir = Dir::ToServer;
    let cl = content_length(headers, dir, anomalies).and_then(Result::ok);
    match transfer_chunked(headers) {
        Some(true) => return (Some(Framing::chunked()), cl),
        Some(false) => {
            anomalies.push(Anomaly::InvalidTransferEncodingValueInRequest);
            return (None, cl);
        }
        None => {}
    }
    match cl {
        Some(0) | None => (None, cl),
        Some(n) => (Some(Framing::Length { left: n }), cl),
    }
}

/// Response body framing (RFC 9112 6.3): none for HEAD, 204 and 304;
/// chunked when Transfer-Encoding ends in chunked; a valid
/// Content-Length; otherwise until the server closes.
fn response_framing(
    headers: &Headers,
    status: Option<u16>,
    method: &[u8],
    old_proto: bool,
    anomalies: &mut Vec<Anomaly>,
) -> (Option<Framing>, Option<u64>, Coding) {
    let dir = Dir::ToClient;
    let cl = content_length(headers, dir, anomalies);
    let cl_value = cl.and_then(Result::ok);
    let coding = headers
        .get("content-encoding")
        .map_or(Coding::Identity, |v| Coding::from_header(v, anomalies));

    if method.eq_ignore_ascii_case(b"HEAD") || matches!(status, Some(204) | Some(304)) {
        return (None, cl_value, coding);
    }
    let framing = match transfer_chunked(headers) {
        Some(true) => {
            if old_proto {
                anomalies.push(Anomaly::ResponseChunkedOldProto);
            }
            Some(Framing::chunked())
        }
        Some(false) => {
            anomalies.push(Anomaly::InvalidTransferEncodingValueInResponse);
            Some(Framing::UntilClose)
        }
        None => match cl {
            Some(Ok(0)) => None,
            Some(Ok(n)) => Some(Framing::Length { left: n }),
            Some(Err(())) | None => Some(Framing::UntilClose),
        },
    };
    (framing, cl_value, coding)
}
