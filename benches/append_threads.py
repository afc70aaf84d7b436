"""Section 3: N threads (1, 2, 4, 8, 16) each appending single entries durably to one log: one
kfm-wal `Wal` (whose group commit gathers the threads' entries), one SQLite connection shared under
a lock, one LMDB environment (a synced write transaction per entry; LMDB serialises writers), one
RocksDB (a put with sync=True per entry from each thread), one file written with write+fdatasync by
every thread, a leader-based group commit written in Python with no CPU work (the same interpreter
lock to come back through, nothing hashed, signed or checked), and the ceiling of any group commit
on this disk (one thread writing each group with one fdatasync, no CPU work). LMDB and RocksDB
append `Config.kv_thread_appends` entries per thread (fewer than the others in the short modes:
LMDB's serialised synced transactions would otherwise dominate the run's time); every figure is a
rate, entries/s."""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import peers
from config import Config
from formatting import closed, rate, ratio_cell
from harness import Scratch, rotated, say, settle
from stats import paired_ratio, summarize


def commit_sizes(directory: Path) -> list[int]:
    """Entries per group commit, in log order: intents between consecutive seals."""
    sizes, count = [], 0
    for kind, _ in peers.record_lines(directory):
        if kind == "intent":
            count += 1
        elif kind == "seal":
            if count:
                sizes.append(count)
            count = 0
    return sizes


GROUPED = "grouped write+fdatasync"
THREAD_PEERS = ("kfm-wal", "sqlite", *peers.KV_PEERS, "raw write+fdatasync", peers.PythonGroupCommit.name, GROUPED)


class ThreadPeer:
    """One of the thread test's contenders: `append(entry)` appends one entry durably and may be
    called from many threads at once."""

    def __init__(self, name: str, directory: Path, line: int, seal: int) -> None:
        self.name = name
        self.kfm: peers.KfmWal | None = None
        self.append: Callable[[Any], Any]
        self.group: Callable[[int], bytes] = lambda n: b""
        if name == "kfm-wal":
            self.kfm = peers.KfmWal(directory)
            self.append = self.kfm.append
            self.close: Callable[[], None] = self.kfm.close
        elif name == "sqlite":
            db = peers.SQLite(directory)  # one connection shared by the threads
            self.append, self.close = db.append, db.close
        elif name in peers.KV_PEERS:
            # one environment / one Rdict shared by the threads
            kv = peers.Lmdb(directory) if name == peers.Lmdb.name else peers.RocksDB(directory)
            self.append, self.close = kv.append, kv.close
        elif name == "raw write+fdatasync":
            floor = peers.RawFloor(directory)
            data = floor.payload(line + seal)  # what kfm-wal writes for one single append

            def write(entry: dict[str, Any]) -> None:
                floor.write(data)

            self.append, self.close = write, floor.close
        elif name == peers.PythonGroupCommit.name:
            group_commit = peers.PythonGroupCommit(directory, line, seal)
            self.append, self.close = group_commit.append, group_commit.close
        elif name == GROUPED:
            # The ceiling of group commit on this disk: what N threads' appends would cost if a
            # perfect group commit gathered one entry from each of them, with no CPU work at all:
            # one thread writing N intent lines + one seal, then one fdatasync, `per` times. Its
            # "vs 1 thread" is the best ratio any group commit can reach when a sync's cost grows
            # with the bytes it carries.
            grouped = peers.RawFloor(directory)
            self.group = lambda n: grouped.payload(n * line + seal)  # bytes for one group of n
            self.append, self.close = grouped.write, grouped.close
        else:
            raise ValueError(name)


