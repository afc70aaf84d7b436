"""The data root file operations are confined to, and reading the state of paths under it.

Every path an action names is relative to the root. `..`, absolute paths and paths that resolve
(through symlinks) outside the root are refused with PathEscapeError. A path that goes through a
symlink inside the root is recorded as the path it resolves to, so the log names the file that
actually changes."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

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

    def locate(self, rel: str) -> tuple[str, Path]:
        """(canonical relative path, absolute path) of `rel`, or PathEscapeError."""
        if not isinstance(rel, str) or not rel or "\x00" in rel:
            raise _escape(rel, "a path must be a non-empty string")
        pure = PurePosixPath(rel)
        if pure.is_absolute():
            raise _escape(rel, f"absolute paths are refused; give a path relative to the data root {self.path}")
        if "\\" in rel:
            raise _escape(rel, "backslashes are refused; separate path components with '/'")
        if ".." in pure.parts:
            raise _escape(rel, f"'..' is refused; paths stay inside the data root {self.path}")
        # resolve() follows every symlink that exists along the path, the last component included.
        full = (self.path / pure).resolve()
        if full == self.path or not full.is_relative_to(self.path):
            raise _escape(rel, f"resolves to {full}, outside the data root {self.path} (symlink)")
        return full.relative_to(self.path).as_posix(), full

    def read(self, rel: str) -> bytes | None:
        """Current bytes of the regular file at `rel`, None when absent."""
        _, full = self.locate(rel)
        try:
            mode = full.stat().st_mode
        except FileNotFoundError:
            return None
        except NotADirectoryError:
            raise PlanError(f"{rel!r}: a parent of {full} is a file, not a directory") from None
        if not stat.S_ISREG(mode):
            raise PlanError(f"{rel!r}: not a regular file ({full}); file actions only change files")
        try:
            return full.read_bytes()
        except FileNotFoundError:
            return None

    def digest(self, rel: str) -> str:
        data = self.read(rel)
        return ABSENT if data is None else content_digest(data)

    def observe(self, rels: Iterable[str]) -> dict[str, str]:
        """Current state {path: content digest or "absent"} of `rels`."""
        return {rel: self.digest(rel) for rel in rels}


__all__ = ["DEFAULT_ROOT", "FileRoot"]
