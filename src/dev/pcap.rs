//! Capture files: classic pcap and pcapng, read from any [`Read`].
//!
//! [`CaptureReader`] yields one [`Packet`] at a time (link type,
//! timestamp, bytes) from a file or from standard input. It reads
//!
//! - pcap in either byte order, with microsecond (`a1b2c3d4`) or
//!   nanosecond (`a1b23c4d`) timestamps, and the "modified" variant
//!   (`a1b2cd34`) whose record headers carry 8 extra bytes;
//! - pcapng sections in either byte order: interface descriptions with
//!   their link type, `if_tsresol` and `if_tsoffset`; enhanced, simple
//!   and obsolete packet blocks. Other blocks are skipped by length.
//!
//! Hand-written rather than the `pcap-file` 2.0 crate, which reads any
//! `Read` but turns every enhanced-packet timestamp into nanoseconds
//! whatever the interface's `if_tsresol` says (the default is
//! microseconds, so timestamps would be off by 1000 unless rescaled
//! here), parses each packet's options into a fresh `Vec`, buffers
//! through a fixed 8 MB allocation, and reports a cut-short file as a
//! bare `UnexpectedEof`. Both formats are length-prefixed records, so
//! owning the parser costs little and gives one reused buffer (no
//! allocation per packet), errors naming the packet and byte offset,
//! and no unsafe code.
//!
//! Every length read from the file is checked against the bytes
//! actually present before a slice is taken, and against
//! [`MAX_RECORD`] before anything is allocated: a corrupt or truncated
//! file ends the read with a [`CaptureError`], never a panic, and the
//! packets before it have already been handed out.
//!
//! Packets on an interface whose link type the decoder does not know
//! are counted ([`CaptureReader::skipped`]) and skipped, with one
//! warning per interface.

use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::ops::Range;
use std::path::Path;

use crate::decode::LinkType;
use crate::time::Ts;

/// Largest packet record or pcapng block accepted, in bytes. Real
/// captures stay far below it (libpcap caps snapshots at 256 KiB); a
/// larger length field means a corrupt file, and refusing it keeps a
/// single bad field from allocating gigabytes.
pub const MAX_RECORD: usize = 16 << 20;

const PCAP_US: u32 = 0xa1b2_c3d4;
const PCAP_NS: u32 = 0xa1b2_3c4d;
/// libpcap's largest snapshot length for most link types; a record
/// larger than both this and the file's snaplen is refused, as libpcap
/// does.
const PCAP_MAX_SNAPLEN: usize = 256 * 1024;
/// Alexey Kuznetzov's patched libpcap: 8 more bytes per record header.
const PCAP_MODIFIED: u32 = 0xa1b2_cd34;

const NG_SHB: u32 = 0x0a0d_0d0a;
const NG_BYTE_ORDER: u32 = 0x1a2b_3c4d;
const NG_IDB: u32 = 1;
const NG_PB: u32 = 2;
const NG_SPB: u32 = 3;
const NG_EPB: u32 = 6;
const OPT_END: u16 = 0;
const OPT_IF_TSRESOL: u16 = 9;
const OPT_IF_TSOFFSET: u16 = 14;

/// One captured packet; `data` borrows the reader's buffer until the
/// next call.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// 1-based position among the file's packet records, skipped ones
    /// included, so it matches the frame number Wireshark shows.
    pub number: u64,
    pub link: LinkType,
    pub ts: Ts,
    pub data: &'a [u8],
    /// Length on the wire; more than `data.len()` if the snapshot
    /// length cut the packet.
    pub orig_len: u32,
}

/// Reads packets from a pcap or pcapng stream.
pub struct CaptureReader<R> {
    src: BufReader<R>,
    name: String,
    format: Format,
    /// Holds the current record or block; reused for every packet.
    buf: Vec<u8>,
    /// Packet records read so far, skipped ones included.
    records: u64,
    /// Bytes consumed from the start of the stream.
    pos: u64,
    /// Where the record being read starts, for error messages.
    start: u64,
    skipped: u64,
    /// Simple packet blocks have no timestamp: they get the last one.
    last_ts: Ts,
    done: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    Little,
    Big,
}

impl Order {
    fn u16(self, b: &[u8], at: usize) -> Option<u16> {
        let b: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
        Some(match self {
            Order::Little => u16::from_le_bytes(b),
            Order::Big => u16::from_be_bytes(b),
        })
    }

    fn u32(self, b: &[u8], at: usize) -> Option<u32> {
        let b: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some(match self {
            Order::Little => u32::from_le_bytes(b),
            Order::Big => u32::from_be_bytes(b),
        })
    }

    fn u64(self, b: &[u8], at: usize) -> Option<u64> {
        let b: [u8; 8] = b.get(at..at + 8)?.try_into().ok()?;
        Some(match self {
            Order::Little => u64::from_le_bytes(b),
            Order::Big => u64::from_be_bytes(b),
        })
    }
}

/// A link type we decode, or the number we do not know.
type Link = Result<LinkType, u32>;

