//! A large segment verified in pieces, each by its own task reading only its byte range, then the
//! pieces' summaries merged into the summary a scan of the whole segment gives.
//!
//! Where pieces start and end is decided by each piece from the bytes alone, without talking to
//! the others: with pieces of `P` bytes, piece `k` starts just after the first seal whose line
//! starts in `[k*P, (k+1)*P)` (piece 0 at byte 0; a piece whose window holds no such seal is
//! empty) and ends just after the first seal whose line starts at or after `(k+1)*P` (or at the
//! end of the segment). A piece thus ends where the next non-empty one starts: every line belongs
//! to exactly one piece, and a piece reads on past its window only to finish its last sealed group.
//!
//! A piece after the first is scanned from the state a seal leaves behind, taken on trust from the
//! seal line it starts after: the next seq and link, its timestamp, the segment's header (from the
//! segment's first line, read apart) and the header's key in force. After a valid seal, nothing
//! else of the scanner's state carries over (the window of unsealed lines, pending key records and
//! a closing seal's debt are all settled by it). The merge accepts the pieces only when every
//! piece but the last ends cleanly on exactly that state: no finding of any kind, sealed up to its
//! last byte by that very seal, no key rotated or revoked, not closed. The pieces' scans are then
//! the whole scan cut at seals, and merged they are its summary, byte for byte. Otherwise (damage
//! before the last piece, a key rotated mid-segment) `merge` returns None and the caller scans the
//! segment whole, as a segment is scanned without pieces: the findings are those of that scan.

use std::fs::File;
use std::io;

use crate::hash::{self, Digest};
use crate::line_feed::{line_start_after, FileLines, LineFeed, SliceLines};
use crate::record::{self, Kind};
use crate::scan::{self, Boundary, ScanOptions, ScanStart, SegmentScan};
use crate::segment::SegmentFile;
use crate::segment_summary::{self, Reader, Writer};
use crate::timestamp::{self, Timestamp};

const VERSION: u8 = 1;
const EMPTY: u8 = 0;
const SCANNED: u8 = 1;

/// What one piece's task found in the bytes it was given.
pub enum Piece {
    /// The bytes end before the piece's bounds are known: read more and ask again.
    NeedMore,
    /// No seal starts in the piece's window: its lines belong to the piece before it.
    Empty,
    /// The piece's lines `[start, end)` scanned; `after`: the seal it started after (none for
    /// piece 0), the state its scan took on trust.
    Scanned { start: u64, end: u64, after: Option<Boundary>, scan: Box<SegmentScan> },
}

/// The seal a line is, as the boundary a scan resumed after it starts from. None: not a complete
/// line with the envelope of a seal.
fn seal_boundary(line: &[u8]) -> Option<Boundary> {
    let env = record::parse(line).ok().filter(|env| env.kind == Some(Kind::Seal))?;
    let timestamp: Timestamp = env.timestamp.try_into().unwrap_or([0; timestamp::LEN]);
    Some(Boundary { seq: env.seq, hash: hash::sha256(record::hashed_part(line)), timestamp })
}

/// Bytes `buf` (from offset `base` of a segment of `total` bytes) around one piece.
struct Window<'b> {
    buf: &'b [u8],
    base: u64,
    total: u64,
}

/// What a search over the bytes held came to.
enum Found<T> {
    At(T),
    Nothing,
    NeedMore,
}

/// Where a piece's bounds are looked for: bytes held in memory, or a file read on demand.
trait Source {
    /// The first line start at or after `at` (> 0).
    fn line_start(&self, at: u64) -> Found<u64>;
    /// The first seal line starting at or after line start `from` and before `before`: its
    /// boundary and where its line ends.
    fn first_seal(&self, from: u64, before: u64) -> Found<(Boundary, u64)>;
}

