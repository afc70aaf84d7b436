"""`kfm-wal snapshot create|list|show` and `kfm-wal rollback` from the shell: the outputs (text and
--json), and bad input as one error line, exit 2, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

from clitools import assert_one_error_line, init_log, record_count, run
from kfm_wal import Wal, keys, ops, provision, records
from kfm_wal.governance import default_policy
from kfm_wal.governance.gate import Governor
from rollbacktools import Approvers


def _spec(tmp_path: Path, name: str, path: str, text: str) -> Path:
    spec = tmp_path / name
    spec.write_text(
        json.dumps(
            {
                "actions": [{"type": "file.write", "path": path, "text": text}],
                "actor": {"type": "ci", "id": "etl"},
                "root": "processed",
                "tier": 0,
                "governance": {"care": "public"},
                "telemetry": {"id": name},
            }
        )
    )
    return spec


def test_snapshot_create_list_show(tmp_path: Path) -> None:
    log = init_log(tmp_path)
    assert run("run", log, _spec(tmp_path, "a.json", "a.txt", "hello")).exit_code == 0
    made = run("snapshot", "create", log, "s1")
    assert made.exit_code == 0, made.stderr
    assert made.stdout.startswith("snapshot s1 taken at seq ") and "processed" in made.stdout
    listed = run("snapshot", "list", log, "--json")
    (doc,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert doc["name"] == "s1" and {r["role"] for r in doc["roots"]} == {"data", "stac", "graph"}
    shown = run("snapshot", "show", log, "s1", "--json")
    assert json.loads(shown.stdout) == doc
    text = run("snapshot", "show", log, "s1").stdout
    assert f"at seq {doc['at']['seq']}" in text and doc["state_hash"] in text


def test_snapshot_bad_input(tmp_path: Path) -> None:
    log = init_log(tmp_path)
    run("snapshot", "create", log, "s1")
    n = record_count(log)
    assert_one_error_line(run("snapshot", "create", log, "s1"), "snapshot 's1' exists already")
    assert_one_error_line(run("snapshot", "create", log, "42"), "snapshot name '42' refused")
    assert_one_error_line(run("snapshot", "show", log, "nope"), "no snapshot named 'nope'")
    assert_one_error_line(run("snapshot", "list", tmp_path / "nowhere"), "is not a kfm-wal log")
    run("run", log, _spec(tmp_path, "a.json", "a.txt", "hello"))
    n = record_count(log)
    (tmp_path / "processed" / "a.txt").write_text("edited around the log")
    assert_one_error_line(run("snapshot", "create", log, "s2"), "written around the log", "a.txt")
    assert record_count(log) == n


def _ring(tmp_path: Path, people: Approvers) -> tuple[Path, Path, Path]:
    """The log's keyring with the approvers added; their keys saved as PEM files."""
    ring_path = tmp_path / "keys" / "keyring.json"
    ring = keys.load_keyring(ring_path)
    for k in people.ring.keys:
        ring = keys.Keyring((*ring.keys, k))
    keys.save_keyring(ring, ring_path)
    maint, steward = tmp_path / "maint.pem", tmp_path / "steward.pem"
    keys.save(people.maintainer, maint)
    keys.save(people.steward, steward)
    return ring_path, maint, steward


