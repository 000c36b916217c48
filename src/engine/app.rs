//! The application layer of TCP flows: feeding delivered stream bytes
//! to each flow's [`AppSession`] and telling detection which HTTP
//! transactions changed.
//!
//! Stream bytes reach the session exactly once, in order: each
//! direction remembers the stream offset it was fed up to, so an
//! inline retransmission that is inspected again is not parsed again.
//! A direction is closed for the parser once its FIN was seen and every
//! byte before it delivered, or when the flow ends.

use crate::app::dns::DnsMessage;
use crate::app::http::{HttpConfig, HttpEvent};
use crate::app::{AppEvent, AppSession};
use crate::detect::{AppView, TxUpdate};
use crate::flow::{Dir, Flow};

/// Per-flow application state, made when a TCP flow first delivers
/// stream bytes.
#[derive(Debug)]
pub struct FlowApp {
    pub session: AppSession,
    /// Stream offset each direction was fed up to.
    fed: [u64; 2],
    closed: [bool; 2],
    /// Transactions that gained parts, per direction, until a packet
    /// (or flow end) of that direction inspected them.
    pending: [Vec<TxUpdate>; 2],
    /// DNS messages of each direction not inspected yet.
    dns: [Vec<DnsMessage>; 2],
    /// Directions whose packets have a TLS update to inspect.
    tls: [bool; 2],
    events: Vec<AppEvent>,
}

impl FlowApp {
    fn new(server_port: u16) -> FlowApp {
        FlowApp {
            session: AppSession::new(server_port, HttpConfig::default()),
            fed: [0; 2],
            closed: [false; 2],
            pending: Default::default(),
            dns: Default::default(),
            tls: [false; 2],
            events: Vec::new(),
        }
    }

    fn with_session(session: AppSession) -> FlowApp {
        FlowApp {
            session,
            ..FlowApp::new(0)
        }
    }

    /// Notes the transactions the last feed or close changed.
    fn collect(&mut self) {
        for (dir, m) in self.session.take_dns() {
            self.dns[dir.index()].push(m);
        }
        let up = self.session.take_tls_updates();
        for (mine, new) in self.tls.iter_mut().zip(up) {
            *mine |= new;
        }
        for e in self.events.drain(..) {
            let (tx_id, dir) = match e {
                AppEvent::Http(HttpEvent::Headers { tx_id, dir })
                | AppEvent::Http(HttpEvent::Body { tx_id, dir })
                | AppEvent::Http(HttpEvent::Complete { tx_id, dir }) => (tx_id, dir),
                AppEvent::Http(HttpEvent::Anomaly {
                    tx_id: Some(tx_id),
                    dir,
                    ..
                }) => (tx_id, dir),
                _ => continue,
            };
            let list = &mut self.pending[dir.index()];
            if !list.iter().any(|u| u.tx_id == tx_id) {
                list.push(TxUpdate { tx_id });
            }
        }
    }
}

/// Feeds what `dir` delivered since the last call; `ending` closes the
/// direction too (the flow is going away).
pub fn feed(flow: &mut Flow, dir: Dir, ending: bool) {
    if flow.key.proto != 6 {
        return;
    }
    let d = dir.index();
    let s = &flow.dirs[d].stream;
    let (start, next) = (s.window_start(), s.next_offset());
    let fin_done = flow.tcp.dirs[d].fin && !s.has_pending();
    if flow.app.is_none() {
        if next == 0 {
            return;
        }
        flow.app = Some(Box::new(FlowApp::new(flow.server().port)));
    }
    let Some(app) = flow.app.as_deref_mut() else {
        return;
    };
    if app.closed[d] {
        return;
    }

    // Bytes that left the window before we saw them are lost to the
    // parser; it resumes at what is still there.
    if next > app.fed[d] {
        let from = app.fed[d].max(start) - start;
        let window = flow.dirs[d].stream.window();
        let data = usize::try_from(from)
            .ok()
            .and_then(|f| window.get(f..))
            .unwrap_or_default();
        app.session.feed(dir, data, &mut app.events);
        app.fed[d] = next;
    }
    if ending || fin_done {
        app.session.close(dir, &mut app.events);
        app.closed[d] = true;
    }
    app.collect();
}

/// A UDP datagram of `dir`: the first one decides the flow's
/// protocol (only DNS is parsed over UDP).
pub fn datagram(flow: &mut Flow, dir: Dir, payload: &[u8]) {
    if flow.key.proto != 17 {
        return;
    }
    let ports = (flow.client.port, flow.server().port);
    let app = flow
        .app
        .get_or_insert_with(|| Box::new(FlowApp::with_session(AppSession::udp(ports, payload))));
    app.session.datagram(dir, payload);
    app.collect();
}

/// What detection sees of the flow's application layer for a packet
/// of `dir`.
pub fn view(app: Option<&FlowApp>, dir: Dir) -> AppView<'_> {
    match app {
        None => AppView::default(),
        Some(a) => AppView {
            proto: a.session.proto(),
            http: a.session.http(),
            updates: &a.pending[dir.index()],
            dns: &a.dns[dir.index()],
            tls: a.session.tls().filter(|_| a.tls[dir.index()]),
        },
    }
}

/// Whether `dir` has transactions waiting to be inspected.
pub fn has_updates(flow: &Flow, dir: Dir) -> bool {
    flow.app.as_deref().is_some_and(|a| {
        !a.pending[dir.index()].is_empty() || !a.dns[dir.index()].is_empty() || a.tls[dir.index()]
    })
}

/// After detection of a packet of `dir`: its updates were inspected;
/// transactions nothing more can happen to leave the parser (and the
/// flow forgets which rules fired in them).
pub fn inspected(flow: &mut Flow, dir: Dir) {
    let Some(app) = flow.app.as_deref_mut() else {
        return;
    };
    app.pending[dir.index()].clear();
    // DNS messages and TLS parts are judged once, by the packet that
    // completed them.
    if let Some(last) = app.dns[dir.index()].drain(..).next_back() {
        flow.vars.forget_txs_before(last.tx_id + 1);
    }
    app.tls[dir.index()] = false;
    let Some(parser) = app.session.http_mut() else {
        return;
    };
    loop {
        let Some(front) = parser.transactions().next().map(|t| t.id()) else {
            break;
        };
        // Still to be inspected in the other direction.
        if app.pending.iter().flatten().any(|u| u.tx_id == front) {
            break;
        }
        if parser.pop_finished().is_none() {
            break;
        }
        flow.vars.forget_txs_before(front + 1);
    }
}

/// The EVE `app_proto` of a flow, once detected.
pub fn proto_name(flow: &Flow) -> Option<&'static str> {
    flow.app
        .as_deref()
        .and_then(|a| a.session.proto())
        .map(|p| p.name())
}
