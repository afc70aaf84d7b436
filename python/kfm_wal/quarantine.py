"""Quarantine: copies of corrupted segments, and of the bytes at fault, put aside for forensics
under `DIR/quarantine/<run>/` with a JSON report next to them. The log itself is never changed
and nothing is deleted."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import orjson

from . import _core
from .findings import Finding, VerifyReport

# Operation-level findings concern meaning, not bytes: there is nothing in the file to set aside.
_BYTE_LEVEL = ("record.", "chain.", "seal.", "time.", "tail.", "segment.")


def _segment_path(log: Path, name: str) -> Path | None:
    for candidate in (log / name, log / "archive" / name):
        if candidate.is_file():
            return candidate
    return None


def _line_at(data: bytes, offset: int) -> bytes:
    end = data.find(b"\n", offset)
    return data[offset:] if end < 0 else data[offset : end + 1]


def quarantine(log: str | os.PathLike[str], report: VerifyReport) -> list[Path]:
    """Copy every segment with a byte-level finding into a new `quarantine/<run>/` folder: the
    whole segment, each line at fault (`<segment>.<offset>.bytes`) and `<segment>.json` with its
    findings. Returns the files written."""
    log = Path(log)
    by_segment: dict[str, list[Finding]] = {}
    for f in report.findings:
        if f.segment and f.code.startswith(_BYTE_LEVEL):
            by_segment.setdefault(f.segment, []).append(f)
    if not by_segment:
        return []
    run = log / "quarantine" / datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    run.mkdir(parents=True)
    written = []
    for name, findings in sorted(by_segment.items()):
        source = _segment_path(log, name)
        if source is None:
            continue
        # Lines are cut from the segment's bytes (a compressed one's decompressed, what decodes).
        data = _core.segment_bytes(source, True) if name.endswith(".zst") else source.read_bytes()
        written.append(Path(shutil.copy2(source, run / name)))
        for offset in sorted({f.offset for f in findings}):
            part = run / f"{name}.{offset}.bytes"
            part.write_bytes(_line_at(data, offset))
            written.append(part)
        doc = {
            "segment": name,
            "source": str(source),
            "bytes": len(data),
            "log_id": report.log_id,
            "findings": [f.__dict__ for f in findings],
        }
        report_file = run / f"{name}.json"
        report_file.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
        written.append(report_file)
    return written


__all__ = ["quarantine"]
