"""A log's blob store (`DIR/blobs/ab/cdef...`, kfm_wal.ops.blobs) in an archive at a URL, under
`blobs/` as in a log directory: what replay reads (before-images, new contents, a compaction's
seal list). Objects are named by the SHA-256 of their bytes, so `push_blobs` uploads only those
not there yet (one listing of `blobs/`, no object read); `remote_blobs.RemoteBlobs` reads them
back, checked against their names. Nothing here imports the operation layers (`kfm_wal.ops`):
pushing needs only the `distributed` extra."""

from __future__ import annotations

import hashlib
import os
import posixpath
from pathlib import Path

from ..errors import RemoteError
from .store import ArchiveStore, remote

BLOBS = "blobs"


def _local(log_dir: Path) -> dict[str, Path]:
    """Every blob of the log's store: {digest: path}, by the store's own layout."""
    root = log_dir / BLOBS
    if not root.is_dir():
        return {}
    found: dict[str, Path] = {}
    for sub in sorted(os.listdir(root)):
        if len(sub) != 2 or not (root / sub).is_dir():
            continue
        for name in sorted(os.listdir(root / sub)):
            if len(name) == 62 and not name.endswith(".tmp"):
                found[f"sha256:{sub}{name}"] = root / sub / name
    return found


def relative(digest: str) -> str:
    """Where the blob `digest` (`sha256:<hex>`) sits in an archive, as in a log directory."""
    return f"{BLOBS}/{digest[7:9]}/{digest[9:]}"


def _remote_sizes(store: ArchiveStore) -> dict[str, int]:
    """{relative path: size} of every object under the archive's `blobs/` (one listing)."""
    base = f"{store.root}/{BLOBS}" if store.root else BLOBS
    with remote(store.object_url(BLOBS)):
        try:
            found = store.fs.find(base, detail=True)
        except FileNotFoundError:
            return {}
    return {f"{BLOBS}/{posixpath.relpath(str(name), base)}": int(info["size"]) for name, info in found.items()}


def push_blobs(log_dir: str | os.PathLike[str], store: ArchiveStore) -> tuple[list[str], list[str]]:
    """Upload the blobs of the log in `log_dir` that the archive lacks (or holds with another
    size: a damaged copy is replaced by the right bytes); each local blob is checked against its
    digest before it leaves (a corrupt one is a RemoteError, nothing of it uploaded). Returns
    (uploaded, already there) digests."""
    there = _remote_sizes(store)
    uploaded: list[str] = []
    unchanged: list[str] = []
    for digest, path in _local(Path(log_dir)).items():
        where = relative(digest)
        if there.get(where) == path.stat().st_size:
            unchanged.append(digest)
            continue
        data = path.read_bytes()
        actual = "sha256:" + hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise RemoteError(f"{log_dir}: not pushed: blob {digest} is corrupt: {path} hashes to {actual}")
        store.write(where, data)
        uploaded.append(digest)
    return uploaded, unchanged


__all__ = ["BLOBS", "push_blobs", "relative"]
