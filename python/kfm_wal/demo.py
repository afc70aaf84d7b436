"""The demo job, "the main job on the embedded default": a small pipeline over the Kansas counties
sample, every change it makes recorded in the WAL first, through `kfm_wal.ops`.

    samples/kansas_counties.csv
      --etl_step (ops.run)--> processed/kansas_counties.json
      --etl_step (ops.run_batch: one operation per county)--> processed/counties/<fips>.json
      --stac_collection (ops STAC action)--> stac/catalog.json, stac/collections/ks-counties/collection.json
      --stac_item (ops STAC actions, one operation per county group)--> .../ks-counties/items/<id>.json
      --graph_write (ops graph Insert/Delete)--> the embedded pyoxigraph store under graph/

Every step is a recorded, reversible operation: intent with pre_state_hash / post_state_expected,
before-images and new contents in the blob store (data/wal/blobs/), atomic writes (or one store
transaction for the graph), completion with the observed state; `ops.undo` can reverse any of
them. The STAC Collection and Items are pystac objects (built in demo_data), validated by the ops
STAC actions before anything is logged (pystac's validator, offline: the STAC core schemas pystac
ships).

Reruns start the sample over and never trip on their own earlier output:
- processed/: an output already holding the expected bytes is re-recorded as an operation whose
  pre_state_hash equals its post_state_expected (its undo is a no-op); an output edited since is
  put back (its edited bytes kept as the before-image); a county file the sample no longer
  produces is deleted (recorded too);
- stac/: the collection and items that exist are updated (UpdateCollection / UpdateItem, a no-op
  when nothing changed), the ones that do not are created, items the sample no longer produces
  are deleted;
- graph/: every expected triple is inserted again (re-inserting a present triple is a recorded
  no-op: its state is "present" before and after), triples about counties no longer in the
  sample are deleted in the same operation.
Output of the demo before it used the ops STAC/graph actions (stac/ks-counties-*.json,
graph/kansas_counties.nt) is removed by recorded file deletes on the first run that finds it.

Every operation is tier 1 (the graph's tier 2), so the governance policy decides each one, with
the approvals of the demo's reviewer key, and the governance ledger (data/governance/ledger)
records each decision and outcome (demo_governance.py).

After the run: the log is verified, every root it wrote (processed/, stac/ and the graph store)
audited against the log (`kfm_wal.audit.audit_tree`), and the log's OpenLineage
events written (`kfm_wal.lineage.emit`, data/lineage/events.jsonl) and summarised in one line."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import demo_data, demo_governance, keys, lineage, ops, provision, replay
from .audit import audit_tree
from .demo_summary import AUDITED, GRAPH, PROCESSED, STAC, summary_lines
from .errors import LogExistsError, NotALogError, UsageError, WalError
from .report import verify
from .rollback import demo_plan
from .wal import Wal

SAMPLE = "kansas_counties.csv"
# Where the sample lives in a source checkout; used when the data directory has none of its own.
_SHIPPED_SAMPLE = Path(__file__).resolve().parents[2] / "data" / "samples" / SAMPLE
ACTOR = {"type": "system", "id": "kfm-demo"}
GOVERNANCE = {"care": "public", "approvals": []}
ETL_OUTPUT = "kansas_counties.json"  # relative to the data root
COUNTIES_DIR = "counties"  # one small file per county, relative to the data root
LEGACY_STAC = "ks-counties-*.json"  # STAC-like files the demo wrote at the top of stac/ before
LEGACY_GRAPH = "kansas_counties.nt"  # the N-Triples file the demo wrote under graph/ before


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class _Run:
    def __init__(self, data: Path, wal: Wal, run_id: str, governor: Any) -> None:
        self.data, self.wal, self.run_id = data, wal, run_id
        self.governor = governor  # decides every operation (tier >= 1) and keeps the ledger
        self.intents: dict[str, int] = {}
        self.ops: list[ops.OperationResult] = []
        self.deleted = 0  # stale county files deleted (recorded operations too)
        self.stac: dict[str, Any] = {}
        self.graph: dict[str, Any] = {}
        self.legacy: list[str] = []

    def rel(self, path: Path) -> str:
        return path.relative_to(self.data).as_posix()

    def telemetry(self, step: str, **extra: Any) -> dict[str, Any]:
        return {"id": f"kfm-demo/{self.run_id}/{step}", "run_id": self.run_id, "step": step, **extra}

    def recorded(self, results: list[ops.OperationResult]) -> list[ops.OperationResult]:
        """Count operations run through `kfm_wal.ops` (run/run_batch raise on anything but success)."""
        self.ops += results
        for res in results:
            self.intents[res.operation] = self.intents.get(res.operation, 0) + 1
        return results

    def run(
        self,
        actions: list[Any],
        step: str,
        operation: str,
        links: list[str],
        tier: int = 1,
        telemetry: dict[str, Any] | None = None,
        **where: Any,
    ) -> ops.OperationResult:
        result = ops.run(
            self.wal,
            actions,
            actor=ACTOR,
            tier=tier,
            governance=GOVERNANCE,
            telemetry=self.telemetry(step, **(telemetry or {})),
            lineage_links=links,
            operation=operation,
            governor=self.governor,
            **where,
        )
        self.recorded([result])
        return result


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


def run(data_dir: str | os.PathLike[str] = "data", *, echo: Callable[[str], Any] | None = print) -> dict[str, Any]:
    """Run the pipeline once under `data_dir`; then verify the log, audit the file data roots
    against it and write the lineage events. Print a summary (unless `echo` is None) and return it."""
    started = time.perf_counter()
    data = Path(data_dir).absolute()
    sample = _sample(data)
    counties = demo_data.clean(sample.read_bytes(), str(sample))
    run_id = str(uuid.uuid4())
    wal, created = _open_log(data)
    writer = keys.load(data / "keys" / "writer.pem")
    with wal, demo_governance.open_ledger(data, writer) as ledger:
        log_id = wal.log_id
        r = _Run(data, wal, run_id, demo_governance.governor(data, writer, ledger))
        outputs = demo_plan.around(wal, lambda: _pipeline(r, sample, counties), echo)
    ring_path = data / "keys" / "keyring.json"
    report = verify(data / "wal", ring_path if ring_path.exists() else None)
    trees = {name: audit_tree(data / "wal", data / name) for name in AUDITED}
    events_path = lineage.emit(data / "wal")
    summary = {
        "replay": _replay_check(data / "wal")
        if report.ok
        else {"ok": False, "operations": 0, "problem": "log invalid"},
        "data_dir": str(data_dir),
        "run_id": run_id,
        "log_id": log_id,
        "created_log": created,
        "intents": r.intents,
        "outputs": outputs,
        "counties": len(counties),
        "operations": {
            "recorded": len(r.ops),
            # pre_state_hash == post_state_expected: the target already held this state (a rerun)
            "unchanged": sum(1 for o in r.ops if o.pre_state_hash == o.post_state_expected),
            "deleted": r.deleted,
        },
        "stac": r.stac,
        "graph": r.graph,
        "legacy_removed": r.legacy,
        "records": report.records,
        "segments": len(report.segments),
        "pending": report.pending,
        "valid": report.ok,
        "findings": [f"{f.code} at {f.location()}: {f.message}" for f in report.findings],
        "trust": report.trust,
        "tree_roots": [str(data / name) for name in AUDITED],
        "tree_findings": [f"{name}/: {f.code}: {f.message}" for name, found in trees.items() for f in found],
        "lineage": str(events_path),
        **_lineage_summary(events_path, {o.wal_id for o in r.ops}),
        "ledger": demo_governance.ledger_summary(data, {o.wal_id for o in r.ops}),
        "elapsed": time.perf_counter() - started,
    }
    if echo is not None:
        for line in summary_lines(summary):
            echo(line)
    return summary


def _lineage_summary(path: Path, wal_ids: set[str]) -> dict[str, Any]:
    """Counts over the emitted OpenLineage events: all of them, and this run's (one OpenLineage run
    per recorded operation, its runId the operation's wal_id), by job (the operation)."""
    events = runs = 0
    jobs: Counter[str] = Counter()
    datasets: set[tuple[str, str]] = set()
    with open(path, "rb") as f:
        for line in f:
            if not line.strip():
                continue
            e = json.loads(line)
            events += 1
            if e.get("eventType") == "START":
                runs += 1
            for d in e.get("outputs") or []:
                datasets.add((d.get("namespace", ""), d.get("name", "")))
            if e.get("eventType") == "START" and e.get("run", {}).get("runId") in wal_ids:
                jobs[e.get("job", {}).get("name", "?")] += 1
    return {
        "lineage_events": events,
        "lineage_runs": runs,
        "lineage_datasets": len(datasets),
        "lineage_this_run": dict(sorted(jobs.items())),
    }


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
        telemetry=r.telemetry(
            "etl",
            inputs=inputs,
            rows=len(counties),
            transform="trim values, check Kansas FIPS codes and duplicates, sort by FIPS",
        ),
        operation="etl_step",
        root=root,
        governor=r.governor,
    )
    r.recorded([etl])
    links = [f"wal:{etl.wal_id}"]
    wanted = {f"{COUNTIES_DIR}/{c.fips}.json": demo_data.county(c, source) for c in counties}
    stale = sorted(
        f"{COUNTIES_DIR}/{p.name}"
        for p in (root / COUNTIES_DIR).glob("*.json")
        if p.is_file() and not p.is_symlink() and f"{COUNTIES_DIR}/{p.name}" not in wanted
    )
    specs = [
        ops.OperationSpec(
            [ops.Write(path, body)], ACTOR, 1, GOVERNANCE, r.telemetry("etl-counties", inputs=inputs), links, "etl_step"
        )
        for path, body in wanted.items()
    ] + [
        ops.OperationSpec(
            [ops.Delete(path)],
            ACTOR,
            1,
            GOVERNANCE,
            r.telemetry("etl-counties", reason="county not in the sample any more"),
            links,
            "etl_step",
        )
        for path in stale
    ]
    r.recorded(ops.run_batch(r.wal, specs, root=root, governor=r.governor))
    r.deleted += len(stale)
    return [f"{PROCESSED}/{ETL_OUTPUT}", *(f"{PROCESSED}/{p}" for p in wanted)]


