//! TCP stream reassembly: per direction, the in-order payload bytes.
//!
//! Segments are placed by their offset from the direction's first data
//! byte (ISN + 1), computed in 32-bit sequence space relative to the
//! next expected byte, so wrap-around at 2^32 is harmless. In-order data
//! is appended to a bounded window that detection reads; data ahead of a
//! gap waits in a bounded out-of-order queue until the gap fills.
//! Retransmitted bytes are not delivered twice: the first copy wins here.
//!
//! Shortcoming: a retransmission carrying *different* bytes is ignored
//! rather than checked against what was inspected; target-based overlap
//! policies and inline normalisation (issue 4) replace this rule.

use std::collections::BTreeMap;

use smoltcp::wire::TcpSeqNumber as Seq;

use crate::flow::tcp::seq_diff;

/// Caps for one direction, and the global byte budget.
#[derive(Debug, Clone, Copy)]
pub struct StreamConfig {
    /// Bytes of in-order data kept for detection to read back: at least
    /// this many once the stream is that long, at most twice as many.
    pub window: usize,
    /// Stream bytes inspected per direction (Suricata's
    /// `stream.reassembly.depth`); 0 means no limit.
    pub depth: u64,
    /// Out-of-order bytes held per direction.
    pub max_pending: usize,
    /// Bytes held by all streams together (`stream.reassembly.memcap`).
    pub memcap: usize,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            window: 64 * 1024,
            depth: 1024 * 1024,
            max_pending: 256 * 1024,
            memcap: 256 * 1024 * 1024,
        }
    }
}

/// Global accounting of bytes held by every stream.
#[derive(Debug, Default)]
pub struct StreamMem {
    pub used: usize,
    pub memcap_hits: u64,
}

/// What a segment did to the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// New in-order bytes start at this index of [`StreamDir::window`].
    Data { new_from: usize },
    /// Nothing new in order (retransmission, queued, or empty).
    Nothing,
    /// Past the inspection depth: the rest of the stream is not inspected.
    DepthReached,
    /// A cap was hit; the segment was not taken.
    OverCap,
}

#[derive(Debug, Default)]
pub struct StreamDir {
    /// Sequence number of stream offset 0.
    base: Option<Seq>,
    /// Offset of the next in-order byte.
    next_off: u64,
    window: Vec<u8>,
    pending: BTreeMap<u64, Vec<u8>>,
    pending_bytes: usize,
    pub gaps: u32,
}

impl StreamDir {
    pub fn started(&self) -> bool {
        self.base.is_some()
    }

    /// Sets where offset 0 is (ISN + 1), once.
    pub fn start(&mut self, base: Seq) {
        if self.base.is_none() {
            self.base = Some(base);
        }
    }

    /// The retained in-order bytes; they end at [`Self::next_offset`].
    pub fn window(&self) -> &[u8] {
        &self.window
    }

    /// Stream offset of `window()[0]`.
    pub fn window_start(&self) -> u64 {
        self.next_off - self.window.len() as u64
    }

    pub fn next_offset(&self) -> u64 {
        self.next_off
    }

    /// Bytes this direction holds.
    pub fn held(&self) -> usize {
        self.window.len() + self.pending_bytes
    }

    /// Adds a segment's payload.
    pub fn add(&mut self, cfg: &StreamConfig, mem: &mut StreamMem, s: Seq, data: &[u8]) -> Added {
        let Some(base) = self.base else {
            return Added::Nothing;
        };
        if data.is_empty() {
            return Added::Nothing;
        }
        if cfg.depth != 0 && self.next_off >= cfg.depth {
            return Added::DepthReached;
        }
        let expected = Seq(base.0.wrapping_add(self.next_off as u32 as i32));
        let off = self.next_off as i64 + i64::from(seq_diff(s, expected));
        let end = off + data.len() as i64;
        if end <= self.next_off as i64 {
            return Added::Nothing;
        }
        if off > self.next_off as i64 {
            return self.queue(cfg, mem, off as u64, data);
        }

        // In order, possibly starting inside bytes we already have.
        let skip = (self.next_off as i64 - off) as usize;
        let before = self.window.len();
        if !self.append(cfg, mem, &data[skip..]) {
            return Added::OverCap;
        }
        self.drain_pending(cfg, mem);
        let added = self.window.len() - before;
        self.trim(cfg, mem, added);
        Added::Data {
            new_from: self.window.len() - added,
        }
    }

    /// Releases every byte held, for a flow that goes away.
    pub fn release(&mut self, mem: &mut StreamMem) {
        mem.used = mem.used.saturating_sub(self.held());
        self.window = Vec::new();
        self.pending.clear();
        self.pending_bytes = 0;
    }

    fn append(&mut self, cfg: &StreamConfig, mem: &mut StreamMem, bytes: &[u8]) -> bool {
        let bytes = match cfg.depth {
            0 => bytes,
            d => &bytes[..bytes.len().min(d.saturating_sub(self.next_off) as usize)],
        };
        if mem.used + bytes.len() > cfg.memcap {
            mem.memcap_hits += 1;
            return false;
        }
        mem.used += bytes.len();
        self.window.extend_from_slice(bytes);
        self.next_off += bytes.len() as u64;
        true
    }

