"""Verifying an archive at a URL segment by segment: each segment's bytes read and verified
alone into a compact summary (`scan_segment`, what a Dask worker runs next to the storage), its
intents and completions split off into partitions by wal_id; each partition paired alone
(`pair_partition`); the summaries and paired partitions joined in log order by the core's own
join rules (`join`). The report is the one a local `verify` of the same bytes gives; only `path`
(the URL) and `elapsed` differ."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import _core
from ..errors import RemoteError
from ..extras import needs
from ..findings import CORE_RULES, RECEIPT_RULES, Finding, VerifyReport
from ..keys import Keyring
from ..report import _public_keys
from . import checkpoints, manifest
from .store import ArchiveStore, RemoteSegment, local_path, read_segment

if TYPE_CHECKING:
    from ..verification_receipts import VerificationReceipt


@dataclass(frozen=True)
class ScanPlan:
    """What to scan: `segments` in log order; the first resumed from `checkpoint` (a receipt's
    dict) when there is one; `pending`: the ids the receipt says are pending."""

    segments: list[RemoteSegment]
    checkpoint: dict[str, Any] | None = None
    pending: tuple[str, ...] = ()

    def checkpoints(self) -> list[dict[str, Any] | None]:
        return [self.checkpoint if i == 0 else None for i in range(len(self.segments))]


# Scans the plan's segments and pairs their operations: the summaries in the order given, and the
# paired partitions. In-process here, on a Dask cluster in kfm_wal.distributed.
ScanAll = Callable[[ScanPlan, dict[str, Any]], tuple[list[bytes], list[bytes]]]


def scan_segment(
    url: str,
    name: str,
    archived: bool,
    parts: int = 1,
    checkpoint: dict[str, Any] | None = None,
    storage_options: Mapping[str, Any] | None = None,
    keyring: list[str] | None = None,
    check_bodies: bool = True,
    check_signatures: bool = True,
) -> tuple[bytes, list[bytes]]:
    """Read one segment object where this runs and verify it alone (from `checkpoint` on, when
    given): its encoded summary, and its intents and completions in `parts` partitions by wal_id.
    A segment on a filesystem this process opens directly is streamed by the core's own reader
    (no copy of it in memory); any other is read whole."""
    path = local_path(url, storage_options) if checkpoint is None else None
    if path is not None:
        try:
            return _core.scan_file_summary_split(path, archived, parts, keyring, check_bodies, check_signatures)
        except FileNotFoundError:
            raise RemoteError(f"{url}: not found (the segment is gone)") from None
    data = read_segment(url, storage_options)
    if checkpoint is not None:
        return _core.resume_summary_split(
            name, data, archived, parts, checkpoint, keyring, check_bodies, check_signatures
        )
    return _core.scan_summary_split(name, data, archived, parts, keyring, check_bodies, check_signatures)


def paired_names(segments: list[RemoteSegment]) -> list[str | None]:
    """Each segment's name, None for the copies the join leaves out of the chain (a number listed
    twice: the first copy is joined), whose operations are not paired either."""
    return [None if i and s.number == segments[i - 1].number else s.name for i, s in enumerate(segments)]


def pair_partition(names: list[str | None], part: int, parts: int, pending: tuple[str, ...], *events: bytes) -> bytes:
    """Pair partition `part` of `parts`: `events[i]` is segment i's share of it (`scan_segment`)."""
    shares = [(name, e) for name, e in zip(names, events, strict=True) if name is not None]
    return _core.pair_ops(shares, part, parts, list(pending))


def scan_here(plan: ScanPlan, args: dict[str, Any]) -> tuple[list[bytes], list[bytes]]:
    """Every segment scanned in this process, one per core at a time (the scan releases the GIL;
    memory holds that many segments); the operations paired whole."""
    jobs = list(zip(plan.segments, plan.checkpoints(), strict=True))
    with ThreadPoolExecutor(max_workers=max(1, min(len(jobs), os.cpu_count() or 1))) as pool:
        scanned = list(pool.map(lambda j: scan_segment(j[0].url, j[0].name, j[0].archived, 1, j[1], **args), jobs))
    paired = pair_partition(paired_names(plan.segments), 0, 1, plan.pending, *(parts[0] for _, parts in scanned))
    return [summary for summary, _ in scanned], [paired]


