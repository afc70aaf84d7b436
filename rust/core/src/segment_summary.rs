//! One segment verified alone, as a compact summary: everything the join (`verify`) needs from a
//! segment's scan, and nothing it does not (no record bytes, no record list). A distributed
//! validator scans each segment where its bytes are and ships only this summary to the join.
//!
//! The encoding is private to one build of this crate (scanner and join run the same version):
//! a version byte, then fields in a fixed order; integers as LEB128 varints. An intent or a
//! completion (the one part that grows with the segment) costs its 16-byte id plus a few bytes.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::finding::{Code, Finding};
use crate::hash::Digest;
use crate::keys::PublicKey;
use crate::scan::{self, Boundary, HeaderInfo, OpEvent, ScanOptions, SegmentScan, Tail};
use crate::segment::SegmentFile;
use crate::timestamp::{self, Timestamp};

const VERSION: u8 = 2;

/// Scan one whole segment held in memory, alone: the same scanner the local verifier runs on
/// each segment, on one thread (a distributed worker is given one segment per task). `raw`: the
/// file's bytes as stored; a compressed segment (`file`'s name ends `.jsonl.zst`) is decoded here,
/// and one that does not decode to its end is reported as the local verifier reports it.
#[must_use]
pub fn scan_alone(file: &SegmentFile, raw: &[u8], opts: &ScanOptions) -> SegmentScan {
    let decoded = scan::decode_segment(&file.name(), raw);
    match decoded.damage {
        Some(finding) => scan::unreadable(file, decoded.bytes.len() as u64, finding),
        None => scan::scan(file, &decoded.bytes, opts),
    }
}

/// The summary of a scan, encoded. The record list (a reader's) is not part of it.
#[must_use]
pub fn encode(s: &SegmentScan) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(256 + s.ops.len() * 24));
    w.byte(VERSION);
    w.uint(s.file.number);
    w.uint(s.file.first_seq);
    w.bool(s.file.archived);
    w.text(&s.file.path.to_string_lossy());
    w.opt(s.header.as_ref(), |w, h| {
        w.text(&h.log_id);
        w.uint(h.segment);
        w.key(&h.key);
        w.uint(h.max_record_bytes);
        w.uint(h.max_segment_bytes);
        w.bool(h.v2);
    });
    w.opt(s.first.as_ref(), |w, (seq, prev, ts)| {
        w.uint(*seq);
        w.0.extend_from_slice(prev);
        w.0.extend_from_slice(ts);
    });
    w.opt(s.sealed.as_ref(), Writer::boundary);
    w.uint(s.sealed_end);
    w.bool(s.closes);
    w.opt(s.key_at_end.as_ref(), Writer::key);
    w.findings(&s.findings);
    w.uint(s.tail.start);
    w.uint(s.tail.len);
    w.uint(s.tail.records);
    w.opt(s.tail.first_seq.as_ref(), |w, seq| w.uint(*seq));
    w.findings(&s.tail.findings);
    w.bool(s.tail.only_torn_lines);
    w.uint(s.sealed_records);
    w.uint(s.bytes);
    w.ops(&s.ops);
    w.uint(s.keys_seen.len() as u64);
    s.keys_seen.iter().for_each(|k| w.text(k));
    w.uint(s.last_seal_offset);
    w.bool(s.first_line_ok);
    w.uint(s.seal_keys.len() as u64);
    for (seq, offset, key_id) in &s.seal_keys {
        w.uint(*seq);
        w.uint(*offset);
        w.text(key_id);
    }
    w.uint(s.revocations.len() as u64);
    for (key_id, seq) in &s.revocations {
        w.text(key_id);
        w.uint(*seq);
    }
    w.0
}

/// The summary of a scan without its intents and completions, and those split into `parts`
/// partitions by `wal_id` (`op_pairing`), each encoded: what a worker ships when the pairing runs
/// in partitions on other workers.
#[must_use]
pub fn encode_split(mut s: SegmentScan, parts: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
    let ops = std::mem::take(&mut s.ops);
    (encode(&s), crate::op_pairing::split(&ops, parts))
}

/// A summary back as the scan the join takes. None: not a summary this build wrote (a worker
/// running another version, or bytes damaged in transit).
#[must_use]
pub fn decode(bytes: &[u8]) -> Option<SegmentScan> {
    let mut r = Reader(bytes);
    if r.byte()? != VERSION {
        return None;
    }
    let file =
        SegmentFile { number: r.uint()?, first_seq: r.uint()?, archived: r.bool()?, path: PathBuf::from(r.text()?) };
    let header = r.opt(|r| {
        Some(HeaderInfo {
            log_id: r.text()?,
            segment: r.uint()?,
            key: r.key()?,
            max_record_bytes: r.uint()?,
            max_segment_bytes: r.uint()?,
            v2: r.bool()?,
        })
    })?;
    let first = r.opt(|r| Some((r.uint()?, r.digest()?, r.timestamp()?)))?;
    let sealed = r.opt(Reader::boundary)?;
    let sealed_end = r.uint()?;
    let closes = r.bool()?;
    let key_at_end = r.opt(Reader::key)?;
    let findings = r.findings()?;
    let tail = Tail {
        start: r.uint()?,
        len: r.uint()?,
        records: r.uint()?,
        first_seq: r.opt(Reader::uint)?,
        findings: r.findings()?,
        only_torn_lines: r.bool()?,
    };
    let sealed_records = r.uint()?;
    let len = r.uint()?;
    let ops = r.ops()?;
    let keys_seen: BTreeSet<String> = r.list(Reader::text)?.into_iter().collect();
    let last_seal_offset = r.uint()?;
    let first_line_ok = r.bool()?;
    let seal_keys = r.list(|r| Some((r.uint()?, r.uint()?, r.text()?)))?;
    let revocations = r.list(|r| Some((r.text()?, r.uint()?)))?;
    if !r.0.is_empty() {
        return None;
    }
    Some(SegmentScan {
        name: file.name(),
        file,
        header,
        first,
        sealed,
        sealed_end,
        closes,
        key_at_end,
        findings,
        tail,
        sealed_records,
        bytes: len,
        ops,
        records: Vec::new(),
        keys_seen,
        last_seal_offset,
        first_line_ok,
        seal_keys,
        revocations,
    })
}