def run(cfg: Config, pool: list[dict[str, Any]], scratch: Scratch, line: int, seal: int) -> dict[str, Any]:
    if max(cfg.thread_counts) * max(cfg.thread_appends, cfg.kv_thread_appends) > len(pool):
        raise ValueError("entry pool too small for the thread test")
    skipped = peers.missing()
    for note in skipped.values():
        say(f"  {note}")
    names = [p for p in THREAD_PEERS if p not in skipped]
    raw: dict[str, dict[int, list[float]]] = {p: {n: [] for n in cfg.thread_counts} for p in names}
    groups: dict[int, list[float]] = {n: [] for n in cfg.thread_counts}
    per_sync: dict[int, list[float]] = {n: [] for n in cfg.thread_counts}
    sequences: dict[int, list[int]] = {}
    for r in range(cfg.thread_rounds + 1):
        say(f"  threads {'warm-up' if r == 0 else f'round {r}/{cfg.thread_rounds}'} ...")
        for j, n in enumerate(rotated(cfg.thread_counts, r)):
            for name in rotated(names, r + j):
                per = cfg.kv_thread_appends if name in peers.KV_PEERS else cfg.thread_appends
                d = scratch.fresh(f"threads-{name}-{n}")
                peer = ThreadPeer(name, d, line, seal)
                seq0 = peer.kfm.wal.head[0] if peer.kfm else 0
                barrier = threading.Barrier(2 if name == GROUPED else n + 1)
                errors: list[BaseException] = []

                def worker(
                    entries: list[dict[str, Any]],
                    append: Callable[[Any], Any] = peer.append,
                    go: threading.Barrier = barrier,
                    errs: list[BaseException] = errors,
                ) -> None:
                    go.wait()
                    try:
                        for e in entries:
                            append(e)
                    except BaseException as exc:  # reported after the run
                        errs.append(exc)

                if name == GROUPED:
                    threads = [threading.Thread(target=worker, args=([peer.group(n)] * per,))]
                else:
                    threads = [threading.Thread(target=worker, args=(pool[i * per : (i + 1) * per],)) for i in range(n)]
                for t in threads:
                    t.start()
                settle()
                barrier.wait()
                t0 = time.perf_counter()
                for t in threads:
                    t.join()
                dt = time.perf_counter() - t0
                commits = peer.kfm.wal.head[0] - seq0 - n * per if peer.kfm else 0  # one seal per group commit
                syncs = peer.kfm.wal.stats["syncs"] if peer.kfm else 0
                peer.close()
                if r > 0 and peer.kfm:
                    sequences[n] = commit_sizes(d)
                scratch.remove(d)
                if errors:
                    raise RuntimeError(f"{name}: {len(errors)} thread(s) failed: {errors[0]!r}")
                if r > 0:
                    raw[name][n].append(n * per / dt)
                    if peer.kfm:
                        groups[n].append(n * per / commits)
                        per_sync[n].append(n * per / max(syncs, 1))
    out: dict[str, Any] = {
        "appends_per_thread": cfg.thread_appends,
        "kv_appends_per_thread": cfg.kv_thread_appends,
        "peers": {},
        "threads": {},
        "ratios": {},
        "skipped": list(skipped.values()),
    }
    for name in names:
        out["peers"][name] = {str(n): summarize(raw[name][n]) for n in cfg.thread_counts}
    kfm = raw["kfm-wal"]
    for n in cfg.thread_counts:
        seq = sequences.get(n, [])
        out["threads"][str(n)] = {
            **summarize(kfm[n]),
            "entries_per_commit": statistics.median(groups[n]),
            # one fdatasync may cover several group commits (the sync stage runs while the next
            # group is written)
            "entries_per_sync": statistics.median(per_sync[n]),
            # from the last round: how many entries each group commit carried, in log order
            "commit_sizes_first": seq[:24],
            "commit_size_histogram": {str(k): v for k, v in sorted(Counter(seq).items())},
        }
    for other in names[1:]:
        out["ratios"][f"kfm-wal/{other}"] = {str(n): paired_ratio(kfm[n], raw[other][n]) for n in cfg.thread_counts}
    kv = {n: peers.kv_best({p: raw[p][n] for p in peers.KV_PEERS if p in raw}) for n in cfg.thread_counts}
    if all(kv.values()):
        out["kv_best"] = {str(n): summarize(kv[n]) for n in cfg.thread_counts}
        out["ratios"][f"kfm-wal/{peers.KV_BEST}"] = {str(n): paired_ratio(kfm[n], kv[n]) for n in cfg.thread_counts}
    if 1 in kfm:
        for name in names:
            base = statistics.median(raw[name][1])
            for n in cfg.thread_counts:
                out["peers"][name][str(n)]["vs_1_thread"] = statistics.median(raw[name][n]) / base
        for n in cfg.thread_counts:
            out["threads"][str(n)]["vs_1_thread"] = out["peers"]["kfm-wal"][str(n)]["vs_1_thread"]
        if 8 in kfm:
            out["ratio_8_1"] = paired_ratio(kfm[8], kfm[1])
    return out


