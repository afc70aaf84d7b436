"""Validation archives: kfm-wal logs of a given size, built once and cached.

    .bench-tmp/archives/<key>/log/            the log (segment files, archive/)
    .bench-tmp/archives/<key>/manifest.json   what was built, written last (no manifest: not reused)

The key names the size, the commit shape, the seed and the versions of what builds an archive
(workload.WORKLOAD_VERSION, ARCHIVE_VERSION below, the log format), so a change to any of them
builds a new archive instead of reusing a stale one; archives of other versions are removed.

An archive is written with durability "none" (the bytes are the same as with fsync; only the build
is faster) from a pool of distinct seed-shaped entries reused cyclically without their wal_id (the
writer assigns a fresh one to each intent, so a pool of any size fills a log of any size): group
commits of `batch` intents, each followed by a group commit completing the previous batch. It is
flushed to disk (os.sync) before the manifest is written. A 4 GB archive takes well under a minute
on 2 cores; `make clean` removes the cache.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kfm_wal
import peers
import workload

ARCHIVE_VERSION = 1  # bump when build() changes what an archive holds
POOL = 20_000  # distinct entries, reused cyclically
MB = 1_000_000
CHECK_EVERY = 10  # group commits between two looks at the log's size


@dataclass(frozen=True)
class Archive:
    key: str
    path: Path  # the log directory
    bytes: int
    segments: int
    intents: int
    completions: int
    build_s: float | None  # None: reused from the cache
    built: str

    @property
    def mb(self) -> float:
        return self.bytes / MB

    def files(self) -> list[Path]:
        return peers.log_files(self.path)


def version_prefix() -> str:
    fmt = re.sub(r"[^A-Za-z0-9]+", "", kfm_wal.FORMAT)
    return f"w{workload.WORKLOAD_VERSION}-a{ARCHIVE_VERSION}-{fmt}"


def key_of(mb: float, batch: int, seed: int) -> str:
    return f"{version_prefix()}-s{seed}-b{batch}-{mb:g}MB"


def prune(root: Path) -> list[str]:
    """Remove archives of other versions and unfinished builds left by dead processes."""
    removed: list[str] = []
    if not root.is_dir():
        return removed
    prefix = version_prefix() + "-"
    for d in root.iterdir():
        if not d.is_dir():
            continue
        m = re.search(r"\.tmp-(\d+)$", d.name)
        if m:
            if not _alive(int(m.group(1))):
                shutil.rmtree(d, ignore_errors=True)
                removed.append(d.name)
        elif not d.name.startswith(prefix):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d.name)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _load(d: Path, key: str) -> Archive | None:
    try:
        m = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    log = d / "log"
    if m.get("key") != key or peers.log_bytes(log) != m.get("bytes"):
        return None
    return Archive(key, log, m["bytes"], m["segments"], m["intents"], m["completions"], None, m["built"])


def ensure(root: Path, mb: float, batch: int, seed: int, say: Any = print) -> Archive:
    """The cached archive of about `mb` MB, built first if it is missing or stale."""
    key = key_of(mb, batch, seed)
    final = root / key
    found = _load(final, key)
    if found is not None:
        return found
    shutil.rmtree(final, ignore_errors=True)
    tmp = root / f"{key}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    say(f"  building archive {key} (cached for later runs) ...")
    t0 = time.perf_counter()
    info = build(tmp / "log", mb, batch, seed)
    os.sync()
    build_s = time.perf_counter() - t0
    built = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    manifest = {"key": key, **info, "build_s": build_s, "built": built, "kfm_wal": kfm_wal.__version__}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.rename(tmp, final)
    say(f"    {info['bytes'] / MB:,.1f} MB in {info['segments']} segment(s), {build_s:.1f} s")
    return Archive(
        key, final / "log", info["bytes"], info["segments"], info["intents"], info["completions"], build_s, built
    )


def build(directory: Path, mb: float, batch: int, seed: int) -> dict[str, Any]:
    """Write the log: group commits of `batch` intents, each followed by the completions of the
    previous batch, until it holds at least `mb` MB."""
    pool = workload.make_entries(POOL, seed=seed)
    for e in pool:
        del e["wal_id"]  # the writer assigns a fresh one
    target = mb * MB
    p = peers.KfmWal(directory, durability="none")
    wal = p.wal
    intents = completions = commits = 0
    previous: list[Any] = []
    k = 0
    try:
        while True:
            if k + batch > len(pool):
                k = 0
            receipts = wal.append_many(pool[k : k + batch])
            k += batch
            intents += len(receipts)
            if previous:
                wal.complete_many(
                    [
                        {
                            "wal_id": r.wal_id,
                            "status": "succeeded",
                            "post_state_hash": e["post_state_expected"],
                            "duration_ms": 12.5,
                        }
                        for r, e in previous
                    ]
                )
                completions += len(previous)
            previous = list(zip(receipts, pool[k - batch : k], strict=True))
            commits += 1
            if commits % CHECK_EVERY == 0 and peers.log_bytes(directory) >= target:
                break
    finally:
        p.close()
    files = peers.log_files(directory)
    return {
        "bytes": sum(f.stat().st_size for f in files),
        "segments": len(files),
        "intents": intents,
        "completions": completions,
        "batch": batch,
        "seed": seed,
    }


def build_tiny_commits(directory: Path, commits: int) -> dict[str, Any]:
    """A log of `commits` group commits of one tiny intent each: as many seals as intents, so its
    verification is dominated by the seals' signatures. Durability "none"; flushed afterwards."""
    p = peers.KfmWal(directory, durability="none")
    entries = [workload.make_tiny_entry(i) for i in range(commits)]
    try:
        for e in entries:
            p.wal.append(e)
    finally:
        p.close()
    os.sync()
    files = peers.log_files(directory)
    return {"bytes": sum(f.stat().st_size for f in files), "segments": len(files), "commits": commits}


__all__ = ["ARCHIVE_VERSION", "Archive", "build", "build_tiny_commits", "ensure", "key_of", "prune"]