impl Window<'_> {
    fn complete(&self) -> bool {
        self.base + self.buf.len() as u64 >= self.total
    }

    fn out_of_bytes<T>(&self, at_end: Found<T>) -> Found<T> {
        if self.complete() {
            at_end
        } else {
            Found::NeedMore
        }
    }
}

impl Source for Window<'_> {
    /// The byte before `at` must be held.
    fn line_start(&self, at: u64) -> Found<u64> {
        let Some(rel) = (at - 1).checked_sub(self.base) else { return Found::NeedMore };
        let rel = scan::mem_index(rel);
        match memchr::memchr(b'\n', self.buf.get(rel..).unwrap_or_default()) {
            Some(i) => Found::At(self.base + (rel + i + 1) as u64),
            None => self.out_of_bytes(Found::Nothing),
        }
    }

    fn first_seal(&self, mut from: u64, before: u64) -> Found<(Boundary, u64)> {
        while from < before && from < self.total {
            let rel = scan::mem_index(from - self.base);
            let Some(i) = memchr::memchr(b'\n', self.buf.get(rel..).unwrap_or_default()) else {
                // The segment's last line, torn (no newline): not a seal that ends a group.
                return self.out_of_bytes(Found::Nothing);
            };
            let end = from + i as u64 + 1;
            if let Some(b) = seal_boundary(&self.buf[rel..=rel + i]) {
                return Found::At((b, end));
            }
            from = end;
        }
        Found::Nothing
    }
}

/// A segment file's bytes `[0, total)`, read where they are needed (a few KiB around each bound).
struct FileSource<'f> {
    file: &'f File,
    total: u64,
    failed: std::cell::RefCell<Option<io::Error>>,
}

impl FileSource<'_> {
    fn failed<T>(&self, e: io::Error) -> Found<T> {
        *self.failed.borrow_mut() = Some(e);
        Found::Nothing
    }
}

impl Source for FileSource<'_> {
    fn line_start(&self, at: u64) -> Found<u64> {
        match line_start_after(self.file, at - 1, self.total) {
            Ok(s) if s < self.total => Found::At(s),
            Ok(_) => Found::Nothing,
            Err(e) => self.failed(e),
        }
    }

    fn first_seal(&self, from: u64, before: u64) -> Found<(Boundary, u64)> {
        let mut lines = FileLines::new(self.file, from, self.total);
        loop {
            match lines.next_line() {
                Ok(Some((at, _))) if at >= before => return Found::Nothing,
                Ok(Some((at, line))) => {
                    if let Some(b) = seal_boundary(line) {
                        return Found::At((b, at + line.len() as u64));
                    }
                }
                Ok(None) => return Found::Nothing,
                Err(e) => return self.failed(e),
            }
        }
    }
}

/// Where piece `index` starts (and the seal it starts after) and ends, from `src`.
fn bounds(src: &dyn Source, total: u64, index: u64, piece_bytes: u64) -> Found<(u64, u64, Option<Boundary>)> {
    let (lo, hi) = (index.saturating_mul(piece_bytes), (index + 1).saturating_mul(piece_bytes));
    let (start, after) = if index == 0 {
        (0, None)
    } else {
        let first = match src.line_start(lo) {
            Found::At(s) => s,
            Found::Nothing => return Found::Nothing,
            Found::NeedMore => return Found::NeedMore,
        };
        match src.first_seal(first, hi) {
            Found::At((b, end)) => (end, Some(b)),
            Found::Nothing => return Found::Nothing,
            Found::NeedMore => return Found::NeedMore,
        }
    };
    if start >= total {
        return Found::Nothing; // the seal it would start after is the segment's last line
    }
    let from_end = if start >= hi { Found::At(start) } else { src.line_start(hi) };
    let end = match from_end {
        Found::At(s) => match src.first_seal(s, u64::MAX) {
            Found::At((_, end)) => end,
            Found::Nothing => total,
            Found::NeedMore => return Found::NeedMore,
        },
        Found::Nothing => total,
        Found::NeedMore => return Found::NeedMore,
    };
    Found::At((start, end, after))
}

