"""Verifying an archive on a Dask cluster: one task per segment (per piece of a segment larger
than `piece_bytes`, its pieces merged by one more task: storage/pieces.py), run where the
workers are; each reads its segment (or piece) from storage itself (the client never holds
segment bytes) and returns the segment's summary and its intents and completions split by
wal_id into partitions; one task per partition pairs them (worker to worker: the client never
holds them either). The client joins the summaries and the partitions' counts and findings.
Tasks that fail because a worker died are retried by Dask; a segment that cannot be read is
one RemoteError naming it."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import RemoteError, UsageError
from ..extras import needs
from ..storage.pieces import DEFAULT_PIECE_BYTES, join_pieces, piece_count, scan_piece
from ..storage.validate import ScanPlan, pair_partition, paired_names, scan_segment
from ..storage.validate import verify as verify_segments

if TYPE_CHECKING:
    from distributed import Client

    from ..findings import VerifyReport
    from ..keys import Keyring
    from ..verification_receipts import VerificationReceipt

DEFAULT_TIMEOUT = 600.0
CONNECT_TIMEOUT = 10.0
MAX_PARTITIONS = 8  # pairing is cheap: more partitions would cost more tasks than they save...
# ...except in memory: a partition holds the ids of its share of every intent and completion (about
# 30 B each, some 30 MB per GiB of log), so a large archive gets one partition per this many bytes
# and no pairing task's memory grows with the archive.
PAIRING_LOG_BYTES = 1 << 30


def pairing_partitions(workers: int, log_bytes: int) -> int:
    """How many tasks pair intents with completions: one per worker (at most MAX_PARTITIONS), or
    one per PAIRING_LOG_BYTES of log when that is more."""
    return max(1, min(MAX_PARTITIONS, workers), -(-log_bytes // PAIRING_LOG_BYTES))


def _summary(scanned: tuple[bytes, list[bytes]]) -> bytes:
    return scanned[0]


def _share(scanned: tuple[bytes, list[bytes]], part: int) -> bytes:
    return scanned[1][part]


def connect(address: str, timeout: float | None = None) -> Client:
    """A client of the scheduler at `address` (tcp://host:8786); RemoteError when it cannot be
    reached within `timeout` seconds."""
    with needs("kfm-wal validate --dask", "distributed"):
        import distributed

    make: Any = distributed.Client  # untyped
    try:
        timeout = CONNECT_TIMEOUT if timeout is None else timeout
        client: Client = make(address, timeout=timeout, set_as_default=False)
        return client
    except (OSError, TimeoutError) as e:
        raise RemoteError(f"Dask scheduler {address}: cannot be reached ({type(e).__name__}: {e})") from None
    except ValueError as e:
        raise UsageError(f"Dask scheduler {address!r}: {e}") from None


def verify(
    url: str,
    client: Client,
    keyring: Keyring | Sequence[str] | None = None,
    *,
    storage_options: Mapping[str, Any] | None = None,
    check_bodies: bool = True,
    check_signatures: bool = True,
    fail_fast: bool = False,
    receipt: VerificationReceipt | None = None,
    keep_pending: bool = False,
    retries: int = 2,
    timeout: float = DEFAULT_TIMEOUT,
    partitions: int | None = None,
    piece_bytes: int | None = DEFAULT_PIECE_BYTES,
) -> VerifyReport:
    """Verify the archive at `url` on the cluster of `client`: the report a local `verify` of the
    same bytes gives. `timeout`: seconds for all the scans together (RemoteError after).
    `receipt`: an incremental run, only the segments from the receipt's checkpoint on are scanned
    (`keep_pending` to write the next receipt), as `kfm_wal.verify` does.
    `partitions`: how many tasks pair the intents and completions (default: one per worker, at
    most MAX_PARTITIONS, or one per PAIRING_LOG_BYTES of the segments scanned if that is more).
    `piece_bytes`: a segment larger than this is verified in pieces of about this size, each task
    reading only its range (None: one task per segment)."""

    cluster: Any = client  # distributed's API is untyped

    def on_cluster(plan: ScanPlan, args: dict[str, Any]) -> tuple[list[bytes], list[bytes]]:
        segments = plan.segments
        n = len(segments)
        parts = partitions or pairing_partitions(
            len(cluster.scheduler_info().get("workers", {})), sum(s.size for s in segments)
        )
        counts = [
            1 if cp is not None else piece_count(s, piece_bytes)
            for s, cp in zip(segments, plan.checkpoints(), strict=True)
        ]
        whole = [i for i, k in enumerate(counts) if k == 1]
        whole_f = cluster.map(
            scan_segment,
            [segments[i].url for i in whole],
            [segments[i].name for i in whole],
            [segments[i].archived for i in whole],
            [parts] * len(whole),
            [plan.checkpoints()[i] for i in whole],
            pure=False,
            retries=retries,
            **args,
        )
        split = [(i, k) for i, count in enumerate(counts) if count > 1 for k in range(count)]
        pieces_f = cluster.map(
            scan_piece,
            [segments[i].url for i, _ in split],
            [segments[i].name for i, _ in split],
            [segments[i].archived for i, _ in split],
            [k for _, k in split],
            [piece_bytes] * len(split),
            [segments[i].size for i, _ in split],
            pure=False,
            retries=retries,
            **args,
        )
        by_segment: dict[int, Any] = dict(zip(whole, whole_f, strict=True))
        own: dict[int, list[Any]] = {}
        for (i, _), f in zip(split, pieces_f, strict=True):
            own.setdefault(i, []).append(f)
        for i, pieces in own.items():
            s = segments[i]
            by_segment[i] = cluster.submit(
                join_pieces, s.url, s.name, s.archived, parts, *pieces, pure=False, retries=retries, **args
            )
        scans = [by_segment[i] for i in range(n)]
        summaries_f = cluster.map(_summary, scans, pure=False)
        names = paired_names(segments)
        # The shares are held here until the pairs are done: a future nobody holds is released,
        # and a task whose inputs were released is cancelled.
        shares = [cluster.map(_share, scans, [p] * n, pure=False) for p in range(parts)]
        paired_f = [
            cluster.submit(pair_partition, names, p, parts, plan.pending, *share, pure=False)
            for p, share in enumerate(shares)
        ]
        futures = [*pieces_f, *scans, *summaries_f, *(f for share in shares for f in share), *paired_f]
        try:
            # Each result waited for with what is left of the time: a cluster without workers, or
            # one that lost them all, would keep a plain gather waiting for ever.
            deadline = time.monotonic() + timeout
            summaries = [f.result(timeout=max(0.0, deadline - time.monotonic())) for f in summaries_f]
            paired = [f.result(timeout=max(0.0, deadline - time.monotonic())) for f in paired_f]
        except RemoteError:
            raise
        except TimeoutError:
            raise RemoteError(f"{url}: the scans did not finish within {timeout:g} s on the cluster") from None
        except Exception as e:  # noqa: BLE001 - what a task raised, or the cluster's own failure
            first = str(e).splitlines()[0] if str(e) else ""
            raise RemoteError(f"{url}: a scan failed on the cluster: {type(e).__name__}: {first}") from None
        finally:
            cluster.cancel(futures)
        return summaries, paired

    return verify_segments(
        url,
        keyring,
        storage_options=storage_options,
        check_bodies=check_bodies,
        check_signatures=check_signatures,
        fail_fast=fail_fast,
        receipt=receipt,
        keep_pending=keep_pending,
        scan_all=on_cluster,
    )


__all__ = [
    "CONNECT_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "MAX_PARTITIONS",
    "PAIRING_LOG_BYTES",
    "connect",
    "pairing_partitions",
    "verify",
]
