//! Writing a large group while the commit leader is still building it. The leader chains and
//! hashes lines into pieces (`Fs::write_chunk`); a helper thread appends each finished piece and
//! starts its writeback. The write syscalls (a kernel copy and block reservation, ~0.3 ms per MB)
//! and the writeback requests then run on another core while the leader hashes the next piece,
//! and the disk starts on the first pieces before the group is complete.
//!
//! Measured on the 2-core VM (quick bench, two runs each, other core mostly idle): batch 1,000
//! 357-374k -> 382-389k entries/s, batch 10,000 434-479k -> 530-584k. When the other core is
//! saturated by another process the helper has to compete for it, and in runs made that way the
//! gain was gone (or a small loss): it trades a thread spawn per large group for parallelism.
//! The pipeline's write thread does not use it (`GroupWrite::Whole`): there the previous
//! group's sync already overlaps this group's write, and the spawn and hand-offs only cost.
//!
//! Pieces are appended in the order they were handed over; writing stops at the first failed
//! call and `finish` returns that error (the writer then poisons itself, as for any failed
//! write). If no thread can be started, the leader writes each piece itself, with the same
//! calls in the same order. Nothing here syncs: the group is acknowledged only after the sync
//! stage's fdatasync.

use std::fs::File;
use std::path::Path;
use std::sync::mpsc;
use std::thread::{Scope, ScopedJoinHandle};

use crate::error::{Result, WalError};
use crate::fsutil::Fs;

/// Where the pieces go: to the helper thread, or, if the thread could not be started, straight
/// to the file from the leader (slower, never wrong).
pub(crate) enum Pieces<'scope, 'env> {
    Helper {
        full: mpsc::SyncSender<Vec<u8>>,
        /// Written pieces come back, emptied, to be filled again.
        empty: mpsc::Receiver<Vec<u8>>,
        helper: ScopedJoinHandle<'scope, Result<()>>,
    },
    /// `failed`: the first failed call's error; nothing is written after it.
    Inline { writer: PieceWriter<'env>, failed: Option<WalError> },
}

/// Appends pieces in order and starts their writeback; stops at the first failed call.
pub(crate) struct PieceWriter<'env> {
    fs: &'env Fs,
    file: &'env File,
    path: &'env Path,
    offset: u64,
    writeback: bool,
}

impl PieceWriter<'_> {
    fn write(&mut self, piece: &[u8]) -> Result<()> {
        self.fs.write_at(self.file, self.path, self.offset, piece)?;
        if self.writeback {
            self.fs.start_writeback(self.file, self.path, self.offset, piece.len() as u64)?;
        }
        self.offset += piece.len() as u64;
        Ok(())
    }
}

impl<'scope, 'env> Pieces<'scope, 'env> {
    /// Start the helper; the first piece lands at `offset` of `file`. `writeback`: ask the disk
    /// to start on each piece (only worth it when the group will be synced).
    pub fn start(
        scope: &'scope Scope<'scope, 'env>,
        fs: &'env Fs,
        file: &'env File,
        path: &'env Path,
        offset: u64,
        writeback: bool,
    ) -> Pieces<'scope, 'env> {
        let (full, pieces) = mpsc::sync_channel::<Vec<u8>>(1);
        let (done, empty) = mpsc::sync_channel::<Vec<u8>>(2);
        let mut writer = PieceWriter { fs, file, path, offset, writeback };
        let spawned = std::thread::Builder::new().name("kfm-wal-pieces".into()).spawn_scoped(scope, move || {
            for mut piece in pieces {
                writer.write(&piece)?;
                piece.clear();
                // The leader may have enough buffers already; then this one is dropped.
                let _ = done.try_send(piece);
            }
            Ok(())
        });
        match spawned {
            Ok(helper) => Pieces::Helper { full, empty, helper },
            Err(_) => Pieces::Inline { writer: PieceWriter { fs, file, path, offset, writeback }, failed: None },
        }
    }