enum Format {
    Pcap {
        order: Order,
        nanos: bool,
        /// Record header length: 16, or 24 for the modified format.
        header: usize,
        /// The larger of the header's snapshot length and
        /// [`PCAP_MAX_SNAPLEN`]: no record may capture more.
        max_caplen: usize,
        link: Link,
    },
    Ng {
        order: Order,
        ifaces: Vec<Iface>,
    },
}

/// What a pcapng interface description says about its packets.
struct Iface {
    link: Link,
    snaplen: u32,
    /// Timestamp units per second (`if_tsresol`; default 10^6).
    units: u128,
    /// Seconds added to every timestamp (`if_tsoffset`).
    offset: i64,
}

/// A packet found in `buf`, before it is lent out.
struct Found {
    link: LinkType,
    ts: Ts,
    data: Range<usize>,
    orig_len: u32,
}

impl CaptureReader<Box<dyn Read + Send>> {
    /// Opens a capture file, or standard input for `-`.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        if path == Path::new("-") {
            return CaptureReader::new("<stdin>", Box::new(io::stdin()));
        }
        let name = path.display().to_string();
        match File::open(path) {
            Ok(f) => CaptureReader::new(name, Box::new(f)),
            Err(e) => Err(CaptureError {
                file: name,
                packet: None,
                offset: 0,
                kind: Kind::Io(e),
            }),
        }
    }
}

impl<R: Read> CaptureReader<R> {
    /// Reads the file header; `name` is used in error messages.
    pub fn new(name: impl Into<String>, src: R) -> Result<Self, CaptureError> {
        let mut r = CaptureReader {
            src: BufReader::with_capacity(64 * 1024, src),
            name: name.into(),
            format: Format::Ng {
                order: Order::Little,
                ifaces: Vec::new(),
            },
            buf: Vec::with_capacity(64 * 1024),
            records: 0,
            pos: 0,
            start: 0,
            skipped: 0,
            last_ts: Ts(0),
            done: false,
        };

        let mut magic = [0u8; 4];
        match r.read_full(&mut magic)? {
            0 => return Err(r.error(None, Kind::Empty)),
            4 => {}
            got => return Err(r.truncated(None, "file header", 4, got)),
        }
        let (le, be) = (u32::from_le_bytes(magic), u32::from_be_bytes(magic));
        if le == NG_SHB {
            r.ng_block_after_type(NG_SHB)?;
            return Ok(r);
        }
        let order = match (le, be) {
            (PCAP_US | PCAP_NS | PCAP_MODIFIED, _) => Order::Little,
            (_, PCAP_US | PCAP_NS | PCAP_MODIFIED) => Order::Big,
            _ => return Err(r.error(None, Kind::NotACapture(magic))),
        };
        r.pcap_header(order, magic)?;
        Ok(r)
    }

