"""Helpers shared by the tests (fixtures are in conftest.py, which no test imports): seed-shaped
entries (`make_entry`), and for the differential and corruption tests the lines of a log with
their locations, snapshots of a log directory, and re-chaining a log after an edit (re-hashing
every line and re-signing the seals, so that an edit leaves exactly one defect)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE / "reference") not in sys.path:
    sys.path.insert(0, str(HERE / "reference"))
import kfm_wal_ref as ref  # noqa: E402


def sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def make_entry(i: int = 0, **over: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "operation": "etl_step",
        "actor": {"type": "ci", "id": "etl-runner"},
        "pre_state_hash": sha(f"in-{i}"),
        "post_state_expected": sha(f"out-{i}"),
        "payload": {"actions": [{"type": "file.write", "path": f"processed/part-{i:05d}.csv", "bytes": 1000 + i}]},
        "reversal": {"steps": [{"type": "file.delete", "path": f"processed/part-{i:05d}.csv"}]},
        "tier": 1,
        "governance": {"care": "public", "approvals": []},
        "lineage_links": [f"run:{i // 10}"],
        "telemetry": {"id": f"focus-{i}"},
    }
    entry.update(over)
    return entry


def live_segment(log_dir: Path) -> Path:
    (seg,) = sorted(log_dir.glob("wal-*.jsonl"))
    return seg


SUFFIX_LEN = 82  # '"hash":"sha256:' + 64 hex + '"}' + '\n'
_PREV = re.compile(rb'"prev":"sha256:[0-9a-f]{64}"')
_SIGNATURE = re.compile(rb'"signature":"[A-Za-z0-9+/=]{88}"')
_CLOSES = re.compile(rb'"closes":(true|false)')
_LOG_ID = re.compile(rb'"log_id":"([0-9a-f-]{36})"')


@dataclass(frozen=True)
class Line:
    segment: str  # file name, without archive/
    offset: int
    raw: bytes
    seq: int
    kind: str
    hash: str  # "sha256:<hex>"
    doc: dict[str, Any]

    @property
    def end(self) -> int:
        return self.offset + len(self.raw)


@dataclass(frozen=True)
class Segment:
    name: str
    path: Path
    archived: bool
    lines: list[Line]

    @property
    def size(self) -> int:
        return self.path.stat().st_size


SEGMENTS = 4


def build_log(path: Path, key: Any) -> Path:
    """A valid log written by the Rust writer: 4 segments (3 in archive/), max_segment_bytes 6144;
    per segment one commit of 3 intents and one of 2 completions (one intent stays pending):

        0 header, 1 seal, 2-4 intent x3, 5 seal, 6-7 completion x2, 8 seal, [9 closing seal]"""
    from kfm_wal import Wal

    with Wal.create(path, key, max_segment_bytes=6144, max_record_bytes=4096, durability="none") as w:
        for n in range(SEGMENTS):
            batch = w.append_many([make_entry(3 * n + i) for i in range(3)])
            w.complete_many(
                [
                    {"wal_id": batch[0].wal_id, "status": "succeeded", "duration_ms": 12.5},
                    {"wal_id": batch[1].wal_id, "status": "failed", "error": "disk full"},
                ]
            )
    segs = layout(path)
    assert [s.archived for s in segs] == [True] * (SEGMENTS - 1) + [False]
    assert all(s.lines[-1].doc["closes"] is True for s in segs[:-1])
    assert segs[-1].lines[-1].doc["closes"] is False
    return path


def segment_paths(log: Path) -> list[Path]:
    """The segment files of a log, in segment-number order (archive/ and live)."""
    found = list((log / "archive").glob("wal-*.jsonl")) + list(log.glob("wal-*.jsonl"))
    return sorted(found, key=lambda p: (p.name, p.parent.name != "archive"))


def layout(log: Path) -> list[Segment]:
    """Every segment of a *valid* log with its parsed lines and their byte offsets."""
    segments = []
    for path in segment_paths(log):
        data = path.read_bytes()
        lines, offset = [], 0
        for raw in data.splitlines(keepends=True):
            doc = json.loads(raw)
            lines.append(Line(path.name, offset, raw, doc["seq"], doc["kind"], doc["hash"], doc))
            offset += len(raw)
        segments.append(Segment(path.name, path, path.parent.name == "archive", lines))
    return segments


def all_lines(log: Path) -> list[Line]:
    return [ln for seg in layout(log) for ln in seg.lines]


def ref_locations(log: Path) -> list[tuple[str, int, int, str, str]]:
    """(segment, offset, seq, kind, hash) of every well-formed line, found by the reference's own
    line splitter (the reference's read() returns records without their locations)."""
    out = []
    for path in segment_paths(log):
        for ln in ref._split(path.read_bytes()):
            if ln.status == "good":
                out.append((path.name, ln.offset, ln.seq, ln.kind, "sha256:" + ln.hash))
    return out


def snapshot(log: Path) -> dict[str, bytes | None]:
    """Every file and directory under the log, LOCK excluded (it is never part of the log)."""
    out: dict[str, bytes | None] = {}
    for p in sorted(log.rglob("*")):
        rel = str(p.relative_to(log))
        if rel == "LOCK":
            continue
        out[rel] = p.read_bytes() if p.is_file() else None
    return out


def with_hash(head: bytes) -> bytes:
    """Complete a line from the bytes before '"hash":' with the hash of those bytes."""
    return head + b'"hash":"sha256:' + hashlib.sha256(head).hexdigest().encode() + b'"}\n'


def line_hash(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw[:-SUFFIX_LEN]).hexdigest()


def seal_message(log_id: str, seq: int, timestamp: str, prev: str, closes: bool) -> bytes:
    return f"kfm-wal/1 seal\n{log_id}\n{seq}\n{timestamp}\n{prev}\n{1 if closes else 0}\n".encode()


def rechain(log: Path, sign: Callable[[bytes], bytes], *, keep_signature: Iterable[int] = ()) -> None:
    """Rewrite every line of the log so that each `prev` is the previous line's hash, every seal
    (except those whose seq is in `keep_signature`) carries a fresh signature by `sign`, and every
    hash matches its line. Line lengths do not change, so no offset moves."""
    keep = set(keep_signature)
    prev = "sha256:" + "0" * 64
    log_id = None
    for path in segment_paths(log):
        out = []
        for raw in path.read_bytes().splitlines(keepends=True):
            # Only the envelope and a few members are read, so a line whose body is not JSON works too.
            m = ref._PREFIX.match(raw)
            assert m is not None, raw
            seq, kind, timestamp = int(m[1]), m[3].decode(), m[4].decode()
            head = raw[:-SUFFIX_LEN]
            head = _PREV.sub(f'"prev":"{prev}"'.encode(), head, count=1)
            found_id = _LOG_ID.search(head)
            if kind == "header" and log_id is None and found_id:
                log_id = found_id[1].decode()
            if kind == "seal" and seq not in keep:
                closes = _CLOSES.search(head)
                assert log_id is not None and closes is not None
                sig = sign(seal_message(log_id, seq, timestamp, prev, closes[1] == b"true"))
                head = _SIGNATURE.sub(f'"signature":"{base64.b64encode(sig).decode()}"'.encode(), head, count=1)
            line = with_hash(head)
            prev = line_hash(line)
            out.append(line)
        path.write_bytes(b"".join(out))


def findings(report: Any) -> list[tuple[str, str, int, int | None]]:
    """(code, segment, offset, seq) of every finding of a kfm_wal or reference report."""
    items = report.findings if hasattr(report, "findings") else report.errors
    return [(f.code, f.segment, f.offset, f.seq) for f in items]
