//! Overlap policies: which copy of a byte a target host keeps when two
//! fragments of one datagram both carry it, and the table that picks a
//! policy by destination address.
//!
//! Each policy is stated as one predicate over the extents of a held
//! piece `[os, oe)` and the newcomer `[ns, ne)` that overlaps it:
//! "does the newcomer's copy replace the held copy on the bytes they
//! share?" Held pieces are the already-trimmed extents, as a kernel's
//! fragment queue keeps them, not the fragments as first received.
//!
//! | policy    | the newcomer wins when | `host-os-policy` names mapped to it |
//! |-----------|------------------------|-------------------------------------|
//! | first     | never                  | first, old-solaris, hpux11, macos   |
//! | last      | always                 | last                                |
//! | bsd       | `ns < os`              | bsd, hpux10, irix                   |
//! | linux     | `ns <= os`             | linux, old-linux                    |
//! | windows   | `ns < os && ne > oe`   | windows, vista, windows2k3          |
//! | solaris   | `ns < os && ne >= oe`  | solaris                             |
//! | bsd-right | `ne > oe`              | bsd-right                           |
//!
//! RFC 791's example reassembly procedure keeps the more recently
//! arrived copy (`last`); real stacks differ, which is why the choice is
//! per target.
//!
//! The name mapping is Suricata's (`DefragGetOsPolicy`); the predicates
//! reproduce the per-policy results of the Novak pattern ("Target-Based
//! Fragmentation Reassembly", 2005) that Suricata's tests pin, and the
//! same table is checked here. Linux since 4.19 and every RFC 5722
//! IPv6 stack discard a datagram with overlaps instead; see
//! `DefragConfig::drop_overlaps_v6`.
//!
//! `bsd-right` is the mirror image of `bsd` about the right-hand edge.
//! Suricata names it but its reassembler has no branch for it; the
//! predicate here is ours and is pinned by the pattern table in the
//! tests rather than by a reference implementation.

use std::fmt;
use std::net::IpAddr;

/// A target-based overlap policy, with Suricata's defrag policy names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Policy {
    First,
    Last,
    Bsd,
    BsdRight,
    Linux,
    Windows,
    Solaris,
}

impl Policy {
    pub const ALL: [Policy; 7] = [
        Policy::First,
        Policy::Last,
        Policy::Bsd,
        Policy::BsdRight,
        Policy::Linux,
        Policy::Windows,
        Policy::Solaris,
    ];

    /// Reads a defrag policy name or a `host-os-policy` OS name, mapped
    /// as Suricata maps host OS flavours onto defrag policies.
    pub fn from_name(name: &str) -> Option<Policy> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "bsd" | "hpux10" | "irix" => Policy::Bsd,
            "bsd-right" | "bsd_right" => Policy::BsdRight,
            "linux" | "old-linux" => Policy::Linux,
            "first" | "old-solaris" | "hpux11" | "macos" => Policy::First,
            "solaris" => Policy::Solaris,
            "windows" | "vista" | "windows2k3" => Policy::Windows,
            "last" => Policy::Last,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Policy::First => "first",
            Policy::Last => "last",
            Policy::Bsd => "bsd",
            Policy::BsdRight => "bsd-right",
            Policy::Linux => "linux",
            Policy::Windows => "windows",
            Policy::Solaris => "solaris",
        }
    }

    /// Whether a newcomer `[ns, ne)` replaces a held piece `[os, oe)` on
    /// the bytes they share (the caller has checked that they overlap).
    pub fn newcomer_wins(self, os: u32, oe: u32, ns: u32, ne: u32) -> bool {
        match self {
            Policy::First => false,
            Policy::Last => true,
            Policy::Bsd => ns < os,
            Policy::Linux => ns <= os,
            Policy::Windows => ns < os && ne > oe,
            Policy::Solaris => ns < os && ne >= oe,
            Policy::BsdRight => ne > oe,
        }
    }
}

/// The engine's `host-os-policy` flavour (TCP reassembly) to the defrag
/// policy, so one host table can drive both.
impl From<crate::stream::Policy> for Policy {
    fn from(p: crate::stream::Policy) -> Policy {
        use crate::stream::Policy as Os;
        match p {
            Os::Bsd | Os::Hpux10 | Os::Irix => Policy::Bsd,
            Os::BsdRight => Policy::BsdRight,
            Os::Linux | Os::OldLinux => Policy::Linux,
            Os::First | Os::OldSolaris | Os::Hpux11 | Os::Macos => Policy::First,
            Os::Solaris => Policy::Solaris,
            Os::Windows | Os::Vista | Os::Windows2k3 => Policy::Windows,
            Os::Last => Policy::Last,
        }
    }
}

impl Default for Policy {
    /// Suricata's defrag default.
    fn default() -> Self {
        Policy::Bsd
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a policy table entry was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyError {
    UnknownPolicy(String),
    BadNetwork(String),
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::UnknownPolicy(p) => write!(f, "unknown defrag policy '{p}'"),
            PolicyError::BadNetwork(n) => write!(f, "bad address or network '{n}'"),
        }
    }
}

impl std::error::Error for PolicyError {}

