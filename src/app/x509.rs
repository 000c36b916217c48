//! Just enough DER (X.690) to read a certificate's serial, issuer and
//! subject (RFC 5280 4.1), in the string forms Suricata's
//! `tls.cert_serial`, `tls.cert_issuer` and `tls.cert_subject` match:
//! the serial's bytes as uppercase hex pairs joined by `:`, and a name
//! as its attributes `C=US, O=Example, CN=host` in certificate order.
//!
//! Every element is read through a bounds-checked cursor; a length
//! that runs past its parent ends parsing with `None`.
//!
//! Approximations: attribute values are copied as their bytes (UTF-8,
//! Printable, IA5 and Teletex strings alike; BMP strings keep their
//! ASCII characters only), and an attribute type without a short name
//! here is written as its dotted OID.

use std::fmt::Write;

/// What the TLS buffers read from a certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertInfo {
    pub serial: Vec<u8>,
    pub issuer: Vec<u8>,
    pub subject: Vec<u8>,
}

/// One DER element: (tag, contents), and what follows it.
fn element(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *data.first()?;
    let first = *data.get(1)?;
    // Short form, or long form with 1..=3 length bytes (X.690 8.1.3).
    let (len, hdr) = match first {
        0..=0x7f => (usize::from(first), 2),
        0x81..=0x83 => {
            let n = usize::from(first & 0x7f);
            let bytes = data.get(2..2 + n)?;
            let len = bytes.iter().fold(0, |acc, &b| acc << 8 | usize::from(b));
            (len, 2 + n)
        }
        _ => return None,
    };
    let body = data.get(hdr..hdr + len)?;
    let rest = data.get(hdr + len..)?;
    Some((tag, body, rest))
}

/// Parses a DER certificate.
pub fn parse(der: &[u8]) -> Option<CertInfo> {
    // Certificate ::= SEQUENCE { tbsCertificate SEQUENCE, ... }
    let (0x30, cert, _) = element(der)? else {
        return None;
    };
    let (0x30, tbs, _) = element(cert)? else {
        return None;
    };
    // [0] EXPLICIT version, optional.
    let mut rest = tbs;
    if rest.first() == Some(&0xa0) {
        rest = element(rest)?.2;
    }
    let (0x02, serial, rest) = element(rest)? else {
        return None;
    };
    // signature AlgorithmIdentifier, then issuer, validity, subject.
    let (_, _, rest) = element(rest)?;
    let (0x30, issuer, rest) = element(rest)? else {
        return None;
    };
    let (_, _, rest) = element(rest)?;
    let (0x30, subject, _) = element(rest)? else {
        return None;
    };

    let mut hex = String::new();
    for (i, b) in serial.iter().enumerate() {
        let sep = if i == 0 { "" } else { ":" };
        let _ = write!(hex, "{sep}{b:02X}");
    }
    Some(CertInfo {
        serial: hex.into_bytes(),
        issuer: name(issuer)?,
        subject: name(subject)?,
    })
}

/// A Name's RDNs joined by `, `; attributes of one RDN by ` + `.
fn name(mut rdns: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    while !rdns.is_empty() {
        let (0x31, mut set, rest) = element(rdns)? else {
            return None;
        };
        rdns = rest;
        let mut first_in_set = true;
        while !set.is_empty() {
            // AttributeTypeAndValue ::= SEQUENCE { type OID, value }
            let (0x30, atv, rest) = element(set)? else {
                return None;
            };
            set = rest;
            let (0x06, oid, value) = element(atv)? else {
                return None;
            };
            let (vtag, value, _) = element(value)?;
            let sep: &[u8] = match (out.is_empty(), first_in_set) {
                (true, _) => b"",
                (false, true) => b", ",
                (false, false) => b" + ",
            };
            out.extend_from_slice(sep);
            first_in_set = false;
            out.extend_from_slice(short_name(oid).as_bytes());
            out.push(b'=');
            match vtag {
                // BMPString: UTF-16BE; keep what is ASCII.
                0x1e => out.extend(
                    value
                        .chunks(2)
                        .filter(|c| c.len() == 2 && c[0] == 0)
                        .map(|c| c[1]),
                ),
                _ => out.extend_from_slice(value),
            }
        }
    }
    Some(out)
}

