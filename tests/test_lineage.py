"""Lineage exports: OpenLineage run events and PROV documents built from a log of file operations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kfm_wal import UsageError, Wal, lineage, records
from kfm_wal.ops import Delete, Move, OperationFailedError, Write, content_digest, run, undo
from kfm_wal.ops import durable as durable_mod
from prov.model import ProvDocument
from test_ops_support import META, UNDO_META


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "data" / "processed"
    r.mkdir(parents=True)
    (r / "old.csv").write_bytes(b"id\n1\n")
    return r


@pytest.fixture
def ops(wal: Wal, root: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A small run: a write + move, a delete, an undo of the delete, a failed (reversed) op."""
    first = run(wal, [Write("counties/ks.csv", b"id\n20001\n"), Move("old.csv", "moved.csv")], root=root, **META)
    second = run(wal, [Delete("counties/ks.csv")], root=root, **META)
    back = undo(wal, second.wal_id, **UNDO_META)
    with monkeypatch.context() as m:

        def broken(src: Path, dst: Path) -> None:
            raise OSError("injected")

        m.setattr(durable_mod, "rename", broken)
        with pytest.raises(OperationFailedError) as info:
            run(wal, [Write("x.csv", b"x"), Move("moved.csv", "y.csv")], root=root, **META)
    failed = info.value.result
    assert failed is not None and failed.status == "reversed"
    return {"first": first, "second": second, "undo": back, "failed": failed}


