"""A content-addressed blob store: `<log dir>/blobs/ab/cdef...` named by the SHA-256 of the bytes.

Before-images and new contents of file operations live here, so an undo never depends on files
that may have changed since. A blob is durable when `put` returns, and callers put every blob an
intent references before appending the intent: the log never names a blob that is not on disk.

Batching (`deferred()`): inside the block `put` only hashes and queues the bytes; when the block
ends they are all stored by `put_many`: every temp file written and fsynced (`durable.write_temps`:
each file its own fsync, the fsyncs concurrent), renamed, then each affected blob directory
fsynced ONCE. The blobs are durable when the block ends, so the intents that name them are
appended after it."""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from . import durable
from .errors import BlobError

_DIGEST = re.compile(r"^sha256:([0-9a-f]{64})$")
_MODE = 0o444  # read-only: blobs never change


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
        self._local = threading.local()  # .queue: dict[digest, bytes] of the innermost deferred() block

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
        the right size is kept (its bytes are checked on every `get`). Inside `deferred()`, the
        bytes are stored (durably) when the block ends."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self._put_hashed(digest, data)
        return digest

    def _put_hashed(self, digest: str, data: bytes) -> None:
        """`put` for a caller that has just computed `digest` from `data` (not hashed again)."""
        queue: dict[str, bytes] | None = getattr(self._local, "queue", None)
        if queue is not None:
            self.path(digest)  # a malformed digest fails here, not at the end of the block
            queue.setdefault(digest, data)
        else:
            self.put_many({digest: data})

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Queue the `put`s of the block (this thread) and store them all, durably, with
        `put_many` when it ends normally; on an exception they are dropped (nothing names them)."""
        outer = getattr(self._local, "queue", None)
        queue: dict[str, bytes] = {}
        self._local.queue = queue
        try:
            yield
        finally:
            self._local.queue = outer
        self.put_many(queue)

    def put_many(self, blobs: Mapping[str, bytes]) -> None:
        """Store {digest: bytes} (digests computed by the caller from those bytes), durable on
        return: the missing ones are written to temp files and fsynced, renamed into place, then
        every blob directory involved (and the parent of each new one) is fsynced once."""
        if not blobs:
            return
        todo: list[tuple[Path, bytes]] = []
        with durable.deferred_dir_sync():
            made: set[Path] = set()
            for digest, data in blobs.items():
                path = self.path(digest)
                try:
                    present = path.stat().st_size == len(data)
                except (FileNotFoundError, NotADirectoryError):
                    present = False
                if present:
                    # Another put may have crashed after the rename but before its directory
                    # fsync: make the entry durable before anyone relies on it.
                    durable.sync_dir(path.parent)
                    continue
                if path.parent not in made:
                    durable.make_dirs(path.parent)
                    made.add(path.parent)
                todo.append((path, data))
            tmps = durable.write_temps([(path, data, _MODE) for path, data in todo])
            try:
                for (path, _), tmp in zip(todo, tmps, strict=True):
                    os.replace(tmp, path)
                    durable.sync_dir(path.parent)
            except BaseException:
                for tmp in tmps:
                    tmp.unlink(missing_ok=True)
                raise

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
