//! The scan's rules, line by line: every line split, hashed and chained; bodies checked; seals
//! collected (their signatures verified in one batch at the end); the bytes after the last seal
//! kept apart as the tail. The scanner is fed lines by `scan`, which chooses where they come from.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::body::{self, Context, HeaderBody, KeyBody, SealBody};
use crate::body_accept;
use crate::finding::{Code, Finding};
use crate::hash::{self, Digest};
use crate::keys::{self, PendingSignature, PublicKey};
use crate::line_facts::Known;
use crate::quote_index::QuoteIndex;
use crate::record::{self, Kind};
use crate::scan_result::{Boundary, HeaderInfo, OpEvent, RecordRef, SegmentScan, Tail};
use crate::segment::SegmentFile;
use crate::timestamp::{self, Timestamp};

pub const DEFAULT_MAX_RECORD_BYTES: u64 = 1 << 20;

/// Trusted public keys by key id.
pub type Keyring = HashMap<String, PublicKey>;

pub struct ScanOptions<'a> {
    pub keyring: Option<&'a Keyring>,
    pub check_bodies: bool,
    pub check_signatures: bool,
    pub collect_records: bool,
}

/// Where a scan starts inside a segment, with the state already verified before that point
/// (a verification receipt's): the chain link, the segment's header, the key in force.
#[derive(Debug, Clone, Default)]
pub struct ScanStart {
    /// Offset just past the last verified seal.
    pub offset: u64,
    /// seq and hash of that seal: the next record must link to it.
    pub expect: Option<(u64, Digest)>,
    pub last_ts: Option<Timestamp>,
    pub header: Option<HeaderInfo>,
    pub key: Option<PublicKey>,
    pub revoked: Vec<String>,
}

/// Per-scan mutable state, so `scan` reads as the rules.
#[allow(clippy::struct_excessive_bools, reason = "the scan's state flags, each a rule's memory")]
pub(crate) struct Scanner<'a, 'o> {
    name: String,
    file: SegmentFile,
    opts: &'o ScanOptions<'a>,
    header: Option<HeaderInfo>,
    first: Option<(u64, Digest, Timestamp)>,
    expect: Option<(u64, Digest)>,
    resync: bool,
    last_ts: Option<Timestamp>,
    key: Option<PublicKey>,
    revoked: HashSet<String>,
    pending_keys: Vec<KeyBody>,
    untrusted_reported: HashSet<String>,
    signatures: Vec<PendingSignature<(u64, u64)>>,
    // The window: everything since the last valid seal.
    window_findings: Vec<Finding>,
    window_ops: Vec<OpEvent>,
    window_records: Vec<RecordRef>,
    window_valid: u64,
    /// The seq of the window's first line, when that line's own hash verifies.
    #[allow(clippy::option_option, reason = "no line yet, a first line whose hash fails, or its seq")]
    window_first_seq: Option<Option<u64>>,
    /// Lines seen in this segment, bad ones included (the second must be a seal).
    lines: u64,
    /// The segment's first line was a record with a valid own hash (else its links are not judged).
    first_line_ok: bool,
    /// A closing seal already seen in this segment: nothing may follow it.
    closing: Option<(u64, u64)>,
    window_bad_line: bool,
    window_valid_after_bad: bool,
    /// Reused for every body (no allocation per line).
    quotes: QuoteIndex,
    out: SegmentScan,
}

