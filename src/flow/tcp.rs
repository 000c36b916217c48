//! TCP connection state, from the handshake to FIN or RST.
//!
//! Sequence numbers are compared with smoltcp's `TcpSeqNumber`, whose
//! ordering is modulo 2^32 (RFC 793 section 3.3), so a connection that
//! wraps past 2^32 keeps its order. Its `-` operator panics when the
//! result would be negative, so differences here go through [`seq_diff`].

use smoltcp::wire::TcpSeqNumber as Seq;

use super::Dir;
use crate::decode::{tcp_flags as F, Tcp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TcpState {
    #[default]
    None,
    SynSent,
    SynRecv,
    Established,
    /// One side sent FIN.
    Closing,
    /// Both sides sent FIN, or one sent RST.
    Closed,
}

impl TcpState {
    pub fn name(self) -> &'static str {
        match self {
            TcpState::None => "none",
            TcpState::SynSent => "syn_sent",
            TcpState::SynRecv => "syn_recv",
            TcpState::Established => "established",
            TcpState::Closing => "closing",
            TcpState::Closed => "closed",
        }
    }
}

/// One direction's sequence space.
#[derive(Debug, Clone, Copy, Default)]
pub struct TcpDir {
    /// Initial sequence number (the SYN's), once seen.
    pub isn: Option<Seq>,
    /// One past the highest sequence number this side has sent.
    pub next: Option<Seq>,
    /// The last acknowledgement this side sent.
    pub ack: Option<Seq>,
    pub window: u16,
    pub fin: bool,
}

#[derive(Debug, Clone, Default)]
pub struct TcpTrack {
    pub state: TcpState,
    pub dirs: [TcpDir; 2],
    /// A SYN arrived on an established connection (a receiver ignores it).
    pub syn_on_established: u32,
    /// The handshake completed at some point (the state may since have
    /// moved on to closing or closed).
    pub was_established: bool,
    /// RSTs a receiver would not act on (not at its next sequence number).
    pub rst_ignored: u32,
    /// Picked up midstream, without a handshake.
    pub midstream: bool,
}

/// Signed distance `a - b` in sequence space.
pub fn seq_diff(a: Seq, b: Seq) -> i32 {
    a.0.wrapping_sub(b.0)
}

pub fn seq(n: u32) -> Seq {
    Seq(n as i32)
}

impl TcpTrack {
    pub fn established(&self) -> bool {
        matches!(self.state, TcpState::Established | TcpState::Closing)
    }

    /// Midstream pickup (Suricata's `stream.midstream`): a connection
    /// first seen after its handshake is taken as established, each
    /// side's sequence space anchored at this segment and its ACK.
    pub fn pick_up(&mut self, dir: Dir, t: &Tcp<'_>) {
        let d = dir.index();
        self.dirs[d].isn = Some(seq(t.seq) - 1);
        self.dirs[d ^ 1].isn = Some(seq(t.ack) - 1);
        self.dirs[d ^ 1].next = Some(seq(t.ack));
        self.state = TcpState::Established;
        self.was_established = true;
        self.midstream = true;
    }

    /// Where stream offset 0 of a direction sits in sequence space, once
    /// its SYN was seen.
    pub fn stream_base(&self, dir: Dir) -> Option<Seq> {
        self.dirs[dir.index()].isn.map(|isn| isn + 1)
    }

    /// Advances the state with one segment.
    pub fn update(&mut self, dir: Dir, t: &Tcp<'_>, payload_len: usize) {
        let s = seq(t.seq);
        let syn = t.flags & F::SYN != 0;
        let ack = t.flags & F::ACK != 0;
        let d = dir.index();

        if t.flags & F::RST != 0 {
            // RFC 5961 3.2: a receiver resets only when the RST sits
            // exactly at the next sequence number it expects; anywhere
            // else in the window it answers with a challenge ACK and
            // keeps the connection. An RST we believed would let the
            // rest of the stream through uninspected.
            let expected = [self.dirs[d ^ 1].ack, self.dirs[d].next];
            let exact = expected.iter().flatten().any(|e| *e == s);
            if exact || expected.iter().all(Option::is_none) || !self.was_established {
                self.state = TcpState::Closed;
            } else {
                self.rst_ignored += 1;
            }
            return;
        }
        if syn {
            self.on_syn(dir, s, ack, t.ack);
        } else if ack && self.state == TcpState::SynRecv && dir == Dir::ToServer {
            // RFC 793 3.4: the third segment of the handshake must
            // acknowledge the server's SYN.
            if self.dirs[1].next == Some(seq(t.ack)) {
                self.state = TcpState::Established;
                self.was_established = true;
            }
        }

        let side = &mut self.dirs[d];
        let end = s + payload_len + usize::from(syn) + usize::from(t.flags & F::FIN != 0);
        side.next = Some(match side.next {
            Some(n) if n > end => n,
            _ => end,
        });
        if ack {
            side.ack = Some(seq(t.ack));
        }
        side.window = t.window;
        if t.flags & F::FIN != 0 {
            side.fin = true;
            self.state = if self.dirs[d ^ 1].fin {
                TcpState::Closed
            } else {
                TcpState::Closing
            };
        }
    }

