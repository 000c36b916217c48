//! Non-payload keywords: `flow`, `dsize`, `flags`, `ttl`, `ip_proto`,
//! `itype`, `icode`, and the comparison form they share.

use crate::decode::tcp_flags as tf;

/// A numeric test: `N`, `!N`, `<N`, `<=N`, `>N`, `>=N`, or `N<>M`
/// (strictly between, as in Suricata).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq(u32),
    Ne(u32),
    Lt(u32),
    Le(u32),
    Gt(u32),
    Ge(u32),
    Between(u32, u32),
}

impl Cmp {
    pub fn matches(self, v: u32) -> bool {
        match self {
            Cmp::Eq(n) => v == n,
            Cmp::Ne(n) => v != n,
            Cmp::Lt(n) => v < n,
            Cmp::Le(n) => v <= n,
            Cmp::Gt(n) => v > n,
            Cmp::Ge(n) => v >= n,
            Cmp::Between(lo, hi) => lo < v && v < hi,
        }
    }

    /// Parses a comparison whose numbers must not exceed `max`; `num`
    /// turns one operand into a number (ip_proto also takes names).
    pub fn parse_with(s: &str, max: u32, num: impl Fn(&str) -> Option<u32>) -> Result<Cmp, String> {
        let s = s.trim();
        let n = |t: &str| {
            num(t.trim())
                .filter(|&v| v <= max)
                .ok_or_else(|| format!("bad number '{}' (0..={max})", t.trim()))
        };
        if let Some((lo, hi)) = s.split_once("<>") {
            let (lo, hi) = (n(lo)?, n(hi)?);
            if lo >= hi {
                return Err(format!("empty range '{s}'"));
            }
            return Ok(Cmp::Between(lo, hi));
        }
        let (ctor, rest): (fn(u32) -> Cmp, &str) = if let Some(r) = s.strip_prefix("<=") {
            (Cmp::Le, r)
        } else if let Some(r) = s.strip_prefix(">=") {
            (Cmp::Ge, r)
        } else if let Some(r) = s.strip_prefix('<') {
            (Cmp::Lt, r)
        } else if let Some(r) = s.strip_prefix('>') {
            (Cmp::Gt, r)
        } else if let Some(r) = s.strip_prefix("!=") {
            // Suricata's integer keywords take `!=` as well as `!`.
            (Cmp::Ne, r)
        } else if let Some(r) = s.strip_prefix('!') {
            (Cmp::Ne, r)
        } else if let Some(r) = s.strip_prefix('=') {
            (Cmp::Eq, r)
        } else {
            (Cmp::Eq, s)
        };
        Ok(ctor(n(rest)?))
    }

    pub fn parse(s: &str, max: u32) -> Result<Cmp, String> {
        Cmp::parse_with(s, max, |t| t.parse().ok())
    }
}

/// `flow:` facts; `None` means "either".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flow {
    pub established: Option<bool>,
    /// `to_server` / `from_client` = Some(true).
    pub to_server: Option<bool>,
    pub stateless: bool,
    /// `only_stream`: stream data only; `no_stream`: packets only.
    pub only_stream: bool,
    pub no_stream: bool,
}

impl Flow {
    pub fn parse(s: &str) -> Result<Flow, String> {
        let mut f = Flow::default();
        for part in s.split(',').map(|p| p.trim().to_ascii_lowercase()) {
            let (slot, value) = match part.as_str() {
                "established" => (&mut f.established, true),
                "not_established" => (&mut f.established, false),
                "to_server" | "from_client" => (&mut f.to_server, true),
                "to_client" | "from_server" => (&mut f.to_server, false),
                "stateless" => {
                    f.stateless = true;
                    continue;
                }
                "only_stream" => {
                    f.only_stream = true;
                    continue;
                }
                "no_stream" => {
                    f.no_stream = true;
                    continue;
                }
                other => return Err(format!("unknown flow option '{other}'")),
            };
            if slot.is_some_and(|v| v != value) {
                return Err(format!("conflicting flow options in '{s}'"));
            }
            *slot = Some(value);
        }
        if f.only_stream && f.no_stream {
            return Err("only_stream and no_stream together".into());
        }
        Ok(f)
    }
}

/// `flags:` — which TCP flag bits to test, how, and which to ignore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flags {
    pub bits: u8,
    pub how: FlagsHow,
    /// Bits removed from the packet's flags before testing.
    pub ignore: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagsHow {
    /// Exactly these bits.
    Exact,
    /// `+`: these bits, others allowed.
    All,
    /// `*`: any of these bits.
    Any,
    /// `!`: not all of these bits (Suricata's reading; with one bit,
    /// simply "not set").
    None,
}

impl Flags {
    pub fn matches(self, packet_flags: u8) -> bool {
        let f = packet_flags & !self.ignore;
        match self.how {
            FlagsHow::Exact => f == self.bits,
            FlagsHow::All => f & self.bits == self.bits,
            FlagsHow::Any => f & self.bits != 0,
            FlagsHow::None => f & self.bits != self.bits,
        }
    }

