//! Engine throughput on a synthetic HTTP download: a handshake, then
//! 1,000 full-size segments of text-like payload, with the lab's rules
//! and with every ET Open 2020 rule that loads. Run with
//! `cargo bench --bench engine`; criterion reports bytes per second.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use etherparse::PacketBuilder;
use portcullis::decode::LinkType;
use portcullis::detect::Detector;
use portcullis::engine::{Engine, EngineConfig, Meta, Mode};
use portcullis::rules::{load, Classifications, Vars};
use portcullis::time::Ts;
use portcullis::verdict::Actions;

fn conversation() -> Vec<Vec<u8>> {
    let (c, s) = ([198, 18, 0, 2], [198, 18, 1, 2]);
    let mut out = Vec::new();
    let mut w = |step: etherparse::PacketBuilderStep<etherparse::TcpHeader>, data: &[u8]| {
        let mut v = Vec::new();
        if step.write(&mut v, data).is_ok() {
            out.push(v);
        }
    };
    w(
        PacketBuilder::ipv4(c, s, 64)
            .tcp(40000, 80, 100, 65535)
            .syn(),
        b"",
    );
    w(
        PacketBuilder::ipv4(s, c, 64)
            .tcp(80, 40000, 500, 65535)
            .syn()
            .ack(101),
        b"",
    );
    w(
        PacketBuilder::ipv4(c, s, 64)
            .tcp(40000, 80, 101, 65535)
            .ack(501),
        b"",
    );
    let req = b"GET /files/report.html HTTP/1.1\r\nHost: lab\r\nUser-Agent: curl/8\r\n\r\n";
    w(
        PacketBuilder::ipv4(c, s, 64)
            .tcp(40000, 80, 101, 65535)
            .ack(501),
        req,
    );
    let body: Vec<u8> =
        b"<p>The quick brown fox jumps over the lazy dog; portcullis lab page.</p>\n"
            .iter()
            .copied()
            .cycle()
            .take(1400)
            .collect();
    let mut seq = 501u32;
    for _ in 0..1000 {
        let ack = 101 + req.len() as u32;
        w(
            PacketBuilder::ipv4(s, c, 64)
                .tcp(80, 40000, seq, 65535)
                .ack(ack),
            &body,
        );
        seq = seq.wrapping_add(body.len() as u32);
    }
    out
}

fn detector(paths: &[PathBuf]) -> Option<(Detector, usize)> {
    let classes = paths
        .first()
        .and_then(|p| p.parent().map(|d| d.join("classification.config")))
        .and_then(|c| Classifications::load(&c).ok())
        .unwrap_or_default();
    let vars = Vars::default();
    let loaded = load(paths, &vars, &classes);
    let n = loaded.rules.len();
    if n == 0 {
        return None;
    }
    Detector::build(loaded.rules).ok().map(|d| (d, n))
}

fn bench(c: &mut Criterion) {
    let pkts = conversation();
    let bytes: usize = pkts.iter().map(Vec::len).sum();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let et = root.join("../shared/corpus/et-open-2020");
    let et_files: Vec<PathBuf> = std::fs::read_dir(&et)
        .map(|d| {
            let mut v: Vec<PathBuf> = d
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "rules"))
                .collect();
            v.sort();
            v
        })
        .unwrap_or_default();
    let sets = [
        ("lab-rules", vec![root.join("rules")]),
        ("et-open", et_files),
    ];

    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Bytes(bytes as u64));
    for (name, paths) in sets {
        let Some((det, n)) = detector(&paths) else {
            eprintln!("{name}: no rules, skipped");
            continue;
        };
        eprintln!("{name}: {n} rules");
        let mut engine = Engine::new(
            EngineConfig {
                mode: Mode::Ips,
                ..EngineConfig::default()
            },
            det,
        );
        let mut actions = Actions::default();
        let mut events = Vec::new();
        let mut t = 0u64;
        g.bench_function(name, |b| {
            b.iter(|| {
                // A new flow each round: shift the clock past every timeout.
                t += 3_600_000_000;
                for p in &pkts {
                    let meta = Meta {
                        link: LinkType::Raw,
                        ts: Ts(t),
                        pcap_cnt: None,
                    };
                    engine.process(p, meta, &mut actions, &mut events);
                }
                events.clear();
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
