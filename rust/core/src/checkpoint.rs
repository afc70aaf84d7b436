//! Compacted logs (docs/FORMAT.md 6.10): a log whose first segments were moved away by a
//! compaction starts with a later segment, and is anchored by a checkpoint record further on
//! that names the cut. This module is the rule, in one place, for every verifier that joins
//! segments: which records are checkpoints (`find_cuts`), when one anchors the first segment
//! (`anchors`), and what anchoring changes in a report (`settle`).

use std::collections::HashSet;

use serde::Deserialize;

use crate::body::{self, Context, SealBody};
use crate::error::Result;
use crate::finding::Code;
use crate::hash::{self, Digest};
use crate::line_feed::{LineFeed, SliceLines};
use crate::log_report::LogReport;
use crate::record::{self, Kind};
use crate::scan::{self, SegmentScan};
use crate::segment::SegmentFile;

/// `payload.format` of a checkpoint intent.
pub const FORMAT: &str = "kfm-wal-checkpoint/1";

/// What a checkpoint says of the cut: the last compacted segment, and the seq and hash of its
/// last record (the chain head at the cut), plus the intents pending there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    pub segment: u64,
    pub seq: u64,
    pub hash: Digest,
    pub pending: Vec<u128>,
}

/// The first record of the first segment joined: its segment number, seq and prev.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstLink {
    pub segment: u64,
    pub seq: u64,
    pub prev: Digest,
}

/// The first record of `s` when it can be linked: the line at offset 0 has a valid own hash.
#[must_use]
pub fn first_link(s: &SegmentScan) -> Option<FirstLink> {
    s.first.filter(|_| s.first_line_ok).map(|(seq, prev, _)| FirstLink { segment: s.file.number, seq, prev })
}

/// Whether `cut` anchors a log whose first joined segment starts with `first`: the cut is the
/// segment just before it, and the chain head there is exactly what its first record links to.
#[must_use]
pub fn anchors(cut: &Cut, first: &FirstLink) -> bool {
    first.segment > 1 && cut.segment + 1 == first.segment && cut.seq + 1 == first.seq && cut.hash == first.prev
}

/// The log needs an anchor: its first segment is not segment 1 (a log that begins at segment 1
/// is judged as any other, checkpoint or not).
#[must_use]
pub fn may_be_compacted(files: &[SegmentFile]) -> bool {
    files.first().is_some_and(|f| f.number > 1)
}

