"""What every suite does around a timed section: progress lines, fresh scratch directories on the
repository's file system, flushing dirty pages before timing, and rotating the order of the peers
from round to round (so no peer always runs first, on a cold cache, or last, after the others'
writeback)."""

from __future__ import annotations

import gc
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def say(msg: str = "") -> None:
    print(msg, flush=True)


def rotated(items: Sequence[Any], k: int) -> list[Any]:
    """The peers' order for round k: each starts a round in turn."""
    k %= len(items)
    return list(items[k:]) + list(items[:k])


def settle() -> None:
    """Before a timed section: collect garbage and flush every dirty page, so one peer's deferred
    writeback (or a deleted log's) is not paid by the next peer's fdatasync."""
    gc.collect()
    os.sync()


class Scratch:
    """Fresh directories under one root on the repository's file system; removed at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.n = 0

    def __enter__(self) -> Scratch:
        self.root.mkdir(parents=True, exist_ok=False)
        return self

    def fresh(self, label: str) -> Path:
        self.n += 1
        return self.root / f"{self.n:04d}-{label.replace(' ', '_').replace('+', '_').replace('/', '_')}"

    @staticmethod
    def remove(path: Path) -> None:
        shutil.rmtree(path, ignore_errors=True)

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        parent = self.root.parent
        if parent.name == ".bench-tmp" and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()


def paired_rounds(
    label: str,
    peers: Sequence[str],
    rounds: int,
    measure: Callable[[str, Path, int], float],
    *,
    fresh: Callable[[str], Path],
    remove: Callable[[Path], None],
    say: Callable[[str], None],
    size: Callable[[int], str] = lambda r: "",
) -> dict[str, list[float]]:
    """Every peer once per round, in an order that rotates with the round, each in a fresh
    directory removed after it; round 0 is a discarded warm-up. `measure(peer, directory, round)`
    sets up untimed, returns the timed seconds, and checks what the peer did (raising when it is
    wrong), so a peer that is fast because it skipped work never yields a figure. `size(round)`:
    what the progress line says of the round's size (" (1,000 operations)")."""
    times: dict[str, list[float]] = {p: [] for p in peers}
    for r in range(rounds + 1):
        say(f"  {label} {'warm-up' if r == 0 else f'round {r}/{rounds}'}{size(r)} ...")
        for name in rotated(peers, r):
            d = fresh(f"{label}-{name}")
            try:
                dt = measure(name, d, r)
            finally:
                remove(d)
            if r > 0:
                times[name].append(dt)
    return times
