"""The state of a whole root, per kind, and its digest: what replay compares a sandbox with the
real roots by (and what snapshots will record). Reading only: nothing here creates, opens for
writing or locks anything under the root it reads.

- file root (a data root, a STAC catalog): {relative POSIX path: content digest} of every
  non-directory entry under it (symlinks and special files by kind, "symlink"/"special file",
  never followed), the temporary files of an interrupted atomic write left out;
- graph store: {N-Quads line: "present"} of every quad in the store.

The digest of a root is `digests.state_hash` of its state: the same function the operations'
pre_state_hash / post_state_expected use, over every key of the root instead of one operation's."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from .digests import ABSENT, content_digest, state_hash

TEMP_FILE = re.compile(r"^\..+\.[0-9a-f]{32}\.tmp$")
PRESENT = "present"


def file_tree(root: str | os.PathLike[str], exclude: Collection[Path] = ()) -> dict[str, str]:
    """{relative POSIX path: content digest} of every non-directory entry under `root` (empty when
    `root` is missing); `exclude`: absolute directories left out (another root nested in this one)."""
    base_root = Path(root)
    found: dict[str, str] = {}
    if not base_root.is_dir():
        return found
    skip = {Path(p) for p in exclude}
    for dirpath, dirnames, filenames in os.walk(base_root, followlinks=False):
        base = Path(dirpath)
        for name in list(dirnames):
            if (base / name).is_symlink():  # os.walk lists a symlink to a directory as a dir
                filenames.append(name)
                dirnames.remove(name)
            elif base / name in skip:
                dirnames.remove(name)
        for name in filenames:
            if TEMP_FILE.match(name):
                continue
            full = base / name
            rel = full.relative_to(base_root).as_posix()
            mode = full.lstat().st_mode
            if stat.S_ISREG(mode):
                with open(full, "rb") as f:  # read-only
                    found[rel] = content_digest(f.read())
            else:
                found[rel] = "symlink" if stat.S_ISLNK(mode) else "special file"
    return found


def graph_quads(store: Any) -> dict[str, str]:
    """{N-Quads line: "present"} of every quad of a pyoxigraph store (any graph)."""
    return {str(q): PRESENT for q in store.quads_for_pattern(None, None, None, None)}


def read_graph(path: str | os.PathLike[str]) -> dict[str, str]:
    """`graph_quads` of the store at `path`, opened read-only (empty when there is none). A store
    this process already has open (`ops.graph.GraphStore`) is read through that handle."""
    from .graph import GraphStore

    where = Path(path).absolute()
    if not where.is_dir():
        return {}
    where = where.resolve()
    opened = GraphStore._open.get(where)
    if opened is not None:
        return graph_quads(opened.store)
    import pyoxigraph as ox

    return graph_quads(ox.Store.read_only(str(where)))


def digest(state: Mapping[str, str]) -> str:
    return state_hash(state)


def first_difference(expected: Mapping[str, str], actual: Mapping[str, str]) -> tuple[str, str, str] | None:
    """(key, expected state, actual state) of the first key (sorted) that differs, or None."""
    for key in sorted(set(expected) | set(actual)):
        want, got = expected.get(key, ABSENT), actual.get(key, ABSENT)
        if want != got:
            return key, want, got
    return None


__all__ = ["PRESENT", "TEMP_FILE", "digest", "file_tree", "first_difference", "graph_quads", "read_graph"]
