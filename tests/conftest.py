"""Shared fixtures: a signing key, a fresh log, an S3 endpoint on loopback. Helpers (seed-shaped
entries...) are in waltools.py: tests import them from there, never from this file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, Any]]:
    """An S3 endpoint on loopback (moto's server) for the module's tests: its s3fs options."""
    from disttools import s3_endpoint  # the object-store tools only where a test asks for them

    with s3_endpoint() as options:
        yield options


@pytest.fixture
def s3_config(s3: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The endpoint as fsspec's configuration (what FSSPEC_S3_* environment variables set): how
    the CLI is pointed at a bucket."""
    import fsspec

    monkeypatch.setitem(fsspec.config.conf, "s3", dict(s3))
    return s3