/// The usual short name of an attribute type, else its dotted OID.
fn short_name(oid: &[u8]) -> String {
    let known: &[(&[u8], &str)] = &[
        (&[0x55, 0x04, 0x03], "CN"),
        (&[0x55, 0x04, 0x05], "serialNumber"),
        (&[0x55, 0x04, 0x06], "C"),
        (&[0x55, 0x04, 0x07], "L"),
        (&[0x55, 0x04, 0x08], "ST"),
        (&[0x55, 0x04, 0x09], "street"),
        (&[0x55, 0x04, 0x0a], "O"),
        (&[0x55, 0x04, 0x0b], "OU"),
        (
            &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01],
            "emailAddress",
        ),
    ];
    if let Some((_, n)) = known.iter().find(|(o, _)| *o == oid) {
        return (*n).to_string();
    }
    dotted(oid)
}

/// X.690 8.19: the first byte holds two arcs, the rest base-128.
fn dotted(oid: &[u8]) -> String {
    let mut out = String::new();
    let mut arc: u64 = 0;
    for &b in oid {
        arc = arc.saturating_mul(128) | u64::from(b & 0x7f);
        if b & 0x80 != 0 {
            continue;
        }
        if out.is_empty() {
            let (a, b) = match arc {
                0..=39 => (0, arc),
                40..=79 => (1, arc - 40),
                _ => (2, arc - 80),
            };
            let _ = write!(out, "{a}.{b}");
        } else {
            let _ = write!(out, ".{arc}");
        }
        arc = 0;
    }
    out
}

/// DER of one attribute: SET { SEQUENCE { OID 2.5.4.x, string } }.
fn rdn(attr: u8, vtag: u8, value: &str) -> Vec<u8> {
    let mut atv = vec![0x06, 0x03, 0x55, 0x04, attr, vtag, value.len() as u8];
    atv.extend_from_slice(value.as_bytes());
    let mut seq = vec![0x30, atv.len() as u8];
    seq.extend(atv);
    let mut set = vec![0x31, seq.len() as u8];
    set.extend(seq);
    set
}

fn wrap(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    if body.len() < 0x80 {
        out.push(body.len() as u8);
    } else {
        out.extend_from_slice(&[0x82, (body.len() >> 8) as u8, body.len() as u8]);
    }
    out.extend_from_slice(body);
    out
}

/// For tests here and in the engine tests (not part of the API): a
/// certificate skeleton: version, serial, algorithm, issuer
/// (C, O, CN), validity, subject (CN); nothing after the subject.
#[doc(hidden)]
pub fn test_cert(subject_cn: &str) -> Vec<u8> {
    let issuer = [
        rdn(0x06, 0x13, "US"),
        rdn(0x0a, 0x0c, "Let's Encrypt"),
        rdn(0x03, 0x13, "R3"),
    ]
    .concat();
    let mut tbs = vec![0xa0, 0x03, 0x02, 0x01, 0x02]; // [0] v3
    tbs.extend(wrap(0x02, &[0x00, 0xe7, 0x0a])); // serial
    tbs.extend(wrap(0x30, &[0x06, 0x01, 0x2a])); // algorithm
    tbs.extend(wrap(0x30, &issuer));
    tbs.extend(wrap(0x30, &[0x17, 0x00, 0x17, 0x00])); // validity
    tbs.extend(wrap(0x30, &rdn(0x03, 0x0c, subject_cn)));
    wrap(0x30, &wrap(0x30, &tbs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_serial() {
        let c = parse(&test_cert("evil.example")).expect("parses");
        assert_eq!(c.serial, b"00:E7:0A");
        assert_eq!(c.issuer, b"C=US, O=Let's Encrypt, CN=R3");
        assert_eq!(c.subject, b"CN=evil.example");
    }

    #[test]
    fn truncated_and_odd() {
        let der = test_cert("evil.example");
        for n in 0..der.len() {
            assert_eq!(parse(&der[..n]), None, "cut at {n}");
        }
        assert_eq!(dotted(&[0x2a, 0x86, 0x48]), "1.2.840");
        assert_eq!(short_name(&[0x55, 0x04, 0x2a]), "2.5.4.42");
    }
}