/// The state a piece's scan starts from: after the seal `after` (with the header of the segment's
/// first line `head`), or the segment's start.
fn start_state(file: &SegmentFile, start: u64, after: Option<Boundary>, head: &[u8], opts: &ScanOptions) -> ScanStart {
    let header = after.and_then(|_| scan::scan(file, head, opts).header);
    ScanStart {
        offset: start,
        expect: after.map(|b| (b.seq + 1, b.hash)),
        last_ts: after.map(|b| b.timestamp),
        key: header.as_ref().map(|h| h.key.clone()),
        header,
        revoked: Vec::new(),
    }
}

/// `scan_piece` of a segment file this process opens (`f`, `total` bytes as listed): the bounds
/// found by short reads, the piece's lines streamed in chunks (`FileLines`): memory is one
/// chunk buffer, not the piece.
///
/// # Errors
///
/// The file cannot be read.
pub fn scan_file_piece(
    file: &SegmentFile,
    f: &File,
    total: u64,
    index: u64,
    piece_bytes: u64,
    opts: &ScanOptions,
) -> io::Result<Piece> {
    let src = FileSource { file: f, total, failed: std::cell::RefCell::new(None) };
    let found = bounds(&src, total, index, piece_bytes);
    if let Some(e) = src.failed.into_inner() {
        return Err(e);
    }
    let Found::At((start, end, after)) = found else { return Ok(Piece::Empty) };
    let head = match after {
        Some(_) => FileLines::new(f, 0, total).next_line()?.map(|(_, line)| line.to_vec()).unwrap_or_default(),
        None => Vec::new(),
    };
    let from = start_state(file, start, after, &head, opts);
    let scan = scan::scan_lines(file, &mut FileLines::new(f, start, end), end, &from, opts, None)?;
    Ok(Piece::Scanned { start, end, after, scan: Box::new(scan) })
}

/// Piece `index` (pieces of `piece_bytes`) of `file`, a segment of `total` bytes; `buf` holds its
/// bytes from `base` on (at most `index * piece_bytes - 1`, the byte before its window); `head`:
/// the segment's first line (for a piece after the first, which starts from its header).
///
/// # Panics
///
/// Never: lines in memory are read without error.
#[must_use]
#[allow(clippy::too_many_arguments, reason = "the piece's place, its bytes and the scan's options")]
pub fn scan_piece(
    file: &SegmentFile,
    buf: &[u8],
    base: u64,
    total: u64,
    index: u64,
    piece_bytes: u64,
    head: &[u8],
    opts: &ScanOptions,
) -> Piece {
    let w = Window { buf, base, total };
    let (start, end, after) = match bounds(&w, total, index, piece_bytes) {
        Found::At(b) => b,
        Found::Nothing => return Piece::Empty,
        Found::NeedMore => return Piece::NeedMore,
    };
    let from = start_state(file, start, after, head, opts);
    let bytes = &buf[scan::mem_index(start - base)..scan::mem_index(end - base)];
    let mut lines = SliceLines::at(bytes, start);
    let scan =
        scan::scan_lines(file, &mut lines, end, &from, opts, None).expect("lines in memory are read without error");
    Piece::Scanned { start, end, after, scan: Box::new(scan) }
}

fn put_boundary(w: &mut Writer, b: &Boundary) {
    w.uint(b.seq);
    w.0.extend_from_slice(&b.hash);
    w.0.extend_from_slice(&b.timestamp);
}

fn get_boundary(r: &mut Reader) -> Option<Boundary> {
    let seq = r.uint()?;
    let hash: Digest = r.take(32)?.try_into().ok()?;
    let timestamp: Timestamp = r.take(timestamp::LEN)?.try_into().ok()?;
    Some(Boundary { seq, hash, timestamp })
}

