//! The verifier's fast path for intent and completion lines: one validating pass over the body
//! bytes that checks JSON well-formedness and reads only the members the schema judges, without
//! building values or allocating. Building serde values for every body was most of a
//! verification's time; this pass costs a fraction of the line's SHA-256.
//!
//! It can only accept. Whatever it is not sure of (an escape in a string it must compare, `null`
//! where serde would read "absent", a duplicate or escaped member name, deep nesting, a number
//! whose range matters, whitespace between tokens, which no kfm-wal writer emits) makes it
//! return None, and the line goes to `body::check_intent` /
//! `body::check_completion`, which decide and explain exactly as before. Verdicts therefore
//! cannot change as long as this module never accepts a line those refuse, nor with another
//! `wal_id`: the tests below hold it to that on mutated lines.

use std::ops::Range;

use crate::body;
#[cfg(test)]
use crate::json_cursor::uuid_v4;
use crate::json_cursor::{Cursor, Name};
use crate::quote_index::QuoteIndex;
use crate::record::Envelope;

/// The walk over an intent's or a completion's members, the same whether a cursor reads them in
/// a line's body or in a caller's entry (`Cursor::for_body`, `Cursor::for_entry`).
mod members {
    use super::{actor, governance, non_empty, one_of, reversal, telemetry};
    use crate::body;
    use crate::json_cursor::Cursor;

    /// Accepted with its `wal_id`, or without one (only an entry may lack it: the writer then
    /// assigns one, as the serde check allows in `Context::Entry`); None when unsure.
    #[allow(clippy::option_option, reason = "unsure, or accepted with or without a wal_id")]
    pub(super) fn intent(c: &mut Cursor) -> Option<Option<u128>> {
        const WAL_ID: u16 = 1;
        const OPERATION: u16 = 1 << 1;
        const ACTOR: u16 = 1 << 2;
        const PRE: u16 = 1 << 3;
        const POST: u16 = 1 << 4;
        const PAYLOAD: u16 = 1 << 5;
        const REVERSAL: u16 = 1 << 6;
        const TIER: u16 = 1 << 7;
        const GOVERNANCE: u16 = 1 << 8;
        const LINEAGE: u16 = 1 << 9;
        const TELEMETRY: u16 = 1 << 10;
        const ALL: u16 = (1 << 11) - 1;
        const NAMES: [(&[u8], u16); 11] = [
            (b"wal_id", WAL_ID),
            (b"operation", OPERATION),
            (b"actor", ACTOR),
            (b"pre_state_hash", PRE),
            (b"post_state_expected", POST),
            (b"payload", PAYLOAD),
            (b"reversal", REVERSAL),
            (b"tier", TIER),
            (b"governance", GOVERNANCE),
            (b"lineage_links", LINEAGE),
            (b"telemetry", TELEMETRY),
        ];
        let (mut seen, mut wal_id, mut operation, mut tier, mut next) = (0u16, 0u128, &b""[..], 0u8, 0);
        while !c.done() {
            let bit = c.first_member(&NAMES, &mut seen, &mut next)?;
            match bit {
                WAL_ID => wal_id = c.uuid()?,
                OPERATION => {
                    operation = c.plain_string()?;
                    if !body::is_operation_bytes(operation) {
                        return None;
                    }
                }
                ACTOR => actor(c)?,
                PRE | POST => c.state_hash()?,
                PAYLOAD => c.object(|c, _| c.value())?,
                REVERSAL => reversal(c)?,
                TIER => tier = c.small_uint()?,
                GOVERNANCE => governance(c)?,
                LINEAGE => c.array(|c| non_empty(c.string()?.0))?,
                _ => telemetry(c)?,
            }
            c.end_member()?;
        }
        let tier_ok = tier < 4 || (tier == 4 && operation == b"rollback");
        (seen | WAL_ID == ALL && tier_ok).then_some((seen & WAL_ID != 0).then_some(wal_id))
    }

    pub(super) fn completion(c: &mut Cursor) -> Option<u128> {
        const WAL_ID: u8 = 1;
        const STATUS: u8 = 1 << 1;
        const POST: u8 = 1 << 2;
        const DIGEST: u8 = 1 << 3;
        const DURATION: u8 = 1 << 4;
        const ERROR: u8 = 1 << 5;
        const DETAIL: u8 = 1 << 6;
        const NAMES: [(&[u8], u8); 7] = [
            (b"wal_id", WAL_ID),
            (b"status", STATUS),
            (b"post_state_hash", POST),
            (b"executed_digest", DIGEST),
            (b"duration_ms", DURATION),
            (b"error", ERROR),
            (b"detail", DETAIL),
        ];
        let (mut seen, mut wal_id, mut next) = (0u8, 0u128, 0);
        while !c.done() {
            let bit = c.first_member(&NAMES, &mut seen, &mut next)?;
            match bit {
                WAL_ID => wal_id = c.uuid()?,
                STATUS => one_of(c.plain_string()?, body::STATUSES)?,
                POST | DIGEST => c.state_hash()?,
                DURATION => c.plain_non_negative()?,
                ERROR => _ = c.string()?,
                _ => c.object(|c, _| c.value())?,
            }
            c.end_member()?;
        }
        (seen & (WAL_ID | STATUS) == WAL_ID | STATUS).then_some(wal_id)
    }
}

/// The `wal_id` of an intent line that satisfies every schema rule, or None when unsure.
pub fn intent(line: &[u8], env: &Envelope, timestamp_ok: bool, index: &mut QuoteIndex) -> Option<u128> {
    // A line without a wal_id is refused: left to the serde check, which says so.
    members::intent(&mut Cursor::for_body(line, env, timestamp_ok, index)?)?
}

