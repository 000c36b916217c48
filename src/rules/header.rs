//! The rule header: action, protocol, addresses, ports, direction.
//!
//! Addresses and ports are kept as small trees (lists, negations, ranges)
//! with variables already substituted, so matching needs no lookups. A
//! list means "any of the positive entries, minus every negated entry";
//! a list with only negated entries means "anything but those", which is
//! how Suricata reads `[!10.0.0.0/8]` and `$EXTERNAL_NET`.

use std::net::IpAddr;

use super::vars::Vars;

/// Variables may refer to variables; this bounds the chain (and stops a
/// variable that refers to itself).
const MAX_VAR_DEPTH: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Alert,
    Drop,
    /// `reject`, `rejectsrc`, `rejectdst` and `rejectboth`; which side
    /// gets the reset is kept for the verdict code.
    Reject(RejectTo),
    Pass,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectTo {
    Src,
    Dst,
    Both,
}

impl Action {
    pub fn parse(s: &str) -> Option<Action> {
        Some(match s.to_ascii_lowercase().as_str() {
            "alert" => Action::Alert,
            "drop" => Action::Drop,
            "reject" | "rejectsrc" => Action::Reject(RejectTo::Src),
            "rejectdst" => Action::Reject(RejectTo::Dst),
            "rejectboth" => Action::Reject(RejectTo::Both),
            "pass" => Action::Pass,
            _ => return None,
        })
    }

    /// Suricata's default action order: pass first, then drop, reject,
    /// alert. Lower sorts first.
    pub fn order(self) -> u8 {
        match self {
            Action::Pass => 0,
            Action::Drop => 1,
            Action::Reject(_) => 2,
            Action::Alert => 3,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Action::Alert => "alert",
            Action::Drop => "drop",
            Action::Reject(_) => "reject",
            Action::Pass => "pass",
        }
    }
}

/// The rule protocol. App-layer names are parsed and carried so that
/// supporting one later is a change in the detector, not the parser.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Proto {
    Ip,
    Ipv4,
    Ipv6,
    /// TCP, payload or stream.
    Tcp,
    /// TCP, packet payload only.
    TcpPkt,
    /// TCP, reassembled stream only.
    TcpStream,
    Udp,
    /// ICMPv4 and ICMPv6, as in Suricata.
    Icmp,
    /// Any packet; no payload keywords make sense here.
    Pkthdr,
    App(AppProto),
}

/// App-layer protocol names Suricata knows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AppProto(pub String);

const APP_PROTOS: &[&str] = &[
    "http",
    "http1",
    "http2",
    "dns",
    "tls",
    "ssl",
    "ssh",
    "ftp",
    "ftp-data",
    "smtp",
    "imap",
    "pop3",
    "smb",
    "dcerpc",
    "nfs",
    "ntp",
    "tftp",
    "krb5",
    "dhcp",
    "snmp",
    "sip",
    "rfb",
    "mqtt",
    "rdp",
    "ike",
    "ikev2",
    "modbus",
    "dnp3",
    "enip",
    "cip",
    "quic",
    "bittorrent-dht",
    "telnet",
    "pgsql",
    "websocket",
    "ldap",
    "irc",
    "msn",
    "jabber",
    "nntp",
    "ntp",
];

impl Proto {
    pub fn parse(s: &str) -> Option<Proto> {
        let lower = s.to_ascii_lowercase();
        Some(match lower.as_str() {
            "ip" => Proto::Ip,
            "ipv4" | "ip4" => Proto::Ipv4,
            "ipv6" | "ip6" => Proto::Ipv6,
            "tcp" => Proto::Tcp,
            "tcp-pkt" => Proto::TcpPkt,
            "tcp-stream" => Proto::TcpStream,
            "udp" => Proto::Udp,
            "icmp" | "icmpv4" | "icmpv6" => Proto::Icmp,
            "pkthdr" => Proto::Pkthdr,
            other if APP_PROTOS.contains(&other) => Proto::App(AppProto(lower)),
            _ => return None,
        })
    }

    pub fn is_tcp(&self) -> bool {
        matches!(self, Proto::Tcp | Proto::TcpPkt | Proto::TcpStream)
    }
}

