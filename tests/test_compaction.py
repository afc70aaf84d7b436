"""`kfm-wal compact`: plan, apply, the compacted log validates and opens, blobs collected, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import kfm_wal
from clitools import assert_one_error_line, run
from compacttools import build, segment_names
from kfm_wal import Wal, compaction
from kfm_wal.compaction import seal_list
from kfm_wal.ops.blobs import BlobStore
from waltools import make_entry


def _cut_seq(log: Path, segment: int) -> int:
    """The first seq of segment `segment`: a --before that compacts every segment before it."""
    from kfm_wal import _core

    return next(first for n, first, _, _ in _core.segments(log) if n == segment)


def test_plan_changes_nothing_and_lists_segments_and_blobs(tmp_path):
    log, _, info = build(tmp_path)
    before = sorted(p.name for p in log.rglob("*"))
    result = run("compact", log, "--before", _cut_seq(log, 3), "--json")
    assert result.exit_code == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["segments"] == segment_names(log)[:2]
    assert plan["cut"]["segment"] == 2 and plan["range"]["first_seq"] == 1
    assert info["orphan_blob"] in plan["blobs"] and info["early_blob"] in plan["blobs"]
    assert info["late_blob"] not in plan["blobs"]
    assert sorted(p.name for p in log.rglob("*")) == before


def test_apply_moves_segments_and_validates_from_the_checkpoint(tmp_path):
    log, key, info = build(tmp_path)
    names = segment_names(log)
    cut = _cut_seq(log, 4)
    result = run("compact", log, "--before", cut, "--apply", "--json")
    assert result.exit_code == 0, result.stderr
    done = json.loads(result.stdout)["applied"]
    assert done["moved"] == names[:3]
    assert sorted(p.name for p in (log / "cold").iterdir()) == names[:3]
    assert segment_names(log)[0] == names[3]
    report = kfm_wal.verify(log)
    assert report.ok, report.findings
    # pending at the cut and never completed: still pending; completed after the cut: paired
    assert report.pending == len(info["pending"])
    store = BlobStore.for_log(log)
    assert not store.has(info["orphan_blob"]) and not store.has(info["early_blob"])
    assert store.has(info["late_blob"])
    # the cold segments are the log's history byte for byte: put back, the whole log validates
    assert run("validate", log).exit_code == 0
    with Wal.open(log, key) as wal:  # opens after compaction, and appends
        r = wal.append(_entry())
        wal.complete(info["pending"][0], "succeeded")  # pending at the cut: still completable
        wal.complete(r.wal_id, "succeeded")
    assert kfm_wal.verify(log).ok


def _entry() -> dict:
    from waltools import make_entry

    return make_entry(999)


def test_compacting_twice_carries_the_seals_over(tmp_path):
    log, _, _ = build(tmp_path, operations=240)
    seals_before = {r.seq: r.hash for r in kfm_wal.records(log, kind="seal")}
    assert run("compact", log, "--before", _cut_seq(log, 3), "--apply").exit_code == 0
    assert run("compact", log, "--before", _cut_seq(log, 5), "--apply", "--drop").exit_code == 0
    assert kfm_wal.verify(log).ok
    last = compaction.checkpoints(log)[-1]
    assert last.first_seq == 1
    listed = {int(s): h for s, h in seal_list.load(log, last.payload["seals"])}
    assert listed == {s: h for s, h in seals_before.items() if s <= last.cut_seq}
    # a receipt taken before both compactions still proves continuity through the seal list
    first_seal = min(listed)
    assert compaction.receipt_continuity(log, first_seal, seals_before[first_seal]).holds is True
    forged = "sha256:" + "0" * 64
    assert compaction.receipt_continuity(log, first_seal, forged).holds is False


def test_drop_deletes_the_segments(tmp_path):
    log, _, _ = build(tmp_path)
    assert run("compact", log, "--before", _cut_seq(log, 3), "--apply", "--drop").exit_code == 0
    assert not (log / "cold").exists()
    assert kfm_wal.verify(log).ok


def test_with_a_snapshot_the_checkpoint_carries_its_digests(tmp_path):
    log, _, _ = build(tmp_path)
    assert run("snapshot", "create", log, "mid").exit_code == 0
    with Wal.open(log, kfm_wal.keys.load(tmp_path / "keys" / "writer.pem")) as wal:  # the log goes on
        for i in range(30):
            wal.append(make_entry(1000 + i))
    result = run("compact", log, "--before", "mid", "--json")
    assert result.exit_code == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["snapshot"]["name"] == "mid" and plan["roots"]
    snap = json.loads(run("snapshot", "show", log, "mid", "--json").stdout)
    assert plan["roots"] == snap["roots"] and plan["cut"]["seq"] <= snap["at"]["seq"]


def test_bad_input_one_line_exit_2_nothing_changed(tmp_path):
    log, _, _ = build(tmp_path)
    before = {p: p.read_bytes() for p in log.rglob("*") if p.is_file()}
    live_first = _cut_seq(log, len(segment_names(log)))
    cases = [
        (("--before", "no-such-snapshot"), "no snapshot named"),
        (("--before", str(live_first + 2)), "inside the live segment"),
        (("--before", "2"), "nothing to compact"),
        ((), "--before"),
    ]
    for args, fragment in cases:
        assert_one_error_line(run("compact", log, *args, "--apply"), fragment)
    assert {p: p.read_bytes() for p in log.rglob("*") if p.is_file()} == before


def test_an_invalid_log_is_refused(tmp_path):
    log, _, _ = build(tmp_path)
    first = sorted((log / "archive").iterdir())[0]
    data = bytearray(first.read_bytes())
    data[300] ^= 1
    first.write_bytes(bytes(data))
    before = {p: p.read_bytes() for p in log.rglob("*") if p.is_file()}
    line = assert_one_error_line(run("compact", log, "--before", _cut_seq(log, 3), "--apply"), "fails validation")
    assert first.name in line
    assert {p: p.read_bytes() for p in log.rglob("*") if p.is_file()} == before


def test_rollback_and_replay_stop_at_the_compaction_point(tmp_path):
    log, _, _ = build(tmp_path)
    assert run("compact", log, "--before", _cut_seq(log, 3), "--apply").exit_code == 0
    point = compaction.compaction_point(log)
    assert point is not None
    assert_one_error_line(run("rollback", log, "--to", "5"), "past the compaction point", f"seq {point.last_seq}")
    sandbox = tmp_path / "sandbox"
    line = assert_one_error_line(run("replay", log, "--into", sandbox), "compacted", f"--from {point.cut_seq + 1}")
    assert "replay cannot go past it" in line
    assert not sandbox.exists() or not any(sandbox.iterdir())


def test_a_receipt_taken_before_compaction_still_proves_continuity(tmp_path):
    log, _, _ = build(tmp_path)
    receipt = tmp_path / "receipt.json"
    assert run("validate", log, "--receipt", receipt).exit_code == 0
    old = json.loads(receipt.read_text())
    with Wal.open(log, kfm_wal.keys.load(tmp_path / "keys" / "writer.pem")) as wal:  # the log goes on
        wal.append(_entry())
    live_first = _cut_seq(log, len(segment_names(log)))
    done = run("compact", log, "--before", live_first, "--apply")
    assert done.exit_code == 0, done.stderr
    assert old["segment"] not in segment_names(log)  # the segment it vouches for is gone
    result = run("validate", log, "--receipt", receipt, "--json")
    assert result.exit_code == 0, result.stdout
    # a receipt of another history (its seal listed with another hash) is a fork
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({**old, "hash": "sha256:" + "1" * 64}))
    result = run("validate", log, "--receipt", forged, "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["findings"][0]["code"] == "receipt.mismatch"


def test_compressed_segments_move_as_they_are(tmp_path):
    log, _, _ = build(tmp_path, compression="zstd")
    zst = [n for n in segment_names(log) if n.endswith(".zst")][:2]
    assert len(zst) == 2
    assert run("compact", log, "--before", _cut_seq(log, 3), "--apply").exit_code == 0
    assert sorted(p.name for p in (log / "cold").iterdir()) == zst
    assert kfm_wal.verify(log).ok


def test_the_verifier_spells_the_checkpoint_format_as_compaction_does() -> None:
    """report.py looks for checkpoints without importing the compaction package (a plain install
    lacks the operation layers it needs): its spelling of the format must be compaction's."""
    from kfm_wal import report
    from kfm_wal.compaction import record

    assert report._CHECKPOINT_FORMAT == record.FORMAT.encode()
