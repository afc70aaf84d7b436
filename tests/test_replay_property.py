"""Property: any sequence of file, STAC and graph operations, failures, refusals and undos mixed
in, replayed into an empty sandbox reproduces exactly the real roots' final digests; and a replay
`--to` the completion of any operation reproduces the real roots' digests as they were right
then (the replay itself checks every operation's pre state, post_state_expected and observed
state on the way)."""

from __future__ import annotations

import gc
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kfm_wal import replay
from kfm_wal.ops import (
    Custom,
    Delete,
    Move,
    NotUndoableError,
    OperationFailedError,
    PlanError,
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
from kfm_wal.ops import root_state as rs
from replaytools import META, UNDO_META, Roots, close_graph, sandbox_digests, triple
from stactools import collection, item

# tmpfs when there is one: fsync is free there, and this test is about replay, not durability
SCRATCH = "/dev/shm" if Path("/dev/shm").is_dir() else None
PATHS = ["a.txt", "b.txt", "d/c.txt"]
CONTENTS = [b"one", b"two", bytes(range(256)) * 20]  # the last one (5 KiB) goes to the blob store

step = st.one_of(
    st.tuples(st.just("write"), st.integers(0, 2), st.integers(0, 2)),
    st.tuples(st.just("delete"), st.integers(0, 2)),
    st.tuples(st.just("move"), st.integers(0, 2), st.integers(0, 2)),
    st.tuples(st.just("stac"), st.integers(0, 1), st.booleans()),
    st.tuples(st.just("graph"), st.sets(st.integers(0, 3), min_size=1), st.booleans()),
    st.tuples(st.just("mixed"), st.integers(0, 2), st.integers(0, 2), st.integers(0, 3)),
    st.tuples(st.just("undo"), st.integers(0, 20)),
    st.tuples(st.just("explode"), st.integers(0, 2), st.integers(0, 2)),
    st.tuples(st.just("refused"), st.integers(0, 2), st.integers(0, 2), st.integers(0, 2)),
)


@pytest.fixture(autouse=True, scope="module")
def explode() -> Iterator[None]:
    def boom(p: Any) -> None:
        raise RuntimeError("boom")

    register_action("explode", execute=boom, state=lambda p: {}, expect=lambda p: {}, reverse=lambda p: None)
    yield
    unregister_action("explode")


def _stac_actions(roots: Roots, i: int, delete: bool) -> list[Any]:
    iid = f"ks-{i}"
    if not (roots.stac / "collections" / "counties" / "collection.json").exists():
        return [stac.CreateCollection(collection()), stac.CreateItem(item(iid))]
    if (roots.stac / stac.item_path("counties", iid)).exists():
        return [stac.DeleteItem("counties", iid)] if delete else [stac.UpdateItem(item(iid, name=f"n{len(iid)}x"))]
    return [stac.CreateItem(item(iid))]


def _apply(wal: Any, roots: Roots, s: tuple[Any, ...], done: list[str]) -> None:
    where = roots.where()
    kind = s[0]
    try:
        if kind == "write":
            r = run(wal, [Write(PATHS[s[1]], CONTENTS[s[2]])], **where, **META)
        elif kind == "delete":
            if not (roots.data / PATHS[s[1]]).exists():
                return
            r = run(wal, [Delete(PATHS[s[1]])], **where, **META)
        elif kind == "move":
            if s[1] == s[2] or not (roots.data / PATHS[s[1]]).exists():
                return
            r = run(wal, [Move(PATHS[s[1]], PATHS[s[2]])], **where, **META)
        elif kind == "stac":
            r = run(wal, _stac_actions(roots, s[1], s[2]), **where, **META)
        elif kind == "graph":
            triples = [triple(i) for i in sorted(s[1])]
            r = run(wal, [graph.Delete(triples) if s[2] else graph.Insert(triples)], **where, **META)
        elif kind == "mixed":
            r = run(wal, [Write(PATHS[s[1]], CONTENTS[s[2]]), graph.Insert([triple(s[3])])], **where, **META)
        elif kind == "undo":
            if not done:
                return
            r = undo(wal, done[s[1] % len(done)], **UNDO_META)
        elif kind == "explode":
            run(wal, [Write(PATHS[s[1]], CONTENTS[s[2]]), Custom("explode", {})], **where, **META)
            return
        else:
            first = prepare(wal, [Write(PATHS[s[1]], CONTENTS[s[2]])], **where, **META)
            second = prepare(wal, [Write(PATHS[s[1]], CONTENTS[s[3]])], **where, **META)
            done.append(execute(wal, first).wal_id)
            r = execute(wal, second)
    except (StateChangedError, NotUndoableError, OperationFailedError, PlanError):  # refused, or reversed
        return
    done.append(r.wal_id)


def _matches(report: replay.ReplayReport, real: dict[str, str]) -> None:
    assert report.ok, report.to_dict()
    got = sandbox_digests(report)
    assert got == {k: v for k, v in real.items() if k in got}
    assert all(v == rs.digest({}) for k, v in real.items() if k not in got)  # roots never touched: empty


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=1, max_size=8))
def test_replay_reproduces_the_real_roots(steps: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory(dir=SCRATCH) as tmp:
        base = Path(tmp)
        roots = Roots(base / "real")
        points: list[tuple[int, dict[str, str]]] = []
        done: list[str] = []
        try:
            with roots.open() as wal:
                for s in steps:
                    _apply(wal, roots, s, done)
                    last = max(r.seq for r in wal.records())
                    points.append((last, roots.digests()))
            final = roots.digests()
            _matches(replay.replay(roots.log, base / "box"), final)
            checked = replay.check(roots.log)
            assert checked.ok, checked.to_dict()
            for n, (seq, real) in enumerate(points):
                _matches(replay.checkout(roots.log, seq, base / f"at-{n}"), real)
        finally:
            close_graph(roots.graph)
            gc.collect()
