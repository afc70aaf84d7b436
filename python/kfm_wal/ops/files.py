"""File actions (write, delete, move) under a data root: planning, execution, reversal.

Planning reads the current state of every target, simulates the actions in order to get the
state they will produce, keeps each target's before-image and each new content (`contents.py`:
inline in the intent when small, else in the blob store), and derives the reversal: for every
path touched, "restore content X" or "delete", which puts it back as it was before the first
action. Nothing is executed by planning. A target absent before needs no before-image at all: its
step is "delete".

Payload action objects (recorded in the intent, exactly what is executed):
    {"type": "file.write", "path": P, "blob": "sha256:...", "bytes": N}
    {"type": "file.delete", "path": P}
    {"type": "file.move", "src": P, "dst": Q}
Reversal step objects:
    {"type": "file.restore", "path": P, "blob": "sha256:..."}
    {"type": "file.delete", "path": P}
"blob" is the content digest; the bytes are in `payload.inline` or the blob store (`Contents`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import durable
from .blobs import BlobStore
from .contents import Contents
from .digests import ABSENT, content_digest
from .errors import PathEscapeError, PlanError
from .paths import FileRoot

PAYLOAD_FORMAT = "kfm-wal-ops/files-1"


@dataclass(frozen=True)
class Write:
    path: str
    data: bytes


@dataclass(frozen=True)
class Delete:
    path: str


@dataclass(frozen=True)
class Move:
    src: str
    dst: str


Action = Write | Delete | Move


@dataclass
class FilePlan:
    root: FileRoot
    actions: list[dict[str, Any]]
    pre: dict[str, str]  # every target: its content digest before the first action, or ABSENT
    post: dict[str, str]  # the same paths after the last action
    steps: list[dict[str, Any]]  # reversal: brings every target back to `pre`
    touched: list[list[str]]  # the paths each action changes, by action index
    data: dict[str, bytes] = field(default_factory=dict)  # new contents by digest, for execution
    contents: Contents | None = None  # where the before-images are (for reversing in process)

    def steps_for(self, first_n: int) -> list[dict[str, Any]]:
        """Reversal steps for the paths touched by actions 0..first_n-1 only."""
        paths = {p for touched in self.touched[:first_n] for p in touched}
        return [s for s in self.steps if s["path"] in paths]


def _payload(root: FileRoot, action: Action, data: dict[str, bytes]) -> dict[str, Any]:
    """Confine the action's paths and describe it as recorded in the intent."""
    if isinstance(action, Write):
        if not isinstance(action.data, bytes | bytearray | memoryview):
            raise PlanError(f"{action.path!r}: data must be bytes, got {type(action.data).__name__}")
        content = bytes(action.data)
        digest = content_digest(content)
        data[digest] = content
        return {"type": "file.write", "path": root.resolve(action.path)[0], "blob": digest, "bytes": len(content)}
    if isinstance(action, Delete):
        return {"type": "file.delete", "path": root.resolve(action.path)[0]}
    if isinstance(action, Move):
        src, dst = root.resolve(action.src)[0], root.resolve(action.dst)[0]
        if src == dst:
            raise PlanError(f"move {action.src!r} -> {action.dst!r}: source and destination are the same file")
        return {"type": "file.move", "src": src, "dst": dst}
    raise PlanError(f"unknown file action {action!r}; use Write, Delete or Move")


def targets(action: Mapping[str, Any]) -> list[str]:
    return [action["src"], action["dst"]] if action["type"] == "file.move" else [action["path"]]


def simulate(state: dict[str, str], action: Mapping[str, Any]) -> None:
    """Apply `action` to `state` (path -> digest), refusing what could not run."""
    kind = action["type"]
    if kind == "file.write":
        state[action["path"]] = action["blob"]
    elif kind == "file.delete":
        if state[action["path"]] == ABSENT:
            raise PlanError(f"delete {action['path']!r}: no such file")
        state[action["path"]] = ABSENT
    elif kind == "file.move":
        if state[action["src"]] == ABSENT:
            raise PlanError(f"move {action['src']!r}: no such file")
        state[action["dst"]], state[action["src"]] = state[action["src"]], ABSENT
    else:
        raise PlanError(f"unknown action type {kind!r}")


def plan(root: FileRoot, contents: Contents, actions: Sequence[Action]) -> FilePlan:
    """Plan `actions`. Every path is confined and every action checked before anything is kept;
    then before-images and new contents go to `contents` (inline, or the blob store durably)."""
    if not actions:
        raise PlanError("an operation needs at least one action")
    data: dict[str, bytes] = {}
    payload = [_payload(root, a, data) for a in actions]
    touched = [targets(a) for a in payload]
    order = list(dict.fromkeys(p for paths in touched for p in paths))  # first-touch order
    before = {p: root.read(p) for p in order}
    pre = {p: ABSENT if b is None else content_digest(b) for p, b in before.items()}
    post = dict(pre)
    for action in payload:
        simulate(post, action)
    # The digests were just computed from these very bytes: they are not hashed again. Blobs are
    # stored together, durably, when the enclosing `blobs.deferred()` block (run, run_batch) ends.
    for p, b in before.items():
        if b is not None:
            contents.keep(pre[p], b)
    for digest, content in data.items():
        contents.keep(digest, content)
    steps = [
        {"type": "file.delete", "path": p} if pre[p] == ABSENT else {"type": "file.restore", "path": p, "blob": pre[p]}
        for p in reversed(order)
    ]
    return FilePlan(root, payload, pre, post, steps, touched, data, contents)


def _relocate(root: FileRoot, rel: str) -> Path:
    """Check confinement again at execution: a symlink swapped in since planning is refused."""
    again, full = root.locate(rel)
    if again != rel:
        raise PathEscapeError(f"{rel!r} now resolves to {again!r}: a symlink changed since planning")
    return full


def execute(root: FileRoot, action: Mapping[str, Any], data: Mapping[str, bytes]) -> dict[str, Any]:
    """Run one payload action atomically; returns the action as executed (for executed_digest)."""
    kind = action["type"]
    if kind == "file.write":
        content = data[action["blob"]]  # keyed by the digest of these bytes (`_payload`)
        durable.write_atomic(_relocate(root, action["path"]), content)
        return {"type": kind, "path": action["path"], "blob": action["blob"], "bytes": len(content)}
    if kind == "file.delete":
        durable.unlink(_relocate(root, action["path"]))
        return {"type": kind, "path": action["path"]}
    if kind == "file.move":
        durable.rename(_relocate(root, action["src"]), _relocate(root, action["dst"]))
        return {"type": kind, "src": action["src"], "dst": action["dst"]}
    raise PlanError(f"unknown action type {kind!r}")


def apply_steps(root: FileRoot, source: Contents | BlobStore, steps: Iterable[Mapping[str, Any]]) -> None:
    """Carry out reversal steps, with the before-images from `source` (the operation's contents).
    Idempotent: a path already in the wanted state is left alone, so a reversal interrupted by a
    crash can simply be run again."""
    for step in steps:
        rel = step["path"]
        current = root.digest(rel)
        if step["type"] == "file.delete":
            if current != ABSENT:
                durable.unlink(_relocate(root, rel))
        elif step["type"] == "file.restore":
            if current != step["blob"]:
                durable.write_atomic(_relocate(root, rel), source.get(step["blob"]))
        else:
            raise PlanError(f"unknown reversal step type {step['type']!r}")


__all__ = ["PAYLOAD_FORMAT", "Action", "Delete", "FilePlan", "Move", "Write", "apply_steps", "execute", "plan"]
