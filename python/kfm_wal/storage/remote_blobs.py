"""The blob store of an archive at a URL, read back (replay's contents, a compaction's seal list):
a read-only `BlobStore` whose every blob is checked against its digest. Needs the operation layers
(`kfm_wal.ops`), as replay does."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from ..errors import RemoteError
from ..ops.blobs import BlobStore
from ..ops.errors import BlobError
from .store import ArchiveStore


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


__all__ = ["RemoteBlobs"]
