//! A log's writer settings, kept in `DIR/settings.json` (docs/FORMAT.md section 1): how rotated
//! segments are archived. Not part of the log's content: a verifier never reads it, and a log
//! without it has the defaults. Written atomically by the writer that holds the lock.

use std::path::Path;

use crate::error::{IoContext, Result, WalError};
use crate::fsutil::Fs;

pub const SETTINGS: &str = "settings.json";

/// How a rotated segment is kept in `archive/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ArchiveCompression {
    /// As written: `wal-….jsonl`.
    #[default]
    None,
    /// Compressed with zstd once sealed and archived: `wal-….jsonl.zst`.
    Zstd,
}

impl ArchiveCompression {
    #[must_use]
    pub fn parse(s: &str) -> Option<ArchiveCompression> {
        match s {
            "none" => Some(ArchiveCompression::None),
            "zstd" => Some(ArchiveCompression::Zstd),
            _ => None,
        }
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ArchiveCompression::None => "none",
            ArchiveCompression::Zstd => "zstd",
        }
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsFile {
    archive_compression: String,
}

/// The archive compression of the log in `dir` (`none` when it has no settings file).
pub fn archive_compression(dir: &Path) -> Result<ArchiveCompression> {
    let path = dir.join(SETTINGS);
    let text = match std::fs::read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ArchiveCompression::None),
        Err(e) => return Err(e).at(&path),
    };
    let invalid = |why: String| WalError::InvalidArgument(format!("{}: {why}", path.display()));
    let file: SettingsFile = serde_json::from_slice(&text).map_err(|e| invalid(e.to_string()))?;
    ArchiveCompression::parse(&file.archive_compression)
        .ok_or_else(|| invalid(format!("archive_compression must be none or zstd, got {:?}", file.archive_compression)))
}

/// Record the archive compression of the log in `dir`, durably (temp, fsync, rename, fsync).
pub(crate) fn set_archive_compression(fs: &Fs, dir: &Path, c: ArchiveCompression) -> Result<()> {
    let file = SettingsFile { archive_compression: c.as_str().to_owned() };
    let mut text = serde_json::to_vec(&file).map_err(|e| WalError::InvalidArgument(e.to_string()))?;
    text.push(b'\n');
    fs.write_atomic(&dir.join(SETTINGS), &text, true)
}
