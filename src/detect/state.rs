//! Detection state that outlives a packet: flowbits and flowints per
//! flow ([`FlowVars`]), and xbits per host or address pair
//! ([`Xbits`], part of the engine-wide [`Globals`]).
//!
//! Variable names are interned when the detector builds ([`Names`]),
//! so state holds small ids. State is tagged with the detector's
//! generation and starts afresh after a reload, when ids change.

use std::collections::HashMap;
use std::net::IpAddr;

use super::threshold::Thresholds;
use crate::rules::flowvars::{BitOp, CmpOp, IntOp, Track};
use crate::time::Ts;

/// Name -> id for one kind of variable.
#[derive(Debug, Default)]
pub struct Names(HashMap<String, u16>);

impl Names {
    /// The id of `name`, allocated on first use. None past u16::MAX
    /// names, which no real rule set comes near.
    pub fn id(&mut self, name: &str) -> Option<u16> {
        if let Some(&id) = self.0.get(name) {
            return Some(id);
        }
        let id = u16::try_from(self.0.len()).ok()?;
        self.0.insert(name.to_string(), id);
        Some(id)
    }
}

/// A flowint operand: a number or another flowint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntRef {
    Num(u32),
    Var(u16),
}

/// A state keyword with its names resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VarOp {
    Bits {
        op: BitOp,
        ids: Vec<u16>,
        any: bool,
    },
    Int {
        op: IntOp,
        id: u16,
        value: Option<IntRef>,
    },
    Xbit {
        op: BitOp,
        id: u16,
        track: Track,
        expire: u32,
    },
}

/// Flowbits and flowints of one flow (both directions share them).
#[derive(Debug, Clone, Default)]
pub struct FlowVars {
    generation: u64,
    bits: Vec<u64>,
    ints: Vec<(u16, u32)>,
    /// (transaction, rule) pairs that fired, so a transaction rule
    /// alerts once per transaction; pruned as transactions leave.
    fired: Vec<(u64, u32)>,
}

impl FlowVars {
    /// Starts afresh when the state belongs to another detector.
    pub(crate) fn adopt(&mut self, generation: u64) {
        if self.generation != generation {
            *self = FlowVars {
                generation,
                ..FlowVars::default()
            };
        }
    }

    pub(crate) fn tx_fired(&self, tx: u64, rule: u32) -> bool {
        self.fired.contains(&(tx, rule))
    }

    pub(crate) fn set_tx_fired(&mut self, tx: u64, rule: u32) {
        self.fired.push((tx, rule));
    }

    /// Forgets transactions before `tx` (they left the parser).
    pub fn forget_txs_before(&mut self, tx: u64) {
        self.fired.retain(|&(t, _)| t >= tx);
    }

    pub fn bit(&self, id: u16) -> bool {
        let (w, b) = (usize::from(id) / 64, id % 64);
        self.bits.get(w).is_some_and(|word| word & (1 << b) != 0)
    }

    fn set_bit(&mut self, id: u16, on: bool) {
        let (w, b) = (usize::from(id) / 64, id % 64);
        if self.bits.len() <= w {
            if !on {
                return;
            }
            self.bits.resize(w + 1, 0);
        }
        if on {
            self.bits[w] |= 1 << b;
        } else {
            self.bits[w] &= !(1 << b);
        }
    }

    pub fn int(&self, id: u16) -> Option<u32> {
        self.ints.iter().find(|(i, _)| *i == id).map(|&(_, v)| v)
    }

    fn set_int(&mut self, id: u16, v: u32) {
        match self.ints.iter_mut().find(|(i, _)| *i == id) {
            Some(slot) => slot.1 = v,
            None => self.ints.push((id, v)),
        }
    }

    /// The right-hand side; a flowint that is not set reads as 0, as in
    /// Suricata (use `isset` to tell the difference).
    fn operand(&self, r: Option<IntRef>) -> Option<u32> {
        match r? {
            IntRef::Num(n) => Some(n),
            IntRef::Var(v) => Some(self.int(v).unwrap_or(0)),
        }
    }
}

/// The addresses an xbit is keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum XKey {
    Host(IpAddr),
    /// Lower address first: a pair is the same both ways.
    Pair(IpAddr, IpAddr),
}

/// Most xbits held at once. When full, expired bits go first; if none
/// has expired, the bit closest to expiry makes room.
pub const XBITS_CAP: usize = 65_536;

/// Host and address-pair bits with expiry.
#[derive(Debug, Default)]
pub struct Xbits {
    until: HashMap<(XKey, u16), Ts>,
    /// Bits dropped early because the table was full.
    pub evicted: u64,
}

impl Xbits {
    fn key(track: Track, src: IpAddr, dst: IpAddr) -> XKey {
        match track {
            Track::IpSrc => XKey::Host(src),
            Track::IpDst => XKey::Host(dst),
            Track::IpPair => XKey::Pair(src.min(dst), src.max(dst)),
        }
    }

