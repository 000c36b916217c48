//! Offline replay: a capture file through the engine into EVE JSON.
//!
//! A thin loop around [`Engine`]: each packet goes in with the
//! timestamp the capture recorded and its 1-based number as
//! `pcap_cnt`; every event comes out into a freshly truncated EVE file.
//! Nothing that reaches the log reads a clock, so the same capture,
//! rules and options give byte-identical output. The one wall-clock
//! reading is [`ReplayReport::elapsed`], for the throughput line.
//! Packets the engine would inject (IPS rejects) are counted in its
//! stats and go nowhere: there is no wire to put them on.
//!
//! Failure is reserved for a replay that cannot start: no rule loaded,
//! the capture cannot be opened or is not a capture, the options are
//! wrong, the log cannot be written. Rule errors are printed and the
//! rest of the rules run; a capture that breaks off part-way is
//! replayed up to the break and the error returned in the report.

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::config;
use crate::detect::Detector;
use crate::dev::pcap::{CaptureError, CaptureReader};
use crate::engine::{Engine, EngineConfig, Meta, Mode};
use crate::output::EveWriter;
use crate::time::Ts;
use crate::verdict::Actions;

/// What to replay, with which rules, into which log.
#[derive(Debug, Clone)]
pub struct ReplayOpts {
    /// Capture file, or `-` for standard input.
    pub pcap: PathBuf,
    pub rules: Vec<PathBuf>,
    /// EVE output, truncated first; `-` for standard output.
    pub eve_log: PathBuf,
    pub mode: Mode,
    /// `--var NAME=VALUE`: address and port variables for the rules.
    pub vars: Vec<(String, String)>,
    /// `--set KEY=VALUE`, in Suricata's key names (see [`engine_config`]).
    pub sets: Vec<(String, String)>,
    /// Validate checksums; `false` is Suricata's `-k none`.
    pub checksums: bool,
    /// Suricata threshold.config: threshold, event_filter and suppress
    /// lines apply; rate_filter lines are reported and skipped.
    pub threshold_file: Option<PathBuf>,
    pub classification: Option<PathBuf>,
}

impl ReplayOpts {
    /// IDS mode, checksum checks asked for, nothing else set: what
    /// `suricata -r` does by default.
    pub fn new(pcap: impl Into<PathBuf>, rules: Vec<PathBuf>, eve_log: impl Into<PathBuf>) -> Self {
        ReplayOpts {
            pcap: pcap.into(),
            rules,
            eve_log: eve_log.into(),
            mode: Mode::Ids,
            vars: Vec::new(),
            sets: Vec::new(),
            checksums: true,
            threshold_file: None,
            classification: None,
        }
    }
}

/// What a replay did, for the caller's summary line.
#[derive(Debug)]
pub struct ReplayReport {
    /// Packets given to the engine.
    pub packets: u64,
    /// Their captured bytes.
    pub bytes: u64,
    /// Packets skipped because their link type is unknown.
    pub skipped: u64,
    pub alerts: u64,
    /// Packets an IPS verdict dropped (always 0 in IDS mode).
    pub dropped: u64,
    /// EVE lines written.
    pub events: u64,
    pub rules_loaded: usize,
    /// Rules that failed to load (already printed on stderr).
    pub rule_errors: usize,
    /// Wall time of the packet loop alone, rule loading excluded.
    pub elapsed: Duration,
    /// The capture broke off: every packet before the break was
    /// replayed and logged. Already printed on stderr.
    pub capture_error: Option<CaptureError>,
}

impl ReplayReport {
    pub fn mbit_per_sec(&self) -> f64 {
        self.bytes as f64 * 8.0 / 1e6 / self.secs()
    }

    pub fn packets_per_sec(&self) -> f64 {
        self.packets as f64 / self.secs()
    }

