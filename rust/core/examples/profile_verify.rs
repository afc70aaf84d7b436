//! Where verification time goes: raw SHA-256, line splitting + envelope parsing, full scan with
//! and without body checks, on one thread and on all.
//!
//!     cargo run --release --example profile_verify -- DIR [PHASE]
//!
//! PHASE (default all) runs one part alone, for `perf stat` / `perf record` on a shared machine
//! where wall times are noisy: sha256, split, envelope, scan, scan-bodies, load, verify. `load`
//! times what the reader, salvage and receipt resumption do: each segment loaded (`scan::load`)
//! and scanned with bodies from memory.
#![allow(
    clippy::print_stdout,
    clippy::cast_precision_loss,
    reason = "a profiling tool: it prints its measurements (rates from byte and entry counts)"
)]

use std::time::Instant;

use kfm_wal_core::scan::{self, ScanOptions};
use kfm_wal_core::{hash, record, segment, verify, VerifyOptions};

fn lines(d: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut pos = 0;
    std::iter::from_fn(move || {
        (pos < d.len()).then(|| {
            let end = memchr::memchr(b'\n', &d[pos..]).map_or(d.len(), |i| pos + i + 1);
            let line = &d[pos..end];
            pos = end;
            line
        })
    })
}

fn main() {
    let dir = std::env::args().nth(1).expect("log dir");
    let phase = std::env::args().nth(2).unwrap_or_else(|| "all".into());
    let run = |name: &str| phase == "all" || phase == name;
    let files = segment::list(dir.as_ref()).unwrap();
    // Segments are read into memory only for the phases that take them from there.
    let in_memory = phase != "verify" && phase != "load";
    let data: Vec<Vec<u8>> = files.iter().filter(|_| in_memory).map(|f| std::fs::read(&f.path).unwrap()).collect();
    let total: u64 = files.iter().map(|f| std::fs::metadata(&f.path).unwrap().len()).sum();
    let mb = total as f64 / 1e6;
    let report = |what: &str, t: Instant| println!("{what}: {:.0} MB/s", mb / t.elapsed().as_secs_f64());
    if run("sha256") {
        let t = Instant::now();
        for d in &data {
            std::hint::black_box(hash::sha256(d));
        }
        report("sha256 whole buffers", t);
        let t = Instant::now();
        data.iter().flat_map(|d| lines(d)).for_each(|l| _ = std::hint::black_box(hash::sha256(record::hashed_part(l))));
        report("split + sha256 per line", t);
    }
    if run("split") {
        let t = Instant::now();
        std::hint::black_box(data.iter().flat_map(|d| lines(d)).count());
        report("split (memchr)", t);
    }
    if run("envelope") {
        let t = Instant::now();
        data.iter().flat_map(|d| lines(d)).for_each(|l| _ = std::hint::black_box(record::parse(l).ok()));
        report("split + envelope parse", t);
    }
    for (name, check_bodies) in [("scan", false), ("scan-bodies", true)] {
        if run(name) {
            let opts = ScanOptions { keyring: None, check_bodies, check_signatures: true, collect_records: false };
            let t = Instant::now();
            for (f, d) in files.iter().zip(&data) {
                std::hint::black_box(scan::scan(f, d, &opts));
            }
            report(&format!("scan (one thread) check_bodies={check_bodies}"), t);
        }
    }
    if run("load") {
        let opts = ScanOptions { keyring: None, check_bodies: true, check_signatures: true, collect_records: false };
        let t = Instant::now();
        for f in &files {
            let bytes = scan::load(&f.path, f.archived).unwrap();
            std::hint::black_box(scan::scan_segment(f, &bytes, &opts, false));
        }
        report("load + scan (one thread) check_bodies=true", t);
    }
    if run("verify") {
        let t = Instant::now();
        let r = verify(dir.as_ref(), &VerifyOptions::default()).unwrap();
        report(&format!("verify ({} threads, ok={})", rayon::current_num_threads(), r.ok()), t);
    }
}
