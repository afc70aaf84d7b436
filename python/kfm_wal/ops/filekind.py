"""File actions as an action kind (`file`): a `Part` over a `files.FilePlan`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import files
from .blobs import BlobStore
from .contents import Contents
from .kinds import ActionKind, Context, Part, Reopened, prefixed, register_kind
from .paths import DEFAULT_ROOT, FileRoot


def file_root(where: Any, default: str = DEFAULT_ROOT) -> FileRoot:
    return where if isinstance(where, FileRoot) else FileRoot(where if where is not None else default)


def context_root(ctx: Context, where: Any, default: str = DEFAULT_ROOT) -> FileRoot:
    """`file_root`, resolved (and created) once per context, i.e. once per run or run_batch
    instead of once per planned operation."""
    if isinstance(where, FileRoot):
        return where
    key = (where, default)
    try:
        cached = ctx.roots.get(key)
    except TypeError:  # an unhashable path-like: not cached
        return file_root(where, default)
    if cached is None:
        cached = ctx.roots[key] = file_root(where, default)
    assert isinstance(cached, FileRoot)
    return cached


def planned_contents(ctx: Context) -> Contents:
    """Where the operation being planned keeps its contents (all blobs without an operation's)."""
    return ctx.contents if ctx.contents is not None else Contents(ctx.blobs)


def recorded_contents(ctx: Context) -> Contents | BlobStore:
    """Where the recorded operation being undone keeps its contents."""
    return ctx.contents if ctx.contents is not None else ctx.blobs


class FilePart(Part):
    kind = "file"

    def __init__(self, plan: files.FilePlan, blobs: BlobStore, prefix: str = "") -> None:
        self.plan, self.blobs = plan, blobs
        self.actions = plan.actions
        self.steps = plan.steps
        self.set_prefix(prefix)

    def set_prefix(self, prefix: str) -> None:
        """State keys are `prefix + path` ("" in a files-1 operation, where keys are bare paths)."""
        self.prefix = prefix
        self.pre, self.post = prefixed(prefix, self.plan.pre), prefixed(prefix, self.plan.post)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "root": str(self.plan.root.path)}

    def execute(self, i: int) -> dict[str, Any]:
        return files.execute(self.plan.root, self.plan.actions[i], self.plan.data)

    def reverse(self, first_n: int) -> None:
        source = self.plan.contents if self.plan.contents is not None else self.blobs
        files.apply_steps(self.plan.root, source, self.plan.steps_for(first_n))

    def observe(self) -> dict[str, str]:
        return prefixed(self.prefix, self.plan.root.observe(self.plan.pre))


class ReopenedFiles(Reopened):
    def __init__(self, root: FileRoot, source: Contents | BlobStore, prefix: str, context_key: str) -> None:
        """`source`: the recorded operation's contents (its payload.inline, then the blob store)."""
        self.root, self.source, self.prefix, self.context_key = root, source, prefix, context_key

    def undo_actions(self, steps: Sequence[Mapping[str, Any]]) -> list[Any]:
        return [
            files.Write(s["path"], self.source.get(s["blob"]))
            if s["type"] == "file.restore"
            else files.Delete(s["path"])
            for s in steps
        ]

    def target(self) -> dict[str, Any]:
        return {self.context_key: self.root}


def file_prefix(kind: str, root: FileRoot) -> str:
    return f"{kind}:{root.path}:"


class FileKind(ActionKind):
    name = "file"

    def handles(self, action: object) -> bool:
        return isinstance(action, files.Write | files.Delete | files.Move)

    def plan(self, actions: Sequence[Any], ctx: Context) -> Part:
        root = context_root(ctx, ctx.root)
        return FilePart(files.plan(root, planned_contents(ctx), actions), ctx.blobs, file_prefix(self.name, root))

    def reopen(self, part: Mapping[str, Any], ctx: Context) -> Reopened:
        root = file_root(part["root"])
        return ReopenedFiles(root, recorded_contents(ctx), file_prefix(self.name, root), "root")


register_kind(FileKind())

__all__ = [
    "FileKind",
    "FilePart",
    "ReopenedFiles",
    "context_root",
    "file_prefix",
    "file_root",
    "planned_contents",
    "recorded_contents",
]
