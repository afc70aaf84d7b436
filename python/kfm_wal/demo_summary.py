"""The demo's layout under its data directory, and the summary a demo run prints (kfm_wal.demo
runs the pipeline; this module only says where things are and words the outcome)."""

from __future__ import annotations

from collections import Counter
from typing import Any

PROCESSED = "processed"  # the data root of the ETL file operations, under the data directory
STAC = "stac"  # the STAC catalog root
GRAPH = "graph"  # the embedded pyoxigraph store
AUDITED = (PROCESSED, STAC, GRAPH)  # every root the demo writes: audit_tree checks files, STAC and triples


def _legacy(paths: list[str]) -> str:
    by_dir = Counter(p.split("/")[0] for p in paths)
    return ", ".join(
        f"{n} file(s) in {d}/" if n > 1 else next(p for p in paths if p.startswith(d + "/")) for d, n in by_dir.items()
    )


def summary_lines(s: dict[str, Any]) -> list[str]:
    intents = ", ".join(f"{n} {op}" for op, n in s["intents"].items())
    verdict = "valid" if s["valid"] else f"INVALID ({len(s['findings'])} findings)"
    o, st, g = s["operations"], s["stac"], s["graph"]
    tree = s["tree_findings"]
    audited = ", ".join(f"{name}/" for name in AUDITED)
    this_run = ", ".join(f"{n} {job}" for job, n in s["lineage_this_run"].items())
    lines = [
        f"kfm-wal demo: run {s['run_id']} in {s['data_dir']} "
        f"({'new' if s['created_log'] else 'existing'} log {s['log_id']})",
        f"  {s['counties']} counties; intents this run: {intents}",
        f"  operations: {o['recorded']} recorded and reversible (kfm_wal.ops), {o['unchanged']} left their "
        "target as it was (already up to date)"
        + (f", {o['deleted']} stale county file(s) deleted" if o["deleted"] else ""),
        f"  {PROCESSED}/: {1 + s['counties']} files (the dataset and one per county)",
        f"  {STAC}/: collection {st['collection']} {st['collection_action']}, {st['items']} items "
        f"({st['created']} created, {st['updated']} updated, {st['deleted']} deleted), pystac-validated",
        f"  {GRAPH}/: {g['triples']} triples in pyoxigraph ({g['inserted']} inserted, "
        f"{g['already_present']} already present, {g['deleted']} stale deleted)",
        *(
            [f"  removed earlier demo output (recorded deletes): {_legacy(s['legacy_removed'])}"]
            if s["legacy_removed"]
            else []
        ),
        f"  log: {s['records']} records in {s['segments']} segment(s), {s['pending']} pending, {verdict} "
        f"(trust: {s['trust']})",
        f"  tree: clean ({audited} match the log)" if not tree else f"  tree: {len(tree)} finding(s) in {audited}",
        *(f"    {f}" for f in tree[:5]),
        f"  lineage: {s['lineage']}: {s['lineage_events']} OpenLineage events, {s['lineage_runs']} runs, "
        f"{s['lineage_datasets']} datasets written; this run: {this_run}",
        f"  governance ledger: {s['ledger']['path']}: {s['ledger']['decisions']} decisions "
        f"({s['ledger']['allowed']} allowed, {s['ledger']['refused']} refused); this run: "
        f"{s['ledger']['this_run']} operations decided under the policy",
        f"  replay: {s['replay']['operations']} operations replayed into a sandbox: "
        + (
            "the real roots match (kfm-wal replay --check)"
            if s["replay"]["ok"]
            else f"MISMATCH: {s['replay']['problem']}"
        ),
        f"  elapsed {s['elapsed']:.2f} s",
    ]
    return lines + [f"  finding: {f}" for f in s["findings"][:5]]


__all__ = ["AUDITED", "GRAPH", "PROCESSED", "STAC", "summary_lines"]
