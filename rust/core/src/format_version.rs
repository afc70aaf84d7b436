//! The format versions a header may name (docs/FORMAT.md sections 2, 4 and 8): the writer writes
//! `kfm-wal/2`; readers judge `kfm-wal/1` and `kfm-wal/2` segments, the second with its padding
//! and torn-line rules.

/// The version the writer writes in every segment it creates.
pub const FORMAT: &str = FORMAT_V2;
/// A segment judged whole: no padding, no torn-line rule.
pub const FORMAT_V1: &str = "kfm-wal/1";
/// A segment that may end in zero padding and whose first line holding a zero byte ends what is
/// judged (docs/FORMAT.md section 2, "Padding and torn lines").
pub const FORMAT_V2: &str = "kfm-wal/2";
pub const KNOWN_FORMATS: &str = "kfm-wal/1 and kfm-wal/2";

/// Whether a header's `format` is `kfm-wal/2` (Some(true)) or `kfm-wal/1` (Some(false)); None for
/// any other value.
#[must_use]
pub fn is_v2(format: &str) -> Option<bool> {
    match format {
        FORMAT_V1 => Some(false),
        FORMAT_V2 => Some(true),
        _ => None,
    }
}
