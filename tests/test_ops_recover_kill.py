"""Crash recovery of every kind, by killing a real process (SIGKILL to itself) at every step of an
operation: after its intent is durable, between every two actions, after the last action before
its completion. Then `ops.recover` in a new process: the log validates (operation rule included),
nothing is left pending, the targets are in the pre or the post state, and the completion says
which (refused / reversed: pre; succeeded: post). The child is tests/crash/ops_kill.py.

Kill points per kind: file 5 (4 actions), STAC 5 (2 items, 4 file writes), graph 4 (3 actions),
custom 3 (2 actions), mixed 7 (6 actions over two file roots, a graph and a custom action); each
kind also once re-executed from its pre state."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

CHILD = Path(__file__).with_name("crash") / "ops_kill.py"
KILL_POINTS = {"file": 5, "stac": 5, "graph": 4, "custom": 3, "mixed": 7}


def _run(d: Path, scenario: str, kill_at: int) -> int:
    d.mkdir()
    done = subprocess.run([sys.executable, str(CHILD), "run", str(d), scenario, str(kill_at)], timeout=120, check=False)
    return done.returncode


def _recover(d: Path, scenario: str, *flags: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(CHILD), "recover", str(d), scenario, *flags],
        timeout=120,
        check=True,
        capture_output=True,
    )
    report: dict[str, Any] = json.loads(out.stdout)
    return report


def _check(report: dict[str, Any], kill_at: int, last: int) -> None:
    assert report["valid"], report["findings"]
    assert report["pending"] == 0
    [settled] = report["recovered"]
    completion = report["completion"]
    assert completion["status"] == settled["status"] and completion["detail"]["recovered"] is True
    assert completion["post_state_hash"] == report["after"]
    if kill_at == 0:  # the intent is durable, nothing ran: recorded as not run
        assert report["before"] == report["pre"] and settled["found"] == "pre"
        assert settled["status"] == "refused" and report["after"] == report["pre"]
    elif kill_at == last:  # every action ran, the completion was lost: recorded as done
        assert report["before"] == report["post"] and settled["found"] == "post"
        assert settled["status"] == "succeeded" and report["after"] == report["post"]
    else:  # part way: rolled back from the before-images
        assert report["before"] not in (report["pre"], report["post"]) and settled["found"] == "partial"
        assert settled["status"] == "reversed" and report["after"] == report["pre"]


@pytest.mark.parametrize("scenario", sorted(KILL_POINTS))
def test_killed_at_every_step_then_recovered(tmp_path: Path, scenario: str) -> None:
    kills = 0
    while True:
        d = tmp_path / f"k{kills}"
        code = _run(d, scenario, kills)
        if code == 0:  # ran to its end: every kill point was seen
            break
        assert code == -signal.SIGKILL, f"{scenario} child at kill point {kills} exited {code}"
        kills += 1
    assert kills == KILL_POINTS[scenario]
    for k in range(kills):
        _check(_recover(tmp_path / f"k{k}", scenario), k, kills - 1)


@pytest.mark.parametrize("scenario", sorted(KILL_POINTS))
def test_killed_after_the_intent_then_reexecuted(tmp_path: Path, scenario: str) -> None:
    d = tmp_path / "k"
    assert _run(d, scenario, 0) == -signal.SIGKILL
    report = _recover(d, scenario, "--reexecute")
    assert report["valid"], report["findings"]
    assert report["pending"] == 0 and report["before"] == report["pre"]
    [settled] = report["recovered"]
    assert settled["status"] == "succeeded" and report["after"] == report["post"]
    detail = report["completion"]["detail"]
    assert detail == {"recovered": True, "found": "pre", "reexecuted": True}
    assert report["completion"]["post_state_hash"] == report["post"]


@pytest.mark.parametrize("die_at", [1, 2])
def test_a_recovery_killed_half_way_is_finished_by_the_next(tmp_path: Path, die_at: int) -> None:
    d = tmp_path / "k"
    last = KILL_POINTS["mixed"] - 1
    assert _run(d, "mixed", last - 1) == -signal.SIGKILL  # every action but the last ran
    cmd = [sys.executable, str(CHILD), "recover", str(d), "mixed", "--die-at", str(die_at)]
    assert subprocess.run(cmd, timeout=120, check=False, capture_output=True).returncode == -signal.SIGKILL
    report = _recover(d, "mixed")  # the targets are part way back: still states its actions reach
    _check(report, last - 1, last)
