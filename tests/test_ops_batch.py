"""run_batch: one group commit for all intents, one for all completions."""

from __future__ import annotations

from pathlib import Path

import pytest
from kfm_wal import Wal
from kfm_wal.ops import OperationFailedError, OperationSpec, PlanError, Write, run_batch, undo
from kfm_wal.ops import durable as durable_mod
from test_ops_support import META, UNDO_META, assert_valid, count, snapshot


def spec(*actions: Write, n: int = 0) -> OperationSpec:
    return OperationSpec(
        list(actions), META["actor"], META["tier"], META["governance"], {"id": f"focus-{n}"}, lineage_links=[f"run:{n}"]
    )


def test_batch_shares_one_group_commit_each_way(wal: Wal, tmp_path: Path) -> None:
    root = tmp_path / "data"
    results = run_batch(wal, [spec(Write(f"part-{i}.csv", b"%d" % i), n=i) for i in range(20)], root=root)
    assert [r.status for r in results] == ["succeeded"] * 20
    assert len({r.intent.seal_seq for r in results}) == 1
    assert len({r.completion.seal_seq for r in results}) == 1
    assert results[0].intent.seal_seq < results[0].completion.seal_seq
    assert snapshot(root) == {f"part-{i}.csv": b"%d" % i for i in range(20)}
    for r in results:
        assert r.post_state_hash == r.post_state_expected
    undo(wal, results[3].wal_id, root=root, **UNDO_META)
    assert not (root / "part-3.csv").exists()
    assert_valid(wal)


def test_batch_with_overlapping_paths_is_refused(wal: Wal, tmp_path: Path) -> None:
    n = count(wal)
    with pytest.raises(PlanError, match="both touch 'a.csv'"):
        run_batch(wal, [spec(Write("a.csv", b"1")), spec(Write("./a.csv", b"2"))], root=tmp_path / "data")
    assert count(wal) == n


def test_batch_stops_at_the_first_failure(wal: Wal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "data"
    root.mkdir()
    (root / "src.csv").write_bytes(b"src")
    real_write = durable_mod.write_atomic

    def write_fails_for_c(path: Path, data: bytes, mode: int | None = None) -> None:
        if path.name == "c.csv":
            raise OSError(28, "No space left on device", str(path))
        real_write(path, data, mode)

    monkeypatch.setattr(durable_mod, "write_atomic", write_fails_for_c)
    ops = [spec(Write("a.csv", b"a")), spec(Write("b.csv", b"b"), Write("c.csv", b"c")), spec(Write("d.csv", b"d"))]
    with pytest.raises(OperationFailedError, match="No space left") as info:
        run_batch(wal, ops, root=root)
    results = info.value.results
    assert results is not None
    assert [r.status for r in results] == ["succeeded", "reversed", "refused"]
    assert "not attempted" in (results[2].error or "")
    assert len({r.completion.seal_seq for r in results}) == 1
    assert snapshot(root) == {"src.csv": b"src", "a.csv": b"a"}
    assert_valid(wal)


def test_empty_batch_records_nothing(wal: Wal, tmp_path: Path) -> None:
    n = count(wal)
    assert run_batch(wal, [], root=tmp_path / "data") == []
    assert count(wal) == n
