"""Shared helpers for the tests/test_ops_*.py suites (no tests here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kfm_wal
from kfm_wal import Wal

META: dict[str, Any] = {
    "actor": {"type": "ci", "id": "etl-runner"},
    # Tier 0: not decided by the governance policy (tier >= 1 is: tests/test_governance_everywhere.py).
    "tier": 0,
    "governance": {"care": "public", "approvals": []},
    "telemetry": {"id": "focus-ops"},
}
UNDO_META: dict[str, Any] = {"actor": {"type": "developer", "id": "alice"}, "telemetry": {"id": "focus-undo"}}


def snapshot(root: Path) -> dict[str, bytes]:
    """Every regular file under `root` (relative path -> bytes), temp files included."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def count(wal: Wal) -> int:
    return sum(1 for _ in wal.records())


def kinds(wal: Wal, wal_id: str) -> list[str]:
    return [r.kind for r in wal.records(wal_id=wal_id)]


def assert_valid(wal: Wal) -> kfm_wal.VerifyReport:
    """The log verifies, operation-level rule included."""
    from kfm_wal.ops import ExecutedMatchesIntent

    report = kfm_wal.verify(wal.path, rules=[ExecutedMatchesIntent()])
    assert report.ok, report.findings
    return report
