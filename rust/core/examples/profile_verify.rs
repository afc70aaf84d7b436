//! Where verification time goes: raw SHA-256, line splitting + envelope parsing, full scan with
//! and without body checks. `cargo run --release --example profile_verify -- DIR`
use std::time::Instant;

use kfm_wal_core::scan::{self, ScanOptions};
use kfm_wal_core::{hash, record, segment, verify, VerifyOptions};

fn main() {
    let dir = std::env::args().nth(1).expect("log dir");
    let files = segment::list(dir.as_ref()).unwrap();
    let data: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(&f.path).unwrap()).collect();
    let total: usize = data.iter().map(|d| d.len()).sum();
    let mb = total as f64 / 1e6;
    let t = Instant::now();
    for d in &data {
        std::hint::black_box(hash::sha256(d));
    }
    println!("sha256 whole buffers: {:.0} MB/s", mb / t.elapsed().as_secs_f64());
    let t = Instant::now();
    for d in &data {
        for line in d.split_inclusive(|b| *b == b'\n') {
            std::hint::black_box(hash::sha256(record::hashed_part(line)));
        }
    }
    println!("split + sha256 per line: {:.0} MB/s", mb / t.elapsed().as_secs_f64());
    let t = Instant::now();
    for d in &data {
        for line in d.split_inclusive(|b| *b == b'\n') {
            std::hint::black_box(record::parse(line).ok());
        }
    }
    println!("split + envelope parse: {:.0} MB/s", mb / t.elapsed().as_secs_f64());
    for check_bodies in [false, true] {
        let opts = ScanOptions { keyring: None, check_bodies, check_signatures: true, collect_records: false };
        let t = Instant::now();
        for (f, d) in files.iter().zip(&data) {
            std::hint::black_box(scan::scan(f, d, &opts));
        }
        println!("scan (one thread) check_bodies={check_bodies}: {:.0} MB/s", mb / t.elapsed().as_secs_f64());
    }
    {
        use rayon::prelude::*;
        let opts = ScanOptions { keyring: None, check_bodies: true, check_signatures: true, collect_records: false };
        let t = Instant::now();
        let n: usize = files.par_iter().zip(data.par_iter()).map(|(f, d)| scan::scan(f, d, &opts).ops.len()).sum();
        println!("scan (rayon, {} threads): {:.0} MB/s ({n} ops)", rayon::current_num_threads(), mb / t.elapsed().as_secs_f64());
    }
    let t = Instant::now();
    let r = verify(dir.as_ref(), &VerifyOptions::default()).unwrap();
    println!("verify (all threads): {:.0} MB/s, ok={}", mb / t.elapsed().as_secs_f64(), r.ok());
}
