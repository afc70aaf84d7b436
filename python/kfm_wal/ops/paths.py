"""The data root file operations are confined to, and reading the state of paths under it.

Every path an action names is relative to the root. `..`, absolute paths and paths that resolve
(through symlinks) outside the root are refused with PathEscapeError. A path that goes through a
symlink inside the root is recorded as the path it resolves to, so the log names the file that
actually changes."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from . import durable
from .digests import ABSENT, content_digest
from .errors import PathEscapeError, PlanError

DEFAULT_ROOT = "data/processed"


def _escape(path: object, why: str) -> PathEscapeError:
    err = PathEscapeError(f"{path!r}: {why}")
    err.path = str(path)
    return err


class FileRoot:
    """A directory that file actions are confined to (created if missing)."""

    def __init__(self, root: str | os.PathLike[str] = DEFAULT_ROOT) -> None:
        path = Path(root).absolute()
        durable.make_dirs(path)
        self.path = path.resolve()
        self._prefix = str(self.path).rstrip("/")  # "" for the file system root

    def locate(self, rel: str) -> tuple[str, Path]:
        """(canonical relative path, absolute path) of `rel`, or PathEscapeError."""
        canonical, full = self.resolve(rel)
        return canonical, Path(full)

    def resolve(self, rel: str) -> tuple[str, str]:
        """`locate` with the absolute path as a string (no Path object built: this runs several
        times per file operation)."""
        if not isinstance(rel, str) or not rel or "\x00" in rel:
            raise _escape(rel, "a path must be a non-empty string")
        if rel.startswith("/"):
            raise _escape(rel, f"absolute paths are refused; give a path relative to the data root {self.path}")
        if "\\" in rel:
            raise _escape(rel, "backslashes are refused; separate path components with '/'")
        parts = [p for p in rel.split("/") if p not in ("", ".")]  # the parts PurePosixPath keeps
        if ".." in parts:
            raise _escape(rel, f"'..' is refused; paths stay inside the data root {self.path}")
        if not parts:
            raise _escape(rel, f"resolves to {self.path}, the data root itself, not a file in it")
        # What Path.resolve() does, from the (resolved) root down: follow every symlink that exists
        # along the path, the last component included. Without one (the usual case) the path is
        # the lexical one and stays inside the root: one lstat per component, no realpath walk
        # from "/".
        cur = self._prefix
        for i, part in enumerate(parts):
            nxt = f"{cur}/{part}"
            try:
                mode = os.lstat(nxt).st_mode
            except OSError:  # missing, or a file in the way: nothing further down can be a link
                return "/".join(parts), self._prefix + "/" + "/".join(parts)
            if stat.S_ISLNK(mode):
                return self._through_link("/".join([nxt, *parts[i + 1 :]]), rel)
            cur = nxt
        return "/".join(parts), cur

    def _through_link(self, lexical: str, rel: str) -> tuple[str, str]:
        full = Path(os.path.realpath(lexical))
        if full == self.path or not full.is_relative_to(self.path):
            raise _escape(rel, f"resolves to {full}, outside the data root {self.path} (symlink)")
        return full.relative_to(self.path).as_posix(), str(full)

    def read(self, rel: str) -> bytes | None:
        """Current bytes of the regular file at `rel`, None when absent."""
        _, full = self.resolve(rel)
        try:
            # O_NONBLOCK: a FIFO put there is refused below instead of blocking the open
            fd = os.open(full, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        except NotADirectoryError:
            raise PlanError(f"{rel!r}: a parent of {full} is a file, not a directory") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise PlanError(f"{rel!r}: not a regular file ({full}); file actions only change files")
            chunks = []
            while chunk := os.read(fd, max(st.st_size, 1 << 16)):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def digest(self, rel: str) -> str:
        data = self.read(rel)
        return ABSENT if data is None else content_digest(data)

    def observe(self, rels: Iterable[str]) -> dict[str, str]:
        """Current state {path: content digest or "absent"} of `rels`."""
        return {rel: self.digest(rel) for rel in rels}


__all__ = ["DEFAULT_ROOT", "FileRoot"]
