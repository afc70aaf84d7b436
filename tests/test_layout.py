"""The shape of the source tree: no import cycles among the kfm_wal modules, and no source file
longer than the limit.

Imports are read with `ast`, every one of them: module level, inside functions and under
`if TYPE_CHECKING:`. A cycle through a function-local or type-only import still means two
modules that cannot be understood apart. Importing a submodule runs its parent package's
`__init__` first; that implicit edge is not counted (only imports written in the source are).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "python" / "kfm_wal"

MAX_LINES = 500
LONG_FILE_ROOTS = ("python/kfm_wal", "rust", "benches", "tests")
SOURCE_SUFFIXES = (".py", ".pyi", ".rs")


def modules(src: Path, package: str) -> dict[str, Path | None]:
    """Every module of `package` (its folder in `src`) -> its file; extension modules that only
    have a stub (`_core.pyi`) map to None: they import nothing of the package."""
    found: dict[str, Path | None] = {}
    for path in sorted((src / package).rglob("*.py*")):
        if path.suffix not in (".py", ".pyi"):
            continue
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        name = ".".join(parts)
        if path.suffix == ".py":
            found[name] = path
        else:
            found.setdefault(name, None)
    return found


def _known(name: str, known: Mapping[str, object]) -> str | None:
    """The longest prefix of the dotted `name` that is a known module."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports(name: str, path: Path, known: Mapping[str, object]) -> set[str]:
    """The known modules that module `name` (file `path`) imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: Iterable[str] = ()
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*base_parts, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            # `from X import n`: n is a module of X, or a name defined in X.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for target in targets:
            module = _known(target, known)
            if module is not None and module != name:
                out.add(module)
    return out


def import_graph(src: Path, package: str) -> dict[str, set[str]]:
    known = modules(src, package)
    return {name: imports(name, path, known) if path else set() for name, path in known.items()}


def cycles(graph: Mapping[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one module (the import cycles)."""

    def reachable(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    reach = {m: reachable(m) for m in graph}
    groups = {frozenset({m, *(n for n in reach[m] if m in reach[n])}) for m in graph}
    return sorted((g for g in groups if len(g) > 1), key=sorted)


def test_no_import_cycles() -> None:
    graph = import_graph(ROOT / "python", "kfm_wal")
    assert "kfm_wal.report" in graph and graph["kfm_wal.report"], "the checker must see the package"
    found = [sorted(c) for c in cycles(graph)]
    assert found == []


def test_the_checker_sees_every_kind_of_import(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .a import A\n")
    (pkg / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B\nA = 1\n")
    (pkg / "b.py").write_text("def f():\n    from pkg import a\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "c.py").write_text("from .. import _ext\nfrom ..sub import d\n")
    (pkg / "sub" / "d.py").write_text("import pkg.sub.c\n")
    (pkg / "_ext.pyi").write_text("X: int\n")
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.a"] == {"pkg.b"} and graph["pkg.b"] == {"pkg.a"}
    assert graph["pkg.sub.c"] == {"pkg._ext", "pkg.sub.d"} and graph["pkg._ext"] == set()
    assert cycles(graph) == [frozenset({"pkg.a", "pkg.b"}), frozenset({"pkg.sub.c", "pkg.sub.d"})]


def test_no_source_file_is_too_long() -> None:
    too_long = []
    for top in LONG_FILE_ROOTS:
        for path in sorted((ROOT / top).rglob("*")):
            if path.suffix in SOURCE_SUFFIXES and path.is_file():
                rel = path.relative_to(ROOT).as_posix()
                n = len(path.read_text().splitlines())
                if n > MAX_LINES:
                    too_long.append(f"{rel}: {n} lines")
    assert too_long == [], f"split these below {MAX_LINES} lines"


def test_no_test_imports_conftest() -> None:
    """Fixtures come from conftest.py through pytest; helpers from waltools.py (or a module like it)."""
    importing = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            if any(n.split(".")[0] == "conftest" for n in names):
                importing.append(path.relative_to(ROOT).as_posix())
    assert importing == []
