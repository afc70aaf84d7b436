"""Invalid cases made by editing the bytes of a copy of valid/basic: a changed, deleted, swapped
or duplicated line, a torn or unsealed tail, corruption inside the last segment, and missing,
renamed, repeated or foreign segment files."""

from __future__ import annotations

import os
import shutil

import kfm_wal_ref as ref
from vector_bodies import OTHER_LOG_ID
from vector_expectations import expect
from vector_logs import InvalidCases, _commit_start, build_basic, edit, records_of, replace_in_line, seg_path


def write_byte_defects(cases: InvalidCases, out) -> None:
    """The byte-level cases; `out` is the vectors directory (a scratch log is built in it and removed)."""
    write_line_defects(cases)
    write_tail_defects(cases)
    write_segment_file_defects(cases, out)


def write_line_defects(cases: InvalidCases) -> None:
    """A sealed line changed, deleted, swapped with its neighbour or written twice."""
    spans, by_seq = cases.basic.spans, cases.basic.by_seq
    _, seg2, _ = cases.basic.segments
    d = cases.from_basic("record-hash-flipped-byte")
    target = records_of(spans, 5)[0]  # completion of intent 4, in segment 2
    assert target["segment"] == seg2
    replace_in_line(d, target, b'"duration_ms":168', b'"duration_ms":169')
    expect(
        d,
        target["segment"],
        target["offset"],
        None,
        error="record.hash",
        sole=True,
        note="one byte of a sealed completion changed",
    )

    d = cases.from_basic("chain-deleted-line")
    target = records_of(spans, 7)[1]  # completion of intent 6
    assert target["segment"] == seg2
    edit(seg_path(d, seg2), lambda b: b[: target["offset"]] + b[target["offset"] + target["length"] :])
    nxt = by_seq[target["seq"] + 1]
    expect(
        d,
        seg2,
        target["offset"],
        nxt["seq"],
        error="chain.seq",
        sole=True,
        note="a sealed completion line deleted; the next record's seq and prev no longer link (only chain.seq: "
        "prev is judged only when seq is right)",
    )

    d = cases.from_basic("chain-swapped-lines")
    a, b = records_of(spans, 4)[0], records_of(spans, 4)[1]  # intents 4 and 5
    assert a["segment"] == b["segment"] == seg2 and a["offset"] + a["length"] == b["offset"]

    def swap(data):
        la = data[a["offset"] : a["offset"] + a["length"]]
        lb = data[b["offset"] : b["offset"] + b["length"]]
        return data[: a["offset"]] + lb + la + data[b["offset"] + b["length"] :]

    edit(seg_path(d, seg2), swap)
    expect(
        d,
        seg2,
        a["offset"],
        b["seq"],
        error="chain.seq",
        sole=False,
        note="two adjacent intent lines swapped",
    )

    d = cases.from_basic("chain-duplicated-line")
    target = records_of(spans, 6)[0]  # intent 7

    def dup(data):
        end = target["offset"] + target["length"]
        return data[:end] + data[target["offset"] : end] + data[end:]

    edit(seg_path(d, target["segment"]), dup)
    expect(
        d,
        target["segment"],
        target["offset"] + target["length"],
        target["seq"],
        error="chain.seq",
        sole=False,
        note="an intent line written twice",
    )


