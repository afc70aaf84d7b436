"""Helpers for the replay tests (no tests here): a log with real roots (data root, STAC catalog,
graph store) written through kfm_wal.ops, and the per-kind digests of those roots."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kfm_wal import Wal, keys
from kfm_wal.ops import GraphStore, root_state

META: dict[str, Any] = {
    "actor": {"type": "ci", "id": "etl-runner"},
    # Tier 0: not decided by the governance policy (tier >= 1 is: tests/test_governance_everywhere.py).
    "tier": 0,
    "governance": {"care": "public", "approvals": []},
    "telemetry": {"id": "focus-replay"},
}
UNDO_META: dict[str, Any] = {"actor": {"type": "developer", "id": "alice"}, "telemetry": {"id": "focus-undo"}}


@dataclass
class Roots:
    base: Path
    key: keys.SigningKey = field(default_factory=keys.generate)

    @property
    def log(self) -> Path:
        return self.base / "wal"

    @property
    def data(self) -> Path:
        return self.base / "processed"

    @property
    def stac(self) -> Path:
        return self.base / "stac"

    @property
    def graph(self) -> Path:
        return self.base / "graph"

    def where(self) -> dict[str, Any]:
        return {"root": self.data, "stac_root": self.stac, "graph": self.graph}

    def open(self) -> Wal:
        """The log: created on first use, opened again after."""
        if self.log.exists():
            return Wal.open(self.log, self.key)
        return Wal.create(self.log, self.key, max_segment_bytes=64 * 1024, max_record_bytes=16 * 1024)

    def digests(self) -> dict[str, str]:
        """{recorded root: digest of its whole state} of the three real roots."""
        return {
            str(self.data.resolve()): root_state.digest(root_state.file_tree(self.data)),
            str(self.stac.resolve()): root_state.digest(root_state.file_tree(self.stac)),
            str(self.graph.resolve()): root_state.digest(root_state.read_graph(self.graph)),
        }


def sandbox_digests(report: Any) -> dict[str, str]:
    """{recorded root: digest} of a replay's sandbox, by the report's mapping."""
    return {r["recorded"]: report.digests[r["dir"]] for r in report.roots}


def triple(i: int) -> str:
    return f"<http://example.org/s{i}> <http://example.org/p> <http://example.org/o{i}> ."


def close_graph(path: Path) -> None:
    """Forget this process's handle on the store at `path` (so that it is opened afresh)."""
    GraphStore._open.pop(path.resolve(), None)


def empty(state: Mapping[str, str]) -> str:
    return root_state.digest({})


__all__ = ["META", "UNDO_META", "Roots", "close_graph", "sandbox_digests", "triple"]
