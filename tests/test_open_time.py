"""Opening a log after a clean close reads only what was written since (docs/FORMAT.md section 7):
`Wal.opened` says how much was read; `validate` still reads everything and catches tampering the
open did not look at; a reused wal_id from before the close is still refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from clitools import run
from kfm_wal import CorruptionError, Wal, keys, verify
from kfm_wal.errors import ConflictError
from waltools import make_entry


def closed(path: Path, key: keys.SigningKey) -> int:
    with Wal.create(path, key, max_segment_bytes=32 * 1024, max_record_bytes=8 * 1024) as w:
        for i in range(40):
            r = w.append_many([make_entry(i * 5 + j) for j in range(5)])
            w.complete(r[0].wal_id)
        return w.head[0]


def test_open_after_a_clean_close_reads_only_what_follows(tmp_path: Path, key: keys.SigningKey) -> None:
    log = tmp_path / "wal"
    head = closed(log, key)
    total = sum(p.stat().st_size for p in [*log.glob("wal-*.jsonl"), *(log / "archive").glob("wal-*")])
    with Wal.open(log, key) as w:
        assert w.opened["trusted_seq"] == head
        live = max(p.stat().st_size for p in log.glob("wal-*.jsonl"))
        assert (w.opened["verified_bytes"] or 0) <= live + 1024 < total / 5
        w.append(make_entry(999))
    assert verify(log).ok


def test_validate_reads_what_opening_trusted(tmp_path: Path, key: keys.SigningKey) -> None:
    log = tmp_path / "wal"
    closed(log, key)
    first = sorted((log / "archive").glob("wal-*.jsonl"))[0]
    data = bytearray(first.read_bytes())
    at = data.index(b'"operation":"etl_step"') + len('"operation":"e')
    data[at] = ord("X")  # same size: opening does not re-read it
    first.write_bytes(bytes(data))
    with Wal.open(log, key) as w:
        assert w.opened["trusted_seq"] is not None
    result = run("validate", log)
    assert result.exit_code == 1 and "record.hash" in result.stdout
    with pytest.raises(CorruptionError, match="record.hash"):
        Wal.open(log, key, verify="all")


def test_a_wal_id_from_before_the_close_is_refused(tmp_path: Path, key: keys.SigningKey) -> None:
    log = tmp_path / "wal"
    closed(log, key)
    with Wal.open(log, key) as w:
        old = next(w.records(kind="intent"))
        assert w.opened["trusted_seq"] is not None
        assert old.wal_id is not None
        with pytest.raises(ConflictError):
            w.append({**make_entry(7), "wal_id": old.wal_id})
    assert verify(log).ok
