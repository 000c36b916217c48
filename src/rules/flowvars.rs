//! State keywords: `flowbits`, `flowint` and `xbits`.
//!
//! Each parses to a [`VarOp`]; whether it is a condition (checked while
//! the rule is matched) or an action (applied once the whole rule has
//! matched) follows from its operation. Names stay strings here; the
//! detector turns them into small ids when it builds.

use super::packet::Cmp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitOp {
    Set,
    Unset,
    Toggle,
    IsSet,
    IsNotSet,
}

impl BitOp {
    pub fn is_condition(self) -> bool {
        matches!(self, BitOp::IsSet | BitOp::IsNotSet)
    }

    fn parse(s: &str) -> Option<BitOp> {
        Some(match s {
            "set" => BitOp::Set,
            "unset" => BitOp::Unset,
            "toggle" => BitOp::Toggle,
            "isset" => BitOp::IsSet,
            "isnotset" => BitOp::IsNotSet,
            _ => return None,
        })
    }
}

/// `flowbits:op,name`; `a|b` asks for any of the names (conditions
/// only), `a&b` for all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flowbits {
    pub op: BitOp,
    pub names: Vec<String>,
    /// Names were joined with `|`.
    pub any: bool,
}

/// What `flowbits:` parsed to: a bit operation, or `noalert`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowbitsValue {
    Op(Flowbits),
    NoAlert,
}

pub fn parse_flowbits(s: &str) -> Result<FlowbitsValue, String> {
    let (op, names) = match s.split_once(',') {
        Some((o, n)) => (o.trim().to_ascii_lowercase(), n.trim()),
        None => (s.trim().to_ascii_lowercase(), ""),
    };
    if op == "noalert" {
        if !names.is_empty() {
            return Err("flowbits:noalert takes no name".into());
        }
        return Ok(FlowbitsValue::NoAlert);
    }
    let op = BitOp::parse(&op).ok_or_else(|| format!("unknown flowbits operation '{op}'"))?;
    let (any, list) = split_names(names)?;
    if any && !op.is_condition() {
        return Err("'|' only works with isset and isnotset".into());
    }
    Ok(FlowbitsValue::Op(Flowbits {
        op,
        names: list,
        any,
    }))
}

/// Splits `a|b|c` or `a&b` into names; true for `|`.
fn split_names(s: &str) -> Result<(bool, Vec<String>), String> {
    let (or, and) = (s.contains('|'), s.contains('&'));
    if or && and {
        return Err(format!("'|' and '&' mixed in '{s}'"));
    }
    let sep = if or { '|' } else { '&' };
    let names: Vec<String> = s.split(sep).map(|n| n.trim().to_string()).collect();
    if names.iter().any(|n| !valid_name(n)) {
        return Err(format!("bad variable name in '{s}'"));
    }
    Ok((or, names))
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// The right-hand side of a `flowint` operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntVal {
    Num(u32),
    /// Another flowint's value.
    Var(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntOp {
    Set,
    Add,
    Sub,
    /// A comparison; the number in the `Cmp` is ignored, the value
    /// comes from [`Flowint::value`].
    Cmp(CmpOp),
    IsSet,
    NotSet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn with(self, n: u32) -> Cmp {
        match self {
            CmpOp::Eq => Cmp::Eq(n),
            CmpOp::Ne => Cmp::Ne(n),
            CmpOp::Lt => Cmp::Lt(n),
            CmpOp::Le => Cmp::Le(n),
            CmpOp::Gt => Cmp::Gt(n),
            CmpOp::Ge => Cmp::Ge(n),
        }
    }
}

impl IntOp {
    pub fn is_condition(self) -> bool {
        matches!(self, IntOp::Cmp(_) | IntOp::IsSet | IntOp::NotSet)
    }
}

/// `flowint:name,op[,value]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flowint {
    pub name: String,
    pub op: IntOp,
    pub value: Option<IntVal>,
}

pub fn parse_flowint(s: &str) -> Result<Flowint, String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let (name, op, value) = match parts[..] {
        [n, o] => (n, o, None),
        [n, o, v] => (n, o, Some(v)),
        _ => return Err(format!("flowint needs 'name,op[,value]', got '{s}'")),
    };
    if !valid_name(name) {
        return Err(format!("bad flowint name '{name}'"));
    }
    let op = match op.to_ascii_lowercase().as_str() {
        "=" => IntOp::Set,
        "+" => IntOp::Add,
        "-" => IntOp::Sub,
        "==" => IntOp::Cmp(CmpOp::Eq),
        "!=" => IntOp::Cmp(CmpOp::Ne),
        "<" => IntOp::Cmp(CmpOp::Lt),
        "<=" => IntOp::Cmp(CmpOp::Le),
        ">" => IntOp::Cmp(CmpOp::Gt),
        ">=" => IntOp::Cmp(CmpOp::Ge),
        "isset" => IntOp::IsSet,
        "notset" | "isnotset" => IntOp::NotSet,
        other => return Err(format!("unknown flowint operation '{other}'")),
    };
    let needs_value = !matches!(op, IntOp::IsSet | IntOp::NotSet);
    let value = match (value, needs_value) {
        (Some(v), true) => Some(match v.parse::<u32>() {
            Ok(n) => IntVal::Num(n),
            Err(_) if valid_name(v) => IntVal::Var(v.to_string()),
            Err(_) => return Err(format!("bad flowint value '{v}'")),
        }),
        (None, false) => None,
        (None, true) => return Err("this flowint operation needs a value".into()),
        (Some(_), false) => return Err("isset/notset take no value".into()),
    };
    Ok(Flowint {
        name: name.to_string(),
        op,
        value,
    })
}

