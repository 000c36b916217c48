//! Configuration: a TOML file, overridden by command-line flags, checked
//! in full before any device or namespace is touched.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::engine::{EngineConfig, ExceptionPolicy, Mode};
use crate::rules::threshold::ConfigEntry;
use crate::rules::{self, Classifications, Loaded, Vars};

/// The file as written. Unknown keys are refused, so a typo is an error
/// rather than a silently ignored setting.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct File {
    pub mode: Option<ModeName>,
    #[serde(default)]
    pub rules: Vec<PathBuf>,
    pub eve_log: Option<PathBuf>,
    pub classification: Option<PathBuf>,
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    #[serde(default)]
    pub device: Vec<DeviceSpec>,
    pub flow: Option<FlowSection>,
    pub stream: Option<StreamSection>,
    /// IPS: seconds to cut off a host whose packet was blocked (0: off).
    pub isolate_secs: Option<u64>,
    /// What a packet a cap refused gets (Suricata's names: auto,
    /// drop-flow, drop-packet, pass-flow, pass-packet, bypass, ignore).
    pub exception_policy: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ModeName {
    Ids,
    Ips,
}

impl From<ModeName> for Mode {
    fn from(m: ModeName) -> Mode {
        match m {
            ModeName::Ids => Mode::Ids,
            ModeName::Ips => Mode::Ips,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceSpec {
    pub name: String,
    pub netns: Option<String>,
    #[serde(default)]
    pub kind: DeviceKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    #[default]
    Tun,
    Tap,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FlowSection {
    /// Most flows tracked at once.
    pub cap: Option<usize>,
    pub timeout_new: Option<u64>,
    pub timeout_established: Option<u64>,
    pub timeout_closed: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StreamSection {
    /// Stream bytes inspected per direction (0: no limit).
    pub depth: Option<u64>,
    /// Bytes kept per direction for detection to read back.
    pub window: Option<usize>,
    /// Bytes held by all streams together.
    pub memcap: Option<usize>,
    /// Take up connections whose handshake was not seen.
    pub midstream: Option<bool>,
}

/// A configuration problem, reported before anything is started.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

pub fn read(path: &Path) -> Result<File, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| ConfigError(format!("{}: {e}", path.display())))
}

/// Parses `NAME=VALUE`.
pub fn parse_kv(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        _ => Err(format!("expected NAME=VALUE, got '{s}'")),
    }
}

/// Variables: Suricata's defaults, then the caller's `base` (the lab's
/// own network), then the file's, then `--var`s; later ones win.
pub fn vars(
    base: &[(&str, &str)],
    file: &File,
    cli: &[(String, String)],
) -> Result<Vars, ConfigError> {
    let mut vars = Vars::default();
    let base = base.iter().map(|(k, v)| (k.to_string(), v.to_string()));
    let file = file.vars.iter().map(|(k, v)| (k.clone(), v.clone()));
    for (k, v) in base.chain(file).chain(cli.iter().cloned()) {
        vars.set(&k, &v)
            .map_err(|e| ConfigError(format!("variable {k}: {e}")))?;
    }
    Ok(vars)
}

/// The classification file: given, or `classification.config` beside
/// the first rules path, or the built-in table.
pub fn classifications(
    given: Option<&Path>,
    rules: &[PathBuf],
) -> Result<Classifications, ConfigError> {
    let found = given.map(Path::to_path_buf).or_else(|| {
        let first = rules.first()?;
        let dir = if first.is_dir() {
            first.clone()
        } else {
            first.parent()?.to_path_buf()
        };
        let c = dir.join("classification.config");
        c.exists().then_some(c)
    });
    match found {
        Some(p) => {
            Classifications::load(&p).map_err(|e| ConfigError(format!("{}: {e}", p.display())))
        }
        None => Ok(Classifications::default()),
    }
}

/// Loads rules, printing each failure. A rule file that cannot be read
/// is an error; rules that fail are not (the caller decides whether a
/// set with no rule left is usable).
pub fn load_rules(
    paths: &[PathBuf],
    vars: &Vars,
    classes: &Classifications,
) -> Result<Loaded, ConfigError> {
    if paths.is_empty() {
        return Err(ConfigError(
            "no rules given (--rules or `rules` in the config)".into(),
        ));
    }
    let loaded = rules::load(paths, vars, classes);
    for (p, e) in &loaded.unreadable {
        eprintln!("{}: {e}", p.display());
    }
    for e in &loaded.errors {
        eprintln!("{e}");
    }
    if loaded.rules.is_empty() && !loaded.unreadable.is_empty() {
        return Err(ConfigError(format!(
            "no rule loaded ({} failed, {} files unreadable)",
            loaded.errors.len(),
            loaded.unreadable.len()
        )));
    }
    Ok(loaded)
}

/// Live mode has nothing to enforce without a rule.
pub fn require_rules(loaded: &Loaded) -> Result<(), ConfigError> {
    if loaded.rules.is_empty() {
        return Err(ConfigError(format!(
            "no rule loaded ({} failed)",
            loaded.errors.len()
        )));
    }
    Ok(())
}

/// Reads a Suricata threshold.config (suppress addresses may use the
/// rule variables). Lines that cannot be used are
/// printed and skipped (rate_filter lines are reported as parsed but
/// not applied); an unreadable file is an error.
pub fn load_threshold_config(path: &Path, vars: &Vars) -> Result<Vec<ConfigEntry>, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
    let parsed = rules::threshold::parse_threshold_config(&text, vars);
    for (line, what) in &parsed.problems {
        eprintln!("{}:{line}: {what}", path.display());
    }
    tracing::info!(
        path = %path.display(),
        entries = parsed.entries.len(),
        skipped = parsed.problems.len(),
        "threshold config loaded"
    );
    Ok(parsed.entries)
}

/// Engine settings from the file's sections, for live mode.
pub fn engine(file: &File, mode: Mode) -> Result<EngineConfig, ConfigError> {
    let exception_policy = match &file.exception_policy {
        None => ExceptionPolicy::Auto,
        Some(p) => ExceptionPolicy::parse(p).ok_or_else(|| {
            ConfigError(format!(
                "exception-policy '{p}': expected auto, drop-flow, drop-packet, \
                 pass-flow, pass-packet, bypass or ignore"
            ))
        })?,
    };
    let mut cfg = EngineConfig {
        exception_policy,
        mode,
        isolate_secs: file.isolate_secs.unwrap_or(0),
        idle_flush_secs: 1,
        ..EngineConfig::default()
    };
    if let Some(f) = &file.flow {
        if let Some(c) = f.cap {
            cfg.flow_cap = c;
        }
        if let Some(t) = f.timeout_new {
            cfg.timeouts.new = t;
        }
        if let Some(t) = f.timeout_established {
            cfg.timeouts.established = t;
        }
        if let Some(t) = f.timeout_closed {
            cfg.timeouts.closed = t;
        }
    }
    if let Some(s) = &file.stream {
        if let Some(d) = s.depth {
            cfg.stream.depth = d;
        }
        if let Some(w) = s.window {
            cfg.stream.window = w;
        }
        if let Some(m) = s.memcap {
            cfg.stream.memcap = m;
        }
        if let Some(m) = s.midstream {
            cfg.midstream = m;
        }
    }
    Ok(cfg)
}

/// Device names the kernel accepts: 1 to 15 bytes, no '/' or whitespace.
pub fn check_ifname(name: &str) -> Result<(), ConfigError> {
    if name.is_empty() || name.len() > 15 || name.contains(['/', ' ', '\t', '\n']) {
        return Err(ConfigError(format!(
            "device name '{name}' is not a valid interface name (1-15 bytes, no '/' or spaces)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_refused() {
        let e = toml::from_str::<File>("mode = \"ips\"\nmoed = 1\n");
        assert!(e.is_err());
        let e = toml::from_str::<File>("mode = \"ipz\"\n");
        assert!(e.is_err());
    }

    #[test]
    fn full_file_parses() {
        let f: File = toml::from_str(
            r#"
            mode = "ids"
            rules = ["rules/"]
            eve-log = "/tmp/eve.json"
            [vars]
            HOME_NET = "[198.18.0.0/15]"
            [[device]]
            name = "pc-tun-c"
            netns = "pc-client"
            [[device]]
            name = "pc-tun-s"
            kind = "tun"
            [flow]
            cap = 100
            [stream]
            depth = 0
            "#,
        )
        .expect("valid config");
        assert_eq!(f.mode, Some(ModeName::Ids));
        assert_eq!(f.device.len(), 2);
        let e = engine(&f, Mode::Ids).expect("valid");
        assert_eq!((e.flow_cap, e.stream.depth), (100, 0));
    }

    #[test]
    fn kv_and_ifname() {
        assert_eq!(parse_kv("A=b c").ok(), Some(("A".into(), "b c".into())));
        assert!(parse_kv("novalue").is_err());
        assert!(check_ifname("pc-tun-c").is_ok());
        assert!(check_ifname("a-name-that-is-too-long").is_err());
    }
}
