//! IPv4 and IPv6 defragmentation: fragments in, whole datagrams out.
//!
//! [`Defragmenter::add`] takes one decoded fragment and the time, and
//! answers [`Outcome::Held`] until the datagram is complete, then
//! [`Outcome::Complete`] with the reassembled IP datagram, which the
//! caller decodes with `decode(&bytes, LinkType::Raw)` so the rest of
//! the engine sees one packet. A fragment that is invalid or over a cap
//! is [`Outcome::Refused`] with the reason; in IPS mode the caller drops
//! it. Anomalies are pushed as typed [`DefragEvent`]s. No I/O, no
//! clock: time comes in with each packet and with [`Defragmenter::expire`].
//! Whether held fragments are forwarded, dropped or replaced by the
//! reassembled datagram on the wire is the engine's decision, not made
//! here.
//!
//! # Datagram identity
//!
//! IPv4: source, destination, protocol and identification (RFC 791 §3.2,
//! "Identification"); IPv6: source, destination and the Fragment
//! header's identification (RFC 8200 §4.5). The VLAN id is part of the
//! key too, so two VLANs never mix fragments.
//!
//! # What comes out
//!
//! IPv4: the header of the fragment that supplied byte 0 (options
//! included), with the total length set, MF and offset cleared (DF and
//! the reserved bit kept) and the header checksum recomputed. IPv6: the
//! fixed header and the unfragmentable extension headers of that
//! fragment, the Fragment header removed, the Next Header field that
//! named it set to the Fragment header's Next Header, and the payload
//! length set (RFC 8200 §4.5, reassembly steps). An IPv6 "atomic
//! fragment" (offset 0, M clear) is not a fragment here (RFC 6946): it
//! is [`Outcome::NotFragment`] and passes as it is.
//!
//! # Overlaps
//!
//! Where fragments overlap, the copy a target keeps depends on its
//! stack; the policy is chosen per destination address from a CIDR
//! table (default `bsd`, as in Suricata). See [`policy`] for the
//! predicates and the `host-os-policy` name mapping:
//!
//! - bsd, hpux10, irix -> `bsd`
//! - bsd-right -> `bsd-right`
//! - linux, old-linux -> `linux`
//! - first, old-solaris, hpux11, macos -> `first`
//! - solaris -> `solaris`
//! - windows, vista, windows2k3 -> `windows`
//! - last -> `last`
//!
//! The engine's TCP `host-os-policy` table can drive defrag too:
//! [`Defragmenter::add_with_policy`] takes the policy from the caller,
//! and `From<stream::Policy>` applies the mapping above.
//!
//! Every overlap raises [`DefragEvent::Overlap`]; one where the copies
//! differ also raises [`DefragEvent::OverlapDifferentData`], the
//! evasion signal. With [`DefragConfig::drop_overlaps_v6`] an IPv6
//! datagram with any overlap is dropped whole, as RFC 5722 §4 requires
//! of hosts.
//!
//! # Caps and what happens when each is hit
//!
//! - `timeout_secs`, default 30 (Linux's `ipfrag_time`; Suricata's
//!   `defrag.timeout` defaults to 60): the datagram is dropped by
//!   [`Defragmenter::expire`], or when its next fragment arrives too
//!   late, with [`DefragEvent::Timeout`].
//! - `max_trackers`, default 65535 (Suricata's `defrag.trackers`):
//!   expired datagrams are reaped first; if the table is still full, a
//!   fragment that would open a *new* datagram is refused
//!   ([`Refusal::TooManyDatagrams`]). Datagrams in progress are never
//!   evicted, so a flood of first fragments cannot flush them.
//! - `memcap`, default 32 MiB (Suricata's `defrag.memcap`): reap
//!   expired datagrams, then refuse the fragment ([`Refusal::Memcap`]);
//!   what is already held stays.
//! - `max_frags_per_datagram`, default 2048: the whole datagram is
//!   dropped and its remaining fragments refused until it times out
//!   ([`Refusal::TooManyFragments`], event `defrag.max_frag_hits`).
//!   2048 covers a 65535-byte datagram cut for IPv4's 68-byte minimum
//!   MTU (RFC 791: 48 data bytes behind a plain header, 1365 fragments);
//!   longer trains of tiny fragments come from tools, not paths.
//!
//! Both shared caps raise [`DefragEvent::Ignored`] (Suricata's
//! `decoder.ipv4.frag_ignored`), count in [`DefragStats`] and log once
//! at info level on their first hit. Memory charged per datagram: the
//! data bytes held, the kept header, 128 bytes for the datagram and 64
//! per fragment (estimates of the bookkeeping), so even empty or
//! duplicate fragments cost something.
//!
//! The timer: Suricata restarts it with every fragment; RFC 8200 §4.5
//! (and the Linux and BSD stacks) run it from the first fragment. With
//! restarts, a sender that trickles a fragment every 50 s keeps a
//! datagram alive here after the target has discarded it, and can then
//! complete it differently on each side (bytes the target never saw
//! still fill our copy). [`DefragConfig::refresh_timeout`] = false (the
//! default) follows the targets instead.
//!
//! Shortcomings: RFC 1858's "offset 1 over TCP" rule is left to the
//! overlap policies; an IPv6 first fragment without its whole header
//! chain (RFC 7112) is flagged as tiny, not refused. Upstream of this
//! module, `decode` (through etherparse) keeps parsing extension headers
//! after a Fragment header even in non-first fragments, whose bytes
//! there are payload: such a fragment whose Fragment header names
//! Destination Options, Routing or AH (IPsec AH after fragmentation is
//! the common case) is misread or rejected as truncated and never gets
//! here. The fix belongs in `decode`: stop at a Fragment header with a
//! non-zero offset.

