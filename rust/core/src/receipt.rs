//! What the writer hands back: a receipt per appended record, the head of the log, counters.

use crate::durability::Durability;
use crate::hash::Digest;
use crate::record::Kind;
use crate::timestamp::Timestamp;

/// Proof that a record is in the log, covered by a durable seal (at the durability given).
#[derive(Debug, Clone)]
pub struct AppendReceipt {
    pub seq: u64,
    pub hash: Digest,
    pub wal_id: u128,
    pub kind: Kind,
    /// Shared by every receipt of a segment (one allocation per segment, not per record).
    pub segment: std::sync::Arc<str>,
    pub offset: u64,
    pub seal_seq: u64,
    pub durability: Durability,
}

/// The head of the log as the writer knows it.
#[derive(Debug, Clone)]
pub struct Head {
    pub seq: u64,
    pub hash: Digest,
    pub timestamp: Timestamp,
    pub segment: String,
}

/// See `Writer::stats`.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriterStats {
    /// Intents and completions appended.
    pub records: u64,
    /// Group commits written (one seal each).
    pub groups: u64,
    /// fdatasyncs that acknowledged groups (durability `fsync`; rotation's own not counted).
    pub syncs: u64,
}
