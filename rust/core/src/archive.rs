//! Archiving: a closed segment moves from the live directory into `archive/` (step 3 of
//! rotation, docs/FORMAT.md section 7), done by the writer when it rotates and by recovery when a
//! crash interrupted a rotation; then, when the log's setting says so, it is compressed (step 4),
//! on a thread of its own so that appends do not wait for it.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::error::{IoContext, Result, WalError};
use crate::fsutil::Fs;
use crate::log_settings::ArchiveCompression;
use crate::segment;
use crate::segment_bytes::decode_segment;

/// zstd level 3 (the library's default): about 3-4x smaller on JSON lines at a few hundred MB/s.
const ZSTD_LEVEL: i32 = 3;

/// Move a closed segment from the live directory into `archive/`, durably.
pub(crate) fn archive_segment(fs: &Fs, dir: &Path, name: &str, sync: bool) -> Result<()> {
    let archive_dir = dir.join(segment::ARCHIVE);
    if !dir.join(name).exists() && archive_dir.join(name).exists() {
        return Ok(()); // already there (a log reopened at a closed, archived last segment)
    }
    fs.create_dir_durable(&archive_dir)?;
    fs.rename(&dir.join(name), &archive_dir.join(name))?;
    if sync {
        fs.sync_dir(&archive_dir)?;
        fs.sync_dir(dir)?;
    }
    Ok(())
}

/// Compress the archived segment `archive/NAME` into `archive/NAME.zst`: the compressed copy is
/// written to a temp file, fsynced, renamed into place and `archive/` fsynced, and only then is
/// the plain copy removed (and `archive/` fsynced again). A crash at any point leaves one of the
/// two whole, or both (the plain one is then read, section 1); never neither. Always synced,
/// whatever the writer's durability: the plain copy is removed, so the compressed one must be
/// on disk first. The compressed bytes are decoded back and compared before anything is renamed.
pub(crate) fn compress_segment(fs: &Fs, archive_dir: &Path, name: &str) -> Result<()> {
    let plain = archive_dir.join(name);
    let bytes = std::fs::read(&plain).at(&plain)?;
    let mut encoder = zstd::bulk::Compressor::new(ZSTD_LEVEL).at(&plain)?;
    encoder.include_checksum(true).at(&plain)?;
    let compressed = encoder.compress(&bytes).at(&plain)?;
    let zst_name = format!("{name}{}", segment::COMPRESSED_SUFFIX);
    let back = decode_segment(&zst_name, &compressed);
    if back.damage.is_some() || *back.bytes != bytes[..] {
        return Err(WalError::InvalidArgument(format!(
            "{}: the compressed copy does not decode to the segment; left uncompressed",
            plain.display()
        )));
    }
    fs.write_atomic(&archive_dir.join(&zst_name), &compressed, true)?;
    fs.remove_file(&plain)?;
    fs.sync_dir(archive_dir)
}

/// Compresses archived segments in the background, one batch at a time, per the log's setting.
pub(crate) struct Archiver {
    compression: ArchiveCompression,
    job: Option<JoinHandle<()>>,
    /// The last compression that failed, and why. The plain segment stays, valid and read as
    /// such; the next writer to open the log tries again.
    failure: Arc<Mutex<Option<String>>>,
}

impl Archiver {
    pub(crate) fn new(compression: ArchiveCompression) -> Archiver {
        Archiver { compression, job: None, failure: Arc::new(Mutex::new(None)) }
    }

    pub(crate) fn compression(&self) -> ArchiveCompression {
        self.compression
    }

    pub(crate) fn set_compression(&mut self, compression: ArchiveCompression) {
        self.compression = compression;
    }

    pub(crate) fn failure(&self) -> Option<String> {
        self.failure.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Compress `names` (plain segments in `DIR/archive/`), if the log's setting says so, after
    /// the batch before (a rotation waits here only if the last one is not done yet).
    pub(crate) fn compress_later(&mut self, fs: &Fs, dir: &Path, names: Vec<String>) {
        if self.compression != ArchiveCompression::Zstd || names.is_empty() {
            return;
        }
        self.wait();
        let (fs, archive_dir, failure) = (fs.clone(), dir.join(segment::ARCHIVE), self.failure.clone());
        self.job = Some(std::thread::spawn(move || {
            for name in names {
                if let Err(e) = compress_segment(&fs, &archive_dir, &name) {
                    *failure.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e.to_string());
                    return;
                }
            }
        }));
    }

    /// Wait for the compression under way, if any.
    pub(crate) fn wait(&mut self) {
        if let Some(job) = self.job.take() {
            let _ = job.join(); // a panic there left the plain segment in place: nothing to undo
        }
    }
}

impl Drop for Archiver {
    fn drop(&mut self) {
        self.wait();
    }
}

/// The plain archived segments of the log in `dir` other than `except` (the writer's own), in
/// order: what a log whose setting is zstd still has to compress (left by a crash, by a failure,
/// or from before the setting changed).
pub(crate) fn uncompressed_backlog(dir: &Path, except: &Path) -> Result<Vec<String>> {
    let files = segment::list(dir)?;
    Ok(files
        .into_iter()
        .filter(|s| s.archived && !s.is_compressed() && s.path != except)
        .map(|s| s.name())
        .collect::<Vec<_>>())
}
