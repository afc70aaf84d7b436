"""Replay refuses what it cannot do faithfully, with one clear error and nothing half-done: a blob
missing or corrupt (named, with the operation), a log that fails validation (or, with quarantine,
the damage set aside and what comes before it replayed), a custom action not registered. The log
stays valid and the real roots are untouched."""

from __future__ import annotations

import os
from pathlib import Path

import kfm_wal
import orjson
import pytest
from kfm_wal import replay
from kfm_wal.ops import Custom, Write, graph, register_action, run, unregister_action
from replaytools import META, Roots, triple

BIG = bytes(range(256)) * 40  # 10 KiB: stored as a blob, not inline


@pytest.fixture
def roots(tmp_path: Path) -> Roots:
    r = Roots(tmp_path)
    with r.open() as wal:
        run(wal, [Write("first.txt", b"1"), graph.Insert([triple(1)])], **r.where(), **META)
        run(wal, [Write("big.bin", BIG)], **r.where(), **META)
        run(wal, [Write("last.txt", b"3")], **r.where(), **META)
    return r


def _blob(roots: Roots) -> Path:
    (path,) = [p for p in (roots.log / "blobs").rglob("*") if p.is_file()]
    return path


def _unchanged(roots: Roots, before: dict[str, str], box: Path) -> None:
    assert roots.digests() == before
    assert kfm_wal.verify(roots.log).ok
    assert not box.exists()


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_a_blob_missing_or_corrupt_halts_naming_it_and_the_operation(roots: Roots, tmp_path: Path, damage: str) -> None:
    before = roots.digests()
    blob = _blob(roots)
    digest = "sha256:" + blob.parent.name + blob.name
    if damage == "missing":
        blob.unlink()
    else:
        os.chmod(blob, 0o644)
        blob.write_bytes(b"not the bytes the log names")
    box = tmp_path / "box"
    with pytest.raises(replay.ReplayError) as e:
        replay.replay(roots.log, box)
    message = str(e.value)
    (intent,) = [r for r in kfm_wal.records(roots.log, kind="intent") if "big.bin" in r.line.decode()]
    assert digest in message and intent.wal_id in message and "etl_step" in message
    assert ("missing" if damage == "missing" else "corrupt") in message and "nothing of it was executed" in message
    assert e.value.wal_id == intent.wal_id and e.value.seq == intent.seq
    _unchanged(roots, before, box)
    kept = tmp_path / "kept"
    with pytest.raises(replay.ReplayError):
        replay.replay(roots.log, kept, until_failure=True)
    assert sorted(p.name for p in (kept / "processed").iterdir()) == ["first.txt"]  # up to it, not into it


def _damage_intent(roots: Roots, name: str) -> int:
    """Change one byte of the intent that writes `name`; returns its seq."""
    (intent,) = [r for r in kfm_wal.records(roots.log, kind="intent") if name in r.line.decode()]
    seg = roots.log / intent.segment
    data = bytearray(seg.read_bytes())
    at = data.index(name.encode(), intent.offset)
    data[at] = ord("X")
    seg.write_bytes(bytes(data))
    return intent.seq


def test_a_log_that_fails_validation_is_refused_or_replayed_up_to_the_damage(roots: Roots, tmp_path: Path) -> None:
    before = roots.digests()
    seq = _damage_intent(roots, "last.txt")
    log_bytes = {p: p.read_bytes() for p in roots.log.rglob("*.jsonl")}
    box = tmp_path / "box"
    with pytest.raises(replay.ReplayError, match="fails validation.*record.hash.*--quarantine"):
        replay.replay(roots.log, box)
    assert not box.exists() and roots.digests() == before
    report = replay.replay(roots.log, box, quarantine=True)
    assert report.stopped_before == seq and not report.ok and report.halted is None
    assert report.replayed == {"succeeded": 2} and report.last_seq is not None and report.last_seq < seq
    assert sorted(p.name for p in (box / "processed").iterdir()) == ["big.bin", "first.txt"]
    quarantined = [Path(p) for p in report.quarantined]
    assert quarantined and all(p.parent.parent == roots.log / "quarantine" for p in quarantined)
    (doc,) = [orjson.loads(p.read_bytes()) for p in quarantined if p.suffix == ".json"]
    assert doc["findings"][0]["code"] == "record.hash" and doc["segment"] in report.damage
    assert any(p.suffix == ".bytes" for p in quarantined)
    assert {p: p.read_bytes() for p in roots.log.rglob("*.jsonl") if "quarantine" not in p.parts} == log_bytes
    assert roots.digests() == before


