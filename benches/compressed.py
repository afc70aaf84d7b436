"""Section 11: validating a compressed archive. A log written with archive_compression="zstd" (every
rotated segment compressed by the writer, segments of 8 MB at most so that all but a small live
segment are compressed) is validated by kfm_wal.verify, in MB/s of uncompressed log, against one hashlib SHA-256
pass over the same uncompressed bytes (a plain copy of the log, decompressed once, untimed). The
gap between the two is decompression plus the verifier's own work; the same log verified plain and
the zstd decoding alone are measured too, to split it. Also the compression ratio."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kfm_wal
import peers
import workload
from harness import rotated, settle
from kfm_wal import _core, keys
from stats import paired_ratio, summarize

SEGMENT_BYTES = 8 << 20  # at most; a small log gets at least four segments (never under 2 MiB)
BATCH = 100
MB = 1_000_000
ENVELOPE = 250  # seq, prev, kind, timestamp, hash around an entry, about
COMPLETION_LINE = 330  # a completion line, about
ZSTD_VERIFY = "kfm_wal.verify (zstd archive)"
PLAIN_VERIFY = "kfm_wal.verify (the same log, plain)"
DECODE = "zstd decoding alone"
SHA256 = "hashlib SHA-256 pass"
PEERS = (ZSTD_VERIFY, PLAIN_VERIFY, DECODE, SHA256)


def segment_bytes(mb: float) -> int:
    return max(2 << 20, min(SEGMENT_BYTES, int(mb * MB / 4)))


def build(d: Path, mb: float, seed: int) -> Path:
    """A zstd log of at least `mb` MB of uncompressed segments (written with durability none)."""
    pool = workload.make_entries(20_000, seed=seed)
    for e in pool:
        del e["wal_id"]
    key = keys.SigningKey.from_seed(peers.KEY_SEED)
    log = d / "zstd"
    with kfm_wal.Wal.create(
        log, key, max_segment_bytes=segment_bytes(mb), durability="none", archive_compression="zstd"
    ) as wal:
        # The uncompressed size, estimated as written (entry JSON + envelope per line); measured after.
        lines = [len(json.dumps(e, separators=(",", ":"))) + ENVELOPE for e in pool]
        written, k = 0, 0
        while written < mb * MB:
            if k + BATCH > len(pool):
                k = 0
            receipts = wal.append_many(pool[k : k + BATCH])
            wal.complete_many([{"wal_id": r.wal_id, "status": "succeeded", "duration_ms": 1.0} for r in receipts])
            written += sum(lines[k : k + BATCH]) + BATCH * COMPLETION_LINE
            k += BATCH
        failure = wal.wait_for_archive()
    if failure:
        raise RuntimeError(f"compression failed: {failure}")
    return log


def plain_copy(log: Path, to: Path) -> Path:
    """The same log with every segment decompressed (the bytes the chain hashes)."""
    (to / "archive").mkdir(parents=True)
    for number, first, path, archived in _core.segments(log):
        name = Path(path).name.removesuffix(".zst")
        target = to / "archive" / name if archived else to / name
        target.write_bytes(_core.segment_bytes(path, archived))
        del number, first
    return to


def _timed(fn: Callable[[], Any]) -> float:
    settle()
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _verify(log: Path) -> None:
    report = kfm_wal.verify(log)
    if not report.ok:
        raise RuntimeError(f"{log}: {report.findings[:3]}")


def _decode(files: list[Path]) -> None:
    for f in files:
        _core.segment_bytes(f, True)


def _sha256(files: list[Path]) -> None:
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    h = hashlib.sha256()
    for f in files:
        with open(f, "rb", buffering=0) as fh:
            while n := fh.readinto(buf):
                h.update(view[:n])


def run(mb: float, rounds: int, seed: int, fresh: Callable[[str], Path], say: Callable[[str], None]) -> dict[str, Any]:
    d = fresh("compressed")
    say(f"  writing a zstd log of {mb:g} MB uncompressed (not timed) ...")
    log = build(d, mb, seed)
    plain = plain_copy(log, d / "plain")
    zst_files = sorted((log / "archive").glob("*.zst"))
    plain_files = peers.log_files(plain)
    raw = sum(f.stat().st_size for f in plain_files)
    compressed_plain = sum((plain / "archive" / f.name.removesuffix(".zst")).stat().st_size for f in zst_files)
    compressed = sum(f.stat().st_size for f in zst_files)
    runs: dict[str, Callable[[], Any]] = {
        ZSTD_VERIFY: lambda: _verify(log),
        PLAIN_VERIFY: lambda: _verify(plain),
        DECODE: lambda: _decode(zst_files),
        SHA256: lambda: _sha256(plain_files),
    }
    sizes = {ZSTD_VERIFY: raw, PLAIN_VERIFY: raw, DECODE: compressed_plain, SHA256: raw}
    for f in [*zst_files, *plain_files]:
        f.read_bytes()  # in the page cache: disk speed is not what is measured
    times: dict[str, list[float]] = {p: [] for p in PEERS}
    for r in range(rounds + 1):
        say(f"  compressed archive {'warm-up' if r == 0 else f'round {r}/{rounds}'} ...")
        for name in rotated(PEERS, r):
            dt = _timed(runs[name])
            if r > 0:
                times[name].append(dt)
    shutil.rmtree(d, ignore_errors=True)
    return {
        "uncompressed_bytes": raw,
        "segment_bytes": segment_bytes(mb),
        "compressed_segments": len(zst_files),
        "segments": len(plain_files),
        "compressed_share": compressed_plain / raw,
        "ratio": compressed_plain / compressed if compressed else float("nan"),
        "rounds": rounds,
        "mb_per_s": {p: summarize([sizes[p] / MB / t for t in times[p]]) for p in PEERS},
        "time_ratio": {f"{ZSTD_VERIFY} / {SHA256}": paired_ratio(times[ZSTD_VERIFY], times[SHA256])},
        "throughput_ratio": {
            f"{ZSTD_VERIFY} / {SHA256}": paired_ratio(
                [raw / t for t in times[ZSTD_VERIFY]], [raw / t for t in times[SHA256]]
            ),
            f"{ZSTD_VERIFY} / {PLAIN_VERIFY}": paired_ratio(
                [raw / t for t in times[ZSTD_VERIFY]], [raw / t for t in times[PLAIN_VERIFY]]
            ),
        },
    }


def render(res: dict[str, Any]) -> tuple[list[str], list[str]]:
    mbps = res["mb_per_s"]
    vs_hash = res["throughput_ratio"][f"{ZSTD_VERIFY} / {SHA256}"]["ratio_of_medians"]
    vs_plain = res["throughput_ratio"][f"{ZSTD_VERIFY} / {PLAIN_VERIFY}"]["ratio_of_medians"]
    txt = [
        f"11. Compressed archive: {res['uncompressed_bytes'] / MB:,.0f} MB uncompressed, "
        f"{res['compressed_segments']} of {res['segments']} segments zstd "
        f"({res['compressed_share']:.0%} of the bytes), ratio {res['ratio']:.2f}x, "
        f"median of {res['rounds']} round(s), MB/s of uncompressed log"
    ]
    md = [
        '## 11. Validating a compressed archive (`archive_compression="zstd"`)',
        "",
        f"A log of {res['uncompressed_bytes'] / MB:,.0f} MB uncompressed written with archive compression zstd "
        f"({res['segment_bytes'] / MB:.1f} MB segments: {res['compressed_segments']} of {res['segments']} "
        "compressed by the writer, "
        f"{res['compressed_share']:.0%} of the bytes; compression ratio {res['ratio']:.2f}x), validated by "
        "`kfm_wal.verify` (bodies and signatures checked), against one hashlib SHA-256 pass over the same "
        "uncompressed bytes (a plain copy of the log); the gap is decompression plus the verifier's own "
        "work. The plain copy verified and the zstd decoding alone split it. Files in the page cache; "
        f"median of {res['rounds']} interleaved round(s) after a warm-up. No target: reported.",
        "",
        "| run | MB/s (uncompressed) | min-max |",
        "|---|---:|---:|",
    ]
    for p in PEERS:
        s = mbps[p]
        txt.append(f"    {p:<40} {s['median']:>9,.0f} MB/s  ({s['min']:,.0f}-{s['max']:,.0f})")
        md.append(f"| {p} | {s['median']:,.0f} | {s['min']:,.0f}-{s['max']:,.0f} |")
    txt.append(f"    zstd archive / SHA-256 pass: {vs_hash:.2f}x; zstd archive / plain log: {vs_plain:.2f}x")
    md += ["", f"zstd archive / SHA-256 pass: {vs_hash:.2f}x; zstd archive / plain log: {vs_plain:.2f}x", ""]
    txt.append("")
    return txt, md
