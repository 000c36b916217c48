//! One flow's application layer: detection first, then the parser.
//!
//! [`AppSession`] is what the engine keeps per TCP flow. It holds the
//! first bytes of each direction (at most [`PROBE_KEEP`] each) until
//! [`detect_protocol`] decides, then hands everything, those bytes
//! included, to the protocol's parser. HTTP, DNS (over TCP and UDP)
//! and the TLS ClientHello are parsed; other recognised protocols are
//! named and their bytes ignored here.

use super::dns::{self, DnsMessage, TcpFramer};
use super::http::{HttpConfig, HttpEvent, HttpParser};
use super::tls::{TlsInfo, TlsParser};
use super::{detect_protocol, proto_from_port, AppProto};
use crate::flow::Dir;

/// Bytes of each direction kept while the protocol is unknown. A
/// direction that passes this without a decision fails detection (its
/// first bytes could no longer be replayed to a parser).
pub const PROBE_KEEP: usize = 512;

/// What an [`AppSession`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEvent {
    /// The flow's protocol is known (once per flow; `Failed` included).
    Detected(AppProto),
    /// Something the HTTP parser reported.
    Http(HttpEvent),
}

#[derive(Debug)]
enum State {
    Detecting {
        prefix: [Vec<u8>; 2],
    },
    Http(Box<HttpParser>),
    /// DNS over TCP: one framer per direction.
    Dns(Box<[TcpFramer; 2]>),
    /// DNS over UDP: each datagram is a message.
    DnsUdp,
    Tls(Box<TlsParser>),
    /// A UDP flow that is not DNS: its protocol stays unknown, as it
    /// was before UDP had a parser (so `app-layer-protocol:failed` and
    /// EVE's `app_proto` are unchanged for it).
    Unparsed,
    /// Known (or failed) protocol without a parser here.
    Other(AppProto),
}

/// The application layer of one TCP flow.
#[derive(Debug)]
pub struct AppSession {
    state: State,
    http_cfg: HttpConfig,
    /// DNS messages parsed since [`AppSession::take_dns`].
    dns: Vec<(crate::flow::Dir, DnsMessage)>,
    /// DNS messages numbered so far (their transaction ids).
    dns_count: u64,
    /// Directions in which the TLS transaction gained a part, until
    /// [`AppSession::take_tls_updates`].
    tls_updated: [bool; 2],
}

impl AppSession {
    /// A session for a flow whose server listens on `server_port`; DNS
    /// (port 53) is decided from the port at once, every other protocol
    /// from content.
    pub fn new(server_port: u16, http_cfg: HttpConfig) -> AppSession {
        let state = match proto_from_port(server_port) {
            Some(AppProto::Dns) => State::Dns(Box::default()),
            Some(p) => State::Other(p),
            None => State::Detecting {
                prefix: [Vec::new(), Vec::new()],
            },
        };
        AppSession::with(state, http_cfg)
    }

    /// A session for a UDP flow, decided from its first datagram: DNS
    /// when either port is 53 or the datagram is a plain DNS query
    /// (Suricata probes UDP DNS by port and by content alike).
    pub fn udp(ports: (u16, u16), first: &[u8]) -> AppSession {
        let dns = proto_from_port(ports.0) == Some(AppProto::Dns)
            || proto_from_port(ports.1) == Some(AppProto::Dns)
            || dns::looks_like_query(first);
        let state = match dns {
            true => State::DnsUdp,
            false => State::Unparsed,
        };
        AppSession::with(state, HttpConfig::default())
    }

    fn with(state: State, http_cfg: HttpConfig) -> AppSession {
        AppSession {
            state,
            http_cfg,
            dns: Vec::new(),
            dns_count: 0,
            tls_updated: [false; 2],
        }
    }

    /// One UDP datagram of `dir`.
    pub fn datagram(&mut self, dir: Dir, payload: &[u8]) {
        if let State::DnsUdp = self.state {
            if let Some(m) = dns::parse(payload) {
                self.push_dns(dir, m);
            }
        }
    }

