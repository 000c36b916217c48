//! Streaming gzip / deflate decoding of response bodies, bounded.
//!
//! Content-Encoding `gzip`/`x-gzip` (RFC 1952) and `deflate` (zlib,
//! RFC 1950, or the raw RFC 1951 stream some servers send instead) are
//! decoded with flate2's pure-Rust backend into a fixed 8 KiB buffer per
//! step, so memory stays bounded whatever the input. At most `limit`
//! decoded bytes are produced per body; past that the decoder stops and
//! raises `compression_bomb`. The consumer can also stop it early (its
//! body buffer is full).
//!
//! When decoding fails before any byte was produced (a body labelled
//! gzip that is not), the body is passed through as it is, from its
//! first byte, so mislabelled content is still inspected: the raw bytes
//! are kept until the first decoded byte appears, up to
//! [`RAW_KEEP`]. A failure later, or past that, stops decoding. Both
//! raise `gzip_decompression_failed`. Only the first gzip member is
//! decoded.
//!
//! Valid streams decode to the same bytes however the body was split.
//! For a damaged stream, how much the inflater emits before it reports
//! the damage depends on how its input arrived, so the decoded prefix
//! (and whether the body limit or the error came first) may differ
//! between two captures of the same bytes. Removing that would mean
//! feeding the inflater fixed-size blocks, delaying inspection.

use flate2::{Decompress, FlushDecompress, Status};

use super::event::Anomaly;

/// Longest gzip header kept while waiting for its end (file name and
/// comment fields included).
const GZIP_HEADER_MAX: usize = 4096;
const OUT_STEP: usize = 8 * 1024;
/// Raw bytes kept while nothing has been decoded yet, to pass a
/// mislabelled body through whole.
pub const RAW_KEEP: usize = 4096;

/// The content coding of a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Identity,
    Gzip,
    Deflate,
}

impl Coding {
    /// From a Content-Encoding value. Codings this parser cannot decode
    /// (br, zstd, compress) are inspected as identity; a list of several
    /// codings is flagged `abnormal_ce_header` and not decoded.
    pub fn from_header(value: &[u8], anomalies: &mut Vec<Anomaly>) -> Coding {
        let mut codings = value
            .split(|&b| b == b',')
            .map(super::header::trim)
            .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case(b"identity"));
        let first = codings.next();
        if codings.next().is_some() {
            anomalies.push(Anomaly::AbnormalCeHeader);
            return Coding::Identity;
        }
        match first {
            Some(c) if c.eq_ignore_ascii_case(b"gzip") || c.eq_ignore_ascii_case(b"x-gzip") => {
                Coding::Gzip
            }
            Some(c) if c.eq_ignore_ascii_case(b"deflate") => Coding::Deflate,
            _ => Coding::Identity,
        }
    }
}

#[derive(Debug)]
enum State {
    /// Collecting the gzip header or the first two (zlib) bytes.
    Header(Vec<u8>),
    Inflate(Box<Decompress>),
    /// Not compressed after all: bytes go through untouched.
    Passthrough,
    /// Finished, failed late, or stopped by a cap.
    Stopped,
}

/// Decodes one body.
#[derive(Debug)]
pub struct Decoder {
    coding: Coding,
    state: State,
    produced: u64,
    limit: u64,
    /// Every raw byte so far, while nothing was decoded and at most
    /// [`RAW_KEEP`]; `None` once either stops being true.
    raw: Option<Vec<u8>>,
}

impl Decoder {
    pub fn new(coding: Coding, limit: u64) -> Decoder {
        let state = match coding {
            Coding::Identity => State::Passthrough,
            Coding::Gzip | Coding::Deflate => State::Header(Vec::new()),
        };
        let raw = (coding != Coding::Identity).then(Vec::new);
        Decoder {
            coding,
            state,
            produced: 0,
            limit,
            raw,
        }
    }

    /// Decode `input`, handing output to `sink`, which returns false
    /// once it wants no more.
    pub fn write(
        &mut self,
        input: &[u8],
        sink: &mut dyn FnMut(&[u8]) -> bool,
        anomalies: &mut Vec<Anomaly>,
    ) {
        if let Some(raw) = self.raw.as_mut() {
            if raw.len() + input.len() <= RAW_KEEP {
                raw.extend_from_slice(input);
            } else {
                self.raw = None;
            }
        }
        match &mut self.state {
            State::Passthrough => {
                if !sink(input) {
                    self.state = State::Stopped;
                }
            }
            State::Stopped => {}
            State::Header(buf) => {
                let room = GZIP_HEADER_MAX.saturating_sub(buf.len());
                buf.extend_from_slice(&input[..input.len().min(room)]);
                let rest = &input[input.len().min(room)..];
                match self.start(rest) {
                    Start::Wait => {}
                    Start::Inflate(tail) => self.inflate(&tail, sink, anomalies),
                    Start::Bad => self.give_up(sink, anomalies),
                }
            }
            State::Inflate(_) => self.inflate(input, sink, anomalies),
        }
    }

