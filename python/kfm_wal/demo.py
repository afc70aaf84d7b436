"""The demo job, "the main job on the embedded default": a small pipeline over the Kansas counties
sample, every file it writes recorded in the WAL first.

    samples/kansas_counties.csv --etl_step (kfm_wal.ops.run)--> processed/kansas_counties.json
        --etl_step (kfm_wal.ops.run_batch: one operation per county)--> processed/counties/*.json
        --stac_build (one intent per county group, one group commit)--> stac/ks-counties-*.json
        --graph_write--> graph/kansas_counties.nt

The ETL outputs under processed/ (the data root of `kfm_wal.ops`) are recorded, reversible file
operations: intent with pre_state_hash / post_state_expected (ops' state hashes of the targets),
before-images and new contents in the blob store (data/wal/blobs/), atomic writes, completion with
the observed state; `ops.undo` can reverse any of them and `audit_tree` checks the tree against
the log. On a rerun an output that already holds the expected bytes is re-recorded as an operation
whose pre_state_hash equals its post_state_expected (nothing changes, and its undo is a no-op);
an output edited since is put back, its edited bytes kept as the before-image; a county file the
current sample no longer produces is deleted (recorded too).

The STAC-like items and the graph are still written by the demo's own recorded writes (`_Run`
below): their intents carry the hash of the inputs and the target's bytes (pre_state_hash) and of
the bytes about to be written (post_state_expected). TODO(ops STAC/graph actions): move them to
the STAC and graph actions being added to `kfm_wal.ops`, then drop `_Run` and data/backup/.

After the run: the log is verified, the data root audited (`kfm_wal.audit.audit_tree`) and the
log's OpenLineage events written (`kfm_wal.lineage.emit`, data/lineage/events.jsonl). A rerun
reopens the log with its key and appends a new run; outputs are deterministic."""

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

from . import demo_data, keys, lineage, ops, provision
from .audit import audit_tree
from .errors import LogExistsError, NotALogError, UsageError
from .report import verify
from .wal import Wal

SAMPLE = "kansas_counties.csv"
# Where the sample lives in a source checkout; used when the data directory has none of its own.
_SHIPPED_SAMPLE = Path(__file__).resolve().parents[2] / "data" / "samples" / SAMPLE
ACTOR = {"type": "system", "id": "kfm-demo"}
GOVERNANCE = {"care": "public", "approvals": []}
PROCESSED = "processed"  # the data root of the recorded file operations, under the data directory
ETL_OUTPUT = "kansas_counties.json"  # relative to the data root
COUNTIES_DIR = "counties"  # one small file per county, relative to the data root


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
        self.ops: list[ops.OperationResult] = []
        self.deleted = 0  # stale county files deleted (recorded operations too)

    def rel(self, path: Path) -> str:
        return path.relative_to(self.data).as_posix()

    def telemetry(self, step: str, **extra: Any) -> dict[str, Any]:
        return {"id": f"kfm-demo/{self.run_id}/{step}", "run_id": self.run_id, "step": step, **extra}

    def recorded(self, results: list[ops.OperationResult]) -> None:
        """Count operations run through `kfm_wal.ops` (run/run_batch raise on anything but success)."""
        self.ops += results
        for res in results:
            self.intents[res.operation] = self.intents.get(res.operation, 0) + 1

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
            "telemetry": self.telemetry(step),
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
    """Run the pipeline once under `data_dir`; then verify the log, audit the data root against it
    and write the lineage events. Print a summary (unless `echo` is None) and return it."""
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
    tree = audit_tree(data / "wal", data / PROCESSED)
    events_path = lineage.emit(data / "wal")
    with open(events_path, "rb") as f:
        events = sum(1 for line in f if line.strip())
    summary = {
        "data_dir": str(data_dir),
        "run_id": run_id,
        "log_id": log_id,
        "created_log": created,
        "intents": r.intents,
        "outputs": outputs,
        "counties": len(counties),
        "operations": {
            "recorded": len(r.ops),
            # pre_state_hash == post_state_expected: the output already held these bytes (a rerun)
            "unchanged": sum(1 for o in r.ops if o.pre_state_hash == o.post_state_expected),
            "deleted": r.deleted,
        },
        "records": report.records,
        "segments": len(report.segments),
        "pending": report.pending,
        "valid": report.ok,
        "findings": [f"{f.code} at {f.location()}: {f.message}" for f in report.findings],
        "trust": report.trust,
        "tree_root": str(data / PROCESSED),
        "tree_findings": [f"{f.code}: {f.message}" for f in tree],
        "lineage": str(events_path),
        "lineage_events": events,
        "elapsed": time.perf_counter() - started,
    }
    if echo is not None:
        for line in _summary_lines(summary):
            echo(line)
    return summary