pub mod policy;
mod tracker;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use crate::decode::Packet;
use crate::time::Ts;

pub use policy::{Policy, PolicyError, PolicyTable};
use tracker::{FirstHeader, Tracker, FRAGMENT_OVERHEAD, TRACKER_OVERHEAD};

/// Largest IPv4 datagram (header included) and IPv6 payload (after the
/// fixed header): both length fields are 16 bits.
const MAX_DATAGRAM: usize = 65_535;
const IPV6_HEADER: usize = 40;
const FRAGMENT_HEADER: usize = 8;

/// Caps and policies. See the module docs for defaults and behaviour.
#[derive(Debug, Clone)]
pub struct DefragConfig {
    /// A datagram idle this long is dropped (Suricata `defrag.timeout`).
    pub timeout_secs: u64,
    /// Datagrams in progress (Suricata `defrag.trackers`).
    pub max_trackers: usize,
    /// Bytes held across all datagrams (Suricata `defrag.memcap`).
    pub memcap: usize,
    /// Fragments one datagram may take before it is dropped whole.
    pub max_frags_per_datagram: u32,
    /// Overlap policy by destination address.
    pub policies: PolicyTable,
    /// Drop IPv6 datagrams with overlapping fragments (RFC 5722).
    pub drop_overlaps_v6: bool,
    /// Each fragment restarts the datagram's timer, as in Suricata.
    /// When false (the default) the timer runs from the first fragment,
    /// as RFC 8200 §4.5 and the Linux and BSD stacks run it; see the
    /// module docs for why that matters.
    pub refresh_timeout: bool,
}

impl Default for DefragConfig {
    fn default() -> Self {
        // Linux drops an incomplete datagram 30 s after its first
        // fragment (net.ipv4.ipfrag_time), whatever comes later. Holding
        // one longer, or restarting the timer per fragment as Suricata
        // does, lets a junk fragment outlive the target's copy and be
        // reassembled here with the real ones (an evasion).
        DefragConfig {
            timeout_secs: 30,
            max_trackers: 65_535,
            memcap: 32 * 1024 * 1024,
            max_frags_per_datagram: 2048,
            policies: PolicyTable::new(Policy::Bsd),
            drop_overlaps_v6: false,
            refresh_timeout: false,
        }
    }
}

impl DefragConfig {
    /// Assigns a policy to destinations; see [`PolicyTable::set_policy`].
    ///
    /// # Errors
    ///
    /// An unknown policy name or a bad address, named in the error.
    pub fn set_policy(&mut self, list: &str, policy_name: &str) -> Result<(), PolicyError> {
        self.policies.set_policy(list, policy_name)
    }
}

/// What became of one packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Not a fragment: process it as it is.
    NotFragment,
    /// Kept; the datagram is not complete yet.
    Held,
    /// This fragment completed the datagram: the whole IP datagram.
    Complete(Vec<u8>),
    /// Not kept; the caller drops it in IPS mode.
    Refused(Refusal),
}

