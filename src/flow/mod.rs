//! Flows: both directions of a conversation share one entry.
//!
//! A [`FlowKey`] is normalised (lower endpoint first) so that either
//! direction finds the same [`Flow`]; the flow remembers which endpoint
//! opened it, and per-direction state (TCP sequence space, stream bytes,
//! detection state) hangs off [`Flow::dirs`], indexed by [`Dir`].

pub mod table;
pub mod tcp;

use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use crate::decode::{tcp_flags, Packet, L4};
use crate::detect::{DirState, FlowVars};
use crate::stream::StreamDir;
use crate::time::Ts;

pub use table::{FlowTable, Lookup};

/// Direction of a packet relative to the flow's initiator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    ToServer = 0,
    ToClient = 1,
}

impl Dir {
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn other(self) -> Dir {
        match self {
            Dir::ToServer => Dir::ToClient,
            Dir::ToClient => Dir::ToServer,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dir::ToServer => "to_server",
            Dir::ToClient => "to_client",
        }
    }

    /// The direction back toward this packet's sender.
    pub fn name_of_sender(self) -> &'static str {
        self.other().name()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub addr: IpAddr,
    pub port: u16,
}

/// The normalised 5-tuple (plus VLAN, so tagged networks stay apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub lo: Endpoint,
    pub hi: Endpoint,
    pub proto: u8,
    pub vlan: u16,
}

impl FlowKey {
    /// The key of a packet's flow, and whether the packet goes lo -> hi.
    pub fn of(pkt: &Packet<'_>) -> (FlowKey, bool) {
        let (sp, dp) = match &pkt.l4 {
            L4::Tcp(t) => (t.src_port, t.dst_port),
            L4::Udp {
                src_port, dst_port, ..
            } => (*src_port, *dst_port),
            _ => (0, 0),
        };
        let src = Endpoint {
            addr: pkt.ip.src,
            port: sp,
        };
        let dst = Endpoint {
            addr: pkt.ip.dst,
            port: dp,
        };
        let forward = (src.addr, src.port) <= (dst.addr, dst.port);
        let (lo, hi) = if forward { (src, dst) } else { (dst, src) };
        let key = FlowKey {
            lo,
            hi,
            proto: pkt.ip.proto,
            vlan: pkt.link.vlan.unwrap_or(0),
        };
        (key, forward)
    }

    /// A stable id for EVE's `flow_id`: the key and start time hashed
    /// with a fixed-key hasher, kept to 51 bits so JSON readers that
    /// parse numbers as doubles keep it exact.
    pub fn flow_id(&self, start: Ts) -> u64 {
        let mut h = Fnv64::default();
        self.hash(&mut h);
        start.hash(&mut h);
        h.finish() & ((1 << 51) - 1)
    }
}

/// What the flow's verdicts so far decided for its later packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowAction {
    Inspect,
    /// A `pass` rule matched: forward without inspection.
    Pass,
    /// A drop or reject verdict: discard everything until the flow times out.
    Drop,
}

/// Per-direction state.
#[derive(Debug, Default)]
pub struct DirData {
    pub pkts: u64,
    pub bytes: u64,
    pub stream: StreamDir,
    pub detect: DirState,
}

#[derive(Debug)]
pub struct Flow {
    pub key: FlowKey,
    pub id: u64,
    /// The endpoint that opened the flow.
    pub client: Endpoint,
    pub start: Ts,
    pub last: Ts,
    pub action: FlowAction,
    pub tcp: tcp::TcpTrack,
    /// UDP and other protocols: a packet was seen each way.
    pub replied: bool,
    pub alerts: u32,
    pub dirs: [DirData; 2],
    /// TTL of the first packet from each side, to tell how far away
    /// each endpoint is.
    pub ttl: [Option<u8>; 2],
    /// TCP window scale each side offered in its SYN.
    pub wscale: [Option<u8>; 2],
    /// Each side sent a timestamp option in its SYN.
    pub ts_on: [bool; 2],
    /// The newest TSval from each side.
    pub ts_newest: [Option<u32>; 2],
    /// Urgent bytes each side's receiver took out of band.
    pub urgent_skipped: [u32; 2],
    /// Flowbits and flowints: one set per flow, both directions.
    pub vars: FlowVars,
    /// TCP: the application layer, made when stream bytes first arrive.
    pub app: Option<Box<crate::engine::app::FlowApp>>,
}

impl Flow {
    pub fn new(key: FlowKey, pkt: &Packet<'_>, now: Ts) -> Flow {
        let src = Endpoint {
            addr: pkt.ip.src,
            port: pkt.ports().0,
        };
        let dst = Endpoint {
            addr: pkt.ip.dst,
            port: pkt.ports().1,
        };
        // A SYN-ACK as the first packet seen means its receiver opened
        // the connection (we joined after the SYN).
        let client = match pkt.tcp() {
            Some(t)
                if t.flags & (tcp_flags::SYN | tcp_flags::ACK)
                    == tcp_flags::SYN | tcp_flags::ACK =>
            {
                dst
            }
            _ => src,
        };
        Flow {
            key,
            id: key.flow_id(now),
            client,
            start: now,
            last: now,
            action: FlowAction::Inspect,
            tcp: tcp::TcpTrack::default(),
            replied: false,
            alerts: 0,
            dirs: Default::default(),
            ttl: [None; 2],
            wscale: [None; 2],
            ts_on: [false; 2],
            ts_newest: [None; 2],
            urgent_skipped: [0; 2],
            vars: FlowVars::default(),
            app: None,
        }
    }

    /// The direction of a packet with this source.
    pub fn dir_of(&self, pkt: &Packet<'_>) -> Dir {
        if pkt.ip.src == self.client.addr && pkt.ports().0 == self.client.port {
            Dir::ToServer
        } else {
            Dir::ToClient
        }
    }

    /// `flow:established` in Suricata's sense.
    pub fn established(&self) -> bool {
        if self.key.proto == 6 {
            self.tcp.established()
        } else {
            self.replied
        }
    }

    /// The server endpoint.
    pub fn server(&self) -> Endpoint {
        if self.client == self.key.lo {
            self.key.hi
        } else {
            self.key.lo
        }
    }
}

/// FNV-1a: deterministic across runs and builds, unlike the std hasher.
#[derive(Clone, Copy)]
pub struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv64 {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}
