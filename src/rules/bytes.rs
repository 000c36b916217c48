//! Byte keywords: `byte_test`, `byte_jump`, `byte_extract`, `byte_math`,
//! `isdataat` and `bsize`.
//!
//! They sit in the same ordered list as contents because `relative`
//! reads from the cursor the previous item left. `byte_extract` and
//! `byte_math` name a variable that later items may use in place of a
//! number; names are resolved here, in rule order, to small indices.

use super::packet::Cmp;

/// At most this many byte variables per rule; Suricata's limit is
/// similar and real rules use one or two.
pub const MAX_BYTE_VARS: usize = 8;

/// A number as written, or a byte variable read at match time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumRef {
    Lit(i64),
    Var(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Base {
    Hex,
    #[default]
    Dec,
    Oct,
}

impl Base {
    pub fn radix(self) -> u32 {
        match self {
            Base::Hex => 16,
            Base::Dec => 10,
            Base::Oct => 8,
        }
    }
}

/// Where and how to read a number out of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extract {
    pub nbytes: NumRef,
    pub offset: NumRef,
    pub relative: bool,
    pub little_endian: bool,
    /// The bytes are ASCII digits in this base.
    pub string: Option<Base>,
    pub bitmask: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestOp {
    Lt,
    Gt,
    Eq,
    Le,
    Ge,
    /// Bitwise and is non-zero.
    And,
    /// Bitwise xor is non-zero.
    Xor,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteTest {
    pub ex: Extract,
    pub negated: bool,
    pub op: TestOp,
    pub value: NumRef,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JumpFrom {
    /// Just past the bytes read.
    Read,
    Beginning,
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteJump {
    pub ex: Extract,
    pub multiplier: u64,
    /// Round the jump up to a multiple of 4.
    pub align: bool,
    pub from: JumpFrom,
    pub post_offset: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteExtract {
    pub ex: Extract,
    pub var: u8,
    pub multiplier: u64,
    /// Round the value up to a multiple of this (2 or 4); 0: no.
    pub align: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MathOp {
    Add,
    Sub,
    Mul,
    Div,
    Shl,
    Shr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteMath {
    pub ex: Extract,
    pub op: MathOp,
    pub rvalue: NumRef,
    pub var: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsDataAt {
    pub negated: bool,
    pub offset: NumRef,
    pub relative: bool,
}

/// Byte variables defined so far in a rule.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ByteVars(Vec<String>);

impl ByteVars {
    pub fn get(&self, name: &str) -> Option<u8> {
        self.0.iter().position(|n| n == name).map(|i| i as u8)
    }

    fn define(&mut self, name: &str) -> Result<u8, String> {
        let ok = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-';
        if name.is_empty()
            || !name.chars().all(ok)
            || name.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(format!("bad variable name '{name}'"));
        }
        if self.get(name).is_some() {
            return Err(format!("variable '{name}' defined twice"));
        }
        if self.0.len() >= MAX_BYTE_VARS {
            return Err(format!("more than {MAX_BYTE_VARS} byte variables"));
        }
        self.0.push(name.to_string());
        Ok((self.0.len() - 1) as u8)
    }

    /// A number (decimal, or hex with `0x`), or a defined variable.
    pub fn num(&self, s: &str) -> Result<NumRef, String> {
        let s = s.trim();
        if let Some(n) = parse_int(s) {
            return Ok(NumRef::Lit(n));
        }
        self.get(s)
            .map(NumRef::Var)
            .ok_or_else(|| format!("'{s}' is neither a number nor a byte variable"))
    }
}

fn parse_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let v = match body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        Some(h) => i64::from_str_radix(h, 16).ok()?,
        None => body.parse::<i64>().ok()?,
    };
    Some(if neg { -v } else { v })
}

/// The options after the fixed fields, shared by the byte keywords.
#[derive(Default)]
struct Flags {
    relative: bool,
    little: Option<bool>,
    string: Option<Base>,
    bitmask: Option<u64>,
    multiplier: Option<u64>,
    align: bool,
    align_to: Option<u8>,
    from: Option<JumpFrom>,
    post_offset: Option<i64>,
}

/// Reads `relative`, `big`, `string,dec` and friends. `allowed` lists
/// the keyed options this keyword takes.
fn flags(tokens: &[&str], allowed: &[&str]) -> Result<Flags, String> {
    let mut f = Flags::default();
    let mut i = 0;
    while let Some(&t) = tokens.get(i) {
        i += 1;
        let (key, arg) = match t.split_once(char::is_whitespace) {
            Some((k, a)) => (k, Some(a.trim())),
            None => (t, None),
        };
        let key = key.to_ascii_lowercase();
        if !allowed.contains(&key.as_str()) && !COMMON.contains(&key.as_str()) {
            return Err(format!("unknown option '{t}'"));
        }
        let num = |a: Option<&str>| {
            a.and_then(parse_int)
                .ok_or_else(|| format!("'{key}' needs a number"))
        };
        match key.as_str() {
            "relative" => f.relative = true,
            "big" | "little" if f.little.is_some() => return Err("endian given twice".into()),
            "big" => f.little = Some(false),
            "little" => f.little = Some(true),
            "endian" => {
                f.little = Some(match arg {
                    Some("big") => false,
                    Some("little") => true,
                    _ => return Err(format!("bad endian '{t}'")),
                })
            }
            "string" => {
                // `string,dec` (two tokens) or `string dec` (byte_math).
                let base = arg.or_else(|| {
                    let next = tokens.get(i).map(|s| s.trim());
                    next.filter(|n| matches!(*n, "hex" | "dec" | "oct"))
                        .inspect(|_| i += 1)
                });
                f.string = Some(match base {
                    Some("hex") => Base::Hex,
                    Some("oct") => Base::Oct,
                    Some("dec") | None => Base::Dec,
                    Some(other) => return Err(format!("bad string base '{other}'")),
                });
            }
            "hex" | "dec" | "oct" => return Err(format!("'{key}' without 'string'")),
            "dce" => return Err("dce is not supported".into()),
            "bitmask" => {
                let m = num(arg)?;
                if m <= 0 {
                    return Err("bitmask must be positive".into());
                }
                f.bitmask = Some(m as u64);
            }
            "multiplier" => {
                let m = num(arg)?;
                if m <= 0 {
                    return Err("multiplier must be positive".into());
                }
                f.multiplier = Some(m as u64);
            }
            "align" => match arg {
                None => f.align = true,
                Some("2") => f.align_to = Some(2),
                Some("4") => f.align_to = Some(4),
                Some(a) => return Err(format!("align must be 2 or 4, not '{a}'")),
            },
            "from_beginning" => f.from = Some(JumpFrom::Beginning),
            "from_end" => f.from = Some(JumpFrom::End),
            "post_offset" => f.post_offset = Some(num(arg)?),
            _ => return Err(format!("unknown option '{t}'")),
        }
    }
    Ok(f)
}

const COMMON: &[&str] = &[
    "relative", "big", "little", "string", "hex", "dec", "oct", "dce", "bitmask",
];

fn split(s: &str) -> Vec<&str> {
    s.split(',').map(str::trim).collect()
}

/// Checks a literal byte count against what the form allows.
fn check_nbytes(n: NumRef, string: bool, allow_zero: bool) -> Result<(), String> {
    let max = if string { 20 } else { 8 };
    match n {
        NumRef::Lit(0) if allow_zero => Ok(()),
        NumRef::Lit(v) if v < 1 || v > max => Err(format!("byte count {v} not in 1..={max}")),
        _ => Ok(()),
    }
}

fn extract(nbytes: NumRef, offset: NumRef, f: &Flags) -> Extract {
    Extract {
        nbytes,
        offset,
        relative: f.relative,
        little_endian: f.little.unwrap_or(false),
        string: f.string,
        bitmask: f.bitmask,
    }
}

/// `byte_test:n,[!]op,value,offset[,flags]`.
pub fn parse_byte_test(s: &str, vars: &ByteVars) -> Result<ByteTest, String> {
    let t = split(s);
    let [n, op, value, offset, rest @ ..] = &t[..] else {
        return Err(format!(
            "byte_test needs 'bytes,op,value,offset', got '{s}'"
        ));
    };
    let (negated, op) = match op.strip_prefix('!') {
        Some(o) => (true, o.trim()),
        None => (false, *op),
    };
    let op = match op {
        "<" => TestOp::Lt,
        ">" => TestOp::Gt,
        "=" => TestOp::Eq,
        "<=" => TestOp::Le,
        ">=" => TestOp::Ge,
        "&" => TestOp::And,
        "^" => TestOp::Xor,
        // `!` alone is Snort's "not equal".
        "" if negated => TestOp::Eq,
        other => return Err(format!("unknown byte_test operator '{other}'")),
    };
    let f = flags(rest, &[])?;
    let nbytes = vars.num(n)?;
    check_nbytes(nbytes, f.string.is_some(), false)?;
    Ok(ByteTest {
        ex: extract(nbytes, vars.num(offset)?, &f),
        negated,
        op,
        value: vars.num(value)?,
    })
}

/// `byte_jump:n,offset[,flags]`.
pub fn parse_byte_jump(s: &str, vars: &ByteVars) -> Result<ByteJump, String> {
    let t = split(s);
    let [n, offset, rest @ ..] = &t[..] else {
        return Err(format!("byte_jump needs 'bytes,offset', got '{s}'"));
    };
    let f = flags(
        rest,
        &[
            "multiplier",
            "align",
            "from_beginning",
            "from_end",
            "post_offset",
        ],
    )?;
    if f.align_to.is_some() {
        return Err("byte_jump's align takes no value".into());
    }
    let nbytes = vars.num(n)?;
    // Zero bytes read is allowed: the jump is then offset and
    // post_offset alone.
    check_nbytes(nbytes, f.string.is_some(), true)?;
    Ok(ByteJump {
        ex: extract(nbytes, vars.num(offset)?, &f),
        multiplier: f.multiplier.unwrap_or(1),
        align: f.align,
        from: f.from.unwrap_or(JumpFrom::Read),
        post_offset: f.post_offset.unwrap_or(0),
    })
}

/// `byte_extract:n,offset,name[,flags]`; defines `name`.
pub fn parse_byte_extract(s: &str, vars: &mut ByteVars) -> Result<ByteExtract, String> {
    let t = split(s);
    let [n, offset, name, rest @ ..] = &t[..] else {
        return Err(format!("byte_extract needs 'bytes,offset,name', got '{s}'"));
    };
    let f = flags(rest, &["multiplier", "align"])?;
    if f.align {
        return Err("byte_extract's align needs 2 or 4".into());
    }
    let nbytes = parse_int(n)
        .map(NumRef::Lit)
        .ok_or_else(|| format!("bad byte count '{n}'"))?;
    check_nbytes(nbytes, f.string.is_some(), false)?;
    let offset = vars.num(offset)?;
    Ok(ByteExtract {
        ex: extract(nbytes, offset, &f),
        var: vars.define(name)?,
        multiplier: f.multiplier.unwrap_or(1),
        align: f.align_to.unwrap_or(0),
    })
}

/// `byte_math:bytes N,offset N,oper OP,rvalue V,result NAME[,flags]`.
pub fn parse_byte_math(s: &str, vars: &mut ByteVars) -> Result<ByteMath, String> {
    let (mut n, mut offset, mut op, mut rvalue, mut result) = (None, None, None, None, None);
    let mut rest = Vec::new();
    for tok in split(s) {
        let (key, arg) = match tok.split_once(char::is_whitespace) {
            Some((k, a)) => (k.to_ascii_lowercase(), a.trim()),
            None => (tok.to_ascii_lowercase(), ""),
        };
        match key.as_str() {
            "bytes" => n = Some(vars.num(arg)?),
            "offset" => offset = Some(vars.num(arg)?),
            "oper" => {
                op = Some(match arg {
                    "+" => MathOp::Add,
                    "-" => MathOp::Sub,
                    "*" => MathOp::Mul,
                    "/" => MathOp::Div,
                    "<<" => MathOp::Shl,
                    ">>" => MathOp::Shr,
                    other => return Err(format!("unknown byte_math operator '{other}'")),
                })
            }
            "rvalue" => rvalue = Some(vars.num(arg)?),
            "result" => result = Some(arg.to_string()),
            _ => rest.push(tok),
        }
    }
    let f = flags(&rest, &["endian"])?;
    let missing = |what: &str| format!("byte_math needs '{what}'");
    let nbytes = n.ok_or_else(|| missing("bytes"))?;
    check_nbytes(nbytes, f.string.is_some(), false)?;
    let ex = extract(nbytes, offset.ok_or_else(|| missing("offset"))?, &f);
    let op = op.ok_or_else(|| missing("oper"))?;
    let rvalue = rvalue.ok_or_else(|| missing("rvalue"))?;
    let name = result.ok_or_else(|| missing("result"))?;
    Ok(ByteMath {
        ex,
        op,
        rvalue,
        var: vars.define(&name)?,
    })
}

/// `isdataat:[!]N[,relative][,rawbytes]`.
pub fn parse_isdataat(s: &str, vars: &ByteVars) -> Result<IsDataAt, String> {
    let t = split(s);
    let (first, rest) = t.split_first().ok_or("isdataat needs a value")?;
    let (negated, n) = match first.strip_prefix('!') {
        Some(n) => (true, n.trim()),
        None => (false, *first),
    };
    let mut relative = false;
    for r in rest {
        match *r {
            "relative" => relative = true,
            // Packet payloads are raw already.
            "rawbytes" => {}
            other => return Err(format!("unknown isdataat option '{other}'")),
        }
    }
    let offset = vars.num(n)?;
    if matches!(offset, NumRef::Lit(v) if v < 0) {
        return Err("isdataat offset must not be negative".into());
    }
    Ok(IsDataAt {
        negated,
        offset,
        relative,
    })
}

/// `bsize:` — the inspected buffer's length.
pub fn parse_bsize(s: &str) -> Result<Cmp, String> {
    Cmp::parse(s, u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_test_forms() {
        let v = ByteVars::default();
        let t = parse_byte_test("2, !&, 0x0f, -2, relative, little", &v).unwrap();
        assert!(t.negated && t.ex.relative && t.ex.little_endian);
        assert_eq!(
            (t.op, t.value, t.ex.offset),
            (TestOp::And, NumRef::Lit(15), NumRef::Lit(-2))
        );
        let t = parse_byte_test("4,>,100,0,string,dec", &v).unwrap();
        assert_eq!(t.ex.string, Some(Base::Dec));
        let t = parse_byte_test("1,=,1,0,bitmask 0x30", &v).unwrap();
        assert_eq!(t.ex.bitmask, Some(0x30));
        for bad in [
            "9,=,1,0",
            "1,~,1,0",
            "1,=,1",
            "1,=,1,0,sideways",
            "1,=,1,0,dce",
        ] {
            assert!(parse_byte_test(bad, &v).is_err(), "{bad}");
        }
    }

    #[test]
    fn variables_resolve_in_rule_order() {
        let mut v = ByteVars::default();
        let e = parse_byte_extract("1,4,len,relative,align 4", &mut v).unwrap();
        assert_eq!((e.var, e.align), (0, 4));
        let j = parse_byte_jump("len,0,relative,post_offset -3,from_end", &v).unwrap();
        assert_eq!(j.ex.nbytes, NumRef::Var(0));
        assert_eq!((j.from, j.post_offset), (JumpFrom::End, -3));
        let m = parse_byte_math(
            "bytes 2, offset 0, oper *, rvalue len, result twice, endian little",
            &mut v,
        )
        .unwrap();
        assert_eq!((m.op, m.rvalue, m.var), (MathOp::Mul, NumRef::Var(0), 1));
        assert!(m.ex.little_endian);
        assert!(parse_byte_extract("1,0,len", &mut v).is_err(), "redefined");
        assert!(parse_byte_test("1,=,nope,0", &v).is_err());
        let d = parse_isdataat("!len,relative", &v).unwrap();
        assert_eq!(
            (d.negated, d.offset, d.relative),
            (true, NumRef::Var(0), true)
        );
        assert!(parse_byte_math("bytes 2, offset 0, oper %, rvalue 1, result r", &mut v).is_err());
    }
}
