//! The zeros a writer keeps ahead of the live segment's data (docs/FORMAT.md section 7,
//! "Preallocation"): filled before small groups, so that their fdatasync finds the file's size
//! unchanged, and cut back at rotation and clean close. Only in `kfm-wal/2` segments, whose
//! readers take a final run of zeros after a newline as padding (section 2).

use std::fs::File;
use std::path::Path;

use crate::durability::WriterOptions;
use crate::error::Result;
use crate::fsutil::Fs;

/// The largest write of zeros a fill makes at once.
const ZERO_PIECE: usize = 256 << 10;

/// The live segment file's size, beyond where its data ends, and whether zeros may be put there.
pub(crate) struct LivePadding {
    /// The file's size: the data, then the zeros filled ahead of it.
    file_len: u64,
    /// The segment's header says `kfm-wal/2`. A `kfm-wal/1` segment is never padded: its zeros
    /// would read as a torn tail.
    v2: bool,
}

impl LivePadding {
    pub(crate) fn new(file_len: u64, segment_len: u64, v2: bool) -> LivePadding {
        LivePadding { file_len: file_len.max(segment_len), v2 }
    }

    /// A segment the writer just created (always `kfm-wal/2`), `len` bytes long.
    pub(crate) fn created(len: u64) -> LivePadding {
        LivePadding { file_len: len, v2: true }
    }

    /// The data now ends at `segment_len` (it may have been written past the zeros).
    pub(crate) fn written_to(&mut self, segment_len: u64) {
        self.file_len = self.file_len.max(segment_len);
    }

    /// Before a group of at most `estimate` bytes is written at `segment_len`: fill zeros once
    /// less than a quarter of `preallocate_bytes` would be left after it, up to
    /// `preallocate_bytes` past it (never past `max_segment_bytes`), so that each fill writes at
    /// least three quarters of it; the group's own sync makes them durable. A group larger than
    /// an eighth of it is written past the zeros: filling would cost more than it saves.
    pub(crate) fn fill(
        &mut self,
        fs: &Fs,
        file: &File,
        path: &Path,
        segment_len: u64,
        estimate: u64,
        opts: &WriterOptions,
    ) -> Result<()> {
        let ahead = opts.preallocate_bytes;
        if !self.v2 || !opts.durability.syncs() || ahead == 0 || estimate > ahead / 8 {
            return Ok(());
        }
        let need = segment_len + estimate;
        if self.file_len >= need.saturating_add(ahead / 4) {
            return Ok(());
        }
        let target = need.saturating_add(ahead).min(opts.max_segment_bytes);
        let from = self.file_len.max(segment_len);
        if target <= from {
            return Ok(());
        }
        let zeros = vec![0u8; usize::try_from(target - from).map_or(ZERO_PIECE, |n| n.min(ZERO_PIECE))];
        let mut at = from;
        while at < target {
            let n = zeros.len().min(usize::try_from(target - at).unwrap_or(usize::MAX));
            fs.write_at(file, path, at, &zeros[..n])?;
            at += n as u64;
        }
        self.file_len = target;
        Ok(())
    }

    /// Cut the zeros after the data (at rotation and clean close): a closed segment ends with its
    /// last seal. Padding is valid wherever it is, so a crash before this cut, or a cut a power
    /// loss takes back, leaves a valid log. `sync`: fdatasync the cut (rotation syncs it with the
    /// closing seal instead).
    pub(crate) fn trim(&mut self, fs: &Fs, file: &File, path: &Path, segment_len: u64, sync: bool) -> Result<()> {
        if self.file_len <= segment_len {
            return Ok(());
        }
        fs.truncate(file, path, segment_len)?;
        self.file_len = segment_len;
        if sync {
            fs.sync_file(file, path)?;
        }
        Ok(())
    }
}