/// Why a fragment was not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Offset plus length past 65535 bytes (RFC 791 total length,
    /// RFC 8200 §4.5), or the reassembled datagram would be.
    TooLarge,
    /// IPv6: a fragment with M set whose length is not a multiple of 8
    /// (RFC 8200 §4.5).
    InvalidLength,
    /// No data: nothing to place (RFC 791 fragments carry data).
    Empty,
    /// The IPv6 Fragment header could not be located.
    Malformed,
    /// Two last fragments disagree on the length, or data lies past it.
    Inconsistent,
    /// IPv6 overlap under [`DefragConfig::drop_overlaps_v6`].
    Overlap,
    /// The datagram was dropped earlier (a cap, an inconsistency); its
    /// other fragments are refused until it times out.
    DatagramDropped,
    /// `max_frags_per_datagram` reached.
    TooManyFragments,
    /// `max_trackers` reached.
    TooManyDatagrams,
    /// `memcap` reached.
    Memcap,
}

impl Refusal {
    /// A limit was hit, rather than the input being wrong.
    pub fn is_limit(self) -> bool {
        matches!(
            self,
            Refusal::TooManyFragments | Refusal::TooManyDatagrams | Refusal::Memcap
        )
    }
}

/// Which shared cap a fragment ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    Memcap,
    Trackers,
}

/// A defragmentation anomaly, named after Suricata's event or counter
/// where one exists (see [`DefragEvent::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefragEvent {
    /// Two fragments carried the same bytes.
    Overlap { v6: bool },
    /// ... and the copies differed: what the target sees depends on its
    /// policy, the classic IDS evasion.
    OverlapDifferentData { v6: bool },
    /// A fragment, or the reassembled datagram, past 65535 bytes.
    PktTooLarge { v6: bool },
    /// IPv6 fragment with M set and a length not a multiple of 8.
    InvalidLength,
    /// A first fragment too short to hold its transport header (for
    /// IPv6, with the extension headers after the Fragment header before
    /// it, RFC 7112): filters that read ports or TCP flags from it can be
    /// fooled (RFC 1858 §3). `len` is the fragment's data length, `min`
    /// what the headers need (a lower bound when the IPv6 chain is cut).
    TinyFragment { v6: bool, len: usize, min: usize },
    /// Last fragments disagreeing on the length, or data past it.
    InconsistentLength { v6: bool },
    /// A datagram expired incomplete.
    Timeout {
        v6: bool,
        fragments: u32,
        bytes: usize,
    },
    /// `max_frags_per_datagram` hit: the datagram was dropped.
    MaxFragHits { v6: bool },
    /// A fragment was not kept because a shared cap was reached.
    Ignored { v6: bool, cap: Cap },
}

impl DefragEvent {
    /// Event name for EVE and rules. `decoder.*` names and the
    /// `defrag.ipv4.timeouts` / `defrag.max_frag_hits` names are
    /// Suricata's; `defrag.*.overlap_different_data`,
    /// `defrag.*.tiny_fragment` and `defrag.*.inconsistent_length` are
    /// portcullis's own.
    pub fn name(&self) -> &'static str {
        use DefragEvent as E;
        match *self {
            E::Overlap { v6: false } => "decoder.ipv4.frag_overlap",
            E::Overlap { v6: true } => "decoder.ipv6.frag_overlap",
            E::OverlapDifferentData { v6: false } => "defrag.ipv4.overlap_different_data",
            E::OverlapDifferentData { v6: true } => "defrag.ipv6.overlap_different_data",
            E::PktTooLarge { v6: false } => "decoder.ipv4.frag_pkt_too_large",
            E::PktTooLarge { v6: true } => "decoder.ipv6.frag_pkt_too_large",
            E::InvalidLength => "decoder.ipv6.frag_invalid_length",
            E::TinyFragment { v6: false, .. } => "defrag.ipv4.tiny_fragment",
            E::TinyFragment { v6: true, .. } => "defrag.ipv6.tiny_fragment",
            E::InconsistentLength { v6: false } => "defrag.ipv4.inconsistent_length",
            E::InconsistentLength { v6: true } => "defrag.ipv6.inconsistent_length",
            E::Timeout { v6: false, .. } => "defrag.ipv4.timeouts",
            E::Timeout { v6: true, .. } => "defrag.ipv6.timeouts",
            E::MaxFragHits { .. } => "defrag.max_frag_hits",
            E::Ignored { v6: false, .. } => "decoder.ipv4.frag_ignored",
            E::Ignored { v6: true, .. } => "decoder.ipv6.frag_ignored",
        }
    }
}