def _etl_outputs(r: _Run, sample: Path, counties: list[demo_data.County]) -> list[str]:
    """The ETL outputs under the data root, as recorded file operations: the cleaned dataset with
    `ops.run`, then one small file per county with `ops.run_batch` (one group commit for all the
    intents, one for all the completions), stale county files deleted in the same batch."""
    root = r.data / PROCESSED
    source = r.rel(sample)
    inputs = {source: sha256(sample.read_bytes())}
    etl = ops.run(
        r.wal,
        [ops.Write(ETL_OUTPUT, demo_data.processed(counties, source))],
        actor=ACTOR,
        tier=1,
        governance=GOVERNANCE,
        # The sample is read, not changed: ops hashes only the files it changes, so the inputs'
        # hashes ride in the telemetry.
        telemetry=r.telemetry("etl", inputs=inputs, rows=len(counties),
                              transform="trim values, check Kansas FIPS codes and duplicates, sort by FIPS"),
        operation="etl_step",
        root=root,
    )
    r.recorded([etl])
    links = [f"wal:{etl.wal_id}"]
    wanted = {f"{COUNTIES_DIR}/{c.fips}.json": demo_data.county(c, source) for c in counties}
    stale = sorted(
        f"{COUNTIES_DIR}/{p.name}" for p in (root / COUNTIES_DIR).glob("*.json")
        if p.is_file() and not p.is_symlink() and f"{COUNTIES_DIR}/{p.name}" not in wanted
    )
    specs = [
        ops.OperationSpec([ops.Write(path, body)], ACTOR, 1, GOVERNANCE, r.telemetry("etl-counties", inputs=inputs),
                          links, "etl_step")
        for path, body in wanted.items()
    ] + [
        ops.OperationSpec([ops.Delete(path)], ACTOR, 1, GOVERNANCE,
                          r.telemetry("etl-counties", reason="county not in the sample any more"), links, "etl_step")
        for path in stale
    ]
    r.recorded(ops.run_batch(r.wal, specs, root=root))
    r.deleted += len(stale)
    return [f"{PROCESSED}/{ETL_OUTPUT}", *(f"{PROCESSED}/{p}" for p in wanted)]


def _pipeline(r: _Run, sample: Path, counties: list[demo_data.County]) -> list[str]:
    data = r.data
    outputs = _etl_outputs(r, sample, counties)
    processed = data / PROCESSED / ETL_OUTPUT
    etl_link = f"wal:{r.ops[0].wal_id}"
    # TODO(ops STAC/graph actions): the STAC items and the graph still go through `_Run.perform`;
    # move them to the STAC/graph actions being added to kfm_wal.ops (so they are undoable and
    # audited like processed/), then drop `_Run` and data/backup/.
    items = [
        Write(
            "stac_build",
            data / "stac" / f"ks-counties-{letter.lower()}.json",
            demo_data.stac_item(letter, group, f"../{PROCESSED}/{ETL_OUTPUT}"),
            [processed],
            tier=1,
            links=[etl_link],
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
        links=[etl_link, *(f"wal:{i.wal_id}" for i in items)],
        detail={"format": "application/n-triples", "triples": 5 * len(counties)},
    )
    r.perform("graph", [graph])
    return outputs + [r.rel(w.target) for w in (*items, graph)]


def _summary_lines(s: dict[str, Any]) -> list[str]:
    intents = ", ".join(f"{n} {op}" for op, n in s["intents"].items())
    verdict = "valid" if s["valid"] else f"INVALID ({len(s['findings'])} findings)"
    o = s["operations"]
    tree = s["tree_findings"]
    lines = [
        f"kfm-wal demo: run {s['run_id']} in {s['data_dir']} "
        f"({'new' if s['created_log'] else 'existing'} log {s['log_id']})",
        f"  wrote {len(s['outputs'])} files for {s['counties']} counties; intents this run: {intents}",
        f"  processed/: {o['recorded']} recorded, reversible file operations (kfm_wal.ops), "
        f"{o['unchanged']} of them on outputs already holding the expected bytes"
        + (f", {o['deleted']} stale file(s) deleted" if o["deleted"] else ""),
        f"  log: {s['records']} records in {s['segments']} segment(s), {s['pending']} pending, {verdict} "
        f"(trust: {s['trust']})",
        "  tree: clean" if not tree else f"  tree: {len(tree)} finding(s) under {s['tree_root']}",
        *(f"    {f}" for f in tree[:5]),
        f"  lineage: {s['lineage_events']} OpenLineage events in {s['lineage']}",
        f"  elapsed {s['elapsed']:.2f} s",
    ]
    return lines + [f"  finding: {f}" for f in s["findings"][:5]]


if __name__ == "__main__":
    from .cli import cli

    cli.main(["demo", *sys.argv[1:]], prog_name="kfm-wal")
