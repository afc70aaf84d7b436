"""kfm-wal/2 segments (FORMAT.md section 2, "Padding" and "Torn lines"): the basic log written with
`kfm-wal/2` headers, its live segment ending in zero padding, and the torn writes preallocated space
can keep after a power loss.

valid: padded-live-segment, padded-zeroed-final-commit (the final commit lost to zeros: padding,
the log ends at the seal before it), padded-archived-segment (padding is not judged by position),
upgraded-v1-then-v2 (a v1 first segment, v2 after it).
invalid: padded-partial-line (a partial record then zeros: tail.torn), torn-line-then-valid-group
(a zeroed line followed by a complete, sealed group in the live segment: tail.torn at the last seal
before it; the group after it is never judged), torn-line-in-archived-segment (the same in a closed
segment: record.malformed, and what follows it is not history)."""

from __future__ import annotations

import os

import kfm_wal_ref as ref
from vector_bodies import basic_steps, fixed_uuid
from vector_expectations import expect, expected_valid, write_json
from vector_logs import InvalidCases, _commit_start, build_basic, edit, seg_path

# What a kfm-wal/2 writer leaves after its live segment's data (any length will do).
PADDING = 4096


def _v2_basic(d):
    journal, spans = build_basic(d, format_name=ref.FORMAT_V2)
    return journal, spans, sorted({e["segment"] for e in journal})


def _pending_without_final_step():
    """The intents left without a completion when the basic log's final step is lost, in log order
    (from the bodies written, step by step)."""
    steps = basic_steps()[:-1]
    done = {body["wal_id"] for kind, bodies in steps if kind == "completion" for body in bodies}
    intents = [body["wal_id"] for kind, bodies in steps if kind == "intent" for body in bodies]
    return [wal_id for wal_id in intents if wal_id not in done]


def _pad(path, n=PADDING):
    edit(path, lambda b: b + bytes(n))


def write_padding_valid(valid: str) -> None:
    basic_pending = [fixed_uuid("intent-10")]

    d = os.path.join(valid, "padded-live-segment")
    journal, _, segments = _v2_basic(d)
    _pad(seg_path(d, segments[-1]))
    write_json(os.path.join(d, "expected.json"), expected_valid(journal, basic_pending))

    d = os.path.join(valid, "padded-archived-segment")
    journal, _, segments = _v2_basic(d)
    _pad(seg_path(d, segments[1]))
    _pad(seg_path(d, segments[-1]))
    write_json(os.path.join(d, "expected.json"), expected_valid(journal, basic_pending))

    d = os.path.join(valid, "padded-zeroed-final-commit")
    journal, spans, segments = _v2_basic(d)
    final = spans[-1][_commit_start(spans[-1]) :]
    start = final[0]["offset"]
    edit(seg_path(d, segments[-1]), lambda b: b[:start] + bytes(len(b) - start + PADDING))
    assert spans[-1][0]["kind"] == "completion" and final == spans[-1], "the final step is one commit"
    kept = [e for e in journal if e["seq"] < final[0]["seq"]]
    write_json(os.path.join(d, "expected.json"), expected_valid(kept, _pending_without_final_step()))

    d = os.path.join(valid, "upgraded-v1-then-v2")

    def to_v2(w, kind, bodies):
        w.append_many(bodies, kind)
        w.format_name = ref.FORMAT_V2  # segments created from here on are kfm-wal/2

    journal, _ = build_basic(d, hooks={0: to_v2})
    segments = sorted({e["segment"] for e in journal})
    _pad(seg_path(d, segments[-1]))
    write_json(os.path.join(d, "expected.json"), expected_valid(journal, basic_pending))


def write_padding_invalid(cases: InvalidCases) -> None:
    d = cases.case("padded-partial-line")
    _, spans, segments = _v2_basic(d)
    first = spans[-1][_commit_start(spans[-1])]
    edit(seg_path(d, segments[-1]), lambda b: b[: first["offset"] + 40] + bytes(PADDING))
    expect(
        d,
        segments[-1],
        first["offset"],
        None,
        error="tail.torn",
        sole=True,
        note="kfm-wal/2: 40 bytes of the first record after the last seal, then zeros to the end (a write "
        "into preallocated space cut short): not padding (the zeros do not start at a line boundary)",
    )

    d = cases.case("torn-line-then-valid-group")
    _, spans, segments = _v2_basic(d)
    final = spans[-1][_commit_start(spans[-1]) :]
    a, b = final[0]["offset"], final[0]["offset"] + final[0]["length"]
    edit(seg_path(d, segments[-1]), lambda data: data[:a] + bytes(b - a) + data[b:] + bytes(PADDING))
    expect(
        d,
        segments[-1],
        a,
        None,
        error="tail.torn",
        sole=True,
        note="kfm-wal/2: the first line of the final commit zeroed (a page the power loss did not keep) while "
        "the rest of the commit and its seal survived: the zeroed line ends the segment's history, the "
        "seal after it does not count",
    )

    d = cases.case("torn-line-in-archived-segment")
    journal, _, segments = _v2_basic(d)
    closed = [e for e in journal if e["segment"] == segments[1] and e["kind"] != "header"]
    victim = closed[len(closed) // 2]
    a, b = victim["offset"], victim["offset"] + victim["length"]
    edit(seg_path(d, segments[1]), lambda data: data[:a] + bytes(b - a) + data[b:])
    expect(
        d,
        victim["segment"],
        victim["offset"],
        None,
        error="record.malformed",
        sole=False,
        note="kfm-wal/2: a zeroed line in a closed (archived) segment: record.malformed; the lines after it "
        "are not history (a closed segment was synced whole before the next was created)",
    )


__all__ = ["write_padding_invalid", "write_padding_valid"]
