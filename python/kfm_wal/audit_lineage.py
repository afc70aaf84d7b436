"""Audit a lineage directory against the log: its files are derived from the log, never written
around it (`kfm_wal.lineage.derived`).

Each file the manifest lists is derived again from the log, through the record it names
(`to_seq`, whose hash must be `head_hash`), and must be byte for byte what is there. Findings
(the rule id is `lineage.matches_log`; each message starts with the specific code, which
`Finding.target["code"]` also holds):

- `lineage.changed_file`: a listed file differs from what the log derives; located at the log
  record of the first event that differs (the record the event was built from), with its line;
- `lineage.missing_file`: a listed file is not there;
- `lineage.unlogged_file`: a file the manifest does not list (or any file, without a manifest);
- `lineage.unknown_head`: the log holds no record at `to_seq` with `head_hash` (the lineage was
  derived from another history: the log was replaced or cut since);
- `lineage.other_log`: the manifest is for another log (`log_id`);
- `lineage.bad_manifest`: the manifest cannot be read.

Ignored: the temporary files of an interrupted atomic write. A log that grew since the files were
emitted is not a finding: they still equal what the log derives for the range they name."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .lineage.derived import MANIFEST, Listed, Manifest, ManifestError, derive, read_manifest
from .lineage.model import Scan, Scanner
from .ops.digests import content_digest
from .ops.root_state import TEMP_FILE
from .reader import Record

CHANGED_FILE = "lineage.changed_file"
MISSING_FILE = "lineage.missing_file"
UNLOGGED_FILE = "lineage.unlogged_file"
UNKNOWN_HEAD = "lineage.unknown_head"
OTHER_LOG = "lineage.other_log"
BAD_MANIFEST = "lineage.bad_manifest"
CODES = (CHANGED_FILE, MISSING_FILE, UNLOGGED_FILE, UNKNOWN_HEAD, OTHER_LOG, BAD_MANIFEST)

_WAL_ID = re.compile(r"op-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")

Found = tuple[Record | None, str, dict[str, Any] | None]


class LineageMatchesLog:
    """`kfm_wal.verify(path, rules=[LineageMatchesLog("data/lineage")])`: every file of the
    lineage directory is what the log derives (see the module docstring)."""

    id = "lineage.matches_log"
    whole_log = True  # the files derive from every record: an incremental run still reads them all
    description = "every lineage file is exactly what the log derives for the records it names"

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.dir = Path(directory)
        self._error: ManifestError | None = None
        self.manifest: Manifest | None = None
        try:
            self.manifest = read_manifest(self.dir)
        except ManifestError as e:
            self._error = e
        ends = {f.to_seq for f in self.manifest.files.values()} if self.manifest else set()
        self._scanners = {end: Scanner() for end in sorted(ends)}
        self._at: dict[int, Record] = {}
        self._log_id: str | None = None

    def check(self, record: Record) -> Iterable[str]:
        if record.kind == "header" and self._log_id is None:
            self._log_id = str(record.body.get("log_id"))
        for end, scanner in self._scanners.items():
            if record.seq <= end:
                scanner.feed(record)
        if record.seq in self._scanners:
            self._at[record.seq] = record
        return ()

    def finish(self) -> Iterable[Found]:
        here = sorted(p.name for p in (self.dir.iterdir() if self.dir.is_dir() else ()) if not TEMP_FILE.match(p.name))
        if self._error is not None:
            yield self._found(BAD_MANIFEST, None, MANIFEST, f"{MANIFEST}: {self._error}")
            return
        manifest = self.manifest
        if manifest is None:
            for name in here:
                yield self._unlogged(name, "there is no manifest: nothing here was derived by emit")
            return
        if self._log_id is not None and manifest.log_id != self._log_id:
            why = f"{MANIFEST}: derived from log {manifest.log_id}, not this log ({self._log_id})"
            yield self._found(OTHER_LOG, None, MANIFEST, why)
            return
        scans = {end: s.result() for end, s in self._scanners.items()}
        for name, listed in sorted(manifest.files.items()):
            yield from self._judge(listed, scans, name in here)
        for name in here:
            if name != MANIFEST and name not in manifest.files:
                yield self._unlogged(name, f"not listed in {MANIFEST}")

    def _judge(self, listed: Listed, scans: dict[int, Scan], present: bool) -> Iterable[Found]:
        name = listed.name
        head = self._at.get(listed.to_seq)
        if head is None or head.hash != listed.head_hash:
            found = "no such record" if head is None else f"record {head.hash}"
            why = (
                f"{name}: derived through seq {listed.to_seq} ({listed.head_hash}); the log holds {found} "
                "there (replaced or cut since)"
            )
            yield self._found(UNKNOWN_HEAD, head, name, why, expected=listed.head_hash)
            return
        want = derive(scans, listed)
        if not present:
            why = f"{name}: missing; the log derives it through seq {listed.to_seq}"
            yield self._found(MISSING_FILE, head, name, why, expected=content_digest(want), actual="absent")
            return
        got = (self.dir / name).read_bytes()
        if got == want:
            return
        line, record = _first_difference(want, got, scans[listed.to_seq], listed.format)
        event = f"operation {record.wal_id}, seq {record.seq}" if record is not None else "no event of the log"
        why = (
            f"{name}: line {line} differs from what the log derives through seq {listed.to_seq} "
            f"(first differing event: {event})"
        )
        yield self._found(
            CHANGED_FILE, record, name, why, expected=content_digest(want), actual=content_digest(got), line=line
        )

    def _unlogged(self, name: str, why: str) -> Found:
        return self._found(UNLOGGED_FILE, None, name, f"{name}: {why}")

    def _found(self, code: str, record: Record | None, name: str, why: str, **more: Any) -> Found:
        target: dict[str, Any] = {"kind": "lineage.file", "code": code, "root": str(self.dir), "id": name}
        target["path"] = name
        target.update(more)
        if record is not None:
            target.update(seq=record.seq, wal_id=record.wal_id)
        return record, f"{code}: {why} in {self.dir}", target


def _first_difference(want: bytes, got: bytes, scanned: Scan, fmt: str) -> tuple[int, Record | None]:
    """(1-based line, the log record of the event there) of the first line that differs."""
    expected, actual = want.splitlines(keepends=True), got.splitlines(keepends=True)
    i = next((k for k, (a, b) in enumerate(zip(expected, actual, strict=False)) if a != b), None)
    if i is None:
        i = min(len(expected), len(actual))
    if fmt == "openlineage":  # one event a line, one line a step of the scan
        if i < len(scanned.steps):
            phase, run = scanned.steps[i]
            return i + 1, run.intent if phase == "start" else run.completion
        return i + 1, None
    # PROV: the activity named on that line (or nearest before it), if any
    runs = {run.wal_id: run for run in scanned.runs}
    for text in (expected[i::-1] if i < len(expected) else []) + (actual[i::-1] if i < len(actual) else []):
        m = _WAL_ID.search(text.decode("utf-8", "replace"))
        if m and m[1] in runs:
            return i + 1, runs[m[1]].intent
    return i + 1, None


__all__ = [
    "BAD_MANIFEST",
    "CHANGED_FILE",
    "CODES",
    "MISSING_FILE",
    "OTHER_LOG",
    "UNKNOWN_HEAD",
    "UNLOGGED_FILE",
    "LineageMatchesLog",
]
