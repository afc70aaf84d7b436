"""One measurement in a fresh process, so that its peak RSS is its own (run by benches/validation.py
and benches/memory.py, sections 4 and 6 of benches/run.py).

    child.py verify DIR [--no-bodies] [--no-signatures]
                                          kfm_wal.verify(DIR[, check_bodies=False][, check_signatures=False])
    child.py sha256 DIR                   one SHA-256 pass over the segment files (1 MiB reads)
    child.py reference DIR                the pure-Python reference verifier
    child.py writer PEER DIR --threads N --appends M [--seed S]
                                          N threads each appending M entries durably, one at a time,
                                          to one kfm-wal log (PEER kfm-wal) or one SQLite database
                                          (PEER sqlite: one shared connection, one transaction per
                                          entry, under a lock)

Prints one JSON line: seconds (the measured call only), ok, peak_kb (VmHWM of this process at the
end, i.e. its peak resident set), rss_before_kb (resident set just before the measured call, after
imports and set-up), peak_reset (whether the high-water mark could be reset to the current RSS
before the measured call: then peak_kb is the peak during the call, else over the process's life)
and maxrss_kb (getrusage ru_maxrss: NOT this process's own peak, since Linux carries the parent's
peak RSS over fork and exec, so a child of a 350 MB parent reports at least 350 MB; kept only for
reference, and the reason VmHWM is used rather than RUSAGE_CHILDREN in the parent).

`run(args)` (used by run.py) starts one child, samples its RssAnon and RssFile from the parent every
10 ms meanwhile (how much of the peak is anonymous memory and how much file pages mapped from the
log), and returns the child's JSON with sampled_anon_kb and sampled_file_kb added.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def run(args: Sequence[object], timeout: float = 3_600) -> dict[str, Any]:
    """Run `child.py *args` in a fresh interpreter and return what it printed (see above)."""
    cmd = [sys.executable, str(HERE / "child.py"), *map(str, args)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peaks = {"RssAnon": 0, "RssFile": 0}

    def sample() -> None:
        path = f"/proc/{proc.pid}/status"
        while True:
            try:
                with open(path, encoding="utf-8") as f:
                    text = f.read()
            except OSError:
                return
            seen = False
            for line in text.splitlines():
                k, _, v = line.partition(":")
                if k in peaks:
                    peaks[k] = max(peaks[k], int(v.split()[0]))
                    seen = True
            if not seen:  # a zombie: the child has exited
                return
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited with {proc.returncode}:\n{err[-3000:]}")
    data: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    data["sampled_anon_kb"], data["sampled_file_kb"] = peaks["RssAnon"], peaks["RssFile"]
    return data


def status() -> dict[str, int]:
    out: dict[str, int] = {}
    with open("/proc/self/status", encoding="utf-8") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem"):
                out[k] = int(v.split()[0])
    return out


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0: write 5 to /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        return False
    return True


def measured(fn: Any) -> dict[str, Any]:
    import gc

    gc.collect()
    before = status()
    was_reset = reset_peak()
    t0 = time.perf_counter()
    result = fn()
    dt = time.perf_counter() - t0
    after = status()
    return {
        "seconds": dt,
        "result": result,
        "rss_before_kb": before.get("VmRSS"),
        "peak_kb": after.get("VmHWM"),
        "peak_reset": was_reset,
        "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


def do_verify(d: Path, bodies: bool, signatures: bool = True) -> dict[str, Any]:
    import kfm_wal

    def run() -> dict[str, Any]:
        rep = kfm_wal.verify(d, check_bodies=bodies, check_signatures=signatures)
        codes = sorted({f.code for f in rep.findings})
        return {"ok": rep.ok, "findings": len(rep.findings), "codes": codes[:10], "records": rep.records}

    out = measured(run)
    out.update(out.pop("result"))
    return out


def do_sha256(d: Path) -> dict[str, Any]:
    import peers

    files = peers.log_files(d)
    buf = bytearray(1 << 20)
    view = memoryview(buf)

    def run() -> dict[str, Any]:
        h = hashlib.sha256()
        n_bytes = 0
        for f in files:
            with open(f, "rb", buffering=0) as fh:
                while n := fh.readinto(buf):
                    h.update(view[:n])
                    n_bytes += n
        return {"ok": True, "bytes": n_bytes, "digest": h.hexdigest()}

    out = measured(run)
    out.update(out.pop("result"))
    return out


def do_reference(d: Path) -> dict[str, Any]:
    import peers

    ref = peers.load_reference()

    def run() -> dict[str, Any]:
        rep = ref.verify(d)
        codes = sorted({e.code for e in rep.errors})
        return {"ok": rep.ok, "findings": len(rep.errors), "codes": codes[:10], "records": rep.records}

    out = measured(run)
    out.update(out.pop("result"))
    return out


def do_writer(peer: str, d: Path, threads: int, appends: int, seed: int) -> dict[str, Any]:
    import peers
    import workload

    entries = workload.make_entries(threads * appends, seed=seed)
    append: Any
    if peer == "kfm-wal":
        kfm = peers.KfmWal(d)
        append, close = kfm.append, kfm.close
    elif peer == "sqlite":
        db = peers.SQLite(d)
        append, close = db.append, db.close
    else:
        raise SystemExit(f"unknown writer peer {peer!r}")
    gate = threading.Barrier(threads + 1)
    errors: list[BaseException] = []

    def worker(chunk: list[dict[str, Any]]) -> None:
        gate.wait()
        try:
            for e in chunk:
                append(e)
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [
        threading.Thread(target=worker, args=(entries[i * appends : (i + 1) * appends],)) for i in range(threads)
    ]
    for t in workers:
        t.start()

    def run() -> dict[str, Any]:
        gate.wait()
        for t in workers:
            t.join()
        return {"ok": not errors, "error": repr(errors[0]) if errors else None, "entries": threads * appends}

    out = measured(run)
    close()
    out.update(out.pop("result"))
    out["entries_per_s"] = out["entries"] / out["seconds"]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=("verify", "sha256", "reference", "writer"))
    ap.add_argument("args", nargs="+")
    ap.add_argument("--no-bodies", action="store_true")
    ap.add_argument("--no-signatures", action="store_true")
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--appends", type=int, default=1_000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    if a.mode == "verify":
        out = do_verify(Path(a.args[0]), bodies=not a.no_bodies, signatures=not a.no_signatures)
    elif a.mode == "sha256":
        out = do_sha256(Path(a.args[0]))
    elif a.mode == "reference":
        out = do_reference(Path(a.args[0]))
    else:
        peer, d = a.args[0], Path(a.args[1])
        out = do_writer(peer, d, a.threads, a.appends, a.seed)
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
