"""Facts about the machine a run measured on, recorded with every result: CPU, cores, memory,
kernel, the file system under the scratch logs (fsync on tmpfs is free, which would make every
durable figure meaningless), the versions of kfm-wal and its peers, the git commit, and the load
average at the start and end (a busy neighbour widens every spread)."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import kfm_wal
import orjson
from harness import say
from peers import REPO


def mount_of(path: Path) -> dict[str, str]:
    """The /proc/mounts entry holding `path` (longest mount point prefix)."""
    real = os.path.realpath(path)
    best = {"device": "?", "mount": "/", "fstype": "?", "options": ""}
    best_len = -1
    try:
        with open("/proc/mounts", encoding="utf-8") as f:
            for line in f:
                dev, mnt, fstype, opts, *_ = line.split()
                mnt = mnt.replace("\\040", " ")
                if (real == mnt or real.startswith(mnt.rstrip("/") + "/")) and len(mnt) > best_len:
                    best, best_len = (
                        {"device": dev, "mount": mnt, "fstype": fstype, "options": opts},
                        len(mnt),
                    )
    except OSError:
        pass
    return best


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def cpu_family() -> dict[str, str]:
    """The CPU as `lscpu` names it (vendor, model name, family and model numbers; /proc/cpuinfo when
    lscpu is missing): what the regression gate compares to decide whether a baseline was taken on
    the same kind of CPU (benches/gate.py)."""
    fields = {"Vendor ID": "vendor", "Model name": "model_name", "CPU family": "family", "Model": "model"}
    out: dict[str, str] = {}
    try:
        text = subprocess.run(
            ["lscpu"], capture_output=True, text=True, timeout=10, check=True, env={**os.environ, "LC_ALL": "C"}
        ).stdout
        for line in text.splitlines():
            key, _, value = line.partition(":")
            if key.strip() in fields and fields[key.strip()] not in out:
                out[fields[key.strip()]] = value.strip()
    except (OSError, subprocess.SubprocessError):
        proc = {"vendor_id": "vendor", "model name": "model_name", "cpu family": "family", "model": "model"}
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as f:
                for line in f:
                    key, _, value = line.partition(":")
                    if key.strip() in proc and proc[key.strip()] not in out:
                        out[proc[key.strip()]] = value.strip()
        except OSError:
            pass
    out.setdefault("model_name", cpu_model())
    out.setdefault("vendor", platform.machine() or "?")
    return out


def git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def _version(dist: str) -> str | None:
    """An optional peer's installed version (None: not installed, the suites skip it)."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def core_build() -> str:
    """The extension module in use and when it was built (it may predate the checked-out sources)."""
    path = Path(kfm_wal._core.__file__)
    built = datetime.fromtimestamp(path.stat().st_mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{path.name} built {built}"


def machine_info(bench_dir: Path) -> dict[str, Any]:
    mount = mount_of(bench_dir)
    dev = os.path.basename(mount["device"])
    rotational = None
    try:
        rotational = Path(f"/sys/block/{dev}/queue/rotational").read_text().strip() == "1"
    except OSError:
        pass
    status = git("status", "--porcelain", "--untracked-files=no")
    return {
        "cpu_model": cpu_model(),
        "cpu": cpu_family(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9, 1),
        "python": platform.python_version(),
        "python_impl": platform.python_implementation(),
        "kernel": platform.release(),
        "os": platform.platform(),
        "filesystem": mount["fstype"],
        "fs_device": mount["device"],
        "fs_mount": mount["mount"],
        "fs_options": mount["options"],
        "fs_rotational": rotational,
        "bench_dir": str(bench_dir),
        "same_fs_as_repo": os.stat(bench_dir).st_dev == os.stat(REPO).st_dev,
        "kfm_wal": kfm_wal.__version__,
        "kfm_wal_core": core_build(),
        "sqlite": sqlite3.sqlite_version,
        "lmdb": _version("lmdb"),
        "rocksdict": _version("rocksdict"),
        "orjson": orjson.__version__,
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
        "loadavg_start": list(os.getloadavg()),
    }


def scratch_warnings(tmp_dir: Path) -> list[str]:
    """Why durable figures measured under `tmp_dir` may not be what a log on this disk pays."""
    warnings: list[str] = []
    fstype = mount_of(tmp_dir)["fstype"]
    if fstype in ("tmpfs", "ramfs"):
        msg = (
            f"scratch directory {tmp_dir} is on {fstype}: fsync there may be free or not what a log "
            "on disk pays; durable-append figures are not meaningful"
        )
        warnings.append(msg)
        say(f"WARNING: {msg}")
    if os.stat(tmp_dir).st_dev != os.stat(REPO).st_dev:
        warnings.append(f"scratch directory {tmp_dir} is not on the repository's file system")
    return warnings


def end_of_run(info: dict[str, Any]) -> list[str]:
    """Record the load average at the end of the run in `info` (from machine_info); a warning when
    the machine was busy at the start or the end."""
    info["loadavg_end"] = list(os.getloadavg())
    if max(info["loadavg_start"][0], info["loadavg_end"][0]) > (os.cpu_count() or 1):
        return ["the machine was busy (1-min load average above the core count): expect wide spreads"]
    return []
