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
    /// How far ahead of its data the writer keeps the live segment filled with zeros, so that
    /// making a small group durable does not change the file's size (docs/FORMAT.md section 7,
    /// "Preallocation"). Only with `Durability::Fsync`, in `kfm-wal/2` segments; 0 turns it off.
    pub preallocate_bytes: u64,
}

/// See `WriterOptions::preallocate_bytes`. On ext4 an fdatasync of a file whose size grew also
/// writes its inode; into space already holding zeros it does not (2-core AMD EPYC VM: a 7 KB
/// write + fdatasync 71-85 us into zeros against 120-136 us at the end of the file). Filling costs
/// ~580 us per MiB, paid once per MiB of small groups.
pub const DEFAULT_PREALLOCATE_BYTES: u64 = 1 << 20;

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            max_segment_bytes: 64 << 20,
            max_record_bytes: 1 << 20,
            durability: Durability::Fsync,
            preallocate_bytes: DEFAULT_PREALLOCATE_BYTES,
        }
    }
}
