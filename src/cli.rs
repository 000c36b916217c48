//! Command line: subcommands, flag parsing, exit codes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{self, ConfigError, DeviceKind, DeviceSpec, ModeName};
use crate::detect::Detector;
use crate::dev::{netns, tun};
use crate::engine::{Engine, Mode};
use crate::lab;
use crate::output::EveWriter;

#[derive(Parser)]
#[command(
    name = "portcullis",
    version,
    about = "Userspace IPS on TUN/TAP devices"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Forward between two existing (or new) devices named in a config.
    Run(RunArgs),
    /// The lab: two namespaces with portcullis between them.
    #[command(subcommand)]
    Lab(LabCmd),
    /// Parse rule files and report every rule that does not load.
    CheckRules(CheckArgs),
    /// Run a capture (pcap or pcapng, `-` for stdin) through the engine.
    Replay(ReplayArgs),
}

#[derive(Args)]
struct ReplayArgs {
    pcap: PathBuf,
    #[command(flatten)]
    engine: EngineArgs,
    /// Suricata setting, e.g. stream.midstream=true (repeatable).
    #[arg(long = "set", value_parser = config::parse_kv)]
    sets: Vec<(String, String)>,
    /// Don't validate checksums (captures taken with checksum offload).
    #[arg(long)]
    no_checksum_checks: bool,
    /// Suricata threshold.config.
    #[arg(long)]
    threshold_file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum LabCmd {
    /// Build the lab and forward through it until Ctrl-C.
    Up(LabArgs),
    /// Remove what a lab left behind.
    Down {
        #[arg(long, default_value = "pc")]
        prefix: String,
    },
}

/// Flags shared by every command that loads rules and runs the engine.
#[derive(Args, Clone)]
struct EngineArgs {
    /// TOML configuration file; flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    #[arg(long, value_enum)]
    mode: Option<ModeName>,
    /// Rule file, or folder of *.rules files (repeatable).
    #[arg(long = "rules")]
    rules: Vec<PathBuf>,
    #[arg(long)]
    eve_log: Option<PathBuf>,
    /// classification.config (default: the one beside the rules).
    #[arg(long)]
    classification: Option<PathBuf>,
    /// Set a rule variable, e.g. HOME_NET=[198.18.0.0/15] (repeatable).
    #[arg(long = "var", value_parser = config::parse_kv)]
    vars: Vec<(String, String)>,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    engine: EngineArgs,
}

#[derive(Args)]
struct LabArgs {
    /// Prefix for namespace and device names (at most 7 characters).
    #[arg(long, default_value = "pc")]
    prefix: String,
    /// Don't start the HTTP server in the server namespace.
    #[arg(long)]
    no_http: bool,
    /// tun: portcullis routes IP packets; tap: it bridges Ethernet frames.
    #[arg(long, value_enum, default_value = "tun")]
    kind: DeviceKind,
    #[command(flatten)]
    engine: EngineArgs,
}

#[derive(Args)]
struct CheckArgs {
    files: Vec<PathBuf>,
    #[arg(long)]
    classification: Option<PathBuf>,
    #[arg(long = "var", value_parser = config::parse_kv)]
    vars: Vec<(String, String)>,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    match cli.cmd {
        Cmd::CheckRules(a) => check_rules(&a),
        Cmd::Run(a) => report(run(&a.engine)),
        Cmd::Replay(a) => report(replay(&a)),
        Cmd::Lab(LabCmd::Up(a)) => report(lab_up(&a)),
        Cmd::Lab(LabCmd::Down { prefix }) => {
            if lab::down(&prefix) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PORTCULLIS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

fn report(r: Result<(), Box<dyn std::error::Error>>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portcullis: {e}");
            ExitCode::from(2)
        }
    }
}

/// Exit 0: every rule loaded; 1: some failed; 2: none loaded, or a
/// file could not be read.
fn check_rules(a: &CheckArgs) -> ExitCode {
    let prepared = config::vars(&[], &config::File::default(), &a.vars).and_then(|v| {
        Ok((
            v,
            config::classifications(a.classification.as_deref(), &a.files)?,
        ))
    });
    let (vars, classes) = match prepared {
        Ok(p) => p,
        Err(e) => {
            eprintln!("portcullis: {e}");
            return ExitCode::from(2);
        }
    };
    let loaded = crate::rules::load(&a.files, &vars, &classes);
    for (p, e) in &loaded.unreadable {
        println!("{}: {e}", p.display());
    }
    for e in &loaded.errors {
        println!("{e}");
    }
    println!(
        "{} rules loaded, {} failed",
        loaded.rules.len(),
        loaded.errors.len()
    );
    if loaded.rules.is_empty() || !loaded.unreadable.is_empty() {
        ExitCode::from(2)
    } else if loaded.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Everything from configuration to a built engine, checked before any
/// device is touched.
struct Prepared {
    engine: Engine,
    eve: EveWriter,
    eve_path: PathBuf,
    file: config::File,
    loaded: usize,
    failed: usize,
}

fn prepare(
    a: &EngineArgs,
    base_vars: &[(&str, &str)],
    default_eve: &Path,
    default_rules: &[PathBuf],
) -> Result<Prepared, ConfigError> {
    let file = match &a.config {
        Some(p) => config::read(p)?,
        None => config::File::default(),
    };
    let mode: Mode = a.mode.or(file.mode).unwrap_or(ModeName::Ips).into();
    let mut rules = if a.rules.is_empty() {
        file.rules.clone()
    } else {
        a.rules.clone()
    };
    if rules.is_empty() {
        rules = default_rules.to_vec();
    }
    let vars = config::vars(base_vars, &file, &a.vars)?;
    let classes = config::classifications(
        a.classification
            .as_deref()
            .or(file.classification.as_deref()),
        &rules,
    )?;
    let loaded = config::load_rules(&rules, &vars, &classes)?;
    config::require_rules(&loaded)?;
    let failed = loaded.errors.len();
    let n = loaded.rules.len();
    let detector = Detector::build(loaded.rules)
        .map_err(|e| ConfigError(format!("cannot compile rules: {e}")))?;
    let eve_path = a
        .eve_log
        .clone()
        .or_else(|| file.eve_log.clone())
        .unwrap_or_else(|| default_eve.to_path_buf());
    let eve = EveWriter::open(&eve_path, true)
        .map_err(|e| ConfigError(format!("{}: {e}", eve_path.display())))?;
    let engine = Engine::new(config::engine(&file, mode)?, detector);
    Ok(Prepared {
        engine,
        eve,
        eve_path,
        file,
        loaded: n,
        failed,
    })
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

fn run(a: &EngineArgs) -> Result<(), Box<dyn std::error::Error>> {
    let mut p = prepare(a, &[], Path::new("eve.json"), &[])?;
    let specs = devices(&p.file.device)?;
    if !netns::is_root() {
        return Err("portcullis run needs root (CAP_NET_ADMIN) to open TUN/TAP devices".into());
    }
    let rt = runtime()?;
    rt.block_on(async {
        let devs = [open(&specs[0])?, open(&specs[1])?];
        summary(&p, &devs);
        crate::live::forward(&mut p.engine, &devs, &mut p.eve, crate::live::signalled()).await?;
        shutdown_summary(&p.engine);
        Ok(())
    })
}

fn devices(specs: &[DeviceSpec]) -> Result<[DeviceSpec; 2], ConfigError> {
    let [a, b] = specs else {
        return Err(ConfigError(format!(
            "the config must name exactly two [[device]] entries, it has {}",
            specs.len()
        )));
    };
    for d in [a, b] {
        config::check_ifname(&d.name)?;
        if let Some(ns) = &d.netns {
            if !netns::exists(ns) {
                return Err(ConfigError(format!(
                    "device {}: network namespace '{ns}' does not exist",
                    d.name
                )));
            }
        }
    }
    if a.kind != b.kind {
        return Err(ConfigError(
            "both devices must be of the same kind (tun or tap)".into(),
        ));
    }
    Ok([a.clone(), b.clone()])
}

fn open(d: &DeviceSpec) -> std::io::Result<tun::Device> {
    tun::open(&d.name, d.netns.as_deref(), d.kind, false)
}

fn replay(a: &ReplayArgs) -> Result<(), Box<dyn std::error::Error>> {
    let e = &a.engine;
    let file = match &e.config {
        Some(p) => config::read(p)?,
        None => config::File::default(),
    };
    let rules = if e.rules.is_empty() {
        file.rules.clone()
    } else {
        e.rules.clone()
    };
    let eve_log = e
        .eve_log
        .clone()
        .or_else(|| file.eve_log.clone())
        .ok_or("replay needs --eve-log FILE (or eve-log in the config)")?;
    let mut opts = crate::replay::ReplayOpts::new(&a.pcap, rules, eve_log);
    opts.mode = e.mode.or(file.mode).unwrap_or(ModeName::Ids).into();
    opts.vars = file
        .vars
        .clone()
        .into_iter()
        .chain(e.vars.iter().cloned())
        .collect();
    opts.sets = a.sets.clone();
    opts.checksums = !a.no_checksum_checks;
    opts.threshold_file = a.threshold_file.clone();
    opts.classification = e.classification.clone().or(file.classification.clone());
    let r = crate::replay::run(&opts)?;
    eprintln!(
        "replayed {} packets ({} bytes) in {:.3} s: {:.1} Mbit/s, {:.0} packets/s; {} alerts, {} dropped",
        r.packets,
        r.bytes,
        r.elapsed.as_secs_f64(),
        r.mbit_per_sec(),
        r.packets_per_sec(),
        r.alerts,
        r.dropped
    );
    if let Some(err) = &r.capture_error {
        eprintln!("portcullis: {err} (packets before it were replayed)");
    }
    Ok(())
}

fn lab_up(a: &LabArgs) -> Result<(), Box<dyn std::error::Error>> {
    if a.prefix.is_empty() || a.prefix.len() > 7 {
        return Err("--prefix must be 1 to 7 characters (device names are {prefix}-tun-c)".into());
    }
    config::check_ifname(&lab::sides(&a.prefix, a.kind)[0].dev)?;
    let dir = std::env::temp_dir().join(format!("portcullis-{}", a.prefix));
    // The lab's own hosts are its home network, unless told otherwise.
    let base = [("HOME_NET", lab::HOME_NET)];
    let mut p = prepare(
        &a.engine,
        &base,
        &dir.join("eve.json"),
        &[PathBuf::from("rules")],
    )?;
    if !netns::is_root() {
        return Err("portcullis lab needs root to create namespaces and devices".into());
    }
    let rt = runtime()?;
    rt.block_on(async {
        let mut lab = lab::Lab::up(&a.prefix, a.kind, !a.no_http)?;
        let devs = lab.devices.take().ok_or("lab has no devices")?;
        summary(&p, &devs);
        tracing::info!(
            client = %format!("ip netns exec {}-client", a.prefix),
            server = lab::SERVER_V4,
            eve = %p.eve_path.display(),
            "lab ready"
        );
        let r =
            crate::live::forward(&mut p.engine, &devs, &mut p.eve, crate::live::signalled()).await;
        drop(devs);
        drop(lab);
        shutdown_summary(&p.engine);
        r.map_err(Into::into)
    })
}

fn summary(p: &Prepared, devs: &[tun::Device; 2]) {
    let kind = match devs[0].kind {
        DeviceKind::Tun => "tun",
        DeviceKind::Tap => "tap",
    };
    tracing::info!(
        mode = p.engine.mode().name(),
        kind,
        device_a = %devs[0].name,
        netns_a = devs[0].netns.as_deref().unwrap_or("-"),
        device_b = %devs[1].name,
        netns_b = devs[1].netns.as_deref().unwrap_or("-"),
        rules_loaded = p.loaded,
        rules_failed = p.failed,
        eve = %p.eve_path.display(),
        "portcullis started"
    );
}

fn shutdown_summary(e: &Engine) {
    let s = &e.stats;
    tracing::info!(
        packets = s.packets,
        flows = s.flows,
        alerts = s.alerts,
        dropped = s.dropped,
        rejected = s.rejected,
        decoder_errors = s.decoder_errors.values().sum::<u64>(),
        "portcullis stopped"
    );
}