    pub fn parse(s: &str) -> Result<Flags, String> {
        let (test, mask) = match s.split_once(',') {
            Some((t, m)) => (t.trim(), Some(m.trim())),
            None => (s.trim(), None),
        };
        let mut how = FlagsHow::Exact;
        let mut bits = 0u8;
        let mut zero = false;
        for c in test.chars() {
            let new_how = match c {
                '+' => FlagsHow::All,
                '*' => FlagsHow::Any,
                '!' => FlagsHow::None,
                '0' => {
                    zero = true;
                    continue;
                }
                c => {
                    bits |= flag_bit(c).ok_or_else(|| format!("unknown TCP flag '{c}'"))?;
                    continue;
                }
            };
            if how != FlagsHow::Exact {
                return Err(format!("more than one modifier in '{test}'"));
            }
            how = new_how;
        }
        if zero && bits != 0 {
            return Err("'0' (no flags) combined with flags".into());
        }
        if !zero && bits == 0 {
            return Err("no flags given".into());
        }
        let mut ignore = 0u8;
        for c in mask.unwrap_or("").chars().filter(|c| !c.is_whitespace()) {
            ignore |= flag_bit(c).ok_or_else(|| format!("unknown TCP flag '{c}' in mask"))?;
        }
        Ok(Flags { bits, how, ignore })
    }
}

fn flag_bit(c: char) -> Option<u8> {
    Some(match c.to_ascii_uppercase() {
        'F' => tf::FIN,
        'S' => tf::SYN,
        'R' => tf::RST,
        'P' => tf::PSH,
        'A' => tf::ACK,
        'U' => tf::URG,
        // `1` and `2` are the pre-RFC 3168 names for the two ECN bits.
        'C' | '1' => tf::CWR,
        'E' | '2' => tf::ECE,
        _ => return None,
    })
}

/// IP protocol numbers by name, for `ip_proto`.
pub fn ip_proto_number(s: &str) -> Option<u32> {
    if let Ok(n) = s.parse::<u32>() {
        return Some(n);
    }
    Some(match s.to_ascii_lowercase().as_str() {
        "hopopt" => 0,
        "icmp" => 1,
        "igmp" => 2,
        "ipip" | "ipv4" => 4,
        "tcp" => 6,
        "udp" => 17,
        "ipv6" => 41,
        "ipv6-route" => 43,
        "ipv6-frag" => 44,
        "rsvp" => 46,
        "gre" => 47,
        "esp" => 50,
        "ah" => 51,
        "ipv6-icmp" | "icmpv6" => 58,
        "ipv6-nonxt" => 59,
        "ipv6-opts" => 60,
        "eigrp" => 88,
        "ospf" => 89,
        "pim" => 103,
        "vrrp" => 112,
        "l2tp" => 115,
        "sctp" => 132,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons() {
        let c = |s| Cmp::parse(s, 65535).unwrap();
        assert_eq!(c("300"), Cmp::Eq(300));
        assert_eq!(c(" < 5"), Cmp::Lt(5));
        assert_eq!(c(">=5"), Cmp::Ge(5));
        assert_eq!(c("!0"), Cmp::Ne(0));
        assert_eq!(c("10<>20"), Cmp::Between(10, 20));
        assert!(c("10<>20").matches(11) && !c("10<>20").matches(10));
        for bad in ["", "<", "20<>10", "70000", "a", ">-1"] {
            assert!(Cmp::parse(bad, 65535).is_err(), "{bad}");
        }
        assert!(Cmp::parse("256", 255).is_err());
        let p = Cmp::parse_with("!tcp", 255, ip_proto_number).unwrap();
        assert_eq!(p, Cmp::Ne(6));
    }

    /// Regression: `itype: != 0` was refused (only `!0` was known).
    #[test]
    fn not_equal_spelled_with_equals() {
        assert_eq!(Cmp::parse(" != 0", 255), Ok(Cmp::Ne(0)));
        assert_eq!(Cmp::parse("!=7", 255), Ok(Cmp::Ne(7)));
    }

    /// Regression: `flags:!SA` refused a SYN alone; Suricata's `!`
    /// matches unless all the listed bits are set.
    #[test]
    fn not_flags_means_not_all_of_them() {
        let f = Flags::parse("!SA").unwrap();
        assert!(f.matches(tf::SYN) && f.matches(0));
        assert!(!f.matches(tf::SYN | tf::ACK));
        assert!(!f.matches(tf::SYN | tf::ACK | tf::PSH));
    }

    #[test]
    fn flow_options() {
        let f = Flow::parse("established, to_server").unwrap();
        assert_eq!((f.established, f.to_server), (Some(true), Some(true)));
        let f = Flow::parse("from_server,not_established,only_stream").unwrap();
        assert_eq!((f.established, f.to_server), (Some(false), Some(false)));
        assert!(f.only_stream);
        assert!(Flow::parse("to_server,to_client").is_err());
        assert!(Flow::parse("sideways").is_err());
    }

    #[test]
    fn tcp_flags() {
        let f = Flags::parse("S").unwrap();
        assert!(f.matches(tf::SYN) && !f.matches(tf::SYN | tf::ACK));
        let f = Flags::parse("S,12").unwrap();
        assert!(f.matches(tf::SYN | tf::ECE | tf::CWR));
        let f = Flags::parse("SA+").unwrap();
        assert!(f.matches(tf::SYN | tf::ACK | tf::PSH) && !f.matches(tf::SYN));
        let f = Flags::parse("*FR").unwrap();
        assert!(f.matches(tf::RST | tf::ACK) && !f.matches(tf::ACK));
        let f = Flags::parse("!A").unwrap();
        assert!(f.matches(tf::SYN) && !f.matches(tf::ACK));
        let f = Flags::parse("0").unwrap();
        assert!(f.matches(0) && !f.matches(tf::FIN));
        let f = Flags::parse("A,CE").unwrap();
        assert!(f.matches(tf::ACK | tf::ECE));
        for bad in ["", "X", "S+*", "0S", "S,Z"] {
            assert!(Flags::parse(bad).is_err(), "{bad}");
        }
    }
}