    /// The next packet, `None` at the end of the stream. After an error
    /// every further call returns `None`.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        if self.done {
            return Ok(None);
        }
        let found = match self.format {
            Format::Pcap { .. } => self.next_pcap(),
            Format::Ng { .. } => self.next_ng(),
        };
        match found {
            Ok(Some(f)) => {
                self.last_ts = f.ts;
                Ok(Some(Packet {
                    number: self.records,
                    link: f.link,
                    ts: f.ts,
                    data: &self.buf[f.data],
                    orig_len: f.orig_len,
                }))
            }
            Ok(None) => {
                self.done = true;
                Ok(None)
            }
            Err(e) => {
                self.done = true;
                Err(e)
            }
        }
    }

    /// `pcap` or `pcapng`.
    pub fn format(&self) -> &'static str {
        match self.format {
            Format::Pcap { .. } => "pcap",
            Format::Ng { .. } => "pcapng",
        }
    }

    /// Packets skipped because the decoder does not know their link type.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The name errors use: the path, or `<stdin>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    // -- classic pcap ---------------------------------------------------

    /// The 24-byte file header: magic, version, zone, sigfigs, snaplen,
    /// link type.
    fn pcap_header(&mut self, order: Order, magic: [u8; 4]) -> Result<(), CaptureError> {
        let mut rest = [0u8; 20];
        let got = self.read_full(&mut rest)?;
        if got < rest.len() {
            return Err(self.truncated(None, "file header", 24, 4 + got));
        }
        let magic = match order {
            Order::Little => u32::from_le_bytes(magic),
            Order::Big => u32::from_be_bytes(magic),
        };
        // The low 16 bits are the link type; the high bits may carry
        // FCS information we have no use for.
        let snaplen = order.u32(&rest, 12).unwrap_or(0) as usize;
        let linktype = order.u32(&rest, 16).unwrap_or(0) & 0xffff;
        let link = LinkType::from_pcap(linktype).ok_or(linktype);
        if link.is_err() {
            tracing::warn!(file = %self.name, linktype, "unknown link type: skipping every packet");
        }
        self.format = Format::Pcap {
            order,
            nanos: magic == PCAP_NS,
            header: if magic == PCAP_MODIFIED { 24 } else { 16 },
            max_caplen: snaplen.clamp(PCAP_MAX_SNAPLEN, MAX_RECORD),
            link,
        };
        Ok(())
    }

    /// Record header (seconds, fraction, captured and original length)
    /// and the captured bytes.
    fn next_pcap(&mut self) -> Result<Option<Found>, CaptureError> {
        let Format::Pcap {
            order,
            nanos,
            header,
            max_caplen,
            link,
        } = self.format
        else {
            return Ok(None);
        };
        loop {
            self.start = self.pos;
            let mut hdr = [0u8; 24];
            let hdr = &mut hdr[..header];
            match self.read_full(hdr)? {
                0 => return Ok(None),
                n if n < header => {
                    return Err(self.truncated(self.next_no(), "record header", header, n))
                }
                _ => {}
            }
            let field = |at| order.u32(hdr, at).unwrap_or(0);
            let (secs, frac, caplen, orig_len) = (field(0), field(4), field(8), field(12));
            // libpcap refuses such a record too: the length field is
            // garbage, and what follows cannot be trusted to be records.
            let caplen = caplen as usize;
            if caplen > max_caplen {
                let msg =
                    format!("captured length {caplen} over the {max_caplen}-byte snapshot length");
                return Err(self.corrupt(self.next_no(), msg));
            }
            self.fill(caplen, "packet data")?;
            self.records += 1;

            let Ok(link) = link else {
                self.skipped += 1;
                continue;
            };
            let frac = if nanos { frac / 1000 } else { frac };
            let ts = Ts(u64::from(secs) * 1_000_000 + u64::from(frac));
            return Ok(Some(Found {
                link,
                ts,
                data: 0..caplen,
                orig_len,
            }));
        }
    }

    // -- pcapng ---------------------------------------------------------

    /// Blocks until the next packet on an interface we can decode.
    fn next_ng(&mut self) -> Result<Option<Found>, CaptureError> {
        loop {
            self.start = self.pos;
            let mut ty = [0u8; 4];
            match self.read_full(&mut ty)? {
                0 => return Ok(None),
                4 => {}
                n => return Err(self.truncated(self.next_no(), "block header", 8, n)),
            }
            // The section header's type reads the same in both orders.
            let ty = match self.format {
                _ if u32::from_le_bytes(ty) == NG_SHB => NG_SHB,
                Format::Ng { order, .. } => order.u32(&ty, 0).unwrap_or(0),
                Format::Pcap { .. } => return Ok(None),
            };
            if let Some(found) = self.ng_block_after_type(ty)? {
                return Ok(Some(found));
            }
        }
    }

    /// Reads the rest of a block whose type was just read into `buf`
    /// (body then trailing length), then interprets it.
    fn ng_block_after_type(&mut self, ty: u32) -> Result<Option<Found>, CaptureError> {
        let no = self.next_no();
        let mut order = match self.format {
            Format::Ng { order, .. } => order,
            Format::Pcap { .. } => return Ok(None),
        };

        // A section header carries its byte order after the length.
        let mut head = [0u8; 8];
        let want = if ty == NG_SHB { 8 } else { 4 };
        let got = self.read_full(&mut head[..want])?;
        if got < want {
            return Err(self.truncated(no, "block header", 4 + want, 4 + got));
        }
        if ty == NG_SHB {
            order = match u32::from_le_bytes([head[4], head[5], head[6], head[7]]) {
                NG_BYTE_ORDER => Order::Little,
                x if x.swap_bytes() == NG_BYTE_ORDER => Order::Big,
                x => {
                    let msg = format!("section header: bad byte-order magic {x:#010x}");
                    return Err(self.corrupt(no, msg));
                }
            };
        }
        let total = order.u32(&head, 0).unwrap_or(0) as usize;
        let min = if ty == NG_SHB { 28 } else { 12 };
        if total < min || total % 4 != 0 {
            let msg = format!("block type {ty:#x}: bad length {total}");
            return Err(self.corrupt(no, msg));
        }
        let total = self.check_len(total, "block length")?;

        // Body and the repeated length, which must agree.
        let rest = total - 4 - want;
        self.fill(rest, "block")?;
        let body = rest - 4;
        if order.u32(&self.buf, body) != Some(total as u32) {
            let msg = format!("block type {ty:#x}: trailing length differs from {total}");
            return Err(self.corrupt(no, msg));
        }

        match ty {
            NG_SHB => self.ng_section(order, body).map(|()| None),
            NG_IDB => self.ng_interface(order, body).map(|()| None),
            NG_EPB | NG_PB | NG_SPB => self.ng_packet(order, ty, body),
            // Name resolution, statistics, journal, custom, decryption
            // secrets...: nothing the engine reads.
            _ => Ok(None),
        }
    }

    /// A new section: its byte order holds and its interfaces start
    /// afresh.
    fn ng_section(&mut self, order: Order, body: usize) -> Result<(), CaptureError> {
        let major = order.u16(&self.buf[..body], 0).unwrap_or(0);
        if major != 1 {
            let msg = format!("section header: unsupported pcapng version {major}");
            return Err(self.corrupt(self.next_no(), msg));
        }
        self.format = Format::Ng {
            order,
            ifaces: Vec::new(),
        };
        Ok(())
    }

    /// Interface description: link type, reserved, snaplen, options.
    fn ng_interface(&mut self, order: Order, body: usize) -> Result<(), CaptureError> {
        let no = self.next_no();
        let b = &self.buf[..body];
        let (Some(linktype), Some(snaplen)) = (order.u16(b, 0), order.u32(b, 4)) else {
            return Err(self.corrupt(no, "interface description too short".into()));
        };
        let mut iface = Iface {
            link: LinkType::from_pcap(linktype.into()).ok_or(linktype.into()),
            snaplen,
            units: 1_000_000,
            offset: 0,
        };

        let mut at = 8;
        while at + 4 <= body {
            let (code, len) = (order.u16(b, at), order.u16(b, at + 2));
            let (Some(code), Some(len)) = (code, len) else {
                break;
            };
            let Some(value) = b.get(at + 4..at + 4 + len as usize) else {
                return Err(self.corrupt(no, format!("interface option {code} overruns its block")));
            };
            match (code, value) {
                (OPT_END, _) => break,
                (OPT_IF_TSRESOL, &[r]) => {
                    // High bit clear: 10^-r seconds; set: 2^-r.
                    let units = if r & 0x80 == 0 {
                        10u128.checked_pow(r.into())
                    } else {
                        1u128.checked_shl((r & 0x7f).into())
                    };
                    match units {
                        Some(u) if u > 0 => iface.units = u,
                        _ => {
                            let msg = format!("if_tsresol {r:#04x} out of range");
                            return Err(self.corrupt(no, msg));
                        }
                    }
                }
                (OPT_IF_TSOFFSET, v) if v.len() == 8 => {
                    iface.offset = order.u64(v, 0).unwrap_or(0) as i64;
                }
                _ => {}
            }
            at += 4 + (len as usize).div_ceil(4) * 4;
        }

        let Format::Ng { ifaces, .. } = &mut self.format else {
            return Ok(());
        };
        if let Err(linktype) = iface.link {
            let interface = ifaces.len();
            tracing::warn!(
                file = %self.name, interface, linktype,
                "unknown link type: skipping this interface's packets"
            );
        }
        ifaces.push(iface);
        Ok(())
    }

    /// Enhanced (interface, ts high, ts low, caplen, len), obsolete
    /// (interface:16, drops:16, ts high, ts low, caplen, len) and simple
    /// (len) packet blocks.
    fn ng_packet(
        &mut self,
        order: Order,
        ty: u32,
        body: usize,
    ) -> Result<Option<Found>, CaptureError> {
        let no = self.next_no();
        let b = &self.buf[..body];
        let fields = packet_fields(order, ty, b);
        let Some((iface, ts, caplen, orig_len, data_at)) = fields else {
            return Err(self.corrupt(no, format!("packet block type {ty} too short")));
        };

        let Format::Ng { ifaces, .. } = &self.format else {
            return Ok(None);
        };
        let Some(i) = ifaces.get(iface as usize) else {
            let msg = format!("packet on interface {iface}, which no block described");
            return Err(self.corrupt(no, msg));
        };
        // A simple packet block's length is the original one: what was
        // captured is the smaller of it, the snaplen and the block.
        let room = body - data_at.min(body);
        let caplen = if ty == NG_SPB {
            let snap = if i.snaplen == 0 { u32::MAX } else { i.snaplen };
            (caplen.min(snap) as usize).min(room)
        } else {
            caplen as usize
        };
        if caplen > room {
            let msg = format!("captured length {caplen} overruns its block ({room} bytes)");
            return Err(self.corrupt(no, msg));
        }
        let ts = match ts {
            Some(units) => ng_ts(units, i.units, i.offset),
            None => self.last_ts,
        };
        let link = i.link;
        self.records += 1;
        let Ok(link) = link else {
            self.skipped += 1;
            return Ok(None);
        };
        Ok(Some(Found {
            link,
            ts,
            data: data_at..data_at + caplen,
            orig_len,
        }))
    }

    // -- reading --------------------------------------------------------

    /// Number of the packet being read (or the next one, between
    /// packets), for error messages.
    fn next_no(&self) -> Option<u64> {
        Some(self.records + 1)
    }

    fn check_len(&self, len: usize, what: &str) -> Result<usize, CaptureError> {
        if len > MAX_RECORD {
            let msg = format!("{what} {len} over the {MAX_RECORD}-byte limit");
            return Err(self.corrupt(self.next_no(), msg));
        }
        Ok(len)
    }

    /// Reads exactly `len` bytes into the front of `buf`.
    fn fill(&mut self, len: usize, what: &'static str) -> Result<(), CaptureError> {
        if self.buf.len() < len {
            self.buf.resize(len, 0);
        }
        let mut buf = std::mem::take(&mut self.buf);
        let got = self.read_full(&mut buf[..len]);
        self.buf = buf;
        let got = got?;
        if got < len {
            return Err(self.truncated(self.next_no(), what, len, got));
        }
        Ok(())
    }

    /// Reads until `out` is full or the stream ends; returns the count.
    fn read_full(&mut self, out: &mut [u8]) -> Result<usize, CaptureError> {
        let mut got = 0;
        while got < out.len() {
            match self.src.read(&mut out[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.pos += got as u64;
                    return Err(self.error(self.next_no(), Kind::Io(e)));
                }
            }
        }
        self.pos += got as u64;
        Ok(got)
    }

    fn error(&self, packet: Option<u64>, kind: Kind) -> CaptureError {
        CaptureError {
            file: self.name.clone(),
            packet,
            offset: self.start,
            kind,
        }
    }

    fn truncated(
        &self,
        packet: Option<u64>,
        what: &'static str,
        want: usize,
        got: usize,
    ) -> CaptureError {
        self.error(packet, Kind::Truncated { what, want, got })
    }

    fn corrupt(&self, packet: Option<u64>, msg: String) -> CaptureError {
        self.error(packet, Kind::Corrupt(msg))
    }
}

