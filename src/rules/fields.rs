//! Header-field keywords: `seq`, `ack`, `window`, `id`, `fragbits`
//! (and `fragoffset`, a plain comparison),
//! `ipopts`, `icmp_id`, `icmp_seq`, `tcp.mss`, `stream_size`, and the
//! anomaly keywords `decode-event` / `stream-event`.
//!
//! Each type here parses its value and answers "does this field value
//! match"; reading the field out of a packet is the detector's job.

use super::packet::Cmp;

/// A test for equality or inequality only (`N` or `!N`), the form
/// `window` takes.
pub fn parse_eq(s: &str, max: u32) -> Result<Cmp, String> {
    let s = s.trim();
    let (neg, rest) = match s.strip_prefix('!') {
        Some(r) => (true, r.trim()),
        None => (false, s),
    };
    let n: u32 = rest
        .parse()
        .ok()
        .filter(|&v| v <= max)
        .ok_or_else(|| format!("bad number '{rest}' (0..={max})"))?;
    Ok(if neg { Cmp::Ne(n) } else { Cmp::Eq(n) })
}

/// IPv4 fragment bits as `fragbits` names them.
pub mod frag {
    /// Reserved (evil) bit.
    pub const R: u8 = 0x4;
    /// Don't fragment.
    pub const D: u8 = 0x2;
    /// More fragments.
    pub const M: u8 = 0x1;
}

/// How `fragbits` compares the packet's bits with the listed ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitsHow {
    /// No modifier: exactly these bits.
    Exact,
    /// `+`: these bits, and at least one other.
    Plus,
    /// `*`: any of these bits.
    Any,
    /// `!`: not all of these bits.
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragbits {
    pub bits: u8,
    pub how: BitsHow,
}

impl Fragbits {
    pub fn parse(s: &str) -> Result<Fragbits, String> {
        let mut how = BitsHow::Exact;
        let mut bits = 0u8;
        for c in s.chars().filter(|c| !c.is_whitespace()) {
            let (new_how, bit) = match c.to_ascii_uppercase() {
                '+' => (BitsHow::Plus, 0),
                '*' => (BitsHow::Any, 0),
                '!' => (BitsHow::Not, 0),
                'M' => (how, frag::M),
                'D' => (how, frag::D),
                'R' => (how, frag::R),
                c => return Err(format!("unknown fragment bit '{c}'")),
            };
            if bit == 0 && how != BitsHow::Exact {
                return Err(format!("more than one modifier in '{s}'"));
            }
            how = new_how;
            bits |= bit;
        }
        if bits == 0 {
            return Err("no fragment bits given".into());
        }
        Ok(Fragbits { bits, how })
    }

    pub fn matches(self, packet_bits: u8) -> bool {
        let f = packet_bits & (frag::R | frag::D | frag::M);
        match self.how {
            BitsHow::Exact => f == self.bits,
            BitsHow::Plus => f & self.bits == self.bits && f != self.bits,
            BitsHow::Any => f & self.bits != 0,
            BitsHow::Not => f & self.bits != self.bits,
        }
    }
}

/// IPv4 options `ipopts` can ask for, as bits of a presence mask.
pub mod ipopt {
    pub const EOL: u16 = 1 << 0;
    pub const NOP: u16 = 1 << 1;
    pub const RR: u16 = 1 << 2;
    pub const TS: u16 = 1 << 3;
    pub const SEC: u16 = 1 << 4;
    pub const ESEC: u16 = 1 << 5;
    pub const LSRR: u16 = 1 << 6;
    pub const SSRR: u16 = 1 << 7;
    pub const SATID: u16 = 1 << 8;
    /// Any option at all.
    pub const ANY: u16 = 0xffff;

    /// The mask bit of an option type octet, 0 for types we do not name.
    pub fn of_type(t: u8) -> u16 {
        match t {
            0 => EOL,
            1 => NOP,
            7 => RR,
            68 => TS,
            130 => SEC,
            133 => ESEC,
            131 => LSRR,
            137 => SSRR,
            136 => SATID,
            _ => 0,
        }
    }
}

/// `ipopts:<name>` as a mask to test against the options present.
pub fn parse_ipopts(s: &str) -> Result<u16, String> {
    use ipopt::*;
    Ok(match s.trim().to_ascii_lowercase().as_str() {
        "eol" => EOL,
        "nop" => NOP,
        "rr" => RR,
        "ts" => TS,
        "sec" => SEC,
        "esec" => ESEC,
        // `lsrre` is the same option, named for an old exploit.
        "lsrr" | "lsrre" => LSRR,
        "ssrr" => SSRR,
        "satid" => SATID,
        "any" => ANY,
        other => return Err(format!("unknown IP option '{other}'")),
    })
}

/// The options present in an IPv4 header (`header` includes the fixed
/// 20 bytes). A malformed option list ends the walk: what was read
/// before it still counts.
pub fn ipv4_options(header: &[u8]) -> u16 {
    let mut present = 0u16;
    let mut rest = header.get(20..).unwrap_or(&[]);
    while let Some((&t, tail)) = rest.split_first() {
        if t == 0 {
            // End of list; what follows is padding.
            present |= ipopt::EOL;
            break;
        }
        if t == 1 {
            present |= ipopt::NOP;
            rest = tail;
            continue;
        }
        let len = match tail.first() {
            Some(&l) if l >= 2 && usize::from(l) <= rest.len() => usize::from(l),
            _ => break,
        };
        present |= ipopt::of_type(t);
        rest = &rest[len..];
    }
    present
}

