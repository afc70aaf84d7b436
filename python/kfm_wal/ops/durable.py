"""Durable filesystem primitives: each change is on stable storage when the call returns, or,
inside a `deferred_dir_sync()` block, when the block ends.

The order matters for crash safety: file bytes are fsynced before the rename that makes them
visible, and the directory is fsynced after it, so after a crash a path holds either its old
bytes or its new bytes, never a mix, and a change that returned is not lost.

Batching: inside `with deferred_dir_sync():` (this thread only) the directory fsyncs that follow
renames, unlinks and directory creation are collected and each directory is fsynced ONCE when the
block ends. File bytes are still fsynced before every rename, so per-file atomicity is unchanged;
only the point at which the renames are known durable moves to the end of the block, and callers
record nothing that relies on them ("succeeded", an intent naming a blob) until it has ended."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

_local = threading.local()  # .pending: dict[Path, None] of the innermost deferred_dir_sync block
_FSYNC_WORKERS = 16  # concurrent fsyncs of temp files: the file system commits them together
_PARALLEL_MIN = 4  # fewer temp files than this: fsynced inline (a thread pool costs more)
_OPEN_MAX = 256  # temp files open at once in write_temps


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_dir(path: Path) -> None:
    """fsync the directory `path` now or, inside a `deferred_dir_sync` block, when it ends."""
    pending: dict[Path, None] | None = getattr(_local, "pending", None)
    if pending is None:
        fsync_dir(path)
    else:
        pending[path] = None


def fsync_dirs(paths: Iterable[Path]) -> None:
    """fsync each directory once (in the order given, duplicates skipped)."""
    for path in dict.fromkeys(paths):
        fsync_dir(path)


@contextmanager
def deferred_dir_sync() -> Iterator[None]:
    """Collect the directory fsyncs of the durable calls made in the block (this thread) and do
    each directory once when it ends. On an exception they are still done (best effort, errors
    of the fsyncs then suppressed in favour of the exception being raised)."""
    outer = getattr(_local, "pending", None)
    pending: dict[Path, None] = {}
    _local.pending = pending
    try:
        yield
    except BaseException:
        _local.pending = outer
        for path in pending:
            try:
                fsync_dir(path)
            except OSError:
                pass
        raise
    _local.pending = outer
    fsync_dirs(pending)


def make_dirs(path: Path) -> None:
    """Create `path` and missing parents; each new directory's entry is fsynced in its parent."""
    missing: list[Path] = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            pass  # created concurrently: fine, it exists
        sync_dir(d.parent)


def write_temp(path: Path, data: bytes, mode: int) -> Path:
    """Write `data` to a new temp file next to `path` and fsync it; returns the temp path (the
    caller renames it over `path`, or unlinks it). The directory must exist."""
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def write_temps(items: Sequence[tuple[Path, bytes, int]]) -> list[Path]:
    """`write_temp` for many (path, data, mode): the temp files are created and written in turn,
    then fsynced concurrently (each file its own fsync; the fsyncs overlap, so the file system
    commits them together), all durable on return. On an error every temp file is removed."""
    tmps: list[Path] = []
    try:
        if len(items) < _PARALLEL_MIN:
            for path, data, mode in items:
                tmps.append(write_temp(path, data, mode))
            return tmps
        with ThreadPoolExecutor(max_workers=min(_FSYNC_WORKERS, len(items))) as pool:
            for start in range(0, len(items), _OPEN_MAX):
                fds: list[int] = []
                try:
                    for path, data, mode in items[start : start + _OPEN_MAX]:
                        tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
                        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
                        fds.append(fd)
                        tmps.append(tmp)
                        view = memoryview(data)
                        while view:
                            view = view[os.write(fd, view) :]
                    for _ in pool.map(os.fsync, fds):
                        pass
                finally:
                    for fd in fds:
                        os.close(fd)
        return tmps
    except BaseException:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: bytes, mode: int | None = None) -> None:
    """Replace `path` with `data`: temp file in the same directory, fsync, rename, fsync dir
    (deferred to the end of an enclosing `deferred_dir_sync` block).
    `mode` defaults to the existing file's permission bits (0o644 for a new file)."""
    make_dirs(path.parent)
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o644
    tmp = write_temp(path, data, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    sync_dir(path.parent)


def unlink(path: Path) -> None:
    path.unlink()
    sync_dir(path.parent)


def rename(src: Path, dst: Path) -> None:
    """Move `src` over `dst` (atomic on one filesystem); both directories are fsynced."""
    make_dirs(dst.parent)
    os.replace(src, dst)
    sync_dir(dst.parent)
    if src.parent != dst.parent:
        sync_dir(src.parent)


__all__ = [
    "deferred_dir_sync",
    "fsync_dir",
    "fsync_dirs",
    "make_dirs",
    "rename",
    "sync_dir",
    "unlink",
    "write_atomic",
    "write_temp",
    "write_temps",
]
