//! Target-based overlap policies (Novak and Sturges, "Target-Based TCP
//! Stream Reassembly", 2007), under Suricata's `host-os-policy` names.
//!
//! When two segments cover the same sequence numbers with different
//! bytes, each operating system keeps a different copy. An IDS that
//! keeps another copy than the receiver inspects bytes the application
//! never reads. The policy is chosen by the receiver's address.
//!
//! Which copy wins, by how the new segment sits against the old one
//! (new bytes win where marked, the old ones everywhere else):
//!
//! | new vs old                         | new wins under                       |
//! |------------------------------------|--------------------------------------|
//! | starts before                      | bsd, hpux10, irix, macos, windows,   |
//! |                                    | windows2k3, linux, old-linux; and    |
//! |                                    | solaris, hpux11 if it reaches old's end |
//! | same start, ends before old's end  | none                                 |
//! | same start, same end               | old-linux, solaris, hpux11           |
//! | same start, ends past old's end    | linux, old-linux, solaris, hpux11    |
//! | starts after, ends past old's end  | solaris, hpux11                      |
//! | starts after, ends within          | none                                 |
//!
//! `last` always takes the new copy, `first` never does; bsd-right,
//! vista and old-solaris keep the old copy in every case.

use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    First,
    Last,
    Bsd,
    BsdRight,
    OldLinux,
    Linux,
    OldSolaris,
    Solaris,
    Hpux10,
    Hpux11,
    Irix,
    Macos,
    Windows,
    Vista,
    Windows2k3,
}

impl Policy {
    /// Suricata's default when no address matches.
    pub const DEFAULT: Policy = Policy::Bsd;

    pub fn parse(name: &str) -> Option<Policy> {
        Some(match name {
            "first" => Policy::First,
            "last" => Policy::Last,
            "bsd" => Policy::Bsd,
            "bsd-right" => Policy::BsdRight,
            "old-linux" => Policy::OldLinux,
            "linux" => Policy::Linux,
            "old-solaris" => Policy::OldSolaris,
            "solaris" => Policy::Solaris,
            "hpux10" => Policy::Hpux10,
            "hpux11" => Policy::Hpux11,
            "irix" => Policy::Irix,
            "macos" => Policy::Macos,
            "windows" => Policy::Windows,
            "vista" => Policy::Vista,
            "windows2k3" => Policy::Windows2k3,
            _ => return None,
        })
    }

    /// Whether a new segment's bytes replace an old segment's where
    /// they overlap. Offsets are stream offsets; ends are exclusive.
    pub fn new_wins(self, new: (u64, u64), old: (u64, u64)) -> bool {
        use std::cmp::Ordering::*;
        use Policy::*;
        let reaches_end = new.1 >= old.1;
        match (self, new.0.cmp(&old.0)) {
            (Last, _) => true,
            (First, _) => false,
            (Solaris | Hpux11, Less) => reaches_end,
            (Bsd | Hpux10 | Irix | Macos | Windows | Windows2k3 | Linux | OldLinux, Less) => true,
            (_, Less) => false,
            (OldLinux | Solaris | Hpux11, Equal) => reaches_end,
            (Linux, Equal) => new.1 > old.1,
            (_, Equal) => false,
            (Solaris | Hpux11, Greater) => new.1 > old.1,
            (_, Greater) => false,
        }
    }
}

/// Policies by destination: the most specific prefix wins.
#[derive(Debug, Clone, Default)]
pub struct PolicyTable {
    entries: Vec<(IpAddr, u8, Policy)>,
}

impl PolicyTable {
    /// Adds `policy` for a comma-separated list of addresses and CIDR
    /// prefixes, as Suricata's `host-os-policy.NAME=LIST` takes them.
    pub fn add(&mut self, name: &str, list: &str) -> Result<(), String> {
        let policy = Policy::parse(name).ok_or_else(|| format!("unknown policy '{name}'"))?;
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let item = item.trim_matches(|c| c == '[' || c == ']' || c == '"');
            let (addr, prefix) = match item.split_once('/') {
                Some((a, p)) => (a, Some(p)),
                None => (item, None),
            };
            let addr: IpAddr = addr
                .parse()
                .map_err(|_| format!("'{item}' is not an address or prefix"))?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix = match prefix {
                Some(p) => p
                    .parse::<u8>()
                    .ok()
                    .filter(|p| *p <= max)
                    .ok_or_else(|| format!("'{item}' has a bad prefix length"))?,
                None => max,
            };
            self.entries.push((addr, prefix, policy));
        }
        Ok(())
    }

    pub fn lookup(&self, addr: IpAddr) -> Policy {
        self.entries
            .iter()
            .filter(|(net, len, _)| contains(*net, *len, addr))
            .max_by_key(|(_, len, _)| *len)
            .map_or(Policy::DEFAULT, |(_, _, p)| *p)
    }
}

fn contains(net: IpAddr, len: u8, addr: IpAddr) -> bool {
    match (net, addr) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Policy::*;

    /// Each row: new and old ranges, then the policies under which the
    /// new copy wins.
    #[test]
    fn overlap_table() {
        let all = [
            First, Last, Bsd, BsdRight, OldLinux, Linux, OldSolaris, Solaris, Hpux10, Hpux11, Irix,
            Macos, Windows, Vista, Windows2k3,
        ];
        type Row = ((u64, u64), (u64, u64), &'static [Policy]);
        let rows: [Row; 7] = [
            (
                (0, 4),
                (2, 6),
                &[
                    Last, Bsd, OldLinux, Linux, Hpux10, Irix, Macos, Windows, Windows2k3,
                ],
            ),
            (
                (0, 8),
                (2, 6),
                &[
                    Last, Bsd, OldLinux, Linux, Solaris, Hpux10, Hpux11, Irix, Macos, Windows,
                    Windows2k3,
                ],
            ),
            ((2, 4), (2, 6), &[Last]),
            ((2, 6), (2, 6), &[Last, OldLinux, Solaris, Hpux11]),
            ((2, 8), (2, 6), &[Last, OldLinux, Linux, Solaris, Hpux11]),
            ((4, 8), (2, 6), &[Last, Solaris, Hpux11]),
            ((3, 5), (2, 6), &[Last]),
        ];
        for (new, old, winners) in rows {
            for p in all {
                assert_eq!(
                    p.new_wins(new, old),
                    winners.contains(&p),
                    "{p:?} new {new:?} old {old:?}"
                );
            }
        }
    }

    #[test]
    fn most_specific_prefix_wins() {
        let mut t = PolicyTable::default();
        t.add("windows", "0.0.0.0/0").expect("valid");
        t.add("old-linux", "2.2.2.2").expect("valid");
        t.add("linux", "fd00::/8").expect("valid");
        assert_eq!(t.lookup("2.2.2.2".parse().expect("ip")), OldLinux);
        assert_eq!(t.lookup("9.9.9.9".parse().expect("ip")), Windows);
        assert_eq!(t.lookup("fd00::1".parse().expect("ip")), Linux);
        assert_eq!(
            PolicyTable::default().lookup("1.1.1.1".parse().expect("ip")),
            Bsd
        );
        assert!(t.add("nope", "1.1.1.1").is_err());
        assert!(t.add("bsd", "1.1.1.1/33").is_err());
    }
}
