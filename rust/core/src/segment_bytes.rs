//! A segment's bytes in memory, for the scans that take a whole segment at once (the reader,
//! salvage, resuming from a verification receipt, the live segment, compressed archives). Always
//! read, never mapped: the verifier runs on logs it does not control, and a mapped file truncated
//! underneath the mapping faults (SIGBUS) where a read just comes back short.
//!
//! The one place a segment's file bytes become the segment's bytes: a compressed archived segment
//! (`.jsonl.zst`) is decompressed here, so every reader (scan, verify, reader, salvage, receipts)
//! sees the bytes the chain hashes. `decode_segment` does it for bytes from anywhere (object
//! storage), given the file name.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result, WalError};
use crate::finding::{Code, Finding};
use crate::segment;

/// A segment's bytes decoded from its file's bytes, and why decoding stopped early, if it did.
pub struct Decoded<'a> {
    /// The segment's bytes: the file's own for a plain segment; for a compressed one, everything
    /// that decoded (all of it, or the readable prefix when `damage` is set).
    pub bytes: Cow<'a, [u8]>,
    /// `segment.compression`, located at the segment and the uncompressed offset where readable
    /// data ends, when the zstd stream is corrupt or truncated.
    pub damage: Option<Finding>,
}

/// The segment bytes of a segment file's raw bytes: `name` is its file name (`….jsonl` is taken
/// as is, `….jsonl.zst` is decompressed).
#[must_use]
pub fn decode_segment<'a>(name: &str, raw: &'a [u8]) -> Decoded<'a> {
    if !name.ends_with(segment::COMPRESSED_SUFFIX) {
        return Decoded { bytes: Cow::Borrowed(raw), damage: None };
    }
    let (bytes, failure) = decompress(raw);
    let damage = failure.map(|why| {
        let msg = format!("compressed segment unreadable after {} uncompressed bytes: {why}", bytes.len());
        Finding::new(Code::SegmentCompression, name, bytes.len() as u64, None, msg)
    });
    Decoded { bytes: Cow::Owned(bytes), damage }
}

/// The bytes of `raw` when it is exactly one frame whose header declares its decompressed size
/// (bounded by 16x the compressed size plus 1 MiB, so a forged header cannot claim all memory).
fn decompress_declared(raw: &[u8]) -> Option<Vec<u8>> {
    let declared = zstd::zstd_safe::get_frame_content_size(raw).ok()??;
    let frame = zstd::zstd_safe::find_frame_compressed_size(raw).ok()?;
    let size = usize::try_from(declared).ok()?;
    if frame != raw.len() || size > raw.len().saturating_mul(16).saturating_add(1 << 20) {
        return None;
    }
    zstd::bulk::decompress(raw, size).ok().filter(|out| out.len() == size)
}

/// Every byte the zstd stream `raw` decodes to, and why it stopped before its end, if it did
/// (a corrupt block, a checksum mismatch, a frame cut short, an empty file).
fn decompress(raw: &[u8]) -> (Vec<u8>, Option<String>) {
    if raw.is_empty() {
        return (Vec::new(), Some("the file is empty (no zstd frame)".into()));
    }
    // One frame that declares its size (as the writer's do): decoded straight into a buffer of
    // that size. Anything else, or any failure, goes the streaming way, which keeps what decoded.
    if let Some(bytes) = decompress_declared(raw) {
        return (bytes, None);
    }
    let mut out = Vec::with_capacity(raw.len().saturating_mul(4));
    let mut decoder = match zstd::stream::read::Decoder::with_buffer(raw) {
        Ok(d) => d,
        Err(e) => return (out, Some(e.to_string())),
    };
    let mut chunk = vec![0u8; 1 << 17];
    loop {
        match decoder.read(&mut chunk) {
            Ok(0) => return (out, None),
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return (out, Some("the zstd frame is truncated".into()));
            }
            Err(e) => return (out, Some(format!("corrupt zstd data ({e})"))),
        }
    }
}

/// A file offset as an index into a segment's bytes in memory. An offset too large for the
/// address space is past the end of any buffer, so it saturates (slicing with it then fails
/// exactly as an offset past the end does).
#[must_use]
#[inline]
pub fn mem_index(offset: u64) -> usize {
    usize::try_from(offset).unwrap_or(usize::MAX)
}

/// A segment's bytes as they were read.
pub enum SegmentBytes {
    Read(Vec<u8>),
    /// Read into anonymous memory backed by huge pages where the system allows: a 64 MiB
    /// segment then takes a few dozen page faults to land, not 16,000. (Anonymous memory
    /// belongs to this process: nothing outside it can shrink it.)
    Copied(memmap2::MmapMut, usize),
}

