//! EVE JSON, the line format Suricata writes and its ecosystem reads
//! (jq, EveBox, Elastic, Splunk). One event per line; field names and
//! shapes follow Suricata's so existing dashboards and queries work.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::net::IpAddr;
use std::path::Path;

use base64::Engine as _;
use serde::Serialize;

/// One EVE record.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Event {
    Alert(Box<AlertEvent>),
    /// An alert on a frame that did not decode to IP (decoder events).
    RawAlert(Box<RawAlertEvent>),
    Flow(Box<FlowEvent>),
    Stats(Box<StatsEvent>),
}

/// Fields every event with a flow carries.
#[derive(Debug, Clone, Serialize)]
pub struct Header {
    pub timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pcap_cnt: Option<u64>,
    pub event_type: &'static str,
    pub src_ip: IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_port: Option<u16>,
    pub dest_ip: IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dest_port: Option<u16>,
    pub proto: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_type: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_code: Option<u8>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertEvent {
    #[serde(flatten)]
    pub header: Header,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tx_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_proto: Option<&'static str>,
    /// The HTTP transaction's metadata, as Suricata's alert `http`
    /// object carries it (what EveBox and dashboards show).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpMeta>,
    pub direction: &'static str,
    pub alert: AlertInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<VerdictInfo>,
    pub flow: FlowCounters,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_printable: Option<String>,
    pub stream: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packet: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packet_info: Option<PacketInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ether: Option<Ether>,
    pub pkt_src: &'static str,
}

/// An alert without addresses, ports or flow: the frame failed to
/// decode, and a `decode-event` rule matched the anomaly.
#[derive(Debug, Clone, Serialize)]
pub struct RawAlertEvent {
    pub timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pcap_cnt: Option<u64>,
    pub event_type: &'static str,
    pub alert: AlertInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packet: Option<String>,
    pub packet_info: PacketInfo,
    pub pkt_src: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertInfo {
    /// `allowed` or `blocked`.
    pub action: &'static str,
    pub gid: u32,
    pub signature_id: u32,
    pub rev: u32,
    pub signature: String,
    pub category: String,
    pub severity: u8,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerdictInfo {
    /// `alert`, `drop` or `pass`.
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reject_target: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reject: Vec<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FlowCounters {
    pub pkts_toserver: u64,
    pub pkts_toclient: u64,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
    pub start: String,
    pub src_ip: IpAddr,
    pub dest_ip: IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dest_port: Option<u16>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct HttpMeta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PacketInfo {
    pub linktype: u32,
    pub linktype_name: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Ether {
    pub src_mac: String,
    pub dest_mac: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct FlowEvent {
    #[serde(flatten)]
    pub header: Header,
    pub flow: FlowRecord,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpRecord>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FlowRecord {
    #[serde(flatten)]
    pub counters: FlowCounters,
    pub end: String,
    pub age: u64,
    pub state: &'static str,
    pub reason: &'static str,
    pub alerted: bool,
    /// `drop` when a verdict blocked the flow, `pass` when a pass rule
    /// stopped inspection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TcpRecord {
    pub state: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatsEvent {
    pub timestamp: String,
    pub event_type: &'static str,
    pub stats: serde_json::Value,
}

pub fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Printable ASCII kept, everything else shown as `.`, as Suricata does.
pub fn printable(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b == b' ' || b.is_ascii_graphic() || b == b'\n' || b == b'\r' || b == b'\t' {
                b as char
            } else {
                '.'
            }
        })
        .collect()
}

pub fn mac(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

pub fn proto_name(proto: u8) -> String {
    match proto {
        1 => "ICMP".into(),
        6 => "TCP".into(),
        17 => "UDP".into(),
        58 => "IPv6-ICMP".into(),
        47 => "GRE".into(),
        132 => "SCTP".into(),
        n => n.to_string(),
    }
}

/// Writes events to a file or standard output (`-`).
pub struct EveWriter {
    out: BufWriter<Box<dyn Write + Send>>,
    /// Flush after every batch, so `tail -f` sees alerts as they happen.
    live: bool,
    pub written: u64,
}

impl EveWriter {
    /// Appends to `path`, as a long-running sensor does across restarts.
    pub fn open(path: &Path, live: bool) -> io::Result<EveWriter> {
        EveWriter::with_file(path, live, OpenOptions::new().create(true).append(true))
    }

    /// Starts `path` afresh (truncating it), so a replay's log holds
    /// that replay's events only and two runs compare byte for byte.
    pub fn create(path: &Path) -> io::Result<EveWriter> {
        EveWriter::with_file(
            path,
            false,
            OpenOptions::new().create(true).write(true).truncate(true),
        )
    }

    fn with_file(path: &Path, live: bool, opts: &OpenOptions) -> io::Result<EveWriter> {
        let sink: Box<dyn Write + Send> = if path == Path::new("-") {
            Box::new(io::stdout())
        } else {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let f: File = opts.open(path)?;
            Box::new(f)
        };
        Ok(EveWriter {
            out: BufWriter::with_capacity(64 * 1024, sink),
            live,
            written: 0,
        })
    }

    /// Writes a batch of events; clears it.
    pub fn write_all(&mut self, events: &mut Vec<Event>) -> io::Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        for e in events.drain(..) {
            serde_json::to_writer(&mut self.out, &e)?;
            self.out.write_all(b"\n")?;
            self.written += 1;
        }
        if self.live {
            self.out.flush()?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_masks_control_bytes() {
        assert_eq!(printable(b"GET /\x00\xff ok\r\n"), "GET /.. ok\r\n");
    }

    #[test]
    fn create_truncates_open_appends() -> io::Result<()> {
        let path = std::env::temp_dir().join(format!("portcullis-eve-{}.json", std::process::id()));
        let stats = |n: u64| {
            Event::Stats(Box::new(StatsEvent {
                timestamp: String::new(),
                event_type: "stats",
                stats: serde_json::json!(n),
            }))
        };
        for (n, create) in [(1, true), (2, false), (3, true)] {
            let mut w = if create {
                EveWriter::create(&path)?
            } else {
                EveWriter::open(&path, false)?
            };
            w.write_all(&mut vec![stats(n)])?;
            w.flush()?;
        }
        let text = std::fs::read_to_string(&path);
        std::fs::remove_file(&path)?;
        assert_eq!(
            text?,
            "{\"timestamp\":\"\",\"event_type\":\"stats\",\"stats\":3}\n"
        );
        Ok(())
    }

    #[test]
    fn mac_format() {
        assert_eq!(mac(&[0, 1, 0xab, 3, 4, 0xff]), "00:01:ab:03:04:ff");
    }
}
