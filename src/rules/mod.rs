//! The rule language: Suricata rule text to [`Rule`] values.
//!
//! ```text
//! action proto src_addr src_port -> dst_addr dst_port (key:value; ...)
//! ```
//!
//! [`parse_rule`] reads one rule; [`load`] reads rule files (or folders of
//! `*.rules`), joins lines continued with `\`, skips comments (a commented
//! rule is a disabled rule) and collects one [`RuleError`] per rule that
//! failed, with file and line filled in. Keywords we do not implement
//! fail the rule with [`ErrorKind::UnsupportedKeyword`]; nothing is
//! loaded with part of its logic ignored.
//!
//! Parsing stops at the first problem in a rule; the sid is read first so
//! that every error can name it.

pub mod buffers;
pub mod bytes;
mod classification;
mod error;
pub mod fields;
pub mod flowvars;
mod header;
mod lexer;
mod options;
mod packet;
mod payload;
pub mod threshold;
mod vars;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub use classification::{Class, Classifications};
pub use error::{ErrorKind, RuleError};
pub use header::{Action, AddrSpec, AppProto, Header, IpNet, PortSpec, Proto, RejectTo};
pub use options::Options;
pub use packet::{Cmp, Flags, FlagsHow, Flow};
pub use payload::{Content, ContentVars, FastPattern, Match, Pcre, PcreFlags};
pub use vars::Vars;

/// Priority when neither `priority` nor a classtype gives one.
pub const DEFAULT_PRIORITY: u8 = 3;

/// One parsed rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub header: Header,
    pub options: Options,
    pub sid: u32,
    /// 1 unless the rule sets `gid`.
    pub gid: u32,
    /// 0 unless the rule sets `rev`.
    pub rev: u32,
    /// `priority` keyword, else the classtype's, else 3. Lower is more
    /// severe; EVE calls it `severity`.
    pub priority: u8,
    /// Set by [`load`]; `None` for rules from [`parse_rule`].
    pub file: Option<String>,
    /// 1-based line where the rule starts; 0 when unknown.
    pub line: usize,
}

impl Rule {
    pub fn action(&self) -> Action {
        self.header.action
    }

    pub fn proto(&self) -> &Proto {
        &self.header.proto
    }

    pub fn msg(&self) -> &str {
        &self.options.msg
    }

    /// The classtype's short name, e.g. `attempted-admin`.
    pub fn classtype(&self) -> Option<&str> {
        self.options.classtype.as_deref()
    }

    /// The classtype's description, e.g. "Attempted Administrator
    /// Privilege Gain" (EVE's `category`).
    pub fn category(&self) -> Option<&str> {
        self.options.category.as_deref()
    }

    pub fn severity(&self) -> u8 {
        self.priority
    }
}

/// The detected protocol an app-layer protocol name stands for, when
/// we detect it.
pub fn app_proto_of(name: &str) -> Option<crate::app::AppProto> {
    use crate::app::AppProto as A;
    Some(match name {
        "http" | "http1" => A::Http,
        "tls" | "ssl" => A::Tls,
        "ssh" => A::Ssh,
        "ftp" => A::Ftp,
        "smtp" => A::Smtp,
        "dns" => A::Dns,
        "failed" => A::Failed,
        _ => return None,
    })
}

/// Parses one rule (without its file and line; [`load`] adds them).
pub fn parse_rule(text: &str, vars: &Vars, classes: &Classifications) -> Result<Rule, RuleError> {
    let lexed = lexer::lex(text.trim())?;
    let sid = lexed
        .options
        .iter()
        .find(|o| o.name == "sid")
        .and_then(|o| o.value)
        .and_then(|v| v.trim().parse::<u32>().ok());
    let with_sid = |mut e: RuleError| {
        e.sid = sid;
        e
    };

    let header =
        header::parse_header(&lexed.header, vars).map_err(|e| with_sid(RuleError::malformed(e)))?;
    let options = options::parse_options(&lexed.options, classes).map_err(with_sid)?;
    let sid = options
        .sid
        .ok_or_else(|| with_sid(RuleError::malformed("no sid").keyword("sid")))?;

    // Checked last so that unsupported keywords in app-layer rules are
    // still counted as such. Protocols we detect load; a protocol's
    // buffers (and HTTP's events) only make sense on that protocol.
    if let Proto::App(AppProto(name)) = &header.proto {
        let known = app_proto_of(name);
        let bufs_ok = options.buffers.iter().all(|b| Some(b.buf.app()) == known);
        let events_ok = options.app_events.is_empty() || known == Some(crate::app::AppProto::Http);
        if known.is_none() || !bufs_ok || !events_ok {
            return Err(with_sid(RuleError::unsupported_protocol(name)));
        }
    }
    let priority = options
        .priority
        .or(options.class_priority)
        .unwrap_or(DEFAULT_PRIORITY);
    Ok(Rule {
        sid,
        gid: options.gid.unwrap_or(1),
        rev: options.rev.unwrap_or(0),
        priority,
        header,
        options,
        file: None,
        line: 0,
    })
}

