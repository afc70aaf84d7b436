"""A content-addressed blob store: `<log dir>/blobs/ab/cdef...` named by the SHA-256 of the bytes.

Before-images and new contents of file operations live here, so an undo never depends on files
that may have changed since. A blob is durable when `put` returns, and callers put every blob an
intent references before appending the intent: the log never names a blob that is not on disk."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from . import durable
from .errors import BlobError

_DIGEST = re.compile(r"^sha256:([0-9a-f]{64})$")


def _hex(digest: str) -> str:
    m = _DIGEST.match(digest) if isinstance(digest, str) else None
    if m is None:
        err = BlobError(f"{digest!r} is not a blob digest (sha256:<64 lowercase hex>)")
        err.digest = str(digest)
        raise err
    return m.group(1)


class BlobStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    @classmethod
    def for_log(cls, log_dir: str | os.PathLike[str]) -> BlobStore:
        """The store of the log at `log_dir` (`<log dir>/blobs/`; the core ignores the folder)."""
        return cls(Path(log_dir) / "blobs")

    def path(self, digest: str) -> Path:
        h = _hex(digest)
        return self.root / h[:2] / h[2:]

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def put(self, data: bytes) -> str:
        """Store `data` durably; returns "sha256:<hex>". Idempotent: a blob already present with
        the right size is kept (its bytes are checked on every `get`)."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        path = self.path(digest)
        try:
            present = path.stat().st_size == len(data)
        except FileNotFoundError:
            present = False
        if present:
            # Another put may have crashed after the rename but before its directory fsync:
            # make the entry durable before anyone relies on it.
            durable.fsync_dir(path.parent)
        else:
            durable.write_atomic(path, data, mode=0o444)  # read-only: blobs never change
        return digest

    def get(self, digest: str) -> bytes:
        """The blob's bytes, verified against its digest."""
        path = self.path(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            err = BlobError(f"blob {digest} is missing ({path})")
            err.digest = digest
            raise err from None
        actual = "sha256:" + hashlib.sha256(data).hexdigest()
        if actual != digest:
            err = BlobError(f"blob {digest} is corrupt: {path} hashes to {actual}")
            err.digest = digest
            raise err
        return data


__all__ = ["BlobStore"]
