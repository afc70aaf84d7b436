"""Graph writes (pyoxigraph) through kfm_wal.ops: exact undo, atomic actions, mid-way reversal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest
from kfm_wal import Wal
from kfm_wal.ops import MIXED_FORMAT, OperationFailedError, PlanError, StateChangedError, Write, run, undo
from kfm_wal.ops import graph as g
from kfm_wal.ops.digests import state_hash
from test_ops_support import META, UNDO_META, assert_valid, count, snapshot

EX = "http://example.org/"


def t(s: str, p: str, o: str) -> str:
    return f"<{EX}{s}> <{EX}{p}> <{EX}{o}>"


@pytest.fixture
def store(tmp_path: Path) -> g.GraphStore:
    s = g.GraphStore.open(tmp_path / "data" / "graph")
    s.update([], [t("ks", "name", "kansas"), t("ks", "in", "us")])
    return s


def test_insert_delete_then_undo_restores_the_exact_triple_set(wal: Wal, store: g.GraphStore) -> None:
    before = store.triples()
    lit = ox.Triple(ox.NamedNode(EX + "ks"), ox.NamedNode(EX + "label"), ox.Literal("Kansas", language="en"))
    result = run(
        wal,
        [g.Insert([t("ks", "cap", "topeka"), lit, t("ks", "name", "kansas")]), g.Delete([t("ks", "in", "us")])],
        graph=store,
        **META,
    )
    assert result.status == "succeeded" and result.post_state_hash == result.post_state_expected
    after = store.triples()
    assert after == before - {t("ks", "in", "us")} | {t("ks", "cap", "topeka"), str(lit)}
    intent = wal.intent(result.wal_id)
    assert intent is not None
    body = intent.body
    assert body["payload"]["format"] == MIXED_FORMAT
    assert body["payload"]["parts"] == [{"kind": "graph", "store": str(store.path)}]
    assert body["payload"]["actions"][1] == {"type": "graph.delete", "triples": [t("ks", "in", "us")], "part": 0}
    # the state hash: the affected triples, sorted N-Triples, present/absent
    prefix = f"graph:{store.path}:"
    keys = sorted([t("ks", "cap", "topeka"), str(lit), t("ks", "name", "kansas"), t("ks", "in", "us")])
    pre = {prefix + k: ("present" if k in before else "absent") for k in keys}
    assert result.pre_state_hash == state_hash(pre)
    # the reversal deletes what was absent before, (re-)inserts what was present
    assert body["reversal"]["steps"] == [
        {"type": "graph.delete", "triples": sorted([t("ks", "cap", "topeka"), str(lit)]), "part": 0},
        {"type": "graph.insert", "triples": sorted([t("ks", "in", "us"), t("ks", "name", "kansas")]), "part": 0},
    ]
    rollback = undo(wal, result.wal_id, **UNDO_META)
    assert rollback.post_state_hash == result.pre_state_hash
    assert store.triples() == before
    redo = undo(wal, rollback.wal_id, **UNDO_META)
    assert redo.status == "succeeded" and store.triples() == after
    assert_valid(wal)


def test_undo_refused_when_the_graph_changed(wal: Wal, store: g.GraphStore) -> None:
    result = run(wal, [g.Insert([t("a", "b", "c")])], graph=store, **META)
    store.update([t("a", "b", "c")], [])
    n = count(wal)
    with pytest.raises(StateChangedError, match="state changed since the operation"):
        undo(wal, result.wal_id, **UNDO_META)
    assert count(wal) == n


def test_failure_mid_way_is_reversed(wal: Wal, store: g.GraphStore, monkeypatch: pytest.MonkeyPatch) -> None:
    before = store.triples()
    real = g.GraphStore.update
    calls: list[int] = []

    def fail_second(self: g.GraphStore, delete: Any, insert: Any) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise OSError("injected store failure")
        real(self, delete, insert)

    monkeypatch.setattr(g.GraphStore, "update", fail_second)
    with pytest.raises(OperationFailedError, match="action 1 .graph.delete. failed") as info:
        run(wal, [g.Insert([t("x", "y", "z")]), g.Delete([t("ks", "name", "kansas")])], graph=store, **META)
    result = info.value.result
    assert result is not None and result.status == "reversed"
    assert result.post_state_hash == result.pre_state_hash
    assert store.triples() == before
    assert_valid(wal)


def test_one_operation_mixes_files_and_graph(wal: Wal, store: g.GraphStore, tmp_path: Path) -> None:
    root = tmp_path / "data" / "processed"
    before = store.triples()
    result = run(wal, [Write("ks.csv", b"id\n1\n"), g.Insert([t("ks", "file", "csv")])], root=root, graph=store, **META)
    assert (root / "ks.csv").read_bytes() == b"id\n1\n" and t("ks", "file", "csv") in store.triples()
    undo(wal, result.wal_id, **UNDO_META)
    assert snapshot(root) == {} and store.triples() == before
    assert_valid(wal)


def test_blank_nodes_and_bad_triples_are_refused(wal: Wal, store: g.GraphStore) -> None:
    n = count(wal)
    with pytest.raises(PlanError, match="blank nodes"):
        run(wal, [g.Insert([f"_:b <{EX}p> <{EX}o>"])], graph=store, **META)
    with pytest.raises(PlanError, match="no triples"):
        run(wal, [g.Insert([])], graph=store, **META)
    assert count(wal) == n
