"""Decisions of FORMAT.md that a vector had not pinned down yet: time order is judged against the
previous record (not the maximum so far), a kind is compared as raw bytes (an escaped `seal` is no
seal), a last segment with only a header is all tail, and where a segment sits (`DIR/` or
`archive/`) is not judged."""

from __future__ import annotations

import os
import shutil

import kfm_wal_ref as ref
from vector_bodies import LOG_ID, StepClock, intent
from vector_expectations import expect, expected_valid, write_json
from vector_logs import BASIC_MAX_SEGMENT_BYTES, KEY_SEED, InvalidCases, copy_log, seg_path


def _writer(d):
    return ref.RefWriter(d, KEY_SEED, LOG_ID, StepClock(), max_segment_bytes=BASIC_MAX_SEGMENT_BYTES, journal=True)


def write_decision_cases(cases: InvalidCases) -> None:
    d = cases.case("time-regression-against-previous")
    w = _writer(d)
    w.append_many([intent(1, "etl_step")])
    w.commit(
        [
            {"kind": "intent", "body": intent(2, "etl_step"), "timestamp": "2025-12-31T23:59:59.000000Z"},
            {"kind": "intent", "body": intent(3, "etl_step"), "timestamp": "2025-12-31T23:59:59.500000Z"},
        ]
    )
    w.close()
    expect(
        d,
        w.journal[-3],
        error="time.regression",
        sole=True,
        note="intent 2 is earlier than intent 1; "
        "intent 3 is later than intent 2 but earlier than intent 1: judged against the previous record, "
        "only intent 2 regresses",
    )

    d = cases.case("record-kind-escaped")
    w = _writer(d)
    w.append_many([intent(1, "etl_step")])
    w.commit([{"kind": "int\\u0065nt", "raw": ref._body_text(intent(2, "etl_step"))}])
    w.close()
    expect(
        d,
        w.journal[-2],
        error="record.kind",
        sole=True,
        note="a sealed record whose kind is written "
        "`int\\u0065nt`: kinds are compared as raw bytes, so it is an unknown kind",
    )

    basic = cases.basic
    seg3 = basic.segments[-1]
    header = next(e for e in basic.journal if e["segment"] == seg3)
    d = cases.from_basic("tail-segment-header-only")
    with open(seg_path(d, seg3), "r+b") as f:
        f.truncate(header["length"])
    expect(
        d,
        seg3,
        0,
        header["seq"],
        error="tail.unsealed",
        sole=True,
        note="the last segment holds only its "
        "header (no valid seal): the whole segment is tail, one tail.unsealed at offset 0",
    )


def write_decision_valid(valid: str, basic_dir: str, journal: list, pending: list) -> None:
    """valid/last-segment-archived: every segment in archive/, none in the log directory."""
    d = os.path.join(valid, "last-segment-archived")
    copy_log(basic_dir, d)
    for name in os.listdir(d):
        if name.endswith(".jsonl"):
            shutil.move(os.path.join(d, name), os.path.join(d, "archive", name))
    write_json(os.path.join(d, "expected.json"), expected_valid(journal, pending))