/// Which side's byte count `stream_size` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamSide {
    Server,
    Client,
    Both,
    Either,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSize {
    pub side: StreamSide,
    pub cmp: Cmp,
}

impl StreamSize {
    /// `side,op,N` with op one of `<`, `<=`, `>`, `>=`, `=`, `!=`.
    pub fn parse(s: &str) -> Result<StreamSize, String> {
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        let [side, op, n] = parts[..] else {
            return Err(format!("stream_size needs 'side,op,number', got '{s}'"));
        };
        let side = match side.to_ascii_lowercase().as_str() {
            "server" => StreamSide::Server,
            "client" => StreamSide::Client,
            "both" => StreamSide::Both,
            "either" => StreamSide::Either,
            other => return Err(format!("unknown stream_size side '{other}'")),
        };
        let n: u32 = n.parse().map_err(|_| format!("bad number '{n}'"))?;
        let cmp = match op {
            "<" => Cmp::Lt(n),
            "<=" => Cmp::Le(n),
            ">" => Cmp::Gt(n),
            ">=" => Cmp::Ge(n),
            "=" | "==" => Cmp::Eq(n),
            "!=" => Cmp::Ne(n),
            other => return Err(format!("unknown stream_size operator '{other}'")),
        };
        Ok(StreamSize { side, cmp })
    }

    /// `client`/`server`: bytes each side has sent so far.
    pub fn matches(self, client: u32, server: u32) -> bool {
        match self.side {
            StreamSide::Server => self.cmp.matches(server),
            StreamSide::Client => self.cmp.matches(client),
            StreamSide::Both => self.cmp.matches(client) && self.cmp.matches(server),
            StreamSide::Either => self.cmp.matches(client) || self.cmp.matches(server),
        }
    }
}

/// `decode-event:` / `stream-event:` value: the event name, normalised
/// to the full dotted name the engine uses (`decoder.ipv4.trunc_pkt`,
/// `stream.3whs_ack_in_wrong_dir`).
pub fn parse_event(s: &str, prefix: &str) -> Result<String, String> {
    let name = s.trim().to_ascii_lowercase();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        return Err(format!("bad event name '{s}'"));
    }
    Ok(if name.starts_with(prefix) {
        name
    } else {
        format!("{prefix}{name}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragbits_table() {
        use frag::*;
        // (rule value, packet bits, expected)
        let cases: &[(&str, u8, bool)] = &[
            ("M", M, true),
            ("M", M | D, false),
            ("D", D, true),
            ("+D", D, false),
            ("+D", D | M, true),
            ("*MR", R, true),
            ("*MR", D, false),
            ("!D", 0, true),
            ("!D", D | M, false),
            ("!DM", D, true),
            ("R", R, true),
        ];
        for &(v, bits, want) in cases {
            let f = Fragbits::parse(v).unwrap();
            assert_eq!(f.matches(bits), want, "{v} on {bits:#x}");
        }
        for bad in ["", "X", "+*M", "+"] {
            assert!(Fragbits::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ipv4_option_walk() {
        let mut h = vec![0x46u8; 20];
        // NOP, record route (len 7), then EOL.
        h.extend_from_slice(&[1, 7, 7, 4, 0, 0, 0, 0, 0]);
        let got = ipv4_options(&h);
        assert_eq!(got, ipopt::NOP | ipopt::RR | ipopt::EOL);
        // A length running past the header stops the walk, no panic.
        let mut h = vec![0x46u8; 20];
        h.extend_from_slice(&[68, 40, 0, 0]);
        assert_eq!(ipv4_options(&h), 0);
        assert_eq!(ipv4_options(&[0x45]), 0);
        assert_eq!(parse_ipopts("LSRR"), Ok(ipopt::LSRR));
        assert!(parse_ipopts("bogus").is_err());
    }

    #[test]
    fn stream_size_values() {
        let s = StreamSize::parse("server, <, 1111").unwrap();
        assert!(s.matches(5000, 10) && !s.matches(0, 1111));
        let s = StreamSize::parse("either,>=,5").unwrap();
        assert!(s.matches(5, 0) && s.matches(0, 5) && !s.matches(4, 4));
        let s = StreamSize::parse("both,!=,0").unwrap();
        assert!(s.matches(1, 1) && !s.matches(1, 0));
        for bad in ["server,<", "up,<,1", "client,~,1", "client,<,x"] {
            assert!(StreamSize::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn eq_values_and_events() {
        assert_eq!(parse_eq("!0", 65535), Ok(Cmp::Ne(0)));
        assert_eq!(parse_eq("1024", 65535), Ok(Cmp::Eq(1024)));
        assert!(parse_eq("<5", 65535).is_err());
        assert_eq!(
            parse_event("ipv4.trunc_pkt", "decoder."),
            Ok("decoder.ipv4.trunc_pkt".to_string())
        );
        assert!(parse_event("a b", "stream.").is_err());
    }
}
