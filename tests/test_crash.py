"""Short kill -9 crash run (make crash runs at least 500)."""

from __future__ import annotations

from pathlib import Path

from crash.harness import run


def test_kill_nine_never_loses_an_acknowledged_record(tmp_path: Path) -> None:
    totals = run(tmp_path / "wal", kills=20, seed=7)
    assert totals.failures == []
    assert totals.kills == 20
    assert totals.acknowledged > 0
    assert totals.lost == 0