    pub fn isset(&self, id: u16, track: Track, src: IpAddr, dst: IpAddr, now: Ts) -> bool {
        let key = (Xbits::key(track, src, dst), id);
        self.until.get(&key).is_some_and(|&t| t > now)
    }

    #[allow(clippy::too_many_arguments)] // the packet's addresses and time, spelled out
    fn apply(
        &mut self,
        op: BitOp,
        id: u16,
        track: Track,
        expire: u32,
        src: IpAddr,
        dst: IpAddr,
        now: Ts,
    ) {
        let key = (Xbits::key(track, src, dst), id);
        let on = match op {
            BitOp::Set => true,
            BitOp::Unset => false,
            BitOp::Toggle => !self.until.get(&key).is_some_and(|&t| t > now),
            BitOp::IsSet | BitOp::IsNotSet => return,
        };
        if !on {
            self.until.remove(&key);
            return;
        }
        if !self.until.contains_key(&key) && self.until.len() >= XBITS_CAP {
            self.make_room(now);
        }
        self.until
            .insert(key, Ts(now.0 + u64::from(expire) * 1_000_000));
    }

    fn make_room(&mut self, now: Ts) {
        self.until.retain(|_, t| *t > now);
        if self.until.len() < XBITS_CAP {
            return;
        }
        let first = self.until.iter().min_by_key(|(_, t)| **t).map(|(k, _)| *k);
        if let Some(k) = first {
            self.until.remove(&k);
            self.evicted += 1;
            if self.evicted == 1 {
                tracing::info!(
                    cap = XBITS_CAP,
                    "xbits table full: evicting bits nearest expiry"
                );
            }
        }
    }

    pub fn len(&self) -> usize {
        self.until.len()
    }

    pub fn is_empty(&self) -> bool {
        self.until.is_empty()
    }
}

/// Engine-wide detection state: xbits and threshold counters. One per
/// engine (worker); the caller owns it, as it owns the [`super::Scratch`].
#[derive(Debug, Default)]
pub struct Globals {
    pub xbits: Xbits,
    pub thresholds: Thresholds,
}

/// The packet facts state keywords read.
#[derive(Debug, Clone, Copy)]
pub struct Ctx {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub now: Ts,
}

/// Whether a condition keyword holds.
pub fn holds(op: &VarOp, vars: &FlowVars, g: &Globals, c: Ctx) -> bool {
    match op {
        VarOp::Bits { op, ids, any } => {
            let want = *op == BitOp::IsSet;
            let fits = |id: &u16| vars.bit(*id) == want;
            if *any {
                ids.iter().any(fits)
            } else {
                ids.iter().all(fits)
            }
        }
        VarOp::Int { op, id, value } => match op {
            IntOp::IsSet => vars.int(*id).is_some(),
            IntOp::NotSet => vars.int(*id).is_none(),
            IntOp::Cmp(cmp) => match (vars.int(*id), vars.operand(*value)) {
                (Some(v), Some(n)) => cmp_op(*cmp, v, n),
                _ => false,
            },
            IntOp::Set | IntOp::Add | IntOp::Sub => true,
        },
        VarOp::Xbit { op, id, track, .. } => {
            let set = g.xbits.isset(*id, *track, c.src, c.dst, c.now);
            set == (*op == BitOp::IsSet)
        }
    }
}

fn cmp_op(op: CmpOp, v: u32, n: u32) -> bool {
    op.with(n).matches(v)
}

