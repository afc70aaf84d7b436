"""kfm_wal.replay: re-executing the log into a sandbox reproduces the real roots, every kind and
status replays as what it did, the range is a seq or a wal_id, a mismatch halts with where."""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from kfm_wal import Wal, replay
from kfm_wal.ops import (
    Custom,
    Delete,
    Move,
    OperationFailedError,
    StateChangedError,
    Write,
    execute,
    graph,
    prepare,
    register_action,
    run,
    stac,
    undo,
    unregister_action,
)
from kfm_wal.ops.digests import state_hash
from replaytools import META, UNDO_META, Roots, sandbox_digests, triple
from stactools import collection, item


@pytest.fixture
def roots(tmp_path: Path) -> Roots:
    return Roots(tmp_path)


INDEX: dict[str, str] = {}


def _state(p: Mapping[str, Any]) -> dict[str, str]:
    return {p["key"]: INDEX.get(p["key"], "absent")}


def _expect(p: Mapping[str, Any]) -> dict[str, str]:
    return {p["key"]: p["value"]}


def _put(p: Mapping[str, Any]) -> None:
    INDEX[p["key"]] = p["value"]


def _remove(p: Mapping[str, Any]) -> None:
    INDEX.pop(p["key"], None)


def _boom(p: Mapping[str, Any]) -> None:
    raise RuntimeError("the index is down")


@pytest.fixture
def actions() -> Iterator[None]:
    INDEX.clear()
    register_action("index_put", execute=_put, state=_state, expect=_expect, reverse=_remove)
    register_action("explode", execute=_boom, state=lambda p: {}, expect=lambda p: {}, reverse=lambda p: None)
    yield
    unregister_action("index_put")
    unregister_action("explode")


def _history(wal: Wal, roots: Roots) -> list[str]:
    """Files, STAC, graph, a mixed operation, a move, a delete, an undo, a reversed and a refused
    operation; returns the wal_ids in order."""
    where = roots.where()
    ids = [run(wal, [Write("a.csv", b"a,1\n"), Write("big/b.bin", bytes(range(256)) * 40)], **where, **META).wal_id]
    ids.append(run(wal, [stac.CreateCollection(collection()), stac.CreateItem(item("ks-1"))], **where, **META).wal_id)
    ids.append(run(wal, [graph.Insert([triple(1), triple(2)]), Write("g.txt", b"g")], **where, **META).wal_id)
    ids.append(
        run(wal, [Move("a.csv", "moved/a.csv"), stac.UpdateItem(item("ks-1", name="renamed"))], **where, **META).wal_id
    )
    ids.append(run(wal, [graph.Delete([triple(1)]), Delete("g.txt")], **where, **META).wal_id)
    ids.append(undo(wal, ids[-1], **UNDO_META).wal_id)
    with pytest.raises(OperationFailedError):
        run(wal, [Write("c.txt", b"c"), Custom("explode", {})], **where, **META)
    first = prepare(wal, [Write("d.txt", b"one")], **where, **META)
    second = prepare(wal, [Write("d.txt", b"two")], **where, **META)
    execute(wal, first)
    with pytest.raises(StateChangedError):
        execute(wal, second)
    ids += [first.wal_id, second.wal_id]
    ids.append(run(wal, [Custom("index_put", {"key": "k", "value": "v1"})], **where, **META).wal_id)
    return ids


def test_replay_reproduces_every_root_and_status(roots: Roots, actions: None, tmp_path: Path) -> None:
    with roots.open() as wal:
        _history(wal, roots)
    real = roots.digests()
    INDEX.clear()  # the custom action's world starts empty again, as the sandbox does
    report = replay.replay(roots.log, tmp_path / "box")
    assert report.ok and report.halted is None, report.to_dict()
    assert report.replayed == {"succeeded": 8, "reversed": 1, "refused": 1}
    assert sandbox_digests(report) == real
    assert sorted(r["dir"] for r in report.roots) == ["graph", "processed", "stac"]
    assert (tmp_path / "box" / "processed" / "moved" / "a.csv").read_bytes() == b"a,1\n"
    assert INDEX == {"k": "v1"}
    INDEX.clear()
    checked = replay.check(roots.log)
    assert checked.ok and checked.checked and checked.divergence is None


def test_check_names_the_first_divergent_target(roots: Roots, actions: None) -> None:
    with roots.open() as wal:
        _history(wal, roots)
    (roots.data / "big" / "b.bin").write_bytes(b"changed behind the log's back")
    INDEX.clear()
    report = replay.check(roots.log)
    assert not report.ok and report.halted is None
    d = report.divergence
    assert d is not None and d.kind == "file" and d.root == str(roots.data.resolve()) and d.target == "big/b.bin"
    assert d.actual_state == "sha256:" + __import__("hashlib").sha256(b"changed behind the log's back").hexdigest()


