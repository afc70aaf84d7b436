//! kfm-wal core: the on-disk format (docs/FORMAT.md), hashing, Ed25519 seals, the group-commit
//! writer, the segment scanner and the verifier. No Python here: the binding crate is a thin
//! layer over this one, and `cargo test` exercises it alone.

mod archive;
mod array_accept;
mod batch_verify;
pub mod body;
mod body_accept;
mod body_fast;
pub mod checkpoint;
mod commit_queue;
pub mod durability;
pub mod entry_array;
pub mod error;
pub mod finding;
pub mod format_version;
pub mod fsutil;
pub mod hash;
mod hash_pair;
mod json_cursor;
pub mod keys;
mod line_facts;
pub mod line_feed;
mod live_padding;
mod log_record_bodies;
mod log_report;
pub mod log_settings;
mod log_state;
mod log_stream;
pub mod op_pairing;
mod open_state;
pub mod ops;
pub mod piece_scan;
mod pieces;
pub mod pipeline;
pub mod prepare;
mod quote_index;
pub mod reader;
pub mod receipt;
pub mod record;
pub mod recovery;
pub mod salvage;
pub mod scan;
mod scan_result;
mod scanner;
pub mod segment;
pub mod segment_bytes;
mod segment_create;
pub mod segment_summary;
pub mod signature_rules;
pub mod summary_join;
pub mod summary_resume;
mod sync_stage;
#[cfg(test)]
mod test_mutations;
pub mod timestamp;
pub mod verify;
pub mod writer;

pub use durability::DEFAULT_PREALLOCATE_BYTES;
pub use error::{Result, WalError};
pub use finding::{Code, Finding};
pub use recovery::{OpenVerify, RecoveryMode, RecoveryNote};
pub use verify::{verify, LogReport, VerifyOptions};
pub use writer::{AppendReceipt, Durability, Pending, Writer, WriterOptions, WriterStats};
