"""Section 5: Ed25519 seals verified per second: kfm-wal verifying a log of tiny commits (one seal
per intent, so the signatures dominate) against `cryptography`'s Ed25519PublicKey.verify called in
a Python loop over the very same (key, signature, message) triples."""

from __future__ import annotations

import base64
import gc
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import archives
import kfm_wal
import peers
from config import Config
from formatting import closed, rate, ratio_cell
from harness import Scratch, rotated, say
from stats import MB, paired_ratio, summarize

CRYPTO_LOOP = "cryptography Ed25519PublicKey.verify loop"  # the peer: a Python loop over the seals


def seal_items(directory: Path) -> list[tuple[Any, bytes, bytes]]:
    """(public key, signature, signed message) of every seal of a log, as a verifier must check
    them (docs/FORMAT.md: the message is built by the reference implementation's seal_message)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    ref = peers.load_reference()
    log_id: str | None = None
    keys: dict[str, Any] = {}
    items: list[tuple[Any, bytes, bytes]] = []
    for rec in kfm_wal.records(directory):
        if rec.kind == "header":
            b = rec.body
            log_id = b["log_id"]
            keys.setdefault(b["key_id"], Ed25519PublicKey.from_public_bytes(base64.b64decode(b["public_key"])))
        elif rec.kind == "seal":
            b = rec.body
            msg = ref.seal_message(log_id, b["seq"], b["timestamp"], b["prev"], b["closes"])
            items.append((keys[b["key_id"]], base64.b64decode(b["signature"]), msg))
    return items


def run(cfg: Config, scratch: Scratch) -> dict[str, Any]:
    say(f"  building a log of {cfg.sig_commits:,} tiny commits (not timed) ...")
    d = scratch.fresh("sig-tiny")
    info = archives.build_tiny_commits(d, cfg.sig_commits)
    items = seal_items(d)
    n = len(items)
    for pk, sig, msg in items:  # the peer checks exactly what kfm-wal checks, and it all verifies
        pk.verify(sig, msg)
    seal_bytes = sum(len(x) for kind, x in peers.record_lines(d) if kind == "seal")
    notes: list[str] = []

    def crypto_loop() -> None:
        for pk, sig, msg in items:
            pk.verify(sig, msg)

    def kfm(bodies: bool) -> Callable[[], None]:
        def run() -> None:
            rep = kfm_wal.verify(d, check_bodies=bodies)
            if not rep.ok:
                notes.append(
                    f"kfm_wal.verify(check_bodies={bodies}) on the tiny-commit log: {len(rep.findings)} finding(s)"
                )

        return run

    contenders: dict[str, Callable[[], None]] = {
        CRYPTO_LOOP: crypto_loop,
        "kfm-wal verify, check_bodies=False": kfm(False),
        "kfm-wal verify": kfm(True),
    }
    times: dict[str, list[float]] = {c: [] for c in contenders}
    for r in range(cfg.sig_rounds + 1):
        say(f"  signatures {'warm-up' if r == 0 else f'round {r}/{cfg.sig_rounds}'} ...")
        for name in rotated(list(contenders), r):
            gc.collect()
            t0 = time.perf_counter()
            contenders[name]()
            dt = time.perf_counter() - t0
            if r > 0:
                times[name].append(dt)
    scratch.remove(d)
    rows = {
        name: {"seconds": summarize(ts, False), "seals_per_s": summarize([n / t for t in ts])}
        for name, ts in times.items()
    }
    return {
        "log": info | {"seals": n, "seal_bytes": seal_bytes},
        "rows": rows,
        "ratios": {
            f"{name} / {CRYPTO_LOOP}": paired_ratio(times[CRYPTO_LOOP], times[name])
            for name in contenders
            if name != CRYPTO_LOOP
        },
        "rayon_threads": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "notes": sorted(set(notes)),
    }


def render(results: dict[str, Any]) -> tuple[list[str], list[str]]:
    sg = results["signatures"]
    log = sg["log"]
    txt = [
        f"5. Ed25519: {log['seals']:,} seals of a log of {log['commits']:,} tiny commits "
        f"({log['bytes'] / MB:.1f} MB, {100 * log['seal_bytes'] / log['bytes']:.0f}% of it seals), seals verified/s"
    ]
    md = [
        "## 5. Signatures: seals verified per second",
        "",
        f"A log of {log['commits']:,} group commits of one tiny intent each ({log['bytes'] / MB:.1f} MB, "
        f"{log['seals']:,} seals making {100 * log['seal_bytes'] / log['bytes']:.0f}% of its bytes). kfm-wal "
        "verifies the whole log (hashes, chain, every seal's signature; figures are seals in the log / seconds); "
        "the floor peer is `cryptography`'s `Ed25519PublicKey.verify` called in a Python loop over the very same "
        "(key, signature, message) triples, taken from the log (messages per docs/FORMAT.md). Median of "
        f"{sg['rows'][CRYPTO_LOOP]['seconds']['n']} interleaved rounds after a warm-up. kfm-wal verifies signatures "
        "in batches of up to 1,024 (one multiscalar multiplication per batch, one term per signing key) "
        f"across {sg['rayon_threads']} core(s); the peer uses one.",
        "",
        "| | seals/s | min-max | seconds | vs cryptography loop |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in sg["rows"].items():
        key = f"{name} / {CRYPTO_LOOP}"
        vs = ratio_cell(sg["ratios"][key]) if key in sg["ratios"] else "1.00x"
        s = row["seals_per_s"]
        md.append(
            f"| {name} | {rate(s['median'])} | {rate(s['min'])}-{rate(s['max'])} | "
            f"{row['seconds']['median']:.3f} | {vs} |"
        )
        txt.append(f"  {name:44s} {rate(s['median']):>8} seals/s  ({vs} vs the cryptography loop)")
    return closed(txt, md, sg["notes"])
