"""The checkpoint's seal list, kept as a blob: every seal (seq, hash) of the compacted range. A
large log has millions of seals, far more than one record may hold (max_record_bytes), so the
checkpoint carries only the list's digest, count and last entry; the list itself is a blob of the
log's content-addressed store (`DIR/blobs/`), put durably before the checkpoint is appended, and
kept by blob collection as long as a retained checkpoint names it.

    payload.seals = {"blob": "sha256:<hex>", "count": N, "last": [seq, hash]}
    the blob = a JSON array [[seq, "sha256:<hex>"], ...] in seq order (compact, no whitespace)
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import orjson

from ..ops.blobs import BlobStore
from .errors import CompactionError


def encode(seals: list[list[Any]]) -> tuple[bytes, dict[str, Any]]:
    """The blob's bytes and the reference the checkpoint carries."""
    data = orjson.dumps(seals)
    ref = {"blob": "sha256:" + hashlib.sha256(data).hexdigest(), "count": len(seals), "last": seals[-1]}
    return data, ref


def load(log: str | os.PathLike[str], ref: Any) -> list[list[Any]]:
    """The seal list a checkpoint names (its bytes checked against the digest)."""
    if not isinstance(ref, dict) or "blob" not in ref:
        raise CompactionError(f"the checkpoint's seal list reference is not {{blob, count, last}}: {ref!r}")
    store = BlobStore.for_log(Path(log))
    if not store.has(ref["blob"]):
        raise CompactionError(f"the checkpoint's seal list {ref['blob']} is missing from {store.root}")
    seals: list[list[Any]] = orjson.loads(store.get(ref["blob"]))
    if len(seals) != ref.get("count"):
        raise CompactionError(
            f"the seal list {ref['blob']} holds {len(seals)} seals, its checkpoint says {ref.get('count')}"
        )
    return seals


__all__ = ["encode", "load"]
