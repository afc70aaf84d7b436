//! What a verification is asked (options, a checkpoint to resume from) and what it reports.

use std::collections::BTreeSet;

use crate::finding::Finding;
use crate::hash::Digest;
use crate::keys::PublicKey;
use crate::ops::OpsTable;
use crate::scan::{Boundary, HeaderInfo, Keyring};
use crate::segment::SegmentFile;
use crate::timestamp::Timestamp;

/// A point of the log an earlier run verified (kept in a verification receipt): history up to it
/// is trusted as long as the record there is byte-for-byte the one verified.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    pub log_id: String,
    pub seq: u64,
    pub hash: Digest,
    pub segment: u64,
    /// Offset of that record (a seal) in its segment.
    pub offset: u64,
    pub timestamp: Timestamp,
    pub key: PublicKey,
    pub revoked: Vec<String>,
    pub pending: Vec<u128>,
}

pub struct VerifyOptions {
    pub keyring: Option<Keyring>,
    pub check_bodies: bool,
    /// Verify the Ed25519 signature of every seal. Off only to measure what signatures cost
    /// (benchmarks): keys and trust are still checked, and a report says signatures were skipped.
    pub check_signatures: bool,
    /// Verify only what follows this checkpoint (after checking the checkpoint still holds).
    pub checkpoint: Option<Checkpoint>,
    /// Stop scanning once this many findings are known (`--fail-fast` is 1).
    pub stop_after: Option<usize>,
    /// Keep the intent/completion table in the report (the writer needs it to refuse duplicate
    /// ids and orphan completions).
    pub keep_ops: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            keyring: None,
            check_bodies: true,
            check_signatures: true,
            keep_ops: false,
            checkpoint: None,
            stop_after: None,
        }
    }
}

/// A recoverable tail of the last segment.
#[derive(Debug, Clone)]
pub struct TailReport {
    pub finding: Finding,
    pub segment: SegmentFile,
    pub offset: u64,
    pub len: u64,
}

#[derive(Default)]
pub struct LogReport {
    pub findings: Vec<Finding>,
    pub segments: Vec<SegmentFile>,
    pub records: u64,
    pub bytes: u64,
    pub head: Option<Boundary>,
    pub log_id: Option<String>,
    pub last_header: Option<HeaderInfo>,
    pub key_in_force: Option<PublicKey>,
    pub keys_seen: BTreeSet<String>,
    pub keyring_used: bool,
    /// The last segment ends with a closing seal (a rotation was cut short).
    pub last_closes: bool,
    pub tail: Option<TailReport>,
    pub intents: u64,
    pub completions: u64,
    pub pending: u64,
    pub ops: OpsTable,
    /// Where the head seal is, and the trust state there: what a receipt records.
    pub head_segment: Option<u64>,
    pub head_offset: u64,
    pub revoked: Vec<String>,
    /// Bytes actually scanned (less than `bytes` when resuming from a checkpoint).
    pub scanned_bytes: u64,
    /// Scanning stopped early (`stop_after`).
    pub stopped: bool,
    /// The first joined segment's first record, and the indexes in `findings` of its numbering
    /// and start findings, which a checkpoint may anchor (FORMAT.md 6.10, checkpoint.rs).
    pub first_link: Option<crate::checkpoint::FirstLink>,
    pub unanchored: Vec<usize>,
}

impl LogReport {
    /// Valid = no finding at all; a recoverable tail is still a finding.
    #[must_use]
    pub fn ok(&self) -> bool {
        self.findings.is_empty()
    }

    /// The first finding that is not a recoverable tail.
    #[must_use]
    pub fn first_damage(&self) -> Option<&Finding> {
        self.findings.iter().find(|f| !f.code.is_recoverable())
    }
}
