//! TCP stream reassembly: per direction, the bytes the receiver will
//! read, in order, for detection.
//!
//! Segments are placed by their offset from the direction's first data
//! byte (ISN + 1), computed in 32-bit sequence space relative to the
//! next byte to deliver, so wrap-around at 2^32 is harmless. Segments
//! not yet delivered wait in a list; where two overlap with different
//! bytes, the receiver's [`Policy`] decides which copy it would keep,
//! or, inline, the copy already accepted wins and the later packet is
//! rewritten to match it, so what is forwarded is what was inspected.
//!
//! Delivery moves contiguous bytes from the list to the window that
//! detection reads. Inline (IPS) delivers as soon as bytes are in
//! order; otherwise (IDS) only bytes the receiver has acknowledged are
//! delivered, since until then a later copy may still replace them.

pub mod defrag;
pub mod policy;

use smoltcp::wire::TcpSeqNumber as Seq;

use crate::flow::tcp::seq_diff;
pub use policy::{Policy, PolicyTable};

/// Caps for one direction, and the global byte budget.
#[derive(Debug, Clone, Copy)]
pub struct StreamConfig {
    /// Bytes of delivered data kept for detection to read back: at
    /// least this many once the stream is that long, at most twice.
    pub window: usize,
    /// Stream bytes inspected per direction (Suricata's
    /// `stream.reassembly.depth`); 0 means no limit.
    pub depth: u64,
    /// Undelivered bytes held per direction.
    pub max_pending: usize,
    /// Undelivered segments held per direction.
    pub max_segments: usize,
    /// Bytes held by all streams together (`stream.reassembly.memcap`).
    pub memcap: usize,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            window: 64 * 1024,
            depth: 1024 * 1024,
            max_pending: 256 * 1024,
            max_segments: 4096,
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

/// What inserting a segment found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Inserted {
    /// Some byte overlapped one already held or delivered, with a
    /// different value (`stream-event:reassembly_overlap_different_data`).
    pub conflict: bool,
    /// Inline: the packet's payload no longer matches what was
    /// accepted, and the caller must forward the rewritten copy.
    pub rewritten: bool,
    /// A cap refused the segment (or its undelivered part).
    pub over_cap: bool,
    /// Past the inspection depth.
    pub past_depth: bool,
    /// Stream offset of the segment's first byte.
    pub offset: u64,
}

/// An undelivered segment: its original place and its resolved bytes.
#[derive(Debug)]
struct Seg {
    off: u64,
    data: Vec<u8>,
}

impl Seg {
    fn end(&self) -> u64 {
        self.off + self.data.len() as u64
    }
}

#[derive(Debug, Default)]
pub struct StreamDir {
    /// Sequence number of stream offset 0.
    base: Option<Seq>,
    /// Offset of the next byte to deliver.
    next_off: u64,
    window: Vec<u8>,
    /// Sorted by offset; may overlap each other, with equal bytes where
    /// they do.
    segs: Vec<Seg>,
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

    /// The retained delivered bytes; they end at [`Self::next_offset`].
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

    /// Whether undelivered bytes wait.
    pub fn has_pending(&self) -> bool {
        !self.segs.is_empty()
    }

    /// Stream offset of a sequence number, if the stream has started.
    pub fn offset_of(&self, s: Seq) -> Option<u64> {
        let base = self.base?;
        let next = Seq(base.0.wrapping_add(self.next_off as u32 as i32));
        let off = self.next_off as i64 + i64::from(seq_diff(s, next));
        u64::try_from(off).ok()
    }