/// Counters, after Suricata's `defrag.*` stats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DefragStats {
    pub ipv4_fragments: u64,
    pub ipv6_fragments: u64,
    pub ipv4_reassembled: u64,
    pub ipv6_reassembled: u64,
    pub ipv4_timeouts: u64,
    pub ipv6_timeouts: u64,
    pub max_frag_hits: u64,
    pub memcap_hits: u64,
    pub tracker_hits: u64,
}

impl DefragStats {
    /// The counters under Suricata's stats names (`memcap_hits` and
    /// `tracker_hits` are portcullis's own).
    pub fn counters(&self) -> [(&'static str, u64); 9] {
        [
            ("defrag.ipv4.fragments", self.ipv4_fragments),
            ("defrag.ipv4.reassembled", self.ipv4_reassembled),
            ("defrag.ipv4.timeouts", self.ipv4_timeouts),
            ("defrag.ipv6.fragments", self.ipv6_fragments),
            ("defrag.ipv6.reassembled", self.ipv6_reassembled),
            ("defrag.ipv6.timeouts", self.ipv6_timeouts),
            ("defrag.max_frag_hits", self.max_frag_hits),
            ("defrag.memcap_hits", self.memcap_hits),
            ("defrag.tracker_hits", self.tracker_hits),
        ]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    /// IPv4 protocol; 0 for IPv6, whose key has none.
    proto: u8,
    vlan: Option<u16>,
}

/// One fragment, located in its packet.
struct Fragment<'a> {
    v6: bool,
    offset: u32,
    more: bool,
    data: &'a [u8],
    /// Bytes that count against [`MAX_DATAGRAM`] before the fragmentable
    /// part: the IPv4 header, or the IPv6 unfragmentable extension
    /// headers (the fixed header is outside the payload length).
    prefix_len: usize,
    /// Kept from an offset-0 fragment.
    header: Option<FirstHeader>,
    /// Where the transport header starts in `data` and its protocol, or
    /// (IPv6) `Err(bytes needed)` when the header chain is cut short.
    transport: Result<(usize, u8), usize>,
}

/// The defragmenter: datagrams in progress and their accounting.
#[derive(Debug)]
pub struct Defragmenter {
    cfg: DefragConfig,
    trackers: HashMap<Key, Tracker>,
    /// (last seen, serial) -> key, oldest first, for expiry.
    expiry: BTreeMap<(Ts, u64), Key>,
    next_serial: u64,
    used: usize,
    stats: DefragStats,
}

impl Defragmenter {
    pub fn new(cfg: DefragConfig) -> Defragmenter {
        Defragmenter {
            cfg,
            trackers: HashMap::new(),
            expiry: BTreeMap::new(),
            next_serial: 0,
            used: 0,
            stats: DefragStats::default(),
        }
    }

    pub fn config(&self) -> &DefragConfig {
        &self.cfg
    }

    pub fn stats(&self) -> &DefragStats {
        &self.stats
    }

    /// Bytes charged against the memcap.
    pub fn mem_used(&self) -> usize {
        self.used
    }

    /// Datagrams in progress (dropped ones waiting out their timeout
    /// included).
    pub fn in_progress(&self) -> usize {
        self.trackers.len()
    }

    /// Takes one packet. See the module docs for what comes back. A new
    /// datagram gets its policy from [`DefragConfig::policies`].
    pub fn add(&mut self, pkt: &Packet<'_>, now: Ts, events: &mut Vec<DefragEvent>) -> Outcome {
        self.add_with(pkt, now, None, events)
    }

    /// As [`Defragmenter::add`], with the policy for a new datagram
    /// chosen by the caller, e.g. from the engine's `host-os-policy`
    /// table: `host_os.lookup(pkt.ip.dst).into()`.
    pub fn add_with_policy(
        &mut self,
        pkt: &Packet<'_>,
        now: Ts,
        policy: Policy,
        events: &mut Vec<DefragEvent>,
    ) -> Outcome {
        self.add_with(pkt, now, Some(policy), events)
    }

