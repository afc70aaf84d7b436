"""The demo job: runs twice in a fresh data directory, the log valid and the data root's tree audit
clean both times, lineage events written; the ETL outputs under processed/ recorded, reversible file
operations (kfm_wal.ops), the STAC items and graph recorded writes with hashes that match the files."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

import kfm_wal
import pytest
from kfm_wal import demo, keys, ops
from kfm_wal.audit import audit_tree
from kfm_wal.errors import UsageError

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
    assert first["intents"] == {"etl_step": ETL_OPS, "stac_build": 19, "graph_write": 1}
    assert first["tree_findings"] == [] and "  tree: clean" in lines
    assert first["operations"] == {"recorded": ETL_OPS, "unchanged": 0, "deleted": 0}
    assert any("valid" in line for line in lines)
    assert any(line.startswith("  lineage: ") and first["lineage"] in line for line in lines)
    assert len(first["outputs"]) == ETL_OPS + 19 + 1
    outputs = {p: (data / p).read_bytes() for p in first["outputs"]}
    events = lineage_events(Path(first["lineage"]))
    assert Path(first["lineage"]) == data / "lineage" / "events.jsonl" and len(events) == first["lineage_events"]

    lines.clear()
    second = demo.run(data, echo=lines.append)
    assert time.perf_counter() - started < 10
    assert second["valid"] and not second["created_log"] and second["pending"] == 0 and second["findings"] == []
    assert second["log_id"] == first["log_id"] and second["run_id"] != first["run_id"]
    assert second["records"] > first["records"]
    assert second["tree_findings"] == [] and "  tree: clean" in lines
    # Every output already held the expected bytes: re-recorded, pre_state_hash == post_state_expected.
    assert second["operations"] == {"recorded": ETL_OPS, "unchanged": ETL_OPS, "deleted": 0}
    assert {p: (data / p).read_bytes() for p in second["outputs"]} == outputs  # deterministic
    assert second["lineage_events"] > len(events)
    again = lineage_events(Path(second["lineage"]))
    assert again[: len(events)] == events  # rebuilt from the whole log: the first run's events unchanged
    run_ids = {e["run"]["runId"] for e in again}
    assert len(run_ids) == 2 * (ETL_OPS + 19 + 1)  # one OpenLineage run per recorded operation
    assert {e["eventType"] for e in again} == {"START", "COMPLETE"}
    outs = {o["name"] for e in again for o in e.get("outputs", [])}
    assert {"kansas_counties.json", "counties/20001.json"} <= outs

    processed = json.loads((data / "processed" / "kansas_counties.json").read_text())
    assert processed["count"] == 105 and processed["counties"][0]["fips"] == "20001"
    county = json.loads((data / "processed" / "counties" / "20177.json").read_text())
    assert county["name"] == "Shawnee" and county["county_seat"] == "Topeka"
    assert len(list((data / "processed" / "counties").glob("*.json"))) == COUNTY_FILES
    assert len(list((data / "stac").glob("ks-counties-*.json"))) == 19
    assert len((data / "graph" / "kansas_counties.nt").read_text().splitlines()) == 5 * 105
    assert (data / "keys" / "writer.pem").exists() and (data / "samples" / "kansas_counties.csv").exists()
    assert kfm_wal.verify(data / "wal", data / "keys" / "keyring.json").ok
    assert audit_tree(data / "wal", data / "processed") == []


def test_every_write_is_an_intent_before_and_a_matching_completion_after(tmp_path: Path) -> None:
    data = tmp_path / "data"
    summary = demo.run(data, echo=None)
    log = data / "wal"
    found = intents(log)
    done = completions(log)
    seq = {r.body["wal_id"]: r.seq for r in kfm_wal.records(log, kind="intent")}
    root = str((data / "processed").resolve())
    etl_ops = [i for i in found if i["operation"] == "etl_step"]
    etl = etl_ops[0]
    assert len(etl_ops) == ETL_OPS
    for intent in found:
        assert intent["actor"] == {"type": "system", "id": "kfm-demo"}
        assert intent["governance"] == {"care": "public", "approvals": []}
        assert intent["telemetry"]["id"].startswith(f"kfm-demo/{summary['run_id']}/")
        outcome = done[intent["wal_id"]]
        assert outcome["status"] == "succeeded"
        if intent is not etl:
            assert f"wal:{etl['wal_id']}" in intent["lineage_links"]
        (action,) = intent["payload"]["actions"]
        if intent["operation"] == "etl_step":  # a recorded file operation of kfm_wal.ops
            assert intent["payload"]["format"] == ops.PAYLOAD_FORMAT and intent["payload"]["root"] == root
            assert action["type"] == "file.write"
            written = (data / "processed" / action["path"]).read_bytes()
            assert action["blob"] == sha(written)
            assert intent["pre_state_hash"] == ops.state_hash({action["path"]: ops.ABSENT})  # a fresh data root
            assert intent["post_state_expected"] == ops.state_hash({action["path"]: sha(written)})
            assert outcome["post_state_hash"] == intent["post_state_expected"]
            assert intent["reversal"]["steps"] == [{"type": "file.delete", "path": action["path"]}]
            assert ops.BlobStore.for_log(log).get(action["blob"]) == written
            continue
        written = (data / action["path"]).read_bytes()
        assert intent["post_state_expected"] == sha(written) == action["sha256"]
        canonical = json.dumps(intent["payload"]["pre_state"], sort_keys=True, separators=(",", ":"))
        assert intent["pre_state_hash"] == sha(canonical.encode())
        assert intent["reversal"]["steps"] == [
            {"action": "delete_file", "path": action["path"], "only_if_sha256": sha(written)}
        ]
        assert outcome["post_state_hash"] == sha(written)
    completion_seqs = {r.body["wal_id"]: r.seq for r in kfm_wal.records(log, kind="completion")}
    assert all(seq[w] < completion_seqs[w] for w in seq)
    sample_hash = sha((data / "samples" / "kansas_counties.csv").read_bytes())
    assert etl["payload"]["actions"][0]["path"] == "kansas_counties.json"
    assert etl["telemetry"]["inputs"] == {"samples/kansas_counties.csv": sample_hash}
    # The per-county ETL operations and the per-county-group STAC intents each went in as one group
    # commit: consecutive seqs, one seal after all of them.
    for op, n in (("etl_step", COUNTY_FILES), ("stac_build", 19)):
        seqs = sorted(seq[i["wal_id"]] for i in found if i["operation"] == op)[-n:]
        assert seqs == list(range(seqs[0], seqs[0] + n))


def test_rerun_after_an_output_changed_restores_it_and_records_how_to_undo(tmp_path: Path) -> None:
    data = tmp_path / "data"
    demo.run(data, echo=None)
    target = data / "processed" / "kansas_counties.json"
    clean = target.read_bytes()
    target.write_bytes(b"edited by hand\n")
    (data / "processed" / "counties" / "20999.json").write_bytes(b"{}\n")  # a county the sample lacks
    findings = {f.code for f in audit_tree(data / "wal", data / "processed")}
    assert findings == {"tree.unexpected_state", "tree.unlogged_file"}  # the audit sees both

    summary = demo.run(data, echo=None)
    assert summary["valid"] and summary["tree_findings"] == [] and target.read_bytes() == clean
    assert summary["operations"] == {"recorded": ETL_OPS + 1, "unchanged": ETL_OPS - 1, "deleted": 1}
    assert not (data / "processed" / "counties" / "20999.json").exists()
    etl = next(i for i in intents(data / "wal")[::-1] if i["payload"].get("actions", [{}])[0].get("path")
               == "kansas_counties.json")
    edited = sha(b"edited by hand\n")
    assert etl["pre_state_hash"] == ops.state_hash({"kansas_counties.json": edited})
    assert etl["reversal"]["steps"] == [{"type": "file.restore", "path": "kansas_counties.json", "blob": edited}]
    unchanged = [i for i in intents(data / "wal") if i["operation"] == "graph_write"][-1]
    assert unchanged["reversal"]["steps"][0]["action"] == "none"

    # The hand edit can be brought back: the ETL write is undone from its before-image.
    with kfm_wal.Wal.open(data / "wal", keys.load(data / "keys" / "writer.pem")) as wal:
        ops.undo(wal, etl["wal_id"], actor={"type": "developer", "id": "test"}, telemetry={"id": "undo"},
                 root=data / "processed")
    assert target.read_bytes() == b"edited by hand\n"
    assert audit_tree(data / "wal", data / "processed") == []


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
