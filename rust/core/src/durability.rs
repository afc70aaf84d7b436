//! How durable an acknowledged append is, and the limits a log is written with: settings the
//! writer, its log state and recovery all read.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Acknowledged = on stable storage (fdatasync of the segment, fsync of directories).
    Fsync,
    /// Acknowledged = handed to the OS: survives a process crash, not a power loss.
    Os,
    /// Nothing is synced, directories included: scratch logs and tests.
    None,
}

impl Durability {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Durability::Fsync => "fsync",
            Durability::Os => "os",
            Durability::None => "none",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Durability> {
        Some(match s {
            "fsync" => Durability::Fsync,
            "os" => Durability::Os,
            "none" => Durability::None,
            _ => return None,
        })
    }

    /// Whether acknowledging waits for an fdatasync.
    pub(crate) fn syncs(self) -> bool {
        self == Durability::Fsync
    }
}

#[derive(Debug, Clone, Copy)]
pub struct WriterOptions {
    pub max_segment_bytes: u64,
    pub max_record_bytes: u64,
    pub durability: Durability,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions { max_segment_bytes: 64 << 20, max_record_bytes: 1 << 20, durability: Durability::Fsync }
    }
}
