"""Helpers for the log-set tests (no tests here): streams written by the Rust writer, each intent
optionally linking to others by `wal:<id>`, and a manifest naming them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kfm_wal import Wal, keys
from waltools import make_entry


def intent(i: int, *links: str, wal_id: str | None = None) -> dict[str, Any]:
    """An intent with `wal:` links to the given wal_ids (and its own wal_id when given)."""
    entry = make_entry(i, lineage_links=[f"wal:{w}" for w in links])
    entry["wal_id"] = wal_id or str(uuid.uuid4())
    return entry


def new_stream(path: Path, key: keys.SigningKey, stream: str | None, *, max_segment_bytes: int = 64 * 1024) -> Wal:
    return Wal.create(path, key, max_segment_bytes=max_segment_bytes, max_record_bytes=16 * 1024, stream=stream)


def write_manifest(path: Path, streams: Mapping[str, str], raw: str | None = None) -> Path:
    """SET.json naming `streams` (or exactly the text `raw`)."""
    text = raw if raw is not None else json.dumps({"format": "kfm-wal-logset/1", "streams": dict(streams)})
    path.write_text(text)
    return path


def codes(report: Any) -> list[str]:
    return [f.code for f in report.findings]