def verify(
    url: str,
    keyring: Keyring | Sequence[str] | None = None,
    *,
    storage_options: Mapping[str, Any] | None = None,
    check_bodies: bool = True,
    check_signatures: bool = True,
    fail_fast: bool = False,
    receipt: VerificationReceipt | None = None,
    keep_pending: bool = False,
    scan_all: ScanAll = scan_here,
) -> VerifyReport:
    """Verify the archive at `url` (read-only). When the archive has a manifest, the segments
    must agree with it (else RemoteError, naming the segment and field). `receipt`: as for
    `kfm_wal.verify`, only what follows its checkpoint is scanned; `keep_pending` lists the
    pending intents' ids (the next receipt needs them)."""
    started = time.perf_counter()
    store = ArchiveStore(url, storage_options)
    segments = store.segments()
    ring = _public_keys(keyring)
    args = {
        "storage_options": store.storage_options,
        "keyring": ring,
        "check_bodies": check_bodies,
        "check_signatures": check_signatures,
    }
    cp = receipt.checkpoint() if receipt is not None else None
    at = None if cp is None else next((i for i, s in enumerate(segments) if s.number == cp["segment_number"]), None)
    if cp is None:
        plan = ScanPlan(segments)
    elif at is None:
        plan = ScanPlan([], cp)  # its segment is gone: nothing is scanned (receipt.truncated)
    else:
        plan = ScanPlan(segments[at:], cp, tuple(cp["pending"]))
    summaries, paired = scan_all(plan, args) if plan.segments else ([], [])
    if cp is None:
        raw = join(store, segments, summaries, paired, ring, check_signatures, fail_fast, keep_pending)
    else:
        raw = join(store, segments, summaries, paired, ring, check_signatures, fail_fast, keep_pending, cp, at)
    raw["elapsed"] = time.perf_counter() - started
    findings = [Finding(**f) for f in raw.pop("findings")]
    if (
        receipt is not None
        and findings
        and findings[0].code == "receipt.truncated"
        and checkpoints.may_hold_checkpoints(manifest.load(store))
    ):
        # The receipt's segment may have been compacted away: the checkpoint's seal list decides,
        # as kfm_wal.verify decides for a directory (the compaction layer reads it).
        with needs("kfm-wal validate --receipt of a compacted archive"):
            from .compacted import receipt_continuity

        through = receipt_continuity(store.url, receipt.seq, receipt.hash, store.storage_options)
        if through.holds:  # history continues: verify the whole archive, anchored by its checkpoint
            return verify(
                url,
                keyring,
                storage_options=storage_options,
                check_bodies=check_bodies,
                check_signatures=check_signatures,
                fail_fast=fail_fast,
                keep_pending=keep_pending,
                scan_all=scan_all,
            )
        if through.holds is False:
            findings = [Finding("receipt.mismatch", "", 0, receipt.seq, None, through.message)]
    rules = [r for r in CORE_RULES if check_signatures or r != "seal.signature"]
    rules += list(RECEIPT_RULES) if receipt is not None else []
    incremental = receipt.seq if receipt is not None else None
    return VerifyReport(path=store.url, findings=findings, rules=rules, incremental_from=incremental, **raw)


def join(
    store: ArchiveStore,
    segments: list[RemoteSegment],
    summaries: list[bytes],
    paired: list[bytes],
    keyring: list[str] | None,
    check_signatures: bool,
    fail_fast: bool,
    keep_pending: bool,
    checkpoint: dict[str, Any] | None = None,
    at: int | None = None,
) -> dict[str, Any]:
    """The core's report (a dict) of the summaries of `segments` (in log order), after checking
    the manifest; in an incremental run, `summaries` start at the checkpoint's segment, `at` in
    the listing (None: it is gone)."""
    stop_after = 1 if fail_fast else None
    scanned_from = 0 if checkpoint is None else len(segments) if at is None else at + 1
    entries = manifest.load(store)
    if entries is not None:
        skipped = len(summaries) - (len(segments) - scanned_from)  # the resumed one: no plain summary
        facts = [None] * scanned_from + [_core.summary_facts(s) for s in summaries[skipped:]]
        manifest.check(store, entries, segments, facts)
    if checkpoint is None:
        cuts = checkpoints.cuts(store, segments, summaries[0], entries)  # None unless the log was compacted
        return _core.join_summaries(
            summaries, keyring, keep_pending, check_signatures, stop_after, 0.0, paired, cuts=cuts
        )
    vouched = sum(s.size for s in segments[:at]) if at is not None else 0
    return _core.join_summaries(
        summaries[1:],
        keyring,
        keep_pending,
        check_signatures,
        stop_after,
        0.0,
        paired or None,
        checkpoint,
        [(s.name, s.archived) for s in segments],
        summaries[0] if summaries else None,
        vouched,
    )


__all__ = ["ScanAll", "ScanPlan", "join", "pair_partition", "paired_names", "scan_here", "scan_segment", "verify"]
