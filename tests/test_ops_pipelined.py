"""run_batch above PIPELINE_CHUNK operations: intents in chunks handed over with `Wal.submit`, so
chunk k's actions run while chunks k+1.. become durable, and still no action runs before its
own intent is durable (recorded order below; kill -9 at every target write and at random times
leaves every changed file with its intent in the log, and `recover` settles the rest)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import kfm_wal
import pytest
from kfm_wal import SchemaError, Wal, keys
from kfm_wal.ops import OperationFailedError, OperationSpec, Write, operation, recover, run_batch
from kfm_wal.ops import durable as durable_mod
from test_ops_support import META, assert_valid, count, snapshot

CHUNK = 4


def spec(i: int, **meta: Any) -> OperationSpec:
    m = {**META, **meta}
    return OperationSpec([Write(f"part-{i}.csv", b"%d" % i)], m["actor"], m["tier"], m["governance"], {"id": f"f-{i}"})


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(operation, "PIPELINE_CHUNK", CHUNK)


def test_pipelined_batch_records_intents_in_chunks_and_succeeds(wal: Wal, tmp_path: Path) -> None:
    root = tmp_path / "data"
    results = run_batch(wal, [spec(i) for i in range(10)], root=root)
    assert [r.status for r in results] == ["succeeded"] * 10
    assert len({r.intent.seal_seq for r in results}) == 3, "10 intents in chunks of 4: three batches"
    assert [r.intent.seq for r in results] == sorted(r.intent.seq for r in results)
    assert len({r.completion.seal_seq for r in results}) == 1
    assert snapshot(root) == {f"part-{i}.csv": b"%d" % i for i in range(10)}
    assert_valid(wal)


def test_no_action_runs_before_its_chunk_is_durable(wal: Wal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[tuple[str, int]] = []
    lock = threading.Lock()
    real_submit, real_write = Wal.submit, durable_mod.write_atomic

    def record(*e: Any) -> None:
        with lock:
            events.append(e)

    class Watched:
        def __init__(self, k: int, pending: Any) -> None:
            self.k, self.pending = k, pending

        def result(self, timeout: float | None = None) -> Any:
            receipts = self.pending.result(timeout)
            record("durable", self.k)
            return receipts

    def submit(self: Wal, entries: Any) -> Any:
        k = sum(1 for e in events if e[0] == "submit")
        record("submit", k)
        return Watched(k, real_submit(self, entries))

    def write(path: Path, data: bytes, mode: int | None = None) -> None:
        record("write", int(path.stem.split("-")[1]))
        real_write(path, data, mode)

    monkeypatch.setattr(Wal, "submit", submit)
    monkeypatch.setattr(durable_mod, "write_atomic", write)
    run_batch(wal, [spec(i) for i in range(10)], root=tmp_path / "data")
    at = {e: n for n, e in enumerate(events)}
    for i in range(10):
        assert at[("durable", i // CHUNK)] < at[("write", i)], f"operation {i} ran before its intent was durable"
    # Overlap: every chunk is handed over before the first action runs.
    assert max(at[("submit", k)] for k in range(3)) < at[("write", 0)]
    assert_valid(wal)


def test_a_failure_in_a_later_chunk_refuses_the_rest(wal: Wal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "data"
    real_write = durable_mod.write_atomic

    def fail_at_5(path: Path, data: bytes, mode: int | None = None) -> None:
        if path.name == "part-5.csv":
            raise OSError(28, "No space left on device", str(path))
        real_write(path, data, mode)

    monkeypatch.setattr(durable_mod, "write_atomic", fail_at_5)
    with pytest.raises(OperationFailedError) as info:
        run_batch(wal, [spec(i) for i in range(10)], root=root)
    results = info.value.results
    assert results is not None
    assert [r.status for r in results] == ["succeeded"] * 5 + ["reversed"] + ["refused"] * 4
    assert all(r.intent is not None for r in results), "every chunk's receipts, attempted or not"
    assert snapshot(root) == {f"part-{i}.csv": b"%d" % i for i in range(5)}
    assert_valid(wal)


def test_a_schema_error_in_a_later_chunk_runs_nothing(wal: Wal, tmp_path: Path) -> None:
    root = tmp_path / "data"
    ops = [spec(i) for i in range(10)]
    ops[9] = spec(9, tier=7)
    with pytest.raises(SchemaError) as e:
        run_batch(wal, ops, root=root)
    assert e.value.index == 9 and str(e.value).startswith("entry 9: ")
    assert not root.exists() or snapshot(root) == {}
    # The chunks handed over before it are recorded as not attempted: nothing stays pending.
    report = assert_valid(wal)
    assert report.pending == 0 and report.intents == 8
    statuses = {r.body["status"] for r in wal.records(kind="completion")}
    assert statuses == {"refused"}
    assert count(wal) > 0


CHILD = textwrap.dedent(
    """
    import os, sys
    from kfm_wal import Wal, keys, ops
    from kfm_wal.ops import durable, operation

    log, key, root, die_at = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    META = {META!r}
    operation.PIPELINE_CHUNK = 4
    real = durable.write_atomic
    calls = []
    def write(path, data, mode=None):
        if "blobs" not in path.parts:
            calls.append(path)
        if len(calls) == die_at:
            os._exit(0)  # dies before this target is written
        real(path, data, mode)
    durable.write_atomic = write
    wal = Wal.open(log, keys.load(key))
    for r in range(1 if die_at else 10_000):  # 0: batch after batch until killed
        specs = [ops.OperationSpec([ops.Write(f"part-{{r}}x{{i}}.csv", b"%d" % i)], META["actor"], META["tier"],
                                   META["governance"], {{"id": f"f-{{i}}"}}) for i in range(24)]
        ops.run_batch(wal, specs, root=root)
    """
).format(META=META)


def _check_after_crash(log: Path, key_path: Path, root: Path) -> None:
    with Wal.open(log, keys.load(key_path)) as wal:
        intents = {r.body["payload"]["actions"][0]["path"] for r in wal.records(kind="intent")}
    changed = {p.name for p in root.glob("part-*.csv")} if root.exists() else set()
    assert changed <= intents, f"files changed without a durable intent: {sorted(changed - intents)}"
    with Wal.open(log, keys.load(key_path)) as wal:
        recover(wal, root=root)
        assert_valid(wal)
    assert kfm_wal.verify(log).pending == 0


@pytest.mark.parametrize("die_at", [1, 2, 4, 5, 9, 14, 23])
def test_killed_at_a_target_write_every_change_has_its_intent(tmp_path: Path, die_at: int) -> None:
    log, key_path, root = tmp_path / "wal", tmp_path / "k.pem", tmp_path / "data"
    key = keys.generate()
    keys.save(key, key_path)
    Wal.create(log, key).close()
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    child = [sys.executable, str(script), str(log), str(key_path), str(root), str(die_at)]
    assert subprocess.run(child, timeout=120, check=False).returncode == 0
    assert len(list(root.glob("part-*.csv"))) == die_at - 1
    _check_after_crash(log, key_path, root)


def test_kill_nine_at_random_points(tmp_path: Path) -> None:
    log, key_path, root = tmp_path / "wal", tmp_path / "k.pem", tmp_path / "data"
    key = keys.generate()
    keys.save(key, key_path)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    for n, delay in enumerate((0.5, 0.8, 1.1, 1.4)):
        Wal.create(log / str(n), key).close()
        d = root / str(n)
        child = subprocess.Popen([sys.executable, str(script), str(log / str(n)), str(key_path), str(d), "0"])
        try:
            child.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
        _check_after_crash(log / str(n), key_path, d)
        if n == 3:
            assert list(d.glob("part-*.csv")), "the child ran batches before it was killed"