/// Applies an action keyword after its rule matched.
pub fn apply(op: &VarOp, vars: &mut FlowVars, g: &mut Globals, c: Ctx) {
    match op {
        VarOp::Bits { op, ids, .. } => {
            for &id in ids {
                let on = match op {
                    BitOp::Set => true,
                    BitOp::Unset => false,
                    BitOp::Toggle => !vars.bit(id),
                    BitOp::IsSet | BitOp::IsNotSet => continue,
                };
                vars.set_bit(id, on);
            }
        }
        VarOp::Int { op, id, value } => {
            let Some(n) = vars.operand(*value) else {
                return;
            };
            // Adding to a flowint that is not set starts it at the
            // value; subtracting from one leaves it unset (Suricata).
            let v = match (op, vars.int(*id)) {
                (IntOp::Set, _) => n,
                (IntOp::Add, cur) => cur.unwrap_or(0).wrapping_add(n),
                (IntOp::Sub, Some(cur)) => cur.wrapping_sub(n),
                _ => return,
            };
            vars.set_int(*id, v);
        }
        VarOp::Xbit {
            op,
            id,
            track,
            expire,
        } => g
            .xbits
            .apply(*op, *id, *track, *expire, c.src, c.dst, c.now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(src: [u8; 4], dst: [u8; 4], secs: u64) -> Ctx {
        Ctx {
            src: IpAddr::from(src),
            dst: IpAddr::from(dst),
            now: Ts::from_secs(secs),
        }
    }

    #[test]
    fn flowbits_and_or_groups() {
        let (mut v, mut g) = (FlowVars::default(), Globals::default());
        let c = ctx([1, 1, 1, 1], [2, 2, 2, 2], 0);
        let set = VarOp::Bits {
            op: BitOp::Set,
            ids: vec![1, 70],
            any: false,
        };
        apply(&set, &mut v, &mut g, c);
        assert!(v.bit(1) && v.bit(70) && !v.bit(2));
        let all = |ids: Vec<u16>, any| VarOp::Bits {
            op: BitOp::IsSet,
            ids,
            any,
        };
        assert!(holds(&all(vec![1, 70], false), &v, &g, c));
        assert!(!holds(&all(vec![1, 2], false), &v, &g, c));
        assert!(holds(&all(vec![2, 70], true), &v, &g, c));
        let not = VarOp::Bits {
            op: BitOp::IsNotSet,
            ids: vec![2, 3],
            any: false,
        };
        assert!(holds(&not, &v, &g, c));
        let toggle = VarOp::Bits {
            op: BitOp::Toggle,
            ids: vec![1, 2],
            any: false,
        };
        apply(&toggle, &mut v, &mut g, c);
        assert!(!v.bit(1) && v.bit(2));
    }

    #[test]
    fn flowints() {
        let (mut v, mut g) = (FlowVars::default(), Globals::default());
        let c = ctx([1, 1, 1, 1], [2, 2, 2, 2], 0);
        let int = |op, value| VarOp::Int { op, id: 0, value };
        assert!(holds(&int(IntOp::NotSet, None), &v, &g, c));
        assert!(!holds(
            &int(IntOp::Cmp(CmpOp::Lt), Some(IntRef::Num(5))),
            &v,
            &g,
            c
        ));
        apply(&int(IntOp::Add, Some(IntRef::Num(2))), &mut v, &mut g, c);
        apply(&int(IntOp::Add, Some(IntRef::Num(2))), &mut v, &mut g, c);
        assert_eq!(v.int(0), Some(4));
        apply(&int(IntOp::Sub, Some(IntRef::Num(1))), &mut v, &mut g, c);
        assert!(holds(
            &int(IntOp::Cmp(CmpOp::Eq), Some(IntRef::Num(3))),
            &v,
            &g,
            c
        ));
        // Against another variable: an unset one reads as 0.
        let other = int(IntOp::Cmp(CmpOp::Gt), Some(IntRef::Var(1)));
        assert!(holds(&other, &v, &g, c));
        v.set_int(1, 3);
        assert!(!holds(&other, &v, &g, c));
        // Subtracting from an unset flowint leaves it unset.
        let sub = VarOp::Int {
            op: IntOp::Sub,
            id: 2,
            value: Some(IntRef::Num(1)),
        };
        apply(&sub, &mut v, &mut g, c);
        assert_eq!(v.int(2), None);
    }

    #[test]
    fn xbits_track_and_expire() {
        let (mut v, mut g) = (FlowVars::default(), Globals::default());
        let set = VarOp::Xbit {
            op: BitOp::Set,
            id: 0,
            track: Track::IpPair,
            expire: 10,
        };
        let isset = |track| VarOp::Xbit {
            op: BitOp::IsSet,
            id: 0,
            track,
            expire: 0,
        };
        apply(&set, &mut v, &mut g, ctx([1, 1, 1, 1], [2, 2, 2, 2], 100));
        // The pair is the same both ways; hosts are not set.
        assert!(holds(
            &isset(Track::IpPair),
            &v,
            &g,
            ctx([2, 2, 2, 2], [1, 1, 1, 1], 105)
        ));
        assert!(!holds(
            &isset(Track::IpSrc),
            &v,
            &g,
            ctx([1, 1, 1, 1], [2, 2, 2, 2], 105)
        ));
        // Expired after 10 seconds.
        assert!(!holds(
            &isset(Track::IpPair),
            &v,
            &g,
            ctx([1, 1, 1, 1], [2, 2, 2, 2], 110)
        ));
    }

    #[test]
    fn xbits_table_is_capped() {
        let mut x = Xbits::default();
        let dst = IpAddr::from([9, 9, 9, 9]);
        for i in 0..(XBITS_CAP as u32 + 10) {
            let src = IpAddr::from(i.to_be_bytes());
            x.apply(BitOp::Set, 0, Track::IpSrc, 30, src, dst, Ts::from_secs(1));
        }
        assert_eq!(x.len(), XBITS_CAP);
        assert_eq!(x.evicted, 10);
    }
}
