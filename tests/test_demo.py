"""The demo job: runs twice in a fresh data directory, the log valid both times, outputs written and
every write recorded as intent (before) and completion (after) with hashes that match the files."""

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
from kfm_wal import demo
from kfm_wal.errors import UsageError

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "samples" / "kansas_counties.csv"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def intents(log: Path) -> list[dict[str, Any]]:
    return [r.body for r in kfm_wal.records(log, kind="intent")]


def completions(log: Path) -> dict[str, dict[str, Any]]:
    return {r.body["wal_id"]: r.body for r in kfm_wal.records(log, kind="completion")}


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
    assert first["intents"] == {"etl_step": 1, "stac_build": 19, "graph_write": 1}
    assert any("valid" in line for line in lines)
    outputs = {p: (data / p).read_bytes() for p in first["outputs"]}

    second = demo.run(data, echo=None)
    assert time.perf_counter() - started < 10
    assert second["valid"] and not second["created_log"] and second["pending"] == 0
    assert second["log_id"] == first["log_id"] and second["run_id"] != first["run_id"]
    assert second["records"] > first["records"]
    assert {p: (data / p).read_bytes() for p in second["outputs"]} == outputs  # deterministic

    processed = json.loads((data / "processed" / "kansas_counties.json").read_text())
    assert processed["count"] == 105 and processed["counties"][0]["fips"] == "20001"
    assert len(list((data / "stac").glob("ks-counties-*.json"))) == 19
    assert len((data / "graph" / "kansas_counties.nt").read_text().splitlines()) == 5 * 105
    assert (data / "keys" / "writer.pem").exists() and (data / "samples" / "kansas_counties.csv").exists()
    assert kfm_wal.verify(data / "wal", data / "keys" / "keyring.json").ok


def test_every_write_is_an_intent_before_and_a_matching_completion_after(tmp_path: Path) -> None:
    data = tmp_path / "data"
    summary = demo.run(data, echo=None)
    log = data / "wal"
    found = intents(log)
    done = completions(log)
    seq = {r.body["wal_id"]: r.seq for r in kfm_wal.records(log, kind="intent")}
    etl = next(i for i in found if i["operation"] == "etl_step")
    for intent in found:
        assert intent["actor"] == {"type": "system", "id": "kfm-demo"}
        assert intent["governance"] == {"care": "public", "approvals": []}
        assert intent["telemetry"]["id"].startswith(f"kfm-demo/{summary['run_id']}/")
        (action,) = intent["payload"]["actions"]
        written = (data / action["path"]).read_bytes()
        assert intent["post_state_expected"] == sha(written) == action["sha256"]
        canonical = json.dumps(intent["payload"]["pre_state"], sort_keys=True, separators=(",", ":"))
        assert intent["pre_state_hash"] == sha(canonical.encode())
        assert intent["reversal"]["steps"] == [
            {"action": "delete_file", "path": action["path"], "only_if_sha256": sha(written)}
        ]
        outcome = done[intent["wal_id"]]
        assert outcome["status"] == "succeeded" and outcome["post_state_hash"] == sha(written)
        if intent is not etl:
            assert f"wal:{etl['wal_id']}" in intent["lineage_links"]
    completion_seqs = {r.body["wal_id"]: r.seq for r in kfm_wal.records(log, kind="completion")}
    assert all(seq[w] < completion_seqs[w] for w in seq)
    sample_hash = sha((data / "samples" / "kansas_counties.csv").read_bytes())
    assert etl["payload"]["pre_state"]["inputs"] == {"samples/kansas_counties.csv": sample_hash}
    # The per-county-group STAC intents went in as one group commit: one seal after all of them.
    stac_seqs = sorted(seq[i["wal_id"]] for i in found if i["operation"] == "stac_build")
    assert stac_seqs == list(range(stac_seqs[0], stac_seqs[0] + 19))


def test_rerun_after_an_output_changed_restores_it_and_records_how_to_undo(tmp_path: Path) -> None:
    data = tmp_path / "data"
    demo.run(data, echo=None)
    target = data / "processed" / "kansas_counties.json"
    clean = target.read_bytes()
    target.write_bytes(b"edited by hand\n")
    summary = demo.run(data, echo=None)
    assert summary["valid"] and target.read_bytes() == clean
    etl = [i for i in intents(data / "wal") if i["operation"] == "etl_step"][-1]
    (step,) = etl["reversal"]["steps"]
    assert step["action"] == "restore_file" and step["sha256"] == sha(b"edited by hand\n")
    assert (data / step["from"]).read_bytes() == b"edited by hand\n"
    unchanged = [i for i in intents(data / "wal") if i["operation"] == "graph_write"][-1]
    assert unchanged["reversal"]["steps"][0]["action"] == "none"


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
