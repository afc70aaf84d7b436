"""Helpers for the tests of archives in object storage and of validation on a Dask cluster: an S3
endpoint on loopback (moto's server mode, a random port), a small Dask cluster of worker
processes on loopback, reports compared without what may differ (where and how fast), and logs
damaged at random."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import kfm_wal
from waltools import build_log

# The parts of a report that say where the log was read and how fast: everything else must agree.
VARYING = ("path", "elapsed", "throughput")


def comparable(report: kfm_wal.VerifyReport) -> dict[str, Any]:
    doc = report.to_dict()
    for key in VARYING:
        doc.pop(key)
    return doc


@contextmanager
def s3_endpoint() -> Iterator[dict[str, Any]]:
    """An S3 endpoint on 127.0.0.1 (moto's server mode); yields the s3fs storage options that
    reach it, with a bucket `archives` created."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    options: dict[str, Any] = {
        "endpoint_url": f"http://{host}:{port}",
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"region_name": "us-east-1"},
        "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 5, "read_timeout": 30},
        "skip_instance_cache": True,
    }
    try:
        import boto3

        s3 = boto3.client(
            "s3",
            endpoint_url=options["endpoint_url"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )
        s3.create_bucket(Bucket="archives")
        yield options
    finally:
        server.stop()


@contextmanager
def local_cluster(workers: int = 2) -> Iterator[Any]:
    """A Dask cluster of `workers` single-threaded worker processes on loopback, and its client."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",
        memory_limit="1GiB",
    )
    client = Client(cluster, set_as_default=False)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def damaged_log(root: Path, key: Any, rng: random.Random) -> Path:
    """A valid 4-segment log, then 1-3 random damages: a flipped bit, a cut, bytes removed, a
    line duplicated, or a segment deleted."""
    log = build_log(root, key)
    for _ in range(rng.randint(1, 3)):
        segments = sorted((log / "archive").glob("wal-*.jsonl")) + sorted(log.glob("wal-*.jsonl"))
        path = rng.choice(segments)
        data = bytearray(path.read_bytes())
        how = rng.randrange(5)
        at = rng.randrange(len(data))
        if how == 0:
            data[at] ^= 1 << rng.randrange(8)
        elif how == 1:
            del data[at:]
        elif how == 2:
            del data[at : at + rng.randint(1, 80)]
        elif how == 3:
            lines = bytes(data).splitlines(keepends=True)
            i = rng.randrange(len(lines))
            data = bytearray(b"".join(lines[: i + 1] + lines[i:]))
        else:
            path.unlink()
            continue
        path.write_bytes(bytes(data))
    return log
