//! Packet sources and sinks: TUN/TAP devices, namespaces, captures.
//! `netns` is the only module with system calls of its own.

pub mod netns;
pub mod pcap;
pub mod tun;
