"""A log's blob store (`DIR/blobs/ab/cdef...`, kfm_wal.ops.blobs) in an archive at a URL, under
`blobs/` as in a log directory: what replay reads (before-images, new contents, a compaction's
seal list). Objects are named by the SHA-256 of their bytes, so `push_blobs` uploads only those
not there yet (one listing of `blobs/`, no object read), and `RemoteBlobs` checks every blob it
reads against its name."""

from __future__ import annotations

import hashlib
import os
import posixpath
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import RemoteError
from ..ops.blobs import BlobStore
from ..ops.errors import BlobError
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
    """Where the blob `digest` sits in an archive (as in a log directory)."""
    return posixpath.relpath(str(BlobStore(BLOBS).path(digest)), ".")


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
    local = BlobStore.for_log(Path(log_dir))
    there = _remote_sizes(store)
    uploaded: list[str] = []
    unchanged: list[str] = []
    for digest, path in _local(Path(log_dir)).items():
        where = relative(digest)
        if there.get(where) == path.stat().st_size:
            unchanged.append(digest)
            continue
        try:
            data = local.get(digest)
        except BlobError as e:
            raise RemoteError(f"{log_dir}: not pushed: {e}") from None
        store.write(where, data)
        uploaded.append(digest)
    return uploaded, unchanged


class RemoteBlobs(BlobStore):
    """A blob store at a URL: the folder holding `ab/cdef...` (an archive's `URL/blobs`, or any
    other), read-only. `get` reads the object and checks its bytes against the digest (BlobError
    when it is missing or corrupt, naming the blob and where it was looked for)."""

    def __init__(self, url: str, storage_options: Mapping[str, Any] | None = None) -> None:
        super().__init__(".")  # `path` then gives the object's place under the URL: ab/cdef...
        self.store = ArchiveStore(url, storage_options)
        self.url = self.store.url

    def _where(self, digest: str) -> str:
        return self.path(digest).as_posix()

    def has(self, digest: str) -> bool:
        return self.store.size(self._where(digest)) is not None

    def get(self, digest: str) -> bytes:
        where = self._where(digest)
        data = self.store.read_if_there(where)
        if data is None:
            err = BlobError(f"blob {digest} is missing ({self.store.object_url(where)})")
            err.digest = digest
            raise err
        actual = "sha256:" + hashlib.sha256(data).hexdigest()
        if actual != digest:
            err = BlobError(f"blob {digest} is corrupt: {self.store.object_url(where)} hashes to {actual}")
            err.digest = digest
            raise err
        return data

    def put_many(self, blobs: Mapping[str, bytes]) -> None:
        if blobs:
            raise RemoteError(f"{self.url}: a blob store at a URL is read-only here (archive push writes it)")


__all__ = ["BLOBS", "RemoteBlobs", "push_blobs", "relative"]
