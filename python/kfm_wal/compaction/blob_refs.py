"""Which blobs of the log's store (`DIR/blobs/`, kfm_wal.ops.blobs) no retained record references.

A record references a blob by its digest (`sha256:<hex>`) somewhere in its body: before-images,
new contents, a hotfix's copies. Every such string in every record after the cut counts as a
reference (a digest that is not a blob's costs nothing; a blob it names is kept), so garbage is
only what nothing retained can reach."""

from __future__ import annotations

import os
import re
from pathlib import Path

from . import raw

_DIGEST = re.compile(rb"sha256:([0-9a-f]{64})")


def stored(log: Path) -> list[str]:
    """Every blob digest in the store, sorted."""
    root = log / "blobs"
    if not root.is_dir():
        return []
    found: list[str] = []
    for sub in sorted(os.listdir(root)):
        if len(sub) != 2 or not (root / sub).is_dir():
            continue
        found.extend(f"sha256:{sub}{name}" for name in sorted(os.listdir(root / sub)) if len(name) == 62)
    return found


def referenced(log: Path, after_seq: int) -> set[str]:
    """Digests named by the records after `after_seq`."""
    refs: set[str] = set()
    for _, _, kind, _, line in raw.lines(log, after_seq + 1):
        if kind in ("intent", "completion"):
            refs.update("sha256:" + m.decode() for m in _DIGEST.findall(line))
    return refs


def unreferenced(log: Path, after_seq: int) -> list[str]:
    """The store's blobs no record after `after_seq` references (an empty store: none)."""
    have = stored(log)
    if not have:
        return []
    refs = referenced(log, after_seq)
    return [d for d in have if d not in refs]


__all__ = ["referenced", "stored", "unreferenced"]