impl<'a, 'o> Scanner<'a, 'o> {
    /// A scanner for `file` (`len` bytes), starting from `from`.
    pub(crate) fn new(file: &SegmentFile, opts: &'o ScanOptions<'a>, from: &ScanStart, len: u64) -> Self {
        let name = file.name();
        Scanner {
            name: name.clone(),
            file: file.clone(),
            opts,
            header: from.header.clone(),
            first: None,
            expect: from.expect,
            resync: false,
            last_ts: from.last_ts,
            key: from.key.clone(),
            revoked: from.revoked.iter().cloned().collect(),
            pending_keys: Vec::new(),
            untrusted_reported: HashSet::new(),
            signatures: Vec::new(),
            window_findings: Vec::new(),
            window_ops: Vec::new(),
            window_records: Vec::new(),
            window_valid: 0,
            window_first_seq: None,
            lines: 0,
            first_line_ok: false,
            closing: None,
            window_bad_line: false,
            window_valid_after_bad: false,
            quotes: QuoteIndex::default(),
            out: SegmentScan {
                file: file.clone(),
                name,
                header: None,
                first: None,
                sealed: None,
                sealed_end: 0,
                closes: false,
                key_at_end: None,
                findings: Vec::new(),
                tail: Tail::default(),
                sealed_records: 0,
                bytes: len,
                ops: Vec::new(),
                records: Vec::new(),
                keys_seen: BTreeSet::new(),
                last_seal_offset: 0,
                first_line_ok: false,
                seal_keys: Vec::new(),
                revocations: Vec::new(),
            },
        }
    }

    /// The first line read is at `start` (0, or the end of a seal when resuming).
    pub(crate) fn start_at(&mut self, start: u64) {
        self.out.sealed_end = start;
        if self.out.bytes == 0 {
            let f = self.finding(Code::ChainSegment, 0, None, "segment is empty: it has no header");
            self.out.findings.push(f);
        }
        if start > 0 {
            self.lines = 2; // resuming after a seal: the header and its seal were read before
        }
    }

    fn finding(&self, code: Code, offset: u64, seq: Option<u64>, message: impl Into<String>) -> Finding {
        Finding::new(code, &self.name, offset, seq, message)
    }

    fn bad_line(&mut self, code: Code, offset: u64, message: String) {
        self.lines += 1;
        self.window_first_seq.get_or_insert(None);
        let f = self.finding(code, offset, None, message);
        self.window_findings.push(f);
        self.window_bad_line = true;
        self.resync = true;
    }

