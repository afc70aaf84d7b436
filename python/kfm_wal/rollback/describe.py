"""What reversing one recorded operation does, in words, from its intent's reversal steps (the
rollback plan shows one line per step)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..ops import files
from ..ops.digests import ABSENT


def _short(digest: str) -> str:
    return digest if digest == ABSENT else digest[:19]


def _where(part: Mapping[str, Any]) -> str:
    """The root a part acts on, by its directory name (`processed`, `stac`, `graph`)."""
    locator = part.get("root") or part.get("store") or ""
    return Path(str(locator)).name or str(locator)


def step_text(step: Mapping[str, Any], part: Mapping[str, Any]) -> str:
    kind, where = str(step.get("type")), _where(part)
    if kind == "file.restore":
        return f"restore {where}/{step['path']} ({_short(str(step['blob']))})"
    if kind == "file.delete":
        return f"delete {where}/{step['path']}"
    if kind in ("graph.insert", "graph.delete"):
        verb = "insert" if kind == "graph.insert" else "delete"
        return f"{verb} {len(step.get('triples', []))} triple(s) in {where}"
    if kind.startswith("custom."):
        return f"run {kind}"
    return kind


def reversal_texts(body: Mapping[str, Any]) -> list[str]:
    """One line per reversal step of an intent recorded by kfm_wal.ops."""
    payload, reversal = body["payload"], body["reversal"]
    if payload.get("format") == files.PAYLOAD_FORMAT:
        parts: list[Mapping[str, Any]] = [{"root": payload.get("root")}]
    else:
        parts = payload.get("parts", [])
    out = []
    for s in reversal.get("steps") or []:
        p = s.get("part", 0)
        out.append(step_text(s, parts[p] if 0 <= p < len(parts) else {}))
    return out


__all__ = ["reversal_texts", "step_text"]
