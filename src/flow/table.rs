//! The flow table: a hash index over a slab of flows, with a hard cap.
//!
//! Flows sit on one of two least-recently-used lists: `active` for
//! flows under inspection or pass, `held` for flows under a drop
//! verdict. When the table is full a new flow evicts the tail of
//! `active` (the longest-idle flow). Held flows are never evicted: a
//! dropped flow forgotten early would let the attacker's next packet in
//! as a fresh flow. If every slot is held, [`Lookup::Full`] tells the
//! caller to apply its policy for flows it cannot track.

use std::collections::HashMap;

use super::{tcp::TcpState, Flow, FlowAction, FlowKey};
use crate::decode::Packet;
use crate::time::Ts;

const NIL: u32 = u32::MAX;

/// Idle timeouts in seconds, Suricata's defaults.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub new: u64,
    pub established: u64,
    pub closed: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            new: 30,
            established: 300,
            closed: 10,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum List {
    Active = 0,
    Held = 1,
}

struct Slot {
    flow: Option<Flow>,
    prev: u32,
    next: u32,
    list: List,
}

/// Where a packet's flow is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Existing(u32),
    /// Created for this packet; `evicted` tells whether a flow had to go.
    New {
        slot: u32,
        evicted: bool,
    },
    /// At capacity with nothing evictable.
    Full,
}

pub struct FlowTable {
    index: HashMap<FlowKey, u32>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Head (most recent) and tail (least recent) of each list.
    heads: [u32; 2],
    tails: [u32; 2],
    cap: usize,
    pub timeouts: Timeouts,
    pub evicted: u64,
}

