//! Evaluating the byte keywords against a buffer.
//!
//! Positions are computed in `i64` so a negative relative offset or
//! post_offset cannot wrap; every read is bounds-checked with `get`.
//! Values are `u64` with wrapping arithmetic, as byte_math in Suricata.

use crate::rules::bytes::{
    ByteExtract, ByteJump, ByteMath, ByteTest, Extract, IsDataAt, JumpFrom, MathOp, NumRef, TestOp,
    MAX_BYTE_VARS,
};

/// Byte variable values of one match attempt.
pub type Vars = [u64; MAX_BYTE_VARS];

pub fn resolve(n: NumRef, vars: &Vars) -> i64 {
    match n {
        NumRef::Lit(v) => v,
        NumRef::Var(i) => vars.get(usize::from(i)).map_or(0, |&v| v as i64),
    }
}

/// Reads the number `ex` describes; returns it with the index just
/// past the bytes read. None when the bytes are not all in `data`, or
/// a string holds no digit.
pub fn read(ex: &Extract, data: &[u8], cursor: usize, vars: &Vars) -> Option<(u64, usize)> {
    let n = resolve(ex.nbytes, vars);
    let max = if ex.string.is_some() { 20 } else { 8 };
    if !(0..=max).contains(&n) {
        return None;
    }
    let base = if ex.relative { cursor as i64 } else { 0 };
    let start = usize::try_from(base + resolve(ex.offset, vars)).ok()?;
    let end = start.checked_add(n as usize)?;
    let bytes = data.get(start..end)?;
    let mut v = match ex.string {
        Some(b) => parse_digits(bytes, b.radix())?,
        None if ex.little_endian => bytes
            .iter()
            .rev()
            .fold(0u64, |acc, &b| acc << 8 | u64::from(b)),
        None => bytes.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b)),
    };
    if let Some(mask) = ex.bitmask {
        v = (v & mask) >> mask.trailing_zeros();
    }
    Some((v, end))
}

/// Leading ASCII digits in `radix`, after optional spaces; stops at
/// the first other byte, as strtoull does.
fn parse_digits(bytes: &[u8], radix: u32) -> Option<u64> {
    let mut it = bytes
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .peekable();
    let mut v: u64 = 0;
    let mut any = false;
    while let Some(d) = it.peek().and_then(|&&b| char::from(b).to_digit(radix)) {
        v = v.checked_mul(u64::from(radix))?.checked_add(u64::from(d))?;
        any = true;
        it.next();
    }
    any.then_some(v)
}

pub fn test(t: &ByteTest, data: &[u8], cursor: usize, vars: &Vars) -> bool {
    let Some((v, _)) = read(&t.ex, data, cursor, vars) else {
        return false;
    };
    let want = resolve(t.value, vars) as u64;
    let hit = match t.op {
        TestOp::Lt => v < want,
        TestOp::Gt => v > want,
        TestOp::Eq => v == want,
        TestOp::Le => v <= want,
        TestOp::Ge => v >= want,
        TestOp::And => v & want != 0,
        TestOp::Xor => v ^ want != 0,
    };
    hit != t.negated
}

/// The cursor after the jump, or None when it lands past the end. A
/// landing before the start is moved to the start (Suricata 7 does
/// the same, so rules with a large negative post_offset still work).
pub fn jump(j: &ByteJump, data: &[u8], cursor: usize, vars: &Vars) -> Option<usize> {
    let (v, read_end) = read(&j.ex, data, cursor, vars)?;
    let mut v = v.wrapping_mul(j.multiplier);
    if j.align {
        v = v.wrapping_add(3) & !3;
    }
    let v = i64::try_from(v).ok()?;
    let from = match j.from {
        JumpFrom::Read => read_end as i64,
        JumpFrom::Beginning => 0,
        JumpFrom::End => data.len() as i64,
    };
    let to = from.checked_add(v)?.checked_add(j.post_offset)?.max(0);
    let to = usize::try_from(to).ok()?;
    (to <= data.len()).then_some(to)
}

/// Stores the value; returns the cursor just past the bytes read.
pub fn extract(e: &ByteExtract, data: &[u8], cursor: usize, vars: &mut Vars) -> Option<usize> {
    let (v, end) = read(&e.ex, data, cursor, vars)?;
    let mut v = v.wrapping_mul(e.multiplier);
    let align = u64::from(e.align);
    if align > 1 && v % align != 0 {
        v = v.wrapping_add(align - v % align);
    }
    *vars.get_mut(usize::from(e.var))? = v;
    Some(end)
}

/// Stores the result; false when the read fails or it divides by 0.
pub fn math(m: &ByteMath, data: &[u8], cursor: usize, vars: &mut Vars) -> bool {
    let Some((v, _)) = read(&m.ex, data, cursor, vars) else {
        return false;
    };
    let r = resolve(m.rvalue, vars) as u64;
    let shift = |f: fn(u64, u32) -> Option<u64>| f(v, u32::try_from(r).unwrap_or(u32::MAX));
    let out = match m.op {
        MathOp::Add => v.wrapping_add(r),
        MathOp::Sub => v.wrapping_sub(r),
        MathOp::Mul => v.wrapping_mul(r),
        MathOp::Div => match v.checked_div(r) {
            Some(q) => q,
            None => return false,
        },
        MathOp::Shl => shift(u64::checked_shl).unwrap_or(0),
        MathOp::Shr => shift(u64::checked_shr).unwrap_or(0),
    };
    match vars.get_mut(usize::from(m.var)) {
        Some(slot) => {
            *slot = out;
            true
        }
        None => false,
    }
}

