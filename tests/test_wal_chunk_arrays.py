"""Large batches go to the core one chunk at a time, each chunk encoded by one orjson call as one
JSON array that the core splits (`schema.encode_array`, `Batch.add_array`). What is written must be
exactly what a call per entry would have written, whatever the strings hold; chunks that cannot
take that path (an entry orjson refuses) take the per-entry one inside the same batch; entries
holding a `null` are walked for a NaN or Infinity orjson would have written as null."""

from __future__ import annotations

import math
from collections import UserDict
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kfm_wal import SchemaError, UsageError, Wal, _core, keys, schema, verify
from waltools import make_entry

BIG = 600  # from 512 entries a batch goes over in chunks of 256


def _intent_lines(log_dir: Path) -> list[bytes]:
    segments = sorted(log_dir.glob("archive/wal-*.jsonl")) + sorted(log_dir.glob("wal-*.jsonl"))
    return [line for seg in segments for line in seg.read_bytes().split(b"\n") if b'"kind":"intent"' in line]


def _written_as_encoded(log_dir: Path, batch: list[dict[str, Any]]) -> None:
    """Every intent line holds its entry's members exactly as orjson encodes the entry alone."""
    lines = _intent_lines(log_dir)
    assert len(lines) == len(batch)
    for line, entry in zip(lines, batch, strict=True):
        assert orjson.dumps(entry, option=orjson.OPT_STRICT_INTEGER)[1:-1] + b"," in line


def test_a_chunk_takes_the_array_path_unless_orjson_refuses_an_entry() -> None:
    chunk = [make_entry(i) for i in range(256)]
    chunk[7] = make_entry(7, payload={"blob": None, "n": [None]})
    data = schema.encode_array(chunk)
    assert data is not None and data == b"[" + b",".join(schema.encode(chunk)) + b"]"
    assert schema.encode_array([*chunk, {"x": object()}]) is None, "orjson refuses it: per entry"
    # orjson writes NaN and Infinity as null: the entries holding a null are walked for them.
    chunk[200] = make_entry(200, payload={"ok": None, "x": [1.5, math.nan]})
    with pytest.raises(SchemaError) as e:
        schema.encode_array(chunk, first=512)
    assert (e.value.index, e.value.field) == (712, "payload.x[1]")
    assert _core.array_holding_null(b'[{"a":null},{"b":1},["null"]]') == [0, 2]
    assert _core.array_holding_null(b'[{"a":1}]') == []
    assert _core.array_holding_null(b'[{"a":null}') is None


TRICKY = ['"},{"', "\\", '\\"', "],[", "é\u2028\U0001f600", "\n\t\x00", '\\\\"]}', "{" * 70, "x" * 63 + "\\"]


def test_strings_that_look_like_structure_are_written_as_they_are(tmp_path: Path, key: keys.SigningKey) -> None:
    batch = [make_entry(i, payload={"text": TRICKY[i % len(TRICKY)] * (1 + i % 5), "i": i}) for i in range(BIG)]
    submitted = [make_entry(BIG + i, payload={"t": TRICKY[i % len(TRICKY)]}) for i in range(BIG)]
    with Wal.create(tmp_path / "log", key) as wal:
        receipts = wal.append_many(batch)
        assert len({r.seal_seq for r in receipts}) == 1, "one group commit"
        assert [rec.body["payload"] for rec in wal.records(kind="intent")] == [e["payload"] for e in batch]
        pending = wal.submit(submitted)
        assert len(pending.result()) == BIG
    _written_as_encoded(tmp_path / "log", batch + submitted)
    assert verify(tmp_path / "log").ok


def test_chunks_of_either_path_mix_in_one_batch(tmp_path: Path, key: keys.SigningKey) -> None:
    batch = [make_entry(i) for i in range(1_100)]
    batch[300] = make_entry(300, payload={"blob": None})  # second chunk: its nulls walked
    batch[900] = UserDict(make_entry(900))  # a Mapping orjson will not encode: per entry
    with Wal.create(tmp_path / "log", key) as wal:
        receipts = wal.append_many(batch)
        assert [r.seq for r in receipts] == list(range(receipts[0].seq, receipts[0].seq + 1_100))
    _written_as_encoded(tmp_path / "log", [dict(e) for e in batch])


@pytest.mark.parametrize(
    ("bad_at", "bad", "field", "message"),
    [
        (5, ["not", "an", "object"], "", "is not of type 'object'"),  # first chunk, array path
        (700, 12, "", "is not of type 'object'"),  # a later chunk
        (
            520,
            make_entry(520, payload={"x": -math.inf}),
            "payload.x",
            "JSON has no NaN/Infinity",
        ),  # found walking nulls
    ],
)
def test_a_bad_entry_in_an_array_chunk_is_named_by_its_index(
    tmp_path: Path, key: keys.SigningKey, bad_at: int, bad: Any, field: str, message: str
) -> None:
    batch: list[Any] = [make_entry(i) for i in range(BIG + 200)]
    batch[bad_at] = bad
    with Wal.create(tmp_path / "log", key) as wal:
        head = wal.head
        for hand_over in (wal.append_many, wal.submit):
            with pytest.raises(SchemaError) as e:
                hand_over(batch)
            assert (e.value.index, e.value.field) == (bad_at, field)
            assert message in str(e.value)
            assert wal.head == head, "nothing of the batch was written"
    assert verify(tmp_path / "log").ok


def test_an_array_that_is_not_what_it_claims_fails_the_batch(tmp_path: Path, key: keys.SigningKey) -> None:
    """The private hand-over refuses a chunk whose array does not hold `count` entries (or is
    no array at all), whether chunks are checked in the background or by the caller, committed
    or submitted; the batch writes nothing and the writer goes on."""
    with Wal.create(tmp_path / "log", key) as wal:
        for background in (True, False):
            two = schema.encode_array([make_entry(1), make_entry(2)])
            for array, count in ((two, 3), (two, 2**64 - 1), (b'[{"a":1}', 1)):
                assert array is not None
                for hand_over in ("commit", "submit"):
                    batch = wal._writer.batch("intent", background)
                    batch.add_array(array, count)
                    with pytest.raises(UsageError, match=f"not one JSON array of {count} entries"):
                        getattr(batch, hand_over)()
                    assert wal.head[0] == 2, "nothing of the batch was written"
        assert len(wal.append_many([make_entry(i) for i in range(BIG)])) == BIG
    assert verify(tmp_path / "log").ok


_text = st.text(alphabet=st.sampled_from(list('"\\,[]{}:aé\n\u2028') + ["\U0001f600"]), max_size=40)
_value = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payloads=st.lists(_value, min_size=1, max_size=8))
def test_any_payloads_round_trip_through_array_chunks(
    tmp_path_factory: pytest.TempPathFactory, payloads: list[Any]
) -> None:
    log = tmp_path_factory.mktemp("log") / "log"
    batch = [make_entry(i, payload={"v": payloads[i % len(payloads)]}) for i in range(BIG)]
    with Wal.create(log, keys.generate()) as wal:
        wal.append_many(batch)
        assert [rec.body["payload"] for rec in wal.records(kind="intent")] == [e["payload"] for e in batch]
    _written_as_encoded(log, batch)