def write_tail_defects(cases: InvalidCases) -> None:
    """The last segment cut, unsealed or zeroed at its end, or corrupted before valid records."""
    spans = cases.basic.spans
    _, _, seg3 = cases.basic.segments
    last_commit = spans[-1][_commit_start(spans[-1]) :]  # final commit: completions 11, 12 + seal
    assert [e["kind"] for e in last_commit] == ["completion", "completion", "seal"]
    assert all(e["segment"] == seg3 for e in last_commit)

    seal = last_commit[-1]
    d = cases.from_basic("tail-torn-truncated")
    edit(seg_path(d, seg3), lambda b: b[: seal["offset"] + seal["length"] // 2])
    expect(
        d,
        last_commit[0],
        error="tail.torn",
        sole=True,
        note="last segment cut in the middle of its final seal: complete records + a partial line after the "
        "last valid seal; located at the start of the tail (the recovery cut point)",
    )

    d = cases.from_basic("tail-torn-partial-record")
    first = last_commit[0]
    edit(seg_path(d, seg3), lambda b: b[: first["offset"] + 40])
    expect(
        d,
        seg3,
        first["offset"],
        None,
        error="tail.torn",
        sole=True,
        note="last segment cut 40 bytes into the first record after the last seal",
    )

    d = cases.from_basic("tail-unsealed")
    edit(seg_path(d, seg3), lambda b: b[: seal["offset"]])
    expect(
        d,
        last_commit[0],
        error="tail.unsealed",
        sole=True,
        note="the final seal removed: two complete, valid records after the last seal",
    )

    d = cases.from_basic("tail-torn-zero-filled")
    start = last_commit[0]["offset"]
    edit(seg_path(d, seg3), lambda b: b[:start] + bytes(len(b) - start))
    expect(
        d,
        seg3,
        start,
        None,
        error="tail.torn",
        sole=True,
        note="the bytes of the final commit (records and seal) replaced by zero bytes",
    )

    d = cases.from_basic("corrupt-mid-last-segment")
    target = records_of(spans, 11)[0]  # completion of intent 9, followed by sealed records
    assert target["segment"] == seg3
    replace_in_line(d, target, b'"status":"refused"', b'"status":"refusex"')
    expect(
        d,
        target["segment"],
        target["offset"],
        None,
        error="record.hash",
        sole=True,
        note="byte changed in the middle of the last segment, valid sealed records follow: corruption, not a tail",
    )

    d = cases.from_basic("corrupt-tail-followed-by-valid")
    edit(seg_path(d, seg3), lambda b: b[: seal["offset"]])
    replace_in_line(d, last_commit[0], b'"status":"succeeded"', b'"status":"succeedex"')
    expect(
        d,
        last_commit[0]["segment"],
        last_commit[0]["offset"],
        None,
        error="record.hash",
        sole=True,
        note="final seal removed and the first record after the last seal corrupted; the next line has a "
        "valid own hash, so this is corruption, not a torn tail (and no tail error is reported)",
    )


def write_segment_file_defects(cases: InvalidCases, out) -> None:
    """A segment file deleted, renamed, present twice, or taken from another log."""
    journal, by_seq = cases.basic.journal, cases.basic.by_seq
    _, seg2, seg3 = cases.basic.segments
    d = cases.from_basic("segment-missing-middle")
    os.remove(os.path.join(d, "archive", seg2))
    expect(
        d,
        seg3,
        0,
        by_seq[int(seg3[13:29])]["seq"],
        error="chain.segment",
        sole=False,
        note="archive/ segment 2 deleted: segment numbers 1, 3",
    )

    d = cases.from_basic("segment-name-mismatch")
    first_seq = int(seg3[13:29])
    bad_name = ref.segment_name(3, first_seq + 1)
    os.rename(os.path.join(d, seg3), os.path.join(d, bad_name))
    expect(
        d,
        bad_name,
        0,
        first_seq,
        error="chain.segment",
        sole=True,
        note="the live segment renamed so its file name's first seq disagrees with its header",
    )

    d = cases.from_basic("segment-duplicate-number")
    shutil.copyfile(os.path.join(d, "archive", seg2), os.path.join(d, seg2))
    expect(
        d,
        seg2,
        0,
        None,
        error="chain.segment",
        sole=True,
        note="segment 2 present both in archive/ and in the log directory (the archive/ copy is read)",
    )

    d = cases.from_basic("segment-duplicate-number-same-dir")
    twin = ref.segment_name(3, int(seg3[13:29]) + 1)
    shutil.copyfile(os.path.join(d, seg3), os.path.join(d, twin))
    expect(
        d,
        twin,
        0,
        None,
        error="chain.segment",
        sole=True,
        note="a copy of segment 3 next to it in the log directory, named with a higher first seq: of two "
        "files with one number in one directory the lower name is read, the other is the repeat",
    )

    d = cases.from_basic("segment-duplicate-last-number")
    seal = cases.basic.spans[-1][-1]
    edit(seg_path(d, seg3), lambda b: b[: seal["offset"]])  # unsealed records at the end
    shutil.copyfile(os.path.join(d, seg3), os.path.join(d, "archive", seg3))
    expect(
        d,
        seg3,
        0,
        None,
        error="chain.segment",
        sole=False,
        note="the last segment, its final seal cut off, present in archive/ and in the log directory: the "
        "archive/ copy is read and is the last segment (so its tail is tail.unsealed), the other is a repeat",
    )

    other = os.path.join(out, "_other")
    other_journal, _ = build_basic(other, log_id=OTHER_LOG_ID)
    assert [(e["segment"], e["offset"]) for e in other_journal] == [(e["segment"], e["offset"]) for e in journal]
    d = cases.from_basic("segment-from-other-log")
    shutil.copyfile(os.path.join(other, "archive", seg2), os.path.join(d, "archive", seg2))
    shutil.rmtree(other)
    expect(
        d,
        seg2,
        0,
        int(seg2[13:29]),
        error="chain.prev",
        sole=False,
        note="segment 2 replaced by segment 2 of another log (same key, other log_id, same layout)",
    )
