//! Packet sources and sinks: TUN/TAP devices and namespaces.
//! The only place in the crate with system calls of its own (`netns`).

pub mod netns;
pub mod tun;