/// The result of [`load`]: what loaded, what did not, and which paths
/// could not be read at all.
#[derive(Debug, Default)]
pub struct Loaded {
    pub rules: Vec<Rule>,
    pub errors: Vec<RuleError>,
    pub unreadable: Vec<(PathBuf, String)>,
}

impl Loaded {
    /// Errors of one kind, e.g. to report unsupported keywords apart.
    pub fn count(&self, kind: ErrorKind) -> usize {
        self.errors.iter().filter(|e| e.kind == kind).count()
    }
}

/// Loads rule files; a directory loads every `*.rules` in it, sorted by
/// name. A sid seen twice (same gid) is an error on the second rule.
pub fn load(paths: &[PathBuf], vars: &Vars, classes: &Classifications) -> Loaded {
    let mut loaded = Loaded::default();
    let mut seen: HashMap<(u32, u32), ()> = HashMap::new();
    for path in paths {
        let files = match rule_files(path) {
            Ok(f) => f,
            Err(e) => {
                loaded.unreadable.push((path.clone(), e.to_string()));
                continue;
            }
        };
        for file in files {
            match std::fs::read(&file) {
                Ok(bytes) => {
                    let text = String::from_utf8_lossy(&bytes);
                    load_text(
                        &text,
                        &file.display().to_string(),
                        vars,
                        classes,
                        &mut loaded,
                        &mut seen,
                    );
                }
                Err(e) => loaded.unreadable.push((file, e.to_string())),
            }
        }
    }
    loaded
}

fn rule_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        // Surface a missing file as unreadable rather than later.
        std::fs::metadata(path)?;
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path)? {
        let p = entry?.path();
        if p.extension().is_some_and(|e| e == "rules") && p.is_file() {
            files.push(p);
        }
    }
    files.sort();
    Ok(files)
}

/// Parses the rules in `text`, attributing them to `file`.
fn load_text(
    text: &str,
    file: &str,
    vars: &Vars,
    classes: &Classifications,
    loaded: &mut Loaded,
    seen: &mut HashMap<(u32, u32), ()>,
) {
    for (line, rule_text) in logical_lines(text) {
        let located = |mut e: RuleError| {
            e.file = Some(file.to_string());
            e.line = line;
            e
        };
        match parse_rule(&rule_text, vars, classes) {
            Ok(mut rule) => {
                if seen.insert((rule.gid, rule.sid), ()).is_some() {
                    let mut e = RuleError::malformed("duplicate sid").keyword("sid");
                    e.sid = Some(rule.sid);
                    loaded.errors.push(located(e));
                    continue;
                }
                rule.file = Some(file.to_string());
                rule.line = line;
                loaded.rules.push(rule);
            }
            Err(e) => loaded.errors.push(located(e)),
        }
    }
}

/// Joins `\`-continued lines and drops blanks and comments. Yields the
/// 1-based line each rule starts on.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        let (start, mut acc) = match pending.take() {
            Some(p) => p,
            None => {
                let t = line.trim_start();
                if t.is_empty() || t.starts_with('#') {
                    continue;
                }
                (i + 1, String::new())
            }
        };
        match line.strip_suffix('\\') {
            Some(head) => {
                acc.push_str(head);
                pending = Some((start, acc));
            }
            None => {
                acc.push_str(line);
                out.push((start, acc));
            }
        }
    }
    // A continuation at the end of the file still ends the rule.
    if let Some(p) = pending {
        out.push(p);
    }
    out
}
