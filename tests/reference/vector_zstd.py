"""Compressed archives (FORMAT.md section 1): valid/compressed-archive (valid/basic with its archived
segments compressed), valid/compressed-and-plain-twin (a compression a crash interrupted after the
compressed copy was renamed into place: both copies, the plain one is read), and
invalid/truncated-zstd-frame (a compressed segment cut short: `segment.compression` at the
uncompressed offset where readable data ends)."""

from __future__ import annotations

import os

import zstandard
from ref_zstd import SUFFIX, decode
from vector_expectations import expect, expected_valid, write_json
from vector_logs import BasicLog, InvalidCases, copy_log

# zstd level 3 with a content checksum, as the writer compresses (rust/core/src/archive.rs).
LEVEL = 3


def _compress(log: str, name: str, keep_plain: bool = False) -> str:
    """Compress archive/NAME into archive/NAME.zst (removing NAME unless `keep_plain`)."""
    plain = os.path.join(log, "archive", name)
    with open(plain, "rb") as f:
        data = f.read()
    with open(plain + SUFFIX, "wb") as f:
        f.write(zstandard.ZstdCompressor(level=LEVEL, write_checksum=True).compress(data))
    if not keep_plain:
        os.remove(plain)
    return name + SUFFIX


def _archived(basic: BasicLog) -> list[str]:
    return [s for s in basic.segments if os.path.exists(os.path.join(basic.dir, "archive", s))]


def write_zstd_valid(valid: str, basic: BasicLog, pending: list[str]) -> None:
    archived = _archived(basic)
    assert len(archived) == 2, archived

    # valid/compressed-archive: records are located in the segment file they are read from
    compressed = os.path.join(valid, "compressed-archive")
    copy_log(basic.dir, compressed)
    renamed = {name: _compress(compressed, name) for name in archived}
    journal = [{**e, "segment": renamed.get(e["segment"], e["segment"])} for e in basic.journal]
    write_json(os.path.join(compressed, "expected.json"), expected_valid(journal, pending))

    # valid/compressed-and-plain-twin: the second archived segment in both forms; the plain one counts
    twin = os.path.join(valid, "compressed-and-plain-twin")
    copy_log(basic.dir, twin)
    renamed = {archived[0]: _compress(twin, archived[0])}
    _compress(twin, archived[1], keep_plain=True)
    journal = [{**e, "segment": renamed.get(e["segment"], e["segment"])} for e in basic.journal]
    write_json(os.path.join(twin, "expected.json"), expected_valid(journal, pending))


def write_zstd_invalid(cases: InvalidCases) -> None:
    d = cases.from_basic("truncated-zstd-frame")
    first = _archived(cases.basic)[0]
    name = _compress(d, first)
    path = os.path.join(d, "archive", name)
    with open(path, "rb") as f:
        raw = f.read()
    with open(path, "wb") as f:
        f.write(raw[: len(raw) // 2])
    readable, why = decode(raw[: len(raw) // 2])
    assert why is not None
    note = "a compressed segment cut short: reported at the uncompressed offset where readable data ends"
    expect(d, name, len(readable), None, error="segment.compression", sole=True, note=note)