pub(crate) struct Writer(pub(crate) Vec<u8>);

impl Writer {
    pub(crate) fn byte(&mut self, b: u8) {
        self.0.push(b);
    }
    pub(crate) fn bool(&mut self, b: bool) {
        self.0.push(u8::from(b));
    }
    pub(crate) fn uint(&mut self, mut v: u64) {
        while v >= 0x80 {
            #[allow(clippy::cast_possible_truncation, reason = "the low seven bits, by design")]
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        #[allow(clippy::cast_possible_truncation, reason = "under 0x80 here")]
        self.0.push(v as u8);
    }
    pub(crate) fn text(&mut self, t: &str) {
        self.uint(t.len() as u64);
        self.0.extend_from_slice(t.as_bytes());
    }
    fn key(&mut self, k: &PublicKey) {
        self.0.extend_from_slice(k.key.as_bytes());
    }
    fn boundary(&mut self, b: &Boundary) {
        self.uint(b.seq);
        self.0.extend_from_slice(&b.hash);
        self.0.extend_from_slice(&b.timestamp);
    }
    pub(crate) fn opt<T>(&mut self, v: Option<&T>, put: impl FnOnce(&mut Self, &T)) {
        self.bool(v.is_some());
        if let Some(v) = v {
            put(self, v);
        }
    }
    pub(crate) fn ops(&mut self, ops: &[OpEvent]) {
        self.uint(ops.len() as u64);
        for op in ops {
            self.0.extend_from_slice(&op.wal_id.to_le_bytes());
            self.bool(op.completion);
            self.uint(op.seq);
            self.uint(op.offset);
        }
    }
    pub(crate) fn findings(&mut self, findings: &[Finding]) {
        self.uint(findings.len() as u64);
        for f in findings {
            let code = f.code.index();
            self.uint(code as u64);
            self.text(&f.segment);
            self.uint(f.offset);
            self.opt(f.seq.as_ref(), |w, seq| w.uint(*seq));
            self.opt(f.wal_id.as_ref(), |w, id| w.text(id));
            self.text(&f.message);
        }
    }
}

pub(crate) struct Reader<'a>(pub(crate) &'a [u8]);

impl Reader<'_> {
    pub(crate) fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    pub(crate) fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    pub(crate) fn bool(&mut self) -> Option<bool> {
        match self.byte()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
    pub(crate) fn uint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    fn len(&mut self) -> Option<usize> {
        // A count can never exceed the bytes left: a damaged count fails here, not in an allocation.
        usize::try_from(self.uint()?).ok().filter(|n| *n <= self.0.len())
    }
    pub(crate) fn text(&mut self) -> Option<String> {
        let n = self.len()?;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
    fn digest(&mut self) -> Option<Digest> {
        self.take(32)?.try_into().ok()
    }
    fn timestamp(&mut self) -> Option<Timestamp> {
        let ts: Timestamp = self.take(timestamp::LEN)?.try_into().ok()?;
        Some(ts)
    }
    fn key(&mut self) -> Option<PublicKey> {
        PublicKey::from_raw(self.take(32)?).ok()
    }
    fn boundary(&mut self) -> Option<Boundary> {
        Some(Boundary { seq: self.uint()?, hash: self.digest()?, timestamp: self.timestamp()? })
    }
    #[allow(clippy::option_option, reason = "a damaged encoding, or an absent value")]
    pub(crate) fn opt<T>(&mut self, get: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.bool()? {
            get(self).map(Some)
        } else {
            Some(None)
        }
    }
    pub(crate) fn list<T>(&mut self, mut get: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        let n = self.len()?;
        (0..n).map(|_| get(self)).collect()
    }
    pub(crate) fn ops(&mut self) -> Option<Vec<OpEvent>> {
        self.list(|r| {
            let wal_id = u128::from_le_bytes(r.take(16)?.try_into().ok()?);
            Some(OpEvent { wal_id, completion: r.bool()?, seq: r.uint()?, offset: r.uint()? })
        })
    }
    pub(crate) fn findings(&mut self) -> Option<Vec<Finding>> {
        self.list(|r| {
            let code = *Code::ALL.get(usize::try_from(r.uint()?).ok()?)?;
            let segment = r.text()?;
            let offset = r.uint()?;
            let seq = r.opt(Reader::uint)?;
            let wal_id = r.opt(Reader::text)?;
            let message = r.text()?;
            Some(Finding { code, segment, offset, seq, wal_id, message })
        })
    }
}
