"""The sandbox a replay executes in: its own data root(s), STAC catalog(s) and graph store(s)
under one directory, standing in for the roots the log recorded.

Each root an operation names (payload.root, or a part's root or store in a mixed operation) is
mapped, in order of first appearance, to a directory of the sandbox named after the recorded one
(`data/processed` -> `processed/`, `data/stac` -> `stac/`, `data/graph` -> `graph/`; a second
root of the same name gets `-2`). The mapping is kept in `replay.json` at the sandbox's top, so a
later replay `--from` continues in the same sandbox. State keys stay the recorded ones (mixed
operations prefix them with the recorded root), so the hashes compare with the log's as they are.

Nothing here is durable: the sandbox is scratch, its files are written without fsync (the
sandbox is rebuilt from the log, not recovered). Nothing here opens a recorded (real) root."""

from __future__ import annotations

import gc
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..ops import root_state
from ..ops.digests import ABSENT
from ..ops.graph import GraphStore
from ..ops.paths import FileRoot
from .report import ReplayError

MANIFEST = "replay.json"
FORMAT = "kfm-wal-replay/sandbox-1"


@dataclass
class Mapped:
    kind: str  # "file" (data root or STAC catalog) or "graph"
    recorded: str  # the root as the log names it
    name: str  # its directory in the sandbox

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "recorded": self.recorded, "dir": self.name}


class Sandbox:
    def __init__(self, path: str | os.PathLike[str], log_id: str | None, roots: list[Mapped] | None = None) -> None:
        self.path = Path(path).absolute()
        self.log_id = log_id
        self.roots: dict[tuple[str, str], Mapped] = {(m.kind, m.recorded): m for m in roots or []}
        self._files: dict[str, FileRoot] = {}
        self._graphs: dict[str, GraphStore] = {}
        self._dirs: set[str] = set()  # directories known to exist (a delete never removes one)
        self.last_seq: int | None = None

    # -- opening -------------------------------------------------------------------------------

    @classmethod
    def create(cls, path: str | os.PathLike[str], log_id: str | None, resume: bool) -> Sandbox:
        """A new, empty sandbox at `path` (missing or an empty directory); with `resume`, also an
        earlier replay's sandbox of the same log (its manifest gives the mapping)."""
        where = Path(path).absolute()
        if where.exists() and not where.is_dir():
            raise ReplayError(f"sandbox {path} exists and is not a directory")
        manifest = where / MANIFEST
        if where.is_dir() and any(where.iterdir()):
            if not resume or not manifest.is_file():
                raise ReplayError(
                    f"sandbox {path} is not empty: a replay starts from an empty sandbox (or, with --from, "
                    "continues in one an earlier replay of the same log left)"
                )
            doc = orjson.loads(manifest.read_bytes())
            if doc.get("format") != FORMAT or doc.get("log_id") != log_id:
                raise ReplayError(f"sandbox {path} was made by a replay of another log ({doc.get('log_id')})")
            box = cls(where, log_id, [Mapped(r["kind"], r["recorded"], r["dir"]) for r in doc.get("roots", [])])
            box.last_seq = doc.get("last_seq")
            return box
        where.mkdir(parents=True, exist_ok=True)
        return cls(where, log_id)

    def save(self) -> None:
        doc = {
            "format": FORMAT,
            "log_id": self.log_id,
            "last_seq": self.last_seq,
            "roots": [m.as_dict() for m in self.roots.values()],
        }
        (self.path / MANIFEST).write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")

    def close(self) -> None:
        """Flush the sandbox's graph stores and let them go (this process keeps no handle on them:
        the sandbox can be removed, or opened again by anyone)."""
        for store in self._graphs.values():
            store.store.flush()
            GraphStore._open.pop(store.path, None)
        self._graphs.clear()
        gc.collect()  # the store is closed when its last reference goes: now, not at some later time

    def remove(self) -> None:
        """Close and delete the sandbox (a replay that halted without --until-failure)."""
        self.close()
        for _ in range(3):  # a store's background work may still add a file while the tree goes
            shutil.rmtree(self.path, ignore_errors=True)
            if not self.path.exists():
                return

    # -- mapping -------------------------------------------------------------------------------

    def mapped(self, kind: str, recorded: str) -> Mapped:
        found = self.roots.get((kind, recorded))
        if found is None:
            taken = {m.name for m in self.roots.values()} | {MANIFEST}
            base = Path(recorded).name or kind
            name, n = base, 1
            while name in taken:
                n += 1
                name = f"{base}-{n}"
            found = self.roots[(kind, recorded)] = Mapped(kind, recorded, name)
        return found

    def file_root(self, recorded: str) -> FileRoot:
        root = self._files.get(recorded)
        if root is None:
            root = self._files[recorded] = FileRoot(self.path / self.mapped("file", recorded).name)
        return root

    def graph(self, recorded: str) -> GraphStore:
        store = self._graphs.get(recorded)
        if store is None:
            store = self._graphs[recorded] = GraphStore.open(self.path / self.mapped("graph", recorded).name)
        return store

    # -- state ---------------------------------------------------------------------------------

    def file_state(self, recorded: str, path: str) -> str:
        return self.file_root(recorded).digest(path)

    def graph_state(self, recorded: str, triple: str) -> str:
        return root_state.PRESENT if self.graph(recorded).contains(triple) else ABSENT

    def digests(self) -> dict[str, str]:
        """{sandbox dir: digest of its whole state} (ops.root_state)."""
        return {m.name: root_state.digest(self.state_of(m)) for m in self.roots.values()}

    def state_of(self, m: Mapped) -> dict[str, str]:
        if m.kind == "graph":
            return root_state.graph_quads(self.graph(m.recorded).store)
        return root_state.file_tree(self.path / m.name)

    # -- actions (no fsync: scratch) -------------------------------------------------------------

    def write(self, recorded: str, rel: str, data: bytes) -> None:
        full = self.file_root(recorded).resolve(rel)[1]  # confined: '..', absolute paths refused
        self._parent(full)
        fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)

    def _parent(self, full: str | Path) -> None:
        parent = os.path.dirname(full)
        if parent not in self._dirs:
            os.makedirs(parent, exist_ok=True)
            self._dirs.add(parent)

    def delete(self, recorded: str, rel: str) -> None:
        self._locate(recorded, rel).unlink()

    def move(self, recorded: str, src: str, dst: str) -> None:
        target = self._locate(recorded, dst)
        self._parent(target)
        os.replace(self._locate(recorded, src), target)

    def graph_update(self, recorded: str, delete: list[str], insert: list[str]) -> None:
        ops = []
        if delete:
            ops.append("DELETE DATA { " + " . ".join(delete) + " . }")
        if insert:
            ops.append("INSERT DATA { " + " . ".join(insert) + " . }")
        if ops:
            self.graph(recorded).store.update(" ; ".join(ops))

    def _locate(self, recorded: str, rel: str) -> Path:
        return self.file_root(recorded).locate(rel)[1]  # confined: '..', absolute paths refused


def describe_roots(box: Sandbox) -> list[dict[str, Any]]:
    return [m.as_dict() for m in box.roots.values()]


__all__ = ["MANIFEST", "Mapped", "Sandbox", "describe_roots"]