/// Interface, timestamp (none for a simple packet block), captured
/// and original length, and where the data starts, if the block is
/// long enough to hold them.
fn packet_fields(order: Order, ty: u32, b: &[u8]) -> Option<(u32, Option<u64>, u32, u32, usize)> {
    let u32_at = |at| order.u32(b, at);
    if ty == NG_SPB {
        let len = u32_at(0)?;
        return Some((0, None, len, len, 4));
    }
    let ts = (u64::from(u32_at(4)?) << 32) | u64::from(u32_at(8)?);
    let iface = match ty {
        NG_PB => order.u16(b, 0)?.into(),
        _ => u32_at(0)?,
    };
    Some((iface, Some(ts), u32_at(12)?, u32_at(16)?, 20))
}

/// A pcapng timestamp in `units` per second, shifted by `offset`
/// seconds, as microseconds (clamped to what [`Ts`] holds).
fn ng_ts(ts: u64, units: u128, offset: i64) -> Ts {
    let micros = i128::try_from(u128::from(ts) * 1_000_000 / units).unwrap_or(i128::MAX);
    let micros = micros.saturating_add(i128::from(offset) * 1_000_000);
    Ts(micros.clamp(0, u64::MAX.into()) as u64)
}

/// A capture that could not be read: which file, which packet, why.
#[derive(Debug)]
pub struct CaptureError {
    file: String,
    packet: Option<u64>,
    offset: u64,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Io(io::Error),
    Empty,
    NotACapture([u8; 4]),
    Truncated {
        what: &'static str,
        want: usize,
        got: usize,
    },
    Corrupt(String),
}

