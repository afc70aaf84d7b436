"""Compressed archives (docs/FORMAT.md sections 1 and 7): a log whose setting is zstd compresses each
rotated segment; the reader, follow, the validator (batch and receipts), `kfm-wal log`, the
operation index and the reference read them as they read plain ones; a truncated frame is
`segment.compression` at the uncompressed offset where readable data ends, refused with one line;
kill -9 at random moments (some during compressions) loses nothing acknowledged."""

from __future__ import annotations

import json
from pathlib import Path

import kfm_wal
import pytest
from clitools import assert_one_error_line, jsonl, run
from crash.harness import run as crash_run
from kfm_wal import CorruptionError, Wal, keys, verify
from kfm_wal.ops.lookup import RecordIndex
from waltools import make_entry, ref


def rows(log: Path) -> list[tuple[int, str, bytes]]:
    return [(r.seq, r.hash, r.line) for r in kfm_wal.records(log)]


def build(path: Path, key: keys.SigningKey, n: int = 60, segment: int = 32 * 1024, **options: str) -> Path:
    with Wal.create(path, key, max_segment_bytes=segment, max_record_bytes=8 * 1024, **options) as w:  # type: ignore[arg-type]
        for i in range(n):
            r = w.append_many([make_entry(i * 5 + j) for j in range(5)])
            w.complete(r[0].wal_id)
        assert w.wait_for_archive() is None
    return path


def compressed(log: Path) -> list[Path]:
    return sorted((log / "archive").glob("wal-*.jsonl.zst"))


@pytest.fixture
def plain_then_zstd(tmp_path: Path, key: keys.SigningKey) -> tuple[Path, list[tuple[int, str, bytes]]]:
    """A plain log, its records, then the same log with its setting switched to zstd."""
    log = build(tmp_path / "wal", key)
    before = rows(log)
    assert not compressed(log)
    with Wal.open(log, key, archive_compression="zstd") as w:
        assert w.archive_compression == "zstd"
        assert w.wait_for_archive() is None
    return log, before


def test_compressed_archive_reads_and_validates_as_the_plain_one(
    plain_then_zstd: tuple[Path, list[tuple[int, str, bytes]]], key: keys.SigningKey
) -> None:
    log, before = plain_then_zstd
    assert len(compressed(log)) >= 5 and not list((log / "archive").glob("*.jsonl"))
    assert json.loads((log / "settings.json").read_text()) == {"archive_compression": "zstd"}
    assert rows(log) == before, "the same records, byte for byte, read from the compressed segments"
    report = verify(log)
    assert report.ok and report.records == len(before)
    theirs = ref.verify(log)
    assert theirs.ok and (theirs.records, theirs.head_hash) == (report.records, report.head_hash)
    result = run("validate", log, "--json")
    assert result.exit_code == 0, result.output
    shown = run("log", log, "--json")
    assert shown.exit_code == 0, shown.stderr
    assert [json.loads(line)["seq"] for line in shown.stdout.splitlines()] == [r[0] for r in before]
    # An operation in a compressed segment is found by the index (which reads lines by offset).
    first_intent = next(kfm_wal.records(log, kind="intent"))
    assert first_intent.segment.endswith(".jsonl.zst")
    found = RecordIndex(log).intent(first_intent.wal_id)
    assert found is not None and found.line == first_intent.line
    # Follow from the start crosses compressed segments into the live one.
    followed = []
    for r in kfm_wal.follow(log, start_seq=1, poll_interval=0.01):
        followed.append(r.seq)
        if len(followed) == len(before):
            break
    assert followed == [r[0] for r in before]


def test_a_receipt_resumes_in_a_segment_compressed_since(tmp_path: Path, key: keys.SigningKey) -> None:
    log = build(tmp_path / "wal", key, n=3, archive_compression="zstd")
    receipt = tmp_path / "receipt.json"
    assert run("validate", log, "--receipt", receipt).exit_code == 0
    vouched = json.loads(receipt.read_text())["segment"]
    with Wal.open(log, key) as w:  # rotations: the receipt's segment is archived and compressed
        for i in range(60):
            w.append(make_entry(1000 + i))
        assert w.wait_for_archive() is None
    assert (log / "archive" / (vouched + ".zst")).exists(), vouched
    again = run("validate", log, "--receipt", receipt, "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["incremental_from"] is not None


def truncate_first(log: Path) -> Path:
    first = compressed(log)[0]
    raw = first.read_bytes()
    first.write_bytes(raw[: len(raw) // 2])
    return first


def test_a_truncated_frame_is_located_and_refused_with_one_line(tmp_path: Path, key: keys.SigningKey) -> None:
    # Segments of several zstd blocks (128 KiB each): half a frame still decodes a prefix.
    log = build(tmp_path / "wal", key, n=200, segment=600 * 1024, archive_compression="zstd")
    first = truncate_first(log)
    cut = first.read_bytes()
    report = verify(log)
    f = report.findings[0]
    assert [x.code for x in report.findings] == ["segment.compression"]
    assert f.segment == first.name and f.offset > 0 and f.seq is None
    theirs = ref.verify(log)
    assert [(e.code, e.segment, e.offset) for e in theirs.errors] == [(f.code, f.segment, f.offset)]
    result = run("validate", log, "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["findings"][0]["offset"] == f.offset
    with pytest.raises(CorruptionError, match="segment.compression"):
        Wal.open(log, key)
    key_file = keys.save(key, tmp_path / "writer.pem")
    appended = run("append", log, "--key", key_file, input=jsonl(make_entry(1)))
    assert_one_error_line(appended, "segment.compression", first.name, f"offset {f.offset}")
    assert_one_error_line(run("log", log), "segment.compression", f"offset {f.offset}")
    assert first.read_bytes() == cut, "nothing changed"


def test_init_records_the_setting(tmp_path: Path) -> None:
    result = run("init", tmp_path / "wal", "--archive-compression", "zstd", "--max-segment-bytes", "16384")
    assert result.exit_code == 0, result.stderr
    assert "zstd" in result.stdout
    assert json.loads((tmp_path / "wal" / "settings.json").read_text()) == {"archive_compression": "zstd"}
    assert_one_error_line(run("init", tmp_path / "other", "--archive-compression", "lz4"), "lz4")


def test_kill_nine_during_compressions_loses_nothing(tmp_path: Path) -> None:
    totals = crash_run(tmp_path / "wal", kills=8, seed=23, archive_compression="zstd")
    assert totals.failures == []
    assert totals.acknowledged > 0 and totals.lost == 0
    logs = [d for d in tmp_path.glob("wal-*") if d.is_dir()]
    assert any(compressed(d) for d in logs), "the writers rotated and compressed"
