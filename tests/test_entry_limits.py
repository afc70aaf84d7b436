"""Entries the writer must refuse with a SchemaError that says what to fix, writing nothing:
nesting past the depth limit (however deep: no RecursionError) and envelope members a caller
cannot set (the writer owns seq, prev, kind, timestamp and hash)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kfm_wal import SchemaError, Wal, records, verify
from kfm_wal.schema import MAX_DEPTH
from waltools import make_entry


def nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"a": value}
    return value


def intents(log_dir: Path) -> int:
    return sum(1 for _ in records(log_dir, kind="intent"))


def test_the_deepest_entry_the_limit_allows_is_written(wal: Wal, log_dir: Path) -> None:
    # The entry object is level 1; a payload of MAX_DEPTH - 1 nested objects reaches the limit.
    wal.append(make_entry(0, payload=nested(MAX_DEPTH - 1)))
    assert intents(log_dir) == 1


@pytest.mark.parametrize("levels", [MAX_DEPTH, 300, 100_000])
def test_nesting_past_the_limit_is_a_schema_error_naming_it(wal: Wal, log_dir: Path, levels: int) -> None:
    wal.append(make_entry())
    with pytest.raises(SchemaError, match=f"nested deeper than {MAX_DEPTH} levels") as caught:
        wal.append_many([make_entry(), make_entry(0, payload=nested(levels))])
    assert caught.value.index == 1
    assert caught.value.field is not None and caught.value.field.startswith("payload")
    assert intents(log_dir) == 1  # the batch is all or nothing
    wal.close()
    assert verify(log_dir).ok


@pytest.mark.parametrize("member", ["timestamp", "seq", "prev", "kind", "hash"])
def test_an_envelope_member_in_an_entry_says_the_writer_sets_it(wal: Wal, log_dir: Path, member: str) -> None:
    with pytest.raises(SchemaError, match=f"'{member}' is set by the writer") as caught:
        wal.append(make_entry(0, **{member: "2026-01-01T00:00:00.000000Z"}))
    assert caught.value.field == member
    assert intents(log_dir) == 0


def test_the_timestamp_message_says_where_an_event_time_can_go(wal: Wal) -> None:
    with pytest.raises(SchemaError, match="telemetry"):
        wal.append(make_entry(0, timestamp="2026-01-01T00:00:00.000000Z"))