impl CaptureError {
    /// The 1-based packet being read when it failed; `None` for the
    /// file header.
    pub fn packet(&self) -> Option<u64> {
        self.packet
    }

    /// The file ended inside a header, record or block.
    pub fn is_truncated(&self) -> bool {
        matches!(self.kind, Kind::Truncated { .. })
    }

    /// Reading failed below the format (permissions, I/O error).
    pub fn is_io(&self) -> bool {
        matches!(self.kind, Kind::Io(_))
    }
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.file)?;
        if let Some(n) = self.packet {
            write!(f, "packet {n}: ")?;
        }
        match &self.kind {
            Kind::Io(e) => write!(f, "{e}")?,
            Kind::Empty => f.write_str("empty file, not a capture")?,
            Kind::NotACapture(m) => write!(
                f,
                "not a pcap or pcapng file (starts with {:02x} {:02x} {:02x} {:02x})",
                m[0], m[1], m[2], m[3]
            )?,
            Kind::Truncated { what, want, got } => {
                write!(f, "truncated {what}: {got} of {want} bytes")?
            }
            Kind::Corrupt(msg) => f.write_str(msg)?,
        }
        if self.packet.is_some() {
            write!(f, " (record at byte {})", self.offset)?;
        }
        Ok(())
    }
}

