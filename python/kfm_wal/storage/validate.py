"""Verifying an archive at a URL segment by segment: each segment's bytes read and verified
alone into a compact summary (`scan_segment`, what a Dask worker runs next to the storage), the
summaries joined in log order by the core's own join rules (`join`). The report is the one a
local `verify` of the same bytes gives; only `path` (the URL) and `elapsed` differ."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .. import _core
from ..findings import CORE_RULES, Finding, VerifyReport
from ..keys import Keyring
from ..report import _public_keys
from . import manifest
from .store import ArchiveStore, RemoteSegment, read_segment

# Scans every segment and returns their summaries in the order given: in-process here, on a Dask
# cluster in kfm_wal.distributed.
ScanAll = Callable[[list[RemoteSegment], dict[str, Any]], list[bytes]]


def scan_segment(
    url: str,
    name: str,
    archived: bool,
    storage_options: Mapping[str, Any] | None = None,
    keyring: list[str] | None = None,
    check_bodies: bool = True,
    check_signatures: bool = True,
) -> bytes:
    """Read one segment object where this runs and verify it alone: its encoded summary."""
    data = read_segment(url, storage_options)
    return _core.scan_summary(name, data, archived, keyring, check_bodies, check_signatures)


def scan_here(segments: list[RemoteSegment], args: dict[str, Any]) -> list[bytes]:
    """Every segment scanned in this process, one after the other."""
    return [scan_segment(s.url, s.name, s.archived, **args) for s in segments]


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
    summaries = scan_all(segments, args)
    return join(store, segments, summaries, ring, check_signatures, fail_fast, started)


def join(
    store: ArchiveStore,
    segments: list[RemoteSegment],
    summaries: list[bytes],
    keyring: list[str] | None,
    check_signatures: bool,
    fail_fast: bool,
    started: float,
) -> VerifyReport:
    """The report of the summaries of `segments` (in log order), after checking the manifest."""
    entries = manifest.load(store)
    if entries is not None:
        manifest.check(store, entries, segments, [_core.summary_facts(s) for s in summaries])
    raw = _core.join_summaries(summaries, keyring, False, check_signatures, 1 if fail_fast else None)
    raw["elapsed"] = time.perf_counter() - started
    findings = [Finding(**f) for f in raw.pop("findings")]
    rules = CORE_RULES if check_signatures else tuple(r for r in CORE_RULES if r != "seal.signature")
    return VerifyReport(path=store.url, findings=findings, rules=list(rules), incremental_from=None, **raw)


__all__ = ["ScanAll", "join", "scan_here", "scan_segment", "verify"]