/// An IP network: address plus prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl IpNet {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }

    pub(crate) fn parse(s: &str) -> Result<IpNet, String> {
        let (ip, prefix) = match s.split_once('/') {
            Some((ip, p)) => (ip, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = ip.parse().map_err(|_| format!("bad address '{s}'"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match (p.parse::<u8>(), p.parse::<std::net::Ipv4Addr>()) {
                (Ok(n), _) if n <= max => n,
                // Dotted netmask, e.g. /255.255.0.0, contiguous only.
                (_, Ok(mask)) if addr.is_ipv4() => {
                    let m = u32::from(mask);
                    if m.leading_ones() + m.trailing_zeros() != 32 {
                        return Err(format!("non-contiguous netmask in '{s}'"));
                    }
                    m.leading_ones() as u8
                }
                _ => return Err(format!("bad prefix length in '{s}'")),
            },
        };
        Ok(IpNet { addr, prefix })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AddrSpec {
    Any,
    Net(IpNet),
    /// `a-b`: every address from a to b, both included (same family).
    Range(IpAddr, IpAddr),
    List(Vec<AddrSpec>),
    Not(Box<AddrSpec>),
}

impl AddrSpec {
    pub fn matches(&self, ip: IpAddr) -> bool {
        match self {
            AddrSpec::Any => true,
            AddrSpec::Net(n) => n.contains(ip),
            AddrSpec::Range(lo, hi) => match (lo, hi, ip) {
                (IpAddr::V4(l), IpAddr::V4(h), IpAddr::V4(a)) => (*l..=*h).contains(&a),
                (IpAddr::V6(l), IpAddr::V6(h), IpAddr::V6(a)) => (*l..=*h).contains(&a),
                _ => false,
            },
            AddrSpec::Not(inner) => !inner.matches(ip),
            AddrSpec::List(items) => list_matches(
                items,
                |s| s.matches(ip),
                |s| match s {
                    AddrSpec::Not(inner) => Some(&**inner),
                    _ => None,
                },
            ),
        }
    }

    pub fn parse(s: &str, vars: &Vars) -> Result<AddrSpec, String> {
        parse_addr(s.trim(), vars, 0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PortSpec {
    Any,
    /// Inclusive range; a single port is `Range(p, p)`.
    Range(u16, u16),
    List(Vec<PortSpec>),
    Not(Box<PortSpec>),
}

impl PortSpec {
    pub fn matches(&self, port: u16) -> bool {
        match self {
            PortSpec::Any => true,
            PortSpec::Range(lo, hi) => (*lo..=*hi).contains(&port),
            PortSpec::Not(inner) => !inner.matches(port),
            PortSpec::List(items) => list_matches(
                items,
                |s| s.matches(port),
                |s| match s {
                    PortSpec::Not(inner) => Some(&**inner),
                    _ => None,
                },
            ),
        }
    }

    pub fn parse(s: &str, vars: &Vars) -> Result<PortSpec, String> {
        parse_port(s.trim(), vars, 0)
    }
}

/// List semantics shared by addresses and ports: a negated entry
/// excludes; the positive entries (if any) must include.
fn list_matches<T>(
    items: &[T],
    matches: impl Fn(&T) -> bool,
    negated: impl Fn(&T) -> Option<&T>,
) -> bool {
    let mut has_positive = false;
    let mut included = false;
    for item in items {
        match negated(item) {
            Some(inner) if matches(inner) => return false,
            Some(_) => {}
            None => {
                has_positive = true;
                included = included || matches(item);
            }
        }
    }
    !has_positive || included
}

/// Splits `a,[b,c],d` at top-level commas.
fn split_list(s: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.checked_sub(1).ok_or("unbalanced ']'")?,
            ',' if depth == 0 => {
                parts.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("unbalanced '['".into());
    }
    parts.push(s[start..].trim());
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!("empty entry in list '[{s}]'"));
    }
    Ok(parts)
}

/// What address and port specs share: the grammar `!x`, `[a, b]`,
/// `$VAR` and `any` around a kind-specific leaf.
trait Spec: Sized + PartialEq {
    /// "address" or "port", for messages.
    const KIND: &'static str;
    const ANY: Self;
    fn not(inner: Self) -> Self;
    fn list(items: Vec<Self>) -> Self;
    fn var<'v>(vars: &'v Vars, name: &str) -> Option<&'v str>;
    fn leaf(s: &str) -> Result<Self, String>;
}

impl Spec for AddrSpec {
    const KIND: &'static str = "address";
    const ANY: Self = AddrSpec::Any;
    fn not(inner: Self) -> Self {
        AddrSpec::Not(Box::new(inner))
    }
    fn list(items: Vec<Self>) -> Self {
        AddrSpec::List(items)
    }
    fn var<'v>(vars: &'v Vars, name: &str) -> Option<&'v str> {
        vars.address(name)
    }
    /// An address, a CIDR prefix, or a range `a-b`.
    fn leaf(s: &str) -> Result<Self, String> {
        let Some((lo, hi)) = s.split_once('-') else {
            return IpNet::parse(s).map(AddrSpec::Net);
        };
        let ip = |t: &str| {
            t.trim()
                .parse::<IpAddr>()
                .map_err(|_| format!("bad address range '{s}'"))
        };
        let (lo, hi) = (ip(lo)?, ip(hi)?);
        let ordered = match (lo, hi) {
            (IpAddr::V4(l), IpAddr::V4(h)) => l <= h,
            (IpAddr::V6(l), IpAddr::V6(h)) => l <= h,
            _ => return Err(format!("address range '{s}' mixes IPv4 and IPv6")),
        };
        if !ordered {
            return Err(format!("address range '{s}' runs backwards"));
        }
        Ok(AddrSpec::Range(lo, hi))
    }
}

impl Spec for PortSpec {
    const KIND: &'static str = "port";
    const ANY: Self = PortSpec::Any;
    fn not(inner: Self) -> Self {
        PortSpec::Not(Box::new(inner))
    }
    fn list(items: Vec<Self>) -> Self {
        PortSpec::List(items)
    }
    fn var<'v>(vars: &'v Vars, name: &str) -> Option<&'v str> {
        vars.port(name)
    }
    /// `N`, `N:M`, `N:` or `:M`.
    fn leaf(s: &str) -> Result<Self, String> {
        let num = |t: &str| {
            t.trim()
                .parse::<u16>()
                .map_err(|_| format!("bad port '{s}'"))
        };
        let (lo, hi) = match s.split_once(':') {
            None => (num(s)?, num(s)?),
            Some(("", "")) => return Err(format!("bad port range '{s}'")),
            Some(("", hi)) => (0, num(hi)?),
            Some((lo, "")) => (num(lo)?, u16::MAX),
            Some((lo, hi)) => (num(lo)?, num(hi)?),
        };
        if lo > hi {
            return Err(format!("port range '{s}' runs backwards"));
        }
        Ok(PortSpec::Range(lo, hi))
    }
}