    fn add_with(
        &mut self,
        pkt: &Packet<'_>,
        now: Ts,
        policy: Option<Policy>,
        events: &mut Vec<DefragEvent>,
    ) -> Outcome {
        if !pkt.ip.is_fragment() {
            return Outcome::NotFragment;
        }
        let v6 = pkt.ip.version == 6;
        if v6 {
            self.stats.ipv6_fragments += 1;
        } else {
            self.stats.ipv4_fragments += 1;
        }
        let frag = match locate(pkt) {
            Ok(f) => f,
            Err(r) => return Outcome::Refused(r),
        };
        if let Err(r) = check_fragment(&frag, events) {
            return Outcome::Refused(r);
        }
        let key = Key {
            src: pkt.ip.src,
            dst: pkt.ip.dst,
            id: pkt.ip.id,
            proto: if v6 { 0 } else { pkt.ip.proto },
            vlan: pkt.link.vlan,
        };
        let policy = policy.unwrap_or_else(|| self.cfg.policies.lookup(pkt.ip.dst));
        self.insert(key, frag, policy, now, events)
    }

    /// Drops every datagram idle for more than the timeout at `now` (or,
    /// without [`DefragConfig::refresh_timeout`], older than it) and
    /// returns how many went; each incomplete one raises
    /// [`DefragEvent::Timeout`].
    pub fn expire(&mut self, now: Ts, events: &mut Vec<DefragEvent>) -> usize {
        let mut n = 0;
        while let Some((&(seen, _), &key)) = self.expiry.first_key_value() {
            if !self.idle(seen, now) {
                break;
            }
            self.remove(&key, Some(&mut *events));
            n += 1;
        }
        n
    }

    fn idle(&self, last_seen: Ts, now: Ts) -> bool {
        now.0.saturating_sub(last_seen.0) > self.cfg.timeout_secs.saturating_mul(1_000_000)
    }

    /// Removes a datagram and its charge; a live one that expired
    /// raises a timeout event when `timeout` carries the sink.
    fn remove(&mut self, key: &Key, timeout: Option<&mut Vec<DefragEvent>>) {
        let Some(t) = self.detach(key) else {
            return;
        };
        if let (Some(events), false) = (timeout, t.dead) {
            if t.v6 {
                self.stats.ipv6_timeouts += 1;
            } else {
                self.stats.ipv4_timeouts += 1;
            }
            events.push(DefragEvent::Timeout {
                v6: t.v6,
                fragments: t.fragments,
                bytes: t.held(),
            });
        }
    }

    /// Takes a datagram out of the table and its charge off the books.
    fn detach(&mut self, key: &Key) -> Option<Tracker> {
        let t = self.trackers.remove(key)?;
        self.expiry.remove(&(t.last_seen, t.serial));
        self.used = self.used.saturating_sub(t.held());
        Some(t)
    }

    fn insert(
        &mut self,
        key: Key,
        frag: Fragment<'_>,
        policy: Policy,
        now: Ts,
        events: &mut Vec<DefragEvent>,
    ) -> Outcome {
        let v6 = frag.v6;
        if let Err(o) = self.admit(key, &frag, policy, now, events) {
            return o;
        }
        match self.place(key, frag, events) {
            Err(o) => o,
            Ok(false) => Outcome::Held,
            Ok(true) => self.finish(&key, v6, events),
        }
    }

