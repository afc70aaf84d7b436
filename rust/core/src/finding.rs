//! A located problem in a log: what rule broke, and where (segment file, byte offset, seq).
//! The verifier's report and the corruption error both carry these.

use std::fmt;

/// Stable rule ids, as listed in docs/FORMAT.md section 6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    RecordMalformed,
    RecordHash,
    RecordKind,
    RecordSchema,
    RecordTooLarge,
    ChainSeq,
    ChainPrev,
    ChainSegment,
    SealSignature,
    SealUntrustedKey,
    SealMissing,
    TimeRegression,
    TailUnsealed,
    TailTorn,
    IntentDuplicate,
    CompletionOrphan,
    CompletionDuplicate,
    /// A compressed segment whose zstd stream does not decode to its end (corrupt or truncated).
    SegmentCompression,
    /// History a receipt vouches for is gone (the log was cut back).
    ReceiptTruncated,
    /// History a receipt vouches for differs (rewritten, or a fork).
    ReceiptMismatch,
}

impl Code {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Code::RecordMalformed => "record.malformed",
            Code::RecordHash => "record.hash",
            Code::RecordKind => "record.kind",
            Code::RecordSchema => "record.schema",
            Code::RecordTooLarge => "record.too_large",
            Code::ChainSeq => "chain.seq",
            Code::ChainPrev => "chain.prev",
            Code::ChainSegment => "chain.segment",
            Code::SealSignature => "seal.signature",
            Code::SealUntrustedKey => "seal.untrusted_key",
            Code::SealMissing => "seal.missing",
            Code::TimeRegression => "time.regression",
            Code::TailUnsealed => "tail.unsealed",
            Code::TailTorn => "tail.torn",
            Code::IntentDuplicate => "intent.duplicate",
            Code::CompletionOrphan => "completion.orphan",
            Code::CompletionDuplicate => "completion.duplicate",
            Code::SegmentCompression => "segment.compression",
            Code::ReceiptTruncated => "receipt.truncated",
            Code::ReceiptMismatch => "receipt.mismatch",
        }
    }

    /// A torn or unsealed tail holds nothing that was ever acknowledged: opening for writing
    /// may cut it (keeping a copy). Everything else is damage to acknowledged history.
    #[must_use]
    pub fn is_recoverable(self) -> bool {
        matches!(self, Code::TailUnsealed | Code::TailTorn)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub code: Code,
    /// Segment file name (not the full path), "" when the finding is about the log as a whole.
    pub segment: String,
    pub offset: u64,
    pub seq: Option<u64>,
    pub wal_id: Option<String>,
    pub message: String,
}

impl Finding {
    pub fn new(code: Code, segment: &str, offset: u64, seq: Option<u64>, message: impl Into<String>) -> Self {
        Finding { code, segment: segment.to_owned(), offset, seq, wal_id: None, message: message.into() }
    }

    #[must_use]
    pub fn with_wal_id(mut self, wal_id: Option<String>) -> Self {
        self.wal_id = wal_id;
        self
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} at offset {}", self.code.as_str(), self.segment, self.offset)?;
        if let Some(seq) = self.seq {
            write!(f, " (seq {seq})")?;
        }
        write!(f, ": {}", self.message)
    }
}