fn parse_addr(s: &str, vars: &Vars, depth: usize) -> Result<AddrSpec, String> {
    parse_spec(s, vars, depth)
}

fn parse_port(s: &str, vars: &Vars, depth: usize) -> Result<PortSpec, String> {
    parse_spec(s, vars, depth)
}

fn parse_spec<T: Spec>(s: &str, vars: &Vars, depth: usize) -> Result<T, String> {
    if depth > MAX_VAR_DEPTH {
        return Err("variables nest too deeply (or refer to themselves)".into());
    }
    if let Some(rest) = s.strip_prefix('!') {
        let inner = parse_spec::<T>(rest.trim(), vars, depth)?;
        if inner == T::ANY {
            return Err(format!("'!any' matches no {}", T::KIND));
        }
        return Ok(T::not(inner));
    }
    if let Some(inner) = s.strip_prefix('[') {
        let inner = inner
            .strip_suffix(']')
            .ok_or_else(|| format!("unclosed list '{s}'"))?;
        let items = split_list(inner)?
            .into_iter()
            .map(|p| parse_spec(p, vars, depth))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(T::list(items));
    }
    if let Some(name) = s.strip_prefix('$') {
        let value =
            T::var(vars, name).ok_or_else(|| format!("unknown {} variable '${name}'", T::KIND))?;
        return parse_spec(value.trim(), vars, depth + 1);
    }
    if s.eq_ignore_ascii_case("any") {
        return Ok(T::ANY);
    }
    T::leaf(s)
}

/// The parsed header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub action: Action,
    pub proto: Proto,
    pub src: AddrSpec,
    pub src_ports: PortSpec,
    /// `<>`: the rule also matches with source and destination swapped.
    pub bidirectional: bool,
    pub dst: AddrSpec,
    pub dst_ports: PortSpec,
}

/// A header error, with the field it was found in.
pub type HeaderError = String;

