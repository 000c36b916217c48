//! Helpers shared by the engine test files: rules from text, TCP
//! segments built with etherparse, and a runner that keeps the clock.

// Each test file uses its own subset of these helpers.
#![allow(dead_code)]

use etherparse::PacketBuilder;
pub use portcullis::decode::{tcp_flags as F, LinkType};
use portcullis::detect::Detector;
pub use portcullis::engine::{Engine, EngineConfig, Meta, Mode};
pub use portcullis::output::Event;
use portcullis::rules::{parse_rule, Classifications, Vars};
use portcullis::time::Ts;
pub use portcullis::verdict::{Actions, Verdict};

pub const CLIENT: [u8; 4] = [198, 18, 0, 2];
pub const SERVER: [u8; 4] = [198, 18, 1, 2];

pub fn engine(mode: Mode, rules: &[&str]) -> Engine {
    engine_with(
        EngineConfig {
            mode,
            ..EngineConfig::default()
        },
        rules,
    )
}

pub fn engine_with(cfg: EngineConfig, rules: &[&str]) -> Engine {
    let vars = Vars::default();
    let classes = Classifications::default();
    let parsed = rules
        .iter()
        .map(|r| parse_rule(r, &vars, &classes).expect("test rule parses"))
        .collect();
    let detector = Detector::build(parsed).expect("detector builds");
    Engine::new(cfg, detector)
}

/// A TCP segment; `to_server` picks the direction.
pub fn seg(to_server: bool, flags: u8, seq: u32, ack: u32, data: &[u8]) -> Vec<u8> {
    let (s, d, sp, dp) = if to_server {
        (CLIENT, SERVER, 40000, 80)
    } else {
        (SERVER, CLIENT, 80, 40000)
    };
    let mut b = PacketBuilder::ipv4(s, d, 64).tcp(sp, dp, seq, 65535);
    if flags & F::SYN != 0 {
        b = b.syn();
    }
    if flags & F::ACK != 0 {
        b = b.ack(ack);
    }
    if flags & F::PSH != 0 {
        b = b.psh();
    }
    if flags & F::RST != 0 {
        b = b.rst();
    }
    if flags & F::FIN != 0 {
        b = b.fin();
    }
    let mut out = Vec::new();
    b.write(&mut out, data).expect("build");
    out
}

pub struct Run {
    pub engine: Engine,
    pub actions: Actions,
    pub events: Vec<Event>,
    pub t: u64,
}

impl Run {
    pub fn new(engine: Engine) -> Run {
        Run {
            engine,
            actions: Actions::default(),
            events: Vec::new(),
            t: 1_000_000,
        }
    }

    pub fn send(&mut self, frame: &[u8]) -> Verdict {
        self.t += 1000;
        let meta = Meta {
            link: LinkType::Raw,
            ts: Ts(self.t),
            pcap_cnt: None,
        };
        self.engine
            .process(frame, meta, &mut self.actions, &mut self.events);
        self.actions.verdict.expect("a verdict for every packet")
    }

    /// Client ISN 100, server ISN 500; returns after the third ACK.
    pub fn handshake(&mut self) {
        assert_eq!(self.send(&seg(true, F::SYN, 100, 0, b"")), Verdict::Forward);
        assert_eq!(
            self.send(&seg(false, F::SYN | F::ACK, 500, 101, b"")),
            Verdict::Forward
        );
        assert_eq!(
            self.send(&seg(true, F::ACK, 101, 501, b"")),
            Verdict::Forward
        );
    }

    pub fn alerts(&self) -> Vec<(u32, String)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Alert(a) => Some((a.alert.signature_id, a.alert.action.to_string())),
                _ => None,
            })
            .collect()
    }
}