    /// Makes room for the fragment and finds or opens its datagram, or
    /// says why not.
    fn admit(
        &mut self,
        key: Key,
        frag: &Fragment<'_>,
        policy: Policy,
        now: Ts,
        events: &mut Vec<DefragEvent>,
    ) -> Result<(), Outcome> {
        let v6 = frag.v6;

        // A datagram whose host would already have given up on it
        // (RFC 791 reassembly timer, RFC 8200 §4.5 60 s) starts afresh.
        let stale = self
            .trackers
            .get(&key)
            .is_some_and(|t| self.idle(t.last_seen, now));
        if stale {
            self.remove(&key, Some(&mut *events));
        }

        // The rest of a datagram dropped earlier goes the same way, before
        // it can count against any cap.
        if self.trackers.get(&key).is_some_and(|t| t.dead) {
            return Err(Outcome::Refused(Refusal::DatagramDropped));
        }

        // Room for this fragment, and for a new datagram if it opens one.
        let is_new = !self.trackers.contains_key(&key);
        let header_len = frag.header.as_ref().map_or(0, |h| h.bytes.len());
        let need = frag.data.len()
            + header_len
            + FRAGMENT_OVERHEAD
            + if is_new { TRACKER_OVERHEAD } else { 0 };
        if is_new && self.trackers.len() >= self.cfg.max_trackers {
            self.expire(now, events);
            if self.trackers.len() >= self.cfg.max_trackers {
                return Err(self.cap_hit(Cap::Trackers, v6, events));
            }
        }
        if self.used + need > self.cfg.memcap {
            self.expire(now, events);
            if self.used + need > self.cfg.memcap {
                return Err(self.cap_hit(Cap::Memcap, v6, events));
            }
        }

        // Open the datagram, or refresh its place in the expiry order.
        if is_new {
            let t = Tracker::new(v6, policy, now, self.next_serial);
            self.next_serial += 1;
            self.used += t.held();
            self.expiry.insert((now, t.serial), key);
            self.trackers.insert(key, t);
        } else if self.cfg.refresh_timeout {
            if let Some(t) = self.trackers.get_mut(&key) {
                self.expiry.remove(&(t.last_seen, t.serial));
                t.last_seen = t.last_seen.max(now);
                self.expiry.insert((t.last_seen, t.serial), key);
            }
        }
        Ok(())
    }

    /// Places the fragment's bytes in its datagram; `Ok(true)` once the
    /// datagram is complete.
    fn place(
        &mut self,
        key: Key,
        frag: Fragment<'_>,
        events: &mut Vec<DefragEvent>,
    ) -> Result<bool, Outcome> {
        let v6 = frag.v6;
        let Some(t) = self.trackers.get_mut(&key) else {
            return Err(Outcome::Refused(Refusal::Malformed));
        };

        // Fragments past the cap mean a crafted train: drop it whole.
        if t.fragments >= self.cfg.max_frags_per_datagram {
            self.stats.max_frag_hits += 1;
            if self.stats.max_frag_hits == 1 {
                tracing::info!(
                    cap = self.cfg.max_frags_per_datagram,
                    "defrag: max fragments per datagram reached"
                );
            }
            events.push(DefragEvent::MaxFragHits { v6 });
            return Err(self.kill(&key, Refusal::TooManyFragments));
        }

        // The last fragment fixes the length; no fragment may contradict
        // it. Hosts disagree on which length to believe, so no single
        // reassembly is safe to inspect: drop the datagram.
        let frag_end = frag.offset + frag.data.len() as u32;
        let consistent = match (t.end(), frag.more) {
            (Some(end), false) => end == frag_end,
            (Some(end), true) => frag_end <= end,
            (None, false) => t.high_water() <= frag_end,
            (None, true) => true,
        };
        if !consistent {
            events.push(DefragEvent::InconsistentLength { v6 });
            return Err(self.kill(&key, Refusal::Inconsistent));
        }
        if !frag.more {
            t.set_end(frag_end);
        }

        // Place the bytes under the destination's policy.
        let before = t.held();
        let ins = t.insert(frag.offset, frag.data, frag.header);
        let after = t.held();
        self.used = (self.used + after).saturating_sub(before);
        if ins.overlap {
            events.push(DefragEvent::Overlap { v6 });
        }
        if ins.differing {
            events.push(DefragEvent::OverlapDifferentData { v6 });
        }
        // RFC 5722 §4: an IPv6 datagram with overlapping fragments is
        // discarded whole, and so are its fragments still to come.
        if ins.overlap && v6 && self.cfg.drop_overlaps_v6 {
            return Err(self.kill(&key, Refusal::Overlap));
        }

        Ok(t.is_complete())
    }

    /// Takes a complete datagram out and builds it.
    fn finish(&mut self, key: &Key, v6: bool, events: &mut Vec<DefragEvent>) -> Outcome {
        let built = self
            .detach(key)
            .and_then(|mut t| t.take())
            .and_then(|(h, data)| build(v6, h, &data));
        match built {
            Some(bytes) => {
                if v6 {
                    self.stats.ipv6_reassembled += 1;
                } else {
                    self.stats.ipv4_reassembled += 1;
                }
                tracing::trace!(len = bytes.len(), "defrag: datagram reassembled");
                Outcome::Complete(bytes)
            }
            // The kept header plus the data exceed 65535 bytes.
            None => {
                events.push(DefragEvent::PktTooLarge { v6 });
                Outcome::Refused(Refusal::TooLarge)
            }
        }
    }

