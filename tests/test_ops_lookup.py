"""The record index ops.undo finds intents and completions with: the same records the plain reader
returns, one full scan per Wal however many undos, and never a record that changed, moved out or
was cut since it was scanned."""

from __future__ import annotations

import shutil
from pathlib import Path

import kfm_wal
import pytest
from kfm_wal import CorruptionError, Wal, keys
from kfm_wal.ops import OperationSpec, Write, run, run_batch, undo
from kfm_wal.ops.lookup import RecordIndex, index_of
from test_ops_support import META, UNDO_META


def same(a: kfm_wal.Record | None, b: kfm_wal.Record | None) -> bool:
    if a is None or b is None:
        return a is b
    return (a.seq, a.kind, a.offset, a.hash, a.line, a.segment) == (b.seq, b.kind, b.offset, b.hash, b.line, b.segment)


def _batch(wal: Wal, root: Path, n: int, start: int = 0) -> list[str]:
    specs = [
        OperationSpec(
            [Write(f"f{start + i}.csv", b"%d" % (start + i))],
            META["actor"],
            META["tier"],
            META["governance"],
            {"id": f"t{start + i}"},
        )
        for i in range(n)
    ]
    return [r.wal_id for r in run_batch(wal, specs, root=root)]


def test_the_index_returns_what_the_reader_returns_across_rotations(wal: Wal, tmp_path: Path) -> None:
    """`wal` rotates every 64 KiB: the log spans live and archived segments."""
    root = tmp_path / "data"
    ids = []
    for k in range(6):
        ids += _batch(wal, root, 60, start=60 * k)
    assert any((wal.path / "archive").iterdir())
    index = RecordIndex(wal.path)
    for wal_id in ids[::7] + ["0e6a9d4c-3b7f-4a55-9d2e-1c1f7a4c2b10"]:
        assert same(index.intent(wal_id), wal.intent(wal_id))
        assert same(index.completion(wal_id), wal.completion(wal_id))
    assert index.rebuilds == 1


def test_later_records_are_found_by_reading_only_what_is_new(wal: Wal, tmp_path: Path) -> None:
    root = tmp_path / "data"
    first = _batch(wal, root, 5)
    index = index_of(wal)
    assert index.intent(first[0]) is not None and index.rebuilds == 1
    later = _batch(wal, root, 200, start=5)  # rotates into new segments too
    pending = wal.append(
        {
            **META,
            "operation": "etl_step",
            "pre_state_hash": "sha256:" + "0" * 64,
            "post_state_expected": "sha256:" + "1" * 64,
            "payload": {},
            "reversal": {"irreversible": True, "reason": "test"},
            "lineage_links": [],
        }
    )
    for wal_id in later[::13]:
        assert same(index.completion(wal_id), wal.completion(wal_id))
    assert same(index.intent(pending.wal_id), wal.intent(pending.wal_id))
    assert index.completion(pending.wal_id) is None
    # the first records' segment was moved into archive/ by a rotation since it was scanned
    moved = index.intent(first[0])
    assert moved is not None and (wal.path / "archive" / moved.segment).is_file()
    assert same(moved, wal.intent(first[0]))
    assert index.rebuilds == 1


def test_undo_scans_the_log_once_per_wal(wal: Wal, tmp_path: Path) -> None:
    root = tmp_path / "data"
    ids = _batch(wal, root, 30)
    for wal_id in ids:
        assert undo(wal, wal_id, root=root, **UNDO_META).status == "succeeded"
    assert index_of(wal).rebuilds == 1
    assert not any(root.iterdir())


def _flip(path: Path, offset: int, old: bytes, new: bytes) -> None:
    data = bytearray(path.read_bytes())
    at = data.index(old, offset)
    data[at : at + len(old)] = new
    path.write_bytes(bytes(data))


def test_a_record_changed_since_it_was_scanned_is_not_returned(
    log_dir: Path, key: keys.SigningKey, tmp_path: Path
) -> None:
    with Wal.create(log_dir, key) as wal:
        result = run(wal, [Write("a.csv", b"a")], root=tmp_path / "data", **META)
    index = RecordIndex(log_dir)
    intent = index.intent(result.wal_id)
    assert intent is not None
    _flip(log_dir / intent.segment, intent.offset, b'"etl_step"', b'"etl_stop"')
    with pytest.raises(CorruptionError):  # what the plain reader says too
        index.intent(result.wal_id)
    with pytest.raises(CorruptionError):
        next(kfm_wal.records(log_dir, kind="intent", wal_id=result.wal_id))


def test_a_record_cut_from_the_log_is_not_returned(log_dir: Path, key: keys.SigningKey, tmp_path: Path) -> None:
    with Wal.create(log_dir, key) as wal:
        kept = run(wal, [Write("a.csv", b"a")], root=tmp_path / "data", **META)
        cut = run(wal, [Write("b.csv", b"b")], root=tmp_path / "data", **META)
    index = RecordIndex(log_dir)
    record = index.intent(cut.wal_id)
    assert record is not None
    seg = log_dir / record.segment
    with open(seg, "r+b") as f:
        f.truncate(record.offset)  # its line and the seal after it are gone: a clean cut
    assert index.intent(cut.wal_id) is None
    assert same(index.intent(kept.wal_id), next(kfm_wal.records(log_dir, kind="intent", wal_id=kept.wal_id)))
    assert index.rebuilds == 2


def test_a_log_replaced_at_the_same_path_is_read_afresh(log_dir: Path, key: keys.SigningKey, tmp_path: Path) -> None:
    with Wal.create(log_dir, key) as wal:
        old = run(wal, [Write("a.csv", b"a")], root=tmp_path / "old", **META)
    index = RecordIndex(log_dir)
    assert index.intent(old.wal_id) is not None
    shutil.rmtree(log_dir)
    with Wal.create(log_dir, key) as wal:
        new = [run(wal, [Write(f"{i}.csv", b"x" * i)], root=tmp_path / "new", **META).wal_id for i in range(3)]
    assert index.intent(old.wal_id) is None
    for wal_id in new:
        assert same(index.intent(wal_id), next(kfm_wal.records(log_dir, kind="intent", wal_id=wal_id)))