/// A piece's result, encoded for the merge (None for `NeedMore`, which is never shipped).
#[must_use]
pub fn encode(p: &Piece) -> Option<Vec<u8>> {
    let mut w = Writer(vec![VERSION]);
    match p {
        Piece::NeedMore => return None,
        Piece::Empty => w.byte(EMPTY),
        Piece::Scanned { start, end, after, scan } => {
            w.byte(SCANNED);
            w.uint(*start);
            w.uint(*end);
            w.opt(after.as_ref(), put_boundary);
            w.0.extend_from_slice(&segment_summary::encode(scan));
        }
    }
    Some(w.0)
}

fn decode(bytes: &[u8]) -> Option<Piece> {
    let mut r = Reader(bytes);
    if r.byte()? != VERSION {
        return None;
    }
    match r.byte()? {
        EMPTY => r.0.is_empty().then_some(Piece::Empty),
        SCANNED => {
            let (start, end) = (r.uint()?, r.uint()?);
            let after = r.opt(get_boundary)?;
            let scan = Box::new(segment_summary::decode(r.0)?);
            Some(Piece::Scanned { start, end, after, scan })
        }
        _ => None,
    }
}

/// A piece that is not the last ends exactly on the state the next one started from.
fn ends_cleanly(s: &SegmentScan, end: u64, next_after: Option<Boundary>, head: &SegmentScan) -> bool {
    let header_key = head.header.as_ref().map(|h| &h.key.key);
    s.findings.is_empty()
        && s.tail.findings.is_empty()
        && s.tail.len == 0
        && s.sealed.is_some()
        && s.sealed == next_after
        && s.sealed_end == end
        && !s.closes
        && s.revocations.is_empty()
        && s.key_at_end.as_ref().map(|k| &k.key) == header_key
        && header_key.is_some()
}

/// The whole segment's summary from its pieces' (in order), or None when they cannot stand for
/// it (a piece after a damaged or unclean one, or a piece missing): then scan it whole.
#[must_use]
pub fn merge(encoded: &[&[u8]]) -> Option<SegmentScan> {
    let mut pieces = Vec::new();
    for bytes in encoded {
        match decode(bytes)? {
            Piece::Scanned { start, end, after, scan } => pieces.push((start, end, after, scan)),
            Piece::Empty | Piece::NeedMore => {}
        }
    }
    let first = pieces.first()?;
    if first.0 != 0 || first.2.is_some() {
        return None;
    }
    let head = &first.3;
    for pair in pieces.windows(2) {
        let (prev, piece) = (&pair[0], &pair[1]);
        let same_header = piece.3.header.as_ref().zip(head.header.as_ref()).is_some_and(|(a, b)| {
            a.log_id == b.log_id && a.key.key == b.key.key && a.max_record_bytes == b.max_record_bytes
        });
        if piece.0 != prev.1 || !same_header || !ends_cleanly(&prev.3, prev.1, piece.2, head) {
            return None;
        }
    }
    let mut scans = pieces.into_iter().map(|p| *p.3);
    let mut out = scans.next()?;
    let first_seq = out.first.map_or(0, |f| f.0);
    for s in scans {
        // Every piece before this one ended cleanly on a seal: what this one says of the
        // segment's end (findings, tail, last seal, key) is the whole scan's.
        out.findings = s.findings;
        out.tail = s.tail;
        out.bytes = s.bytes;
        out.sealed_end = s.sealed_end;
        out.closes = s.closes;
        out.key_at_end = s.key_at_end;
        if s.sealed.is_some() {
            out.sealed = s.sealed;
            out.last_seal_offset = s.last_seal_offset;
        }
        out.ops.extend(s.ops);
        out.keys_seen.extend(s.keys_seen);
        out.seal_keys.extend(s.seal_keys);
        out.revocations.extend(s.revocations);
    }
    out.sealed_records = out.sealed.map_or(0, |b| (b.seq + 1).saturating_sub(first_seq));
    Some(out)
}
