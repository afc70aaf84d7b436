"""The optional parts of kfm-wal and the extras that install their libraries.

`pip install kfm-wal` installs what writing, reading and validating a log need (orjson,
cryptography, click, rich, jsonschema). The operation layers need more:

    extra     libraries                                needed by
    stac      pystac-core                              kfm_wal.ops (its STAC actions)
    graph     pyoxigraph                               kfm_wal.ops (its graph actions)
    lineage   openlineage-python, prov, attrs          kfm_wal.lineage
    ops       all of the above                         the demo; every operation layer
    distributed  dask[distributed], fsspec, s3fs       kfm_wal.storage, kfm_wal.distributed
                                                       (archives in object storage, Dask)

`kfm_wal.ops` loads its STAC and graph actions with it, and `kfm_wal.audit`, `kfm_wal.governance`
and `kfm_wal.lineage` import `kfm_wal.ops`: today each of them needs `stac` and `graph` too.

A part imported without its extra raises `MissingExtraError`, an `ImportError` (what code that
treats a dependency as optional already catches), with one line naming what to install:

    kfm_wal.lineage needs the 'lineage' extra: pip install 'kfm-wal[lineage]'

The CLI prints the same line under the command's name (`kfm-wal lineage export needs ...`) and
exits with 2. It is implemented once: `needs()` turns the `ModuleNotFoundError` of an optional
library into `MissingExtraError`, and `install()` (run by `import kfm_wal`) makes every import of
an optional part go through it, however it is written (`import kfm_wal.ops`, `from kfm_wal.ops
import run`, `kfm_wal.ops`)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from importlib.machinery import ModuleSpec, PathFinder
from types import ModuleType
from typing import Any

# The top-level modules each extra provides (import names, not distribution names).
EXTRAS: dict[str, tuple[str, ...]] = {
    "stac": ("pystac",),
    "graph": ("pyoxigraph",),
    "lineage": ("openlineage", "prov", "attr"),
    "distributed": ("dask", "distributed", "fsspec", "s3fs"),
}
ALL = "ops"  # the extra that installs every operation layer (not `distributed`)
OPERATION_LAYERS = ("stac", "graph", "lineage")

# The parts of kfm_wal that need extras, and which, when imported (see the module docstring).
PARTS: dict[str, tuple[str, ...]] = {
    "kfm_wal.ops": ("stac", "graph"),
    "kfm_wal.audit": ("stac", "graph"),
    "kfm_wal.audit_tree": ("stac", "graph"),
    "kfm_wal.audit_lineage": ("stac", "graph", "lineage"),
    "kfm_wal.governance": ("stac", "graph"),
    "kfm_wal.lineage": ("stac", "graph", "lineage"),
    "kfm_wal.demo_data": ("stac",),
    "kfm_wal.demo": ("stac", "graph", "lineage"),
    "kfm_wal.storage": ("distributed",),
    "kfm_wal.distributed": ("distributed",),
}

_EXTRA_OF = {module: extra for extra, modules in EXTRAS.items() for module in modules}


class MissingExtraError(ImportError):
    """A part of kfm-wal was used without the extra that installs its libraries. `extras` names
    the missing extras, `name` the module whose import failed; the message says what to install."""

    def __init__(self, feature: str, extras: Sequence[str], *, name: str | None = None) -> None:
        self.feature, self.extras = feature, tuple(extras)
        super().__init__(message(feature, self.extras), name=name)


def message(feature: str, extras: Sequence[str]) -> str:
    """`<feature> needs the 'x' extra: pip install 'kfm-wal[x]'` (several extras: all named)."""
    if set(extras) >= set(OPERATION_LAYERS):
        extras = (ALL, *(e for e in extras if e not in OPERATION_LAYERS))
    names = [f"'{e}'" for e in extras]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    noun = "extra" if len(names) == 1 else "extras"
    return f"{feature} needs the {listed} {noun}: pip install 'kfm-wal[{','.join(extras)}]'"


def installed(extra: str) -> bool:
    """Whether every module of `extra` can be imported (found, not imported)."""
    from importlib.util import find_spec  # on the error path only: not at start-up

    for module in EXTRAS[extra]:
        try:
            if find_spec(module) is None:
                return False
        except (ImportError, ValueError):  # ValueError: sys.modules[module] is None or has no spec
            return False
    return True


def _missing(always: Iterable[str], candidates: Iterable[str]) -> list[str]:
    """The extras in `always`, and those of `candidates` not installed, in EXTRAS order."""
    found = set(always) | {e for e in candidates if not installed(e)}
    return [e for e in EXTRAS if e in found]


@contextmanager
def needs(feature: str, *extras: str) -> Iterator[None]:
    """Turn a failed import of an optional library inside the block into `MissingExtraError`
    naming `feature`: the extra of that library, and those of `extras` not installed either (so
    that one message names everything to install). Other import errors pass through unchanged."""
    try:
        yield
    except MissingExtraError as e:
        if e.feature == feature:
            raise
        raise MissingExtraError(feature, _missing(e.extras, extras), name=e.name) from None
    except ModuleNotFoundError as e:
        extra = _EXTRA_OF.get((e.name or "").partition(".")[0])
        if extra is None:
            raise
        raise MissingExtraError(feature, _missing([extra], extras), name=e.name) from None


class _Loader:
    """A part's own loader, its module executed inside `needs(part, *PARTS[part])`."""

    def __init__(self, loader: Any, part: str) -> None:
        self._loader, self._part = loader, part

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self._loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        with needs(self._part, *PARTS[self._part]):
            self._loader.exec_module(module)

    def __getattr__(self, name: str) -> Any:  # get_source, get_resource_reader, ...: the real loader's
        return getattr(self._loader, name)


class _Finder:
    """Finds the parts of PARTS as the path finder would, and gives them a `_Loader`."""

    @staticmethod
    def find_spec(
        fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname not in PARTS:
            return None
        spec = PathFinder.find_spec(fullname, path, target)
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _Loader(spec.loader, fullname)  # type: ignore[assignment]
        return spec

    @staticmethod
    def invalidate_caches() -> None:
        pass


def install() -> None:
    """Put the finder first on sys.meta_path (once)."""
    if not any(f is _Finder for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder)


__all__ = [
    "ALL",
    "EXTRAS",
    "OPERATION_LAYERS",
    "PARTS",
    "MissingExtraError",
    "install",
    "installed",
    "message",
    "needs",
]