    fn secs(&self) -> f64 {
        self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Why a replay could not run.
#[derive(Debug)]
pub enum ReplayError {
    /// Not one rule loaded (the errors were printed on stderr).
    NoRules(String),
    /// The capture could not be opened, or its header is not a capture.
    Capture(CaptureError),
    /// A `--var`, `--set` or classification file is wrong.
    Config(String),
    /// The rules loaded but the detector could not be built from them.
    Detector(String),
    /// The EVE log could not be created or written.
    Eve { path: PathBuf, source: io::Error },
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplayError::NoRules(msg) => f.write_str(msg),
            ReplayError::Capture(e) => e.fmt(f),
            ReplayError::Config(msg) => f.write_str(msg),
            ReplayError::Detector(msg) => write!(f, "building the detector: {msg}"),
            ReplayError::Eve { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for ReplayError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReplayError::Capture(e) => Some(e),
            ReplayError::Eve { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Replays `opts.pcap` through the rules into `opts.eve_log`.
///
/// # Errors
///
/// See [`ReplayError`]; rule errors and a capture that breaks off
/// part-way are not errors (both are printed and counted).
pub fn run(opts: &ReplayOpts) -> Result<ReplayReport, ReplayError> {
    let (cfg, settings) = engine_config(opts)?;
    warn_unapplied(&settings);
    let (detector, rule_errors) = load_detector(
        opts,
        settings.classification.as_deref(),
        settings.threshold_file.as_deref(),
    )?;
    let mut report = replay(opts, cfg, detector)?;
    report.rule_errors = rule_errors;
    Ok(report)
}

/// `--set` keys that parse but are not applied yet; kept so the
/// engine can take them up without another parsing pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    pub inline: Option<bool>,
    pub async_oneside: Option<bool>,
    /// `classification-file`, if `--classification` did not say.
    pub classification: Option<PathBuf>,
    pub threshold_file: Option<PathBuf>,
}

/// The engine configuration for a replay: `opts.mode`, flow events on,
/// then each `--set` key the engine knows:
///
/// | key | field |
/// |---|---|
/// | `stream.reassembly.depth` | `stream.depth` (size; 0 = unlimited) |
/// | `stream.reassembly.memcap` | `stream.memcap` (size) |
///
/// Sizes take Suricata's suffixes (`kb`, `mb`, `gb`, powers of 1024).
/// `stream.midstream` applies; `stream.inline`, `stream.async-oneside`,
/// `classification-file` and `threshold-file` are parsed into
/// [`Settings`]. Any other key is ignored with one warning per key.
///
/// # Errors
///
/// [`ReplayError::Config`] for a value a known key cannot take.
pub fn engine_config(opts: &ReplayOpts) -> Result<(EngineConfig, Settings), ReplayError> {
    let mut cfg = EngineConfig {
        mode: opts.mode,
        flow_events: true,
        checksums: opts.checksums,
        ..Default::default()
    };
    let mut settings = Settings {
        classification: opts.classification.clone(),
        threshold_file: opts.threshold_file.clone(),
        ..Default::default()
    };
    let mut ignored = BTreeSet::new();
    for (key, value) in &opts.sets {
        let bad = |what: &str| ReplayError::Config(format!("--set {key}={value}: {what}"));
        match key.as_str() {
            "stream.reassembly.depth" => {
                cfg.stream.depth = parse_size(value).ok_or_else(|| bad("not a size"))?;
            }
            "stream.reassembly.memcap" => {
                let size = parse_size(value).and_then(|s| usize::try_from(s).ok());
                cfg.stream.memcap = size.ok_or_else(|| bad("not a size"))?;
            }
            "stream.midstream" => {
                cfg.midstream = parse_bool(value).ok_or_else(|| bad("not a boolean"))?;
            }
            "stream.inline" => {
                settings.inline = Some(parse_bool(value).ok_or_else(|| bad("not a boolean"))?);
            }
            "stream.async-oneside" => {
                let b = parse_bool(value).ok_or_else(|| bad("not a boolean"))?;
                settings.async_oneside = Some(b);
            }
            "classification-file" => {
                settings.classification.get_or_insert_with(|| value.into());
            }
            "threshold-file" => {
                settings.threshold_file.get_or_insert_with(|| value.into());
            }
            "exception-policy" | "stream.reassembly.memcap-policy" | "defrag.memcap-policy" => {
                cfg.exception_policy = crate::engine::ExceptionPolicy::parse(value)
                    .ok_or_else(|| bad("not a policy"))?;
            }
            k if k.starts_with("host-os-policy.") => {
                let name = &k["host-os-policy.".len()..];
                cfg.host_os_policy.add(name, value).map_err(|e| bad(&e))?;
            }
            _ => {
                if ignored.insert(key.as_str()) {
                    tracing::warn!(key = %key, "unknown --set key: ignored");
                }
            }
        }
    }
    Ok((cfg, settings))
}

/// Warns once about each option that is accepted but has no effect yet.
fn warn_unapplied(settings: &Settings) {
    let pending = [
        ("stream.inline", settings.inline),
        ("stream.async-oneside", settings.async_oneside),
    ];
    for (key, value) in pending {
        if let Some(value) = value {
            tracing::warn!(key, value, "--set key recorded but not applied yet");
        }
    }
}

/// Variables, classifications and rules through the same code as live
/// mode, with every rule error printed. Returns the detector and the
/// number of rule errors.
fn load_detector(
    opts: &ReplayOpts,
    classification: Option<&Path>,
    threshold_file: Option<&Path>,
) -> Result<(Detector, usize), ReplayError> {
    let vars = config::vars(&[], &config::File::default(), &opts.vars)
        .map_err(|e| ReplayError::Config(e.to_string()))?;
    let classes = config::classifications(classification, &opts.rules)
        .map_err(|e| ReplayError::Config(e.to_string()))?;
    let loaded = match config::load_rules(&opts.rules, &vars, &classes) {
        Ok(l) => l,
        Err(e) => return Err(ReplayError::NoRules(e.to_string())),
    };
    let errors = loaded.errors.len();
    eprintln!("rules: {} loaded, {} failed", loaded.rules.len(), errors);
    if loaded.rules.is_empty() {
        // Still worth a run: flows and stats come out, and the reasons
        // every rule failed are printed above.
        eprintln!("no rule loaded: the replay logs flows and stats only");
    }
    let thresholds = match threshold_file {
        Some(p) => config::load_threshold_config(p, &vars)
            .map_err(|e| ReplayError::Config(e.to_string()))?,
        None => Vec::new(),
    };
    let detector = Detector::build_with(loaded.rules, &thresholds)
        .map_err(|e| ReplayError::Detector(e.to_string()))?;
    tracing::info!(rules = detector.len(), "detector built");
    Ok((detector, errors))
}

/// The packet loop, with rules already compiled. The capture is opened
/// before the log is truncated, so a wrong capture path leaves an
/// earlier log alone.
fn replay(
    opts: &ReplayOpts,
    cfg: EngineConfig,
    detector: Detector,
) -> Result<ReplayReport, ReplayError> {
    let mut capture = CaptureReader::open(&opts.pcap).map_err(ReplayError::Capture)?;
    let eve_err = |source| ReplayError::Eve {
        path: opts.eve_log.clone(),
        source,
    };
    let mut eve = EveWriter::create(&opts.eve_log).map_err(eve_err)?;
    tracing::info!(
        file = capture.name(),
        format = capture.format(),
        "replaying"
    );

    let rules_loaded = detector.len();
    let mut engine = Engine::new(cfg, detector);
    let mut actions = Actions::default();
    let mut events = Vec::with_capacity(16);
    // Flows end at the latest time seen, even if the capture is not
    // in time order.
    let mut last_ts = Ts(0);
    let started = Instant::now();
    let capture_error = loop {
        match capture.next_packet() {
            Ok(Some(p)) => {
                last_ts = last_ts.max(p.ts);
                let meta = Meta {
                    link: p.link,
                    ts: p.ts,
                    pcap_cnt: Some(p.number),
                };
                engine.process(p.data, meta, &mut actions, &mut events);
                eve.write_all(&mut events).map_err(eve_err)?;
            }
            Ok(None) => break None,
            Err(e) => {
                eprintln!("{e}");
                break Some(e);
            }
        }
    };

    // End every flow, then the counters, both at capture time.
    engine.finish(last_ts, &mut events);
    events.push(engine.stats_event(last_ts));
    eve.write_all(&mut events).map_err(eve_err)?;
    eve.flush().map_err(eve_err)?;
    let elapsed = started.elapsed();

    if capture.skipped() > 0 {
        tracing::warn!(
            packets = capture.skipped(),
            "skipped packets of unknown link type"
        );
    }
    let s = &engine.stats;
    Ok(ReplayReport {
        packets: s.packets,
        bytes: s.bytes,
        skipped: capture.skipped(),
        alerts: s.alerts,
        dropped: s.dropped,
        events: eve.written,
        rules_loaded,
        rule_errors: 0,
        elapsed,
        capture_error,
    })
}

/// `yes`/`no`, `true`/`false`, `on`/`off`, `1`/`0`, as Suricata's
/// configuration reads booleans.
fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Some(true),
        "no" | "false" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// `4096`, `64kb`, `1mb`, `2gb` (powers of 1024, case-insensitive, as
/// Suricata's size settings are read).
fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_lowercase();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(digits);
    let scale: u64 = match unit.trim() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    num.parse::<u64>().ok()?.checked_mul(scale)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use etherparse::PacketBuilder;

    use super::*;

    /// A directory under the system temp dir, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Scratch {
            static N: AtomicU32 = AtomicU32::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let name = format!("portcullis-replay-{}-{tag}-{n}", std::process::id());
            let dir = std::env::temp_dir().join(name);
            std::fs::create_dir_all(&dir).expect("temp dir");
            Scratch(dir)
        }

        fn path(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const CLIENT: ([u8; 6], [u8; 4], u16) = ([2, 0, 0, 0, 0, 1], [192, 0, 2, 1], 40000);
    const SERVER: ([u8; 6], [u8; 4], u16) = ([2, 0, 0, 0, 0, 2], [192, 0, 2, 2], 80);
    const GET: &[u8] = b"GET /index.html HTTP/1.1\r\nHost: example\r\n\r\n";
    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

    /// One TCP segment; `flags` holds `S`, `A`, `P`, `F`.
    fn tcp(to_server: bool, seq: u32, ack: u32, flags: &str, payload: &[u8]) -> Vec<u8> {
        let (a, b) = if to_server {
            (CLIENT, SERVER)
        } else {
            (SERVER, CLIENT)
        };
        let mut t = PacketBuilder::ethernet2(a.0, b.0)
            .ipv4(a.1, b.1, 64)
            .tcp(a.2, b.2, seq, 64240);
        for f in flags.chars() {
            t = match f {
                'S' => t.syn(),
                'A' => t.ack(ack),
                'P' => t.psh(),
                _ => t.fin(),
            };
        }
        let mut out = Vec::new();
        t.write(&mut out, payload).expect("segment");
        out
    }

    /// A TCP handshake, a request and its answer, and one UDP datagram:
    /// two flows, six packets.
    fn conversation() -> Vec<Vec<u8>> {
        let (c, s) = (1000u32, 5000u32);
        let get = GET.len() as u32;
        let mut udp = Vec::new();
        PacketBuilder::ethernet2(CLIENT.0, SERVER.0)
            .ipv4(CLIENT.1, SERVER.1, 64)
            .udp(5353, 53)
            .write(&mut udp, b"\x12\x34\x01\x00\x00\x00")
            .expect("datagram");
        vec![
            tcp(true, c, 0, "S", &[]),
            tcp(false, s, c + 1, "SA", &[]),
            tcp(true, c + 1, s + 1, "A", &[]),
            tcp(true, c + 1, s + 1, "PA", GET),
            tcp(false, s + 1, c + 1 + get, "PA", OK),
            udp,
        ]
    }

    /// A little-endian microsecond pcap of Ethernet frames, 1 ms apart.
    fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
        let mut file = Vec::new();
        file.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        file.extend_from_slice(&[2, 0, 4, 0]); // version 2.4
        file.extend_from_slice(&[0; 8]); // thiszone, sigfigs
        file.extend_from_slice(&65535u32.to_le_bytes());
        file.extend_from_slice(&1u32.to_le_bytes()); // Ethernet
        for (i, f) in frames.iter().enumerate() {
            let len = (f.len() as u32).to_le_bytes();
            file.extend_from_slice(&1_700_000_000u32.to_le_bytes());
            file.extend_from_slice(&(i as u32 * 1000).to_le_bytes());
            file.extend_from_slice(&len);
            file.extend_from_slice(&len);
            file.extend_from_slice(f);
        }
        std::fs::write(path, file).expect("pcap written");
    }

    /// The same packets as [`write_pcap`], as big-endian pcapng with
    /// nanosecond timestamps and a name-resolution block to skip.
    fn write_pcapng(path: &Path, frames: &[Vec<u8>]) {
        fn block(out: &mut Vec<u8>, ty: u32, body: &[u8]) {
            let pad = body.len().next_multiple_of(4) - body.len();
            let len = (12 + body.len() + pad) as u32;
            out.extend_from_slice(&ty.to_be_bytes());
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(body);
            out.extend_from_slice(&[0; 3][..pad]);
            out.extend_from_slice(&len.to_be_bytes());
        }
        let mut file = Vec::new();
        let shb = [
            0x1a2b_3c4du32.to_be_bytes(),
            [0, 1, 0, 0],
            [0xff; 4],
            [0xff; 4],
        ];
        block(&mut file, 0x0a0d_0d0a, &shb.concat());
        let idb = [
            [0, 1, 0, 0], // Ethernet, reserved
            [0, 0, 0, 0], // snaplen 0
            [0, 9, 0, 1], // if_tsresol, length 1:
            [9, 0, 0, 0], // 10^-9, padding
            [0, 0, 0, 0], // opt_endofopt
        ];
        block(&mut file, 1, &idb.concat());
        block(&mut file, 4, &[0, 0, 0, 0]); // name resolution: end
        for (i, f) in frames.iter().enumerate() {
            // 1 ms apart, as in the pcap.
            let ns = 1_700_000_000 * 1_000_000_000 + i as u64 * 1_000_000;
            let len = (f.len() as u32).to_be_bytes();
            let mut epb = vec![0; 4]; // interface 0
            epb.extend_from_slice(&((ns >> 32) as u32).to_be_bytes());
            epb.extend_from_slice(&(ns as u32).to_be_bytes());
            epb.extend_from_slice(&len);
            epb.extend_from_slice(&len);
            epb.extend_from_slice(f);
            epb.resize(epb.len().next_multiple_of(4), 0);
            block(&mut file, 6, &epb);
        }
        std::fs::write(path, file).expect("pcapng written");
    }

    /// A replay without rules: runs whatever `rules::load` is.
    fn replay_plain(opts: &ReplayOpts) -> Result<ReplayReport, ReplayError> {
        let (cfg, _) = engine_config(opts)?;
        replay(
            opts,
            cfg,
            Detector::build(Vec::new()).expect("empty detector"),
        )
    }

    #[test]
    fn same_capture_same_eve_bytes() {
        let dir = Scratch::new("determinism");
        write_pcap(&dir.path("c.pcap"), &conversation());
        let opts = ReplayOpts::new(dir.path("c.pcap"), Vec::new(), dir.path("eve.json"));

        let first = replay_plain(&opts).expect("first replay");
        let eve1 = std::fs::read(&opts.eve_log).expect("eve");
        let second = replay_plain(&opts).expect("second replay");
        let eve2 = std::fs::read(&opts.eve_log).expect("eve");
        // Truncated, not appended, and nothing from a clock.
        assert_eq!(eve1, eve2);
        assert_eq!((first.packets, second.packets), (6, 6));
        assert!(first.capture_error.is_none());

        // Two flows ended at the last packet's time, then the stats.
        let text = String::from_utf8(eve1).expect("utf-8");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        let kinds: Vec<_> = lines.iter().map(|l| l["event_type"].as_str()).collect();
        assert_eq!(kinds, [Some("flow"), Some("flow"), Some("stats")]);
        assert_eq!(first.events, 3);
        let last = "2023-11-14T22:13:20.005000+0000";
        assert!(lines.iter().all(|l| l["timestamp"] == last), "{text}");
        assert_eq!(lines[2]["stats"]["decoder"]["pkts"], 6);
    }

    #[test]
    fn pcap_and_pcapng_of_the_same_packets_log_the_same() {
        let dir = Scratch::new("formats");
        write_pcap(&dir.path("c.pcap"), &conversation());
        write_pcapng(&dir.path("c.pcapng"), &conversation());
        let mut eves = Vec::new();
        for name in ["c.pcap", "c.pcapng"] {
            let opts = ReplayOpts::new(dir.path(name), Vec::new(), dir.path("eve.json"));
            let report = replay_plain(&opts).expect("replay");
            assert_eq!(report.packets, 6, "{name}");
            eves.push(std::fs::read(&opts.eve_log).expect("eve"));
        }
        assert_eq!(eves[0], eves[1]);
    }

    /// Alerts come out identical on a second run too.
    #[test]
    fn rules_through_run_are_deterministic() {
        let dir = Scratch::new("run");
        write_pcap(&dir.path("c.pcap"), &conversation());
        let rules = dir.path("t.rules");
        let rule = "alert tcp any any -> any 80 (msg:\"index\"; \
                    flow:to_server,established; content:\"index.html\"; sid:1; rev:1;)\n";
        std::fs::write(&rules, rule).expect("rules written");
        let opts = ReplayOpts::new(dir.path("c.pcap"), vec![rules], dir.path("eve.json"));

        let first = run(&opts).expect("replay");
        let eve1 = std::fs::read(&opts.eve_log).expect("eve");
        run(&opts).expect("second replay");
        assert_eq!(eve1, std::fs::read(&opts.eve_log).expect("eve"));
        assert_eq!((first.rules_loaded, first.alerts), (1, 1));
        let text = String::from_utf8_lossy(&eve1);
        // IDS replay inspects stream bytes once acknowledged; this
        // capture never acknowledges the request, so the end does.
        assert!(
            text.contains("\"pkt_src\":\"stream (flow timeout)\""),
            "{text}"
        );
    }

    #[test]
    fn threshold_file_limits_alerts() {
        let dir = Scratch::new("threshold");
        write_pcap(&dir.path("c.pcap"), &conversation());
        let rules = dir.path("t.rules");
        std::fs::write(
            &rules,
            "alert tcp any any -> any any (sid:1;)\nalert tcp any any -> any any (sid:2;)\n",
        )
        .expect("rules written");
        let mut opts = ReplayOpts::new(dir.path("c.pcap"), vec![rules], dir.path("eve.json"));
        let all = run(&opts).expect("replay").alerts;
        assert!(
            all >= 4,
            "every packet alerts twice without a threshold: {all}"
        );

        let tf = dir.path("threshold.config");
        std::fs::write(
            &tf,
            "threshold gen_id 1, sig_id 1, type limit, track by_rule, count 1, seconds 60\n\
             suppress gen_id 1, sig_id 2\n",
        )
        .expect("threshold written");
        opts.threshold_file = Some(tf);
        assert_eq!(run(&opts).expect("replay").alerts, 1);
    }

    #[test]
    fn decode_event_rule_alerts_on_a_truncated_frame() {
        let dir = Scratch::new("decode-event");
        // The UDP datagram with its IPv4 total length claiming 40 bytes
        // more than the frame holds.
        let mut frames = conversation();
        let mut cut = frames[5].clone();
        let total = u16::from_be_bytes([cut[16], cut[17]]) + 40;
        cut[16..18].copy_from_slice(&total.to_be_bytes());
        frames.push(cut);
        write_pcap(&dir.path("c.pcap"), &frames);
        let rules = dir.path("t.rules");
        std::fs::write(
            &rules,
            "alert pkthdr any any -> any any (msg:\"trunc\"; \
             decode-event:ipv4.trunc_pkt; sid:7;)\n\
             alert pkthdr any any -> any any (decode-event:ipv6.trunc_pkt; sid:8;)\n",
        )
        .expect("rules written");
        let opts = ReplayOpts::new(dir.path("c.pcap"), vec![rules], dir.path("eve.json"));
        assert_eq!(run(&opts).expect("replay").alerts, 1);
        let eve = std::fs::read_to_string(&opts.eve_log).expect("eve");
        let alert = eve
            .lines()
            .find(|l| l.contains("\"event_type\":\"alert\""))
            .expect("an alert");
        assert!(alert.contains("\"signature_id\":7"), "{alert}");
        assert!(alert.contains("\"pcap_cnt\":7"), "{alert}");
        assert!(!alert.contains("src_ip"), "no addresses: {alert}");
    }

    /// Regression: data on a SYN was placed one byte early in the
    /// stream, so its first byte was lost and "Question?" never matched
    /// (suricata-verify detect-bytejump-01).
    #[test]
    fn data_on_a_syn_keeps_its_first_byte() {
        let dir = Scratch::new("syn-data");
        write_pcap(
            &dir.path("c.pcap"),
            &[tcp(true, 1000, 0, "S", b"Question?13")],
        );
        let rules = dir.path("t.rules");
        std::fs::write(
            &rules,
            "alert tcp any any -> any any (content:\"Question?\"; depth:9; sid:1;)\n",
        )
        .expect("rules written");
        let opts = ReplayOpts::new(dir.path("c.pcap"), vec![rules], dir.path("eve.json"));
        assert_eq!(run(&opts).expect("replay").alerts, 1);
    }

    /// Issue 3: a case whose every rule fails still replays, exits 0 and
    /// writes flows and stats.
    #[test]
    fn no_usable_rule_still_replays() {
        let dir = Scratch::new("norule");
        write_pcap(&dir.path("c.pcap"), &conversation());
        let rules = dir.path("t.rules");
        std::fs::write(
            &rules,
            "alert tcp any any -> any any (nosuchkeyword; sid:1;)\n",
        )
        .expect("rules written");
        let opts = ReplayOpts::new(dir.path("c.pcap"), vec![rules], dir.path("eve.json"));
        let report = run(&opts).expect("replay without rules");
        assert_eq!(
            (report.rules_loaded, report.rule_errors, report.alerts),
            (0, 1, 0)
        );
        let text = std::fs::read_to_string(&opts.eve_log).expect("eve");
        assert!(text.contains("\"event_type\":\"stats\""), "{text}");
    }

    #[test]
    fn capture_cut_short_replays_what_came_before() {
        let dir = Scratch::new("cut");
        let pcap = dir.path("c.pcap");
        write_pcap(&pcap, &conversation());
        let bytes = std::fs::read(&pcap).expect("pcap");
        std::fs::write(&pcap, &bytes[..bytes.len() - 5]).expect("cut");

        let opts = ReplayOpts::new(pcap, Vec::new(), dir.path("eve.json"));
        let report = replay_plain(&opts).expect("replay up to the cut");
        assert_eq!(report.packets, 5);
        let err = report.capture_error.expect("the cut reported");
        assert_eq!(err.packet(), Some(6));
        assert!(err.is_truncated());
        let eve = std::fs::read_to_string(&opts.eve_log).expect("eve");
        assert!(eve.contains("\"event_type\":\"stats\""));
    }

    #[test]
    fn missing_capture_fails_and_leaves_the_log_alone() {
        let dir = Scratch::new("missing");
        let eve = dir.path("eve.json");
        std::fs::write(&eve, "earlier\n").expect("eve");
        let opts = ReplayOpts::new(dir.path("nope.pcap"), Vec::new(), &eve);
        let err = replay_plain(&opts).expect_err("no capture");
        assert!(
            matches!(&err, ReplayError::Capture(e) if e.is_io()),
            "{err}"
        );
        assert!(err.to_string().contains("nope.pcap"), "{err}");
        assert_eq!(std::fs::read_to_string(&eve).expect("eve"), "earlier\n");

        // Not a capture at all.
        let text = dir.path("t.txt");
        std::fs::write(&text, "hello").expect("text");
        let opts = ReplayOpts::new(text, Vec::new(), &eve);
        assert!(matches!(replay_plain(&opts), Err(ReplayError::Capture(_))));
    }

    #[test]
    fn set_keys() {
        let mut opts = ReplayOpts::new("-", Vec::new(), "-");
        let set = |k: &str, v: &str| (k.to_string(), v.to_string());
        opts.sets = vec![
            set("stream.reassembly.depth", "1mb"),
            set("stream.reassembly.memcap", "64KB"),
            set("stream.midstream", "yes"),
            set("app-layer.error-policy", "drop-packet"),
            set("app-layer.error-policy", "ignore"),
            set("threshold-file", "/t.config"),
        ];
        let (cfg, settings) = engine_config(&opts).expect("valid");
        assert_eq!(cfg.stream.depth, 1 << 20);
        assert_eq!(cfg.stream.memcap, 64 << 10);
        assert!(cfg.flow_events);
        assert_eq!(cfg.mode, Mode::Ids);
        assert!(cfg.midstream);
        assert_eq!(settings.threshold_file, Some(PathBuf::from("/t.config")));

        for (k, v) in [
            ("stream.reassembly.depth", "lots"),
            ("stream.inline", "maybe"),
        ] {
            opts.sets = vec![set(k, v)];
            let err = engine_config(&opts).expect_err("bad value");
            assert_eq!(
                err.to_string(),
                format!("--set {k}={v}: {}", {
                    if k == "stream.inline" {
                        "not a boolean"
                    } else {
                        "not a size"
                    }
                })
            );
        }
    }

    #[test]
    fn sizes_and_booleans() {
        assert_eq!(parse_size("0"), Some(0));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("2 gb"), Some(2 << 30));
        assert_eq!(parse_size("1.5mb"), None);
        assert_eq!(parse_size("mb"), None);
        assert_eq!(parse_size("99999999999999gb"), None);
        assert_eq!(parse_bool("On"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool(""), None);
    }

    /// Every capture in the conformance suite reads to its end; one
    /// case also goes through `run` with its own rules.
    #[test]
    fn conformance_captures_replay() {
        let cases = Path::new("/work/shared/conformance/cases");
        let Ok(entries) = std::fs::read_dir(cases) else {
            eprintln!("skipped: no conformance cases at {}", cases.display());
            return;
        };
        let mut dirs: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
        dirs.sort();
        let dir = Scratch::new("conformance");
        let eve = dir.path("eve.json");
        let mut replayed = 0;
        let mut broken = Vec::new();
        for case in &dirs {
            let Ok(files) = std::fs::read_dir(case) else {
                continue;
            };
            let mut files: Vec<PathBuf> = files.filter_map(|e| Some(e.ok()?.path())).collect();
            files.sort();
            let with = |ext: &str| -> Vec<PathBuf> {
                let ext = Some(std::ffi::OsStr::new(ext));
                files
                    .iter()
                    .filter(|f| f.extension() == ext)
                    .cloned()
                    .collect()
            };
            let Some(pcap) = with("pcap").into_iter().chain(with("pcapng")).next() else {
                continue;
            };
            let mut opts = ReplayOpts::new(pcap, with("rules"), &eve);
            let report = replay_plain(&opts).unwrap_or_else(|e| panic!("{e}"));
            assert!(report.packets > 0, "{}", case.display());
            if let Some(err) = report.capture_error {
                let name = case.file_name().map(|n| n.to_string_lossy().into_owned());
                broken.push((name.unwrap_or_default(), err.packet(), report.packets));
            }

            if replayed == 0 {
                opts.checksums = false;
                let r = run(&opts);
                assert!(r.is_ok(), "{}: {r:?}", case.display());
            }
            replayed += 1;
        }
        eprintln!("{replayed} conformance captures replayed");

        // The bug-1450 captures have a garbage 7th record header
        // (tcpdump stops there too): the six packets before it replay.
        let want = [
            ("bug-1450-02".to_string(), Some(7), 6),
            ("bug-1450-04".to_string(), Some(7), 6),
            ("bug-1450-05".to_string(), Some(7), 6),
        ];
        assert_eq!(broken, want);
    }
}
