//! Header blocks: collecting them from a stream, then parsing them.
//!
//! [`BlockReader`] gathers the lines of a header (or trailer) block from
//! arbitrary pieces until the empty line that ends it, storing at most a
//! cap of bytes; past the cap it keeps scanning for the end without
//! storing. [`Headers::parse`] then splits the stored block into fields.
//! Lines end in LF with an optional CR before it (bare LF is accepted, as
//! servers accept it).

use memchr::memchr;

use super::event::Anomaly;
use crate::flow::Dir;

/// Collects a block of lines that ends with an empty line.
#[derive(Debug, Default)]
pub(super) struct BlockReader {
    buf: Vec<u8>,
    /// Bytes of the current, unfinished line seen so far.
    cur_len: usize,
    /// The current line so far is exactly one CR.
    cur_is_cr: bool,
    /// The cap was reached: later bytes are scanned, not stored.
    overflow: bool,
}

impl BlockReader {
    /// Take bytes from `data` until the block ends. Returns how many were
    /// consumed and whether the block is complete; at most `cap` bytes
    /// are kept.
    pub fn feed(&mut self, data: &[u8], cap: usize) -> (usize, bool) {
        let mut pos = 0;
        while pos < data.len() {
            let rest = &data[pos..];
            let Some(i) = memchr(b'\n', rest) else {
                self.note_piece(rest);
                self.store(rest, cap);
                return (data.len(), false);
            };

            // A line ends here; it closes the block when it is empty.
            let piece = &rest[..i];
            self.note_piece(piece);
            let empty = self.cur_len == 0 || (self.cur_len == 1 && self.cur_is_cr);
            self.store(&rest[..=i], cap);
            pos += i + 1;
            self.cur_len = 0;
            self.cur_is_cr = false;
            if empty {
                return (pos, true);
            }
        }
        (pos, false)
    }

    fn note_piece(&mut self, piece: &[u8]) {
        if piece.is_empty() {
            return;
        }
        self.cur_is_cr = self.cur_len == 0 && piece == b"\r";
        self.cur_len = self.cur_len.saturating_add(piece.len());
    }

    fn store(&mut self, piece: &[u8], cap: usize) {
        let room = cap.saturating_sub(self.buf.len());
        if piece.len() > room {
            self.overflow = true;
        }
        let n = piece.len().min(room);
        self.buf.extend_from_slice(&piece[..n]);
    }

    /// Whether bytes were dropped because of the cap.
    pub fn overflowed(&self) -> bool {
        self.overflow
    }

    /// Bytes stored so far.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Hand over the stored block and reset for the next one.
    pub fn take(&mut self) -> Vec<u8> {
        self.cur_len = 0;
        self.cur_is_cr = false;
        self.overflow = false;
        std::mem::take(&mut self.buf)
    }
}

/// One header field as it appeared (folded continuation lines joined
/// with a single space).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: Vec<u8>,
    pub value: Vec<u8>,
}

impl Header {
    /// `Name: value`, the form `http.request_header` and
    /// `http.response_header` inspect (one buffer per field).
    pub fn line(&self) -> Vec<u8> {
        let mut l = Vec::with_capacity(self.name.len() + 2 + self.value.len());
        l.extend_from_slice(&self.name);
        l.extend_from_slice(b": ");
        l.extend_from_slice(&self.value);
        l
    }
}

/// The parsed header block of one message, plus the buffers Suricata's
/// header keywords inspect.
#[derive(Debug, Clone, Default)]
pub struct Headers {
    /// Fields in wire order, repeats kept apart.
    fields: Vec<Header>,
    /// Fields with the same name (ASCII case-insensitive) merged into
    /// the first one's place, values joined with ", ".
    merged: Vec<Header>,
    raw: Vec<u8>,
    normalized: Vec<u8>,
    names: Vec<u8>,
}

impl Headers {
    /// Parse a header block (the bytes after the start line, up to and
    /// including the empty line). Anomalies go to `anomalies`; at most
    /// `max_fields` fields are kept.
    pub(super) fn parse(
        block: Vec<u8>,
        dir: Dir,
        max_fields: usize,
        anomalies: &mut Vec<Anomaly>,
    ) -> Headers {
        let mut fields: Vec<Header> = Vec::new();
        let mut too_many = false;

        for line in block.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                continue;
            }

