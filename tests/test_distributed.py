"""Validation on a Dask cluster (two worker processes on loopback): the report of
`kfm_wal.distributed.verify` is the local validator's, finding for finding, on every valid and
invalid vector (with and without a keyring) and on randomly damaged logs; an archive in S3 (moto on
loopback) read by the workers themselves; a worker killed mid-task changes nothing; an unreachable
scheduler or a segment gone while the scans run is one clear error, never a hang."""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kfm_wal
import pytest
from clitools import assert_one_error_line, run
from disttools import comparable, damaged_log, local_cluster, s3_endpoint
from kfm_wal import distributed, keys
from kfm_wal.errors import NotALogError, RemoteError
from kfm_wal.storage import push
from waltools import build_log, make_entry

VECTORS = Path(__file__).resolve().parents[1] / "data" / "vectors"
KEYRING = VECTORS / "keyring.json"
VECTOR_DIRS = sorted(p for kind in ("valid", "invalid") for p in (VECTORS / kind).iterdir() if p.is_dir())


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with local_cluster(2) as c:
        c.wait_for_workers(2, timeout=60)
        yield c


def local_or_error(log: Path, keyring: Path | None) -> dict[str, Any] | str:
    try:
        return comparable(kfm_wal.verify(log, keyring))
    except NotALogError:
        return "not a log"


def on_cluster_or_error(
    log: Path, client: Any, keyring: Path | None, partitions: int | None = None
) -> dict[str, Any] | str:
    try:
        report = distributed.verify(log.resolve().as_uri(), client, keyring, timeout=60, partitions=partitions)
        return comparable(report)
    except NotALogError:
        return "not a log"


def test_every_vector_gives_the_local_report(client: Any) -> None:
    assert len(VECTOR_DIRS) > 50
    invalid_seen = 0
    for d in VECTOR_DIRS:
        for keyring in (KEYRING, None):
            local = local_or_error(d, keyring)
            assert on_cluster_or_error(d, client, keyring) == local, (d.name, keyring)
            if isinstance(local, dict) and local["findings"]:
                invalid_seen += 1
    assert invalid_seen > 80  # the comparison covered findings, not only clean reports


def test_randomly_damaged_logs_give_the_local_report(client: Any, tmp_path: Path) -> None:
    rng = random.Random(16)
    key = keys.generate()
    for i in range(12):
        log = damaged_log(tmp_path / f"log{i}", key, rng)
        # Operations paired in one, two (one per worker) and three partitions.
        assert on_cluster_or_error(log, client, None, [1, None, 3][i % 3]) == local_or_error(log, None), i


def test_an_archive_in_s3_is_read_by_the_workers(client: Any, tmp_path: Path) -> None:
    log = build_log(tmp_path / "log", keys.generate())
    with s3_endpoint() as options:
        push(log, "s3://archives/pipeline", include_live=True, storage_options=options)
        report = distributed.verify("s3://archives/pipeline", client, storage_options=options, timeout=60)
    assert report.ok
    assert comparable(report) == comparable(kfm_wal.verify(log))


def _die_once(marker: str) -> None:
    """On a worker: the next segment scan started by any worker kills that worker's process, once.
    (A task names its function by module and name: the worker finds the patched one.)"""
    from kfm_wal.storage import validate

    original = validate.scan_segment

    def dying(*args: Any, **kwargs: Any) -> Any:
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            return original(*args, **kwargs)
        os.close(fd)
        os._exit(1)  # a worker dying mid-task, as an out-of-memory kill does

    validate.scan_segment = dying  # type: ignore[assignment]


def test_a_worker_dying_mid_task_changes_nothing(client: Any, tmp_path: Path) -> None:
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    log = build_log(tmp_path / "log", keys.generate())
    marker = tmp_path / "died"
    client.run(_die_once, str(marker))
    report = distributed.verify(log.resolve().as_uri(), client, timeout=120)
    assert marker.exists(), "a worker died"
    assert comparable(report) == comparable(kfm_wal.verify(log))
    client.wait_for_workers(2, timeout=60)  # the nanny restarted it


def test_an_unreachable_scheduler_is_one_error_not_a_hang() -> None:
    started = time.monotonic()
    with pytest.raises(RemoteError, match=r"tcp://127\.0\.0\.1:9: cannot be reached"):
        distributed.connect("tcp://127.0.0.1:9", timeout=2)
    assert time.monotonic() - started < 30