def _retire_legacy(r: _Run, links: list[str]) -> None:
    """Remove what the demo wrote before it used the ops STAC/graph actions (STAC-like files at the
    top of stac/, an N-Triples file under graph/), as recorded, reversible file deletes."""
    for root, found, operation in (
        (r.data / STAC, sorted((r.data / STAC).glob(LEGACY_STAC)), "stac_build"),
        (r.data / GRAPH, [r.data / GRAPH / LEGACY_GRAPH], "graph_write"),
    ):
        names = [p.name for p in found if p.is_file() and not p.is_symlink()]
        if names:
            r.run(
                [ops.Delete(n) for n in names],
                "legacy",
                operation,
                links,
                root=root,
                telemetry={"reason": "output of an earlier demo version, replaced by the ops STAC/graph actions"},
            )
            r.legacy += [f"{root.name}/{n}" for n in names]


def _href(src: str, target: Path, stac_root: Path) -> str:
    """`target` relative to the STAC file at `src` (relative to the STAC root), POSIX."""
    return Path(os.path.relpath(target, (stac_root / src).parent)).as_posix()


def _stac(r: _Run, counties: list[demo_data.County], links: list[str]) -> list[str]:
    """The collection (created or updated), then one operation per county-group item: updates of
    existing items in one batch (each touches only its item file), creations and deletions one by
    one (each also relinks collection.json). Returns the STAC files, relative to the data dir."""
    root = r.data / STAC
    stac = ops.stac
    cid = demo_data.COLLECTION_ID
    dataset = r.data / PROCESSED / ETL_OUTPUT
    col_path = stac.collection_path(cid)
    col = demo_data.stac_collection(counties, _href(col_path, dataset, root))
    col_verb = "updated" if (root / col_path).exists() else "created"
    action = stac.UpdateCollection(col) if col_verb == "updated" else stac.CreateCollection(col)
    done = r.run([action], "stac-collection", "stac_collection", links, stac_root=root)
    links = [*links, f"wal:{done.wal_id}"]

    # Every item file sits in the same directory, so the hrefs relative to it are the same.
    item_dir = Path(stac.item_path(cid, "item")).parent.as_posix()
    items = demo_data.stac_items(
        counties,
        _href(f"{item_dir}/item.json", root / col_path, root),
        _href(f"{item_dir}/item.json", dataset, root),
        lambda c: _href(f"{item_dir}/item.json", r.data / PROCESSED / COUNTIES_DIR / f"{c.fips}.json", root),
    )
    wanted = {i.id for i in items}
    existing = [i for i in items if (root / stac.item_path(cid, i.id)).exists()]
    new = [i for i in items if not (root / stac.item_path(cid, i.id)).exists()]
    stale = sorted(p.stem for p in (root / item_dir).glob("*.json") if p.is_file() and p.stem not in wanted)

    def telemetry(i: Any) -> dict[str, Any]:
        return r.telemetry("stac-items", item=i.id, counties=sorted(i.assets))

    r.recorded(
        ops.run_batch(
            r.wal,
            [
                ops.OperationSpec([stac.UpdateItem(i)], ACTOR, 1, GOVERNANCE, telemetry(i), links, "stac_item")
                for i in existing
            ],
            stac_root=root,
            governor=r.governor,
        )
    )
    for i in new:
        r.run(
            [stac.CreateItem(i)],
            "stac-items",
            "stac_item",
            links,
            stac_root=root,
            telemetry={"item": i.id, "counties": sorted(i.assets)},
        )
    for iid in stale:
        r.run(
            [stac.DeleteItem(cid, iid)],
            "stac-items",
            "stac_item",
            links,
            stac_root=root,
            telemetry={"item": iid, "reason": "county group not in the sample any more"},
        )
    r.stac = {
        "collection": cid,
        "collection_action": col_verb,
        "items": len(items),
        "created": len(new),
        "updated": len(existing),
        "deleted": len(stale),
    }
    paths = ["catalog.json", col_path, *(stac.item_path(cid, i.id) for i in items)]
    return [f"{STAC}/{p}" for p in paths]