    /// Decide from the collected header bytes how to go on.
    fn start(&mut self, rest: &[u8]) -> Start {
        let State::Header(buf) = &mut self.state else {
            return Start::Wait;
        };
        let (skip, zlib) = match self.coding {
            Coding::Gzip => match gzip_header_len(buf) {
                Ok(Some(n)) => (n, false),
                Ok(None) if buf.len() < GZIP_HEADER_MAX => return Start::Wait,
                _ => return Start::Bad,
            },
            _ => match buf.as_slice() {
                [] | [_] => return Start::Wait,
                [cmf, flg, ..] => (0, is_zlib_header(*cmf, *flg)),
            },
        };

        let mut tail = buf.split_off(skip.min(buf.len()));
        tail.extend_from_slice(rest);
        self.state = State::Inflate(Box::new(Decompress::new(zlib)));
        Start::Inflate(tail)
    }

    fn inflate(
        &mut self,
        mut input: &[u8],
        sink: &mut dyn FnMut(&[u8]) -> bool,
        anomalies: &mut Vec<Anomaly>,
    ) {
        let State::Inflate(d) = &mut self.state else {
            return;
        };
        let mut out = [0u8; OUT_STEP];
        loop {
            let (in0, out0) = (d.total_in(), d.total_out());
            let status = d.decompress(input, &mut out, FlushDecompress::None);
            let used = usize::try_from(d.total_in() - in0).unwrap_or(input.len());
            let made = usize::try_from(d.total_out() - out0)
                .unwrap_or(0)
                .min(OUT_STEP);
            input = &input[used.min(input.len())..];

            let Ok(status) = status else {
                self.give_up(sink, anomalies);
                return;
            };

            // Hand over what was made, within the bomb cap.
            if made > 0 {
                self.raw = None;
                let room = self.limit.saturating_sub(self.produced);
                let give = usize::try_from(room).map_or(made, |r| r.min(made));
                self.produced += give as u64;
                // A full body stops decoding first, so which cap is
                // reported does not depend on how the input was split.
                if !sink(&out[..give]) {
                    self.state = State::Stopped;
                    return;
                }
                if give < made {
                    anomalies.push(Anomaly::CompressionBomb);
                    self.state = State::Stopped;
                    return;
                }
            }
            if status == Status::StreamEnd {
                self.state = State::Stopped;
                return;
            }
            if made < OUT_STEP && (input.is_empty() || used == 0) {
                return;
            }
        }
    }
}

impl Decoder {
    /// Decoding failed: pass the body through raw when it was kept whole
    /// (nothing decoded yet), else stop.
    fn give_up(&mut self, sink: &mut dyn FnMut(&[u8]) -> bool, anomalies: &mut Vec<Anomaly>) {
        anomalies.push(Anomaly::GzipDecompressionFailed);
        self.state = State::Stopped;
        if let Some(raw) = self.raw.take() {
            if sink(&raw) {
                self.state = State::Passthrough;
            }
        }
    }
}

enum Start {
    Wait,
    Inflate(Vec<u8>),
    Bad,
}

/// RFC 1950 2.2: compression method 8 and a header checksum that is a
/// multiple of 31.
fn is_zlib_header(cmf: u8, flg: u8) -> bool {
    cmf & 0x0f == 8 && (u16::from(cmf) << 8 | u16::from(flg)) % 31 == 0
}