impl std::error::Error for CaptureError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            Kind::Io(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Everything a reader yields: (number, link, ts, bytes) per packet,
    /// then the error that ended it, if any.
    type Read = (Vec<(u64, LinkType, Ts, Vec<u8>)>, Option<CaptureError>);

    fn read_all(src: impl io::Read) -> Read {
        let mut r = match CaptureReader::new("t", src) {
            Ok(r) => r,
            Err(e) => return (Vec::new(), Some(e)),
        };
        let mut out = Vec::new();
        loop {
            match r.next_packet() {
                Ok(Some(p)) => out.push((p.number, p.link, p.ts, p.data.to_vec())),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    /// Hands out one byte per `read`, as a slow pipe may.
    struct Trickle<'a>(&'a [u8]);

    impl io::Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            match (self.0.split_first(), out.first_mut()) {
                (Some((b, rest)), Some(o)) => {
                    *o = *b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[rustfmt::skip]
    const PCAP_LE_US: &[u8] = &[
        // file header, little-endian
        0xd4, 0xc3, 0xb2, 0xa1, // magic a1b2c3d4: microseconds
        0x02, 0x00, 0x04, 0x00, // version 2.4
        0x00, 0x00, 0x00, 0x00, // thiszone
        0x00, 0x00, 0x00, 0x00, // sigfigs
        0xff, 0xff, 0x00, 0x00, // snaplen 65535
        0x01, 0x00, 0x00, 0x00, // link type 1: Ethernet
        // record 1 (byte 24)
        0x01, 0x00, 0x00, 0x00, // ts seconds 1
        0x02, 0x00, 0x00, 0x00, // ts microseconds 2
        0x04, 0x00, 0x00, 0x00, // captured 4
        0x3c, 0x00, 0x00, 0x00, // original 60
        0xde, 0xad, 0xbe, 0xef, // data
    ];

    #[test]
    fn pcap_little_endian_microseconds() {
        let (pkts, err) = read_all(PCAP_LE_US);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(
            pkts,
            vec![(
                1,
                LinkType::Ethernet,
                Ts(1_000_002),
                vec![0xde, 0xad, 0xbe, 0xef]
            )]
        );
    }

    #[test]
    fn pcap_big_endian_nanoseconds() {
        #[rustfmt::skip]
        let file = [
            // file header, big-endian
            0xa1, 0xb2, 0x3c, 0x4d, // magic a1b23c4d: nanoseconds
            0x00, 0x02, 0x00, 0x04, // version 2.4
            0x00, 0x00, 0x00, 0x00, // thiszone
            0x00, 0x00, 0x00, 0x00, // sigfigs
            0x00, 0x00, 0xff, 0xff, // snaplen 65535
            0x00, 0x00, 0x00, 0x65, // link type 101: raw IP
            // record 1
            0x00, 0x00, 0x00, 0x0a, // ts seconds 10
            0x00, 0x00, 0x07, 0xd9, // ts nanoseconds 2009 -> 2 us
            0x00, 0x00, 0x00, 0x03, // captured 3
            0x00, 0x00, 0x00, 0x03, // original 3
            0x45, 0x00, 0x01,       // data
        ];
        let (pkts, err) = read_all(&file[..]);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(
            pkts,
            vec![(1, LinkType::Raw, Ts(10_000_002), vec![0x45, 0, 1])]
        );
    }

    #[test]
    fn pcap_truncated_keeps_earlier_packets() {
        let mut file = PCAP_LE_US.to_vec();
        #[rustfmt::skip]
        file.extend_from_slice(&[
            // record 2 (byte 44), cut short
            0x05, 0x00, 0x00, 0x00, // ts seconds 5
            0x00, 0x00, 0x00, 0x00, // ts microseconds 0
            0x08, 0x00, 0x00, 0x00, // captured 8
            0x08, 0x00, 0x00, 0x00, // original 8
            0x01, 0x02, 0x03,       // only 3 of the 8 bytes
        ]);
        let (pkts, err) = read_all(&file[..]);
        assert_eq!(pkts.len(), 1);
        let err = err.expect("a truncation error");
        assert!(err.is_truncated());
        assert_eq!(err.packet(), Some(2));
        assert_eq!(
            err.to_string(),
            "t: packet 2: truncated packet data: 3 of 8 bytes (record at byte 44)"
        );

        // Cut inside the record header instead.
        let (pkts, err) = read_all(&file[..44 + 7]);
        assert_eq!(pkts.len(), 1);
        let err = err.expect("a truncation error");
        assert_eq!(err.packet(), Some(2));
        assert!(
            err.to_string().contains("record header: 7 of 16 bytes"),
            "{err}"
        );
    }

    #[test]
    fn pcap_absurd_length_is_refused_not_allocated() {
        let mut file = PCAP_LE_US[..24].to_vec();
        #[rustfmt::skip]
        file.extend_from_slice(&[
            0x01, 0x00, 0x00, 0x00, // ts seconds
            0x00, 0x00, 0x00, 0x00, // ts microseconds
            0xff, 0xff, 0xff, 0xff, // captured 4 GiB
            0xff, 0xff, 0xff, 0xff, // original
        ]);
        let (pkts, err) = read_all(&file[..]);
        assert!(pkts.is_empty());
        let err = err.expect("an error");
        assert!(!err.is_truncated());
        assert_eq!(
            err.to_string(),
            "t: packet 1: captured length 4294967295 over the 262144-byte \
             snapshot length (record at byte 24)"
        );
    }

    #[test]
    fn not_a_capture() {
        let (_, err) = read_all(&b"GET / HTTP/1.1\r\n"[..]);
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some("t: not a pcap or pcapng file (starts with 47 45 54 20)")
        );
        let (_, err) = read_all(&b""[..]);
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some("t: empty file, not a capture")
        );
        let (_, err) = read_all(&PCAP_LE_US[..10]);
        assert!(err.is_some_and(|e| e.is_truncated() && e.packet().is_none()));
    }

    #[rustfmt::skip]
    const PCAPNG_LE: &[u8] = &[
        // section header block (byte 0)
        0x0a, 0x0d, 0x0d, 0x0a, // type
        0x1c, 0x00, 0x00, 0x00, // length 28
        0x4d, 0x3c, 0x2b, 0x1a, // byte-order magic: little-endian
        0x01, 0x00, 0x00, 0x00, // version 1.0
        0xff, 0xff, 0xff, 0xff, // section length -1 (unknown)
        0xff, 0xff, 0xff, 0xff,
        0x1c, 0x00, 0x00, 0x00, // length 28
        // interface description block 0 (byte 28)
        0x01, 0x00, 0x00, 0x00, // type 1
        0x14, 0x00, 0x00, 0x00, // length 20
        0x01, 0x00, 0x00, 0x00, // link type 1 (Ethernet), reserved
        0x00, 0x00, 0x00, 0x00, // snaplen 0: unlimited
        0x14, 0x00, 0x00, 0x00, // length 20
        // a block type nobody knows (byte 48): skipped
        0xad, 0x0b, 0x00, 0x00, // type 0xbad
        0x10, 0x00, 0x00, 0x00, // length 16
        0x99, 0x99, 0x99, 0x99, // body
        0x10, 0x00, 0x00, 0x00, // length 16
        // enhanced packet block (byte 64)
        0x06, 0x00, 0x00, 0x00, // type 6
        0x24, 0x00, 0x00, 0x00, // length 36
        0x00, 0x00, 0x00, 0x00, // interface 0
        0x00, 0x00, 0x00, 0x00, // ts high
        0x42, 0x42, 0x0f, 0x00, // ts low 1_000_002 (default: microseconds)
        0x04, 0x00, 0x00, 0x00, // captured 4
        0x04, 0x00, 0x00, 0x00, // original 4
        0xde, 0xad, 0xbe, 0xef, // data
        0x24, 0x00, 0x00, 0x00, // length 36
        // simple packet block (byte 100): interface 0, no timestamp
        0x03, 0x00, 0x00, 0x00, // type 3
        0x14, 0x00, 0x00, 0x00, // length 20
        0x03, 0x00, 0x00, 0x00, // original 3
        0xaa, 0xbb, 0xcc, 0x00, // data, 1 byte padding
        0x14, 0x00, 0x00, 0x00, // length 20
        // obsolete packet block (byte 120)
        0x02, 0x00, 0x00, 0x00, // type 2
        0x24, 0x00, 0x00, 0x00, // length 36
        0x00, 0x00, 0x07, 0x00, // interface 0 (16 bits), drops 7 (16 bits)
        0x00, 0x00, 0x00, 0x00, // ts high
        0x40, 0x4b, 0x4c, 0x00, // ts low 5_000_000
        0x02, 0x00, 0x00, 0x00, // captured 2
        0x02, 0x00, 0x00, 0x00, // original 2
        0x11, 0x22, 0x00, 0x00, // data, 2 bytes padding
        0x24, 0x00, 0x00, 0x00, // length 36
    ];

    #[test]
    fn pcapng_little_endian_every_packet_block() {
        let (pkts, err) = read_all(PCAPNG_LE);
        assert!(err.is_none(), "{err:?}");
        let eth = LinkType::Ethernet;
        assert_eq!(
            pkts,
            vec![
                (1, eth, Ts(1_000_002), vec![0xde, 0xad, 0xbe, 0xef]),
                // No timestamp of its own: the previous packet's.
                (2, eth, Ts(1_000_002), vec![0xaa, 0xbb, 0xcc]),
                (3, eth, Ts(5_000_000), vec![0x11, 0x22]),
            ]
        );
    }

    #[test]
    fn a_trickling_pipe_reads_the_same() {
        assert_eq!(read_all(Trickle(PCAPNG_LE)).0, read_all(PCAPNG_LE).0);
        assert_eq!(read_all(Trickle(PCAP_LE_US)).0, read_all(PCAP_LE_US).0);
    }

    #[test]
    fn pcapng_big_endian_tsresol_and_unknown_link() {
        #[rustfmt::skip]
        let file = [
            // section header block, big-endian
            0x0a, 0x0d, 0x0d, 0x0a, // type
            0x00, 0x00, 0x00, 0x1c, // length 28
            0x1a, 0x2b, 0x3c, 0x4d, // byte-order magic: big-endian
            0x00, 0x01, 0x00, 0x00, // version 1.0
            0xff, 0xff, 0xff, 0xff, // section length -1
            0xff, 0xff, 0xff, 0xff,
            0x00, 0x00, 0x00, 0x1c, // length 28
            // interface 0: raw IP, nanosecond timestamps
            0x00, 0x00, 0x00, 0x01, // type 1
            0x00, 0x00, 0x00, 0x20, // length 32
            0x00, 0x65, 0x00, 0x00, // link type 101, reserved
            0x00, 0x00, 0xff, 0xff, // snaplen 65535
            0x00, 0x09, 0x00, 0x01, // option if_tsresol, length 1
            0x09, 0x00, 0x00, 0x00, // 10^-9, 3 bytes padding
            0x00, 0x00, 0x00, 0x00, // opt_endofopt
            0x00, 0x00, 0x00, 0x20, // length 32
            // interface 1: link type 147 (USER0), which we cannot decode
            0x00, 0x00, 0x00, 0x01, // type 1
            0x00, 0x00, 0x00, 0x14, // length 20
            0x00, 0x93, 0x00, 0x00, // link type 147, reserved
            0x00, 0x00, 0x00, 0x00, // snaplen 0
            0x00, 0x00, 0x00, 0x14, // length 20
            // enhanced packet on interface 1: counted and skipped
            0x00, 0x00, 0x00, 0x06, // type 6
            0x00, 0x00, 0x00, 0x24, // length 36
            0x00, 0x00, 0x00, 0x01, // interface 1
            0x00, 0x00, 0x00, 0x00, // ts high
            0x00, 0x00, 0x00, 0x01, // ts low
            0x00, 0x00, 0x00, 0x04, // captured 4
            0x00, 0x00, 0x00, 0x04, // original 4
            0x01, 0x02, 0x03, 0x04, // data
            0x00, 0x00, 0x00, 0x24, // length 36
            // enhanced packet on interface 0
            0x00, 0x00, 0x00, 0x06, // type 6
            0x00, 0x00, 0x00, 0x24, // length 36
            0x00, 0x00, 0x00, 0x00, // interface 0
            0x00, 0x00, 0x00, 0x01, // ts high: 2^32 ns
            0x59, 0x68, 0x2f, 0x00, // ts low 1_500_000_000 ns
            0x00, 0x00, 0x00, 0x04, // captured 4
            0x00, 0x00, 0x00, 0x04, // original 4
            0x45, 0x00, 0x00, 0x14, // data
            0x00, 0x00, 0x00, 0x24, // length 36
        ];
        let mut r = CaptureReader::new("t", &file[..]).expect("header");
        assert_eq!(r.format(), "pcapng");
        let p = r.next_packet().expect("packet").expect("not the end");
        // (2^32 + 1.5e9) ns = 5_794_967_296 us
        let want = ((1u64 << 32) + 1_500_000_000) / 1000;
        assert_eq!((p.number, p.link, p.ts), (2, LinkType::Raw, Ts(want)));
        assert_eq!(p.data, [0x45, 0x00, 0x00, 0x14]);
        assert!(r.next_packet().expect("clean end").is_none());
        assert_eq!(r.skipped(), 1);
    }

    #[test]
    fn pcapng_timestamp_resolutions() {
        assert_eq!(ng_ts(1024, 1024, 0), Ts(1_000_000)); // 2^-10
        assert_eq!(ng_ts(999, 1_000_000_000, 0), Ts(0)); // 10^-9
        assert_eq!(ng_ts(7, 1, 0), Ts(7_000_000)); // 10^0
        assert_eq!(ng_ts(2_000_000, 1_000_000, -1), Ts(1_000_000)); // if_tsoffset
        assert_eq!(ng_ts(0, 1_000_000, -5), Ts(0)); // before 1970: clamped
        assert_eq!(ng_ts(u64::MAX, 1, i64::MAX), Ts(u64::MAX));
    }

    #[test]
    fn pcapng_bad_trailer_length() {
        let mut file = PCAPNG_LE.to_vec();
        file[96] = 0x28; // the EPB's trailing length: 40, not 36
        let (pkts, err) = read_all(&file[..]);
        assert!(pkts.is_empty());
        let err = err.expect("an error");
        assert_eq!(err.packet(), Some(1));
        assert!(err.to_string().contains("trailing length"), "{err}");
    }

    #[test]
    fn pcapng_packet_on_undescribed_interface() {
        let mut file = PCAPNG_LE.to_vec();
        file[72] = 0x05; // the EPB's interface: 5
        let (pkts, err) = read_all(&file[..]);
        assert!(pkts.is_empty());
        assert!(err.is_some_and(|e| e.to_string().contains("interface 5")));
    }

    /// A file cut at any byte reads the packets before the cut, then
    /// stops with an error (or cleanly, at a record boundary).
    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        for file in [PCAP_LE_US, PCAPNG_LE] {
            let (all, _) = read_all(file);
            let mut before = 0;
            for cut in 0..file.len() {
                let (pkts, err) = read_all(&file[..cut]);
                assert!(pkts.len() >= before && all.starts_with(&pkts), "cut {cut}");
                before = pkts.len();
                let boundary = pkts.len() < all.len() && err.is_none();
                assert!(err.is_some() || boundary, "cut {cut}");
            }
        }
    }
}