/// Whose table an xbit lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Track {
    IpSrc,
    IpDst,
    IpPair,
}

/// `xbits:op,name,track <how>[,expire <secs>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Xbits {
    pub op: BitOp,
    pub name: String,
    pub track: Track,
    /// Seconds a set bit lives; Suricata's default is 30.
    pub expire: u32,
}

/// xbits without an `expire` live this long (Suricata's default).
pub const XBITS_DEFAULT_EXPIRE: u32 = 30;

pub fn parse_xbits(s: &str) -> Result<Xbits, String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let [op, name, track, rest @ ..] = &parts[..] else {
        return Err(format!("xbits needs 'op,name,track <how>', got '{s}'"));
    };
    let op = BitOp::parse(&op.to_ascii_lowercase())
        .ok_or_else(|| format!("unknown xbits operation '{op}'"))?;
    if !valid_name(name) {
        return Err(format!("bad xbits name '{name}'"));
    }
    let track = match track
        .strip_prefix("track")
        .map(str::trim)
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("ip_src") => Track::IpSrc,
        Some("ip_dst") => Track::IpDst,
        Some("ip_pair") => Track::IpPair,
        _ => {
            return Err(format!(
                "xbits track must be ip_src, ip_dst or ip_pair: '{track}'"
            ))
        }
    };
    let mut expire = XBITS_DEFAULT_EXPIRE;
    for extra in rest {
        let secs = extra
            .strip_prefix("expire")
            .map(str::trim)
            .and_then(|v| v.parse::<u32>().ok())
            .filter(|&v| v > 0)
            .ok_or_else(|| format!("unknown xbits option '{extra}'"))?;
        expire = secs;
    }
    Ok(Xbits {
        op,
        name: name.to_string(),
        track,
        expire,
    })
}

/// One state keyword, in rule order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VarOp {
    Bits(Flowbits),
    Int(Flowint),
    Xbits(Xbits),
}

impl VarOp {
    /// Checked while matching (true) or applied after a match (false).
    pub fn is_condition(&self) -> bool {
        match self {
            VarOp::Bits(b) => b.op.is_condition(),
            VarOp::Int(i) => i.op.is_condition(),
            VarOp::Xbits(x) => x.op.is_condition(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flowbits_forms() {
        let FlowbitsValue::Op(b) = parse_flowbits("isset, a|b").unwrap() else {
            panic!()
        };
        assert_eq!((b.op, b.any), (BitOp::IsSet, true));
        assert_eq!(b.names, ["a", "b"]);
        let FlowbitsValue::Op(b) = parse_flowbits("set,x.y&z").unwrap() else {
            panic!()
        };
        assert_eq!((b.op, b.any, b.names.len()), (BitOp::Set, false, 2));
        assert_eq!(parse_flowbits("noalert"), Ok(FlowbitsValue::NoAlert));
        for bad in [
            "set",
            "bogus,a",
            "set,a|b",
            "isset,a|b&c",
            "isset,",
            "noalert,x",
        ] {
            assert!(parse_flowbits(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn flowint_forms() {
        let i = parse_flowint("cnt, +, 1").unwrap();
        assert_eq!((i.op, i.value), (IntOp::Add, Some(IntVal::Num(1))));
        let i = parse_flowint("cnt,>=,other").unwrap();
        assert_eq!(i.op, IntOp::Cmp(CmpOp::Ge));
        assert_eq!(i.value, Some(IntVal::Var("other".into())));
        assert_eq!(parse_flowint("cnt,notset").unwrap().op, IntOp::NotSet);
        for bad in ["cnt", "cnt,+", "cnt,isset,1", "cnt,~,1", "a b,=,1"] {
            assert!(parse_flowint(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn xbits_forms() {
        let x = parse_xbits("set,bad,track ip_pair,expire 60").unwrap();
        assert_eq!((x.op, x.track, x.expire), (BitOp::Set, Track::IpPair, 60));
        let x = parse_xbits("isset,bad,track ip_src").unwrap();
        assert_eq!(x.expire, XBITS_DEFAULT_EXPIRE);
        for bad in ["set,a", "set,a,track flow", "set,a,track ip_src,ttl 3"] {
            assert!(parse_xbits(bad).is_err(), "{bad}");
        }
    }
}