def test_cli_unreachable_scheduler(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    log = build_log(tmp_path / "log", keys.generate())
    monkeypatch.setattr(distributed.cluster, "CONNECT_TIMEOUT", 2.0)
    result = run("validate", log.resolve().as_uri(), "--dask", "tcp://127.0.0.1:9")
    assert_one_error_line(result, "Dask scheduler tcp://127.0.0.1:9", "cannot be reached")


def test_a_segment_gone_while_scanning_is_one_error(
    client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kfm_wal.storage.store import ArchiveStore

    log = build_log(tmp_path / "log", keys.generate())
    gone = sorted((log / "archive").glob("wal-*.jsonl"))[1]
    listed = ArchiveStore.segments

    def listed_then_deleted(self: ArchiveStore) -> Any:
        segments = listed(self)
        gone.unlink()  # after the listing, before the workers read
        return segments

    monkeypatch.setattr(ArchiveStore, "segments", listed_then_deleted)
    with pytest.raises(RemoteError, match=gone.name):
        distributed.verify(log.resolve().as_uri(), client, timeout=60)


def test_cli_validate_url_on_the_cluster_prints_the_local_report(client: Any, tmp_path: Path) -> None:
    log = build_log(tmp_path / "log", keys.generate())
    address = client.scheduler.address
    on_cluster = run("validate", log.resolve().as_uri(), "--dask", address, "--json")
    here = run("validate", log, "--json")
    assert on_cluster.exit_code == here.exit_code == 0, on_cluster.stderr
    a, b = json.loads(on_cluster.stdout), json.loads(here.stdout)
    for key in ("path", "elapsed", "throughput", "quarantined"):
        a.pop(key, None)
        b.pop(key, None)
    assert a == b


def test_a_cluster_without_workers_times_out_with_one_error(tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    log = build_log(tmp_path / "log", keys.generate())
    with LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as cluster:
        with Client(cluster, set_as_default=False) as empty:
            with pytest.raises(RemoteError, match="did not finish within 2 s"):
                distributed.verify(log.resolve().as_uri(), empty, timeout=2)


def _incremental_cases(tmp_path: Path) -> Iterator[tuple[str, Path, Any]]:
    """(case, log, receipt): a receipt taken, then the log grown, and then left as it is, its
    checkpoint's record rewritten, or its checkpoint's segment removed."""
    from kfm_wal.verification_receipts import VerificationReceipt

    for case in ("grown", "rewritten", "cut"):
        path = tmp_path / case
        with kfm_wal.Wal.create(path, keys.generate(), max_segment_bytes=6144, max_record_bytes=4096) as w:
            batch = w.append_many([make_entry(i) for i in range(9)])
            w.complete(batch[0].wal_id)
            receipt = VerificationReceipt.from_report(kfm_wal.verify(path, keep_pending=True))
            done = w.append_many([make_entry(100 + i) for i in range(12)])
            w.complete_many([{"wal_id": r.wal_id, "status": "succeeded"} for r in [*batch[1:4], *done[:3]]])
        held = next(p for p in sorted(path.rglob("wal-*.jsonl")) if p.name == receipt.segment)
        if case == "rewritten":
            data = bytearray(held.read_bytes())
            data[receipt.offset + 3] = ord("X")
            held.write_bytes(bytes(data))
        elif case == "cut":
            held.unlink()
        yield case, path, receipt


def test_incremental_runs_give_the_local_report(client: Any, tmp_path: Path) -> None:
    from kfm_wal.storage import verify as verify_url

    for case, log, receipt in _incremental_cases(tmp_path):
        local = kfm_wal.verify(log, receipt=receipt, keep_pending=True)
        assert local.incremental_from == receipt.seq
        url = log.resolve().as_uri()
        here = verify_url(url, receipt=receipt, keep_pending=True)
        there = distributed.verify(url, client, receipt=receipt, keep_pending=True, timeout=60)
        for report in (here, there):
            assert comparable(report) == comparable(local), case
            assert sorted(report.pending_ids or []) == sorted(local.pending_ids or []), case
        codes = [f.code for f in local.findings]
        assert codes == {"grown": [], "rewritten": ["receipt.mismatch"], "cut": ["receipt.truncated"]}[case]
        assert local.scanned_bytes < local.bytes or case != "grown"  # only what is new was read


def test_cli_receipts_of_an_archive_on_the_cluster(client: Any, tmp_path: Path) -> None:
    log = build_log(tmp_path / "log", keys.generate())
    url, receipt = log.resolve().as_uri(), tmp_path / "ci.receipt"
    first = run("validate", url, "--dask", client.scheduler.address, "--receipt", receipt)
    assert first.exit_code == 0, first.stderr
    assert "now vouches for seq 39" in first.stdout
    again = run("validate", url, "--dask", client.scheduler.address, "--receipt", receipt, "--json")
    assert again.exit_code == 0, again.stderr
    doc = json.loads(again.stdout)
    assert doc["incremental_from"] == 39 and doc["scanned_bytes"] < doc["bytes"]


def test_pairing_partitions_grow_with_the_archive_not_past_the_workers_otherwise() -> None:
    from kfm_wal.distributed import MAX_PARTITIONS, PAIRING_LOG_BYTES, pairing_partitions

    assert pairing_partitions(0, 0) == 1
    assert pairing_partitions(2, 10_000_000) == 2  # one per worker
    assert pairing_partitions(64, 10_000_000) == MAX_PARTITIONS
    # A large archive: one partition per PAIRING_LOG_BYTES, so no pairing task holds the ids of
    # more than that much log, however many workers there are.
    assert pairing_partitions(2, 5 * PAIRING_LOG_BYTES + 1) == 6
    assert pairing_partitions(64, 100 * PAIRING_LOG_BYTES) == 100
