"""A log's segments in any fsspec filesystem (s3://, gs://, az://, file://, memory://), laid out
as a log directory is: rotated segments under `archive/`, the live segment's sealed prefix at the
top, and the archive's manifest (`MANIFEST.json`). Read-only here; `push` writes."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .. import _core
from ..errors import NotALogError, RemoteError, UsageError
from ..extras import needs

ARCHIVE = "archive"
MANIFEST = "MANIFEST.json"


def is_url(target: str) -> bool:
    """Whether `target` names a place by URL (`scheme://...`) rather than a local path."""
    scheme, sep, _ = target.partition("://")
    return bool(sep) and scheme.replace("+", "").isalnum()


@dataclass(frozen=True)
class RemoteSegment:
    """One segment object: its file name, where it is listed, its full URL and size."""

    name: str
    number: int
    first_seq: int
    archived: bool
    url: str
    size: int


@contextmanager
def remote(what: str) -> Iterator[None]:
    """Phrase a storage library's failure (botocore, gcsfs, adlfs, OS) as one RemoteError line."""
    try:
        yield
    except (RemoteError, UsageError, NotALogError):
        raise
    except FileNotFoundError as e:
        raise RemoteError(f"{what}: not found ({e})") from None
    except Exception as e:  # noqa: BLE001 - every storage backend has its own error family
        first = str(e).splitlines()[0] if str(e) else ""
        raise RemoteError(f"{what}: {type(e).__name__}: {first}".rstrip(": ")) from None


class ArchiveStore:
    """The segments at `url`. `storage_options` go to the fsspec filesystem (credentials,
    `endpoint_url`, `anon`, ...); without them the library's own defaults apply (environment,
    instance roles, config files)."""

    def __init__(self, url: str, storage_options: Mapping[str, Any] | None = None) -> None:
        if not is_url(url):
            raise UsageError(f"{url!r} is not a URL (scheme://...)")
        self.url = url.rstrip("/")
        self.storage_options = dict(storage_options or {})
        with needs("kfm-wal archives in object storage", "distributed"):
            import fsspec

        try:
            fs, root = fsspec.core.url_to_fs(self.url, **self.storage_options)
        except (ImportError, ValueError) as e:
            if isinstance(e, ModuleNotFoundError):
                with needs("kfm-wal archives in object storage", "distributed"):
                    raise
            raise UsageError(f"{self.url}: {e}") from None
        self.fs: Any = fs
        self.root: str = root.rstrip("/")

    def object_url(self, relative: str) -> str:
        return f"{self.url}/{relative}"

    def _path(self, relative: str) -> str:
        return posixpath.join(self.root, relative) if self.root else relative

    def segments(self) -> list[RemoteSegment]:
        """Every segment object, in log order: the core's own rules for a listing (which names
        count, compressed twins in archive/, order) applied to the objects found."""
        with remote(self.url):
            self.fs.invalidate_cache()
            found = self._listed(self.root, archived=False) + self._listed(self._path(ARCHIVE), archived=True)
        sizes = {(name, archived): size for name, archived, size in found}
        arranged = _core.arrange_listing([(name, archived) for name, archived, _ in found])
        if not arranged:
            raise NotALogError(f"{self.url} holds no kfm-wal segments (none at the top or in {ARCHIVE}/)")
        return [
            RemoteSegment(
                name,
                number,
                first_seq,
                archived,
                self.object_url(f"{ARCHIVE}/{name}" if archived else name),
                sizes[(name, archived)],
            )
            for name, archived, number, first_seq in arranged
        ]

    def _listed(self, path: str, *, archived: bool) -> list[tuple[str, bool, int]]:
        """(file name, archived, size) of every file object at `path`."""
        try:
            entries = self.fs.ls(path, detail=True)
        except FileNotFoundError:
            if archived:
                return []
            gone = RemoteError(f"{self.url}: no such bucket, container or directory")
            gone.missing = True
            raise gone from None
        return [
            (posixpath.basename(str(entry["name"]).rstrip("/")), archived, int(entry["size"]))
            for entry in entries
            if entry.get("type") in ("file", None)
        ]

    def read(self, relative: str) -> bytes:
        with remote(self.object_url(relative)):
            data: bytes = self.fs.cat_file(self._path(relative))
            return data

    def read_if_there(self, relative: str) -> bytes | None:
        try:
            return self.read(relative)
        except RemoteError:
            if self.exists(relative):
                raise
            return None

    def exists(self, relative: str) -> bool:
        with remote(self.object_url(relative)):
            return bool(self.fs.exists(self._path(relative)))

    def size(self, relative: str) -> int | None:
        with remote(self.object_url(relative)):
            try:
                return int(self.fs.size(self._path(relative)))
            except FileNotFoundError:
                return None

    def write(self, relative: str, data: bytes) -> None:
        with remote(self.object_url(relative)):
            if "/" in relative:
                self.fs.makedirs(self._path(posixpath.dirname(relative)), exist_ok=True)
            self.fs.pipe_file(self._path(relative), data)

    def delete(self, relative: str) -> None:
        with remote(self.object_url(relative)):
            self.fs.rm_file(self._path(relative))


def local_path(url: str, storage_options: Mapping[str, Any] | None = None) -> str | None:
    """The path of `url` when it is on a filesystem this process opens directly (file://: a local
    disk, or a filesystem shared by the cluster's machines), else None."""
    with needs("kfm-wal archives in object storage", "distributed"):
        import fsspec

    with remote(url):
        fs, path = fsspec.core.url_to_fs(url, **dict(storage_options or {}))
    protocols = (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)
    return str(path) if "file" in protocols else None


def read_segment(url: str, storage_options: Mapping[str, Any] | None = None) -> bytes:
    """The bytes of one segment object, read where this runs (a Dask worker, for one)."""
    with needs("kfm-wal archives in object storage", "distributed"):
        import fsspec

    with remote(url):
        fs, path = fsspec.core.url_to_fs(url, **dict(storage_options or {}))
        data: bytes = fs.cat_file(path)
        return data


__all__ = ["ARCHIVE", "MANIFEST", "ArchiveStore", "RemoteSegment", "is_url", "local_path", "read_segment", "remote"]
