"""The demo job, "the main job on the embedded default": a small pipeline over the Kansas counties
sample, every file it writes recorded in the WAL first.

    samples/kansas_counties.csv --etl_step--> processed/kansas_counties.json
        --stac_build (one intent per county group, one group commit)--> stac/ks-counties-*.json
        --graph_write--> graph/kansas_counties.nt

For each write the intent carries the hash of what the write starts from (pre_state_hash: the
inputs and the target's current bytes) and of the bytes about to be written (post_state_expected);
the completion carries the hash of the bytes read back from disk. A rerun reopens the log with its
key and appends a new run; outputs are deterministic, so a rerun rewrites identical bytes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import demo_data, keys, provision
from .errors import LogExistsError, NotALogError, UsageError
from .report import verify
from .wal import Wal

SAMPLE = "kansas_counties.csv"
# Where the sample lives in a source checkout; used when the data directory has none of its own.
_SHIPPED_SAMPLE = Path(__file__).resolve().parents[2] / "data" / "samples" / SAMPLE
ACTOR = {"type": "system", "id": "kfm-demo"}


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Write:
    """One file the pipeline is about to write: becomes one intent, then one completion."""

    operation: str
    target: Path
    data: bytes
    inputs: list[Path]
    tier: int
    links: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)
    wal_id: str = field(default_factory=lambda: str(uuid.uuid4()))


class _Run:
    def __init__(self, data: Path, wal: Wal, run_id: str) -> None:
        self.data, self.wal, self.run_id = data, wal, run_id
        self.intents: dict[str, int] = {}

    def rel(self, path: Path) -> str:
        return path.relative_to(self.data).as_posix()

    def perform(self, step: str, writes: list[Write]) -> None:
        """Record every intent in one group commit, do the writes, record every outcome in one more.
        A failed write is recorded as failed and the writes after it as refused before raising."""
        self.wal.append_many([self._intent(step, w) for w in writes])
        self.intents[writes[0].operation] = self.intents.get(writes[0].operation, 0) + len(writes)
        outcomes: list[dict[str, Any]] = []
        failure: OSError | None = None
        for w in writes:
            if failure is not None:
                outcomes.append(
                    {"wal_id": w.wal_id, "status": "refused", "error": f"not attempted: {failure}"}
                )
                continue
            started = time.perf_counter()
            try:
                _write_atomic(w.target, w.data)
                actual = sha256(w.target.read_bytes())
            except OSError as e:
                failure = e
                outcomes.append({"wal_id": w.wal_id, "status": "failed", "error": str(e)})
                continue
            outcome = {
                "wal_id": w.wal_id,
                "status": "succeeded",
                "post_state_hash": actual,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                "detail": {"bytes": len(w.data)},
            }
            if actual != sha256(w.data):
                outcome.update(status="failed", error="the file read back differs from post_state_expected")
            outcomes.append(outcome)
        self.wal.complete_many(outcomes)
        if failure is not None:
            raise failure

    def _intent(self, step: str, w: Write) -> dict[str, Any]:
        previous = w.target.read_bytes() if w.target.exists() else None
        pre_state = {
            "inputs": {self.rel(p): sha256(p.read_bytes()) for p in w.inputs},
            "target": {self.rel(w.target): None if previous is None else sha256(previous)},
        }
        expected = sha256(w.data)
        action = {
            "action": "write_file",
            "path": self.rel(w.target),
            "sha256": expected,
            "bytes": len(w.data),
            "method": "write temp file, fsync, rename over target, fsync directory",
        }
        return {
            "wal_id": w.wal_id,
            "operation": w.operation,
            "actor": ACTOR,
            # The hash of this canonical form of payload.pre_state, so anyone can recompute it.
            "pre_state_hash": sha256(json.dumps(pre_state, sort_keys=True, separators=(",", ":")).encode()),
            "post_state_expected": expected,
            "payload": {"actions": [action], "pre_state": pre_state, **w.detail},
            "reversal": {"steps": [self._reversal_step(w.target, previous, expected)]},
            "tier": w.tier,
            "governance": {"care": "public", "approvals": []},
            "lineage_links": w.links,
            "telemetry": {"id": f"kfm-demo/{self.run_id}/{step}", "run_id": self.run_id, "step": step},
        }

    def _reversal_step(self, target: Path, previous: bytes | None, expected: str) -> dict[str, Any]:
        path = self.rel(target)
        if previous is None:
            return {"action": "delete_file", "path": path, "only_if_sha256": expected}
        if sha256(previous) == expected:
            return {"action": "none", "path": path, "reason": "the file already holds exactly these bytes"}
        # Kept before the intent is recorded, so the reversal it names can always be carried out.
        backup = self.data / "backup" / hashlib.sha256(previous).hexdigest()
        if not backup.exists():
            _write_atomic(backup, previous)
        return {"action": "restore_file", "path": path, "from": self.rel(backup), "sha256": sha256(previous)}


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sample(data: Path) -> Path:
    sample = data / "samples" / SAMPLE
    if not sample.exists():
        if not _SHIPPED_SAMPLE.exists():
            raise UsageError(f"{sample}: sample dataset not found (and no source checkout to copy it from)")
        sample.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_SHIPPED_SAMPLE, sample)
    return sample


def _open_log(data: Path) -> tuple[Wal, bool]:
    """Reopen data/wal with data/keys/writer.pem, or create both on the first run."""
    wal_dir, key_path, ring_path = data / "wal", data / "keys" / "writer.pem", data / "keys" / "keyring.json"
    if key_path.exists():
        key = keys.load(key_path)
        try:
            return Wal.open(wal_dir, key), False
        except NotALogError:
            pass  # a key left by a first run that stopped before creating the log: use it
        wal = Wal.create(wal_dir, key)
        provision.trust_key(key, ring_path, "kfm-demo writer")
        return wal, True
    try:
        wal, _ = provision.create_with_new_key(wal_dir, key_path, ring_path, key_name="kfm-demo writer")
    except LogExistsError:
        raise UsageError(
            f"{wal_dir} holds a log but its writer key {key_path} is missing; restore the key, "
            f"or remove {wal_dir} to start over"
        ) from None
    return wal, True


def run(
    data_dir: str | os.PathLike[str] = "data", *, echo: Callable[[str], Any] | None = print
) -> dict[str, Any]:
    """Run the pipeline once under `data_dir`, validate the log, print a summary (unless `echo` is
    None) and return it."""
    started = time.perf_counter()
    data = Path(data_dir).absolute()
    sample = _sample(data)
    counties = demo_data.clean(sample.read_bytes(), str(sample))
    run_id = str(uuid.uuid4())
    wal, created = _open_log(data)
    with wal:
        log_id = wal.log_id
        r = _Run(data, wal, run_id)
        outputs = _pipeline(r, sample, counties)
    ring_path = data / "keys" / "keyring.json"
    report = verify(data / "wal", ring_path if ring_path.exists() else None)
    summary = {
        "data_dir": str(data_dir),
        "run_id": run_id,
        "log_id": log_id,
        "created_log": created,
        "intents": r.intents,
        "outputs": outputs,
        "counties": len(counties),
        "records": report.records,
        "segments": len(report.segments),
        "pending": report.pending,
        "valid": report.ok,
        "findings": [f"{f.code} at {f.location()}: {f.message}" for f in report.findings],
        "trust": report.trust,
        "elapsed": time.perf_counter() - started,
    }
    if echo is not None:
        for line in _summary_lines(summary):
            echo(line)
    return summary


def _pipeline(r: _Run, sample: Path, counties: list[demo_data.County]) -> list[str]:
    data = r.data
    processed = data / "processed" / "kansas_counties.json"
    etl = Write(
        "etl_step",
        processed,
        demo_data.processed(counties, r.rel(sample)),
        [sample],
        tier=1,
        detail={
            "transform": "trim values, check Kansas FIPS codes and duplicates, sort by FIPS",
            "rows": len(counties),
        },
    )
    r.perform("etl", [etl])
    items = [
        Write(
            "stac_build",
            data / "stac" / f"ks-counties-{letter.lower()}.json",
            demo_data.stac_item(letter, group, "../processed/kansas_counties.json"),
            [processed],
            tier=1,
            links=[f"wal:{etl.wal_id}"],
            detail={"item": f"ks-counties-{letter.lower()}", "counties": [c.fips for c in group]},
        )
        for letter, group in demo_data.groups(counties).items()
    ]
    r.perform("stac", items)
    graph = Write(
        "graph_write",
        data / "graph" / "kansas_counties.nt",
        demo_data.ntriples(counties),
        [processed],
        tier=2,
        links=[f"wal:{etl.wal_id}", *(f"wal:{i.wal_id}" for i in items)],
        detail={"format": "application/n-triples", "triples": 5 * len(counties)},
    )
    r.perform("graph", [graph])
    return [r.rel(w.target) for w in (etl, *items, graph)]


def _summary_lines(s: dict[str, Any]) -> list[str]:
    intents = ", ".join(f"{n} {op}" for op, n in s["intents"].items())
    verdict = "valid" if s["valid"] else f"INVALID ({len(s['findings'])} findings)"
    lines = [
        f"kfm-wal demo: run {s['run_id']} in {s['data_dir']} "
        f"({'new' if s['created_log'] else 'existing'} log {s['log_id']})",
        f"  wrote {len(s['outputs'])} files for {s['counties']} counties; intents this run: {intents}",
        f"  log: {s['records']} records in {s['segments']} segment(s), {s['pending']} pending, {verdict} "
        f"(trust: {s['trust']})",
        f"  elapsed {s['elapsed']:.2f} s",
    ]
    return lines + [f"  finding: {f}" for f in s["findings"][:5]]


if __name__ == "__main__":
    from .cli import cli

    cli.main(["demo", *sys.argv[1:]], prog_name="kfm-wal")