/// An address block: network address (host bits cleared) and prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    fn parse(s: &str) -> Result<Net, PolicyError> {
        let bad = || PolicyError::BadNetwork(s.to_string());
        let s = s.trim().trim_matches('"');
        let (ip, prefix) = match s.split_once('/') {
            Some((ip, p)) => (ip, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = ip.trim().parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(bad)?,
        };
        Ok(Net {
            addr: mask(addr, prefix),
            prefix,
        })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        self.addr.is_ipv4() == ip.is_ipv4() && mask(ip, self.prefix) == self.addr
    }
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(a) => {
            let m = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(a) & m).into())
        }
        IpAddr::V6(a) => {
            let m = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((u128::from(a) & m).into())
        }
    }
}

/// Destination networks to policies; the longest matching prefix wins,
/// as in Suricata's host OS table, and unmatched hosts get the default.
#[derive(Debug, Clone, Default)]
pub struct PolicyTable {
    pub default: Policy,
    entries: Vec<(Net, Policy)>,
}

impl PolicyTable {
    pub fn new(default: Policy) -> PolicyTable {
        PolicyTable {
            default,
            entries: Vec::new(),
        }
    }

    /// Assigns `policy_name` (a defrag policy or host OS name) to every
    /// address or network in `list`, e.g. `"10.0.0.0/8, 192.168.1.1"`
    /// or the YAML-ish `"[10.0.0.0/8, \"::1\"]"`. A later entry for the
    /// same network replaces an earlier one. Nothing is changed when
    /// any item is bad.
    ///
    /// # Errors
    ///
    /// [`PolicyError::UnknownPolicy`] or [`PolicyError::BadNetwork`]
    /// naming the offending text.
    pub fn set_policy(&mut self, list: &str, policy_name: &str) -> Result<(), PolicyError> {
        let policy = Policy::from_name(policy_name)
            .ok_or_else(|| PolicyError::UnknownPolicy(policy_name.to_string()))?;
        let list = list.trim().trim_start_matches('[').trim_end_matches(']');
        let nets = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Net::parse)
            .collect::<Result<Vec<_>, _>>()?;
        for net in nets {
            self.entries.retain(|(n, _)| *n != net);
            self.entries.push((net, policy));
        }
        Ok(())
    }

    /// The policy for a datagram sent to `dst`.
    pub fn lookup(&self, dst: IpAddr) -> Policy {
        self.entries
            .iter()
            .filter(|(n, _)| n.contains(dst))
            .max_by_key(|(n, _)| n.prefix)
            .map_or(self.default, |(_, p)| *p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn host_os_names_map_as_suricata_does() {
        let cases = [
            ("bsd", Policy::Bsd),
            ("hpux10", Policy::Bsd),
            ("irix", Policy::Bsd),
            ("bsd-right", Policy::BsdRight),
            ("old-linux", Policy::Linux),
            ("linux", Policy::Linux),
            ("old-solaris", Policy::First),
            ("hpux11", Policy::First),
            ("macos", Policy::First),
            ("first", Policy::First),
            ("solaris", Policy::Solaris),
            ("windows", Policy::Windows),
            ("vista", Policy::Windows),
            ("windows2k3", Policy::Windows),
            ("last", Policy::Last),
        ];
        for (name, want) in cases {
            assert_eq!(Policy::from_name(name), Some(want), "{name}");
        }
        assert_eq!(Policy::from_name("plan9"), None);
        for (name, want) in cases {
            let os = crate::stream::Policy::parse(name).expect("a host-os-policy name");
            assert_eq!(Policy::from(os), want, "{name} via the TCP table");
        }
        for p in Policy::ALL {
            assert_eq!(Policy::from_name(p.name()), Some(p));
        }
    }

    #[test]
    fn longest_prefix_wins_and_default_covers_the_rest() {
        let mut t = PolicyTable::default();
        t.set_policy("10.0.0.0/8, 192.168.1.1", "windows")
            .expect("valid");
        t.set_policy("[10.1.0.0/16, \"::1\"]", "linux")
            .expect("valid");
        assert_eq!(t.lookup(ip("10.2.3.4")), Policy::Windows);
        assert_eq!(t.lookup(ip("10.1.3.4")), Policy::Linux);
        assert_eq!(t.lookup(ip("192.168.1.1")), Policy::Windows);
        assert_eq!(t.lookup(ip("192.168.1.2")), Policy::Bsd);
        assert_eq!(t.lookup(ip("::1")), Policy::Linux);
        assert_eq!(t.lookup(ip("::2")), Policy::Bsd);
        // An IPv4 network never matches an IPv6 address and vice versa.
        t.set_policy("0.0.0.0/0", "last").expect("valid");
        assert_eq!(t.lookup(ip("::2")), Policy::Bsd);
        assert_eq!(t.lookup(ip("8.8.8.8")), Policy::Last);
    }

    #[test]
    fn bad_entries_change_nothing() {
        let mut t = PolicyTable::default();
        assert_eq!(
            t.set_policy("10.0.0.0/8, 10.0.0.0/33", "linux"),
            Err(PolicyError::BadNetwork("10.0.0.0/33".into()))
        );
        assert!(matches!(
            t.set_policy("10.0.0.0/8", "beos"),
            Err(PolicyError::UnknownPolicy(_))
        ));
        assert!(t.set_policy("not-an-ip", "linux").is_err());
        assert_eq!(t.lookup(ip("10.0.0.1")), Policy::Bsd);
    }

    #[test]
    fn host_bits_are_ignored_in_networks() {
        let mut t = PolicyTable::default();
        t.set_policy("10.9.9.9/8", "solaris").expect("valid");
        assert_eq!(t.lookup(ip("10.0.0.1")), Policy::Solaris);
    }
}
