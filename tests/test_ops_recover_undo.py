"""Undo and recovery of mixed operations over several roots: files under the data root and the
STAC root, graph triples and custom values in one operation are undone by one rollback (each
part on its own root), the rollback undone in turn, and an interrupted rollback recovered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kfm_wal import Wal, replay
from kfm_wal.ops import Write, durable, graph, prepare, recover, run, stac, undo
from stactools import collection, item
from test_ops_support import META, UNDO_META, assert_valid, snapshot

TRIPLE = "<http://example.org/ks> <http://example.org/cap> <http://example.org/topeka>"


@pytest.fixture
def roots(wal: Wal, tmp_path: Path) -> dict[str, Any]:
    where = {"root": tmp_path / "data", "stac_root": tmp_path / "stac", "graph": graph.GraphStore.open(tmp_path / "g")}
    run(wal, [stac.CreateCollection(collection()), Write("old.csv", b"1")], **META, **where)
    return where


def _world(roots: dict[str, Any]) -> tuple[dict[str, bytes], dict[str, bytes], set[str]]:
    return snapshot(roots["root"]), snapshot(roots["stac_root"]), roots["graph"].triples()


def _two_roots() -> list[Any]:
    return [Write("a.csv", b"x"), stac.CreateItem(item("ks")), Write("old.csv", b"2"), graph.Insert([TRIPLE])]


def test_a_mixed_operation_over_two_roots_is_undone_and_redone(wal: Wal, roots: dict[str, Any], tmp_path: Path) -> None:
    before = _world(roots)
    done = run(wal, _two_roots(), **META, **roots)
    after = _world(roots)
    rollback = undo(wal, done.wal_id, **UNDO_META)
    assert rollback.status == "succeeded" and _world(roots) == before
    parts = wal.intent(rollback.wal_id).body["payload"]["parts"]  # type: ignore[union-attr]
    assert sorted(p["kind"] for p in parts) == ["file", "graph", "stac"]
    assert undo(wal, rollback.wal_id, **UNDO_META).status == "succeeded" and _world(roots) == after
    assert_valid(wal)
    assert replay.replay(wal.path, tmp_path / "box").ok


def test_a_mixed_operation_with_several_files_in_one_part_is_undone(wal: Wal, roots: dict[str, Any]) -> None:
    before = _world(roots)
    done = run(wal, [Write("a.csv", b"x"), Write("b.csv", b"y"), graph.Insert([TRIPLE])], **META, **roots)
    assert undo(wal, done.wal_id, **UNDO_META).status == "succeeded" and _world(roots) == before


@pytest.mark.parametrize("ran", ["some", "all"])
def test_an_interrupted_rollback_over_two_roots_is_recovered(wal: Wal, roots: dict[str, Any], ran: str) -> None:
    import importlib

    undo_module = importlib.import_module("kfm_wal.ops.undo")
    before = _world(roots)
    done = run(wal, _two_roots(), **META, **roots)
    after = _world(roots)
    died: list[Any] = []

    def record_only(wal_: Wal, prepared: Any) -> Any:  # the rollback's intent lands; then the crash
        n = len(prepared.plan.order)
        with durable.deferred_dir_sync():
            for k in range(1 if ran == "some" else n):
                prepared.plan.execute(k)
        died.append(prepared)
        return None

    with pytest.MonkeyPatch.context() as m:
        m.setattr(undo_module, "execute", record_only)
        undo(wal, done.wal_id, **UNDO_META)
    [settled] = recover(wal)
    assert settled.wal_id == died[0].wal_id
    if ran == "some":
        assert settled.status == "reversed" and _world(roots) == after
    else:
        assert settled.status == "succeeded" and _world(roots) == before  # the rollback had finished
    assert_valid(wal)


def test_recovery_of_a_two_root_operation_restores_both_roots(wal: Wal, roots: dict[str, Any]) -> None:
    before = _world(roots)
    p = prepare(wal, _two_roots(), **META, **roots)
    with durable.deferred_dir_sync():
        for k in range(len(p.plan.order) - 1):
            p.plan.execute(k)
    [settled] = recover(wal)
    assert settled.status == "reversed" and settled.kinds == ["file", "stac", "graph"] and _world(roots) == before