def _events(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def test_start_and_terminal_events_pair_up(wal: Wal, root: Path, ops: dict[str, Any]) -> None:
    events = _events(lineage.export(wal.path, "openlineage"))
    by_run: dict[str, list[str]] = {}
    for e in events:
        by_run.setdefault(e["run"]["runId"], []).append(e["eventType"])
    assert by_run == {
        ops["first"].wal_id: ["START", "COMPLETE"],
        ops["second"].wal_id: ["START", "COMPLETE"],
        ops["undo"].wal_id: ["START", "COMPLETE"],
        ops["failed"].wal_id: ["START", "FAIL"],
    }
    assert [e["job"]["name"] for e in events if e["eventType"] == "START"] == [
        "etl_step",
        "etl_step",
        "rollback",
        "etl_step",
    ]
    fail = events[-1]
    assert "injected" in fail["run"]["facets"]["errorMessage"]["message"]


def test_datasets_of_a_file_operation(wal: Wal, root: Path, ops: dict[str, Any]) -> None:
    start = _events(lineage.export(wal.path, "openlineage"))[0]
    ns = root.resolve().as_uri()
    assert [(d["namespace"], d["name"]) for d in start["inputs"]] == [(ns, "old.csv")]
    outputs = {d["name"]: d for d in start["outputs"]}
    assert list(outputs) == ["counties/ks.csv", "moved.csv"]
    assert all(d["namespace"] == ns for d in outputs.values())
    ks = outputs["counties/ks.csv"]["facets"]
    assert ks["version"]["datasetVersion"] == content_digest(b"id\n20001\n")
    assert ks["lifecycleStateChange"]["lifecycleStateChange"] == "CREATE"
    moved = outputs["moved.csv"]["facets"]["lifecycleStateChange"]
    assert moved["lifecycleStateChange"] == "RENAME" and moved["previousIdentifier"]["name"] == "old.csv"
    delete = _events(lineage.export(wal.path, "openlineage"))[2]
    assert delete["outputs"][0]["facets"]["lifecycleStateChange"]["lifecycleStateChange"] == "DROP"


def test_facet_links_back_to_the_record(wal: Wal, ops: dict[str, Any]) -> None:
    by_seq = {r.seq: r for r in records(wal.path)}
    log_id = next(r.body["log_id"] for r in by_seq.values() if r.kind == "header")
    events = _events(lineage.export(wal.path, "openlineage"))
    for e in events:
        facet = e["run"]["facets"][lineage.FACET_NAME]
        rec = by_seq[facet["seq"]]
        assert facet["hash"] == rec.hash and facet["kind"] == rec.kind
        assert facet["wal_id"] == rec.wal_id == e["run"]["runId"]
        assert facet["log_id"] == log_id
        assert e["eventTime"] == rec.timestamp
        assert facet["_schemaURL"] == lineage.FACET_SCHEMA_URL and facet["_producer"] == lineage.PRODUCER
        if e["eventType"] != "START":
            assert by_seq[facet["intent_seq"]].hash == facet["intent_hash"]
            assert facet["status"] == rec.body["status"]
    assert events[1]["run"]["facets"][lineage.FACET_NAME]["seq"] == ops["first"].completion.seq


def test_other_intents_take_datasets_from_payload_fields(wal: Wal) -> None:
    from waltools import make_entry

    named = wal.append(make_entry(1, payload={"inputs": ["raw/a"], "outputs": [{"namespace": "s3://b", "name": "o"}]}))
    wal.append(make_entry(2, payload={"note": "no datasets"}))
    wal.complete(named.wal_id, "refused")
    events = _events(lineage.export(wal.path, "openlineage"))
    assert [(d["namespace"], d["name"]) for d in events[0]["inputs"]] == [("kfm-wal", "raw/a")]
    assert [(d["namespace"], d["name"]) for d in events[0]["outputs"]] == [("s3://b", "o")]
    assert events[1]["inputs"] == [] and events[1]["outputs"] == []
    assert [e["eventType"] for e in events] == ["START", "START", "ABORT"]


def test_prov_json_has_entities_activities_agents(wal: Wal, root: Path, ops: dict[str, Any]) -> None:
    text = lineage.export(wal.path, "prov-json")
    doc = json.loads(text)
    assert doc["prefix"]["wal"] == "urn:kfm-wal:"
    activities = doc["activity"]
    assert set(activities) == {f"wal:op-{r.wal_id}" for r in ops.values()}
    first = activities[f"wal:op-{ops['first'].wal_id}"]
    assert first["wal:status"] == "succeeded" and first["prov:startTime"] and first["prov:endTime"]
    assert first["wal:hash"] == ops["first"].intent.hash and first["wal:seq"]["$"] == str(ops["first"].intent.seq)
    assert first["wal:completion_hash"] == ops["first"].completion.hash
    assert set(doc["agent"]) == {"wal:agent-ci-etl-runner", "wal:agent-developer-alice"}
    entities = doc["entity"]
    ks = [v for v in entities.values() if v["wal:path"] == "counties/ks.csv"]
    assert len(ks) == 2  # made by the first operation, made again by the undo
    generated = {v["prov:entity"]: v["prov:activity"] for v in doc["wasGeneratedBy"].values()}
    assert generated["data:counties%2Fks.csv.seq" + str(ops["first"].completion.seq)] == f"wal:op-{ops['first'].wal_id}"
    assert any(v["prov:activity"] == f"wal:op-{ops['first'].wal_id}" for v in doc["used"].values())
    assert any(v["prov:activity"] == f"wal:op-{ops['undo'].wal_id}" for v in doc["wasAssociatedWith"].values())
    # the failed operation generated nothing
    assert f"wal:op-{ops['failed'].wal_id}" not in generated.values()
    parsed = ProvDocument.deserialize(content=text, format="json")
    assert len(parsed.get_records()) > 0


def test_prov_n_text(wal: Wal, ops: dict[str, Any]) -> None:
    text = lineage.export(wal.path, "prov-n")
    assert text.startswith("document") and text.rstrip().endswith("endDocument")
    assert f"activity(wal:op-{ops['first'].wal_id}" in text
    assert "wasGeneratedBy(" in text and "wasAssociatedWith(" in text and "prefix wal <urn:kfm-wal:>" in text


def test_seq_range_export(wal: Wal, ops: dict[str, Any]) -> None:
    second = ops["second"]
    lo, hi = second.intent.seq, second.completion.seq
    events = _events(lineage.export(wal.path, "openlineage", start_seq=lo, end_seq=hi))
    assert [(e["eventType"], e["run"]["runId"]) for e in events] == [
        ("START", second.wal_id),
        ("COMPLETE", second.wal_id),
    ]
    # a completion in the range is paired with its intent before it
    only_end = _events(lineage.export(wal.path, "openlineage", start_seq=hi, end_seq=hi))
    assert [e["eventType"] for e in only_end] == ["COMPLETE"]
    assert only_end[0]["job"]["name"] == "etl_step" and only_end[0]["outputs"][0]["name"] == "counties/ks.csv"
    # an intent whose completion is past the range is pending there
    doc = json.loads(lineage.export(wal.path, "prov-json", start_seq=lo, end_seq=lo))
    assert list(doc["activity"]) == [f"wal:op-{second.wal_id}"]
    assert "prov:endTime" not in doc["activity"][f"wal:op-{second.wal_id}"]
    assert lineage.export(wal.path, "openlineage", start_seq=10**9) == ""
    with pytest.raises(UsageError):
        lineage.export(wal.path, "openlineage", start_seq=5, end_seq=4)
    with pytest.raises(UsageError, match="unknown lineage format"):
        lineage.export(wal.path, "dot")


def test_emit_is_idempotent(wal: Wal, ops: dict[str, Any], tmp_path: Path) -> None:
    path = lineage.emit(wal.path)
    assert path == Path(wal.path).absolute().parent / "lineage" / "events.jsonl"
    first = path.read_bytes()
    assert len(first.splitlines()) == 8
    assert lineage.emit(wal.path).read_bytes() == first
    assert first.decode() == lineage.export(wal.path, "openlineage")
    other = lineage.emit(wal.path, tmp_path / "elsewhere")
    assert other == tmp_path / "elsewhere" / "events.jsonl" and other.read_bytes() == first
    # no temp files left: the events and their manifest only
    assert sorted(p.name for p in path.parent.iterdir()) == ["events.jsonl", lineage.MANIFEST]