def test_to_and_from_take_a_seq_or_a_wal_id_and_resume(roots: Roots, actions: None, tmp_path: Path) -> None:
    states = []
    with roots.open() as wal:
        for i in range(4):
            r = run(wal, [Write(f"f{i}.txt", b"%d" % i), graph.Insert([triple(i)])], **roots.where(), **META)
            states.append((r.wal_id, r.completion.seq, roots.digests()))
    for wal_id, seq, digests in states:
        for n, at in enumerate((wal_id, seq, str(seq))):
            out = tmp_path / f"co-{wal_id}-{n}"
            report = replay.checkout(roots.log, at, out)
            assert report.ok and report.last_seq == seq
            got = sandbox_digests(report)
            assert got == {k: v for k, v in digests.items() if k in got}
    first = replay.replay(roots.log, tmp_path / "box", end=states[1][0])
    assert first.operations == 2
    rest = replay.replay(roots.log, tmp_path / "box", start=states[2][0])
    assert rest.ok and rest.operations == 2
    assert sandbox_digests(rest) == {k: v for k, v in states[-1][2].items() if k in sandbox_digests(rest)}
    # --from into an empty sandbox: a slice that touches only new files and triples stands alone
    alone = replay.replay(roots.log, tmp_path / "alone", start=states[2][0])
    assert alone.ok and alone.operations == 2
    with pytest.raises(replay.ReplayError, match="comes after"):
        replay.replay(roots.log, tmp_path / "x", start=states[3][0], end=states[0][0])


def test_a_change_outside_the_log_halts_with_the_operation_and_target(roots: Roots, tmp_path: Path) -> None:
    with roots.open() as wal:
        run(wal, [Write("a.txt", b"logged")], **roots.where(), **META)
        (roots.data / "a.txt").write_bytes(b"not logged")
        second = run(wal, [Write("a.txt", b"next"), Write("b.txt", b"b")], **roots.where(), **META)
        run(wal, [Write("c.txt", b"c")], **roots.where(), **META)
    box = tmp_path / "box"
    report = replay.replay(roots.log, box)
    m = report.halted
    assert m is not None and not report.ok and not box.exists() and not report.kept
    assert (m.wal_id, m.stage, m.target, m.operation) == (second.wal_id, "pre", "a.txt", "etl_step")
    assert m.expected == second.pre_state_hash and m.actual != m.expected
    assert m.seq == second.intent.seq and m.actual_state is not None and m.expected_state is not None
    assert "seq" in m.message() and second.wal_id in m.message()
    kept = replay.replay(roots.log, box, until_failure=True)
    assert kept.halted == m and kept.kept and (box / "processed" / "a.txt").read_bytes() == b"logged"
    assert not (box / "processed" / "b.txt").exists()


def test_pending_is_reported_not_executed_and_failed_replays_its_prefix(roots: Roots, tmp_path: Path) -> None:
    with roots.open() as wal:
        pending = prepare(wal, [Write("p.txt", b"p")], **roots.where(), **META)
        failed = prepare(wal, [Write("x.txt", b"x"), Write("y.txt", b"y")], **roots.where(), **META)
        (roots.data / "x.txt").write_bytes(b"x")  # the first action ran, then the process lost the disk
        observed = state_hash({"x.txt": failed.entry["payload"]["actions"][0]["blob"], "y.txt": "absent"})
        wal.complete(failed.wal_id, "failed", post_state_hash=observed, error="disk gone")
    report = replay.replay(roots.log, tmp_path / "box")
    assert report.ok and report.replayed == {"failed": 1}
    assert [p["wal_id"] for p in report.pending] == [pending.wal_id]
    assert sorted(p.name for p in (tmp_path / "box" / "processed").iterdir()) == ["x.txt"]


def test_inline_contents_are_replayed_from_the_intent(roots: Roots, tmp_path: Path) -> None:
    with roots.open() as wal:
        r = run(wal, [Write("small.txt", b"tiny")], **roots.where(), **META)
        inline = wal.intent(r.wal_id).body["payload"]["inline"]
    assert list(inline.values()) == [base64.b64encode(b"tiny").decode()]
    assert not (roots.log / "blobs").exists() or not any((roots.log / "blobs").rglob("*"))
    (roots.data / "small.txt").write_bytes(b"changed since")  # replay never reads the real file
    report = replay.replay(roots.log, tmp_path / "box")
    assert report.ok and (tmp_path / "box" / "processed" / "small.txt").read_bytes() == b"tiny"


def test_intents_not_recorded_by_ops_are_skipped_and_reported(roots: Roots, tmp_path: Path) -> None:
    with roots.open() as wal:
        run(wal, [Write("a.txt", b"a")], **roots.where(), **META)
        other = wal.append(
            {
                **{k: META[k] for k in ("actor", "tier", "governance", "telemetry")},
                "operation": "etl_step",
                "pre_state_hash": "sha256:" + "0" * 64,
                "post_state_expected": "sha256:" + "1" * 64,
                "payload": {"actions": [{"type": "file.write", "path": "elsewhere.csv"}]},
                "reversal": {"steps": [{"type": "file.delete", "path": "elsewhere.csv"}]},
                "lineage_links": [],
            }
        )
        wal.complete(other.wal_id, "succeeded")
        run(wal, [Write("b.txt", b"b")], **roots.where(), **META)
    report = replay.replay(roots.log, tmp_path / "box")
    assert report.ok and report.replayed == {"succeeded": 2}
    assert [s["wal_id"] for s in report.skipped] == [other.wal_id]
    assert report.to_dict()["skipped"][0]["seq"] == other.seq