pub fn parse_header(tokens: &[String], vars: &Vars) -> Result<Header, HeaderError> {
    let [action, proto, src, sp, dir, dst, dp] = tokens else {
        return Err(format!(
            "header needs 7 fields (action proto src port dir dst port), found {}",
            tokens.len()
        ));
    };
    let action = Action::parse(action).ok_or_else(|| format!("unknown action '{action}'"))?;
    let proto = Proto::parse(proto).ok_or_else(|| format!("unknown protocol '{proto}'"))?;
    let bidirectional = match dir.as_str() {
        "->" => false,
        "<>" => true,
        other => return Err(format!("bad direction '{other}'")),
    };
    Ok(Header {
        action,
        proto,
        src: AddrSpec::parse(src, vars).map_err(|e| format!("source address: {e}"))?,
        src_ports: PortSpec::parse(sp, vars).map_err(|e| format!("source port: {e}"))?,
        bidirectional,
        dst: AddrSpec::parse(dst, vars).map_err(|e| format!("destination address: {e}"))?,
        dst_ports: PortSpec::parse(dp, vars).map_err(|e| format!("destination port: {e}"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn addresses() {
        let v = Vars::default();
        let a = AddrSpec::parse("[10.0.0.0/8,!10.1.0.0/16,[192.168.1.1]]", &v).unwrap();
        assert!(a.matches(ip("10.2.3.4")));
        assert!(!a.matches(ip("10.1.3.4")));
        assert!(a.matches(ip("192.168.1.1")));
        assert!(!a.matches(ip("192.168.1.2")));

        let ext = AddrSpec::parse("$EXTERNAL_NET", &v).unwrap();
        assert!(ext.matches(ip("8.8.8.8")));
        assert!(!ext.matches(ip("172.16.5.5")));
        assert!(ext.matches(ip("2001:db8::1")));

        let neg = AddrSpec::parse("![1.1.1.1,2.2.2.0/24]", &v).unwrap();
        assert!(!neg.matches(ip("2.2.2.9")));
        assert!(neg.matches(ip("3.3.3.3")));

        let v6 = AddrSpec::parse("2001:db8::/32", &v).unwrap();
        assert!(v6.matches(ip("2001:db8:1::5")));
        assert!(!v6.matches(ip("2001:db9::5")));
        assert!(!v6.matches(ip("10.0.0.1")));

        let mask = AddrSpec::parse("10.0.0.0/255.0.0.0", &v).unwrap();
        assert!(mask.matches(ip("10.9.9.9")));
        let zero = AddrSpec::parse("0.0.0.0/0", &v).unwrap();
        assert!(zero.matches(ip("1.2.3.4")));
    }

    #[test]
    fn address_errors() {
        let v = Vars::default();
        for bad in [
            "!any",
            "[]",
            "[1.1.1.1,]",
            "10.0.0.0/33",
            "1.2.3",
            "$NOPE",
            "[1.1.1.1",
            "10.0.0.0/255.0.255.0",
        ] {
            assert!(AddrSpec::parse(bad, &v).is_err(), "{bad}");
        }
    }

    #[test]
    fn ports() {
        let v = Vars::default();
        let p = PortSpec::parse("[1024:,!8080,:21]", &v).unwrap();
        assert!(p.matches(21) && p.matches(0) && p.matches(1024) && p.matches(65535));
        assert!(!p.matches(8080) && !p.matches(80));
        let r = PortSpec::parse("80:90", &v).unwrap();
        assert!(r.matches(85) && !r.matches(91));
        let sc = PortSpec::parse("$SHELLCODE_PORTS", &v).unwrap();
        assert!(!sc.matches(80) && sc.matches(81));
        let fd = PortSpec::parse("$FILE_DATA_PORTS", &v).unwrap();
        assert!(fd.matches(80) && fd.matches(143) && !fd.matches(25));
        for bad in ["!any", "90:80", "65536", ":", "$NOPE", "a"] {
            assert!(PortSpec::parse(bad, &v).is_err(), "{bad}");
        }
    }

    #[test]
    fn header_fields() {
        let v = Vars::default();
        let t = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        let h = parse_header(
            &t("rejectboth TCP-PKT any any <> $HOME_NET $HTTP_PORTS"),
            &v,
        )
        .unwrap();
        assert_eq!(h.action, Action::Reject(RejectTo::Both));
        assert_eq!(h.proto, Proto::TcpPkt);
        assert!(h.bidirectional);
        assert!(parse_header(&t("alert tcp any any <- any any"), &v).is_err());
        assert!(parse_header(&t("alert foo any any -> any any"), &v).is_err());
        assert!(parse_header(&t("block tcp any any -> any any"), &v).is_err());
        assert!(parse_header(&t("alert tcp any any -> any"), &v).is_err());
        assert!(matches!(
            parse_header(&t("alert http any any -> any any"), &v)
                .unwrap()
                .proto,
            Proto::App(_)
        ));
    }
}
