//! The stream id of an existing log (docs/FORMAT.md section 4, header `stream`): read from a
//! segment's header so that a reopened writer's new segments keep naming the same stream.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::body::{self, HeaderBody};
use crate::error::{IoContext, Result, WalError};

/// The `stream` of the header at the start of the (plain, verified) segment at `path`.
pub(crate) fn of_segment(path: &Path) -> Result<Option<String>> {
    let file = File::open(path).at(path)?;
    let mut line = Vec::new();
    // A header line is at most 1 MiB (FORMAT.md 6.2, L4).
    BufReader::new(file).take(1 << 20).read_until(b'\n', &mut line).at(path)?;
    let header = body::parse_line_body::<HeaderBody>(&line)
        .map_err(|e| WalError::InvalidArgument(format!("{}: header: {}: {}", path.display(), e.field, e.message)))?;
    Ok(header.stream)
}
