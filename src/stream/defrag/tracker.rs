//! One datagram in progress: the bytes held so far as disjoint pieces,
//! the header of whichever fragment supplied byte 0, and the length
//! once the last fragment told it.
//!
//! Completeness is a byte count rather than RFC 815's list of holes:
//! pieces never overlap and never pass the known length, so holding as
//! many bytes as the length says means there is no hole left. Overlaps
//! are settled when a fragment arrives, so the pieces are always the
//! datagram as the target would hold it so far.

use std::collections::BTreeMap;

use super::policy::Policy;
use crate::time::Ts;

/// Bytes charged for a tracker besides the data it holds (key, map,
/// timestamps): an estimate, so that empty or refused datagrams still
/// cost something against the memcap.
pub(super) const TRACKER_OVERHEAD: usize = 128;

/// Bytes charged per accepted fragment for its map entry. Pieces never
/// outnumber twice the fragments accepted (each fragment adds at most
/// two piece boundaries), so this bounds the bookkeeping.
pub(super) const FRAGMENT_OVERHEAD: usize = 64;

/// The per-datagram header kept from the fragment at offset 0.
#[derive(Debug, Clone)]
pub(super) struct FirstHeader {
    /// IPv4: the header with its options. IPv6: the fixed header and
    /// the unfragmentable extension headers, up to the Fragment header.
    pub bytes: Vec<u8>,
    /// IPv6: index in `bytes` of the Next Header field that named the
    /// Fragment header, and the value it takes once that header is gone.
    pub next_header: Option<(usize, u8)>,
}

/// What inserting one fragment did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Inserted {
    /// It shared bytes with what was held.
    pub overlap: bool,
    /// Some shared byte had a different value in the two copies.
    pub differing: bool,
}

#[derive(Debug)]
pub(super) struct Tracker {
    pub v6: bool,
    pub policy: Policy,
    pub last_seen: Ts,
    /// Position in the expiry index.
    pub serial: u64,
    /// Fragments taken into this datagram (including fully shadowed
    /// duplicates, which still cost a map entry's worth of work).
    pub fragments: u32,
    /// Dropped for good (too many fragments, inconsistent length,
    /// overlap under RFC 5722): holds nothing, refuses the rest of the
    /// datagram until it times out, so no late half is reassembled.
    pub dead: bool,
    /// Offset -> bytes; disjoint, each piece non-empty.
    pieces: BTreeMap<u32, Vec<u8>>,
    /// Sum of the piece lengths.
    covered: u32,
    /// Length of the fragmentable data, once the last fragment came.
    end: Option<u32>,
    header: Option<FirstHeader>,
}

impl Tracker {
    pub fn new(v6: bool, policy: Policy, now: Ts, serial: u64) -> Tracker {
        Tracker {
            v6,
            policy,
            last_seen: now,
            serial,
            fragments: 0,
            dead: false,
            pieces: BTreeMap::new(),
            covered: 0,
            end: None,
            header: None,
        }
    }

    /// Bytes charged against the memcap.
    pub fn held(&self) -> usize {
        if self.dead {
            return TRACKER_OVERHEAD;
        }
        TRACKER_OVERHEAD
            + self.header.as_ref().map_or(0, |h| h.bytes.len())
            + self.covered as usize
            + self.fragments as usize * FRAGMENT_OVERHEAD
    }

    pub fn end(&self) -> Option<u32> {
        self.end
    }

    /// One past the highest byte held.
    pub fn high_water(&self) -> u32 {
        self.pieces
            .last_key_value()
            .map_or(0, |(s, d)| s + d.len() as u32)
    }

    /// Releases everything and refuses the rest of the datagram.
    pub fn kill(&mut self) {
        self.dead = true;
        self.pieces = BTreeMap::new();
        self.covered = 0;
        self.header = None;
    }

    /// Records the length the last fragment gave.
    pub fn set_end(&mut self, end: u32) {
        self.end = Some(end);
    }

    /// Places `data` at byte `ns` of the fragmentable part, resolving
    /// overlaps with the held pieces under the tracker's policy.
    /// `header` comes with a fragment at offset 0 and is kept if this
    /// fragment ends up supplying byte 0.
    pub fn insert(&mut self, ns: u32, data: &[u8], header: Option<FirstHeader>) -> Inserted {
        let ne = ns + data.len() as u32;
        let mut out = Inserted::default();
        self.fragments = self.fragments.saturating_add(1);

        // Held pieces that share bytes with [ns, ne): the one starting
        // at or before ns (if it reaches past ns), then those inside.
        let mut hits: Vec<u32> = Vec::new();
        if let Some((&s, d)) = self.pieces.range(..=ns).next_back() {
            if s + d.len() as u32 > ns {
                hits.push(s);
            }
        }
        hits.extend(self.pieces.range(ns + 1..ne).map(|(&s, _)| s));

        // Decide each shared range; the newcomer keeps what it wins.
        let mut keep: Vec<(u32, u32)> = Vec::new();
        let mut cursor = ns;
        for os in hits {
            let Some(old) = self.pieces.remove(&os) else {
                continue;
            };
            let oe = os + old.len() as u32;
            let (a, b) = (os.max(ns), oe.min(ne));
            out.overlap = true;
            let held = &old[(a - os) as usize..(b - os) as usize];
            let new = &data[(a - ns) as usize..(b - ns) as usize];
            out.differing |= held != new;

            if self.policy.newcomer_wins(os, oe, ns, ne) {
                // The held piece gives up [a, b) and keeps either side.
                self.covered -= b - a;
                if os < a {
                    self.pieces.insert(os, old[..(a - os) as usize].to_vec());
                }
                if b < oe {
                    self.pieces.insert(b, old[(b - os) as usize..].to_vec());
                }
            } else {
                // The held copy stays; the newcomer skips [a, b).
                if cursor < a {
                    keep.push((cursor, a));
                }
                cursor = cursor.max(b);
                self.pieces.insert(os, old);
            }
        }
        if cursor < ne {
            keep.push((cursor, ne));
        }

        // Store what the newcomer won.
        for (s, e) in keep {
            if s == 0 {
                self.header = header.clone();
            }
            let bytes = data[(s - ns) as usize..(e - ns) as usize].to_vec();
            self.covered += e - s;
            self.pieces.insert(s, bytes);
        }
        out
    }

    /// Every byte of a known length is held.
    pub fn is_complete(&self) -> bool {
        self.end.is_some_and(|e| e == self.covered) && self.header.is_some()
    }

    /// Header and data of a complete datagram, or `None` if it is not.
    pub fn take(&mut self) -> Option<(FirstHeader, Vec<u8>)> {
        if !self.is_complete() {
            return None;
        }
        let header = self.header.take()?;
        let mut data = Vec::with_capacity(self.covered as usize);
        for (s, d) in std::mem::take(&mut self.pieces) {
            // Pieces are disjoint and cover [0, end): each starts where
            // the last ended. Checked anyway: a gap here is a bug, and
            // a wrong datagram would be worse than none.
            if s as usize != data.len() {
                return None;
            }
            data.extend_from_slice(&d);
        }
        self.covered = 0;
        Some((header, data))
    }
}
