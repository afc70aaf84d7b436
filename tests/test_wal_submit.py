"""`Wal.submit`: pipelined batches. Order, answers that stay, backpressure, and the bad input of
issue 15: a submit after poisoning, a handle waited on twice, a schema error with a batch in
flight, close with batches in flight."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from kfm_wal import ConflictError, SchemaError, Wal, keys, verify
from kfm_wal.wal import Pending, Receipts
from waltools import make_entry


def test_submits_resolve_in_order_as_append_many_would(wal: Wal) -> None:
    pending = [wal.submit([make_entry(b * 100 + i) for i in range(40)]) for b in range(10)]
    assert all(isinstance(p, Pending) for p in pending)
    last = 0
    for b, p in enumerate(pending):
        receipts = p.result()
        assert isinstance(receipts, Receipts) and len(receipts) == 40
        assert receipts[0].seq > last, f"batch {b} is sequenced after the one submitted before it"
        assert all(earlier.done() for earlier in pending[:b]), "a later handle never resolves first"
        assert receipts[-1].durability == "fsync"
        last = receipts[-1].seq
    assert len(list(wal.records(kind="intent"))) == 400
    assert len(wal.submit([]).result()) == 0


def test_large_batches_are_submitted_in_chunks(wal: Wal) -> None:
    big = [make_entry(i) for i in range(1_200)]
    p = wal.submit(big)
    assert [r.seq for r in p.result()] == list(range(p.result()[0].seq, p.result()[0].seq + 1_200))


def test_a_handle_waited_on_twice_gives_the_same_receipts_or_the_same_error(wal: Wal) -> None:
    p = wal.submit([make_entry(1), make_entry(2)])
    first, second = p.result(), p.result(timeout=0)
    assert [(r.seq, r.hash, r.wal_id) for r in first] == [(r.seq, r.hash, r.wal_id) for r in second]
    assert p.done()
    # A conflict (the wal_id is in the log) is found when the batch is written: raised by result,
    # every time, and it writes nothing.
    dup = wal.submit([make_entry(3, wal_id=first[0].wal_id)])
    for _ in range(2):
        with pytest.raises(ConflictError, match="already in the log"):
            dup.result()
    assert len(list(wal.records(kind="intent"))) == 2


def test_a_schema_error_is_raised_by_submit_while_an_earlier_batch_is_in_flight(wal: Wal) -> None:
    earlier = wal.submit([make_entry(i) for i in range(300)])
    with pytest.raises(SchemaError) as e:
        wal.submit([make_entry(1000), make_entry(1001, tier=9)])
    assert e.value.index == 1
    assert len(earlier.result()) == 300
    assert len(list(wal.records(kind="intent"))) == 300, "the failing batch wrote nothing"


def test_close_waits_for_every_batch_in_flight(log_dir: Path, key: keys.SigningKey) -> None:
    w = Wal.create(log_dir, key)
    pending = [w.submit([make_entry(b * 100 + i) for i in range(100)]) for b in range(20)]
    w.close()
    assert all(p.done() for p in pending), "none vanished: close resolved them all"
    assert sum(len(p.result()) for p in pending) == 2_000
    report = verify(log_dir)
    assert report.ok and report.intents == 2_000


def test_submit_blocks_at_the_bound_and_releases_the_gil(log_dir: Path, key: keys.SigningKey) -> None:
    # A bound below one batch: every submit waits until the batch before it is durable.
    with Wal.create(log_dir, key, max_in_flight_bytes=1) as w:
        ticks = 0
        stop = threading.Event()

        def count() -> None:
            nonlocal ticks
            while not stop.is_set():
                ticks += 1

        t = threading.Thread(target=count)
        t.start()
        pending = [w.submit([make_entry(b * 10 + i) for i in range(10)]) for b in range(10)]
        stop.set()
        t.join()
        assert all(p.done() for p in pending[:-1])
        assert len(pending[-1].result()) == 10
        assert ticks > 0


def test_result_times_out_and_later_returns(wal: Wal) -> None:
    p = wal.submit([make_entry(0)])
    try:
        p.result(timeout=0)
    except TimeoutError:
        pass
    assert len(p.result(timeout=30)) == 1


POISON_SCRIPT = r"""
import resource, signal, sys
sys.path.insert(0, sys.argv[2])
from waltools import make_entry
from kfm_wal import Wal, keys, PoisonedError, WalError
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
key = keys.load(sys.argv[3])
w = Wal.open(sys.argv[1], key)
resource.setrlimit(resource.RLIMIT_FSIZE, (w.path.joinpath(w.head[3]).stat().st_size + 3000,) * 2)
pending = []
for b in range(20):
    try:
        pending.append(w.submit([make_entry(b * 10 + i) for i in range(2)]))
    except PoisonedError:
        break  # a batch in flight failed: submit refuses at once from then on
acked, failed = 0, None
for p in pending:
    try:
        acked += len(p.result())
        assert failed is None, "acknowledged after a failure"
    except WalError as e:
        failed = failed or type(e).__name__
size = w.path.joinpath(w.head[3]).stat().st_size
try:
    w.submit([make_entry(1000)])
    print("ACCEPTED")
except PoisonedError:
    print("POISONED" if w.path.joinpath(w.head[3]).stat().st_size == size else "WROTE")
print(failed, acked)
"""


def test_a_submit_after_poisoning_raises_and_writes_nothing(
    log_dir: Path, key: keys.SigningKey, tmp_path: Path
) -> None:
    Wal.create(log_dir, key).close()
    keys.save(key, tmp_path / "k.pem")
    out = subprocess.run(
        [sys.executable, "-c", POISON_SCRIPT, str(log_dir), str(Path(__file__).parent), str(tmp_path / "k.pem")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    assert out[0] == "POISONED" and out[1] == "PoisonedError", out
    with Wal.open(log_dir, key) as w:
        # Every acknowledged batch is there; a batch written but failed with the sync stage may be.
        assert len(list(w.records(kind="intent"))) >= int(out[2])
    assert verify(log_dir).ok
