"""Intents handed over without a `wal_id` get one from the writer, on every path (one entry, a
small batch, a large batch in chunks, committed or submitted): the record's body is
`"wal_id":"<id>",` followed by the entry's members exactly as orjson encodes them, the id is the
receipt's, unique, known to the log's intent table, and the log verifies."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from kfm_wal import Wal, keys, verify
from kfm_wal.errors import ConflictError
from waltools import make_entry

SIZES = (1, 10, 600)  # 600: a large batch, handed over in chunks of 256


def test_assigned_ids_are_written_first_and_known(tmp_path: Path, key: keys.SigningKey) -> None:
    batches = [[make_entry(1000 * n + i) for i in range(size)] for n, size in enumerate(SIZES * 2)]
    with Wal.create(tmp_path / "log", key) as wal:
        receipts = []
        for n, batch in enumerate(batches):
            assert all("wal_id" not in e for e in batch)
            receipts += wal.append_many(batch) if n < len(SIZES) else wal.submit(batch).result()
        ids = [r.wal_id for r in receipts]
        assert len(set(ids)) == len(ids)
        with pytest.raises(ConflictError):
            wal.append(make_entry(7, wal_id=ids[-1]))
        wal.complete(ids[0], "succeeded")
    entries = [e for batch in batches for e in batch]
    lines = [
        line
        for seg in sorted((tmp_path / "log").glob("wal-*.jsonl"))
        for line in seg.read_bytes().split(b"\n")
        if b'"kind":"intent"' in line
    ]
    assert len(lines) == len(entries)
    for line, entry, wal_id in zip(lines, entries, ids, strict=True):
        body = f'"wal_id":"{wal_id}",'.encode() + orjson.dumps(entry, option=orjson.OPT_STRICT_INTEGER)[1:-1] + b","
        assert b'"timestamp":"' in line and line.split(b'Z",', 1)[1].startswith(body)
    assert verify(tmp_path / "log").ok
