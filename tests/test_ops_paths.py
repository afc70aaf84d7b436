"""FileRoot.locate resolves from the root down (one lstat per component) yet must answer exactly
what resolving the whole path with Path.resolve() answers: checked against that reference on a
tree with files, directories, symlinks inside and outside the root, chains and dangling links."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pytest
from kfm_wal.ops import FileRoot, PathEscapeError, PlanError


def reference(root: Path, rel: str) -> tuple[str, Path] | None:
    """The previous implementation (pathlib resolve of the whole path); None: refused."""
    pure = PurePosixPath(rel)
    if not rel or "\x00" in rel or pure.is_absolute() or "\\" in rel or ".." in pure.parts:
        return None
    full = (root / pure).resolve()
    if full == root or not full.is_relative_to(root):
        return None
    return full.relative_to(root).as_posix(), full


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    for d in (root / "a" / "b", outside / "o"):
        d.mkdir(parents=True)
    (root / "a" / "b" / "f.csv").write_bytes(b"f")
    (root / "top.csv").write_bytes(b"t")
    (outside / "o" / "secret.csv").write_bytes(b"s")
    links = {
        "a/to_b": "b",  # relative, inside
        "abs_a": str(root / "a"),  # absolute, inside
        "a/b/up": "../../top.csv",  # climbs, stays inside
        "chain": "abs_a/to_b",  # a link through links
        "out": str(outside / "o"),  # escapes
        "a/sneaky": "../../outside/o/secret.csv",  # escapes by climbing
        "self": ".",  # the root itself
        "dangling": "nowhere/x.csv",  # inside, missing target
        "dangling_out": str(outside / "missing"),  # outside, missing target
    }
    for name, target in links.items():
        (root / name).symlink_to(target)
    return root


RELS = [
    "top.csv",
    "./top.csv",
    "a//b/./f.csv",
    "a/b/f.csv",
    "a/to_b/f.csv",
    "abs_a/b/f.csv",
    "a/b/up",
    "chain/f.csv",
    "chain/new/deeper.csv",
    "out/secret.csv",
    "out",
    "a/sneaky",
    "self",
    "self/top.csv",
    "dangling",
    "dangling_out",
    "new.csv",
    "new/dir/x.csv",
    "top.csv/under",
    "a",
    ".",
    "./",
    "",
    "/abs",
    "a/../top.csv",
    "a\\b",
    "x\x00y",
]


@pytest.mark.parametrize("rel", RELS)
def test_locate_agrees_with_resolving_the_whole_path(tree: Path, rel: str) -> None:
    root = FileRoot(tree)
    want = reference(root.path, rel)
    if want is None:
        with pytest.raises(PathEscapeError):
            root.locate(rel)
    else:
        assert root.locate(rel) == want


def test_read_refuses_what_is_not_a_regular_file(tree: Path) -> None:
    root = FileRoot(tree)
    os.mkfifo(tree / "pipe")  # must be refused, not block the reader
    for rel in ("a", "pipe"):
        with pytest.raises(PlanError, match="not a regular file"):
            root.read(rel)
    with pytest.raises(PlanError, match="is a file, not a directory"):
        root.read("top.csv/under")
    assert root.read("missing.csv") is None
    assert root.read("a/to_b/f.csv") == b"f"