def test_a_custom_action_not_registered_is_named_and_nothing_is_replayed(tmp_path: Path) -> None:
    roots = Roots(tmp_path)
    store: dict[str, str] = {}
    register_action(
        "tag",
        execute=lambda p: store.update({p["k"]: "on"}),
        state=lambda p: {p["k"]: store.get(p["k"], "absent")},
        expect=lambda p: {p["k"]: "on"},
        reverse=lambda p: store.pop(p["k"], None),
    )
    try:
        with roots.open() as wal:
            run(wal, [Write("a.txt", b"a")], **roots.where(), **META)
            tagged = run(wal, [Custom("tag", {"k": "x"})], **roots.where(), **META)
    finally:
        unregister_action("tag")
    before = roots.digests()
    box = tmp_path / "box"
    with pytest.raises(replay.ReplayError, match="custom action 'tag'.*not registered.*register_action") as e:
        replay.replay(roots.log, box)
    assert e.value.wal_id == tagged.wal_id and tagged.wal_id in str(e.value)
    _unchanged(roots, before, box)


def test_a_sandbox_that_is_not_empty_is_refused(roots: Roots, tmp_path: Path) -> None:
    box = tmp_path / "box"
    box.mkdir()
    (box / "mine.txt").write_text("keep me")
    with pytest.raises(replay.ReplayError, match="not empty"):
        replay.replay(roots.log, box)
    with pytest.raises(replay.ReplayError, match="not empty"):
        replay.replay(roots.log, box, start=1)
    assert [p.name for p in box.iterdir()] == ["mine.txt"]


def test_a_sandbox_inside_a_real_root_or_the_log_is_refused(roots: Roots, tmp_path: Path) -> None:
    before = roots.digests()
    for inside in (roots.data / "box", roots.graph, roots.log / "box", tmp_path):
        with pytest.raises(replay.ReplayError, match="overlaps"):
            replay.replay(roots.log, inside)
    assert not (roots.data / "box").exists() and not (roots.log / "box").exists()
    assert roots.digests() == before


def test_from_must_come_after_what_the_sandbox_already_holds(roots: Roots, tmp_path: Path) -> None:
    box = tmp_path / "box"
    first = replay.replay(roots.log, box, end=8)
    assert first.ok and first.last_seq == 8
    with pytest.raises(replay.ReplayError, match="already holds the replay through seq 8"):
        replay.replay(roots.log, box, start=3)


def test_an_action_type_the_replayer_does_not_know_is_refused_before_anything_runs(
    roots: Roots, tmp_path: Path
) -> None:
    with roots.open() as wal:
        receipt = wal.append(
            {
                **{k: META[k] for k in ("actor", "tier", "governance", "telemetry")},
                "operation": "etl_step",
                "pre_state_hash": "sha256:" + "0" * 64,
                "post_state_expected": "sha256:" + "1" * 64,
                "payload": {
                    "format": "kfm-wal-ops/files-1",
                    "root": str(roots.data.resolve()),
                    "actions": [{"type": "file.chmod", "path": "first.txt", "mode": 420}],
                },
                "reversal": {"steps": [{"type": "file.delete", "path": "first.txt"}]},
                "lineage_links": [],
            }
        )
        wal.complete(receipt.wal_id, "succeeded")
    box = tmp_path / "box"
    with pytest.raises(replay.ReplayError, match="'file.chmod'.*nothing was replayed") as e:
        replay.replay(roots.log, box)
    assert e.value.wal_id == receipt.wal_id and not box.exists()


def test_an_action_that_fails_in_the_sandbox_is_one_error_naming_the_operation(tmp_path: Path) -> None:
    roots = Roots(tmp_path)
    calls: list[str] = []

    def once(p: object) -> None:
        calls.append("run")
        if len(calls) > 1:
            raise RuntimeError("the index is down")

    register_action("once", execute=once, state=lambda p: {}, expect=lambda p: {}, reverse=lambda p: None)
    try:
        with roots.open() as wal:
            run(wal, [Write("a.txt", b"a")], **roots.where(), **META)
            r = run(wal, [Custom("once", {})], **roots.where(), **META)
        box = tmp_path / "box"
        with pytest.raises(replay.ReplayError, match="replaying it failed: RuntimeError: the index is down") as e:
            replay.replay(roots.log, box)
        assert e.value.wal_id == r.wal_id and not box.exists()
    finally:
        unregister_action("once")
