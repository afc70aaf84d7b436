"""Helpers for the compaction tests: a log of several closed segments with blobs, pending intents
and a snapshot, at tmp/wal with its key at tmp/keys/writer.pem (the CLI's default)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kfm_wal import Wal, keys
from kfm_wal.ops.blobs import BlobStore
from waltools import make_entry, sha

SEGMENT_BYTES = 16384


def build(
    tmp_path: Path, operations: int = 160, compression: str = "none"
) -> tuple[Path, keys.SigningKey, dict[str, Any]]:
    """A log of several segments: `operations` intents (every twentieth left pending until the end,
    one completed after the rest), blobs referenced by early and late intents, one unreferenced."""
    log = tmp_path / "wal"
    key = keys.generate()
    keys.save(key, tmp_path / "keys" / "writer.pem")
    store = BlobStore.for_log(log)
    info: dict[str, Any] = {"pending": [], "early_blob": None, "late_blob": None, "orphan_blob": None}
    settings: Any = {"archive_compression": compression}
    with Wal.create(log, key, max_segment_bytes=SEGMENT_BYTES, max_record_bytes=SEGMENT_BYTES, **settings) as wal:
        info["orphan_blob"] = store.put(b"referenced by nothing")
        info["early_blob"] = store.put(b"before-image of an early operation")
        for i in range(operations):
            extra = {"payload": {"blob": info["early_blob"]}} if i == 0 else {}
            r = wal.append(make_entry(i, **extra))
            if i % 20 == 4:
                info["pending"].append(r.wal_id)
            else:
                wal.complete(r.wal_id, "succeeded", post_state_hash=sha(f"out-{i}"))
        info["late_blob"] = store.put(b"contents of a late operation")
        r = wal.append(make_entry(operations, payload={"blob": info["late_blob"]}))
        wal.complete(r.wal_id, "succeeded")
        # one operation pending since the early segments completes only now, after any cut
        wal.complete(info["pending"].pop(0), "succeeded")
        assert wal.wait_for_archive() is None
    return log, key, info


def segment_names(log: Path) -> list[str]:
    from kfm_wal import _core

    return [Path(p).name for _, _, p, _ in _core.segments(log)]
