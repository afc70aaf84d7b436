//! Scanning one segment: every line split, hashed and chained; bodies checked; seals collected
//! and their signatures verified in batches; the bytes after the last seal classified. Segments
//! are scanned independently (so the verifier can run them on all cores) and joined afterwards
//! at their boundaries (`verify`).

use std::fs::File;

use crate::error::{IoContext, Result};
use crate::line_facts::{self, Known, LineFacts};
use crate::line_feed::{line_start_after, FileLines, LineFeed, SliceLines};
use crate::record;
use crate::scanner::Scanner;
use crate::segment::SegmentFile;

pub use crate::scan_result::{Boundary, HeaderInfo, OpEvent, RecordRef, SegmentScan, Tail};
pub use crate::scanner::{Keyring, ScanOptions, ScanStart, DEFAULT_MAX_RECORD_BYTES};
pub use crate::segment_bytes::{decode_segment, load, load_readable, mem_index, open, Decoded, SegmentBytes};

#[must_use]
pub fn scan(file: &SegmentFile, bytes: &[u8], opts: &ScanOptions) -> SegmentScan {
    scan_from(file, bytes, 0, opts)
}

/// Scan `bytes` (a whole segment) from byte `start`, which must be the end of a seal (a
/// follower resuming). Offsets stay absolute; the chain starts from the first record read, and
/// seals cannot be checked against a key (no header was read).
#[must_use]
pub fn scan_from(file: &SegmentFile, bytes: &[u8], start: usize, opts: &ScanOptions) -> SegmentScan {
    scan_resumed(file, bytes, &ScanStart { offset: start as u64, ..ScanStart::default() }, opts)
}

/// Scan `bytes` (a whole segment) from `from`, with the state verified before that point.
///
/// # Panics
///
/// Never: lines in memory are read without error.
#[must_use]
pub fn scan_resumed(file: &SegmentFile, bytes: &[u8], from: &ScanStart, opts: &ScanOptions) -> SegmentScan {
    let mut lines = SliceLines::new(bytes, mem_index(from.offset));
    scan_lines(file, &mut lines, bytes.len() as u64, from, opts, None).expect("a slice is read without error")
}

/// Scan a whole loaded segment. `split`: compute the second half's line facts (hashes, body
/// verdicts) on other threads of the pool if any are free, for a segment that would otherwise
/// finish on one thread alone.
///
/// # Panics
///
/// Never: lines in memory are read without error.
#[must_use]
pub fn scan_segment(file: &SegmentFile, bytes: &SegmentBytes, opts: &ScanOptions, split: bool) -> SegmentScan {
    let split_at =
        if split { memchr::memchr(b'\n', &bytes[bytes.len() / 2..]).map(|i| bytes.len() / 2 + i + 1) } else { None };
    let facts = |at: u64| Ok(line_facts::of_lines_in_pieces(bytes, mem_index(at), opts.check_bodies));
    let ahead = split_at.map(|at| (at as u64, &facts as &FactsOf));
    let mut lines = SliceLines::new(bytes, 0);
    scan_lines(file, &mut lines, bytes.len() as u64, &ScanStart::default(), opts, ahead)
        .expect("a slice is read without error")
}

/// Scan a segment file, as `scan_segment` does a loaded one. An archived segment never changes,
/// so it is streamed from disk in chunks (`FileLines`): a read into a buffer that stays in cache
/// costs less than mapping the pages (a fault per 64 KiB, then unmapping them again), and the
/// pieces of a split one are each read by the thread that takes them. The live segment is read
/// whole first (`load`): a writer may append to it, and a split scan must see one snapshot.
/// A compressed segment is decompressed whole first (`load_readable`).
pub fn scan_file(file: &SegmentFile, opts: &ScanOptions, split: bool) -> Result<SegmentScan> {
    if !file.archived {
        return Ok(scan_segment(file, &load(&file.path, false)?, opts, split));
    }
    let (f, path) = open(&file.path, file.archived)?;
    if file.is_compressed() || crate::segment::is_compressed_path(&path) {
        drop(f);
        let (bytes, damage) = load_readable(&path, true)?;
        return Ok(match damage {
            Some(finding) => unreadable(file, bytes.len() as u64, finding),
            None => scan_segment(file, &bytes, opts, split),
        });
    }
    let path = &path;
    let len = f.metadata().at(path)?.len();
    let split_at = if split { Some(line_start_after(&f, len / 2, len).at(path)?) } else { None };
    let facts = |at: u64| line_facts::of_file_in_pieces(&f, at, len, opts.check_bodies);
    let ahead = split_at.map(|at| (at, &facts as &FactsOf));
    scan_lines(file, &mut FileLines::new(&f, 0, len), len, &ScanStart::default(), opts, ahead).at(path)
}

/// What is said of a compressed segment that does not decode to its end (docs/FORMAT.md 6.4):
/// the `segment.compression` finding and nothing else; none of its lines is judged, and its end
/// is damaged, so the next segment's link to it is not judged either.
pub(crate) fn unreadable(file: &SegmentFile, readable: u64, finding: crate::finding::Finding) -> SegmentScan {
    let empty = SegmentFile { path: std::path::PathBuf::new(), ..file.clone() };
    let opts = ScanOptions { keyring: None, check_bodies: false, check_signatures: false, collect_records: false };
    let mut s = scan(&empty, &[], &opts);
    s.file = file.clone();
    s.name = file.name();
    s.findings.clear();
    s.bytes = readable;
    s.tail = Tail { start: 0, len: readable.max(1), findings: vec![finding], ..Tail::default() };
    s
}

