//! Transaction rules: rules whose matches read app-layer buffers (or
//! test `app-layer-event`), judged once per transaction rather than per
//! packet. A transaction is an HTTP exchange, a DNS message or a TLS
//! handshake ([`TxRef`]).
//!
//! The engine tells the detector which transactions of the packet's
//! direction gained parts ([`TxUpdate`]); each is inspected against the
//! rules whose fast pattern occurs in one of its buffers (one
//! Aho-Corasick automaton per buffer), plus the rules without a usable
//! fast pattern. A rule fires at most once per transaction: the
//! (transaction, rule) pairs that fired are kept in the flow's
//! [`super::FlowVars`].
//!
//! Direction: a rule that reads a request-only buffer is judged on the
//! request, a response-only one on the response (reading request
//! buffers of the same transaction too); a rule whose buffers exist on
//! both sides (`http.header`, `file_data`, ...) is judged on each,
//! reading that side's copy.
//!
//! Known approximations:
//! * Body buffers are judged as they grow, so a negated content on a
//!   body can match a prefix that a later part of the body would have
//!   contradicted.
//! * A rule that mixes stream content with HTTP buffers checks the
//!   stream part against the direction's current window (or the packet
//!   payload), not against the bytes of the transaction.

use std::borrow::Cow;
use std::collections::HashMap;

use super::content::{Buf, Chain};
use super::prefilter::Prefilter;
use crate::app::dns::DnsMessage;
use crate::app::http::{Anomaly, AnomalySet, HttpParser, Transaction};
use crate::app::tls::TlsInfo;
use crate::app::AppProto;
use crate::rules::buffers::{HttpBuf, Side, Transform};
use crate::rules::{Match, Rule};

/// A transaction whose side in the packet's direction gained parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxUpdate {
    pub tx_id: u64,
}

/// The application layer of the packet's flow, as detection sees it.
#[derive(Debug, Clone, Copy, Default)]
pub struct AppView<'a> {
    /// The flow's protocol, once detected.
    pub proto: Option<AppProto>,
    pub http: Option<&'a HttpParser>,
    /// Transactions to inspect in the packet's direction.
    pub updates: &'a [TxUpdate],
    /// DNS messages to inspect in the packet's direction.
    pub dns: &'a [DnsMessage],
    /// The flow's TLS transaction, on a packet that added to it.
    pub tls: Option<&'a TlsInfo>,
}