/// `intent` for a caller's entry, its members `entry[members]` read in place (the writer's check):
/// accepted with its `wal_id`, or without one (the writer assigns it).
#[allow(clippy::option_option, reason = "unsure, or accepted with or without a wal_id")]
pub fn intent_entry(entry: &[u8], members: Range<usize>, index: &mut QuoteIndex) -> Option<Option<u128>> {
    members::intent(&mut Cursor::for_entry(entry, members, index)?)
}

/// `intent_entry` for the element of a chunk's JSON array whose `{` is at `data[start]`
/// (`Cursor::for_element`): accepted with where it ends (just past its `}`) and its `wal_id`.
#[allow(clippy::option_option, reason = "unsure, or accepted with or without a wal_id")]
pub fn intent_element(data: &[u8], start: usize, index: &QuoteIndex) -> Option<(usize, Option<u128>)> {
    let mut c = Cursor::for_element(data, start, index)?;
    let wal_id = members::intent(&mut c)?;
    Some((c.end(), wal_id))
}

/// `completion_entry` for an element of a chunk's JSON array, as `intent_element`.
pub fn completion_element(data: &[u8], start: usize, index: &QuoteIndex) -> Option<(usize, u128)> {
    let mut c = Cursor::for_element(data, start, index)?;
    let wal_id = members::completion(&mut c)?;
    Some((c.end(), wal_id))
}

/// The `wal_id` of a completion line that satisfies every schema rule, or None when unsure.
pub fn completion(line: &[u8], env: &Envelope, timestamp_ok: bool, index: &mut QuoteIndex) -> Option<u128> {
    members::completion(&mut Cursor::for_body(line, env, timestamp_ok, index)?)
}

/// `completion` for a caller's entry, its members `entry[members]` read in place.
pub fn completion_entry(entry: &[u8], members: Range<usize>, index: &mut QuoteIndex) -> Option<u128> {
    members::completion(&mut Cursor::for_entry(entry, members, index)?)
}

fn one_of(text: &[u8], allowed: &[&str]) -> Option<()> {
    allowed.iter().any(|a| a.as_bytes() == text).then_some(())
}

/// Every escape decodes to at least one character, so raw content is empty iff the value is.
fn non_empty(raw: &[u8]) -> Option<()> {
    (!raw.is_empty()).then_some(())
}

/// `{"type": one of ACTOR_TYPES, "id": non-empty string, ...free}`.
fn actor(c: &mut Cursor) -> Option<()> {
    let mut seen = 0u8;
    c.object_of(&[b"type", b"id"], |c, name| match name {
        Name::Plain(b"type") if seen & 1 == 0 => {
            seen |= 1;
            one_of(c.plain_string()?, body::ACTOR_TYPES)
        }
        Name::Plain(b"id") if seen & 2 == 0 => {
            seen |= 2;
            non_empty(c.string()?.0)
        }
        Name::Plain(b"type" | b"id") | Name::Escaped => None,
        Name::Plain(_) => c.value(),
    })?;
    (seen == 3).then_some(())
}

/// Either a non-empty `steps` array (`irreversible` absent or false), or `irreversible: true`
/// with a non-empty `reason` and no steps; `reason`, when present, a string.
fn reversal(c: &mut Cursor) -> Option<()> {
    let (mut steps, mut irreversible, mut reason) = (None, None, None);
    c.object_of(&[b"steps", b"irreversible", b"reason"], |c, name| match name {
        Name::Plain(b"steps") if steps.is_none() => {
            let mut n = 0usize;
            c.array(|c| {
                n += 1;
                c.value()
            })?;
            steps = Some(n);
            Some(())
        }
        Name::Plain(b"irreversible") if irreversible.is_none() => {
            irreversible = Some(c.boolean()?);
            Some(())
        }
        Name::Plain(b"reason") if reason.is_none() => {
            reason = Some(!c.string()?.0.is_empty());
            Some(())
        }
        Name::Plain(b"steps" | b"irreversible" | b"reason") | Name::Escaped => None,
        Name::Plain(_) => c.value(),
    })?;
    match (steps, irreversible.unwrap_or(false)) {
        (Some(n), false) => (n > 0).then_some(()),
        (None, true) => (reason == Some(true)).then_some(()),
        _ => None,
    }
}

/// `{"care": one of CARE_LABELS, "approvals": array (optional), ...free}`.
fn governance(c: &mut Cursor) -> Option<()> {
    let (mut care, mut approvals) = (false, false);
    c.object_of(&[b"care", b"approvals"], |c, name| match name {
        Name::Plain(b"care") if !care => {
            care = true;
            one_of(c.plain_string()?, body::CARE_LABELS)
        }
        Name::Plain(b"approvals") if !approvals => {
            approvals = true;
            c.array(Cursor::value)
        }
        Name::Plain(b"care" | b"approvals") | Name::Escaped => None,
        Name::Plain(_) => c.value(),
    })?;
    care.then_some(())
}

/// `{"id": non-empty string, ...free}`.
fn telemetry(c: &mut Cursor) -> Option<()> {
    let mut id = false;
    c.object_of(&[b"id"], |c, name| match name {
        Name::Plain(b"id") if !id => {
            id = true;
            non_empty(c.string()?.0)
        }
        Name::Plain(b"id") | Name::Escaped => None,
        Name::Plain(_) => c.value(),
    })?;
    id.then_some(())
}

#[cfg(test)]
#[path = "body_accept_tests.rs"]
mod tests;