/// Scan a segment file from `from.offset` (the end of a verified seal) to `len`, streamed in
/// chunks: only what follows that point is read.
pub fn scan_file_from(
    file: &SegmentFile,
    f: &File,
    len: u64,
    from: &ScanStart,
    opts: &ScanOptions,
) -> std::io::Result<SegmentScan> {
    scan_lines(file, &mut FileLines::new(f, from.offset, len), len, from, opts, None)
}

/// Computes the line facts of a segment from a line start to its end, on other threads.
type FactsOf<'a> = dyn Fn(u64) -> std::io::Result<Vec<LineFacts>> + Sync + 'a;

/// `len`: the segment's size. `ahead`: where a split segment's second half starts, and how its
/// facts are computed.
pub(crate) fn scan_lines(
    file: &SegmentFile,
    lines: &mut (dyn LineFeed + Send),
    len: u64,
    from: &ScanStart,
    opts: &ScanOptions,
    ahead: Option<(u64, &FactsOf)>,
) -> std::io::Result<SegmentScan> {
    let mut s = Scanner::new(file, opts, from, len);
    let start = lines.position();
    s.start_at(start);
    // A resumed scan starts after the header: its version comes with the start.
    let mut judged = Judged { v2: from.header.as_ref().is_some_and(|h| h.v2), end: None };
    let facts = match ahead.filter(|&(at, _)| at > start && at < len) {
        Some((at, facts_of)) => {
            let (first_half, facts) = rayon::join(|| scan_in_pairs(lines, &mut judged, &mut s, at), || facts_of(at));
            first_half?;
            facts?
        }
        None => Vec::new(),
    };
    if facts.is_empty() {
        scan_in_pairs(lines, &mut judged, &mut s, u64::MAX)?;
    }
    let mut facts = facts.iter().peekable();
    while judged.end.is_none() {
        let Some((offset, line)) = lines.next_line()? else { break };
        // Facts computed ahead are taken only for the line they were computed for: a file changed
        // underneath the two reads (it is not ours to control) cannot pair a line with another's.
        // (The first half's last pair may have read the first line the facts start at.)
        while facts.next_if(|f| f.offset < offset).is_some() {}
        let known = facts.next_if(|f| f.offset == offset).map_or_else(Known::default, Known::from);
        if judged.judge(line, offset) {
            s.line(line, offset, known);
        }
    }
    let end = judged.end.unwrap_or(len);
    let mut out = s.finish(end);
    out.bytes = end; // a v2 segment's padding and what follows a torn line are not scanned bytes
    Ok(out)
}

/// Scan lines until the judged bytes end or the next line starts at or after `until`, two lines
/// at a time where there are two: hashed together (`line_facts::record_hashes`), then scanned
/// in order.
fn scan_in_pairs(lines: &mut dyn LineFeed, judged: &mut Judged, s: &mut Scanner, until: u64) -> std::io::Result<()> {
    while judged.end.is_none() && lines.position() < until {
        let (first, second) = lines.next_two()?;
        let Some((o1, l1)) = first else { break };
        if !judged.judge(l1, o1) {
            break;
        }
        // The second line is judged only where the first left the judged bytes going on.
        let second = second.filter(|&(o2, l2)| judged.end.is_none() && judged.judge(l2, o2));
        let (h1, h2) = line_facts::record_hashes(l1, second.map(|(_, l)| l));
        s.line(l1, o1, Known { hash: Some(h1), op: None });
        if let (Some((o2, l2)), Some(h2)) = (second, h2) {
            s.line(l2, o2, Known { hash: Some(h2), op: None });
        }
    }
    Ok(())
}

/// Where a segment's judged bytes end (docs/FORMAT.md section 2, "Padding and torn lines"): in a
/// v2 segment, before its padding, or after its first line holding a zero byte.
struct Judged {
    v2: bool,
    /// Set once the judged bytes have ended: no line after this offset is judged.
    end: Option<u64>,
}

impl Judged {
    /// Whether `line` (at `offset`) is judged; records where the judged bytes end.
    fn judge(&mut self, line: &[u8], offset: u64) -> bool {
        if offset == 0 {
            self.v2 = says_v2(line);
        }
        if !self.v2 || memchr::memchr(0, line).is_none() {
            return true;
        }
        if line.last() != Some(&b'\n') && line.iter().all(|&b| b == 0) {
            self.end = Some(offset); // padding: not part of the segment
            return false;
        }
        self.end = Some(offset + line.len() as u64); // a torn line: the last one judged
        true
    }
}

/// A segment is v2 when its line at offset 0 has a valid own hash, kind `header`, and a JSON
/// `format` member, present once, that is `kfm-wal/2`, whatever the header's other members say
/// (a repeated member is a deserialisation error here, so it says no one version).
fn says_v2(line: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Format {
        format: Option<String>,
    }
    let Ok(env) = record::parse(line) else { return false };
    env.kind == Some(record::Kind::Header)
        && crate::hash::sha256(record::hashed_part(line)) == env.claimed
        && serde_json::from_slice::<Format>(&line[..line.len() - 1])
            .is_ok_and(|f| f.format.as_deref() == Some(crate::body::FORMAT_V2))
}