/// Length of the RFC 1952 member header at the start of `b`: `Ok(None)`
/// while incomplete, `Err` when it is not a gzip header.
fn gzip_header_len(b: &[u8]) -> Result<Option<usize>, ()> {
    const FHCRC: u8 = 0x02;
    const FEXTRA: u8 = 0x04;
    const FNAME: u8 = 0x08;
    const FCOMMENT: u8 = 0x10;

    // ID1 ID2 CM FLG MTIME(4) XFL OS
    for (i, want) in [0x1f, 0x8b, 0x08].into_iter().enumerate() {
        match b.get(i) {
            Some(&got) if got != want => return Err(()),
            None => return Ok(None),
            _ => {}
        }
    }
    let Some(&flags) = b.get(3) else {
        return Ok(None);
    };
    let mut pos = 10;

    if flags & FEXTRA != 0 {
        let (Some(&lo), Some(&hi)) = (b.get(pos), b.get(pos + 1)) else {
            return Ok(None);
        };
        pos += 2 + usize::from(u16::from_le_bytes([lo, hi]));
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            match b.get(pos..).and_then(|s| memchr::memchr(0, s)) {
                Some(i) => pos += i + 1,
                None => return Ok(None),
            }
        }
    }
    if flags & FHCRC != 0 {
        pos += 2;
    }
    Ok((b.len() >= pos).then_some(pos))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
    use flate2::Compression;
    use std::io::Write;

    pub fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).ok();
        e.finish().unwrap_or_default()
    }

    fn decode(coding: Coding, wire: &[u8], step: usize, limit: u64) -> (Vec<u8>, Vec<Anomaly>) {
        let mut d = Decoder::new(coding, limit);
        let mut out = Vec::new();
        let mut an = Vec::new();
        for piece in wire.chunks(step) {
            d.write(
                piece,
                &mut |b| {
                    out.extend_from_slice(b);
                    true
                },
                &mut an,
            );
        }
        (out, an)
    }

    #[test]
    fn gzip_any_split() {
        let text = b"<html>hello hello hello gzip</html>".repeat(20);
        let wire = gzip(&text);
        for step in [1, 2, 3, 7, 10, 11, 64, wire.len()] {
            let (out, an) = decode(Coding::Gzip, &wire, step, 1 << 20);
            assert_eq!(out, text, "step {step}");
            assert!(an.is_empty());
        }
    }

    #[test]
    fn gzip_header_fields() {
        // FEXTRA + FNAME + FCOMMENT + FHCRC set.
        let mut h = vec![0x1f, 0x8b, 8, 0x1e, 0, 0, 0, 0, 0, 3, 2, 0, b'x', b'y'];
        h.extend_from_slice(b"name\0comment\0\xaa\xbb");
        assert_eq!(gzip_header_len(&h), Ok(Some(h.len())));
        assert_eq!(gzip_header_len(&h[..h.len() - 1]), Ok(None));
        assert_eq!(gzip_header_len(b"\x1f\x8c"), Err(()));
    }

    #[test]
    fn deflate_zlib_and_raw() {
        let text = b"deflated body ".repeat(50);
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(&text).ok();
        let zlib = z.finish().unwrap_or_default();
        let mut r = DeflateEncoder::new(Vec::new(), Compression::default());
        r.write_all(&text).ok();
        let raw = r.finish().unwrap_or_default();
        for wire in [zlib, raw] {
            for step in [1, 5, wire.len()] {
                let (out, an) = decode(Coding::Deflate, &wire, step, 1 << 20);
                assert_eq!(out, text);
                assert!(an.is_empty());
            }
        }
    }

    #[test]
    fn bomb_is_capped() {
        let zeros = vec![0u8; 4 << 20];
        let wire = gzip(&zeros);
        assert!(wire.len() < 10_000);
        let (out, an) = decode(Coding::Gzip, &wire, 1000, 100_000);
        assert_eq!(out.len(), 100_000);
        assert_eq!(an, vec![Anomaly::CompressionBomb]);
    }

    #[test]
    fn mislabelled_body_passes_through() {
        let (out, an) = decode(Coding::Gzip, b"plain text, not gzip", 4, 1000);
        assert_eq!(out, b"plain text, not gzip");
        assert_eq!(an, vec![Anomaly::GzipDecompressionFailed]);
        // A valid gzip header, then garbage: still passed through whole.
        let mut bad = gzip(b"x")[..10].to_vec();
        bad.extend_from_slice(b"\xff\xff not deflate at all");
        for step in [1, 3, bad.len()] {
            let (out, an) = decode(Coding::Gzip, &bad, step, 1000);
            assert_eq!(out, bad, "step {step}");
            assert_eq!(an, vec![Anomaly::GzipDecompressionFailed]);
        }
        let (out, _) = decode(Coding::Deflate, b"plain text", 1, 1000);
        assert_eq!(out, b"plain text");
    }

    #[test]
    fn coding_names() {
        let mut an = Vec::new();
        assert_eq!(Coding::from_header(b"GZIP", &mut an), Coding::Gzip);
        assert_eq!(Coding::from_header(b" x-gzip ", &mut an), Coding::Gzip);
        assert_eq!(Coding::from_header(b"deflate", &mut an), Coding::Deflate);
        assert_eq!(Coding::from_header(b"br", &mut an), Coding::Identity);
        assert!(an.is_empty());
        assert_eq!(
            Coding::from_header(b"gzip, deflate", &mut an),
            Coding::Identity
        );
        assert_eq!(an, vec![Anomaly::AbnormalCeHeader]);
    }
}
