//! Rule errors: what went wrong, and where.
//!
//! A [`RuleError`] carries the file, line, sid and keyword when they are
//! known, so an operator can find the rule without grepping. The
//! [`ErrorKind`] separates "we do not implement this yet" from "this rule
//! is wrong", because a rule set written for full Suricata is expected to
//! produce many of the first and should produce none of the second.

use std::fmt;

/// Why a rule was not loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A keyword we do not implement (or a form of one, such as a pcre
    /// buffer flag).
    UnsupportedKeyword,
    /// A protocol we parse but do not inspect yet (app-layer names).
    UnsupportedProtocol,
    /// The rule text is wrong: bad syntax, a bad value, a missing sid.
    Malformed,
}

/// One rejected rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub kind: ErrorKind,
    /// Set by the loader; `None` for [`crate::rules::parse_rule`].
    pub file: Option<String>,
    /// 1-based line where the rule starts; 0 when unknown.
    pub line: usize,
    pub sid: Option<u32>,
    /// The keyword at fault, when there is one.
    pub keyword: Option<String>,
    /// What is wrong, without the location prefix.
    pub what: String,
}

impl RuleError {
    pub fn malformed(what: impl Into<String>) -> Self {
        RuleError {
            kind: ErrorKind::Malformed,
            file: None,
            line: 0,
            sid: None,
            keyword: None,
            what: what.into(),
        }
    }

    pub fn unsupported_keyword(keyword: impl Into<String>) -> Self {
        let keyword = keyword.into();
        RuleError {
            kind: ErrorKind::UnsupportedKeyword,
            what: format!("unsupported keyword '{keyword}'"),
            keyword: Some(keyword),
            ..RuleError::malformed("")
        }
    }

    pub fn unsupported_protocol(proto: &str) -> Self {
        RuleError {
            kind: ErrorKind::UnsupportedProtocol,
            what: format!("unsupported protocol '{proto}'"),
            ..RuleError::malformed("")
        }
    }

    /// Names the keyword this error is about.
    pub fn keyword(mut self, keyword: &str) -> Self {
        self.keyword = Some(keyword.to_string());
        self
    }

    pub fn is_unsupported(&self) -> bool {
        self.kind != ErrorKind::Malformed
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}:{}: ", self.line)?;
        } else if self.line != 0 {
            write!(f, "line {}: ", self.line)?;
        }
        if let Some(sid) = self.sid {
            write!(f, "sid {sid}: ")?;
        }
        f.write_str(&self.what)?;
        // The unsupported-keyword message already names it.
        match (&self.keyword, self.kind) {
            (Some(k), ErrorKind::Malformed) => write!(f, " (keyword '{k}')"),
            _ => Ok(()),
        }
    }
}

impl std::error::Error for RuleError {}