#[derive(Deserialize)]
struct IntentShape<'a> {
    #[serde(borrow)]
    operation: std::borrow::Cow<'a, str>,
    payload: PayloadShape,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CutShape {
    segment: u64,
    seq: u64,
    hash: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BoundaryShape {
    segment: u64,
    seq: u64,
    hash: String,
    #[serde(default)]
    pending: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct PayloadShape {
    format: Option<String>,
    cut: Option<CutShape>,
    #[serde(default)]
    pending: Option<Vec<String>>,
    #[serde(default)]
    segments: Option<Vec<BoundaryShape>>,
}

fn boundary(segment: u64, seq: u64, hash: &str, pending: Option<Vec<String>>) -> Option<Cut> {
    let hash = hash.strip_prefix("sha256:").and_then(|h| hash::parse_hex(h.as_bytes()))?;
    let pending = pending.unwrap_or_default().iter().map(|id| body::parse_uuid_v4(id)).collect::<Option<Vec<_>>>()?;
    Some(Cut { segment, seq, hash, pending })
}

/// Nearly every intent is not a checkpoint: only lines that spell the word, or might spell it
/// with escapes, are looked at further.
fn may_be_checkpoint(line: &[u8]) -> bool {
    memchr::memmem::find(line, b"checkpoint").is_some() || memchr::memchr(b'\\', line).is_some()
}

/// The boundaries a line declares when it is a checkpoint by 6.10's shape (the line's own hash
/// and body were already judged valid by the caller): its cut, then each compacted segment's end;
/// None for every other intent, and for a checkpoint whose boundaries are not all well formed.
#[must_use]
pub fn cuts_of(line: &[u8]) -> Option<Vec<Cut>> {
    if !may_be_checkpoint(line) {
        return None;
    }
    let json = &line[..line.len().saturating_sub(1)];
    let shape: IntentShape = serde_json::from_slice(json).ok()?;
    if shape.operation != "checkpoint" || shape.payload.format.as_deref() != Some(FORMAT) {
        return None;
    }
    let cut = shape.payload.cut?;
    let mut out = vec![boundary(cut.segment, cut.seq, &cut.hash, shape.payload.pending)?];
    for b in shape.payload.segments.unwrap_or_default() {
        out.push(boundary(b.segment, b.seq, &b.hash, b.pending)?);
    }
    Some(out)
}

/// Every checkpoint in the sealed parts of `files` (in log order): intents with a valid own hash
/// and a valid body, followed in their segment by a valid seal. Read only for a log that may be
/// compacted (`may_be_compacted`), so an ordinary log pays nothing for the rule.
///
/// # Errors
///
/// An I/O error reading a segment.
pub fn find_cuts(files: &[SegmentFile]) -> Result<Vec<Cut>> {
    let mut cuts = Vec::new();
    let mut last_number = None;
    for file in files {
        // A repeated number is never joined (J1), and a damaged compressed segment's lines are
        // not judged (section 1): neither holds a checkpoint.
        if last_number.replace(file.number) == Some(file.number) {
            continue;
        }
        let (bytes, damage) = scan::load_readable(&file.path, file.archived)?;
        if damage.is_some() {
            continue;
        }
        cuts.extend(checkpoints_in(&bytes).into_iter().flatten());
    }
    Ok(cuts)
}

/// The checkpoints in the sealed part of one segment's readable (decompressed, undamaged)
/// bytes, each as its boundaries (`cuts_of`: its cut first), by `find_cuts`'s rule: an intent with
/// a valid own hash and body, followed in the segment by a valid seal. What a verifier reading the
/// segment elsewhere (object storage) gives the join in place of `find_cuts`.
#[must_use]
pub fn checkpoints_in(bytes: &[u8]) -> Vec<Vec<Cut>> {
    let mut found = Vec::new();
    let mut window = Vec::new();
    let mut lines = SliceLines::new(bytes, 0);
    while let Ok(Some((_, line))) = lines.next_line() {
        // The envelope first (no hash): only seals and candidate checkpoints are hashed.
        let Ok(env) = record::parse(line) else { continue };
        let own_hash_ok = || hash::sha256(record::hashed_part(line)) == env.claimed;
        match env.kind {
            Some(Kind::Intent)
                if may_be_checkpoint(line) && own_hash_ok() && body::check_intent(line, Context::Line).is_ok() =>
            {
                window.extend(cuts_of(line));
            }
            Some(Kind::Seal) if own_hash_ok() && body::parse_line_body::<SealBody>(line).is_ok() => {
                found.append(&mut window);
            }
            _ => {}
        }
    }
    found
}

/// Apply 6.10 to a finished report: when a checkpoint anchors the first segment, its numbering
/// and start findings (`unanchored`) are dropped and completions of the intents pending at the
/// cut are paired with them; otherwise the report stands as it is.
/// Returns how many intents pending at the cut are still pending (added to the report's table:
/// a caller that counted `pending` already adds them).
pub fn settle(report: &mut LogReport, first: Option<FirstLink>, cuts: &[Cut]) -> u64 {
    let unanchored = std::mem::take(&mut report.unanchored);
    let Some(cut) = first.and_then(|first| cuts.iter().find(|c| anchors(c, &first))) else { return 0 };
    let mut index = 0;
    report.findings.retain(|_| {
        index += 1;
        !unanchored.contains(&(index - 1))
    });
    let mut waiting: HashSet<String> = cut.pending.iter().map(|id| body::format_uuid(*id)).collect();
    let mut completed = HashSet::new();
    report.findings.retain_mut(|f| {
        let Some(id) = f.wal_id.clone().filter(|_| f.code == Code::CompletionOrphan) else { return true };
        if waiting.remove(&id) {
            completed.insert(id);
            return false;
        }
        if completed.contains(&id) {
            f.code = Code::CompletionDuplicate;
            f.message = "second completion of the same intent (pending at the checkpoint's cut)".into();
        }
        true
    });
    // The writer's table learns them too, so a later completion of one is accepted.
    report.ops.assume_pending(cut.pending.iter().copied().filter(|id| waiting.contains(&body::format_uuid(*id))));
    waiting.len() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "sha256:0101010101010101010101010101010101010101010101010101010101010101";

    fn line(payload: &str) -> Vec<u8> {
        format!("{{\"operation\":\"checkpoint\",\"payload\":{payload}}}\n").into_bytes()
    }

    #[test]
    fn boundaries_are_the_cut_then_each_segment_end() {
        let p = format!(
            r#"{{"format":"{FORMAT}","cut":{{"segment":3,"seq":40,"hash":"{H}"}},"pending":[],"segments":[{{"segment":2,"seq":20,"hash":"{H}","pending":null}}]}}"#
        );
        let cuts = cuts_of(&line(&p)).expect("a checkpoint");
        assert_eq!(cuts.iter().map(|c| (c.segment, c.seq)).collect::<Vec<_>>(), vec![(3, 40), (2, 20)]);
        let first = FirstLink { segment: 4, seq: 41, prev: cuts[0].hash };
        assert!(anchors(&cuts[0], &first));
        assert!(!anchors(&cuts[1], &first));
        assert!(!anchors(&cuts[0], &FirstLink { seq: 42, ..first }));
        assert!(!anchors(&cuts[0], &FirstLink { prev: hash::ZERO, ..first }));
    }

    #[test]
    fn anything_else_is_no_checkpoint() {
        let cut = format!(r#""cut":{{"segment":3,"seq":40,"hash":"{H}"}}"#);
        for payload in [
            format!(r#"{{"format":"kfm-wal-snapshot/1",{cut}}}"#),
            format!(r#"{{"format":"{FORMAT}"}}"#),
            format!(r#"{{"format":"{FORMAT}","cut":{{"segment":3,"seq":40,"hash":"{H}","x":1}}}}"#),
            format!(r#"{{"format":"{FORMAT}","cut":{{"segment":3,"seq":4.0,"hash":"{H}"}}}}"#),
            format!(r#"{{"format":"{FORMAT}",{cut},"pending":["not-a-uuid"]}}"#),
        ] {
            assert!(cuts_of(&line(&payload)).is_none(), "{payload}");
        }
        // escaped spellings are decoded like every judged string
        let escaped = format!(r#"{{"format":"kfm-wal-\u0063heckpoint/1",{cut}}}"#);
        let l = format!("{{\"operation\":\"\\u0063heckpoint\",\"payload\":{escaped}}}\n");
        assert!(cuts_of(l.as_bytes()).is_some());
    }
}
