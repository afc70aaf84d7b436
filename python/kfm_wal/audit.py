"""Audit the roots a log writes against it: "no unauthorized writes".

Every root the log's operations name (data roots, STAC catalogs, graph stores: `audit_tree`
replays the log for the state each target should be in now) is compared with what is there:

- `tree.unexpected_state`: a file's content (or a STAC object's file) differs from what the log
  says, or a file or triple the log deleted is back;
- `tree.missing_file`: the log left content at a path (a file, a STAC item, collection or the
  catalog) and there is no file;
- `tree.unlogged_file`: a file (or symlink, or other non-directory entry) no recorded operation
  ever touched;
- `tree.missing_triple`: the log left a triple in a graph store and it is not there;
- `tree.unlogged_triple`: a triple (or quad of a named graph) in a store that no recorded
  operation ever inserted;
- `tree.unreadable_root`: a root that cannot be read at all (a damaged graph store, a file that
  cannot be opened): none of its targets can be judged.

Each finding names the target (`Finding.target`: kind, root, id, path, expected and actual state)
and, but for unlogged ones, the operation that last set it (its completion, or its intent while
pending). Ignored: the temporary files of an interrupted atomic write (`.<name>.<32 hex>.tmp`,
see `kfm_wal.ops.durable.write_atomic`; a crash can leave them, and they never replace a file),
another root nested in the one audited, directories (operations create parents and leave empty
ones behind) and custom actions (their state lives outside any root). Only the log's records are
trusted: an operation whose intent or completion was forged would need a forged signature, which
`verify` catches.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .audit_tree import FILE, GRAPH, STAC, Expected, LogTrees, root_key
from .findings import Finding
from .ops.digests import ABSENT
from .ops.root_state import TEMP_FILE, file_tree, read_graph
from .reader import Record, records

UNEXPECTED_STATE = "tree.unexpected_state"
MISSING_FILE = "tree.missing_file"
UNLOGGED_FILE = "tree.unlogged_file"
MISSING_TRIPLE = "tree.missing_triple"
UNLOGGED_TRIPLE = "tree.unlogged_triple"
UNREADABLE_ROOT = "tree.unreadable_root"
CODES = (UNEXPECTED_STATE, MISSING_FILE, UNLOGGED_FILE, MISSING_TRIPLE, UNLOGGED_TRIPLE, UNREADABLE_ROOT)

_STAC_ITEM = re.compile(r"^collections/([^/]+)/items/([^/]+)\.json$")
_STAC_COLLECTION = re.compile(r"^collections/([^/]+)/collection\.json$")


@dataclass(frozen=True)
class Audited:
    kind: str  # FILE, STAC or GRAPH
    recorded: str  # root_key of the root as the log names it
    path: Path  # where it is read (the recorded root itself, or a copy of it)


@dataclass(frozen=True)
class Problem:
    code: str
    record: Record | None  # what set the expected state; None for an unlogged target
    wal_id: str | None
    message: str
    target: dict[str, Any]

    def finding(self) -> Finding:
        rec = self.record
        if rec is None:
            return Finding(self.code, "", 0, None, None, self.message, self.target)
        return Finding(self.code, rec.segment, rec.offset, rec.seq, self.wal_id, self.message, self.target)


def select_roots(
    trees: LogTrees, within: str | os.PathLike[str] | None = None, recorded_root: str | os.PathLike[str] | None = None
) -> list[Audited]:
    """The roots to audit: every root the log names (at or under `within` when given; `within`
    itself, as a data root, when it holds none). With `recorded_root`, `within` is a copy of that
    recorded root, audited as if it were there."""
    if recorded_root is not None:
        if within is None:
            raise ValueError("recorded_root needs the directory that stands in for it")
        key = root_key(recorded_root)
        return [Audited(trees.roots.get(key, FILE), key, Path(within))]
    chosen = [Audited(kind, r, Path(r)) for r, kind in sorted(trees.roots.items())]
    if within is None:
        return chosen
    top = Path(root_key(within))
    chosen = [a for a in chosen if a.path == top or a.path.is_relative_to(top)]
    return chosen or [Audited(FILE, str(top), Path(within))]


def _nested(trees: LogTrees, audited: Audited) -> list[Path]:
    """Other recorded roots inside this one (audited on their own, not as its files)."""
    base = Path(audited.recorded)
    inside = [Path(r) for r in trees.roots if r != audited.recorded and Path(r).is_relative_to(base)]
    return [audited.path / p.relative_to(base) for p in inside]


def _stac(path: str) -> tuple[str, str]:
    """(target kind, id) of a file of a STAC catalog."""
    if path == "catalog.json":
        return "stac.catalog", "catalog"
    m = _STAC_ITEM.match(path)
    if m:
        return "stac.item", f"{m[1]}/{m[2]}"
    m = _STAC_COLLECTION.match(path)
    if m:
        return "stac.collection", m[1]
    return "file", path


def _label(kind: str, ident: str, path: str | None) -> str:
    if kind == "graph.triple":
        return f"triple {ident}"
    if kind == "file":
        return ident
    return f"{path} ({kind.replace('.', ' ', 1).replace('stac ', 'STAC ')} {ident})"


def _describe(state: str) -> str:
    return state if state.startswith("sha256:") or state in (ABSENT, "present") else f"a {state}"


def _compare(trees: LogTrees, audited: Audited) -> Iterable[Problem]:
    recorded = trees.recorded.get(audited.recorded, audited.recorded)
    try:
        if audited.kind == GRAPH:
            actual = read_graph(audited.path)
        else:
            actual = file_tree(audited.path, _nested(trees, audited))
    except (OSError, RuntimeError, ValueError) as e:  # pyoxigraph reports a damaged store as RuntimeError
        kind = "graph.store" if audited.kind == GRAPH else f"{audited.kind}.root"
        where: dict[str, Any] = {"kind": kind, "root": recorded, "id": recorded, "code": UNREADABLE_ROOT}
        where.update(expected=[], actual="unreadable")
        why = f"{audited.path}: cannot be read ({type(e).__name__}: {e}); none of its targets can be judged"
        yield Problem(UNREADABLE_ROOT, None, None, why, where)
        return
    wanted = dict(trees.targets(audited.recorded))
    for key in sorted(set(actual) | set(wanted)):
        want: Expected | None = wanted.get(key)
        got = actual.get(key, ABSENT)
        if want is not None and got in want.states:
            continue
        if audited.kind == GRAPH:
            kind, ident, path = "graph.triple", key, None
        else:
            kind, ident = _stac(key) if audited.kind == STAC else ("file", key)
            path = key
        target: dict[str, Any] = {"kind": kind, "root": recorded, "id": ident}
        if path is not None:
            target["path"] = path
        label = _label(kind, ident, path)
        if want is None:
            code = UNLOGGED_TRIPLE if audited.kind == GRAPH else UNLOGGED_FILE
            target.update(code=code, expected=[], actual=got)
            why = f"{label}: {_describe(got)} in {audited.path}, written by no recorded operation"
            yield Problem(code, None, None, why, target)
            continue
        if got == ABSENT:
            code = MISSING_TRIPLE if audited.kind == GRAPH else MISSING_FILE
            what = "missing"
        else:
            code, what = UNEXPECTED_STATE, f"found {_describe(got)}"
        rec = want.record
        expected = sorted(want.states)
        target.update(code=code, expected=expected, actual=got, seq=rec.seq, wal_id=want.wal_id)
        why = (
            f"{label}: {what} in {audited.path}; the log expects {' or '.join(expected)} "
            f"(operation {want.wal_id}, seq {rec.seq})"
        )
        yield Problem(code, rec, want.wal_id, why, target)


def problems(trees: LogTrees, roots: Iterable[Audited]) -> list[Problem]:
    """Every difference between the audited roots and the replayed log (call `trees.finish` first)."""
    return [p for audited in roots for p in _compare(trees, audited)]


def audit_tree(
    log: str | os.PathLike[str],
    data_root: str | os.PathLike[str] | None = None,
    *,
    recorded_root: str | os.PathLike[str] | None = None,
) -> list[Finding]:
    """Findings for every difference between the roots the log's operations write (data roots,
    STAC catalogs, graph stores) and the state they left them in. `data_root`: only the roots at
    or under it (itself, as a data root, when the log names none there). `recorded_root`: the
    root the operations were recorded with, when auditing a copy of it at `data_root`."""
    trees = LogTrees()
    for record in records(log):
        trees.feed(record)
    trees.finish()
    return [p.finding() for p in problems(trees, select_roots(trees, data_root, recorded_root))]


class TreeMatchesLog:
    """`kfm_wal.verify(path, rules=[TreeMatchesLog()])`: the audit as a rule (every root the log
    names; or `TreeMatchesLog("data")`: those under data/). Its findings carry the rule's id;
    each message starts with the specific finding code, which `Finding.target["code"]` holds."""

    id = "tree.matches_log"
    whole_log = True  # the state every operation left: an incremental run still reads them all
    description = "every data root, STAC catalog and graph store is exactly as the log's operations left it"

    def __init__(
        self,
        data_root: str | os.PathLike[str] | None = None,
        recorded_root: str | os.PathLike[str] | None = None,
    ) -> None:
        self._trees = LogTrees()
        self._within, self._recorded_root = data_root, recorded_root
        self.audited: list[Audited] = []  # the roots audited (known after `finish`)

    def check(self, record: Record) -> Iterable[str]:
        self._trees.feed(record)
        return ()

    def finish(self) -> Iterable[tuple[Record | None, str, dict[str, Any] | None]]:
        self._trees.finish()
        self.audited = select_roots(self._trees, self._within, self._recorded_root)
        for p in problems(self._trees, self.audited):
            yield p.record, f"{p.code}: {p.message}", p.target


__all__ = [
    "CODES",
    "MISSING_FILE",
    "MISSING_TRIPLE",
    "TEMP_FILE",
    "UNEXPECTED_STATE",
    "UNLOGGED_FILE",
    "UNLOGGED_TRIPLE",
    "UNREADABLE_ROOT",
    "Audited",
    "LogTrees",
    "Problem",
    "TreeMatchesLog",
    "audit_tree",
    "problems",
    "select_roots",
]
