"""Shared fixtures: a signing key, seed-shaped entries, a fresh log."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kfm_wal import Wal, keys


def sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def make_entry(i: int = 0, **over: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "operation": "etl_step",
        "actor": {"type": "ci", "id": "etl-runner"},
        "pre_state_hash": sha(f"in-{i}"),
        "post_state_expected": sha(f"out-{i}"),
        "payload": {"actions": [{"type": "file.write", "path": f"processed/part-{i:05d}.csv", "bytes": 1000 + i}]},
        "reversal": {"steps": [{"type": "file.delete", "path": f"processed/part-{i:05d}.csv"}]},
        "tier": 1,
        "governance": {"care": "public", "approvals": []},
        "lineage_links": [f"run:{i // 10}"],
        "telemetry": {"id": f"focus-{i}"},
    }
    entry.update(over)
    return entry


@pytest.fixture(scope="session")
def key() -> keys.SigningKey:
    return keys.generate()


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path / "wal"


@pytest.fixture
def wal(log_dir: Path, key: keys.SigningKey) -> Iterator[Wal]:
    with Wal.create(log_dir, key, max_segment_bytes=64 * 1024, max_record_bytes=16 * 1024) as w:
        yield w


def live_segment(log_dir: Path) -> Path:
    (seg,) = sorted(log_dir.glob("wal-*.jsonl"))
    return seg
