//! What a scan of one segment finds: its header, the last valid seal, the operations and records
//! it holds, the findings, and the tail after the last seal.

use std::collections::BTreeSet;

use crate::finding::Finding;
use crate::hash::Digest;
use crate::keys::PublicKey;
use crate::record::Kind;
use crate::segment::SegmentFile;
use crate::timestamp::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Boundary {
    pub seq: u64,
    pub hash: Digest,
    pub timestamp: Timestamp,
}

#[derive(Debug, Clone)]
pub struct HeaderInfo {
    pub log_id: String,
    pub segment: u64,
    pub key: PublicKey,
    pub max_record_bytes: u64,
    pub max_segment_bytes: u64,
    /// The header says `kfm-wal/2`.
    pub v2: bool,
}

/// A sealed record's place in its segment, for readers.
#[derive(Debug, Clone, Copy)]
pub struct RecordRef {
    pub seq: u64,
    pub kind: Kind,
    pub offset: u64,
    pub len: u64,
    pub hash: Digest,
}

/// An intent or completion, for pairing across the whole log.
#[derive(Debug, Clone, Copy)]
pub struct OpEvent {
    pub wal_id: u128,
    pub completion: bool,
    pub seq: u64,
    pub offset: u64,
}

/// What follows the last valid seal of a segment.
#[derive(Debug, Default)]
pub struct Tail {
    pub start: u64,
    pub len: u64,
    /// Records with a valid own hash and an intact chain, never sealed.
    pub records: u64,
    /// The seq of the tail's first line, when that line's own hash verifies.
    pub first_seq: Option<u64>,
    /// Problems found after the last seal (bad lines, broken links).
    pub findings: Vec<Finding>,
    /// Whether every finding is a bad line with no valid line after the first of them: the
    /// signature of a torn write rather than of damage.
    pub only_torn_lines: bool,
}

impl Tail {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

pub struct SegmentScan {
    pub file: SegmentFile,
    pub name: String,
    pub header: Option<HeaderInfo>,
    /// seq, prev and timestamp of the first record with a valid own hash.
    pub first: Option<(u64, Digest, Timestamp)>,
    /// The last valid seal and the offset just past it.
    pub sealed: Option<Boundary>,
    pub sealed_end: u64,
    pub closes: bool,
    pub key_at_end: Option<PublicKey>,
    pub findings: Vec<Finding>,
    pub tail: Tail,
    pub sealed_records: u64,
    pub bytes: u64,
    pub ops: Vec<OpEvent>,
    pub records: Vec<RecordRef>,
    pub keys_seen: BTreeSet<String>,
    /// Offset of the last valid seal (where a missing closing seal is reported).
    pub last_seal_offset: u64,
    /// The first line was a record with a valid own hash: the segment's links can be judged.
    pub first_line_ok: bool,
    /// (seq, offset, key id) of every seal, and (key id, seq of the seal that made it take
    /// effect) of every revocation: revocations reach across segments, checked at the join.
    pub seal_keys: Vec<(u64, u64, String)>,
    pub revocations: Vec<(String, u64)>,
}