def test_rollback_plan_request_approve_apply(tmp_path: Path) -> None:
    log = init_log(tmp_path)
    run("snapshot", "create", log, "before")
    run("run", log, _spec(tmp_path, "a.json", "a.txt", "bad output"))
    run("snapshot", "create", log, "after")
    n = record_count(log)
    plan = run("rollback", log, "--to", "before", "--actor", "developer:ana", "--request-out", tmp_path / "req.json")
    assert plan.exit_code == 0, plan.stderr
    assert "1 operation(s) to reverse" in plan.stdout and "delete processed/a.txt" in plan.stdout
    assert "governance.snapshot: after" in plan.stdout and "dry run: nothing changed" in plan.stdout
    as_json = json.loads(run("rollback", log, "--to", "before", "--json").stdout)
    assert as_json["reverse"] == 1 and as_json["governance"]["snapshot"] == "after"
    assert record_count(log) == n and (tmp_path / "processed" / "a.txt").exists()

    people = Approvers()
    _, maint, steward = _ring(tmp_path, people)
    for who, pem, role in (("m", maint, "maintainer"), ("s", steward, "data-steward")):
        signed = run("approve", tmp_path / "req.json", "--key", pem, "--role", role, "--out", tmp_path / f"{who}.json")
        assert signed.exit_code == 0, signed.stderr
    approvals = ["--approval", tmp_path / "m.json", "--approval", tmp_path / "s.json"]
    # approvals for another actor do not verify: refused, nothing changed
    refused = run("rollback", log, "--to", "before", "--apply", "--actor", "developer:bob", *approvals)
    assert_one_error_line(refused, "refused by governance policy", "does not verify")
    assert record_count(log) == n
    done = run("rollback", log, "--to", "before", "--apply", "--actor", "developer:ana", *approvals)
    assert done.exit_code == 0, done.stderr
    assert done.stdout.startswith("rolled back to snapshot before") and not (tmp_path / "processed" / "a.txt").exists()
    statuses = [r.body.get("status") for r in records(log, kind="completion")]
    assert statuses[-1] == "succeeded"
    assert run("validate", log, "--operations").exit_code == 0


def test_rollback_bad_input(tmp_path: Path) -> None:
    log = init_log(tmp_path)
    run("snapshot", "create", log, "before")
    run("run", log, _spec(tmp_path, "a.json", "a.txt", "x"))
    n = record_count(log)
    assert_one_error_line(run("rollback", log, "--to", "nope"), "no snapshot of that name")
    assert_one_error_line(run("rollback", log, "--to", "before", "--apply"), "need --actor")
    assert_one_error_line(
        run("rollback", log, "--to", "before", "--apply", "--actor", "developer:ana"), "needs 2 approval"
    )
    (tmp_path / "processed" / "a.txt").write_text("by hand")
    assert_one_error_line(run("rollback", log, "--to", "before"), "changed around the log", "a.txt")
    assert record_count(log) == n


def test_run_refuses_a_tier_3_spec_naming_no_snapshot_record(tmp_path: Path) -> None:
    log = init_log(tmp_path)
    spec = _spec(tmp_path, "t3.json", "a.txt", "tier three")
    doc = json.loads(spec.read_text())
    spec.write_text(json.dumps({**doc, "tier": 3, "governance": {"care": "public", "snapshot": "never-taken"}}))
    n = record_count(log)
    refused = run("run", log, spec)
    assert_one_error_line(refused, "'never-taken', which is no snapshot recorded in the log")
    assert record_count(log) == n and not (tmp_path / "processed" / "a.txt").exists()


def test_an_incremental_run_still_sees_a_snapshot_taken_before_its_receipt(tmp_path: Path) -> None:
    log = init_log(tmp_path)
    assert run("snapshot", "create", log, "base").exit_code == 0
    receipt = tmp_path / "ci.receipt"
    assert run("validate", log, "--operations", "--receipt", receipt).exit_code == 0
    people, key = Approvers(), keys.load(provision.default_key_path(log))
    governor = Governor(default_policy(), people.ring, tmp_path / "ledger", key, approver=people.sign)
    with Wal.open(log, key) as wal:
        ops.run(
            wal,
            [ops.Write("a.txt", b"tier three")],
            actor={"type": "ci", "id": "etl"},
            tier=3,
            governance={"care": "public", "snapshot": "base"},
            telemetry={"id": "t3"},
            root=tmp_path / "processed",
            governor=governor,
        )
    found = run("validate", log, "--operations", "--receipt", receipt, "--json")
    report = json.loads(found.stdout)
    assert report["incremental_from"] is not None
    assert found.exit_code == 0, report["findings"]
