"""Crash at every step of a compaction: a real process (tests/crash/compact_kill.py) SIGKILLs
itself at each step point (before the checkpoint, after it is durable, before each segment move,
after each segment's cold copy, before each blob removal, before the completion). After each
death: the log validates and opens, every acknowledged record is still in the log or in the cold
directory (put back, the whole history validates from segment 1), every blob a retained record
references is there; then running the compaction again finishes it."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import kfm_wal
from compacttools import build, segment_names
from kfm_wal import Wal, compaction
from kfm_wal.compaction.blob_refs import referenced, stored
from kfm_wal.ops.blobs import BlobStore

CHILD = Path(__file__).with_name("crash") / "compact_kill.py"


def _history(log: Path) -> list[tuple[int, str]]:
    return [(r.seq, r.hash) for r in kfm_wal.records(log)]


def _put_back(log: Path, into: Path) -> Path:
    """The log with its cold segments returned to archive/: the whole history."""
    shutil.copytree(log, into)
    cold = into / "cold"
    if cold.is_dir():
        for seg in cold.iterdir():
            if seg.name.endswith(".jsonl"):
                target = into / "archive" / seg.name
                if not target.exists():
                    shutil.move(str(seg), target)
        shutil.rmtree(cold)
    return into


def _check_after_death(
    log: Path, key: kfm_wal.keys.SigningKey, history: list[tuple[int, str]], blobs: set[str], tmp: Path
) -> None:
    report = kfm_wal.verify(log)
    assert report.ok, report.findings
    whole = _put_back(log, tmp)
    assert kfm_wal.verify(whole).ok
    assert _history(whole)[: len(history)] == history  # nothing acknowledged is lost
    # every blob a retained record references and the store held is still there
    first = next(kfm_wal.records(log)).seq
    assert referenced(log, first - 1) & blobs <= set(stored(log))
    with Wal.open(log, key):  # opens for writing
        pass


def test_kill_at_every_step_then_resume(tmp_path):
    base = tmp_path / "base"
    base.mkdir()
    log, key, info = build(base)
    blobs = set(stored(log))
    assert info["late_blob"] in blobs
    before = str(next(first for n, first, _, _ in kfm_wal._core.segments(log) if n == 4))
    history = _history(log)
    names = segment_names(log)
    point = 0
    while True:
        d = tmp_path / f"k{point}"
        shutil.copytree(base, d)
        done = subprocess.run([sys.executable, str(CHILD), str(d), before, str(point)], timeout=120, check=False)
        steps = (d / "steps.txt").read_text().splitlines()
        if done.returncode == 0:
            break
        assert done.returncode == -signal.SIGKILL, done.returncode
        assert len(steps) == point + 1, steps
        _check_after_death(d / "wal", key, history, blobs, tmp_path / f"whole{point}")
        # resumable: running it again finishes the job
        again = subprocess.run([sys.executable, str(CHILD), str(d), before, "999"], timeout=120, check=False)
        assert again.returncode == 0
        assert kfm_wal.verify(d / "wal").ok
        assert segment_names(d / "wal")[0] == names[3]
        finished = compaction.checkpoints(d / "wal")
        assert len(finished) == 1 and finished[0].completed, finished
        assert not BlobStore.for_log(d / "wal").has(info["orphan_blob"])
        assert BlobStore.for_log(d / "wal").has(info["late_blob"])
        point += 1
    kinds = {s.split()[0] for s in steps}
    assert kinds == {"checkpoint", "move", "copied", "blob", "complete"}, steps
    # checkpoint, a move and a cold copy per segment, one step per unreferenced blob, completion
    assert point == len(steps) == 10
    assert [s.split()[0] for s in steps] == ["checkpoint", *["move", "copied"] * 3, "blob", "blob", "complete"]


def test_kill_at_every_step_of_a_drop_then_resume(tmp_path):
    """With --drop the segments are deleted once the checkpoint is durable: after each death the
    log validates and opens, and holds exactly the history after whatever was already dropped."""
    base = tmp_path / "base"
    base.mkdir()
    log, key, _ = build(base)
    before = str(next(first for n, first, _, _ in kfm_wal._core.segments(log) if n == 4))
    history = _history(log)
    point = 0
    while True:
        d = tmp_path / f"k{point}"
        shutil.copytree(base, d)
        done = subprocess.run(
            [sys.executable, str(CHILD), str(d), before, str(point), "drop"], timeout=120, check=False
        )
        steps = (d / "steps.txt").read_text().splitlines()
        if done.returncode == 0:
            break
        assert done.returncode == -signal.SIGKILL, done.returncode
        assert kfm_wal.verify(d / "wal").ok
        kept = _history(d / "wal")
        assert kept[: len(history) - history.index(kept[0])] == history[history.index(kept[0]) :]
        with Wal.open(d / "wal", key):
            pass
        again = subprocess.run([sys.executable, str(CHILD), str(d), before, "999", "drop"], timeout=120, check=False)
        assert again.returncode == 0 and kfm_wal.verify(d / "wal").ok
        assert not (d / "wal" / "cold").exists()
        point += 1
    assert [s.split()[0] for s in steps] == ["checkpoint", "move", "move", "move", "blob", "blob", "complete"]
    assert point == len(steps)