    /// `known`: what was computed of this line before (its hash, the fast body verdict).
    #[allow(clippy::too_many_lines, reason = "the envelope rules of one line, in the order docs/FORMAT.md states them")]
    pub(crate) fn line(&mut self, line: &[u8], offset: u64, known: Known) {
        let env = match record::parse(line) {
            Ok(env) => env,
            Err(record::LineError(why)) => {
                let why = if line.iter().all(|&b| b == 0) { "zero bytes" } else { why };
                return self.bad_line(Code::RecordMalformed, offset, why.to_owned());
            }
        };
        let computed = known.hash.unwrap_or_else(|| hash::sha256(record::hashed_part(line)));
        if computed != env.claimed {
            return self.bad_line(Code::RecordHash, offset, "record hash does not match its bytes".to_owned());
        }
        if self.window_bad_line {
            self.window_valid_after_bad = true;
        }
        self.window_valid += 1;
        self.window_first_seq.get_or_insert(Some(env.seq));
        self.lines += 1;
        if offset == 0 {
            self.first_line_ok = true;
        }
        let seq = Some(env.seq);
        if let Some((at, closing_seq)) = self.closing.take() {
            let f = self.finding(
                Code::ChainSegment,
                at,
                Some(closing_seq),
                "a closing seal is not the last record of its segment",
            );
            self.window_findings.push(f);
        }
        let mut ts = [0u8; timestamp::LEN];
        ts.copy_from_slice(env.timestamp);
        if self.first.is_none() {
            self.first = Some((env.seq, env.prev, ts));
            if offset == 0 && env.seq != self.file.first_seq {
                let f = self.finding(
                    Code::ChainSegment,
                    offset,
                    seq,
                    format!("file name says first seq {}, header has {}", self.file.first_seq, env.seq),
                );
                self.window_findings.push(f);
            }
        }
        let limit = self.header.as_ref().map_or(DEFAULT_MAX_RECORD_BYTES, |h| h.max_record_bytes);
        if line.len() as u64 > limit {
            let f = self.finding(
                Code::RecordTooLarge,
                offset,
                seq,
                format!("record is {} bytes, over max_record_bytes {limit}", line.len()),
            );
            self.window_findings.push(f);
        }
        if let (Some((want_seq, want_prev)), false) = (self.expect, self.resync) {
            if env.seq != want_seq {
                let f =
                    self.finding(Code::ChainSeq, offset, seq, format!("expected seq {want_seq}, found {}", env.seq));
                self.window_findings.push(f);
            } else if env.prev != want_prev {
                let f = self.finding(
                    Code::ChainPrev,
                    offset,
                    seq,
                    format!("prev does not match the hash of seq {}", env.seq - 1),
                );
                self.window_findings.push(f);
            }
        }
        self.resync = false;
        self.expect = Some((env.seq + 1, computed));
        if let Some(last) = self.last_ts {
            if timestamp::earlier(&ts, &last) {
                let f =
                    self.finding(Code::TimeRegression, offset, seq, "timestamp is earlier than the previous record's");
                self.window_findings.push(f);
            }
        }
        self.last_ts = Some(ts);
        if offset == 0 && env.kind != Some(Kind::Header) {
            let f = self.finding(Code::ChainSegment, offset, seq, "segment does not start with a header");
            self.window_findings.push(f);
        }
        let timestamp_ok = timestamp::is_valid(env.timestamp);
        if !timestamp_ok {
            let f = self.finding(Code::RecordMalformed, offset, seq, "timestamp is not YYYY-MM-DDTHH:MM:SS.ffffffZ");
            self.window_findings.push(f);
        }
        if self.lines == 2 && offset > 0 && env.kind != Some(Kind::Seal) {
            let f = self.finding(Code::SealMissing, offset, seq, "a segment's header must be followed by a seal");
            self.window_findings.push(f);
        }
        let Some(kind) = env.kind else {
            let f = self.finding(
                Code::RecordKind,
                offset,
                seq,
                format!("unknown record kind {:?}", String::from_utf8_lossy(env.kind_name)),
            );
            return self.window_findings.push(f);
        };
        if self.opts.collect_records {
            self.window_records.push(RecordRef { seq: env.seq, kind, offset, len: line.len() as u64, hash: computed });
        }
        match kind {
            Kind::Header => self.header_line(line, offset, env.seq),
            Kind::Intent | Kind::Completion => {
                self.op_line(line, &env, timestamp_ok, offset, kind, known.op);
            }
            Kind::Key => self.key_line(line, offset, env.seq),
            Kind::Seal => self.seal_line(line, offset, env.seq, env.prev, &ts, computed),
        }
    }

    fn header_line(&mut self, line: &[u8], offset: u64, seq: u64) {
        if offset != 0 {
            let f = self.finding(Code::ChainSegment, offset, Some(seq), "header record inside a segment");
            return self.window_findings.push(f);
        }
        let parsed = body::parse_line_body::<HeaderBody>(line)
            .map_err(|e| format!("header: {}: {}", e.field, e.message))
            .and_then(|h| {
                let Some(v2) = body::is_v2(&h.format) else {
                    return Err(format!("unknown format {:?} (this reader knows {})", h.format, body::KNOWN_FORMATS));
                };
                if h.segment != self.file.number {
                    return Err(format!("header says segment {}, file name says {}", h.segment, self.file.number));
                }
                if body::parse_uuid_v4(&h.log_id).is_none() {
                    return Err("header log_id is not a UUIDv4".to_owned());
                }
                body::check_header_stream(h.stream.as_deref())?;
                let key = PublicKey::from_base64(&h.public_key).map_err(|e| e.to_string())?;
                if key.key_id != h.key_id {
                    return Err(format!("header key_id {} does not match its public key ({})", h.key_id, key.key_id));
                }
                Ok(HeaderInfo {
                    log_id: h.log_id,
                    segment: h.segment,
                    key,
                    max_record_bytes: h.max_record_bytes,
                    max_segment_bytes: h.max_segment_bytes,
                    v2,
                })
            });
        match parsed {
            Ok(h) => {
                self.key = Some(h.key.clone());
                self.out.keys_seen.insert(h.key.key_id.clone());
                self.header = Some(h);
            }
            Err(message) => {
                let f = self.finding(Code::ChainSegment, offset, Some(seq), message);
                self.window_findings.push(f);
            }
        }
    }