impl FlowTable {
    pub fn new(cap: usize, timeouts: Timeouts) -> FlowTable {
        FlowTable {
            index: HashMap::with_capacity(cap.min(1 << 16)),
            slots: Vec::new(),
            free: Vec::new(),
            heads: [NIL; 2],
            tails: [NIL; 2],
            cap: cap.max(1),
            timeouts,
            evicted: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn get_mut(&mut self, slot: u32) -> Option<&mut Flow> {
        self.slots.get_mut(slot as usize)?.flow.as_mut()
    }

    /// Finds or creates the flow of `pkt`. On eviction the evicted flow
    /// is handed to `gone` before its slot is reused.
    pub fn lookup(
        &mut self,
        key: FlowKey,
        pkt: &Packet<'_>,
        now: Ts,
        gone: &mut impl FnMut(Flow),
    ) -> Lookup {
        if let Some(&slot) = self.index.get(&key) {
            self.touch(slot, now);
            return Lookup::Existing(slot);
        }
        let mut evicted = false;
        if self.index.len() >= self.cap {
            let victim = self.tails[List::Active as usize];
            if victim == NIL {
                return Lookup::Full;
            }
            if let Some(f) = self.remove(victim) {
                gone(f);
            }
            self.evicted += 1;
            evicted = true;
        }
        let slot = self.alloc(Flow::new(key, pkt, now));
        self.index.insert(key, slot);
        Lookup::New { slot, evicted }
    }

    /// Moves a flow to the held list once it is under a drop verdict.
    pub fn hold(&mut self, slot: u32) {
        let held = matches!(
            self.slots.get(slot as usize).and_then(|s| s.flow.as_ref()),
            Some(f) if f.action == FlowAction::Drop
        );
        if held && self.slots[slot as usize].list != List::Held {
            self.unlink(slot);
            self.push_front(slot, List::Held);
        }
    }

    /// Removes flows idle past their timeout, oldest first, handing each
    /// to `gone`. Returns how many went.
    pub fn expire(&mut self, now: Ts, gone: &mut impl FnMut(Flow)) -> usize {
        let mut n = 0;
        for list in [List::Active, List::Held] {
            let mut slot = self.tails[list as usize];
            while slot != NIL {
                let prev = self.slots[slot as usize].prev;
                let Some(f) = self.slots[slot as usize].flow.as_ref() else {
                    break;
                };
                let idle = now.secs_since(f.last);
                // The list is in last-seen order: once a flow is younger
                // than the shortest timeout, so is everything before it.
                if idle < self.timeouts.closed.min(self.timeouts.new) {
                    break;
                }
                if idle >= self.timeout_of(f) {
                    if let Some(f) = self.remove(slot) {
                        gone(f);
                        n += 1;
                    }
                }
                slot = prev;
            }
        }
        n
    }

    /// Visits every flow under inspection or pass (not the held ones).
    pub fn for_each_active(&mut self, mut f: impl FnMut(&mut Flow)) {
        let mut slot = self.heads[List::Active as usize];
        while slot != NIL {
            let s = &mut self.slots[slot as usize];
            let next = s.next;
            if let Some(flow) = s.flow.as_mut() {
                f(flow);
            }
            slot = next;
        }
    }

    /// Removes every flow (end of a replay), oldest first.
    pub fn drain(&mut self, gone: &mut impl FnMut(Flow)) {
        let mut all: Vec<u32> = self.index.values().copied().collect();
        all.sort_by_key(|&s| {
            self.slots[s as usize]
                .flow
                .as_ref()
                .map(|f| (f.start, f.id))
        });
        for slot in all {
            if let Some(f) = self.remove(slot) {
                gone(f);
            }
        }
    }

    fn timeout_of(&self, f: &Flow) -> u64 {
        match f.tcp.state {
            TcpState::Closed => self.timeouts.closed,
            _ if f.established() => self.timeouts.established,
            _ => self.timeouts.new,
        }
    }

    fn touch(&mut self, slot: u32, now: Ts) {
        let list = self.slots[slot as usize].list;
        if let Some(f) = self.slots[slot as usize].flow.as_mut() {
            f.last = f.last.max(now);
        }
        if self.heads[list as usize] != slot {
            self.unlink(slot);
            self.push_front(slot, list);
        }
    }

    fn alloc(&mut self, flow: Flow) -> u32 {
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize].flow = Some(flow);
                s
            }
            None => {
                self.slots.push(Slot {
                    flow: Some(flow),
                    prev: NIL,
                    next: NIL,
                    list: List::Active,
                });
                (self.slots.len() - 1) as u32
            }
        };
        self.push_front(slot, List::Active);
        slot
    }

    fn remove(&mut self, slot: u32) -> Option<Flow> {
        self.unlink(slot);
        let flow = self.slots.get_mut(slot as usize)?.flow.take()?;
        self.index.remove(&flow.key);
        self.free.push(slot);
        Some(flow)
    }

    fn push_front(&mut self, slot: u32, list: List) {
        let l = list as usize;
        let old = self.heads[l];
        {
            let s = &mut self.slots[slot as usize];
            s.prev = NIL;
            s.next = old;
            s.list = list;
        }
        if old != NIL {
            self.slots[old as usize].prev = slot;
        } else {
            self.tails[l] = slot;
        }
        self.heads[l] = slot;
    }

    fn unlink(&mut self, slot: u32) {
        let (prev, next, l) = {
            let s = &self.slots[slot as usize];
            (s.prev, s.next, s.list as usize)
        };
        if prev != NIL {
            self.slots[prev as usize].next = next;
        } else if self.heads[l] == slot {
            self.heads[l] = next;
        }
        if next != NIL {
            self.slots[next as usize].prev = prev;
        } else if self.tails[l] == slot {
            self.tails[l] = prev;
        }
        let s = &mut self.slots[slot as usize];
        s.prev = NIL;
        s.next = NIL;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode, LinkType};

    /// IPv4 + UDP from 198.18.0.2:`sport` to 198.18.1.2:53, no payload.
    fn udp(sport: u16) -> Vec<u8> {
        let mut p = vec![
            0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 198, 18, 0, 2, 198, 18, 1, 2,
        ];
        p.extend_from_slice(&sport.to_be_bytes());
        p.extend_from_slice(&[0, 53, 0, 8, 0, 0]);
        p
    }

    fn add(t: &mut FlowTable, sport: u16, now: u64, gone: &mut Vec<u16>) -> Lookup {
        let raw = udp(sport);
        let pkt = decode(&raw, LinkType::Raw).expect("udp");
        let (key, _) = FlowKey::of(&pkt);
        t.lookup(key, &pkt, Ts::from_secs(now), &mut |f: Flow| {
            gone.push(f.client.port)
        })
    }

    #[test]
    fn both_directions_are_one_flow() {
        let a = udp(1000);
        let pa = decode(&a, LinkType::Raw).expect("udp");
        // Swap addresses and ports for the reply.
        let mut b = a.clone();
        b[12..16].copy_from_slice(&a[16..20]);
        b[16..20].copy_from_slice(&a[12..16]);
        b[20..22].copy_from_slice(&a[22..24]);
        b[22..24].copy_from_slice(&a[20..22]);
        let pb = decode(&b, LinkType::Raw).expect("udp");
        let (ka, fa) = FlowKey::of(&pa);
        let (kb, fb) = FlowKey::of(&pb);
        assert_eq!(ka, kb);
        assert_ne!(fa, fb);
    }

    #[test]
    fn full_table_evicts_longest_idle() {
        let mut t = FlowTable::new(2, Timeouts::default());
        let mut gone = Vec::new();
        add(&mut t, 1, 0, &mut gone);
        add(&mut t, 2, 1, &mut gone);
        add(&mut t, 1, 2, &mut gone); // flow 1 is now the most recent
        let l = add(&mut t, 3, 3, &mut gone);
        assert!(matches!(l, Lookup::New { evicted: true, .. }));
        assert_eq!(gone, vec![2]);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn dropped_flows_are_held_not_evicted() {
        let mut t = FlowTable::new(2, Timeouts::default());
        let mut gone = Vec::new();
        for sport in [1, 2] {
            if let Lookup::New { slot, .. } = add(&mut t, sport, 0, &mut gone) {
                t.get_mut(slot).expect("flow").action = FlowAction::Drop;
                t.hold(slot);
            }
        }
        assert_eq!(add(&mut t, 3, 1, &mut gone), Lookup::Full);
        assert!(gone.is_empty());
        // A held flow is still found.
        assert!(matches!(add(&mut t, 1, 2, &mut gone), Lookup::Existing(_)));
        // After its timeout it goes, and room is made.
        let n = t.expire(Ts::from_secs(100), &mut |f: Flow| gone.push(f.client.port));
        assert_eq!(n, 2);
        assert!(t.is_empty());
    }

    #[test]
    fn idle_flows_expire_in_order() {
        let mut t = FlowTable::new(10, Timeouts::default());
        let mut gone = Vec::new();
        add(&mut t, 1, 0, &mut gone);
        add(&mut t, 2, 20, &mut gone);
        let n = t.expire(Ts::from_secs(35), &mut |f: Flow| gone.push(f.client.port));
        assert_eq!((n, gone.as_slice()), (1, &[1u16][..]));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn slots_are_reused() {
        let mut t = FlowTable::new(4, Timeouts::default());
        let mut gone = Vec::new();
        for i in 0..1000u16 {
            add(&mut t, i, u64::from(i), &mut gone);
        }
        assert_eq!(t.len(), 4);
        assert!(t.slots.len() <= 4);
        assert_eq!(t.evicted, 996);
    }
}