/// One transaction of any parsed protocol.
#[derive(Debug, Clone, Copy)]
pub enum TxRef<'a> {
    Http(&'a Transaction),
    Dns(&'a DnsMessage),
    Tls(&'a TlsInfo),
}

impl TxRef<'_> {
    fn anomalies(self) -> AnomalySet {
        match self {
            TxRef::Http(tx) => tx.anomalies(),
            _ => AnomalySet::default(),
        }
    }
}

/// Whether a rule is judged per transaction.
pub fn is_tx_rule(rule: &Rule) -> bool {
    !rule.options.buffers.is_empty() || !rule.options.app_events.is_empty()
}

/// One buffer selection of a rule, compiled.
#[derive(Debug)]
struct Part {
    buf: HttpBuf,
    transforms: Vec<Transform>,
    chain: Chain,
}

#[derive(Debug)]
struct TxRule {
    id: u32,
    side: Side,
    parts: Vec<Part>,
    events: Vec<Anomaly>,
    /// Stream/packet content of a mixed rule.
    stream: Option<Chain>,
}

/// Rules of one buffer's prefilter.
#[derive(Debug)]
struct BufFilter {
    buf: HttpBuf,
    prefilter: Prefilter,
    /// Pattern id -> indices in [`TxRules::rules`].
    by_pattern: Vec<Vec<u32>>,
}

/// One buffer's fast patterns while building: pattern -> id, the
/// patterns, and the rules of each.
#[derive(Default)]
struct PatternSet {
    ids: HashMap<Vec<u8>, usize>,
    patterns: Vec<Vec<u8>>,
    by: Vec<Vec<u32>>,
}

/// All transaction rules of a detector.
#[derive(Debug, Default)]
pub struct TxRules {
    rules: Vec<TxRule>,
    filters: Vec<BufFilter>,
    /// Indices of rules without a fast pattern in a plain buffer.
    no_fast: Vec<u32>,
}

impl TxRules {
    /// Compiles the transaction rules among `rules` (indexed by rule id).
    pub fn build(rules: &[Rule]) -> Result<TxRules, String> {
        let mut out = TxRules::default();
        let mut pats: HashMap<HttpBuf, PatternSet> = HashMap::new();
        for (id, rule) in rules.iter().enumerate() {
            if !is_tx_rule(rule) {
                continue;
            }
            let idx = out.rules.len() as u32;
            out.rules.push(compile(id as u32, rule)?);
            let Some((buf, fast)) = fast_pattern(rule) else {
                out.no_fast.push(idx);
                continue;
            };
            let PatternSet { ids, patterns, by } = pats.entry(buf).or_default();
            let key = fast.to_ascii_lowercase();
            let next = patterns.len();
            let pid = *ids.entry(key.clone()).or_insert(next);
            if pid == next {
                patterns.push(key);
                by.push(Vec::new());
            }
            by[pid].push(idx);
        }
        let mut bufs: Vec<_> = pats.into_iter().collect();
        bufs.sort_by_key(|(b, _)| *b);
        for (buf, set) in bufs {
            out.filters.push(BufFilter {
                buf,
                prefilter: Prefilter::build(&set.patterns)?,
                by_pattern: set.by,
            });
        }
        Ok(out)
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// (patterns, bytes) of the buffer prefilters, for build statistics.
    pub fn prefilter_stats(&self) -> (usize, usize) {
        self.filters.iter().fold((0, 0), |(p, m), f| {
            (p + f.prefilter.patterns(), m + f.prefilter.memory_usage())
        })
    }

    /// Rule ids of the candidates for one side of `tx`, in rule order,
    /// into `out` (cleared first).
    pub fn candidates(&self, tx: TxRef<'_>, to_server: bool, out: &mut Vec<u32>) {
        out.clear();
        for f in &self.filters {
            if !side_fits(f.buf.side(), to_server, true) {
                continue;
            }
            for data in buffers(tx, f.buf, to_server) {
                f.prefilter.scan(f.prefilter.start(), &data, |pat, _| {
                    out.extend(f.by_pattern[pat].iter().map(|&i| self.rules[i as usize].id));
                });
            }
        }
        out.extend(self.no_fast.iter().map(|&i| self.rules[i as usize].id));
        out.sort_unstable();
        out.dedup();
    }

    /// Whether rule `id` matches one side of `tx`. `stream` is the
    /// bytes a mixed rule's stream part reads; `flow_anomalies` those
    /// raised before any transaction existed.
    pub fn matches(
        &self,
        id: u32,
        tx: TxRef<'_>,
        to_server: bool,
        stream: &[u8],
        flow_anomalies: AnomalySet,
    ) -> bool {
        let Ok(i) = self.rules.binary_search_by_key(&id, |r| r.id) else {
            return false;
        };
        let rule = &self.rules[i];
        if !side_fits(rule.side, to_server, false) {
            return false;
        }
        let events_ok = rule
            .events
            .iter()
            .all(|&a| tx.anomalies().contains(a) || flow_anomalies.contains(a));
        // A rule reads one protocol's buffers; on another it never fires.
        let proto_ok = rule.parts.iter().all(|p| p.buf.app() == tx.proto());
        if !events_ok || !proto_ok {
            return false;
        }
        if let Some(chain) = &rule.stream {
            let buf = Buf {
                data: stream,
                base: 0,
                new_from: 0,
            };
            if !chain.matches(&buf) {
                return false;
            }
        }
        let mut scratch = Vec::new();
        rule.parts.iter().all(|p| {
            buffers(tx, p.buf, to_server).iter().any(|data| {
                let data = transformed(data, &p.transforms, &mut scratch);
                let buf = Buf {
                    data,
                    base: 0,
                    new_from: 0,
                };
                p.chain.matches(&buf)
            })
        })
    }
}

/// Applies `transforms` in order; returns the bytes to match.
fn transformed<'b>(data: &'b [u8], transforms: &[Transform], scratch: &'b mut Vec<u8>) -> &'b [u8] {
    if transforms.is_empty() {
        return data;
    }
    let mut cur = data.to_vec();
    for t in transforms {
        t.apply(&cur, scratch);
        std::mem::swap(&mut cur, scratch);
    }
    *scratch = cur;
    scratch
}

/// Whether a rule (or buffer) of `side` is judged in this direction.
/// For prefiltering, a request buffer is read on the response too
/// (`reading`), since response rules may read the request.
fn side_fits(side: Side, to_server: bool, reading: bool) -> bool {
    match side {
        Side::Both => true,
        Side::Request => to_server || reading,
        Side::Response => !to_server,
    }
}

fn compile(id: u32, rule: &Rule) -> Result<TxRule, String> {
    let o = &rule.options;
    let parts = o
        .buffers
        .iter()
        .map(|b| {
            Ok(Part {
                buf: b.buf,
                transforms: b.transforms.clone(),
                chain: Chain::new(&b.matches)?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let sides: Vec<Side> = o.buffers.iter().map(|b| b.buf.side()).collect();
    let mut side = if sides.contains(&Side::Response) {
        Side::Response
    } else if sides.contains(&Side::Request) {
        Side::Request
    } else {
        Side::Both
    };
    // `flow:to_server/to_client` narrows a rule that fits both.
    if side == Side::Both {
        match o.flow.to_server {
            Some(true) => side = Side::Request,
            Some(false) => side = Side::Response,
            None => {}
        }
    }
    let events = o
        .app_events
        .iter()
        .filter_map(|e| e.strip_prefix("http.").and_then(Anomaly::from_name))
        .collect();
    let stream = match o.matches.is_empty() {
        true => None,
        false => Some(Chain::new(&o.matches)?),
    };
    Ok(TxRule {
        id,
        side,
        parts,
        events,
        stream,
    })
}

/// The fast pattern of a transaction rule and the buffer it is in: an
/// explicit `fast_pattern` in a buffer without transforms, else the
/// longest positive content of such a buffer.
fn fast_pattern(rule: &Rule) -> Option<(HttpBuf, &[u8])> {
    let contents = || {
        rule.options
            .buffers
            .iter()
            .filter(|b| b.transforms.is_empty())
            .flat_map(|b| {
                b.matches.iter().filter_map(move |m| match m {
                    Match::Content(c) if !c.negated => Some((b.buf, c)),
                    _ => None,
                })
            })
    };
    let any_explicit = rule
        .options
        .buffers
        .iter()
        .flat_map(|b| b.matches.iter())
        .chain(rule.options.matches.iter())
        .any(|m| matches!(m, Match::Content(c) if c.fast_pattern.is_some() && !c.negated));
    let explicit = contents().find(|(_, c)| c.fast_pattern.is_some());
    let longest = contents().fold(
        None,
        |best: Option<(HttpBuf, &crate::rules::Content)>, x| match best {
            Some(b) if b.1.pattern.len() >= x.1.pattern.len() => Some(b),
            _ => Some(x),
        },
    );
    // An explicit fast pattern elsewhere (a transformed buffer, the
    // stream) would be ours only by accident: verify such rules always.
    let pick = match (explicit, any_explicit) {
        (Some(e), _) => Some(e),
        (None, true) => None,
        (None, false) => longest,
    };
    pick.map(|(b, c)| (b, c.fast_bytes()))
}

impl TxRef<'_> {
    fn proto(self) -> AppProto {
        match self {
            TxRef::Http(_) => AppProto::Http,
            TxRef::Dns(_) => AppProto::Dns,
            TxRef::Tls(_) => AppProto::Tls,
        }
    }
}

/// The data of `buf` for one side of `tx`: none when that part is not
/// parsed (or the header is absent, or `tx` is of another protocol),
/// several for per-field buffers (one per DNS question).
pub fn buffers<'t>(tx: TxRef<'t>, buf: HttpBuf, to_server: bool) -> Vec<Cow<'t, [u8]>> {
    match (tx, buf) {
        (TxRef::Http(tx), _) => http_buffers(tx, buf, to_server),
        (TxRef::Dns(m), HttpBuf::DnsQuery) => {
            m.queries.iter().map(|q| Cow::Borrowed(&q[..])).collect()
        }
        (TxRef::Tls(t), _) => {
            let c = t.cert.as_ref();
            let data = match buf {
                HttpBuf::TlsSni => t.sni.as_deref(),
                HttpBuf::TlsCertSubject => c.map(|c| &c.subject[..]),
                HttpBuf::TlsCertIssuer => c.map(|c| &c.issuer[..]),
                HttpBuf::TlsCertSerial => c.map(|c| &c.serial[..]),
                _ => None,
            };
            data.map(Cow::Borrowed).into_iter().collect()
        }
        _ => Vec::new(),
    }
}

fn http_buffers(tx: &Transaction, buf: HttpBuf, to_server: bool) -> Vec<Cow<'_, [u8]>> {
    use HttpBuf::*;
    fn one(d: Option<&[u8]>) -> Vec<Cow<'_, [u8]>> {
        d.map(Cow::Borrowed).into_iter().collect()
    }
    let headers = if to_server {
        tx.request_headers()
    } else {
        tx.response_headers()
    };
    let pick = |req, resp| if to_server { req } else { resp };
    match buf {
        Uri => one(tx.uri()),
        UriRaw => one(tx.uri_raw()),
        Method => one(tx.method()),
        Protocol => one(pick(tx.request_protocol(), tx.response_protocol())),
        RequestLine => one(tx.request_line()),
        Header => one(headers.map(|h| h.normalized()).filter(|h| !h.is_empty())),
        HeaderRaw => one(headers.map(|h| h.raw()).filter(|h| !h.is_empty())),
        HeaderNames => one(headers.map(|h| h.names())),
        Host => one(tx.host()),
        HostRaw => one(tx.host_raw()),
        UserAgent => one(tx.user_agent()),
        Cookie => one(match to_server {
            true => tx.cookie(),
            false => headers.and_then(|h| h.get("set-cookie")),
        }),
        ContentType => one(pick(tx.request_content_type(), tx.response_content_type())),
        Referer => one(tx.referer()),
        Accept => one(tx.accept()),
        AcceptLang => one(tx.accept_language()),
        AcceptEnc => one(tx.accept_encoding()),
        Connection => one(pick(tx.request_connection(), tx.response_connection())),
        ContentLen => one(pick(
            tx.request_content_length_raw(),
            tx.response_content_length_raw(),
        )),
        RequestBody => one(tx
            .request_body()
            .map(|b| b.data())
            .filter(|d| !d.is_empty())),
        StatCode => one(tx.stat_code()),
        StatMsg => one(tx.stat_msg()),
        ResponseLine => one(tx.response_line()),
        Server => one(tx.server()),
        Location => one(tx.location()),
        ResponseBody => one(tx
            .response_body()
            .map(|b| b.data())
            .filter(|d| !d.is_empty())),
        FileData if to_server => tx
            .request_file_data()
            .into_iter()
            .map(Cow::Borrowed)
            .collect(),
        FileData => one(tx
            .response_body()
            .map(|b| b.data())
            .filter(|d| !d.is_empty())),
        Start => match to_server {
            true => tx.request_start(),
            false => tx.response_start(),
        }
        .map(Cow::Owned)
        .into_iter()
        .collect(),
        RequestHeader | ResponseHeader => {
            let h = match buf {
                RequestHeader => tx.request_headers(),
                _ => tx.response_headers(),
            };
            h.map(|h| h.fields().iter().map(|f| Cow::Owned(f.line())).collect())
                .unwrap_or_default()
        }
        DnsQuery | TlsSni | TlsCertSubject | TlsCertIssuer | TlsCertSerial => Vec::new(),
    }
}
