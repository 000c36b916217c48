//! Message body framing: Content-Length, chunked, and until-close.
//!
//! [`Framing::feed`] takes stream bytes, hands the body bytes it finds
//! to a sink (dechunked) and says how many stream bytes belonged to the
//! body, so the caller can parse the next message from the rest.
//! Nothing here stores body bytes except a chunk-size line (at most
//! [`CHUNK_LINE_MAX`]) and a trailer block (at most the header cap).

use super::event::Anomaly;
use super::header::BlockReader;
use crate::flow::Dir;

/// Longest chunk-size line kept (size, extensions and CRLF); a longer
/// one is an invalid chunk length.
pub const CHUNK_LINE_MAX: usize = 1024;

/// How the body of one message is delimited (RFC 9112 6).
#[derive(Debug)]
pub(super) enum Framing {
    /// `left` more bytes (Content-Length).
    Length { left: u64 },
    /// Transfer-Encoding: chunked.
    Chunked(Chunk),
    /// Until the sender closes the connection.
    UntilClose,
}

/// Where a chunked body is.
#[derive(Debug)]
pub(super) enum Chunk {
    /// Reading a `hex-size[;ext]` line.
    Size(Vec<u8>),
    /// Inside chunk data.
    Data { left: u64 },
    /// After chunk data, up to the end of its line (CRLF expected).
    DataEnd,
    /// After the last (zero) chunk: trailer fields up to an empty line.
    Trailer(BlockReader),
}

/// The end of a body.
#[derive(Debug, Default)]
pub(super) struct BodyEnd {
    /// The trailer block of a chunked body (may be just the final CRLF).
    pub trailer: Option<Vec<u8>>,
}

impl Framing {
    pub fn chunked() -> Framing {
        Framing::Chunked(Chunk::Size(Vec::new()))
    }

    /// Consume body bytes from `data`. Returns the stream bytes used and,
    /// when the body ended within them, how it ended. `trailer_cap`
    /// bounds the trailer block kept.
    pub fn feed(
        &mut self,
        data: &[u8],
        dir: Dir,
        trailer_cap: usize,
        sink: &mut dyn FnMut(&[u8], &mut Vec<Anomaly>),
        anomalies: &mut Vec<Anomaly>,
    ) -> (usize, Option<BodyEnd>) {
        match self {
            Framing::Length { left } => {
                let n = clamp(*left, data.len());
                sink(&data[..n], anomalies);
                *left -= n as u64;
                let end = (*left == 0).then(BodyEnd::default);
                (n, end)
            }
            Framing::UntilClose => {
                sink(data, anomalies);
                (data.len(), None)
            }
            Framing::Chunked(_) => self.feed_chunked(data, dir, trailer_cap, sink, anomalies),
        }
    }

    fn feed_chunked(
        &mut self,
        data: &[u8],
        dir: Dir,
        trailer_cap: usize,
        sink: &mut dyn FnMut(&[u8], &mut Vec<Anomaly>),
        anomalies: &mut Vec<Anomaly>,
    ) -> (usize, Option<BodyEnd>) {
        let mut pos = 0;
        while pos < data.len() {
            let Framing::Chunked(chunk) = self else {
                // An invalid size line switched us to until-close.
                return (
                    pos + self.feed(&data[pos..], dir, 0, sink, anomalies).0,
                    None,
                );
            };
            let rest = &data[pos..];
            match chunk {
                Chunk::Size(line) => {
                    let (n, complete) = take_line(line, rest);
                    pos += n;
                    if line.len() > CHUNK_LINE_MAX {
                        let line = std::mem::take(line);
                        *self = invalid_size(&line, dir, sink, anomalies);
                        continue;
                    }
                    if !complete {
                        continue;
                    }
                    match parse_size(line) {
                        Some((size, ext)) => {
                            if ext {
                                anomalies.push(Anomaly::for_dir(
                                    dir,
                                    Anomaly::RequestChunkExtension,
                                    Anomaly::ResponseChunkExtension,
                                ));
                            }
                            *chunk = if size == 0 {
                                Chunk::Trailer(BlockReader::default())
                            } else {
                                Chunk::Data { left: size }
                            };
                        }
                        None => {
                            let line = std::mem::take(line);
                            *self = invalid_size(&line, dir, sink, anomalies);
                        }
                    }
                }
                Chunk::Data { left } => {
                    let n = clamp(*left, rest.len());
                    sink(&rest[..n], anomalies);
                    *left -= n as u64;
                    pos += n;
                    if *left == 0 {
                        *chunk = Chunk::DataEnd;
                    }
                }
                Chunk::DataEnd => {
                    // Lenient: anything up to the LF ends the chunk.
                    match memchr::memchr(b'\n', rest) {
                        Some(i) => {
                            pos += i + 1;
                            *chunk = Chunk::Size(Vec::new());
                        }
                        None => pos = data.len(),
                    }
                }
                Chunk::Trailer(reader) => {
                    let (n, done) = reader.feed(rest, trailer_cap);
                    pos += n;
                    if done {
                        let trailer = Some(reader.take());
                        return (pos, Some(BodyEnd { trailer }));
                    }
                }
            }
        }
        (pos, None)
    }
}

