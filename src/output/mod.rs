//! Output: events the engine raises, written as EVE JSON lines.

pub mod eve;

pub use eve::{AlertEvent, EveWriter, Event, FlowEvent, StatsEvent};
