//! Rule evaluation order, and each rule's compiled state keywords and
//! rate control.
//!
//! Rules are verified in the order Suricata sorts them: by action
//! (pass, drop, reject, alert); then, for flowbits, flowints, host
//! xbits and ip-pair xbits in turn, rules that only set that kind of
//! state first, then rules that set and read it, then rules that only
//! read it, then rules without it; then by priority; then by sid.
//! Within one packet a `flowbits:set` rule therefore runs before a
//! `flowbits:isset` rule that depends on it.

use super::state::{IntRef, Names, VarOp};
use super::threshold::{rule_rate, RuleRate};
use crate::rules::flowvars::{self as fv, IntVal};
use crate::rules::threshold::ConfigEntry;
use crate::rules::{AddrSpec, Options, PortSpec, Proto, Rule};

/// Which kind of state a keyword touches, for ordering.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Flowbits,
    Flowint,
    HostBits,
    PairBits,
}

fn kind(op: &fv::VarOp) -> Kind {
    match op {
        fv::VarOp::Bits(_) => Kind::Flowbits,
        fv::VarOp::Int(_) => Kind::Flowint,
        fv::VarOp::Xbits(x) if x.track == fv::Track::IpPair => Kind::PairBits,
        fv::VarOp::Xbits(_) => Kind::HostBits,
    }
}

/// How a rule uses one kind of state; lower sorts first: sets only,
/// sets and reads, reads only, not used.
fn class(rule: &Rule, k: Kind) -> u8 {
    let ops = || rule.options.vars.iter().filter(|op| kind(op) == k);
    let reads = ops().any(fv::VarOp::is_condition);
    let sets = ops().any(|op| !op.is_condition());
    match (sets, reads) {
        (true, false) => 0,
        (true, true) => 1,
        (false, true) => 2,
        (false, false) => 3,
    }
}

/// Rules in evaluation order. The sort is stable, so rules equal in
/// every respect (a duplicate sid in another gid) keep load order.
pub fn sort(mut rules: Vec<Rule>) -> Vec<Rule> {
    rules.sort_by_cached_key(|r| {
        (
            r.action().order(),
            class(r, Kind::Flowbits),
            class(r, Kind::Flowint),
            class(r, Kind::HostBits),
            class(r, Kind::PairBits),
            r.priority,
            r.sid,
        )
    });
    rules
}

/// What a rule does besides its header and payload checks.
#[derive(Debug, Default)]
pub struct Extra {
    /// Checked before the payload chain.
    pub conds: Vec<VarOp>,
    /// Applied once the rule matched.
    pub acts: Vec<VarOp>,
    pub rate: RuleRate,
    pub noalert: bool,
}

#[derive(Default)]
struct Interner {
    bits: Names,
    ints: Names,
    xbits: Names,
}

impl Interner {
    fn id(names: &mut Names, name: &str) -> Result<u16, String> {
        names
            .id(name)
            .ok_or_else(|| format!("too many variable names (at '{name}')"))
    }

    fn op(&mut self, op: &fv::VarOp) -> Result<VarOp, String> {
        Ok(match op {
            fv::VarOp::Bits(b) => VarOp::Bits {
                op: b.op,
                ids: b
                    .names
                    .iter()
                    .map(|n| Interner::id(&mut self.bits, n))
                    .collect::<Result<_, _>>()?,
                any: b.any,
            },
            fv::VarOp::Int(i) => VarOp::Int {
                op: i.op,
                id: Interner::id(&mut self.ints, &i.name)?,
                value: match &i.value {
                    None => None,
                    Some(IntVal::Num(n)) => Some(IntRef::Num(*n)),
                    Some(IntVal::Var(v)) => Some(IntRef::Var(Interner::id(&mut self.ints, v)?)),
                },
            },
            fv::VarOp::Xbits(x) => VarOp::Xbit {
                op: x.op,
                id: Interner::id(&mut self.xbits, &x.name)?,
                track: x.track,
                expire: x.expire,
            },
        })
    }
}

/// Compiles the state keywords and rate control of each rule.
pub fn extras(rules: &[Rule], config: &[ConfigEntry]) -> Result<Vec<Extra>, String> {
    let mut names = Interner::default();
    rules
        .iter()
        .map(|r| {
            let o = &r.options;
            let mut e = Extra {
                rate: rule_rate(r.gid, r.sid, o.threshold, o.detection_filter, config),
                noalert: o.noalert,
                ..Extra::default()
            };
            for op in &o.vars {
                let compiled = names.op(op)?;
                if op.is_condition() {
                    e.conds.push(compiled);
                } else {
                    e.acts.push(compiled);
                }
            }
            Ok(e)
        })
        .collect()
}

/// Whether a rule tests decoder events and nothing else, on any
/// address and port: such a rule can match a frame that did not decode.
pub fn event_only(rule: &Rule) -> bool {
    let h = &rule.header;
    let any_where = h.src == AddrSpec::Any
        && h.dst == AddrSpec::Any
        && h.src_ports == PortSpec::Any
        && h.dst_ports == PortSpec::Any;
    let o = &rule.options;
    let decoder = !o.events.is_empty() && o.events.iter().all(|e| e.starts_with("decoder."));
    // Everything but the descriptive keywords, the events and the
    // alerting controls must be unset.
    let bare = Options {
        msg: String::new(),
        sid: None,
        gid: None,
        rev: None,
        classtype: None,
        category: None,
        class_priority: None,
        priority: None,
        metadata: Vec::new(),
        references: Vec::new(),
        events: Vec::new(),
        noalert: false,
        prefilter: false,
        threshold: None,
        detection_filter: None,
        ..o.clone()
    };
    let ip_level = matches!(h.proto, Proto::Pkthdr | Proto::Ip);
    any_where && decoder && ip_level && bare == Options::default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{parse_rule, Classifications, Vars};

    #[test]
    fn suricata_order() {
        let rules = [
            "alert ip any any -> any any (priority:1; sid:5;)",
            "alert ip any any -> any any (flowbits:isset,a; sid:3;)",
            "alert ip any any -> any any (flowbits:set,a; sid:4;)",
            "alert ip any any -> any any (flowbits:isset,b; flowbits:set,a; sid:2;)",
            "alert ip any any -> any any (flowbits:isset,a; flowint:n,+,1; sid:6;)",
            "alert ip any any -> any any (flowbits:isset,a; priority:1; sid:7;)",
            "drop ip any any -> any any (sid:9;)",
            "pass ip any any -> any any (priority:4; sid:10;)",
        ]
        .map(|t| parse_rule(t, &Vars::default(), &Classifications::default()).unwrap());
        let sids: Vec<u32> = sort(rules.to_vec()).iter().map(|r| r.sid).collect();
        // Pass, drop; then setters, set+read, readers (the one that also
        // sets a flowint first, then by priority), then the rest.
        assert_eq!(sids, [10, 9, 4, 2, 6, 7, 3, 5]);
    }
}
