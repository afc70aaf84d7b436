//! Archiving: a closed segment moves from the live directory into `archive/` (step 3 of
//! rotation, docs/FORMAT.md section 7), done by the writer when it rotates and by recovery when a
//! crash interrupted a rotation.

use std::path::Path;

use crate::error::Result;
use crate::fsutil::Fs;
use crate::segment;

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
