"""Durable filesystem primitives: each change is on stable storage when the call returns.

The order matters for crash safety: file bytes are fsynced before the rename that makes them
visible, and the directory is fsynced after it, so after a crash a path holds either its old
bytes or its new bytes, never a mix, and a change that returned is not lost."""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
        fsync_dir(d.parent)


def write_atomic(path: Path, data: bytes, mode: int | None = None) -> None:
    """Replace `path` with `data`: temp file in the same directory, fsync, rename, fsync dir.
    `mode` defaults to the existing file's permission bits (0o644 for a new file)."""
    make_dirs(path.parent)
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o644
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def unlink(path: Path) -> None:
    path.unlink()
    fsync_dir(path.parent)


def rename(src: Path, dst: Path) -> None:
    """Move `src` over `dst` (atomic on one filesystem); both directories are fsynced."""
    make_dirs(dst.parent)
    os.replace(src, dst)
    fsync_dir(dst.parent)
    if src.parent != dst.parent:
        fsync_dir(src.parent)


__all__ = ["fsync_dir", "make_dirs", "rename", "unlink", "write_atomic"]
