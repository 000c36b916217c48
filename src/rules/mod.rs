//! STUB until the rules branch merges: the API the engine is written against.
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Alert,
    Drop,
    Reject,
    Pass,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub action: Action,
    pub sid: u32,
    pub gid: u32,
    pub rev: u32,
    pub msg: String,
    pub category: String,
    pub priority: u8,
}

#[derive(Debug, Clone, Default)]
pub struct Vars;
impl Vars {
    pub fn set(&mut self, _n: &str, _v: &str) -> Result<(), String> {
        Ok(())
    }
}
#[derive(Debug, Clone, Default)]
pub struct Classifications;
impl Classifications {
    pub fn load(_p: &std::path::Path) -> Result<Self, String> {
        Ok(Classifications)
    }
}
#[derive(Debug)]
pub struct RuleError(pub String);
impl std::fmt::Display for RuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl RuleError {
    pub fn is_unsupported(&self) -> bool {
        false
    }
}
#[derive(Debug, Default)]
pub struct Loaded {
    pub rules: Vec<Rule>,
    pub errors: Vec<RuleError>,
    pub unreadable: Vec<(PathBuf, String)>,
}
pub fn load(_p: &[PathBuf], _v: &Vars, _c: &Classifications) -> Loaded {
    Loaded::default()
}
