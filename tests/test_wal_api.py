"""The public Python API: writing, reading, verifying, refusing bad input, recovering."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import kfm_wal
import orjson
import pytest
from kfm_wal import (
    ConflictError,
    CorruptionError,
    KeyMismatchError,
    LockedError,
    LogExistsError,
    NotALogError,
    RecordTooLargeError,
    SchemaError,
    UsageError,
    Wal,
    keys,
    verify,
)
from kfm_wal.wal import DEFAULT_PREALLOCATE_BYTES
from waltools import live_segment, make_entry


def test_receipts_are_a_sequence_made_on_demand(wal: Wal) -> None:
    receipts = wal.append_many([make_entry(i) for i in range(6)])
    seqs = [3, 4, 5, 6, 7, 8]
    assert isinstance(receipts, Sequence) and len(receipts) == 6
    assert [r.seq for r in receipts] == seqs and [r.seq for r in iter(receipts)] == seqs
    assert receipts[0].seq == 3 and receipts[-1].seq == 8 and receipts[-6].seq == 3
    assert [r.seq for r in receipts[1:5:2]] == [4, 6] and [r.seq for r in receipts[::-1]] == seqs[::-1]
    assert receipts[10:] == []
    for bad in (6, -7):
        with pytest.raises(IndexError):
            receipts[bad]
    first, *_, last = receipts
    assert (first.hash, last.offset) == (receipts[0].hash, receipts[5].offset) and first.hash != last.hash
    assert "6 records" in repr(receipts) and "seal_seq=9" in repr(receipts)
    assert len(wal.append_many([])) == 0


def test_round_trip(wal: Wal, log_dir: Path) -> None:
    receipts = wal.append_many([make_entry(i) for i in range(5)])
    assert [r.seq for r in receipts] == [3, 4, 5, 6, 7]
    assert all(r.seal_seq == 8 and r.durability == "fsync" for r in receipts)
    done = wal.complete(receipts[0].wal_id, "succeeded", duration_ms=1.5)
    assert done.kind == "completion" and done.wal_id == receipts[0].wal_id
    by_seq = {r.seq: r for r in wal.records()}
    for r in receipts:
        rec = by_seq[r.seq]
        assert rec.hash == r.hash and rec.wal_id == r.wal_id and rec.kind == "intent"
        assert rec.body["payload"] == make_entry(r.seq - 3)["payload"]
    intent = wal.intent(receipts[0].wal_id)
    completion = wal.completion(receipts[0].wal_id)
    assert intent is not None and completion is not None
    assert completion.body["status"] == "succeeded" and completion.body["duration_ms"] == 1.5
    report = verify(log_dir)
    assert report.ok, report.findings
    assert (report.intents, report.completions, report.pending) == (5, 1, 4)
    assert report.trust == "self-declared"
    assert report.head_seq == wal.head[0]


def test_every_line_is_the_format(wal: Wal, log_dir: Path) -> None:
    wal.append(make_entry())
    data = live_segment(log_dir).read_bytes()
    # While the writer is open, its live segment's data is followed by zero padding (FORMAT.md
    # section 2); a clean close cuts it.
    data, padding = data.rstrip(b"\0"), len(data) - len(data.rstrip(b"\0"))
    assert data.endswith(b"\n") and padding > 0
    for line in data.splitlines(keepends=True):
        doc = orjson.loads(line)
        assert list(doc)[:4] == ["seq", "prev", "kind", "timestamp"] and list(doc)[-1] == "hash"
        assert line.endswith(b'"}\n') and b'"hash":"sha256:' in line[-82:]


def test_caller_wal_id_is_kept_and_must_be_unique(wal: Wal) -> None:
    wid = "3f2b8c1e-5d4a-4e6b-9c7d-0a1b2c3d4e5f"
    assert wal.append(make_entry(wal_id=wid)).wal_id == wid
    with pytest.raises(ConflictError, match="already in the log"):
        wal.append(make_entry(wal_id=wid))
    with pytest.raises(ConflictError):
        wal.append_many([make_entry(1, wal_id="5f2b8c1e-5d4a-4e6b-9c7d-0a1b2c3d4e5f")] * 2)


def test_completion_rules(wal: Wal) -> None:
    r = wal.append(make_entry())
    wal.complete(r.wal_id, "failed", error="disk full")
    with pytest.raises(ConflictError, match="already completed"):
        wal.complete(r.wal_id)
    with pytest.raises(ConflictError, match="no intent"):
        wal.complete("0b7c1f4e-2b8a-4c1e-9f3a-6d5e4c3b2a10")
    with pytest.raises(SchemaError) as e:
        wal.complete(r.wal_id, "maybe")  # type: ignore[arg-type]
    assert e.value.field == "status"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"tier": 5}, "tier"),
        ({"tier": "1"}, "tier"),
        ({"tier": 4}, "operation"),  # tier 4 is for rollbacks only
        ({"operation": "Not An Op"}, "operation"),
        ({"pre_state_hash": "md5:abc"}, "pre_state_hash"),
        ({"reversal": {"steps": []}}, "reversal.steps"),
        ({"governance": {"care": "secret"}}, "governance.care"),
        ({"actor": {"type": "robot", "id": "x"}}, "actor.type"),
        ({"telemetry": {}}, "telemetry"),
        ({"lineage_links": "wal:x"}, "lineage_links"),
        ({"wal_id": "not-a-uuid"}, "wal_id"),
        ({"timestamp": "2026-01-01T00:00:00.000000Z"}, "timestamp"),  # the writer owns it, and says so
        ({"surprise": 1}, ""),
    ],
)
def test_schema_errors_name_the_field_and_write_nothing(wal: Wal, change: dict, field: str) -> None:
    head = wal.head
    batch = [make_entry(0), make_entry(1, **change), make_entry(2)]
    with pytest.raises(SchemaError) as e:
        wal.append_many(batch)
    assert e.value.index == 1
    assert e.value.field == field
    assert str(e.value).startswith("entry 1: ")
    assert wal.head == head
    assert verify(wal.path).ok


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        ({"x": math.nan}, "payload.x"),
        ({"x": [1, math.inf]}, "payload.x[1]"),
        ({"x": {1, 2}}, "payload.x"),
        ({1: "a"}, "payload"),
        ({"x": 2**64}, ""),
        ({"x": object()}, "payload.x"),
    ],
)
def test_unencodable_payloads_are_refused(wal: Wal, payload: dict, where: str) -> None:
    head = wal.head
    with pytest.raises(SchemaError) as e:
        wal.append(make_entry(payload=payload))
    assert e.value.field == where
    assert wal.head == head


@pytest.mark.parametrize(
    ("bad_at", "change", "field"),
    [
        (700, {"tier": 7}, "tier"),  # refused by the core while later chunks are still encoded
        (300, {"payload": {"x": math.nan}}, "payload.x"),  # refused while encoding
        (1299, {"actor": {"type": "robot", "id": "x"}}, "actor.type"),  # in the last, short chunk
    ],
)
def test_large_batches_go_over_in_chunks_all_or_nothing(wal: Wal, bad_at: int, change: dict, field: str) -> None:
    head = wal.head
    batch = [make_entry(i) for i in range(1300)]
    batch[bad_at] = make_entry(bad_at, **change)
    later = bad_at + 150 if bad_at + 150 < len(batch) else None
    if later is not None:
        batch[later] = make_entry(later, tier=9)  # a later bad entry: the first one is reported
    with pytest.raises(SchemaError) as e:
        wal.append_many(batch)
    assert (e.value.index, e.value.field) == (bad_at, field)
    assert str(e.value).startswith(f"entry {bad_at}: ")
    assert wal.head == head
    batch = [make_entry(i) for i in range(1300)]
    receipts = wal.append_many(batch)
    assert [r.seq for r in receipts] == list(range(head[0] + 1, head[0] + 1301))
    assert len({r.seal_seq for r in receipts}) == 1  # one group commit
    assert [rec.body["payload"] for rec in wal.records(kind="intent")] == [e["payload"] for e in batch]
    assert verify(wal.path).ok


def test_none_is_fine(wal: Wal) -> None:
    r = wal.append(make_entry(payload={"blob": None}))
    rec = next(wal.records(wal_id=r.wal_id))
    assert rec.body["payload"] == {"blob": None}


def test_record_size_limit(wal: Wal) -> None:
    with pytest.raises(RecordTooLargeError):
        wal.append(make_entry(payload={"x": "y" * 20_000}))
    assert verify(wal.path).ok


def test_rotation_and_reading_across_segments(wal: Wal, log_dir: Path) -> None:
    ids = [r.wal_id for _ in range(30) for r in wal.append_many([make_entry(i) for i in range(20)])]
    assert len(list((log_dir / "archive").glob("wal-*.jsonl"))) >= 5
    assert len(list(log_dir.glob("wal-*.jsonl"))) == 1
    intents = list(wal.records(kind="intent"))
    assert [r.wal_id for r in intents] == ids
    seqs = [r.seq for r in wal.records()]
    assert seqs == list(range(1, len(seqs) + 1))
    window = list(wal.records(start_seq=100, end_seq=140))
    assert [r.seq for r in window] == list(range(100, 141))
    assert len(list(wal.records(operation="etl_step"))) == 600
    assert len(list(wal.records(operation="graph_write"))) == 0
    assert verify(log_dir).ok


def test_concurrent_appends_from_threads(wal: Wal, log_dir: Path) -> None:
    got: list[kfm_wal.Receipt] = []
    lock = threading.Lock()

    def work(t: int) -> None:
        for i in range(40):
            r = wal.append(make_entry(t * 100 + i))
            with lock:
                got.append(r)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.seq for r in got}) == 320
    report = verify(log_dir)
    assert report.ok and report.intents == 320
    stats = wal.stats
    assert stats["records"] == 320
    # Every group has its seal; a sync covers one group or more, never none.
    assert stats["groups"] == len({r.seal_seq for r in got}) <= 320
    assert 1 <= stats["syncs"] <= stats["groups"]


def test_one_writer_per_directory(wal: Wal, log_dir: Path, key: keys.SigningKey) -> None:
    with pytest.raises(LockedError) as e:
        Wal.open(log_dir, key)
    assert e.value.pid == str(os.getpid())
    wal.close()
    Wal.open(log_dir, key).close()


def test_open_refusals(tmp_path: Path, wal: Wal, log_dir: Path, key: keys.SigningKey) -> None:
    wal.close()
    with pytest.raises(KeyMismatchError):
        Wal.open(log_dir, keys.generate())
    with pytest.raises(LogExistsError):
        Wal.create(log_dir, key)
    with pytest.raises(NotALogError):
        Wal.open(tmp_path / "nothing-here", key)
    with pytest.raises(NotALogError):
        verify(tmp_path)
    with pytest.raises(kfm_wal.UsageError):
        Wal.open(log_dir, key, recovery="yolo")  # type: ignore[arg-type]


def test_keyring_trust(wal: Wal, log_dir: Path, key: keys.SigningKey, tmp_path: Path) -> None:
    wal.append(make_entry())
    ring = keys.Keyring(()).with_key(key)
    keys.save_keyring(ring, tmp_path / "ring.json")
    trusted = verify(log_dir, keyring=tmp_path / "ring.json")
    assert trusted.ok and trusted.trust == "keyring"
    stranger = keys.Keyring(()).with_key(keys.generate())
    report = verify(log_dir, keyring=stranger)
    assert not report.ok
    assert {f.code for f in report.findings} == {"seal.untrusted_key"}
    assert not verify(log_dir, keyring=[]).ok


def test_key_files(tmp_path: Path) -> None:
    k = keys.generate()
    path = keys.save(k, tmp_path / "k.pem")
    assert path.stat().st_mode & 0o777 == 0o600
    assert keys.load(path) == k
    with pytest.raises(kfm_wal.UsageError):
        keys.save(k, path)
    (tmp_path / "junk.pem").write_text("junk")
    with pytest.raises(kfm_wal.UsageError):
        keys.load(tmp_path / "junk.pem")


def test_torn_tail_is_recovered_with_a_copy(wal: Wal, log_dir: Path, key: keys.SigningKey) -> None:
    acked = wal.append_many([make_entry(i) for i in range(3)])
    wal.close()
    seg = live_segment(log_dir)
    good = seg.stat().st_size
    with seg.open("ab") as f:
        f.write(b'{"seq":99,"prev":"sha256:')
    report = verify(log_dir)
    assert [f.code for f in report.findings] == ["tail.torn"]
    assert report.findings[0].offset == good
    with pytest.raises(CorruptionError):
        Wal.open(log_dir, key, recovery="strict")
    with Wal.open(log_dir, key) as w:
        (note,) = w.recovery
        assert note["offset"] == good and note["bytes"] == 25
        assert Path(note["saved_to"]).read_bytes() == b'{"seq":99,"prev":"sha256:'
        nxt = w.append(make_entry(9))
        assert nxt.seq == acked[-1].seal_seq + 1
    assert verify(log_dir).ok


def test_mid_log_corruption_is_refused_and_located(wal: Wal, log_dir: Path, key: keys.SigningKey) -> None:
    r = wal.append_many([make_entry(i) for i in range(3)])
    wal.append(make_entry(7))
    wal.close()
    seg = live_segment(log_dir)
    data = bytearray(seg.read_bytes())
    data[data.index(b'"payload"', r[1].offset) + 20] ^= 0x01  # inside the body: only the hash can tell
    seg.write_bytes(bytes(data))
    report = verify(log_dir)
    first = report.findings[0]
    assert (first.code, first.offset, first.segment) == ("record.hash", r[1].offset, seg.name)
    with pytest.raises(CorruptionError) as e:
        Wal.open(log_dir, key)
    assert e.value.finding is not None and e.value.finding["offset"] == r[1].offset
    assert seg.read_bytes() == bytes(data)


@pytest.mark.parametrize("durability", ["os", "none"])
def test_durability_levels_are_reported(log_dir: Path, key: keys.SigningKey, durability: str) -> None:
    with Wal.create(log_dir, key, durability=durability) as w:  # type: ignore[arg-type]
        assert w.append(make_entry()).durability == durability
    assert verify(log_dir).ok


POISON_SCRIPT = r"""
import resource, signal, sys
sys.path.insert(0, sys.argv[2])
from waltools import make_entry
from kfm_wal import Wal, keys, PoisonedError, WalError
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
key = keys.load(sys.argv[3])
w = Wal.open(sys.argv[1], key)
resource.setrlimit(resource.RLIMIT_FSIZE, (w.path.joinpath(w.head[3]).stat().st_size + 3000,) * 2)
acked = 0
try:
    for i in range(100):
        w.append(make_entry(i)); acked += 1
