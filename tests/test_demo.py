"""The demo job: runs twice in a fresh data directory, the log valid and the tree audits of
processed/ and stac/ clean both times, lineage events written; every output a recorded, reversible
operation of kfm_wal.ops: ETL files under processed/, a pystac-valid STAC catalog under stac/
(collection + one item per county group), RDF triples in the pyoxigraph store under graph/."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

import kfm_wal
import pystac
import pytest
from kfm_wal import demo, demo_data, keys, ops
from kfm_wal.audit import audit_tree
from kfm_wal.errors import UsageError
from kfm_wal.governance import ApprovalsValid, approve, default_policy
from kfm_wal.governance.gate import Governor

POLICY = default_policy().version_hash
SAMPLE = Path(__file__).resolve().parent.parent / "data" / "samples" / "kansas_counties.csv"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def intents(log: Path) -> list[dict[str, Any]]:
    return [r.body for r in kfm_wal.records(log, kind="intent")]


def completions(log: Path) -> dict[str, dict[str, Any]]:
    return {r.body["wal_id"]: r.body for r in kfm_wal.records(log, kind="completion")}


def lineage_events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


COUNTY_FILES = 105
ETL_OPS = 1 + COUNTY_FILES  # processed/kansas_counties.json (ops.run) + one file per county (ops.run_batch)
ITEMS = 19  # one STAC item per first letter of the county names
STAC_OPS = 1 + ITEMS  # the collection, then one operation per item
OPS = ETL_OPS + STAC_OPS + 1  # + one graph operation
TRIPLES = 5 * COUNTY_FILES
INTENTS = {"etl_step": ETL_OPS, "stac_collection": 1, "stac_item": ITEMS, "graph_write": 1}
COLLECTION = "collections/ks-counties/collection.json"


def graph(data: Path) -> ops.GraphStore:
    # The store the demo opened in this process (pyoxigraph holds the directory's lock).
    return ops.GraphStore.open(data / "graph")


def select(data: Path, query: str) -> list[tuple[str, ...]]:
    prefix = "PREFIX kfm: <urn:kfm:def:> PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> "
    solutions = graph(data).store.query(prefix + query)
    return [tuple(term.value for term in row) for row in solutions]  # type: ignore[union-attr]


def county_triples(data: Path) -> int:
    ((n,),) = select(data, "SELECT (COUNT(*) AS ?n) WHERE { ?c a kfm:County ; ?p ?o }")
    return int(n)


def check_stac(data: Path) -> list[pystac.Item]:
    """The catalog opens with pystac; every collection and item validates offline (the STAC core
    schemas pystac ships) and every asset href leads to a file the ETL wrote."""
    validator = ops.stac.OfflineValidator()
    catalog = pystac.Catalog.from_file(str(data / "stac" / "catalog.json"))
    (collection,) = list(catalog.get_children())
    assert isinstance(collection, pystac.Collection) and collection.id == "ks-counties"
    pystac.validation.validate_dict(collection.to_dict(), validator=validator)
    items = list(catalog.get_items(recursive=True))
    for item in items:
        assert item.collection_id == "ks-counties"
        pystac.validation.validate_dict(
            item.to_dict(include_self_link=False, transform_hrefs=False), validator=validator
        )
        assert item.assets and all(Path(a.get_absolute_href() or "").is_file() for a in item.assets.values())
    return items


def test_shipped_sample_is_the_105_kansas_counties() -> None:
    with open(SAMPLE, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 105
    assert [r["fips"] for r in rows] == [f"20{n:03d}" for n in range(1, 210, 2)]
    assert len({r["name"] for r in rows}) == 105 and all(r["county_seat"] for r in rows)
    by_name = {r["name"]: r for r in rows}
    assert by_name["Shawnee"]["county_seat"] == "Topeka" and by_name["Sedgwick"]["fips"] == "20173"


def test_demo_runs_twice_and_the_log_stays_valid(tmp_path: Path) -> None:
    data = tmp_path / "data"
    started = time.perf_counter()
    lines: list[str] = []
    first = demo.run(data, echo=lines.append)
    assert first["valid"] and first["created_log"] and first["pending"] == 0 and first["findings"] == []
    assert first["trust"] == "keyring"
    assert first["intents"] == INTENTS
    assert first["tree_findings"] == [] and any(line.startswith("  tree: clean") for line in lines)
    assert first["tree_roots"] == [str(data / "processed"), str(data / "stac"), str(data / "graph")]
    assert first["operations"] == {"recorded": OPS, "unchanged": 0, "deleted": 0}
    assert first["stac"] == {
        "collection": "ks-counties",
        "collection_action": "created",
        "items": ITEMS,
        "created": ITEMS,
        "updated": 0,
        "deleted": 0,
    }
    assert first["graph"]["triples"] == TRIPLES and first["graph"]["inserted"] == TRIPLES
    assert first["legacy_removed"] == []
    assert any("valid" in line for line in lines)
    assert any(line.startswith(f"  lineage: {first['lineage']}: ") for line in lines)
    assert len(first["outputs"]) == ETL_OPS + 2 + ITEMS  # + catalog.json, collection.json, the items
    outputs = {p: (data / p).read_bytes() for p in first["outputs"]}
    events = lineage_events(Path(first["lineage"]))
    assert Path(first["lineage"]) == data / "lineage" / "events.jsonl" and len(events) == first["lineage_events"]
    assert first["lineage_this_run"] == dict(sorted(INTENTS.items()))

    lines.clear()
    second = demo.run(data, echo=lines.append)
    assert time.perf_counter() - started < 10
    assert second["valid"] and not second["created_log"] and second["pending"] == 0 and second["findings"] == []
    assert second["log_id"] == first["log_id"] and second["run_id"] != first["run_id"]
    assert second["records"] > first["records"] and second["intents"] == INTENTS
    assert second["tree_findings"] == [] and any(line.startswith("  tree: clean") for line in lines)
    # Every output already held the expected state: re-recorded, pre_state_hash == post_state_expected.
    assert second["operations"] == {"recorded": OPS, "unchanged": OPS, "deleted": 0}
    assert second["stac"] == {**first["stac"], "collection_action": "updated", "created": 0, "updated": ITEMS}
    assert second["graph"]["inserted"] == 0 and second["graph"]["already_present"] == TRIPLES
    assert {p: (data / p).read_bytes() for p in second["outputs"]} == outputs  # deterministic
    assert second["lineage_events"] > len(events)
    again = lineage_events(Path(second["lineage"]))
    assert again[: len(events)] == events  # rebuilt from the whole log: the first run's events unchanged
    run_ids = {e["run"]["runId"] for e in again}
    assert len(run_ids) == 2 * (OPS + 1)  # one OpenLineage run per recorded operation, and per snapshot
    assert {e["eventType"] for e in again} == {"START", "COMPLETE"}
    assert {e["job"]["name"] for e in again} == {*INTENTS, "snapshot"}
    outs = {o["name"] for e in again for o in e.get("outputs", [])}
    assert {
        "kansas_counties.json",
        "counties/20001.json",
        "catalog.json",
        COLLECTION,
        "collections/ks-counties/items/ks-counties-s.json",
    } <= outs

    processed = json.loads((data / "processed" / "kansas_counties.json").read_text())
    assert processed["count"] == 105 and processed["counties"][0]["fips"] == "20001"
    county = json.loads((data / "processed" / "counties" / "20177.json").read_text())
    assert county["name"] == "Shawnee" and county["county_seat"] == "Topeka"
    assert len(list((data / "processed" / "counties").glob("*.json"))) == COUNTY_FILES

    items = check_stac(data)
    assert sorted(i.id for i in items) == sorted(f"ks-counties-{c}" for c in "abcdefghjklmnoprstw")
    s = next(i for i in items if i.id == "ks-counties-s")
    assert "20177" in s.assets and s.properties["kfm:counties"][0]["county_seat"]
    assert sum(len(i.assets) for i in items) == COUNTY_FILES
    assert not list((data / "stac").glob("ks-counties-*.json"))  # no STAC-like files of old

    assert county_triples(data) == TRIPLES and len(graph(data).triples()) == TRIPLES
    assert select(data, 'SELECT ?seat WHERE { ?c rdfs:label "Shawnee County"@en ; kfm:countySeat ?seat }') == [
        ("Topeka",)
    ]
    assert graph(data).triples() == set(
        ops.graph.canonical(
            demo_data.triples(demo_data.clean((data / "samples" / "kansas_counties.csv").read_bytes(), "sample"))
        )
    )
    assert not (data / "graph" / "kansas_counties.nt").exists() and not (data / "backup").exists()

    assert (data / "keys" / "writer.pem").exists() and (data / "samples" / "kansas_counties.csv").exists()
    assert kfm_wal.verify(data / "wal", data / "keys" / "keyring.json").ok
    assert audit_tree(data / "wal", data / "processed") == []
    assert audit_tree(data / "wal", data / "stac") == []


def test_every_write_is_an_intent_before_and_a_matching_completion_after(tmp_path: Path) -> None:
    data = tmp_path / "data"
    summary = demo.run(data, echo=None)
    log = data / "wal"
    found = [i for i in intents(log) if i["operation"] != "snapshot"]  # the one taken before the ETL step
    assert summary["ledger"]["decisions"] == summary["ledger"]["allowed"] == summary["ledger"]["this_run"] == len(found)
    ring = keys.load_keyring(data / "keys" / "keyring.json")
    assert kfm_wal.verify(log, rules=[ApprovalsValid(default_policy(), ring)]).ok
    done = completions(log)
    seq = {r.body["wal_id"]: r.seq for r in kfm_wal.records(log, kind="intent")}
    roots = {
        "etl_step": str((data / "processed").resolve()),
        "stac_collection": str((data / "stac").resolve()),
        "stac_item": str((data / "stac").resolve()),
    }
    assert {op: sum(1 for i in found if i["operation"] == op) for op in INTENTS} == INTENTS
    etl = found[0]
    for intent in found:
        assert intent["actor"] == {"type": "system", "id": "kfm-demo"}
        # decided by the shipped policy, approved by the demo's reviewer key (demo_governance.py)
        assert intent["governance"]["care"] == "public" and intent["governance"]["policy"] == POLICY
        assert [a["role"] for a in intent["governance"]["approvals"]] == ["maintainer"]
        assert intent["telemetry"]["id"].startswith(f"kfm-demo/{summary['run_id']}/")
        outcome = done[intent["wal_id"]]
        assert outcome["status"] == "succeeded"
        assert outcome["post_state_hash"] == intent["post_state_expected"]
        if intent is not etl:
            assert f"wal:{etl['wal_id']}" in intent["lineage_links"]
        payload = intent["payload"]
        if intent["operation"] == "graph_write":  # one pyoxigraph transaction, every triple named
            assert payload["format"] == ops.MIXED_FORMAT and payload["parts"][0]["kind"] == "graph"
            (action,) = payload["actions"]
            assert action["type"] == "graph.insert" and len(action["triples"]) == TRIPLES
            assert intent["reversal"]["steps"] == [{"type": "graph.delete", "triples": action["triples"], "part": 0}]
            assert len(intent["lineage_links"]) == 1 + STAC_OPS  # the ETL dataset and the STAC operations
            continue
        # A recorded file operation of kfm_wal.ops (the STAC actions are planned into file writes).
        assert payload["format"] == ops.PAYLOAD_FORMAT and payload["root"] == roots[intent["operation"]]
        root = Path(payload["root"])
        for action in payload["actions"]:
            assert action["type"] == "file.write"
            written = (root / action["path"]).read_bytes()
            if action["path"] != COLLECTION:  # collection.json is relinked by every new item after
                assert action["blob"] == sha(written)
            assert ops.Contents.for_log(log, payload).get(action["blob"]) is not None  # inline or a blob
        if intent["operation"] == "etl_step":
            (action,) = payload["actions"]
            written = (root / action["path"]).read_bytes()
            assert intent["pre_state_hash"] == ops.state_hash({action["path"]: ops.ABSENT})  # a fresh data root
            assert intent["post_state_expected"] == ops.state_hash({action["path"]: sha(written)})
            assert intent["reversal"]["steps"] == [{"type": "file.delete", "path": action["path"]}]
        else:
            (obj,) = payload["stac"]
            kind = "collection" if intent["operation"] == "stac_collection" else "item"
            assert obj["type"] == f"stac.{kind}.create"
            if kind == "item":
                assert obj["paths"] == [f"collections/ks-counties/items/{obj['id']}.json", COLLECTION]
                assert intent["telemetry"]["item"] == obj["id"]
    completion_seqs = {r.body["wal_id"]: r.seq for r in kfm_wal.records(log, kind="completion")}
    assert all(seq[w] < completion_seqs[w] for w in seq)
    sample_hash = sha((data / "samples" / "kansas_counties.csv").read_bytes())
    assert etl["payload"]["actions"][0]["path"] == "kansas_counties.json"
    assert etl["telemetry"]["inputs"] == {"samples/kansas_counties.csv": sample_hash}
    # The per-county ETL operations went in as one group commit: consecutive seqs, one seal after all.
    seqs = sorted(seq[i["wal_id"]] for i in found if i["operation"] == "etl_step")[-COUNTY_FILES:]
    assert seqs == list(range(seqs[0], seqs[0] + COUNTY_FILES))


def test_rerun_after_an_output_changed_restores_it_and_records_how_to_undo(tmp_path: Path) -> None:
    data = tmp_path / "data"
    demo.run(data, echo=None)
    target = data / "processed" / "kansas_counties.json"
    clean = target.read_bytes()
    target.write_bytes(b"edited by hand\n")
    (data / "processed" / "counties" / "20999.json").write_bytes(b"{}\n")  # a county the sample lacks
    findings = {f.code for f in audit_tree(data / "wal", data / "processed")}
    assert findings == {"tree.unexpected_state", "tree.unlogged_file"}  # the audit sees both
    item = data / "stac" / "collections" / "ks-counties" / "items" / "ks-counties-k.json"
    item_bytes = item.read_bytes()
    item.write_bytes(item_bytes.replace(b"Kansas counties K", b"Kansas counties K (edited)"))
    assert {f.code for f in audit_tree(data / "wal", data / "stac")} == {"tree.unexpected_state"}

    summary = demo.run(data, echo=None)
    assert summary["valid"] and summary["tree_findings"] == [] and target.read_bytes() == clean
    assert item.read_bytes() == item_bytes
    assert summary["operations"] == {"recorded": OPS + 1, "unchanged": OPS - 2, "deleted": 1}
    assert not (data / "processed" / "counties" / "20999.json").exists()
    etl = next(
        i
        for i in intents(data / "wal")[::-1]
        if i["payload"].get("actions", [{}])[0].get("path") == "kansas_counties.json"
    )
    edited = sha(b"edited by hand\n")
    assert etl["pre_state_hash"] == ops.state_hash({"kansas_counties.json": edited})
    assert etl["reversal"]["steps"] == [{"type": "file.restore", "path": "kansas_counties.json", "blob": edited}]
    unchanged = [i for i in intents(data / "wal") if i["operation"] == "graph_write"][-1]
    assert unchanged["pre_state_hash"] == unchanged["post_state_expected"]  # re-insertion: a recorded no-op
    check_stac(data)

    # The hand edit can be brought back: the ETL write is undone from its before-image.
    reviewer = keys.load(data / "keys" / "demo-maintainer.pem")
    with kfm_wal.Wal.open(data / "wal", keys.load(data / "keys" / "writer.pem")) as wal:
        ops.undo(
            wal,
            etl["wal_id"],
            actor={"type": "developer", "id": "test"},
            telemetry={"id": "undo"},
            root=data / "processed",
            # tier 1: the undo is decided by the policy too, with the demo reviewer's approval
            governor=Governor.for_log(
                data / "wal", approver=lambda request: [approve(request, reviewer, "maintainer")]
            ),
        )
    assert target.read_bytes() == b"edited by hand\n"
    assert audit_tree(data / "wal", data / "processed") == []


def test_rerun_on_a_smaller_sample_removes_what_it_no_longer_produces(tmp_path: Path) -> None:
    data = tmp_path / "data"
    demo.run(data, echo=None)
    sample = data / "samples" / "kansas_counties.csv"
    rows = sample.read_text().splitlines(keepends=True)
    kept = [r for r in rows if not r.startswith("W")]  # the 7 counties named W...
    sample.write_text("".join(kept))
    summary = demo.run(data, echo=None)
    assert summary["valid"] and summary["tree_findings"] == [] and summary["counties"] == COUNTY_FILES - 7
    assert summary["operations"]["deleted"] == 7
    assert summary["stac"]["deleted"] == 1 and summary["stac"]["items"] == ITEMS - 1
    assert summary["graph"]["deleted"] == 5 * 7 and county_triples(data) == 5 * (COUNTY_FILES - 7)
    assert not (data / "stac" / "collections" / "ks-counties" / "items" / "ks-counties-w.json").exists()
    assert len(check_stac(data)) == ITEMS - 1
    assert select(data, 'SELECT ?c WHERE { ?c kfm:fips "20209" }') == []


def test_rerun_removes_the_output_of_the_demo_before_the_ops_stac_graph_actions(tmp_path: Path) -> None:
    data = tmp_path / "data"
    demo.run(data, echo=None)
    (data / "stac" / "ks-counties-a.json").write_bytes(b'{"type": "Feature"}\n')  # as an older demo left them
    (data / "graph" / "kansas_counties.nt").write_bytes(b"<urn:kfm:county:20001> <urn:x> <urn:y> .\n")
    assert {f.code for f in audit_tree(data / "wal", data / "stac")} == {"tree.unlogged_file"}
    lines: list[str] = []
    summary = demo.run(data, echo=lines.append)
    assert summary["legacy_removed"] == ["stac/ks-counties-a.json", "graph/kansas_counties.nt"]
    assert any("removed earlier demo output (recorded deletes)" in line for line in lines)
    assert summary["intents"] == {**INTENTS, "stac_build": 1, "graph_write": 2}
    assert summary["valid"] and summary["tree_findings"] == []
    assert not (data / "stac" / "ks-counties-a.json").exists()
    assert not (data / "graph" / "kansas_counties.nt").exists() and county_triples(data) == TRIPLES
    again = demo.run(data, echo=None)
    assert again["legacy_removed"] == [] and again["intents"] == INTENTS


def test_demo_refuses_a_log_whose_key_is_gone_and_changes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    demo.run(data, echo=None)
    (data / "keys" / "writer.pem").unlink()
    before = sorted((p.name, p.read_bytes()) for p in (data / "wal").glob("*.jsonl"))
    with pytest.raises(UsageError, match="writer key .* is missing"):
        demo.run(data, echo=None)
    assert not (data / "keys" / "writer.pem").exists()
    assert sorted((p.name, p.read_bytes()) for p in (data / "wal").glob("*.jsonl")) == before


def test_demo_uses_the_data_directory_sample_and_checks_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "samples").mkdir(parents=True)
    shutil.copyfile(SAMPLE, data / "samples" / "kansas_counties.csv")
    text = (data / "samples" / "kansas_counties.csv").read_text().replace("20007", "2007")
    (data / "samples" / "kansas_counties.csv").write_text(text)
    with pytest.raises(UsageError, match="line 5: '2007' is not a Kansas county FIPS code"):
        demo.run(data, echo=None)
    assert not (data / "wal").exists()  # refused before any log was created


def test_the_demo_ends_by_replaying_its_log_and_a_write_around_it_shows(tmp_path: Path) -> None:
    data = tmp_path / "data"
    lines: list[str] = []
    for run in (1, 2):  # the second run replays the first run's operations too
        summary = demo.run(data, echo=lines.append)
        assert summary["replay"] == {"ok": True, "operations": run * OPS, "problem": None}
    assert any("the real roots match (kfm-wal replay --check)" in line for line in lines)
    target = data / "processed" / "kansas_counties.json"
    target.write_bytes(target.read_bytes() + b"written around the log\n")
    found = demo._replay_check(data / "wal")
    assert not found["ok"] and "diverges from the log's replay" in found["problem"]