/// Absolute: byte `n` exists. Relative: at least `n` bytes follow the
/// cursor.
pub fn data_at(d: &IsDataAt, data: &[u8], cursor: usize, vars: &Vars) -> bool {
    let n = resolve(d.offset, vars);
    let len = data.len() as i64;
    let present = if d.relative {
        cursor as i64 + n <= len
    } else {
        n < len
    };
    present != d.negated
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::bytes::{
        parse_byte_extract, parse_byte_jump, parse_byte_math, parse_byte_test, parse_isdataat,
        ByteVars,
    };

    /// (byte_test value, data, cursor, expected)
    const TESTS: &[(&str, &[u8], usize, bool)] = &[
        // Binary, big and little endian.
        ("2,=,258,0", b"\x01\x02", 0, true),
        ("2,=,513,0,little", b"\x01\x02", 0, true),
        ("2,=,258,0,little", b"\x01\x02", 0, false),
        // Strings in three bases; digits stop at the first non-digit.
        ("3,=,123,0,string,dec", b"123", 0, true),
        ("2,=,255,0,string,hex", b"ff", 0, true),
        ("2,=,8,0,string,oct", b"10", 0, true),
        ("4,=,12,0,string,dec", b"12ab", 0, true),
        ("2,=,0,0,string,dec", b"ab", 0, false),
        // Relative, with a negative offset.
        ("1,=,0x41,-1,relative", b"xA", 2, true),
        ("1,=,0x41,-3,relative", b"xA", 2, false),
        // Out of bounds never matches, negated or not.
        ("4,=,0,0", b"\x00\x00", 0, false),
        ("4,!=,0,0", b"\x00\x00", 0, false),
        // Operators and negation.
        ("1,>,9,0", b"\x0a", 0, true),
        ("1,!>,9,0", b"\x0a", 0, false),
        ("1,&,0x08,0", b"\x0a", 0, true),
        ("1,^,0x0a,0", b"\x0a", 0, false),
        ("1,<=,10,0", b"\x0a", 0, true),
        // Bitmask shifts the masked value down.
        ("1,=,3,0,bitmask 0x30", b"\x35", 0, true),
    ];

    #[test]
    fn byte_test_table() {
        let vars = [0; MAX_BYTE_VARS];
        for &(v, data, cursor, want) in TESTS {
            let t = parse_byte_test(v, &ByteVars::default()).unwrap();
            assert_eq!(
                test(&t, data, cursor, &vars),
                want,
                "byte_test:{v} on {data:?}"
            );
        }
    }

    #[test]
    fn jumps() {
        let v = ByteVars::default();
        let vars = [0; MAX_BYTE_VARS];
        let j = |s: &str| parse_byte_jump(s, &v).unwrap();
        let data = b"\x00\x03abcdef";
        // Read 2 bytes (3), land 3 past them.
        assert_eq!(jump(&j("2,0"), data, 0, &vars), Some(5));
        assert_eq!(jump(&j("2,0,multiplier 2"), data, 0, &vars), Some(8));
        assert_eq!(jump(&j("2,0,multiplier 3"), data, 0, &vars), None);
        assert_eq!(jump(&j("2,0,align"), data, 0, &vars), Some(6));
        assert_eq!(jump(&j("2,0,from_beginning"), data, 0, &vars), Some(3));
        assert_eq!(
            jump(&j("2,0,from_end,post_offset -4"), data, 0, &vars),
            Some(7)
        );
        assert_eq!(jump(&j("2,0,from_end"), data, 0, &vars), None);
        assert_eq!(
            jump(&j("0,0,from_end,post_offset -4"), data, 0, &vars),
            Some(4)
        );
        // Before the start clamps to the start.
        assert_eq!(
            jump(&j("0,0,relative,post_offset -10"), data, 4, &vars),
            Some(0)
        );
        // From the ASCII example in the Suricata tests: "13" from the end.
        let q = b"Question?13When will the pandemic end?";
        let r = j("2,0,relative,string,from_end,post_offset -26");
        assert_eq!(jump(&r, q, 9, &vars), Some(25));
    }

    #[test]
    fn extract_math_and_dataat() {
        let mut v = ByteVars::default();
        let e = parse_byte_extract("1,1,n,multiplier 3,align 4", &mut v).unwrap();
        let m = parse_byte_math("bytes 1, offset 0, oper -, rvalue n, result r", &mut v).unwrap();
        let d = parse_byte_math("bytes 1, offset 0, oper /, rvalue 0, result z", &mut v).unwrap();
        let mut vars = [0; MAX_BYTE_VARS];
        let data = b"\x10\x05\x00";
        assert_eq!(extract(&e, data, 0, &mut vars), Some(2));
        assert_eq!(vars[0], 16, "5 * 3 = 15, aligned up to 16");
        assert!(math(&m, data, 0, &mut vars));
        assert_eq!(vars[1], 0);
        assert!(!math(&d, data, 0, &mut vars), "division by zero fails");
        let at = |s: &str| parse_isdataat(s, &v).unwrap();
        assert!(data_at(&at("2"), data, 0, &vars));
        assert!(!data_at(&at("3"), data, 0, &vars));
        assert!(data_at(&at("1,relative"), data, 2, &vars));
        assert!(!data_at(&at("2,relative"), data, 2, &vars));
        assert!(data_at(&at("!1,relative"), data, 3, &vars));
    }
}