def render(results: dict[str, Any]) -> tuple[list[str], list[str]]:
    th, cfg = results["threads"], results["config"]
    names = list(th["peers"])
    counts = list(th["threads"])
    versus = [k.removeprefix("kfm-wal/") for k in th["ratios"]]  # the peers, then the better of LMDB/RocksDB
    kv_per = th.get("kv_appends_per_thread", th["appends_per_thread"])
    kv_note = f", lmdb and rocksdb {kv_per}" if kv_per != th["appends_per_thread"] else ""
    col = {n: max(16, len(n) + 2) for n in names}
    txt = [
        f"3. Threads appending single entries durably ({th['appends_per_thread']} appends per thread{kv_note}; "
        f"median of {cfg['thread_rounds']} rounds), entries/s",
        "  threads  " + "".join(n.ljust(col[n]) for n in names) + "kfm-wal entries per sync, per commit",
    ]
    md = [
        "## 3. Threads appending single entries durably",
        "",
        f"Each of N threads appends {th['appends_per_thread']} entries{kv_note}, one durable call each; median of "
        f"{cfg['thread_rounds']} interleaved rounds after a warm-up; (min-max). kfm-wal: one `Wal`, whose group "
        "commit can carry at most one entry per thread. sqlite: one connection shared by the threads under a "
        "lock, one transaction (synchronous=FULL) per entry. lmdb: one environment (sync=True, metasync=True), "
        "one write transaction of one put per entry; LMDB serialises write transactions. rocksdb: one Rdict, "
        "every thread calling `put` with WriteOptions sync=True (RocksDB may gather concurrent writers into "
        "one WAL write and fdatasync). raw write+fdatasync: one file, every thread "
        "writing as many bytes as one kfm-wal append (intent line + seal) then calling fdatasync. "
        f"{peers.PythonGroupCommit.name}: the same threads through a leader-based group commit written in "
        "Python with no CPU work besides joining bytes (one os.write and one fdatasync per group, the "
        "interpreter lock released) and no commit delay, so its groups settle near half the threads: "
        "the callers' way back through one interpreter lock at no CPU cost, not a ceiling. "
        f"{GROUPED}: the ceiling of any group commit on this disk, no CPU work at all: one thread writing "
        "N intent lines + one seal with one fdatasync per group; its `vs 1 thread` is the best 8-thread "
        "ratio a group commit can reach when a sync costs more the more bytes it carries. kfm-wal's "
        "group commit is a two-stage pipeline: a group (one seal) is written while the previous sync runs, "
        "and one fdatasync covers every group written before it started, so entries per sync can exceed "
        f"entries per commit. `{peers.KV_BEST}`: per round, whichever of the two was faster.",
        "",
        "| threads | "
        + " | ".join(f"{n} entries/s" for n in names)
        + " | kfm-wal vs 1 thread | "
        + " | ".join(f"kfm-wal / {n}" for n in versus)
        + " | kfm-wal entries per sync | kfm-wal entries per commit |",
        "|---:|" + "---:|" * (len(names) + len(versus) + 3),
    ]
    for n in counts:
        cells = [th["peers"][p][n] for p in names]
        k = th["threads"][n]
        txt.append(
            f"  {n:<8} "
            + "".join(
                f"{rate(c['median'])} ({c.get('vs_1_thread', float('nan')):.2f}x)".ljust(col[p])
                for p, c in zip(names, cells, strict=True)
            )
            + f"{k.get('entries_per_sync', float('nan')):.1f}, "
            + f"{k['entries_per_commit']:.1f} ({','.join(map(str, k['commit_sizes_first'][:12]))})"
        )
        md.append(
            f"| {n} | "
            + " | ".join(f"{rate(c['median'])} ({rate(c['min'])}-{rate(c['max'])})" for c in cells)
            + f" | {k.get('vs_1_thread', float('nan')):.2f}x | "
            + " | ".join(ratio_cell(th["ratios"][f"kfm-wal/{p}"][n]) for p in versus)
            + f" | {k.get('entries_per_sync', float('nan')):.1f} | {k['entries_per_commit']:.1f} |"
        )
    txt.append("  (in brackets: vs 1 thread of the same peer; last column: first group commits of the last round)")
    for p in versus:
        txt.append(
            f"  kfm-wal / {p}: "
            + ", ".join(f"{n}t {th['ratios'][f'kfm-wal/{p}'][n]['ratio_of_medians']:.2f}x" for n in counts)
        )
    at8 = [p for p in (peers.KV_BEST, GROUPED) if "8" in th["ratios"].get(f"kfm-wal/{p}", {})]
    if at8:
        line = "at 8 threads: " + "; ".join(
            f"kfm-wal / {p} {ratio_cell(th['ratios'][f'kfm-wal/{p}']['8'])}" for p in at8
        )
        txt.append("  " + line)
        md += ["", line[0].upper() + line[1:] + "."]
    md += ["", "First group commits of the last kfm-wal round (entries per commit): "]
    for n in counts:
        md.append(f"- {n} threads: {', '.join(map(str, th['threads'][n]['commit_sizes_first'][:16]))}")
    return closed(txt, md, th.get("skipped", []))
