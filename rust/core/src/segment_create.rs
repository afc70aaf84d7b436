//! The first lines of a segment (its header and first seal, written atomically) and the seals
//! that end every group and close a segment (docs/FORMAT.md sections 4 and 7).

use std::path::Path;

use crate::durability::WriterOptions;
use crate::error::Result;
use crate::fsutil::Fs;
use crate::hash::Digest;
use crate::keys::{self, WriterKey};
use crate::record::{self, Kind};
use crate::segment;
use crate::timestamp::Timestamp;

/// Write a new segment (header + seal) atomically: temp file, fsync, rename, fsync dir.
/// Returns its name, length and the hash of its seal.
#[allow(clippy::too_many_arguments)]
pub(crate) fn new_segment(
    fs: &Fs,
    dir: &Path,
    log_id: &str,
    stream: Option<&str>,
    key: &WriterKey,
    opts: &WriterOptions,
    number: u64,
    first_seq: u64,
    prev: &Digest,
    ts: &Timestamp,
) -> Result<(String, u64, Digest)> {
    let name = segment::name(number, first_seq);
    let mut header = format!(
        r#""format":"{}","log_id":"{log_id}","segment":{number},"key_id":"{}","public_key":"{}","max_record_bytes":{},"max_segment_bytes":{}"#,
        crate::body::FORMAT,
        key.public.key_id,
        key.public.to_base64(),
        opts.max_record_bytes,
        opts.max_segment_bytes
    );
    if let Some(stream) = stream {
        // A checked stream id needs no JSON escaping.
        header.push_str(r#","stream":""#);
        header.push_str(stream);
        header.push('"');
    }
    let mut buf = Vec::with_capacity(1024);
    let h = record::write(&mut buf, first_seq, prev, Kind::Header, ts, header.as_bytes());
    let seal = write_seal(&mut buf, key, log_id, first_seq + 1, &h, ts, false);
    fs.write_atomic(&dir.join(&name), &buf, opts.durability.syncs())?;
    Ok((name, buf.len() as u64, seal))
}

pub(crate) fn write_seal(
    buf: &mut Vec<u8>,
    key: &WriterKey,
    log_id: &str,
    seq: u64,
    prev: &Digest,
    ts: &Timestamp,
    closes: bool,
) -> Digest {
    let sig = key.sign(&keys::seal_message(log_id, seq, ts, prev, closes));
    let members =
        format!(r#""closes":{closes},"key_id":"{}","signature":"{}""#, key.public.key_id, keys::encode_signature(&sig));
    record::write(buf, seq, prev, Kind::Seal, ts, members.as_bytes())
}