    /// Drops a datagram's data but keeps its key, so the rest of its
    /// fragments are refused too until it times out.
    fn kill(&mut self, key: &Key, why: Refusal) -> Outcome {
        if let Some(t) = self.trackers.get_mut(key) {
            let before = t.held();
            t.kill();
            self.used = (self.used + t.held()).saturating_sub(before);
        }
        Outcome::Refused(why)
    }

    fn cap_hit(&mut self, cap: Cap, v6: bool, events: &mut Vec<DefragEvent>) -> Outcome {
        let (hits, refusal) = match cap {
            Cap::Memcap => (&mut self.stats.memcap_hits, Refusal::Memcap),
            Cap::Trackers => (&mut self.stats.tracker_hits, Refusal::TooManyDatagrams),
        };
        *hits += 1;
        if *hits == 1 {
            tracing::info!(
                ?cap,
                used = self.used,
                memcap = self.cfg.memcap,
                datagrams = self.trackers.len(),
                max_trackers = self.cfg.max_trackers,
                "defrag: cap reached, refusing fragments"
            );
        } else {
            tracing::debug!(?cap, used = self.used, "defrag: fragment refused");
        }
        events.push(DefragEvent::Ignored { v6, cap });
        Outcome::Refused(refusal)
    }
}

/// Finds the fragment's data and, at offset 0, the header to keep.
fn locate<'a>(pkt: &Packet<'a>) -> Result<Fragment<'a>, Refusal> {
    let ip = &pkt.ip;
    let offset = u32::from(ip.frag_offset);
    let at_zero = ip.frag_offset == 0;
    if ip.version == 4 {
        let data = ip
            .datagram
            .get(ip.header.len()..)
            .ok_or(Refusal::Malformed)?;
        return Ok(Fragment {
            v6: false,
            offset,
            more: ip.more_fragments,
            data,
            prefix_len: ip.header.len(),
            header: at_zero.then(|| FirstHeader {
                bytes: ip.header.to_vec(),
                next_header: None,
            }),
            transport: Ok((0, ip.proto)),
        });
    }

    let (nh_at, fh) = v6_fragment_header(ip.datagram).ok_or(Refusal::Malformed)?;
    let data = ip
        .datagram
        .get(fh + FRAGMENT_HEADER..)
        .ok_or(Refusal::Malformed)?;
    let next = *ip.datagram.get(fh).ok_or(Refusal::Malformed)?;
    let header = match (at_zero, ip.datagram.get(..fh)) {
        (true, Some(unfragmentable)) => Some(FirstHeader {
            bytes: unfragmentable.to_vec(),
            next_header: Some((nh_at, next)),
        }),
        (true, None) => return Err(Refusal::Malformed),
        (false, _) => None,
    };
    Ok(Fragment {
        v6: true,
        offset,
        more: ip.more_fragments,
        data,
        prefix_len: fh.saturating_sub(IPV6_HEADER),
        header,
        transport: if at_zero {
            v6_upper_layer(next, data)
        } else {
            Ok((0, next))
        },
    })
}

/// In a first fragment, walks the extension headers that follow the
/// Fragment header (they belong to the fragmentable part, RFC 8200
/// §4.5) to the upper-layer header: its offset in `data` and protocol,
/// or the bytes needed if the chain runs past the fragment.
fn v6_upper_layer(mut next: u8, data: &[u8]) -> Result<(usize, u8), usize> {
    let mut at = 0;
    for _ in 0..16 {
        let len = match next {
            0 | 43 | 60 | 135 | 139 | 140 => {
                (usize::from(*data.get(at + 1).ok_or(at + 2)?) + 1) * 8
            }
            // Authentication Header: length in 4-octet units, minus 2.
            51 => (usize::from(*data.get(at + 1).ok_or(at + 2)?) + 2) * 4,
            _ => return Ok((at, next)),
        };
        if at + len > data.len() {
            return Err(at + len);
        }
        next = *data.get(at).ok_or(at + 1)?;
        at += len;
    }
    // A chain this long is not a real packet's; treat what follows as
    // opaque upper-layer data.
    Ok((at, next))
}

