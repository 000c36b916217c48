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
use super::decompress::Decoder;
use super::event::{Anomaly, AnomalySet, HttpEvent};
use super::header::{trim, BlockReader, Headers};
use super::tx::Transaction;
use crate::flow::Dir;

mod request;
mod response;

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

    /// Bytes held by all transactions (see [`Transaction::held_bytes`]).
    pub fn held_bytes(&self) -> usize {
        self.txs.iter().map(Transaction::held_bytes).sum()
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
        let cap_hit = if self.txs.len() >= self.cfg.max_tx {
            Some(Anomaly::TooManyTransactions)
        } else if self.held_bytes() >= self.cfg.max_held_bytes {
            Some(Anomaly::MemoryLimit)
        } else {
            None
        };
        if let Some(anomaly) = cap_hit {
            self.raise(None, dir, anomaly, out);
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
                let (line, cut) = self.side_mut(dir).line.take();
                if partial && dir == Dir::ToClient {
                    // A status line the server never ended: take it as
                    // a response without headers.
                    self.status_line(line, cut, out);
                    if self.resp.stage == Stage::Headers {
                        self.response_headers(out);
                    }
                } else if partial && !trim(&line).is_empty() {
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