    #[allow(clippy::option_option, reason = "not computed ahead, or computed: the fast verdict (None: unsure)")]
    fn op_line(
        &mut self,
        line: &[u8],
        env: &record::Envelope,
        timestamp_ok: bool,
        offset: u64,
        kind: Kind,
        ahead: Option<Option<u128>>,
    ) {
        if !self.opts.check_bodies {
            return;
        }
        let seq = env.seq;
        // Nearly every body passes the one-pass check; only the others pay for serde, which
        // also says what is wrong.
        let fast = match ahead {
            Some(verdict) => verdict,
            None if kind == Kind::Intent => body_accept::intent(line, env, timestamp_ok, &mut self.quotes),
            None => body_accept::completion(line, env, timestamp_ok, &mut self.quotes),
        };
        if let Some(wal_id) = fast {
            return self.window_ops.push(OpEvent { wal_id, completion: kind == Kind::Completion, seq, offset });
        }
        let checked = if kind == Kind::Intent {
            body::check_intent(line, Context::Line).map(|f| f.wal_id.unwrap_or_default())
        } else {
            body::check_completion(line, Context::Line).map(|f| f.wal_id)
        };
        match checked {
            Ok(wal_id) => self.window_ops.push(OpEvent { wal_id, completion: kind == Kind::Completion, seq, offset }),
            Err(e) => {
                let code = if e.syntax { Code::RecordMalformed } else { Code::RecordSchema };
                let f = self.finding(code, offset, Some(seq), format!("{}: {}: {}", kind.as_str(), e.field, e.message));
                self.window_findings.push(f);
                // Still pair it by id where it has one, so one bad record is one finding.
                if let Some(wal_id) = body::wal_id_of(line) {
                    self.window_ops.push(OpEvent { wal_id, completion: kind == Kind::Completion, seq, offset });
                }
            }
        }
    }

    fn key_line(&mut self, line: &[u8], offset: u64, seq: u64) {
        let parsed = body::parse_line_body::<KeyBody>(line)
            .map_err(|e| format!("key: {}: {}", e.field, e.message))
            .and_then(|k| match (k.action.as_str(), &k.public_key) {
                ("rotate", Some(pk)) => {
                    let key = PublicKey::from_base64(pk).map_err(|e| e.to_string())?;
                    if key.key_id != k.key_id {
                        return Err(format!(
                            "rotate key_id {} does not match its public key ({})",
                            k.key_id, key.key_id
                        ));
                    }
                    Ok(k)
                }
                ("rotate", None) => Err("rotate needs a public_key".to_owned()),
                ("revoke", _) => Ok(k),
                (other, _) => Err(format!("unknown key action {other:?}")),
            });
        match parsed {
            Ok(k) => self.pending_keys.push(k),
            Err(message) => {
                let f = self.finding(Code::RecordSchema, offset, Some(seq), message);
                self.window_findings.push(f);
            }
        }
    }

