//! The file-system steps the format's crash safety rests on (docs/FORMAT.md section 7), in one
//! place: writes at the end of the live segment's data, early writeback, fdatasync, recovery's
//! truncation, directory fsync after create/rename, atomic create via temp + fsync + rename, and
//! the writer lock. Every mutating call goes through `Fs`, whose
//! optional hook lets tests record the exact sequence of operations (to build simulated
//! power-loss states) or fail the Nth one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::Path;
use std::sync::Arc;

use crate::error::{IoContext, Result, WalError};

/// One mutating file-system call, as the writer is about to make it.
#[derive(Debug, Clone, Copy)]
pub enum IoOp<'a> {
    /// Create (or truncate) a file.
    Create(&'a Path),
    /// Append bytes to a file (a file being created: a temp file before its rename).
    Append(&'a Path, &'a [u8]),
    /// Write bytes at an offset of a file (the live segment, at the end of its data).
    WriteAt(&'a Path, u64, &'a [u8]),
    /// Cut a file to a length (recovery cutting a segment's tail).
    Truncate(&'a Path, u64),
    /// Ask the disk to start writing a file's appended bytes, without waiting: no durability
    /// (a power loss may still keep any prefix of what was not synced), but a failure is an I/O
    /// error like a failed write.
    Writeback(&'a Path),
    /// fdatasync / fsync of a file.
    SyncFile(&'a Path),
    Rename(&'a Path, &'a Path),
    /// Remove a file (the plain copy of a segment once its compressed copy is durable).
    Remove(&'a Path),
    SyncDir(&'a Path),
    /// Not an I/O call: every record up to this seq is now acknowledged to callers.
    Acknowledged(u64),
}

/// Watches (and may fail) the writer's mutating calls. Returning an error makes the call fail
/// before it happens, as a disk error would.
pub trait IoHook: Send + Sync {
    fn before(&self, op: IoOp<'_>) -> io::Result<()>;
}

#[derive(Clone)]
pub struct Fs {
    hook: Option<Arc<dyn IoHook>>,
    write_chunk: usize,
}

/// See `Fs::write_chunk`: a 1,000-entry group (~820 KB) goes out in four pieces. Measured on the
/// 2-core VM's virtio disk (ext4): of an 820 KB fdatasync, ~0.45 ms was writing the data and
/// ~0.12 ms what was left once the data was already on its way. Per durable batch, against one
/// write of the whole group (medians, alternating runs): 1,000 entries 2.86 -> 2.58 ms, 10,000
/// entries 31.5 -> 17.0 ms; 128 KiB and 512 KiB pieces did about as well, no better.
const WRITE_CHUNK: usize = 256 << 10;

impl Default for Fs {
    fn default() -> Fs {
        Fs { hook: None, write_chunk: WRITE_CHUNK }
    }
}

impl Fs {
    pub fn with_hook(hook: Arc<dyn IoHook>) -> Fs {
        Fs { hook: Some(hook), ..Fs::default() }
    }

    /// The same, with groups written in pieces of `bytes` (tests use small ones so that small
    /// groups are written the way large ones are).
    #[must_use]
    pub fn with_write_chunk(self, bytes: usize) -> Fs {
        Fs { write_chunk: bytes.max(1), ..self }
    }

    /// How many bytes of a group the writer builds before writing them and starting their
    /// writeback, while it goes on chaining and hashing the rest.
    #[must_use]
    pub fn write_chunk(&self) -> usize {
        self.write_chunk
    }

    fn before(&self, op: IoOp<'_>, path: &Path) -> Result<()> {
        match &self.hook {
            Some(h) => h.before(op).at(path),
            None => Ok(()),
        }
    }

    pub fn append(&self, mut file: &File, path: &Path, bytes: &[u8]) -> Result<()> {
        self.before(IoOp::Append(path, bytes), path)?;
        file.write_all(bytes).at(path)
    }

    /// Write `bytes` at `offset` of `file`. The writer tracks where the live segment's data ends
    /// and writes there, rather than relying on `O_APPEND`: what it acknowledges is placed where
    /// its receipts say, whatever else the file holds after it.
    pub fn write_at(&self, file: &File, path: &Path, offset: u64, bytes: &[u8]) -> Result<()> {
        use std::os::unix::fs::FileExt as _;
        self.before(IoOp::WriteAt(path, offset, bytes), path)?;
        file.write_all_at(bytes, offset).at(path)
    }

    /// Cut `file` to `len` bytes (not durable until `sync_file`).
    pub fn truncate(&self, file: &File, path: &Path, len: u64) -> Result<()> {
        self.before(IoOp::Truncate(path, len), path)?;
        file.set_len(len).at(path)
    }

    /// Start writing `len` bytes at `offset` of `file` to the disk and return at once (Linux
    /// `sync_file_range(SYNC_FILE_RANGE_WRITE)`; nothing elsewhere). Durability still comes only
    /// from `sync_file`, which then has less left to wait for.
    pub fn start_writeback(&self, file: &File, path: &Path, offset: u64, len: u64) -> Result<()> {
        self.before(IoOp::Writeback(path), path)?;
        writeback(file, offset, len).at(path)
    }

    pub fn sync_file(&self, file: &File, path: &Path) -> Result<()> {
        self.before(IoOp::SyncFile(path), path)?;
        file.sync_data().at(path)
    }

    /// Make a directory's entries (creates, renames, removals) durable.
    pub fn sync_dir(&self, dir: &Path) -> Result<()> {
        self.before(IoOp::SyncDir(dir), dir)?;
        File::open(dir).and_then(|d| d.sync_all()).at(dir)
    }

    pub fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        self.before(IoOp::Rename(from, to), to)?;
        fs::rename(from, to).at(to)
    }

    pub fn remove_file(&self, path: &Path) -> Result<()> {
        self.before(IoOp::Remove(path), path)?;
        fs::remove_file(path).at(path)
    }

    pub fn acknowledged(&self, seq: u64) {
        if let Some(h) = &self.hook {
            let _ = h.before(IoOp::Acknowledged(seq));
        }
    }

    /// Write `bytes` to `path` so that after a crash the file either does not exist or is
    /// complete: temp file, fsync, rename, fsync of the directory.
    pub fn write_atomic(&self, path: &Path, bytes: &[u8], sync: bool) -> Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let tmp = path.with_extension(format!("{}.tmp", path.extension().and_then(|e| e.to_str()).unwrap_or("")));
        {
            self.before(IoOp::Create(&tmp), &tmp)?;
            let f = OpenOptions::new().write(true).create(true).truncate(true).open(&tmp).at(&tmp)?;
            self.append(&f, &tmp, bytes)?;
            if sync {
                self.sync_file(&f, &tmp)?;
            }
        }
        self.rename(&tmp, path)?;
        if sync {
            self.sync_dir(dir)?;
        }
        Ok(())
    }

    /// Create `dir` (and parents) and make its entry durable in its parent.
    pub fn create_dir_durable(&self, dir: &Path) -> Result<()> {
        if dir.is_dir() {
            return Ok(());
        }
        fs::create_dir_all(dir).at(dir)?;
        match dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(parent) => self.sync_dir(parent),
            None => Ok(()),
        }
    }
}

#[cfg(target_os = "linux")]
fn writeback(file: &File, offset: u64, len: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd as _;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    };
    // SAFETY: a plain syscall on a file descriptor `file` keeps open for the call's duration.
    let rc = unsafe { libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn writeback(_file: &File, _offset: u64, _len: u64) -> io::Result<()> {
    Ok(())
}

/// The exclusive writer lock of a log directory: `flock` on `DIR/LOCK`, so the kernel drops it
/// when the holder dies (no stale lock), and a second writer in this or another process is
/// refused. The holder's pid is written into the file for the refusal message.
pub struct DirLock {
    _file: File,
}

impl DirLock {
    pub fn acquire(dir: &Path) -> Result<DirLock> {
        let path = dir.join(crate::segment::LOCK);
        let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).at(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                let pid = pid.trim();
                return Err(WalError::Locked {
                    path,
                    pid: if pid.is_empty() { "unknown".into() } else { pid.to_owned() },
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(e).at(&path),
        }
        file.set_len(0).at(&path)?;
        file.seek(SeekFrom::Start(0)).at(&path)?;
        write!(file, "{}", std::process::id()).at(&path)?;
        Ok(DirLock { _file: file })
    }
}
