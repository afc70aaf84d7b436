"""The sealed lines of a log as the core returns them, without a Record object per line: the
compaction reads every record of the range it compacts (seals, intents, completions), and a Python
object and a JSON decode per record would cost many times a validation pass on a large log. Only
lines a rule needs are decoded."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import orjson

from .. import _core

# kfm-wal's writer emits no whitespace, and a log is validated before it is compacted: the wal_id
# member is found in the bytes (any member order), its value a canonical UUID.
_WAL_ID = re.compile(rb'"wal_id":"([0-9a-f-]{36})"')
CLOSES = b'"closes":true'


def lines(log: str | os.PathLike[str], start_seq: int = 0) -> Iterator[tuple[str, int, str, str, bytes]]:
    """(segment file name, seq, kind, hash, line) of every sealed record from `start_seq` on."""
    segments = _core.segments(Path(log))
    for i, (number, first_seq, seg_path, archived) in enumerate(segments):
        next_first = segments[i + 1][1] if i + 1 < len(segments) else None
        if next_first is not None and next_first <= start_seq:
            continue
        found, _ = _core.read_segment(seg_path, number, first_seq, archived, start_seq)
        name = Path(seg_path).name
        for seq, kind, _offset, digest, line in found:
            yield name, seq, kind, digest, line


# One sealed line of a validated log (envelope order is fixed, FORMAT.md section 2); a wal_id the
# writer assigned is the body's first member, any other is found by decoding the line.
_LINE = re.compile(
    rb'\{"seq":(\d+),"prev":"sha256:[0-9a-f]{64}","kind":"([a-z]+)","timestamp":"[^"]{27}",'
    rb'(?:"wal_id":"([0-9a-f-]{36})")?[^\n]*"hash":"sha256:([0-9a-f]{64})"\}\n'
)


def summary(path: str | os.PathLike[str], archived: bool) -> Iterator[tuple[int, str, str, str | None, bool]]:
    """(seq, kind, hash, wal_id of an intent or completion, closes of a seal) of every line of a
    segment of a validated log, read with one regular expression over its bytes (decompressed)."""
    data = _core.segment_bytes(Path(path), archived)
    for m in _LINE.finditer(data):
        kind = m.group(2).decode()
        wal_id = None
        if kind in ("intent", "completion"):
            found = m.group(3)
            wal_id = found.decode() if found else str(orjson.loads(data[m.start() : m.end()])["wal_id"])
        closes = kind == "seal" and data.find(CLOSES, m.start(), m.end()) != -1
        yield int(m.group(1)), kind, "sha256:" + m.group(4).decode(), wal_id, closes


def wal_id_of(line: bytes) -> str | None:
    m = _WAL_ID.search(line)
    return m.group(1).decode() if m else None


__all__ = ["CLOSES", "lines", "summary", "wal_id_of"]