            // obs-fold (RFC 9112 5.2): a line starting with whitespace
            // continues the previous field's value.
            if matches!(line[0], b' ' | b'\t') {
                if let Some(prev) = fields.last_mut() {
                    let more = trim(line);
                    if !more.is_empty() {
                        prev.value.push(b' ');
                        prev.value.extend_from_slice(more);
                    }
                    continue;
                }
                anomalies.push(Anomaly::for_dir(
                    dir,
                    Anomaly::InvalidRequestFieldFolding,
                    Anomaly::InvalidResponseFieldFolding,
                ));
            }

            if fields.len() >= max_fields {
                if !too_many {
                    too_many = true;
                    anomalies.push(Anomaly::for_dir(
                        dir,
                        Anomaly::RequestTooManyHeaders,
                        Anomaly::ResponseTooManyHeaders,
                    ));
                }
                continue;
            }
            fields.push(parse_field(trim_start(line), dir, anomalies));
        }

        let merged = merge(&fields);
        let (normalized, names) = buffers(&merged);
        Headers {
            fields,
            merged,
            raw: block,
            normalized,
            names,
        }
    }

    /// The merged value of field `name` (ASCII case-insensitive).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.merged
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name.as_bytes()))
            .map(|h| h.value.as_slice())
    }

    /// How many times field `name` appeared.
    pub fn count(&self, name: &str) -> usize {
        self.fields
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name.as_bytes()))
            .count()
    }

    /// Values of every `name` field, in wire order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.fields
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name.as_bytes()))
            .map(|h| h.value.as_slice())
    }

    /// Fields in wire order (for `http.request_header` /
    /// `http.response_header`, one buffer per field).
    pub fn fields(&self) -> &[Header] {
        &self.fields
    }

    /// Fields merged by name, in order of first appearance.
    pub fn merged(&self) -> &[Header] {
        &self.merged
    }

    /// The block as received, with the final empty line
    /// (`http.header.raw`).
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// `Name: value\r\n` per merged field, names as sent, values trimmed
    /// (`http.header`).
    pub fn normalized(&self) -> &[u8] {
        &self.normalized
    }

    /// `\r\nName1\r\nName2\r\n\r\n` (`http.header_names`).
    pub fn names(&self) -> &[u8] {
        &self.names
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Bytes held by this block and its derived buffers (an estimate
    /// that ignores allocator slack).
    pub fn held_bytes(&self) -> usize {
        let fields =
            |v: &[Header]| -> usize { v.iter().map(|h| h.name.len() + h.value.len()).sum() };
        fields(&self.fields)
            + fields(&self.merged)
            + self.raw.len()
            + self.normalized.len()
            + self.names.len()
    }
}

/// Split `Name: value`. A line without a colon becomes a field with that
/// name and an empty value; a name with whitespace or other non-token
/// bytes is kept (trimmed) and flagged, since servers differ on it.
fn parse_field(line: &[u8], dir: Dir, anomalies: &mut Vec<Anomaly>) -> Header {
    let Some(colon) = memchr(b':', line) else {
        anomalies.push(Anomaly::for_dir(
            dir,
            Anomaly::RequestFieldMissingColon,
            Anomaly::ResponseFieldMissingColon,
        ));
        return Header {
            name: trim(line).to_vec(),
            value: Vec::new(),
        };
    };

    let raw_name = &line[..colon];
    let name = trim(raw_name);
    if name.is_empty() || name.len() != raw_name.len() || !name.iter().all(|&b| is_tchar(b)) {
        anomalies.push(Anomaly::for_dir(
            dir,
            Anomaly::RequestHeaderInvalid,
            Anomaly::ResponseHeaderInvalid,
        ));
    }
    Header {
        name: name.to_vec(),
        value: trim(&line[colon + 1..]).to_vec(),
    }
}

fn merge(fields: &[Header]) -> Vec<Header> {
    let mut merged: Vec<Header> = Vec::new();
    for f in fields {
        match merged
            .iter_mut()
            .find(|m| m.name.eq_ignore_ascii_case(&f.name))
        {
            Some(m) => {
                m.value.extend_from_slice(b", ");
                m.value.extend_from_slice(&f.value);
            }
            None => merged.push(f.clone()),
        }
    }
    merged
}

fn buffers(merged: &[Header]) -> (Vec<u8>, Vec<u8>) {
    let mut normalized = Vec::new();
    let mut names = Vec::new();
    names.extend_from_slice(b"\r\n");
    for h in merged {
        normalized.extend_from_slice(&h.name);
        normalized.extend_from_slice(b": ");
        normalized.extend_from_slice(&h.value);
        normalized.extend_from_slice(b"\r\n");
        names.extend_from_slice(&h.name);
        names.extend_from_slice(b"\r\n");
    }
    names.extend_from_slice(b"\r\n");
    (normalized, names)
}

/// RFC 9110 5.6.2 token characters.
pub(super) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

pub(super) fn trim(s: &[u8]) -> &[u8] {
    trim_end(trim_start(s))
}

pub(super) fn trim_start(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
    &s[n..]
}

pub(super) fn trim_end(s: &[u8]) -> &[u8] {
    let n = s
        .iter()
        .rev()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    &s[..s.len() - n]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(pieces: &[&[u8]], cap: usize) -> (Vec<u8>, usize, bool) {
        let mut r = BlockReader::default();
        let mut used = 0;
        for p in pieces {
            let (n, done) = r.feed(p, cap);
            used += n;
            if done {
                return (r.take(), used, true);
            }
        }
        (r.take(), used, false)
    }

    #[test]
    fn block_ends_at_empty_line_across_splits() {
        let (b, used, done) = read_all(&[b"A: 1\r", b"\n\r", b"\nBODY"], 100);
        assert!(done);
        assert_eq!(b, b"A: 1\r\n\r\n");
        assert_eq!(used, 5 + 2 + 1);
        // Bare LF line endings.
        let (b, _, done) = read_all(&[b"A: 1\n\nrest"], 100);
        assert!(done);
        assert_eq!(b, b"A: 1\n\n");
        // An empty block.
        let (b, _, done) = read_all(&[b"\r\nX"], 100);
        assert!(done && b == b"\r\n");
        // "\r\r\n" is not an empty line.
        let (_, _, done) = read_all(&[b"A: 1\r\n\r\r\n"], 100);
        assert!(!done);
    }

    #[test]
    fn block_cap_keeps_scanning() {
        let mut r = BlockReader::default();
        let (n, done) = r.feed(b"Long: aaaaaaaaaaaaaaaa\r\nB: 2\r\n\r\nBODY", 10);
        assert!(done);
        assert_eq!(n, 32);
        assert!(r.overflowed());
        assert_eq!(r.len(), 10);
    }

    #[test]
    fn fields_merge_and_buffers() {
        let block = b"Host: a.example\r\nX-A:  1 \r\nx-a: 2\r\n  folded\r\n\r\n".to_vec();
        let mut an = Vec::new();
        let h = Headers::parse(block, Dir::ToServer, 10, &mut an);
        assert!(an.is_empty(), "{an:?}");
        assert_eq!(h.get("x-a"), Some(&b"1, 2 folded"[..]));
        assert_eq!(h.count("X-A"), 2);
        assert_eq!(h.normalized(), b"Host: a.example\r\nX-A: 1, 2 folded\r\n");
        assert_eq!(h.names(), b"\r\nHost\r\nX-A\r\n\r\n");
        assert_eq!(h.all("x-a").count(), 2);
    }

    #[test]
    fn malformed_fields_are_flagged() {
        let block = b" lead: x\r\nNoColon\r\nBad Name: v\r\nA : b\r\n\r\n".to_vec();
        let mut an = Vec::new();
        let h = Headers::parse(block, Dir::ToServer, 10, &mut an);
        assert!(an.contains(&Anomaly::InvalidRequestFieldFolding));
        assert!(an.contains(&Anomaly::RequestFieldMissingColon));
        assert!(an.contains(&Anomaly::RequestHeaderInvalid));
        assert_eq!(h.get("nocolon"), Some(&b""[..]));
        assert_eq!(h.get("a"), Some(&b"b"[..]));
        assert_eq!(h.get("lead"), Some(&b"x"[..]));
    }

    #[test]
    fn field_cap() {
        let block = b"A: 1\r\nB: 2\r\nC: 3\r\n\r\n".to_vec();
        let mut an = Vec::new();
        let h = Headers::parse(block, Dir::ToClient, 2, &mut an);
        assert_eq!(h.fields().len(), 2);
        assert_eq!(an, vec![Anomaly::ResponseTooManyHeaders]);
        assert_eq!(h.get("C"), None);
    }
}
