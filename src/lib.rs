//! portcullis: a userspace intrusion prevention system.
//!
//! The modules follow the packet path: `dev` reads frames from a device
//! or a capture, `decode` views them, `flow` and `stream` track
//! connections, `detect` runs the compiled `rules`, `verdict` decides and
//! builds what to inject, and `output` writes EVE JSON. `engine` ties the
//! steps together without doing any I/O of its own.
#![forbid(unsafe_op_in_unsafe_fn)]

pub mod app;
pub mod cli;
pub mod config;
pub mod decode;
pub mod detect;
pub mod dev;
pub mod engine;
pub mod flow;
pub mod lab;
pub mod live;
pub mod output;
pub mod replay;
pub mod rules;
pub mod stream;
pub mod time;
pub mod verdict;