impl std::ops::Deref for SegmentBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            SegmentBytes::Read(v) => v,
            SegmentBytes::Copied(m, len) => &m[..*len],
        }
    }
}

/// Read a segment whole, decompressed if it is compressed. `archived`: where the segment was
/// listed; a live segment listed before a rotation moved it into `archive/` is read from there,
/// and a plain archived one compressed meanwhile from its `.zst`. A compressed segment that does
/// not decode to its end is an error (`segment.compression`).
pub fn load(path: &Path, archived: bool) -> Result<SegmentBytes> {
    let (bytes, damage) = load_readable(path, archived)?;
    match damage {
        Some(f) => Err(WalError::Corruption(Box::new(f))),
        None => Ok(bytes),
    }
}

/// `load`, keeping the readable prefix of a compressed segment that does not decode to its end,
/// with the finding that says where it stops.
pub fn load_readable(path: &Path, archived: bool) -> Result<(SegmentBytes, Option<Finding>)> {
    let (file, path) = open(path, archived)?;
    let raw = read_whole(file).at(&path)?;
    if !segment::is_compressed_path(&path) {
        return Ok((raw, None));
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let decoded = decode_segment(name, &raw);
    Ok((SegmentBytes::Read(decoded.bytes.into_owned()), decoded.damage))
}

/// Open a segment file, and say where it was found (a `.zst` path: its bytes are compressed).
/// `archived` as for `load`.
pub fn open(path: &Path, archived: bool) -> Result<(File, PathBuf)> {
    match File::open(path) {
        Ok(file) => Ok((file, path.to_path_buf())),
        // Gone since it was listed: a rotation moved a live segment into archive/, or the
        // archived segment was compressed (readers run while the writer appends).
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            for moved in moved_copies(path, archived) {
                if let Ok(file) = File::open(&moved) {
                    return Ok((file, moved));
                }
            }
            Err(e).at(path)
        }
        Err(e) => Err(e).at(path),
    }
}

/// Where a segment listed at `path` can be by now, in the order a writer moves it.
fn moved_copies(path: &Path, archived: bool) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Vec::new();
    };
    if segment::is_compressed_path(path) {
        return Vec::new();
    }
    let compressed = format!("{name}{}", segment::COMPRESSED_SUFFIX);
    if archived {
        vec![dir.join(compressed)]
    } else {
        let archive = dir.join(segment::ARCHIVE);
        vec![archive.join(name), archive.join(compressed)]
    }
}

/// The file's bytes as they are now: up to the size it had when opened (a writer may append
/// meanwhile: what it appends after the size was taken is left for the next read), or fewer if
/// it is cut shorter while being read (what is there is what was read).
fn read_whole(mut file: File) -> io::Result<SegmentBytes> {
    let size = usize::try_from(file.metadata()?.len()).map_err(|_| io::Error::other("segment larger than memory"))?;
    if size == 0 {
        return Ok(SegmentBytes::Read(Vec::new()));
    }
    let mut buf = memmap2::MmapMut::map_anon(size)?;
    let _ = buf.advise(memmap2::Advice::HugePage); // a hint: without it, ordinary pages
    let mut len = 0;
    while len < size {
        match file.read(&mut buf[len..]) {
            Ok(0) => break, // shorter than it was a moment ago: what is there
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(SegmentBytes::Copied(buf, len))
}

/// Where a `kfm-wal/2` segment's padding starts (docs/FORMAT.md section 2): the start of the file's
/// final run of zero bytes when the byte before it is a newline, else `len` (no padding). Read
/// backwards from `len`, a piece at a time: the padding is never read whole.
pub fn padding_start(path: &Path, len: u64) -> Result<u64> {
    use std::os::unix::fs::FileExt as _;
    const PIECE: u64 = 64 << 10;
    let file = File::open(path).at(path)?;
    let mut buf = vec![0u8; usize::try_from(PIECE.min(len)).unwrap_or(0)];
    let mut end = len;
    while end > 0 {
        let start = end.saturating_sub(PIECE);
        let piece = &mut buf[..usize::try_from(end - start).unwrap_or(0)];
        file.read_exact_at(piece, start).at(path)?;
        if let Some(last) = piece.iter().rposition(|&b| b != 0) {
            let zeros_from = start + last as u64 + 1;
            return Ok(if zeros_from < len && piece[last] == b'\n' { zeros_from } else { len });
        }
        end = start;
    }
    Ok(len)
}
