//! A segment verified in pieces (`piece_scan`): the pieces' bounds and scans are the same whether
//! read from bytes in memory (object storage's range reads) or from the file; merged, they are the
//! whole segment's summary byte for byte, and when they cannot stand for it (damage before the
//! last piece) the merge says so rather than guess. Checked on a valid segment at every piece
//! size from 64 bytes up and on randomly damaged bytes.

mod common;

use std::fs::File;

use common::*;
use kfm_wal_core::piece_scan::{self, Piece};
use kfm_wal_core::scan::ScanOptions;
use kfm_wal_core::segment::SegmentFile;
use kfm_wal_core::segment_summary;

const OPTS: ScanOptions =
    ScanOptions { keyring: None, check_bodies: true, check_signatures: true, collect_records: false };

/// Every piece of `bytes` (at `file`'s path) encoded, read from memory and from the file, which
/// must agree; and the merge of them, if any.
fn pieces(file: &SegmentFile, bytes: &[u8], piece_bytes: u64) -> (Vec<Vec<u8>>, Option<Vec<u8>>) {
    let total = bytes.len() as u64;
    let f = File::open(&file.path).unwrap();
    let head_end = bytes.iter().position(|&b| b == b'\n').map_or(bytes.len(), |i| i + 1);
    let mut out = Vec::new();
    for index in 0..total.div_ceil(piece_bytes) {
        let base = (index * piece_bytes).saturating_sub(1);
        let held = &bytes[usize::try_from(base).unwrap()..];
        let from_memory =
            piece_scan::scan_piece(file, held, base, total, index, piece_bytes, &bytes[..head_end], &OPTS);
        let from_memory = piece_scan::encode(&from_memory).expect("every byte after base is held");
        let from_file =
            piece_scan::encode(&piece_scan::scan_file_piece(file, &f, total, index, piece_bytes, &OPTS).unwrap());
        assert_eq!(Some(&from_memory), from_file.as_ref(), "piece {index} of {piece_bytes}");
        out.push(from_memory);
    }
    let refs: Vec<&[u8]> = out.iter().map(Vec::as_slice).collect();
    let merged = piece_scan::merge(&refs).map(|s| segment_summary::encode(&s));
    (out, merged)
}

fn whole(file: &SegmentFile, bytes: &[u8]) -> Vec<u8> {
    segment_summary::encode(&segment_summary::scan_alone(file, bytes, &OPTS))
}

#[test]
fn a_valid_segment_merges_into_its_whole_summary_at_every_piece_size() {
    let (_dir, file, bytes) = completed_segment();
    let expected = whole(&file, &bytes);
    let mut sizes: Vec<u64> = (64..2048).step_by(61).collect();
    sizes.extend([4096, 10_000, bytes.len() as u64 - 1]);
    for piece_bytes in sizes {
        let (scanned, merged) = pieces(&file, &bytes, piece_bytes);
        assert!(scanned.len() > 1);
        assert_eq!(merged.as_ref(), Some(&expected), "pieces of {piece_bytes}");
    }
}

#[test]
fn a_piece_asks_for_more_bytes_until_its_last_group_is_held() {
    let (_dir, file, bytes) = completed_segment();
    let total = bytes.len() as u64;
    let head_end = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    let (index, piece_bytes) = (2u64, 700u64);
    let base = index * piece_bytes - 1;
    let at = usize::try_from(base).unwrap();
    let mut held = 1;
    let found = loop {
        let window = &bytes[at..(at + held).min(bytes.len())];
        match piece_scan::scan_piece(&file, window, base, total, index, piece_bytes, &bytes[..head_end], &OPTS) {
            Piece::NeedMore => held += 1,
            other => break other,
        }
    };
    assert!(held > 1);
    let all = piece_scan::scan_piece(&file, &bytes[at..], base, total, index, piece_bytes, &bytes[..head_end], &OPTS);
    assert_eq!(piece_scan::encode(&found), piece_scan::encode(&all));
}

#[test]
fn damaged_segments_merge_only_into_their_whole_summary() {
    let (dir, file, bytes) = completed_segment();
    let damaged = SegmentFile { path: dir.path().join("damaged").join(file.name()), ..file.clone() };
    std::fs::create_dir_all(damaged.path.parent().unwrap()).unwrap();
    let mut rng = fastrand::Rng::with_seed(17);
    let (mut merged_count, mut refused) = (0, 0);
    for round in 0..300 {
        let b = randomly_damaged(&mut rng, &bytes, 1..3);
        std::fs::write(&damaged.path, &b).unwrap();
        let piece_bytes = rng.u64(64..3000);
        match pieces(&damaged, &b, piece_bytes).1 {
            Some(m) => {
                assert_eq!(m, whole(&damaged, &b), "round {round}, pieces of {piece_bytes}");
                merged_count += 1;
            }
            None => refused += 1,
        }
    }
    // Both ways were taken: damage in the last piece is merged, earlier damage refused.
    assert!(merged_count > 30 && refused > 30, "merged {merged_count}, refused {refused}");
}