    fn push_dns(&mut self, dir: Dir, mut m: DnsMessage) {
        m.tx_id = self.dns_count;
        self.dns_count += 1;
        self.dns.push((dir, m));
    }

    /// The DNS messages parsed since the last call.
    pub fn take_dns(&mut self) -> Vec<(Dir, DnsMessage)> {
        std::mem::take(&mut self.dns)
    }

    /// Which directions' TLS parts were added since the last call.
    pub fn take_tls_updates(&mut self) -> [bool; 2] {
        std::mem::take(&mut self.tls_updated)
    }

    /// The TLS transaction (a flow has one), when the flow is TLS.
    pub fn tls(&self) -> Option<&TlsInfo> {
        match &self.state {
            State::Tls(p) => Some(p.info()),
            _ => None,
        }
    }

    /// The protocol, once known.
    pub fn proto(&self) -> Option<AppProto> {
        match &self.state {
            State::Detecting { .. } | State::Unparsed => None,
            State::Http(_) => Some(AppProto::Http),
            State::Dns(_) | State::DnsUdp => Some(AppProto::Dns),
            State::Tls(_) => Some(AppProto::Tls),
            State::Other(p) => Some(*p),
        }
    }

    /// The HTTP parser, when the flow is HTTP (for transactions).
    pub fn http(&self) -> Option<&HttpParser> {
        match &self.state {
            State::Http(p) => Some(p),
            _ => None,
        }
    }

    /// Mutable access, for [`HttpParser::pop_finished`].
    pub fn http_mut(&mut self) -> Option<&mut HttpParser> {
        match &mut self.state {
            State::Http(p) => Some(p),
            _ => None,
        }
    }

    /// Feed in-order bytes of `dir`.
    pub fn feed(&mut self, dir: Dir, data: &[u8], out: &mut Vec<AppEvent>) {
        let mut http_events = Vec::new();
        let mut msgs = Vec::new();
        match &mut self.state {
            State::Http(p) => p.feed(dir, data, &mut http_events),
            State::Dns(framers) => framers[dir.index()].feed(data, &mut msgs),
            State::Tls(p) => {
                self.tls_updated[dir.index()] |= p.feed(dir == Dir::ToServer, data);
            }
            State::Other(_) | State::DnsUdp | State::Unparsed => {}
            State::Detecting { prefix } => {
                // Keep what fits, then ask; `before` is where this
                // chunk starts in the kept bytes.
                let mine = &mut prefix[dir.index()];
                let before = mine.len();
                let room = PROBE_KEEP.saturating_sub(before);
                mine.extend_from_slice(&data[..data.len().min(room)]);
                let overflow = data.len() > room;

                let found = detect_protocol(&prefix[0], &prefix[1]);
                let found = match found {
                    None if overflow => Some(AppProto::Failed),
                    f => f,
                };
                let Some(proto) = found else {
                    return;
                };
                out.push(AppEvent::Detected(proto));
                if proto == AppProto::Tls {
                    // Replay as for HTTP below: the other side's kept
                    // bytes, then this side's, ending with the chunk.
                    let mut p = Box::<TlsParser>::default();
                    let other = dir.other();
                    let to_server = |d: Dir| d == Dir::ToServer;
                    let mut up = [false; 2];
                    up[other.index()] = p.feed(to_server(other), &prefix[other.index()]);
                    up[dir.index()] = p.feed(to_server(dir), &prefix[dir.index()][..before]);
                    up[dir.index()] |= p.feed(to_server(dir), data);
                    self.tls_updated = up;
                    self.state = State::Tls(p);
                    return;
                }
                if proto != AppProto::Http {
                    self.state = State::Other(proto);
                    return;
                }

                // Replay: the other side's bytes, then this side's,
                // ending with the whole current chunk.
                let mut parser = Box::new(HttpParser::new(self.http_cfg));
                let other = dir.other();
                parser.feed(other, &prefix[other.index()], &mut http_events);
                parser.feed(dir, &prefix[dir.index()][..before], &mut http_events);
                parser.feed(dir, data, &mut http_events);
                self.state = State::Http(parser);
            }
        }
        for m in msgs {
            self.push_dns(dir, m);
        }
        out.extend(http_events.into_iter().map(AppEvent::Http));
    }

