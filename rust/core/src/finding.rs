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
    /// Every code, in declaration order (a code's index here is its number in encoded summaries).
    pub const ALL: [Code; 20] = [
        Code::RecordMalformed,
        Code::RecordHash,
        Code::RecordKind,
        Code::RecordSchema,
        Code::RecordTooLarge,
        Code::ChainSeq,
        Code::ChainPrev,
        Code::ChainSegment,
        Code::SealSignature,
        Code::SealUntrustedKey,
        Code::SealMissing,
        Code::TimeRegression,
        Code::TailUnsealed,
        Code::TailTorn,
        Code::IntentDuplicate,
        Code::CompletionOrphan,
        Code::CompletionDuplicate,
        Code::SegmentCompression,
        Code::ReceiptTruncated,
        Code::ReceiptMismatch,
    ];

    /// This code's index in [`Code::ALL`].
    #[must_use]
    pub fn index(self) -> usize {
        self as usize
    }

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

#[cfg(test)]
mod code_list_tests {
    use super::Code;

    /// `Code::ALL` lists every code at its own index: a code added to the enum and not to the list
    /// fails here (the match in `as_str` makes the enum's list exhaustive).
    #[test]
    fn all_codes_listed_in_declaration_order() {
        for (i, code) in Code::ALL.iter().enumerate() {
            assert_eq!(code.index(), i, "{}", code.as_str());
        }
        let distinct: std::collections::HashSet<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(distinct.len(), Code::ALL.len());
        assert_eq!(Code::ALL.last().map(|c| c.index()), Some(Code::ReceiptMismatch as usize));
    }
}