/// Walks the IPv6 header chain to the Fragment header. Returns the index
/// of the Next Header field that names it and the index of the header.
/// Only the headers RFC 8200 §4.1 and §4.5 allow before it (Hop-by-Hop,
/// Destination Options, Routing) are walked; anything else ends the walk.
fn v6_fragment_header(d: &[u8]) -> Option<(usize, usize)> {
    const HOP_BY_HOP: u8 = 0;
    const ROUTING: u8 = 43;
    const FRAGMENT: u8 = 44;
    const DEST_OPTS: u8 = 60;
    let mut nh_at = 6;
    let mut at = IPV6_HEADER;
    // Each step moves at least 8 bytes, so this ends; the bound is
    // belt and braces against a malformed chain.
    for _ in 0..16 {
        match *d.get(nh_at)? {
            FRAGMENT if d.len() >= at + FRAGMENT_HEADER => return Some((nh_at, at)),
            HOP_BY_HOP | ROUTING | DEST_OPTS => {
                let len = (usize::from(*d.get(at + 1)?) + 1) * 8;
                nh_at = at;
                at += len;
            }
            _ => return None,
        }
    }
    None
}

/// Per-fragment checks that need no datagram state.
fn check_fragment(f: &Fragment<'_>, events: &mut Vec<DefragEvent>) -> Result<(), Refusal> {
    let v6 = f.v6;

    // RFC 791 §3.1 and RFC 8200 §4.5: lengths are 16-bit, so a fragment
    // reaching past 65535 bytes of datagram is discarded.
    if f.prefix_len + f.offset as usize + f.data.len() > MAX_DATAGRAM {
        events.push(DefragEvent::PktTooLarge { v6 });
        return Err(Refusal::TooLarge);
    }
    // RFC 8200 §4.5: a fragment with M set whose length is not a
    // multiple of 8 octets must be discarded.
    if v6 && f.more && f.data.len() % 8 != 0 {
        events.push(DefragEvent::InvalidLength);
        return Err(Refusal::InvalidLength);
    }
    // Nothing to place; a zero-length fragment only serves to confuse
    // reassemblers about the datagram's end.
    if f.data.is_empty() {
        return Err(Refusal::Empty);
    }
    // RFC 1858 §3: a first fragment too short for the transport header
    // lets ports or TCP flags sit in a later fragment; RFC 7112 asks the
    // same of the IPv6 header chain. Kept (reassembly mends it, and
    // detection sees the whole header) but flagged.
    if f.offset == 0 && f.more {
        let min = match f.transport {
            Ok((at, 6)) => at + 20,
            Ok((at, 17 | 1 | 58)) => at + 8,
            Ok((at, 132)) => at + 12,
            Ok(_) => 0,
            Err(need) => need,
        };
        if f.data.len() < min {
            events.push(DefragEvent::TinyFragment {
                v6,
                len: f.data.len(),
                min,
            });
        }
    }
    Ok(())
}

/// The reassembled datagram, or `None` if it would pass 65535 bytes.
fn build(v6: bool, h: FirstHeader, data: &[u8]) -> Option<Vec<u8>> {
    let mut out = h.bytes;
    if v6 {
        if out.len() < IPV6_HEADER {
            return None;
        }
        if let Some((at, next)) = h.next_header {
            *out.get_mut(at)? = next;
        }
        let plen = u16::try_from(out.len() - IPV6_HEADER + data.len()).ok()?;
        out[4..6].copy_from_slice(&plen.to_be_bytes());
    } else {
        if out.len() < 20 {
            return None;
        }
        let total = u16::try_from(out.len() + data.len()).ok()?;
        out[2..4].copy_from_slice(&total.to_be_bytes());
        // Keep reserved and DF; clear MF and the offset.
        out[6] &= 0xc0;
        out[7] = 0;
        out[10] = 0;
        out[11] = 0;
        let sum = ipv4_header_checksum(&out);
        out[10..12].copy_from_slice(&sum.to_be_bytes());
    }
    out.extend_from_slice(data);
    Some(out)
}

/// RFC 1071 one's-complement sum over the header (checksum field zero).
fn ipv4_header_checksum(h: &[u8]) -> u16 {
    let mut acc: u32 = h
        .chunks(2)
        .map(|c| u32::from(c[0]) << 8 | u32::from(*c.get(1).unwrap_or(&0)))
        .sum();
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

#[cfg(test)]
mod tests;