    /// Inserts a segment's payload. Against bytes already delivered the
    /// first copy stands (and with `inline`, `payload` is rewritten to
    /// it); against bytes still held, `policy` decides per overlap, and
    /// with `inline` a losing new copy is rewritten too.
    pub fn insert(
        &mut self,
        cfg: &StreamConfig,
        mem: &mut StreamMem,
        policy: Policy,
        inline: bool,
        s: Seq,
        payload: &mut [u8],
    ) -> Inserted {
        let mut out = Inserted::default();
        let Some(off) = self.offset_of(s) else {
            // Before offset 0: only possible for a bogus sequence number.
            return out;
        };
        out.offset = off;
        if payload.is_empty() {
            return out;
        }

        // Bytes already delivered: the receiver has them (or, inline,
        // was sent them); a different copy cannot change what it read.
        let done = (self.next_off.saturating_sub(off) as usize).min(payload.len());
        if done > 0 {
            self.compare_delivered(off, &mut payload[..done], inline, &mut out);
        }
        let rest_off = off + done as u64;
        let mut rest_len = payload.len() - done;
        if cfg.depth != 0 {
            let room = cfg.depth.saturating_sub(rest_off) as usize;
            if room < rest_len {
                out.past_depth = true;
                rest_len = room;
            }
        }
        if rest_len == 0 {
            return out;
        }
        let rest = &mut payload[done..done + rest_len];
        self.resolve_overlaps(rest_off, rest, policy, inline, &mut out);

        if self.segs.len() >= cfg.max_segments
            || self.pending_bytes + rest_len > cfg.max_pending
            || mem.used + rest_len > cfg.memcap
        {
            mem.memcap_hits += 1;
            out.over_cap = true;
            return out;
        }
        if rest_off > self.next_off && self.segs.is_empty() {
            self.gaps += 1;
        }
        let at = self.segs.partition_point(|g| g.off <= rest_off);
        self.segs.insert(
            at,
            Seg {
                off: rest_off,
                data: rest.to_vec(),
            },
        );
        self.pending_bytes += rest_len;
        mem.used += rest_len;
        out
    }

    fn compare_delivered(&self, off: u64, part: &mut [u8], inline: bool, out: &mut Inserted) {
        let start = self.window_start();
        // Only what the window still holds can be compared.
        let from = off.max(start);
        let to = off + part.len() as u64;
        if from >= to {
            return;
        }
        let w = &self.window[(from - start) as usize..(to - start) as usize];
        let p = &mut part[(from - off) as usize..];
        if w != p {
            out.conflict = true;
            if inline {
                p.copy_from_slice(w);
                out.rewritten = true;
            }
        }
    }

    /// Applies the overlap rules between a new segment and every held
    /// segment it overlaps, updating whichever copy loses.
    fn resolve_overlaps(
        &mut self,
        off: u64,
        data: &mut [u8],
        policy: Policy,
        inline: bool,
        out: &mut Inserted,
    ) {
        let end = off + data.len() as u64;
        let upto = self.segs.partition_point(|g| g.off < end);
        for g in &mut self.segs[..upto] {
            let old_range = (g.off, g.end());
            let (lo, hi) = (off.max(old_range.0), end.min(old_range.1));
            if lo >= hi {
                continue;
            }
            let new = &mut data[(lo - off) as usize..(hi - off) as usize];
            let old = &mut g.data[(lo - g.off) as usize..(hi - g.off) as usize];
            if new == old {
                continue;
            }
            out.conflict = true;
            // Held bytes were forwarded already: the receiver chooses
            // between the copies by its own policy, so we follow it too.
            // Where it keeps the old copy, inline rewrites the new one to
            // match, so both copies it gets agree.
            if policy.new_wins((off, end), old_range) {
                old.copy_from_slice(new);
            } else {
                new.copy_from_slice(old);
                out.rewritten |= inline;
            }
        }
    }

    /// Moves contiguous held bytes into the window, up to stream offset
    /// `limit` if given. Returns the window index where the delivered
    /// bytes start, if any were.
    pub fn deliver(
        &mut self,
        cfg: &StreamConfig,
        mem: &mut StreamMem,
        limit: Option<u64>,
    ) -> Option<usize> {
        let before = self.window.len();
        let limit = limit.unwrap_or(u64::MAX);
        let mut i = 0;
        while i < self.segs.len() && self.next_off < limit {
            let g = &self.segs[i];
            if g.off > self.next_off {
                break;
            }
            if g.end() > self.next_off {
                let from = (self.next_off - g.off) as usize;
                let to = (g.end().min(limit) - g.off) as usize;
                self.window.extend_from_slice(&g.data[from..to]);
                self.next_off = g.off + to as u64;
            }
            i += 1;
        }
        // Drop segments now wholly delivered.
        let next = self.next_off;
        let mut freed = 0;
        self.segs.retain(|g| {
            let keep = g.end() > next;
            if !keep {
                freed += g.data.len();
            }
            keep
        });
        self.pending_bytes -= freed;
        // Freed pending bytes now sit in the window instead.
        let added = self.window.len() - before;
        mem.used = (mem.used + added).saturating_sub(freed);
        if added == 0 {
            return None;
        }
        self.trim(cfg, mem, added);
        Some(self.window.len() - added)
    }

    /// Releases every byte held, for a flow that goes away.
    pub fn release(&mut self, mem: &mut StreamMem) {
        mem.used = mem.used.saturating_sub(self.held());
        self.window = Vec::new();
        self.segs = Vec::new();
        self.pending_bytes = 0;
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
mod tests;
