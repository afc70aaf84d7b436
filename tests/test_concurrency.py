"""Writers and readers in other processes and threads: the lock, and what readers may see."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import kfm_wal
import pytest
from kfm_wal import LockedError, Wal, keys
from waltools import make_entry

HOLDER = r"""
import sys, time
from kfm_wal import Wal, keys
w = Wal.open(sys.argv[1], keys.load(sys.argv[2]))
print("HOLDING", flush=True)
time.sleep(60)
"""


def test_second_writer_in_another_process_is_refused_and_a_dead_one_leaves_no_lock(
    tmp_path: Path, key: keys.SigningKey
) -> None:
    log = tmp_path / "wal"
    Wal.create(log, key).close()
    key_file = keys.save(key, tmp_path / "k.pem")
    # `with`: the pipe is closed when the holder is gone, not left to the garbage collector.
    with subprocess.Popen([sys.executable, "-c", HOLDER, str(log), str(key_file)], stdout=subprocess.PIPE) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == b"HOLDING"
            with pytest.raises(LockedError) as e:
                Wal.open(log, key)
            assert e.value.pid == str(holder.pid)
            assert f"pid {holder.pid}" in str(e.value)
        finally:
            holder.send_signal(signal.SIGKILL)
            holder.wait()
    with Wal.open(log, key) as w:  # the kernel dropped the dead holder's lock
        w.append(make_entry(1))


def test_readers_see_only_sealed_records_while_a_writer_appends(tmp_path: Path, key: keys.SigningKey) -> None:
    log = tmp_path / "wal"
    wal = Wal.create(log, key, max_segment_bytes=64 * 1024, max_record_bytes=16 * 1024, durability="none")
    stop = threading.Event()
    problems: list[str] = []

    def write() -> None:
        i = 0
        while not stop.is_set():
            wal.append_many([make_entry(i + j, payload={"pad": "x" * (i % 900)}) for j in range(7)])
            i += 7

    def read() -> None:
        reads = 0
        while not stop.is_set() or reads < 3:
            try:
                seen = list(kfm_wal.records(log))
            except kfm_wal.WalError as e:  # a half-written record must never surface as damage
                problems.append(repr(e))
                return
            seqs = [r.seq for r in seen]
            if seqs != list(range(1, len(seqs) + 1)) or (seen and seen[-1].kind != "seal"):
                gaps = [
                    (a.seq, a.segment, b.seq, b.segment)
                    for a, b in zip(seen, seen[1:], strict=False)
                    if b.seq != a.seq + 1
                ][:3]
                problems.append(f"not a sealed prefix: gaps {gaps} ends {seqs[-3:]} kind {seen[-1].kind}")
                return
            reads += 1

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    threading.Event().wait(2.0)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    wal.close()
    assert problems == []
    assert kfm_wal.verify(log).ok
    assert os.path.exists(log / "archive")
