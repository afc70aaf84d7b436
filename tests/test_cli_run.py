"""`kfm-wal run SPEC.json` and `kfm-wal request SPEC.json`: operations of every kind from the shell,
recorded and undoable; governed by a policy with approvals signed over `request`'s output; bad
specs are one error line and write nothing."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from clitools import assert_one_error_line, init_log, record_count, run
from kfm_wal import keys, verify
from kfm_wal.governance import default_policy_bytes
from kfm_wal.ops import GraphStore

RECORD = {
    "actor": {"type": "developer", "id": "ana"},
    "tier": 0,  # tier >= 1 is decided by the policy: test_a_governed_run_needs_the_approvals...
    "governance": {"care": "public"},
    "telemetry": {"id": "shell-1"},
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
COLLECTION = {
    "type": "Collection",
    "stac_version": "1.1.0",
    "id": "counties",
    "description": "Kansas counties",
    "license": "CC0-1.0",
    "extent": {"spatial": {"bbox": [[-102.1, 36.9, -94.6, 40.0]]}, "temporal": {"interval": [[None, None]]}},
    "links": [],
}
TRIPLE = "<https://example.org/douglas> <https://example.org/seat> <https://example.org/lawrence> ."


def spec(tmp_path: Path, actions: list[dict[str, Any]], **over: Any) -> Path:
    doc = {**RECORD, "root": "processed", "stac_root": "stac", "graph": "graph", "actions": actions, **over}
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(doc))
    return path


def test_run_files_stac_and_graph_from_a_spec(tmp_path: Path) -> None:
    log = init_log(tmp_path)
    (tmp_path / "local.csv").write_bytes(b"id\n1\n")
    actions = [
        {"type": "file.write", "path": "a.csv", "source": "local.csv"},
        {"type": "file.write", "path": "b.txt", "text": "hello"},
        {"type": "file.write", "path": "c.bin", "base64": base64.b64encode(b"\x00\x01").decode()},
        {"type": "stac.collection.create", "collection": COLLECTION},
        {"type": "stac.item.create", "item": ITEM},
        {"type": "graph.insert", "ntriples": TRIPLE + "\n# a comment\n"},
    ]
    done = run("run", log, spec(tmp_path, actions), "--json")
    assert done.exit_code == 0, done.output
    outcome = json.loads(done.stdout)
    assert outcome["status"] == "succeeded" and outcome["operation"] == "etl_step"
    root = tmp_path / "processed"
    assert (root / "a.csv").read_bytes() == b"id\n1\n" and (root / "b.txt").read_text() == "hello"
    assert (root / "c.bin").read_bytes() == b"\x00\x01"
    assert list((tmp_path / "stac").rglob("douglas.json"))
    assert TRIPLE.rstrip(" .") in " ".join(GraphStore.open(tmp_path / "graph").triples())
    assert verify(log).ok


def test_bad_specs_are_one_error_line_and_write_nothing(tmp_path: Path) -> None:
    log = init_log(tmp_path)
    count = record_count(log)
    cases = [
        ([{"type": "file.shred", "path": "a"}], "actions[0].type", "unknown action type"),
        ([{"type": "file.write", "path": "a"}], "actions[0]", "exactly one of source, text, base64"),
        ([{"type": "file.write", "path": "a", "source": "missing.csv"}], "actions[0].source", "cannot read"),
        ([{"type": "file.write", "path": "../escape.csv", "text": "x"}], "escape", ""),
    ]
    for actions, *fragments in cases:
        assert_one_error_line(run("run", log, spec(tmp_path, actions)), *[f for f in fragments if f])
    no_actor = {k: v for k, v in RECORD.items() if k != "actor"}
    path = tmp_path / "no-actor.json"
    path.write_text(json.dumps({**no_actor, "actions": [{"type": "file.delete", "path": "a"}]}))
    assert_one_error_line(run("run", log, path), "actor", "required")
    assert record_count(log) == count
    assert not (tmp_path / "escape.csv").exists()
    assert verify(log).ok


def approver(tmp_path: Path, log: Path) -> tuple[Path, Path]:
    """A maintainer's key, and a keyring with it beside the writer's."""
    key = keys.generate()
    key_file = tmp_path / "maintainer.pem"
    keys.save(key, key_file)
    ring = json.loads((tmp_path / "keys" / "keyring.json").read_text())
    ring["keys"].append({"key_id": key.key_id, "public_key": key.public_key, "roles": ["maintainer"], "name": "bo"})
    ring_file = tmp_path / "ring.json"
    ring_file.write_text(json.dumps(ring))
    return key_file, ring_file


def test_a_governed_run_needs_the_approvals_signed_over_its_request(tmp_path: Path) -> None:
    log = init_log(tmp_path)
    key_file, ring_file = approver(tmp_path, log)
    policy = tmp_path / "policy.toml"
    policy.write_bytes(default_policy_bytes())
    actions = [{"type": "file.write", "path": "a.csv", "text": "id\n"}]
    governed = ("--policy", policy, "--keyring", ring_file)

    refused = run("run", log, spec(tmp_path, actions, tier=2), *governed)
    assert_one_error_line(refused, "approval")
    assert not (tmp_path / "processed" / "a.csv").exists()

    asked = run("request", spec(tmp_path, actions, tier=2), "--out", tmp_path / "request.json")
    assert asked.exit_code == 0, asked.output
    signed = run("approve", tmp_path / "request.json", "--key", key_file, "--role", "maintainer")
    assert signed.exit_code == 0, signed.output
    approval = json.loads(signed.stdout)
    done = run("run", log, spec(tmp_path, actions, tier=2, approvals=[approval]), *governed, "--json")
    assert done.exit_code == 0, done.output
    assert (tmp_path / "processed" / "a.csv").read_text() == "id\n"
    ledger = run("ledger", tmp_path / "governance" / "ledger", "--json")
    decisions = [json.loads(line)["decision"] for line in ledger.stdout.splitlines()]
    assert decisions == ["refused", "allowed"]
