//! Segment files: their names, and finding them in the live directory and `archive/`.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result};

pub const ARCHIVE: &str = "archive";
pub const RECOVERED: &str = "recovered";
pub const LOCK: &str = "LOCK";
/// The suffix of a compressed archived segment: `wal-….jsonl.zst` is one zstd frame (or more)
/// whose decompressed bytes are the segment (docs/FORMAT.md section 1).
pub const COMPRESSED_SUFFIX: &str = ".zst";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentFile {
    pub number: u64,
    pub first_seq: u64,
    pub path: PathBuf,
    pub archived: bool,
}

impl SegmentFile {
    /// The segment's file name, as findings name it: `.jsonl`, or `.jsonl.zst` when compressed.
    #[must_use]
    pub fn name(&self) -> String {
        let plain = name(self.number, self.first_seq);
        if self.is_compressed() {
            plain + COMPRESSED_SUFFIX
        } else {
            plain
        }
    }

    /// Whether the file is a compressed archived segment (its bytes are a zstd stream).
    #[must_use]
    pub fn is_compressed(&self) -> bool {
        is_compressed_path(&self.path)
    }
}

/// Whether `path` names a compressed segment file (`….jsonl.zst`).
#[must_use]
pub fn is_compressed_path(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(COMPRESSED_SUFFIX))
}

/// `wal-SSSSSSSS-QQQQQQQQQQQQQQQQ.jsonl`
#[must_use]
pub fn name(number: u64, first_seq: u64) -> String {
    format!("wal-{number:08}-{first_seq:016}.jsonl")
}

#[must_use]
pub fn parse_name(name: &str) -> Option<(u64, u64)> {
    let stem = name.strip_prefix("wal-")?.strip_suffix(".jsonl")?;
    let (number, first) = stem.split_once('-')?;
    if number.len() != 8 || first.len() != 16 || !number.bytes().chain(first.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((number.parse().ok()?, first.parse().ok()?))
}

/// The segment a listed file name holds, `(number, first seq)`: compressed segments are archived
/// ones, so `.jsonl.zst` counts only in archive/ (`archived`).
#[must_use]
pub fn parse_listed(name: &str, archived: bool) -> Option<(u64, u64)> {
    let plain = if archived { name.strip_suffix(COMPRESSED_SUFFIX).unwrap_or(name) } else { name };
    parse_name(plain)
}

/// Put the segments a listing found (the live directory's and archive/'s, wherever they are
/// stored) in the order the log is read in, one copy of a compressed twin kept. Every reader of
/// a listing, local or of object storage, orders it here.
pub fn arrange(out: &mut Vec<SegmentFile>) {
    // A compressed copy's file name sorts right after its plain twin's (same first seq).
    out.sort_by_key(|s| (s.number, !s.archived, s.first_seq, s.is_compressed()));
    // `NAME` and `NAME.zst` both in archive/: a compression a crash interrupted after the
    // compressed copy was renamed into place and before the plain one was removed. One segment,
    // not a repeat: the plain file is read (the next writer redoes the compression).
    out.dedup_by(|later, earlier| {
        later.archived
            && earlier.archived
            && later.is_compressed()
            && !earlier.is_compressed()
            && (later.number, later.first_seq) == (earlier.number, earlier.first_seq)
    });
}

fn list_in(dir: &Path, archived: bool, out: &mut Vec<SegmentFile>) -> Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && archived => return Ok(()),
        Err(e) => return Err(e).at(dir),
    };
    for entry in entries {
        let entry = entry.at(dir)?;
        let file_name = entry.file_name();
        let Some(text) = file_name.to_str() else { continue };
        let Some((number, first_seq)) = parse_listed(text, archived) else { continue };
        out.push(SegmentFile { number, first_seq, path: entry.path(), archived });
    }
    Ok(())
}

/// Every segment of the log in `dir`, archived and live, ordered by segment number (archived
/// first on a tie, then by file name, i.e. first seq: a duplicate shows up next to its twin, and
/// which copy comes first never depends on the order a directory lists its entries in).
///
/// A writer may rotate while we list; the listing is always a prefix of the log. Segments are
/// created in number order in the live directory and only ever move from there to archive/. The
/// live directory is listed first, so a segment archived meanwhile is found in archive/ (maybe
/// twice; the live entry whose file is gone is dropped). Directory listings are not snapshots,
/// though: a segment created while the live listing runs can be missed there while a later one is
/// seen, and be moved to archive/ only after archive/ was listed, leaving a hole. Every segment up
/// to the highest one listed existed before a second listing starts, and a second listing cannot
/// miss a segment that existed throughout it (it is either still live or already archived), so
/// the second listing, cut at the first listing's highest number, has no hole a rotation made. A
/// hole left in it is a missing segment, which the verifier reports.
pub fn list(dir: &Path) -> Result<Vec<SegmentFile>> {
    let first = list_once(dir)?;
    if !first.windows(2).any(|p| p[1].number > p[0].number + 1) {
        return Ok(first);
    }
    let highest = first.last().map_or(0, |s| s.number);
    let mut second = list_once(dir)?;
    second.retain(|s| s.number <= highest);
    Ok(second)
}

fn list_once(dir: &Path) -> Result<Vec<SegmentFile>> {
    let mut out = Vec::new();
    list_in(dir, false, &mut out)?;
    list_in(&dir.join(ARCHIVE), true, &mut out)?;
    arrange(&mut out);
    let archived: std::collections::HashSet<u64> = out.iter().filter(|s| s.archived).map(|s| s.number).collect();
    out.retain(|s| s.archived || !archived.contains(&s.number) || s.path.exists());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let n = name(3, 1234);
        assert_eq!(n, "wal-00000003-0000000000001234.jsonl");
        assert_eq!(parse_name(&n), Some((3, 1234)));
        assert_eq!(parse_name("wal-3-1234.jsonl"), None);
        assert_eq!(parse_name("wal-00000003-0000000000001234.jsonl.tmp"), None);
    }

    #[test]
    fn one_number_twice_is_ordered_by_place_then_name() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join(ARCHIVE)).unwrap();
        for (n, first) in [(1, 9), (1, 3), (1, 5)] {
            fs::write(dir.path().join(name(n, first)), b"").unwrap();
        }
        fs::write(dir.path().join(ARCHIVE).join(name(1, 7)), b"").unwrap();
        let order: Vec<(u64, bool)> = list(dir.path()).unwrap().iter().map(|s| (s.first_seq, s.archived)).collect();
        assert_eq!(order, [(7, true), (3, false), (5, false), (9, false)]);
    }

    #[test]
    fn compressed_segments_count_in_archive_only_and_a_plain_twin_wins() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join(ARCHIVE);
        fs::create_dir(&archive).unwrap();
        fs::write(archive.join(name(1, 1) + ".zst"), b"").unwrap();
        fs::write(archive.join(name(2, 9)), b"").unwrap();
        fs::write(archive.join(name(2, 9) + ".zst"), b"").unwrap();
        fs::write(dir.path().join(name(3, 20) + ".zst"), b"").unwrap(); // not a segment name in DIR/
        fs::write(dir.path().join(name(3, 20)), b"").unwrap();
        let listed: Vec<(u64, bool, bool)> =
            list(dir.path()).unwrap().iter().map(|s| (s.number, s.archived, s.is_compressed())).collect();
        assert_eq!(listed, [(1, true, true), (2, true, false), (3, false, false)]);
        assert_eq!(list(dir.path()).unwrap()[0].name(), name(1, 1) + ".zst");
    }
}