    /// Queue `piece` for writing; returns an empty buffer to build the next one in, or None when
    /// writing has stopped (a call failed: `finish` says which).
    pub fn hand_over(&mut self, mut piece: Vec<u8>) -> Option<Vec<u8>> {
        match self {
            Pieces::Helper { full, empty, .. } => {
                let capacity = piece.capacity();
                full.send(piece).ok()?;
                Some(empty.try_recv().unwrap_or_else(|_| Vec::with_capacity(capacity)))
            }
            Pieces::Inline { writer, failed } => match writer.write(&piece) {
                Ok(()) => {
                    piece.clear();
                    Some(piece)
                }
                Err(e) => {
                    *failed = Some(e);
                    None
                }
            },
        }
    }

    /// Write the last piece after the others and wait until all are written.
    pub fn finish(self, last: Vec<u8>) -> Result<()> {
        match self {
            Pieces::Helper { full, helper, .. } => {
                // A send fails only if the helper already stopped on an error, which join returns.
                let _ = full.send(last);
                drop(full);
                helper.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            }
            Pieces::Inline { failed: Some(e), .. } => Err(e),
            Pieces::Inline { mut writer, failed: None } => writer.write(&last),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsutil::{IoHook, IoOp};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    /// Records appends and writebacks; fails call number `fail_at`.
    struct Calls {
        seen: Mutex<Vec<String>>,
        count: AtomicUsize,
        fail_at: usize,
    }

    impl IoHook for Calls {
        fn before(&self, op: IoOp<'_>) -> std::io::Result<()> {
            if self.count.fetch_add(1, Ordering::SeqCst) == self.fail_at {
                return Err(std::io::Error::other("injected"));
            }
            self.seen.lock().unwrap().push(match op {
                IoOp::Append(_, b) | IoOp::WriteAt(_, _, b) => format!("append {}", String::from_utf8_lossy(b)),
                IoOp::Writeback(_) => "writeback".into(),
                other => format!("{other:?}"),
            });
            Ok(())
        }
    }

    /// Writes pieces "a".."e" and a last "z", through the helper or inline; returns the calls
    /// made, the file's bytes and whether `finish` failed.
    fn run(inline: bool, fail_at: usize) -> (Vec<String>, Vec<u8>, bool) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seg");
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&path).unwrap();
        let calls = Arc::new(Calls { seen: Mutex::new(Vec::new()), count: AtomicUsize::new(0), fail_at });
        let fs = Fs::with_hook(calls.clone());
        let failed = std::thread::scope(|scope| {
            let mut pieces = if inline {
                Pieces::Inline {
                    writer: PieceWriter { fs: &fs, file: &file, path: &path, offset: 0, writeback: true },
                    failed: None,
                }
            } else {
                Pieces::start(scope, &fs, &file, &path, 0, true)
            };
            for piece in ["a", "b", "c", "d", "e"] {
                if pieces.hand_over(piece.as_bytes().to_vec()).is_none() {
                    break;
                }
            }
            pieces.finish(b"z".to_vec()).is_err()
        });
        let seen = calls.seen.lock().unwrap().clone();
        (seen, std::fs::read(&path).unwrap(), failed)
    }

    #[test]
    fn helper_and_inline_make_the_same_calls_and_stop_at_the_first_failure() {
        let (calls, bytes, failed) = run(false, usize::MAX);
        assert!(!failed);
        assert_eq!(bytes, b"abcdez");
        assert_eq!(calls.len(), 12, "{calls:?}"); // six pieces, each appended then handed to the disk
        assert_eq!(run(true, usize::MAX), (calls, bytes, false));
        // Failing call n: everything before it made, nothing after, and `finish` says so.
        for n in 0..12 {
            for inline in [false, true] {
                let (calls, bytes, failed) = run(inline, n);
                assert!(failed, "call {n} failed but finish succeeded (inline {inline})");
                assert_eq!(calls.len(), n, "inline {inline}: {calls:?}");
                let appended: String = calls.iter().filter_map(|c| c.strip_prefix("append ")).collect();
                assert_eq!(bytes, appended.as_bytes());
            }
        }
    }
}
