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
from typing import Any

from .. import _core
from ..findings import CORE_RULES, Finding, VerifyReport
from ..keys import Keyring
from ..report import _public_keys
from . import manifest
from .store import ArchiveStore, RemoteSegment, read_segment

# Scans every segment and pairs the operations: the summaries in the order given, and the paired
# partitions. In-process here, on a Dask cluster in kfm_wal.distributed.
ScanAll = Callable[[list[RemoteSegment], dict[str, Any]], tuple[list[bytes], list[bytes]]]


def scan_segment(
    url: str,
    name: str,
    archived: bool,
    parts: int = 1,
    storage_options: Mapping[str, Any] | None = None,
    keyring: list[str] | None = None,
    check_bodies: bool = True,
    check_signatures: bool = True,
) -> tuple[bytes, list[bytes]]:
    """Read one segment object where this runs and verify it alone: its encoded summary, and its
    intents and completions in `parts` partitions by wal_id."""
    data = read_segment(url, storage_options)
    return _core.scan_summary_split(name, data, archived, parts, keyring, check_bodies, check_signatures)


def paired_names(segments: list[RemoteSegment]) -> list[str | None]:
    """Each segment's name, None for the copies the join leaves out of the chain (a number listed
    twice: the first copy is joined), whose operations are not paired either."""
    return [None if i and s.number == segments[i - 1].number else s.name for i, s in enumerate(segments)]


def pair_partition(names: list[str | None], *events: bytes) -> bytes:
    """Pair one partition: `events[i]` is segment i's share of it (`scan_segment`)."""
    return _core.pair_ops([(name, e) for name, e in zip(names, events, strict=True) if name is not None])


def scan_here(segments: list[RemoteSegment], args: dict[str, Any]) -> tuple[list[bytes], list[bytes]]:
    """Every segment scanned in this process, one per core at a time (the scan releases the GIL;
    memory holds that many segments); the operations paired whole."""
    with ThreadPoolExecutor(max_workers=max(1, min(len(segments), os.cpu_count() or 1))) as pool:
        scanned = list(pool.map(lambda s: scan_segment(s.url, s.name, s.archived, 1, **args), segments))
    paired = pair_partition(paired_names(segments), *(parts[0] for _, parts in scanned))
    return [summary for summary, _ in scanned], [paired]


def verify(
    url: str,
    keyring: Keyring | Sequence[str] | None = None,
    *,
    storage_options: Mapping[str, Any] | None = None,
    check_bodies: bool = True,
    check_signatures: bool = True,
    fail_fast: bool = False,
    scan_all: ScanAll = scan_here,
) -> VerifyReport:
    """Verify the archive at `url` (read-only). When the archive has a manifest, the segments
    must agree with it (else RemoteError, naming the segment and field)."""
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
    summaries, paired = scan_all(segments, args)
    return join(store, segments, summaries, paired, ring, check_signatures, fail_fast, started)


def join(
    store: ArchiveStore,
    segments: list[RemoteSegment],
    summaries: list[bytes],
    paired: list[bytes],
    keyring: list[str] | None,
    check_signatures: bool,
    fail_fast: bool,
    started: float,
) -> VerifyReport:
    """The report of the summaries of `segments` (in log order), after checking the manifest."""
    entries = manifest.load(store)
    if entries is not None:
        manifest.check(store, entries, segments, [_core.summary_facts(s) for s in summaries])
    raw = _core.join_summaries(summaries, keyring, False, check_signatures, 1 if fail_fast else None, 0.0, paired)
    raw["elapsed"] = time.perf_counter() - started
    findings = [Finding(**f) for f in raw.pop("findings")]
    rules = CORE_RULES if check_signatures else tuple(r for r in CORE_RULES if r != "seal.signature")
    return VerifyReport(path=store.url, findings=findings, rules=list(rules), incremental_from=None, **raw)


__all__ = ["ScanAll", "join", "pair_partition", "paired_names", "scan_here", "scan_segment", "verify"]
