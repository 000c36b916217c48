//! Live mode: two devices, the engine between them.
//!
//! One task on a single-threaded runtime owns the engine, so the flow
//! table needs no locks. Each device has one receive buffer, reused for
//! every packet; the engine's action and event vectors are reused too,
//! so forwarding allocates nothing per packet (alerts allocate their
//! JSON, which is an event, not steady state).

use std::future::Future;
use std::io;
use std::time::Duration;

use crate::dev::tun::Device;
use crate::engine::{Engine, Meta};
use crate::output::{EveWriter, Event};
use crate::time::Ts;
use crate::verdict::{Actions, Toward, Verdict};

/// Largest frame a TUN/TAP device hands over without offload.
const BUF: usize = 65_536;

/// Forwards between `devs[0]` and `devs[1]` until `shutdown` completes.
pub async fn forward(
    engine: &mut Engine,
    devs: &[Device; 2],
    eve: &mut EveWriter,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let mut bufs = [vec![0u8; BUF], vec![0u8; BUF]];
    let mut actions = Actions::default();
    let mut events: Vec<Event> = Vec::with_capacity(16);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tokio::pin!(shutdown);
    let link = devs[0].link_type();

    loop {
        let [b0, b1] = &mut bufs;
        let (side, n) = tokio::select! {
            r = devs[0].io.recv(b0) => (0, r?),
            r = devs[1].io.recv(b1) => (1, r?),
            _ = tick.tick() => {
                engine.tick(Ts::now(), &mut events);
                eve.write_all(&mut events)?;
                continue;
            }
            _ = &mut shutdown => break,
        };
        let frame = &bufs[side][..n];
        let meta = Meta {
            link,
            ts: Ts::now(),
            pcap_cnt: None,
        };
        engine.process(frame, meta, &mut actions, &mut events);

        let other = 1 - side;
        for inj in &actions.inject {
            let to = match inj.toward {
                Toward::Sender => side,
                Toward::Receiver => other,
            };
            send(&devs[to], &inj.bytes).await;
        }
        if actions.verdict == Some(Verdict::Forward) {
            let out = actions.replace.as_deref().unwrap_or(frame);
            send(&devs[other], out).await;
        }
        eve.write_all(&mut events)?;
    }

    engine.finish(Ts::now(), &mut events);
    events.push(engine.stats_event(Ts::now()));
    eve.write_all(&mut events)?;
    eve.flush()
}

/// A failed write loses one packet, as a full queue on a real link
/// would; it is logged at debug since TCP recovers by itself.
async fn send(dev: &Device, bytes: &[u8]) {
    if let Err(e) = dev.io.send(bytes).await {
        tracing::debug!(device = %dev.name, error = %e, "write failed");
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn signalled() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        // Without handlers the default action (exit) still applies.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
}
