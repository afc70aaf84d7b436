//! A segment's bytes in memory, for the scans that take a whole segment at once (the reader,
//! salvage, resuming from a verification receipt, the live segment). Always read, never mapped:
//! the verifier runs on logs it does not control, and a mapped file truncated underneath the
//! mapping faults (SIGBUS) where a read just comes back short.

use std::fs::File;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result};
use crate::segment;

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

/// Read a segment whole. `archived`: where the segment was listed; a live segment listed
/// before a rotation moved it into `archive/` is read from there.
pub fn load(path: &Path, archived: bool) -> Result<SegmentBytes> {
    let (file, path) = open(path, archived)?;
    read_whole(file).at(&path)
}

/// Open a segment file, and say where it was found. `archived` as for `load`.
pub fn open(path: &Path, archived: bool) -> Result<(File, PathBuf)> {
    match File::open(path) {
        Ok(file) => Ok((file, path.to_path_buf())),
        // Listed as live, gone now: a rotation moved it into archive/ meanwhile (readers run
        // while the writer appends).
        Err(e) if !archived && e.kind() == io::ErrorKind::NotFound => {
            let moved = path.parent().zip(path.file_name()).map(|(dir, name)| dir.join(segment::ARCHIVE).join(name));
            match moved.filter(|p| p.is_file()) {
                Some(moved) => Ok((File::open(&moved).at(&moved)?, moved)),
                None => Err(e).at(path),
            }
        }
        Err(e) => Err(e).at(path),
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
