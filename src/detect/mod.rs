//! STUB until the rules branch merges: the API the engine is written against.
use crate::rules::Rule;

pub type RuleId = u32;
pub struct Input<'a> {
    pub packet: &'a crate::decode::Packet<'a>,
    pub to_server: bool,
    pub established: bool,
    pub stream: Option<StreamView<'a>>,
}
pub struct StreamView<'a> {
    pub window: &'a [u8],
    pub new_from: usize,
    pub window_start: u64,
}
#[derive(Debug, Clone, Default)]
pub struct DirState;
pub struct Detector {
    rules: Vec<Rule>,
}
impl Detector {
    pub fn build(rules: Vec<Rule>) -> Result<Detector, String> {
        Ok(Detector { rules })
    }
    pub fn len(&self) -> usize {
        self.rules.len()
    }
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
    pub fn rule(&self, id: RuleId) -> &Rule {
        &self.rules[id as usize]
    }
    pub fn inspect(&self, _i: &Input, _s: &mut DirState, _h: &mut Vec<RuleId>) {}
}
