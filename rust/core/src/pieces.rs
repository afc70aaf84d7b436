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
//!
//! Pieces are appended in the order they were handed over; the helper stops at the first failed
//! call and `finish` returns that error (the writer then poisons itself, as for any failed
//! write). Nothing here syncs: the group is acknowledged only after the sync stage's fdatasync.

use std::fs::File;
use std::path::Path;
use std::sync::mpsc;
use std::thread::{Scope, ScopedJoinHandle};

use crate::error::Result;
use crate::fsutil::Fs;

pub(crate) struct Pieces<'scope> {
    full: mpsc::SyncSender<Vec<u8>>,
    /// Written pieces come back, emptied, to be filled again.
    empty: mpsc::Receiver<Vec<u8>>,
    helper: ScopedJoinHandle<'scope, Result<()>>,
}

impl<'scope> Pieces<'scope> {
    /// Start the helper; the first piece lands at `offset` of `file`. `writeback`: ask the disk
    /// to start on each piece (only worth it when the group will be synced).
    pub fn start<'env>(
        scope: &'scope Scope<'scope, 'env>,
        fs: &'env Fs,
        file: &'env File,
        path: &'env Path,
        mut offset: u64,
        writeback: bool,
    ) -> Pieces<'scope> {
        let (full, pieces) = mpsc::sync_channel::<Vec<u8>>(1);
        let (done, empty) = mpsc::sync_channel::<Vec<u8>>(2);
        let helper = scope.spawn(move || {
            for mut piece in pieces {
                fs.append(file, path, &piece)?;
                if writeback {
                    fs.start_writeback(file, path, offset, piece.len() as u64)?;
                }
                offset += piece.len() as u64;
                piece.clear();
                // The leader may have enough buffers already; then this one is dropped.
                let _ = done.try_send(piece);
            }
            Ok(())
        });
        Pieces { full, empty, helper }
    }

    /// Queue `piece` for writing; returns an empty buffer to build the next one in, or None when
    /// the helper has stopped (a call failed: `finish` says which).
    pub fn hand_over(&mut self, piece: Vec<u8>) -> Option<Vec<u8>> {
        let capacity = piece.capacity();
        self.full.send(piece).ok()?;
        Some(self.empty.try_recv().unwrap_or_else(|_| Vec::with_capacity(capacity)))
    }

    /// Write the last piece after the others and wait until all are written.
    pub fn finish(self, last: Vec<u8>) -> Result<()> {
        // A send fails only if the helper already stopped on an error, which join returns.
        let _ = self.full.send(last);
        drop(self.full);
        self.helper.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}
