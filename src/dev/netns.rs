//! Network namespaces: entering one for the current thread, and the
//! `ip` commands the lab uses to build its topology.
//!
//! Entering uses setns(2), which moves only the calling thread; the
//! guard moves it back when dropped. Devices are opened while inside,
//! so the kernel creates (or finds) them in that namespace, and their
//! file descriptors keep working from any namespace afterwards.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Stdio};

/// Where `ip netns` keeps its named namespaces.
const NETNS_DIR: &str = "/run/netns";

pub fn exists(name: &str) -> bool {
    Path::new(NETNS_DIR).join(name).exists()
}

/// The current thread is inside a namespace until this is dropped.
pub struct Entered {
    original: File,
}

pub fn enter(name: &str) -> io::Result<Entered> {
    let original = File::open("/proc/thread-self/ns/net")?;
    let target = File::open(Path::new(NETNS_DIR).join(name))
        .map_err(|e| io::Error::new(e.kind(), format!("network namespace '{name}': {e}")))?;
    setns(&target)?;
    Ok(Entered { original })
}

impl Drop for Entered {
    fn drop(&mut self) {
        if let Err(e) = setns(&self.original) {
            // The thread would keep working in the wrong namespace.
            tracing::error!(error = %e, "cannot return to the original network namespace");
            std::process::abort();
        }
    }
}

fn setns(ns: &File) -> io::Result<()> {
    // SAFETY: the descriptor is open for the duration of the call (it
    // borrows `ns`), and CLONE_NEWNET asks the kernel to check that it
    // refers to a network namespace; setns has no other memory effects.
    let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Runs `ip ARGS...`, turning a failure into an error carrying its stderr.
pub fn ip(args: &[&str]) -> io::Result<()> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run ip: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Process ids inside a namespace (`ip netns pids`).
pub fn pids(name: &str) -> Vec<i32> {
    Command::new("ip")
        .args(["netns", "pids", name])
        .stderr(Stdio::null())
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Ends every process in a namespace and deletes it.
pub fn delete(name: &str) -> io::Result<()> {
    for pid in pids(name) {
        // SAFETY: kill(2) with a pid read from `ip netns pids`; it only
        // sends a signal and touches no memory of ours.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    if exists(name) {
        ip(&["netns", "del", name])?;
    }
    Ok(())
}

pub fn is_root() -> bool {
    // SAFETY: geteuid(2) cannot fail and has no side effects.
    unsafe { libc::geteuid() == 0 }
}
