//! TUN (L3) and TAP (L2) devices, through tun-rs.
//!
//! Why tun-rs rather than the `tun` crate: it exposes IFF_MULTI_QUEUE
//! and TUNSETOFFLOAD (virtio-net headers, GSO/GRO), which the throughput
//! work needs, and attaches to persistent devices a script made. Both
//! are used behind this module only, so a change of crate stays here.

use std::io;

use tun_rs::{AsyncDevice, DeviceBuilder, Layer};

use super::netns;
use crate::config::DeviceKind;
use crate::decode::LinkType;

pub struct Device {
    pub name: String,
    pub netns: Option<String>,
    pub kind: DeviceKind,
    pub io: AsyncDevice,
}

impl Device {
    pub fn link_type(&self) -> LinkType {
        match self.kind {
            DeviceKind::Tun => LinkType::Raw,
            DeviceKind::Tap => LinkType::Ethernet,
        }
    }
}

/// Opens (creating it if absent) a device inside `ns`, or in the
/// current namespace. Must run on a runtime thread, since the device
/// registers with tokio; nothing awaits while the thread is inside `ns`.
pub fn open(name: &str, ns: Option<&str>, kind: DeviceKind, up: bool) -> io::Result<Device> {
    let _inside = ns.map(netns::enter).transpose()?;
    let layer = match kind {
        DeviceKind::Tun => Layer::L3,
        DeviceKind::Tap => Layer::L2,
    };
    let mut b = DeviceBuilder::new().name(name).layer(layer);
    if up {
        b = b.enable(true);
    }
    let io = b
        .build_async()
        .map_err(|e| io::Error::new(e.kind(), format!("device {name}: {e}")))?;
    Ok(Device {
        name: name.to_string(),
        netns: ns.map(str::to_string),
        kind,
        io,
    })
}