    fn on_syn(&mut self, dir: Dir, s: Seq, ack: bool, ackno: u32) {
        let d = dir.index();
        match (self.state, ack) {
            (TcpState::None, false) => {
                self.dirs[d].isn = Some(s);
                self.state = TcpState::SynSent;
            }
            (TcpState::SynSent | TcpState::None, true) => {
                // The SYN-ACK must acknowledge the client's SYN when we saw it.
                let acks_syn = match self.dirs[d ^ 1].isn {
                    Some(isn) => seq(ackno) == isn + 1,
                    None => true,
                };
                if acks_syn {
                    self.dirs[d].isn = Some(s);
                    if self.dirs[d ^ 1].isn.is_none() {
                        self.dirs[d ^ 1].isn = Some(seq(ackno) - 1);
                    }
                    self.state = TcpState::SynRecv;
                }
            }
            (TcpState::SynSent, false) => {
                // A retransmitted SYN; a new ISN restarts the handshake.
                self.dirs[d].isn = Some(s);
            }
            _ => self.syn_on_established += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(flags: u8, seq: u32, ack: u32) -> Tcp<'static> {
        Tcp {
            src_port: 1,
            dst_port: 2,
            seq,
            ack,
            flags,
            window: 1000,
            urgent: 0,
            checksum: 0,
            header: &[],
        }
    }

    #[test]
    fn handshake_data_and_close() {
        let mut t = TcpTrack::default();
        t.update(Dir::ToServer, &seg(F::SYN, 100, 0), 0);
        assert_eq!(t.state, TcpState::SynSent);
        t.update(Dir::ToClient, &seg(F::SYN | F::ACK, 500, 101), 0);
        assert_eq!(t.state, TcpState::SynRecv);
        t.update(Dir::ToServer, &seg(F::ACK, 101, 501), 0);
        assert!(t.established());
        assert_eq!(t.stream_base(Dir::ToServer), Some(seq(101)));
        t.update(Dir::ToServer, &seg(F::ACK | F::PSH, 101, 501), 10);
        assert_eq!(t.dirs[0].next, Some(seq(111)));
        t.update(Dir::ToServer, &seg(F::FIN | F::ACK, 111, 501), 0);
        assert_eq!(t.state, TcpState::Closing);
        t.update(Dir::ToClient, &seg(F::FIN | F::ACK, 501, 112), 0);
        assert_eq!(t.state, TcpState::Closed);
    }

    #[test]
    fn wrong_third_ack_does_not_establish() {
        let mut t = TcpTrack::default();
        t.update(Dir::ToServer, &seg(F::SYN, 100, 0), 0);
        t.update(Dir::ToClient, &seg(F::SYN | F::ACK, 500, 101), 0);
        t.update(Dir::ToServer, &seg(F::ACK, 101, 999), 0);
        assert!(!t.established());
    }

    #[test]
    fn sequence_wraps_past_two_to_the_32() {
        let mut t = TcpTrack::default();
        let isn = u32::MAX - 2;
        t.update(Dir::ToServer, &seg(F::SYN, isn, 0), 0);
        t.update(
            Dir::ToClient,
            &seg(F::SYN | F::ACK, 7, isn.wrapping_add(1)),
            0,
        );
        t.update(Dir::ToServer, &seg(F::ACK, isn.wrapping_add(1), 8), 0);
        assert!(t.established());
        t.update(Dir::ToServer, &seg(F::ACK, isn.wrapping_add(1), 8), 10);
        // u32::MAX - 1 + 10 wraps to 8.
        assert_eq!(t.dirs[0].next, Some(seq(8)));
        assert!(seq_diff(seq(8), seq(u32::MAX - 1)) == 10);
    }

    /// Evasion matrix form rst-in-window: a RST inside the window but
    /// not at the next sequence number changes nothing at a receiver.
    #[test]
    fn rst_not_at_the_next_sequence_number_is_ignored() {
        let mut t = TcpTrack::default();
        t.update(Dir::ToServer, &seg(F::SYN, 100, 0), 0);
        t.update(Dir::ToClient, &seg(F::SYN | F::ACK, 500, 101), 0);
        t.update(Dir::ToServer, &seg(F::ACK, 101, 501), 0);
        t.update(Dir::ToServer, &seg(F::RST, 1101, 0), 0);
        assert!(t.established());
        assert_eq!(t.rst_ignored, 1);
        t.update(Dir::ToServer, &seg(F::RST, 101, 0), 0);
        assert_eq!(t.state, TcpState::Closed);
    }

    #[test]
    fn rst_closes() {
        let mut t = TcpTrack::default();
        t.update(Dir::ToServer, &seg(F::SYN, 1, 0), 0);
        t.update(Dir::ToClient, &seg(F::RST | F::ACK, 0, 2), 0);
        assert_eq!(t.state, TcpState::Closed);
    }

    #[test]
    fn syn_on_established_is_counted() {
        let mut t = TcpTrack::default();
        t.update(Dir::ToServer, &seg(F::SYN, 100, 0), 0);
        t.update(Dir::ToClient, &seg(F::SYN | F::ACK, 500, 101), 0);
        t.update(Dir::ToServer, &seg(F::ACK, 101, 501), 0);
        t.update(Dir::ToServer, &seg(F::SYN, 9000, 0), 0);
        assert_eq!(t.syn_on_established, 1);
        assert!(t.established());
    }
}