    fn seal_line(&mut self, line: &[u8], offset: u64, seq: u64, prev: Digest, ts: &Timestamp, computed: Digest) {
        let seal = match body::parse_line_body::<SealBody>(line) {
            Ok(body) => body,
            Err(e) => {
                let code = if e.syntax { Code::RecordMalformed } else { Code::RecordSchema };
                let f = self.finding(code, offset, Some(seq), format!("seal: {}: {}", e.field, e.message));
                return self.window_findings.push(f);
            }
        };
        self.out.keys_seen.insert(seal.key_id.clone());
        self.out.seal_keys.push((seq, offset, seal.key_id.clone()));
        self.check_seal_key(&seal, offset, seq, prev, ts);
        if seal.closes {
            self.closing = Some((offset, seq));
        }
        // The seal closes the window: what it covers is sealed history from now on.
        let findings = std::mem::take(&mut self.window_findings);
        self.out.findings.extend(findings);
        self.out.ops.append(&mut self.window_ops);
        self.out.records.append(&mut self.window_records);
        for k in std::mem::take(&mut self.pending_keys) {
            if k.action == "rotate" {
                if let Some(pk) = k.public_key.as_deref().and_then(|pk| PublicKey::from_base64(pk).ok()) {
                    self.out.keys_seen.insert(pk.key_id.clone());
                    self.key = Some(pk);
                }
            } else {
                self.out.revocations.push((k.key_id.clone(), seq));
                self.revoked.insert(k.key_id);
            }
        }
        self.window_valid = 0;
        self.window_first_seq = None;
        self.out.last_seal_offset = offset;
        self.window_bad_line = false;
        self.window_valid_after_bad = false;
        self.out.sealed = Some(Boundary { seq, hash: computed, timestamp: *ts });
        self.out.sealed_end = offset + line.len() as u64;
        self.out.closes = seal.closes;
        self.out.sealed_records = seq + 1 - self.first.map_or(seq, |f| f.0);
    }

    fn check_seal_key(&mut self, seal: &SealBody, offset: u64, seq: u64, prev: Digest, ts: &Timestamp) {
        let Some(key) = self.key.clone() else {
            let f = self.finding(
                Code::SealUntrustedKey,
                offset,
                Some(seq),
                "no writer key in force (segment header missing or invalid)",
            );
            return self.window_findings.push(f);
        };
        let claimed = &seal.key_id;
        let untrusted = if *claimed != key.key_id {
            Some(format!("seal signed by {claimed}, but the key in force is {}", key.key_id))
        } else if self.revoked.contains(claimed) {
            Some(format!("seal signed by revoked key {claimed}"))
        } else {
            self.opts.keyring.and_then(|ring| match ring.get(claimed) {
                Some(trusted) if trusted.key == key.key => None,
                Some(_) => Some(format!("key {claimed} differs from the keyring's key with that id")),
                None => Some(format!("key {claimed} is not in the keyring")),
            })
        };
        if let Some(message) = untrusted {
            if self.untrusted_reported.insert(claimed.clone()) {
                let f = self.finding(Code::SealUntrustedKey, offset, Some(seq), message);
                self.window_findings.push(f);
            }
            return;
        }
        let Some(log_id) = self.header.as_ref().map(|h| h.log_id.clone()) else { return };
        match keys::decode_signature(&seal.signature) {
            Some(_) if !self.opts.check_signatures => {}
            Some(signature) => self.signatures.push(PendingSignature {
                message: keys::seal_message(&log_id, seq, ts, &prev, seal.closes),
                signature,
                key: key.key,
                tag: (offset, seq),
            }),
            None => {
                let f = self.finding(Code::SealSignature, offset, Some(seq), "signature is not 64 bytes of base64");
                self.window_findings.push(f);
            }
        }
    }

    pub(crate) fn finish(mut self, len: u64) -> SegmentScan {
        for (offset, seq) in keys::verify_all(std::mem::take(&mut self.signatures)) {
            let f = self.finding(Code::SealSignature, offset, Some(seq), "seal signature does not verify");
            self.out.findings.push(f);
        }
        self.out.findings.sort_by_key(|f| f.offset);
        let start = self.out.sealed_end;
        let only_torn_lines = !self.window_valid_after_bad
            && self
                .window_findings
                .iter()
                .all(|f| matches!(f.code, Code::RecordMalformed | Code::RecordHash | Code::RecordKind));
        let records = self.window_valid;
        let first_seq = self.window_first_seq.flatten();
        self.out.tail =
            Tail { start, len: len - start, records, first_seq, findings: self.window_findings, only_torn_lines };
        self.out.header = self.header;
        self.out.first = self.first;
        self.out.key_at_end = self.key;
        self.out.first_line_ok = self.first_line_ok;
        self.out
    }
}
