"""Nothing executes before its intent is durable: a process killed between the lifecycle steps
leaves either no intent and no change, or a durable intent and files in its pre or post state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import kfm_wal
from kfm_wal import Wal, keys
from kfm_wal.ops import FileRoot, state_hash
from test_ops_support import META

CHILD = textwrap.dedent(
    """
    import os, sys, time
    from kfm_wal import Wal, keys, ops

    log, key, root, mode = sys.argv[1:5]
    META = {META!r}
    wal = Wal.open(log, keys.load(key))
    actions = [ops.Write("out.csv", b"new bytes"), ops.Write("old.csv", b"replaced")]
    if mode == "after-intent":
        ops.prepare(wal, actions, root=root, **META)
        os._exit(0)  # dies before validating or executing anything
    if mode == "before-completion":
        Wal.complete_many = lambda self, completions: os._exit(0)  # dies after executing
        ops.run(wal, actions, root=root, **META)
    if mode == "loop":
        for i in range(10**6):
            ops.run(wal, [ops.Write("out.csv", b"%d" % i)], root=root, **META)
    """
).replace("{META!r}", repr(META))


def _setup(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    log, key_path, root = tmp_path / "wal", tmp_path / "writer.pem", tmp_path / "data"
    key = keys.generate()
    keys.save(key, key_path)
    Wal.create(log, key).close()
    root.mkdir()
    (root / "old.csv").write_bytes(b"original")
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    return log, key_path, root, script


def _child(script: Path, log: Path, key_path: Path, root: Path, mode: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(script), str(log), str(key_path), str(root), mode])


def _state(root: Path, intent: kfm_wal.Record) -> str:
    paths = intent.body["reversal"]["expects"]
    return state_hash(FileRoot(root).observe(paths))


def test_killed_after_intent_nothing_executed(tmp_path: Path) -> None:
    log, key_path, root, script = _setup(tmp_path)
    assert _child(script, log, key_path, root, "after-intent").wait() == 0
    assert not (root / "out.csv").exists()
    assert (root / "old.csv").read_bytes() == b"original"
    report = kfm_wal.verify(log)
    assert report.ok and report.pending == 1
    (intent,) = kfm_wal.records(log, kind="intent")
    assert _state(root, intent) == intent.body["pre_state_hash"]
    assert all(Path(log, "blobs").rglob("*"))  # its blobs were stored before it was appended


def test_killed_before_completion_files_in_post_state(tmp_path: Path) -> None:
    log, key_path, root, script = _setup(tmp_path)
    assert _child(script, log, key_path, root, "before-completion").wait() == 0
    report = kfm_wal.verify(log)
    assert report.ok and report.pending == 1
    (intent,) = kfm_wal.records(log, kind="intent")
    assert _state(root, intent) == intent.body["post_state_expected"]
    assert (root / "out.csv").read_bytes() == b"new bytes"


def test_kill_nine_at_random_points(tmp_path: Path) -> None:
    """Every completed intent matches the files; a pending one (the last) is its pre or post."""
    log, key_path, root, script = _setup(tmp_path)
    for delay in (0.3, 0.45, 0.6):
        child = _child(script, log, key_path, root, "loop")
        try:
            child.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
        with Wal.open(log, keys.load(key_path)) as wal:  # cuts an unsealed tail, if any
            intents = list(wal.records(kind="intent"))
            done = {r.wal_id for r in wal.records(kind="completion")}
        assert kfm_wal.verify(log).ok
        if not intents:
            assert not (root / "out.csv").exists()
            continue
        last = intents[-1]
        state = _state(root, last)
        if last.wal_id in done:
            assert state == last.body["post_state_expected"]
        else:
            assert state in (last.body["pre_state_hash"], last.body["post_state_expected"])