    fn queue(&mut self, cfg: &StreamConfig, mem: &mut StreamMem, off: u64, data: &[u8]) -> Added {
        if self.pending_bytes + data.len() > cfg.max_pending || mem.used + data.len() > cfg.memcap {
            mem.memcap_hits += 1;
            return Added::OverCap;
        }
        if self.pending.is_empty() {
            self.gaps += 1;
        }
        // The first copy of an offset wins; a longer later copy replaces it.
        let slot = self.pending.entry(off).or_default();
        if slot.len() < data.len() {
            self.pending_bytes += data.len() - slot.len();
            mem.used += data.len() - slot.len();
            *slot = data.to_vec();
        }
        Added::Nothing
    }

    fn drain_pending(&mut self, cfg: &StreamConfig, mem: &mut StreamMem) {
        while let Some(entry) = self.pending.first_entry() {
            let off = *entry.key();
            if off > self.next_off {
                break;
            }
            let seg = entry.remove();
            self.pending_bytes -= seg.len();
            mem.used = mem.used.saturating_sub(seg.len());
            let skip = (self.next_off - off) as usize;
            if skip < seg.len() && !self.append(cfg, mem, &seg[skip..]) {
                break;
            }
        }
    }

    /// Drops old window bytes once they pass twice the cap, back down
    /// to the cap, keeping at least the `keep` newest so detection sees
    /// all of what just arrived. Trimming in halves moves each byte at
    /// most once; trimming on every segment would move the whole window
    /// per packet.
    fn trim(&mut self, cfg: &StreamConfig, mem: &mut StreamMem, keep: usize) {
        let limit = cfg.window.max(keep);
        if self.window.len() > limit.saturating_mul(2) {
            let cut = self.window.len() - limit;
            self.window.drain(..cut);
            mem.used = mem.used.saturating_sub(cut);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::tcp::seq;

    fn dir(base: u32) -> (StreamDir, StreamConfig, StreamMem) {
        let mut d = StreamDir::default();
        d.start(seq(base));
        (d, StreamConfig::default(), StreamMem::default())
    }

    #[test]
    fn in_order_segments_concatenate() {
        let (mut d, c, mut m) = dir(1000);
        assert_eq!(
            d.add(&c, &mut m, seq(1000), b"GET /et"),
            Added::Data { new_from: 0 }
        );
        assert_eq!(
            d.add(&c, &mut m, seq(1007), b"c/passwd"),
            Added::Data { new_from: 7 }
        );
        assert_eq!(d.window(), b"GET /etc/passwd");
        assert_eq!(m.used, 15);
    }

    #[test]
    fn retransmission_adds_nothing_and_overlap_adds_the_tail() {
        let (mut d, c, mut m) = dir(0);
        d.add(&c, &mut m, seq(0), b"abcd");
        assert_eq!(d.add(&c, &mut m, seq(0), b"abcd"), Added::Nothing);
        assert_eq!(
            d.add(&c, &mut m, seq(2), b"cdef"),
            Added::Data { new_from: 4 }
        );
        assert_eq!(d.window(), b"abcdef");
    }

    #[test]
    fn out_of_order_waits_for_the_gap() {
        let (mut d, c, mut m) = dir(10);
        assert_eq!(d.add(&c, &mut m, seq(13), b"def"), Added::Nothing);
        assert_eq!(d.gaps, 1);
        assert_eq!(
            d.add(&c, &mut m, seq(10), b"abc"),
            Added::Data { new_from: 0 }
        );
        assert_eq!(d.window(), b"abcdef");
        assert_eq!(m.used, 6);
    }

    #[test]
    fn wraps_at_two_to_the_32() {
        let (mut d, c, mut m) = dir(u32::MAX - 1);
        d.add(&c, &mut m, seq(u32::MAX - 1), b"ab");
        assert_eq!(
            d.add(&c, &mut m, seq(0), b"cd"),
            Added::Data { new_from: 2 }
        );
        assert_eq!(d.window(), b"abcd");
    }

    #[test]
    fn window_and_depth_are_capped() {
        let (mut d, mut c, mut m) = dir(0);
        c.window = 8;
        c.depth = 20;
        d.add(&c, &mut m, seq(0), b"0123456789");
        assert_eq!(d.window(), b"0123456789", "new bytes are all kept");
        d.add(&c, &mut m, seq(10), b"abc");
        assert_eq!(d.window(), b"0123456789abc", "under twice the cap");
        d.add(&c, &mut m, seq(13), b"ABCD");
        assert_eq!(
            d.window(),
            b"9abcABCD",
            "past twice the cap: back to the cap"
        );
        assert_eq!(d.window_start(), 9);
        d.add(&c, &mut m, seq(17), b"EFGHIJ");
        assert_eq!(d.next_offset(), 20);
        assert_eq!(d.add(&c, &mut m, seq(23), b"x"), Added::DepthReached);
        assert_eq!(m.used, d.held());
    }

    #[test]
    fn memcap_refuses_and_release_returns_bytes() {
        let (mut d, mut c, mut m) = dir(0);
        c.memcap = 4;
        assert_eq!(d.add(&c, &mut m, seq(0), b"12345"), Added::OverCap);
        assert_eq!(m.memcap_hits, 1);
        d.add(&c, &mut m, seq(0), b"123");
        d.release(&mut m);
        assert_eq!(m.used, 0);
    }
}
