//! Where an append's time goes: prepare (schema check) vs chain+hash vs write. Run with
//! `cargo run --release --example profile_append`.
#![allow(
    clippy::print_stdout,
    clippy::cast_precision_loss,
    reason = "a profiling tool: it prints its measurements (rates from byte and entry counts)"
)]

use std::time::Instant;

use kfm_wal_core::keys::WriterKey;
use kfm_wal_core::prepare;
use kfm_wal_core::record::{self, Kind};
use kfm_wal_core::{hash, Durability, Writer, WriterOptions};

fn main() {
    let a = "a".repeat(64);
    let entries: Vec<Vec<u8>> = (0..1000)
        .map(|i| format!(r#"{{"actor":{{"id":"etl-runner","type":"ci"}},"governance":{{"approvals":[],"care":"public"}},"lineage_links":["run:{i}"],"operation":"etl_step","payload":{{"actions":[{{"blob":"sha256:{a}","bytes":123456,"columns":["fips","name","seat","population","area"],"path":"processed/counties/part-{i:05}.parquet","rows":1000,"type":"file.write"}}]}},"post_state_expected":"sha256:{a}","pre_state_hash":"sha256:{a}","reversal":{{"steps":[{{"path":"processed/counties/part-{i:05}.parquet","type":"file.delete"}}]}},"telemetry":{{"id":"focus-{i}"}},"tier":1}}"#).into_bytes())
        .collect();
    let rounds = 50;
    let t = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(prepare::prepare(Kind::Intent, &entries, 1 << 20).unwrap());
    }
    println!("prepare: {:.2} us/entry", t.elapsed().as_secs_f64() / f64::from(rounds * 1000) * 1e6);
    let prepared = prepare::prepare(Kind::Intent, &entries, 1 << 20).unwrap();
    let t = Instant::now();
    let ts = kfm_wal_core::timestamp::now();
    for _ in 0..rounds {
        let mut buf = Vec::with_capacity(1 << 20);
        let mut head = hash::ZERO;
        for (seq, p) in prepared.iter().enumerate() {
            head = record::write(&mut buf, seq as u64 + 1, &head, p.kind, &ts, p.members());
        }
        std::hint::black_box(buf);
    }
    println!("chain+hash: {:.2} us/entry", t.elapsed().as_secs_f64() / f64::from(rounds * 1000) * 1e6);
    let dir = tempfile::tempdir_in(".").unwrap();
    let w = Writer::create(
        dir.path(),
        WriterKey::from_seed(&[1; 32]).unwrap(),
        WriterOptions { durability: Durability::None, max_segment_bytes: 1 << 30, ..Default::default() },
    )
    .unwrap();
    let t = Instant::now();
    for _ in 0..rounds {
        w.append(Kind::Intent, &entries).unwrap();
    }
    println!("append (no sync): {:.2} us/entry", t.elapsed().as_secs_f64() / f64::from(rounds * 1000) * 1e6);
}