fn clamp(left: u64, avail: usize) -> usize {
    usize::try_from(left).map_or(avail, |l| l.min(avail))
}

/// Move bytes up to and including a LF into `line`, stopping one byte
/// past the cap so the caller sees the overflow; bytes past that stay
/// unconsumed, so where the stream was split does not matter.
fn take_line(line: &mut Vec<u8>, rest: &[u8]) -> (usize, bool) {
    let (n, complete) = match memchr::memchr(b'\n', rest) {
        Some(i) => (i + 1, true),
        None => (rest.len(), false),
    };
    let room = (CHUNK_LINE_MAX + 1).saturating_sub(line.len());
    let take = n.min(room);
    line.extend_from_slice(&rest[..take]);
    (take, complete && take == n)
}

/// An unusable chunk-size line: flag it and treat the rest of the stream
/// as body, so the bytes are still inspected rather than skipped.
fn invalid_size(
    line: &[u8],
    dir: Dir,
    sink: &mut dyn FnMut(&[u8], &mut Vec<Anomaly>),
    anomalies: &mut Vec<Anomaly>,
) -> Framing {
    anomalies.push(Anomaly::for_dir(
        dir,
        Anomaly::InvalidRequestChunkLen,
        Anomaly::InvalidResponseChunkLen,
    ));
    sink(line, anomalies);
    Framing::UntilClose
}

/// Parse `[ws] hex [ws] [; ext] CRLF`; returns the size and whether an
/// extension was present. More than 15 hex digits is refused (a size
/// that does not fit any real body, and an overflow trick).
fn parse_size(line: &[u8]) -> Option<(u64, bool)> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = super::header::trim(line);

    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 || digits > 15 {
        return None;
    }
    let text = std::str::from_utf8(&line[..digits]).ok()?;
    let size = u64::from_str_radix(text, 16).ok()?;

    let rest = super::header::trim_start(&line[digits..]);
    match rest.first() {
        None => Some((size, false)),
        Some(b';') => Some((size, true)),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run `data` through `framing` in pieces of `step` bytes.
    fn run(
        mut framing: Framing,
        data: &[u8],
        step: usize,
    ) -> (Vec<u8>, usize, Option<BodyEnd>, Vec<Anomaly>) {
        let mut body = Vec::new();
        let mut an = Vec::new();
        let mut used = 0;
        for piece in data.chunks(step) {
            let mut off = 0;
            while off < piece.len() {
                let (n, end) = framing.feed(
                    &piece[off..],
                    Dir::ToClient,
                    64,
                    &mut |b, _| body.extend_from_slice(b),
                    &mut an,
                );
                off += n;
                used += n;
                if end.is_some() {
                    return (body, used, end, an);
                }
                if n == 0 {
                    break;
                }
            }
        }
        (body, used, None, an)
    }

    #[test]
    fn chunked_with_extensions_and_trailer() {
        // 4 bytes "Wiki", 5 bytes "pedia" with an extension, end, trailer.
        let wire = b"4\r\nWiki\r\n5;name=v\r\npedia\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        for step in 1..wire.len() {
            let (body, used, end, an) = run(Framing::chunked(), wire, step);
            assert_eq!(body, b"Wikipedia", "step {step}");
            assert_eq!(used, wire.len() - 4);
            assert_eq!(
                end.and_then(|e| e.trailer).as_deref(),
                Some(&b"X-T: 1\r\n\r\n"[..])
            );
            assert_eq!(an, vec![Anomaly::ResponseChunkExtension]);
        }
    }

    #[test]
    fn chunk_sizes() {
        assert_eq!(parse_size(b"1a\r\n"), Some((26, false)));
        assert_eq!(parse_size(b" 0 ;x\r\n"), Some((0, true)));
        assert_eq!(
            parse_size(b"fffffffffffffff\n"),
            Some((0xfff_ffff_ffff_ffff, false))
        );
        assert_eq!(parse_size(b"1000000000000000\r\n"), None);
        assert_eq!(parse_size(b"zz\r\n"), None);
        assert_eq!(parse_size(b"\r\n"), None);
        assert_eq!(parse_size(b"5 x\r\n"), None);
    }

    #[test]
    fn invalid_chunk_size_becomes_until_close() {
        let (body, _, end, an) = run(Framing::chunked(), b"xyz\r\nplain text", 3);
        assert!(end.is_none());
        assert_eq!(body, b"xyz\r\nplain text");
        assert_eq!(an, vec![Anomaly::InvalidResponseChunkLen]);
        let long = vec![b'1'; CHUNK_LINE_MAX + 10];
        let (_, _, _, an) = run(Framing::chunked(), &long, 100);
        assert_eq!(an, vec![Anomaly::InvalidResponseChunkLen]);
    }

    #[test]
    fn content_length() {
        let (body, used, end, _) = run(Framing::Length { left: 3 }, b"abcdef", 1);
        assert_eq!(
            (body.as_slice(), used, end.is_some()),
            (&b"abc"[..], 3, true)
        );
    }
}