except WalError as e:
    print("FAILED", type(e).__name__, acked)
try:
    w.append(make_entry(1000))
    print("ACCEPTED")
except PoisonedError:
    print("POISONED")
"""


def test_failed_write_poisons_the_writer(log_dir: Path, key: keys.SigningKey, tmp_path: Path) -> None:
    Wal.create(log_dir, key).close()
    keys.save(key, tmp_path / "k.pem")
    out = subprocess.run(
        [sys.executable, "-c", POISON_SCRIPT, str(log_dir), str(Path(__file__).parent), str(tmp_path / "k.pem")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    assert out[0] == "FAILED" and out[1] == "PoisonedError" and out[-1] == "POISONED"
    acked = int(out[2])
    with Wal.open(log_dir, key) as w:
        intents = list(w.records(kind="intent"))
    assert len(intents) == acked
    assert verify(log_dir).ok


def test_follow_streams_new_sealed_records_across_rotations(wal: Wal, log_dir: Path) -> None:
    first = wal.append(make_entry(0))
    seen: list[kfm_wal.Record] = []
    done = threading.Event()

    def reader() -> None:
        for rec in kfm_wal.follow(log_dir, start_seq=first.seq, poll_interval=0.01, stop=done.is_set, kind="intent"):
            seen.append(rec)
            if len(seen) == 201:
                done.set()

    t = threading.Thread(target=reader)
    t.start()
    wal_ids = [first.wal_id]
    for i in range(20):  # 64 KiB segments: these rotate several times
        wal_ids += [r.wal_id for r in wal.append_many([make_entry(i * 10 + j) for j in range(10)])]
    t.join(timeout=20)
    done.set()
    assert [r.wal_id for r in seen] == wal_ids
    assert len({r.segment for r in seen}) > 2


def test_follow_without_start_sees_only_new_records(wal: Wal, log_dir: Path) -> None:
    wal.append(make_entry(0))
    stream = kfm_wal.follow(log_dir, poll_interval=0.01)
    later = wal.append(make_entry(1))
    rec = next(stream)
    assert (rec.seq, rec.kind) == (later.seq, "intent")


def test_preallocation_is_a_writer_setting(tmp_path: Path, key: keys.SigningKey) -> None:
    with pytest.raises(UsageError, match="preallocate_bytes must be >= 0 and < 2[*][*]64, got -1"):
        Wal.create(tmp_path / "refused", key, preallocate_bytes=-1)
    assert not (tmp_path / "refused").exists(), "a refused setting creates nothing"
    sizes = {}
    for pre in (0, DEFAULT_PREALLOCATE_BYTES):
        with Wal.create(tmp_path / str(pre), key, preallocate_bytes=pre) as w:
            w.append(make_entry())
            sizes[pre] = live_segment(tmp_path / str(pre)).stat().st_size
        data = live_segment(tmp_path / str(pre)).read_bytes()
        assert data.endswith(b"\n") and b"\0" not in data, "a clean close leaves no padding"
        assert kfm_wal.verify(tmp_path / str(pre)).ok
    assert sizes[DEFAULT_PREALLOCATE_BYTES] >= sizes[0] + DEFAULT_PREALLOCATE_BYTES // 2
    with pytest.raises(UsageError, match="preallocate_bytes"):
        Wal.open(tmp_path / "0", key, preallocate_bytes=-5)
    with pytest.raises(UsageError, match="preallocate_bytes"):
        Wal.open(tmp_path / "0", key, preallocate_bytes=2**64)
    with Wal.open(tmp_path / "0", key, preallocate_bytes=2**64 - 1) as w:
        w.append(make_entry())  # bounded by max_segment_bytes
    with Wal.open(tmp_path / "0", key, preallocate_bytes=DEFAULT_PREALLOCATE_BYTES) as w:
        w.append(make_entry())
        assert b"\0" in live_segment(tmp_path / "0").read_bytes(), "padded from the reopened writer on"
