"""`kfm-wal undo` of a governed operation (tier >= 1), all from the shell: the run with its
approvals, `undo --request`, `approve`, `undo --approvals`; the ledger shows both decisions. An
undo without approvals, or signed by a key the keyring does not trust, or with the approvals of
another request, is one error line, exit 2, and leaves the log and the data as they were."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from clitools import assert_one_error_line, record_count, run
from kfm_wal import records, verify
from shellgovtools import Shell, digest_of, shell_log

SPEC = {
    "actor": {"type": "developer", "id": "ana"},
    "tier": 1,
    "governance": {"care": "public"},
    "telemetry": {"id": "shell-undo"},
    "root": "processed",
    "actions": [{"type": "file.write", "path": "out/a.csv", "text": "id\n1\n"}],
}


def governed_write(shell: Shell) -> str:
    """Run SPEC (tier 1) with bo's approval of its request; returns its wal_id."""
    spec = shell.base / "spec.json"
    spec.write_text(json.dumps(SPEC))
    asked = run("request", spec, "--out", shell.base / "run-request.json")
    assert asked.exit_code == 0, asked.output
    approval = shell.approve(shell.base / "run-request.json", "bo", "maintainer")
    done = run("run", shell.log, spec, "--approvals", approval, "--json")
    assert done.exit_code == 0, done.output
    outcome: dict[str, Any] = json.loads(done.stdout)
    assert outcome["status"] == "succeeded"
    return str(outcome["wal_id"])


def test_undo_of_a_governed_operation_from_request_to_ledger(tmp_path: Path) -> None:
    shell = shell_log(tmp_path)
    wal_id = governed_write(shell)
    target = tmp_path / "processed" / "out" / "a.csv"
    assert target.read_text() == "id\n1\n"
    count = record_count(shell.log)

    request_file = tmp_path / "undo-request.json"
    asked = run("undo", shell.log, wal_id, "--actor", "developer:ana", "--request", "--out", request_file)
    assert asked.exit_code == 0, asked.output
    request = json.loads(request_file.read_text())
    assert request["operation"] == "rollback" and request["tier"] == 1
    assert request["lineage_links"] == [f"wal:{wal_id}"]
    assert request["actor"] == {"type": "developer", "id": "ana"}
    assert request["actions"] == [{"type": "file.delete", "path": "out/a.csv"}]
    assert "approvals" not in request["governance"] and "policy" not in request["governance"]
    printed = run("undo", shell.log, wal_id, "--actor", "developer:ana", "--request")
    assert json.loads(printed.stdout) == request  # stdout without --out: the same request
    assert record_count(shell.log) == count and target.exists()  # a request records nothing

    approval = shell.approve(request_file, "bo", "maintainer")
    done = run("undo", shell.log, wal_id, "--actor", "developer:ana", "--approvals", approval, "--json")
    assert done.exit_code == 0, done.output
    outcome = json.loads(done.stdout)
    assert outcome["undoes"] == wal_id and outcome["status"] == "succeeded" and outcome["operation"] == "rollback"
    assert not target.exists()
    (intent,) = (r for r in records(shell.log, kind="intent") if r.wal_id == outcome["wal_id"])
    assert [a["key_id"] for a in intent.body["governance"]["approvals"]] == [json.loads(approval.read_text())["key_id"]]
    assert verify(shell.log).ok

    run_decision, undo_decision = shell.decisions()
    assert (run_decision["operation"], run_decision["decision"], run_decision["status"]) == (
        "etl_step",
        "allowed",
        "succeeded",
    )
    assert (undo_decision["operation"], undo_decision["decision"], undo_decision["status"]) == (
        "rollback",
        "allowed",
        "succeeded",
    )
    assert undo_decision["wal_id"] == outcome["wal_id"]
    assert undo_decision["request_digest"] == digest_of(request_file)
    assert run_decision["request_digest"] == digest_of(tmp_path / "run-request.json")
    table = run("ledger", shell.ledger)
    assert table.exit_code == 0 and "rollback" in table.stdout


def test_bad_approvals_of_an_undo_are_one_error_line_and_change_nothing(tmp_path: Path) -> None:
    shell = shell_log(tmp_path)
    wal_id = governed_write(shell)
    target = tmp_path / "processed" / "out" / "a.csv"
    request_file = tmp_path / "undo-request.json"
    asked = run("undo", shell.log, wal_id, "--actor", "developer:ana", "--request", "--out", request_file)
    assert asked.exit_code == 0, asked.output
    undo = ("undo", shell.log, wal_id, "--actor", "developer:ana")
    count = record_count(shell.log)

    assert_one_error_line(run(*undo), "refused by governance policy", "tier 1 needs 1 approval(s)")
    stranger = shell.approve(request_file, "mallory", "maintainer")
    assert_one_error_line(run(*undo, "--approvals", stranger), "is not in the keyring")
    other_request = shell.approve(tmp_path / "run-request.json", "bo", "maintainer")
    assert_one_error_line(run(*undo, "--approvals", other_request), "does not verify")
    wrong_role = shell.approve(request_file, "bo", "data-steward")
    assert_one_error_line(run(*undo, "--approvals", wrong_role), "claims role data-steward")
    not_json = tmp_path / "not.json"
    not_json.write_text("{")
    assert_one_error_line(run(*undo, "--approvals", not_json), "not JSON", "not.json")
    assert_one_error_line(run(*undo, "--approvals", tmp_path / "missing.json"), "missing.json")
    assert_one_error_line(run(*undo, "--out", tmp_path / "r.json"), "--out goes with --request")
    assert_one_error_line(run("undo", shell.log, "no-such-id", "--actor", "ci:x", "--request"), "no such intent")

    assert record_count(shell.log) == count and verify(shell.log).ok
    assert target.read_text() == "id\n1\n"
    refusals = [d for d in shell.decisions() if d["decision"] == "refused"]
    assert [d["operation"] for d in refusals] == ["rollback"] * 4  # each judged refusal is on the record
    assert not (tmp_path / "r.json").exists()


def test_an_undone_operation_can_be_neither_undone_nor_requested_again(tmp_path: Path) -> None:
    """Its approvals signed the undo once: the undo does not run twice, nor is its request made
    again; one error line each, nothing written."""
    shell = shell_log(tmp_path)
    wal_id = governed_write(shell)
    request_file = tmp_path / "undo-request.json"
    run("undo", shell.log, wal_id, "--actor", "developer:ana", "--request", "--out", request_file)
    approval = shell.approve(request_file, "bo", "maintainer")
    undo = ("undo", shell.log, wal_id, "--actor", "developer:ana")
    assert run(*undo, "--approvals", approval).exit_code == 0
    count = record_count(shell.log)
    assert_one_error_line(run(*undo, "--approvals", approval), "already undone")
    assert_one_error_line(run(*undo, "--request"), "already undone")
    assert record_count(shell.log) == count and verify(shell.log).ok
