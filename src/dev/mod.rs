//! Packet sources and sinks: capture files, and later TUN/TAP devices.

pub mod pcap;