    /// End of `dir`'s stream.
    pub fn close(&mut self, dir: Dir, out: &mut Vec<AppEvent>) {
        if let State::Http(p) = &mut self.state {
            let mut http_events = Vec::new();
            p.close(dir, &mut http_events);
            out.extend(http_events.into_iter().map(AppEvent::Http));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::http::Transaction;

    fn session() -> AppSession {
        AppSession::new(8080, HttpConfig::default())
    }

    #[test]
    fn http_detected_and_replayed() {
        let mut s = session();
        let mut ev = Vec::new();
        // The request arrives in pieces; a long one passes PROBE_KEEP.
        let long_uri = "/".to_string() + &"a".repeat(2 * PROBE_KEEP);
        let req = format!("GET {long_uri} HTTP/1.1\r\nHost: x\r\n\r\n");
        s.feed(Dir::ToServer, &req.as_bytes()[..2], &mut ev);
        assert_eq!(s.proto(), None);
        s.feed(Dir::ToServer, &req.as_bytes()[2..], &mut ev);
        assert_eq!(ev.first(), Some(&AppEvent::Detected(AppProto::Http)));
        s.feed(Dir::ToClient, b"HTTP/1.1 204 No Content\r\n\r\n", &mut ev);
        let tx = s.http().and_then(|p| p.tx(0)).expect("tx");
        assert_eq!(tx.uri(), Some(long_uri.as_bytes()));
        assert_eq!(tx.status(), Some(204));
        assert!(s.http_mut().and_then(HttpParser::pop_finished).is_some());
    }

    #[test]
    fn server_speaks_first() {
        let mut s = session();
        let mut ev = Vec::new();
        s.feed(
            Dir::ToClient,
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
            &mut ev,
        );
        assert_eq!(s.proto(), Some(AppProto::Http));
        let tx = s.http().and_then(|p| p.tx(0)).map(Transaction::status);
        assert_eq!(tx, Some(Some(200)));
    }

    #[test]
    fn other_protocols_and_failure() {
        let mut s = session();
        let mut ev = Vec::new();
        s.feed(Dir::ToServer, b"SSH-2.0-x\r\n", &mut ev);
        assert_eq!(s.proto(), Some(AppProto::Ssh));
        assert_eq!(ev, vec![AppEvent::Detected(AppProto::Ssh)]);
        s.feed(Dir::ToServer, b"more", &mut ev);
        assert_eq!(ev.len(), 1);

        let mut s = session();
        let mut ev = Vec::new();
        s.feed(Dir::ToServer, b"\x00\x01", &mut ev);
        s.feed(Dir::ToClient, b"\x02\x03", &mut ev);
        assert_eq!(s.proto(), Some(AppProto::Failed));

        // One side rambling past the probe window fails detection.
        let mut s = session();
        let mut ev = Vec::new();
        s.feed(Dir::ToServer, &vec![b'G'; PROBE_KEEP + 1], &mut ev);
        assert_eq!(s.proto(), Some(AppProto::Failed));

        assert_eq!(
            AppSession::new(53, HttpConfig::default()).proto(),
            Some(AppProto::Dns)
        );
    }

    #[test]
    fn close_reaches_the_parser() {
        let mut s = session();
        let mut ev = Vec::new();
        s.feed(Dir::ToServer, b"GET / HTTP/1.0\r\n\r\n", &mut ev);
        s.feed(Dir::ToClient, b"HTTP/1.0 200 OK\r\n\r\nbody", &mut ev);
        s.close(Dir::ToClient, &mut ev);
        assert!(ev.contains(&AppEvent::Http(HttpEvent::Complete {
            tx_id: 0,
            dir: Dir::ToClient
        })));
    }
}
