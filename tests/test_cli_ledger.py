"""`kfm-wal ledger`: the governance ledger read from the shell, as a table or JSON lines, without
opening it for writing; a directory that holds no ledger is one error line."""

from __future__ import annotations

import json
from pathlib import Path

from clitools import assert_one_error_line, run
from kfm_wal import keys, verify
from kfm_wal.governance import Ledger, build_request, default_policy
from kfm_wal.governance.decision import Decision
from kfm_wal.ops import Write

ACTOR = {"type": "developer", "id": "ana"}


def make_ledger(path: Path) -> list[dict[str, object]]:
    policy = default_policy()
    request = build_request([Write("out/a.csv", b"id\n1\n")], actor=ACTOR, tier=2, governance={"care": "public"})
    approvals = [{"key_id": "ed25519:0123456789abcdef", "role": "maintainer", "valid": True, "counted": True}]
    allowed = Decision(True, [], 2, "public", "sha256:" + "1" * 64, policy.version_hash, approvals)
    refused = Decision(False, ["tier 2 needs 2 approvals, has 0"], 2, "restricted", "sha256:" + "2" * 64, "p")
    with Ledger.open(path, keys.generate(), durability="none") as ledger:
        ledger.record(allowed, request, policy, wal_id="4b7d5b8e-58d4-4f4e-9f5c-0f7c1a3b2c1d", status="succeeded")
        ledger.record(refused, request, policy)
        return list(ledger.entries())


def test_ledger_as_json_lines_holds_every_decision_in_order(tmp_path: Path) -> None:
    path = tmp_path / "ledger"
    facts = make_ledger(path)
    head = path.stat().st_mtime_ns, sorted(p.name for p in path.iterdir())
    done = run("ledger", str(path), "--json")
    assert done.exit_code == 0, done.output
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [{k: v for k, v in line.items() if k not in ("seq", "timestamp")} for line in lines] == facts
    assert [line["decision"] for line in lines] == ["allowed", "refused"]
    assert lines[0]["seq"] < lines[1]["seq"]
    assert (path.stat().st_mtime_ns, sorted(p.name for p in path.iterdir())) == head  # read, never written
    assert verify(path).ok


def test_ledger_table_shows_decisions_and_reasons(tmp_path: Path) -> None:
    path = tmp_path / "ledger"
    make_ledger(path)
    done = run("ledger", str(path))
    assert done.exit_code == 0, done.output
    assert "allowed" in done.stdout and "refused" in done.stdout
    assert "tier 2 needs 2 approvals" in done.stdout and "2 decision(s)" in done.stdout


def test_ledger_of_a_directory_without_a_log_is_one_error_line(tmp_path: Path) -> None:
    done = run("ledger", str(tmp_path))
    assert done.exit_code == 2
    assert_one_error_line(done, "not a kfm-wal log")
