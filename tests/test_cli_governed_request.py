"""`kfm-wal request SPEC.json` for every action kind `kfm-wal run` accepts: STAC, graph and mixed
operations of tier 1 go from the shell through request -> approve -> run --approvals, the ledger
records them under the digest of the request that was signed, and that digest is the one `run`
computes (the same planning). Approvals signed for one spec are refused for another; a request
records and stores nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from clitools import assert_one_error_line, record_count, run
from kfm_wal import records, verify
from kfm_wal.ops import GraphStore
from shellgovtools import Shell, digest_of, shell_log

COLLECTION = {
    "type": "Collection",
    "stac_version": "1.1.0",
    "id": "counties",
    "description": "Kansas counties",
    "license": "CC0-1.0",
    "extent": {"spatial": {"bbox": [[-102.1, 36.9, -94.6, 40.0]]}, "temporal": {"interval": [[None, None]]}},
    "links": [],
}
ITEM = {
    "type": "Feature",
    "stac_version": "1.1.0",
    "id": "douglas",
    "geometry": None,
    "properties": {"datetime": "2026-01-01T00:00:00Z"},
    "links": [],
    "assets": {},
    "collection": "counties",
}
SEAT = "<https://example.org/douglas> <https://example.org/seat> <https://example.org/lawrence> ."
POP = '<https://example.org/douglas> <https://example.org/population> "118785" .'

KINDS: dict[str, list[dict[str, Any]]] = {
    "stac": [
        {"type": "stac.collection.create", "collection": COLLECTION},
        {"type": "stac.item.create", "source": "douglas.json"},
    ],
    "graph": [{"type": "graph.insert", "source": "seat.nt"}, {"type": "graph.insert", "ntriples": POP}],
    "mixed": [
        {"type": "file.write", "path": "counties.csv", "text": "id\ndouglas\n"},
        {"type": "stac.collection.create", "collection": COLLECTION},
        {"type": "graph.insert", "ntriples": SEAT},
    ],
}


def write_spec(shell: Shell, name: str, actions: list[dict[str, Any]], **over: Any) -> Path:
    (shell.base / "douglas.json").write_text(json.dumps(ITEM))
    (shell.base / "seat.nt").write_text(SEAT + "\n")
    doc = {
        "actor": {"type": "developer", "id": "ana"},
        "tier": 1,
        "governance": {"care": "public"},
        "telemetry": {"id": f"shell-{name}"},
        "root": "processed",
        "stac_root": "stac",
        "graph": "graph",
        "actions": actions,
        **over,
    }
    path = shell.base / f"{name}.spec.json"
    path.write_text(json.dumps(doc))
    return path


def request_for(spec: Path) -> Path:
    out = spec.with_name(spec.name.replace(".spec.json", ".request.json"))
    asked = run("request", spec, "--out", out)
    assert asked.exit_code == 0, asked.output
    return out


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_tier_1_operation_of_each_kind_runs_from_request_to_ledger(tmp_path: Path, kind: str) -> None:
    shell = shell_log(tmp_path)
    spec = write_spec(shell, kind, KINDS[kind])
    count = record_count(shell.log)
    request_file = request_for(spec)
    assert record_count(shell.log) == count and not (shell.log / "blobs").exists()  # nothing recorded or stored
    request = json.loads(request_file.read_text())
    assert (request["operation"], request["tier"]) == ("etl_step", 1) and request["actions"]

    refused = run("run", shell.log, spec)
    assert_one_error_line(refused, "refused by governance policy")
    assert record_count(shell.log) == count

    approval = shell.approve(request_file, "cy", "data-steward")
    done = run("run", shell.log, spec, "--approvals", approval, "--json")
    assert done.exit_code == 0, done.output
    outcome = json.loads(done.stdout)
    assert outcome["status"] == "succeeded"
    (intent,) = (r for r in records(shell.log, kind="intent") if r.wal_id == outcome["wal_id"])
    assert intent.body["payload"]["actions"] == request["actions"]  # what was reviewed is what ran
    if kind != "graph":
        assert list((tmp_path / "stac").rglob("collection.json"))
    if kind != "stac":
        assert any("lawrence" in t for t in GraphStore.open(tmp_path / "graph").triples())
    assert verify(shell.log).ok

    decisions = shell.decisions()
    assert [(d["decision"], d["status"]) for d in decisions] == [("refused", None), ("allowed", "succeeded")]
    assert decisions[1]["wal_id"] == outcome["wal_id"]
    # The ledger names the request the governor judged: the very one `request` printed.
    assert decisions[1]["request_digest"] == digest_of(request_file)
    assert [a["counted"] for a in decisions[1]["approvals"]] == [True]

    # ... and undone the same way: the undo's request, signed, then the undo.
    undo_request = tmp_path / "undo-request.json"
    undo = ("undo", shell.log, outcome["wal_id"], "--actor", "developer:ana")
    assert run(*undo, "--request", "--out", undo_request).exit_code == 0
    undone = run(*undo, "--approvals", shell.approve(undo_request, "bo", "maintainer"), "--json")
    assert undone.exit_code == 0, undone.output
    assert json.loads(undone.stdout)["status"] == "succeeded"
    assert not list((tmp_path / "stac").rglob("collection.json"))
    assert not GraphStore.open(tmp_path / "graph").triples()
    assert not (tmp_path / "processed" / "counties.csv").exists()
    last = shell.decisions()[-1]
    assert (last["operation"], last["request_digest"]) == ("rollback", digest_of(undo_request))
    assert verify(shell.log).ok


def test_approvals_signed_for_one_spec_are_refused_for_another(tmp_path: Path) -> None:
    shell = shell_log(tmp_path)
    signed_spec = write_spec(shell, "graph", KINDS["graph"])
    approval = shell.approve(request_for(signed_spec), "bo", "maintainer")
    count = record_count(shell.log)
    others = {
        "other-triple": [{"type": "graph.delete", "ntriples": SEAT}],
        "other-kind": KINDS["mixed"],
    }
    for name, actions in others.items():
        other = write_spec(shell, name, actions)
        assert_one_error_line(run("run", shell.log, other, "--approvals", approval), "does not verify")
    raised = write_spec(shell, "tier-2", KINDS["graph"], tier=2)  # same actions, other signed member
    assert_one_error_line(run("run", shell.log, raised, "--approvals", approval), "does not verify")
    assert record_count(shell.log) == count and verify(shell.log).ok
    assert not GraphStore.open(tmp_path / "graph").triples()
    assert [d["decision"] for d in shell.decisions()] == ["refused"] * 3


def test_a_request_for_data_that_changed_since_is_refused(tmp_path: Path) -> None:
    """The request holds the actions planned against the data of then (an item's creation
    rewrites its collection): approvals signed before the collection changed do not verify."""
    shell = shell_log(tmp_path)
    assert run("run", shell.log, write_spec(shell, "collection", [KINDS["stac"][0]], tier=0)).exit_code == 0
    item = write_spec(shell, "item", [KINDS["stac"][1]])
    early = shell.approve(request_for(item), "bo", "maintainer")
    changed = {**COLLECTION, "description": "Kansas counties, 2026"}
    update = write_spec(shell, "update", [{"type": "stac.collection.update", "collection": changed}], tier=0)
    assert run("run", shell.log, update).exit_code == 0
    count = record_count(shell.log)
    assert_one_error_line(run("run", shell.log, item, "--approvals", early), "does not verify")
    assert record_count(shell.log) == count
    fresh = shell.approve(request_for(item), "bo", "maintainer")
    assert run("run", shell.log, item, "--approvals", fresh).exit_code == 0


def test_bad_request_input_is_one_error_line(tmp_path: Path) -> None:
    shell = shell_log(tmp_path)
    bad = write_spec(shell, "bad", [{"type": "graph.insert", "ntriples": "not a triple"}])
    assert_one_error_line(run("request", bad))
    escape = write_spec(shell, "escape", [{"type": "file.write", "path": "../x.csv", "text": "x"}])
    assert_one_error_line(run("request", escape), "escape.spec.json")
    unknown = write_spec(shell, "unknown", [{"type": "stac.item.shred", "id": "x"}])
    assert_one_error_line(run("request", unknown), "actions[0].type")
    assert_one_error_line(run("request", tmp_path / "none.json"), "none.json")
