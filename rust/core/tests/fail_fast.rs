//! `--fail-fast` (`stop_after: Some(1)`) reports exactly the first finding of a full run, for
//! every golden vector. The scan may stop at window boundaries of as many segments as there are
//! threads; this test binary's pool has one thread, so it may stop after every segment (the
//! Python tests run the same check with the default pool).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use kfm_wal_core::keys::PublicKey;
use kfm_wal_core::{verify, Finding, LogReport, VerifyOptions};

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/vectors")
}

fn keyring(case: &Path) -> HashMap<String, PublicKey> {
    let own = case.join("keyring.json");
    let file = if own.exists() { own } else { vectors().join("keyring.json") };
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| PublicKey::from_base64(k["public_key"].as_str().unwrap()).unwrap())
        .map(|k| (k.key_id.clone(), k))
        .collect()
}

fn run(case: &Path, stop_after: Option<usize>) -> LogReport {
    let opts = VerifyOptions { keyring: Some(keyring(case)), stop_after, ..VerifyOptions::default() };
    verify(case, &opts).unwrap()
}

fn located(f: &Finding) -> (&str, &str, u64, Option<u64>, Option<&str>) {
    (f.code.as_str(), f.segment.as_str(), f.offset, f.seq, f.wal_id.as_deref())
}

#[test]
fn fail_fast_reports_the_full_runs_first_finding_on_every_vector() {
    let mut cases: Vec<PathBuf> = ["valid", "invalid"]
        .iter()
        .flat_map(|kind| std::fs::read_dir(vectors().join(kind)).unwrap().map(|e| e.unwrap().path()))
        .filter(|p| !p.join("receipt.json").exists()) // a receipt changes what a run starts from
        .collect();
    cases.sort();
    assert!(cases.len() > 60, "the vectors are there");
    // Called from this thread, not inside the pool: verify blocks on its pool's scans.
    let _ = rayon::ThreadPoolBuilder::new().num_threads(1).build_global();
    assert_eq!(rayon::current_num_threads(), 1);
    for case in &cases {
        let (full, fast) = (run(case, None), run(case, Some(1)));
        let got: Vec<_> = fast.findings.iter().map(located).collect();
        let want: Vec<_> = full.findings.iter().take(1).map(located).collect();
        assert_eq!(got, want, "{}", case.display());
    }
}
