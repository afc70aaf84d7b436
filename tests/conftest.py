"""Shared fixtures: a signing key, a fresh log. Helpers (seed-shaped entries...) are in waltools.py:
tests import them from there, never from this file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kfm_wal import Wal, keys


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