def _graph(r: _Run, counties: list[demo_data.County], links: list[str]) -> None:
    """One graph operation: insert every expected triple (the present ones are a recorded no-op),
    delete the triples about counties the sample no longer has."""
    store = ops.GraphStore.open(r.data / GRAPH)
    wanted = ops.graph.canonical(demo_data.triples(counties))
    present = store.triples()
    mine = "<" + demo_data.county_iri("")
    stale = sorted(t for t in present - set(wanted) if t.startswith(mine))
    actions: list[Any] = [ops.graph.Insert(wanted)]
    if stale:
        actions.append(ops.graph.Delete(stale))
    r.run(
        actions,
        "graph",
        "graph_write",
        links,
        tier=2,
        graph=store,
        telemetry={"triples": len(wanted), "stale": len(stale)},
    )
    new = sum(1 for t in wanted if t not in present)
    r.graph = {
        "store": str(store.path),
        "triples": len(wanted),
        "inserted": new,
        "already_present": len(wanted) - new,
        "deleted": len(stale),
    }


def _replay_check(log: Path) -> dict[str, Any]:
    """`kfm-wal replay --check`: the whole log replayed into a temporary sandbox must give exactly
    the real roots' state (a write around the log, or a log that cannot reproduce its roots, shows)."""
    checked = replay.check(log)
    problem = checked.halted or checked.divergence
    return {"ok": checked.ok, "operations": checked.operations, "problem": problem.message() if problem else None}


def _pipeline(r: _Run, sample: Path, counties: list[demo_data.County]) -> list[str]:
    outputs = _etl_outputs(r, sample, counties)
    links = [f"wal:{r.ops[0].wal_id}"]  # everything downstream derives from the cleaned dataset
    _retire_legacy(r, links)
    first_stac = len(r.ops)
    outputs += _stac(r, counties, links)
    _graph(r, counties, [*links, *(f"wal:{o.wal_id}" for o in r.ops[first_stac:])])
    return outputs


def main(argv: list[str] | None = None) -> int:
    """`python -m kfm_wal.demo [--data DIR]`: the demo without the CLI (`kfm-wal demo`, or
    `python -m kfm_wal demo`, is the same run with the CLI's error messages). The CLI imports this
    module for its demo command; this module never imports the CLI."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m kfm_wal.demo", description="Run the demo pipeline logged through the WAL (as `kfm-wal demo`)."
    )
    parser.add_argument("--data", default="data", help="data directory (default: data)")
    args = parser.parse_args(argv)
    try:
        summary = run(args.data)
    except (WalError, OSError) as e:
        print(f"kfm-wal: error: {e}", file=sys.stderr)
        return 2
    return 0 if summary["valid"] and summary["replay"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
