//! The file-system steps the format's crash safety rests on (docs/FORMAT.md section 7): fsync of
//! directories after create/rename, atomic create via temp + fsync + rename, and the writer lock.

use std::fs::{self, File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::Path;

use crate::error::{IoContext, Result, WalError};

/// Make a directory's entries (creates, renames, removals) durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).at(dir)
}

/// Write `bytes` to `path` so that after a crash the file either does not exist or is complete:
/// temp file, fsync, rename, fsync of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8], sync: bool) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension(format!("{}.tmp", path.extension().and_then(|e| e.to_str()).unwrap_or("")));
    {
        let mut f = OpenOptions::new().write(true).create(true).truncate(true).open(&tmp).at(&tmp)?;
        f.write_all(bytes).at(&tmp)?;
        if sync {
            f.sync_all().at(&tmp)?;
        }
    }
    fs::rename(&tmp, path).at(path)?;
    if sync {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Create `dir` (and parents) and make its entry durable in its parent.
pub fn create_dir_durable(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir).at(dir)?;
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        sync_dir(parent)?;
    }
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
                return Err(WalError::Locked { path, pid: if pid.is_empty() { "unknown".into() } else { pid.to_owned() } });
            }
            Err(fs::TryLockError::Error(e)) => return Err(e).at(&path),
        }
        file.set_len(0).at(&path)?;
        file.seek(SeekFrom::Start(0)).at(&path)?;
        write!(file, "{}", std::process::id()).at(&path)?;
        Ok(DirLock { _file: file })
    }
}
