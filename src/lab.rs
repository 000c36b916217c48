//! The lab: two namespaces with portcullis between them.
//!
//!   {prefix}-client            portcullis             {prefix}-server
//!   198.18.0.2/24  {prefix}-tun-c <-> engine <-> {prefix}-tun-s  198.18.1.2/24
//!                  ({prefix}-tap-c and -tap-s with `--kind tap`)
//!   fd00:0:0:1::2/64                                   fd00:0:0:2::2/64
//!
//! Each namespace routes only the other side's prefix through its TUN;
//! neither has a default route, so lab traffic cannot leave the lab.
//! Everything made here is removed when [`Lab`] is dropped: on Ctrl-C,
//! on SIGTERM, and on an error partway through building.

use std::io;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::config::DeviceKind;
use crate::dev::netns;
use crate::dev::tun::{self, Device};

pub struct Side {
    pub ns: String,
    pub dev: String,
    pub v4: &'static str,
    pub v6: &'static str,
    pub peer_v4: &'static str,
    pub peer_v6: &'static str,
}

pub fn sides(prefix: &str, kind: DeviceKind) -> [Side; 2] {
    let k = match kind {
        DeviceKind::Tun => "tun",
        DeviceKind::Tap => "tap",
    };
    [
        Side {
            ns: format!("{prefix}-client"),
            dev: format!("{prefix}-{k}-c"),
            v4: "198.18.0.2/24",
            v6: "fd00:0:0:1::2/64",
            peer_v4: "198.18.1.0/24",
            peer_v6: "fd00:0:0:2::/64",
        },
        Side {
            ns: format!("{prefix}-server"),
            dev: format!("{prefix}-{k}-s"),
            v4: "198.18.1.2/24",
            v6: "fd00:0:0:2::2/64",
            peer_v4: "198.18.0.0/24",
            peer_v6: "fd00:0:0:1::/64",
        },
    ]
}

/// `$HOME_NET` in the lab unless the config or `--var` says otherwise.
/// A `--var` or config value wins: they come after this one.
pub const HOME_NET: &str = "[198.18.0.0/15,fd00::/8]";

/// The server's address, where the lab's HTTP server listens.
pub const SERVER_V4: &str = "198.18.1.2";

/// A built lab; dropping it tears it down.
pub struct Lab {
    prefix: String,
    http: Option<Child>,
    pub devices: Option<[Device; 2]>,
    pub dir: PathBuf,
}

impl Lab {
    /// Builds namespaces, devices, addresses and routes, and starts the
    /// HTTP server unless `http` is false. With TAP devices the lab is a
    /// bridge: the two sides resolve each other with ARP and NDP through
    /// portcullis, and each route is on-link.
    pub fn up(prefix: &str, kind: DeviceKind, http: bool) -> io::Result<Lab> {
        let s = sides(prefix, kind);
        for side in &s {
            if netns::exists(&side.ns) {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!(
                        "namespace {} exists: another lab uses prefix '{prefix}' \
                         (remove it with `portcullis lab down --prefix {prefix}`)",
                        side.ns
                    ),
                ));
            }
        }
        let mut lab = Lab {
            prefix: prefix.to_string(),
            http: None,
            devices: None,
            dir: std::env::temp_dir().join(format!("portcullis-{prefix}")),
        };
        for side in &s {
            netns::ip(&["netns", "add", &side.ns])?;
        }
        let c = tun::open(&s[0].dev, Some(&s[0].ns), kind, true)?;
        let sv = tun::open(&s[1].dev, Some(&s[1].ns), kind, true)?;
        lab.devices = Some([c, sv]);
        for side in &s {
            address(side)?;
        }
        if http {
            lab.http = Some(lab.start_http(&s[1].ns)?);
        }
        Ok(lab)
    }

    fn start_http(&self, ns: &str) -> io::Result<Child> {
        let www = self.dir.join("www");
        std::fs::create_dir_all(&www)?;
        std::fs::write(
            www.join("index.html"),
            "<html><body><h1>portcullis lab</h1><p>This page crossed the IPS.</p>\
             </body></html>\n",
        )?;
        Command::new("ip")
            .args(["netns", "exec", ns, "python3", "-m", "http.server", "80"])
            .args(["--bind", SERVER_V4, "--directory"])
            .arg(&www)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot start http.server: {e}")))
    }
}

fn address(side: &Side) -> io::Result<()> {
    let n = side.ns.as_str();
    let d = side.dev.as_str();
    netns::ip(&["-n", n, "link", "set", "lo", "up"])?;
    netns::ip(&["-n", n, "link", "set", d, "up"])?;
    netns::ip(&["-n", n, "addr", "add", side.v4, "dev", d])?;
    netns::ip(&["-n", n, "-6", "addr", "add", side.v6, "dev", d, "nodad"])?;
    netns::ip(&["-n", n, "route", "add", side.peer_v4, "dev", d])?;
    netns::ip(&["-n", n, "-6", "route", "add", side.peer_v6, "dev", d])
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(mut h) = self.http.take() {
            let _ = h.kill();
            let _ = h.wait();
        }
        // Closing the descriptors removes the (non-persistent) devices.
        self.devices = None;
        down(&self.prefix);
    }
}

/// Removes what a lab with this prefix left: processes in its
/// namespaces, the namespaces, its scratch folder. Safe to repeat.
pub fn down(prefix: &str) -> bool {
    let mut ok = true;
    // Namespace names do not depend on the device kind.
    for side in sides(prefix, DeviceKind::Tun) {
        if let Err(e) = netns::delete(&side.ns) {
            tracing::warn!(namespace = %side.ns, error = %e, "cannot delete namespace");
            ok = false;
        }
    }
    let _ = std::fs::remove_dir_all(
        std::env::temp_dir()
            .join(format!("portcullis-{prefix}"))
            .join("www"),
    );
    ok
}
