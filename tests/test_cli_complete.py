"""`kfm-wal complete`: recording an intent's outcome, and its refusals."""

from __future__ import annotations

from pathlib import Path

import kfm_wal
import pytest
from clitools import append_ok, assert_one_error_line, init_log, run
from conftest import make_entry as entry
from conftest import sha


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return init_log(tmp_path)


def test_complete_records_outcomes(log: Path) -> None:
    a, b = append_ok(log, entry(0), entry(1))
    result = run("complete", log, a["wal_id"])
    assert result.exit_code == 0, result.stderr
    assert f"kind=completion wal_id={a['wal_id']}" in result.stdout
    result = run(
        "complete",
        log,
        b["wal_id"],
        "--status",
        "failed",
        "--error",
        "disk full",
        "--post-state-hash",
        sha("x"),
    )
    assert result.exit_code == 0, result.stderr
    done = {rec.wal_id: rec.body for rec in kfm_wal.records(log, kind="completion")}
    assert done[a["wal_id"]]["status"] == "succeeded"
    assert done[b["wal_id"]]["status"] == "failed" and done[b["wal_id"]]["error"] == "disk full"
    assert done[b["wal_id"]]["post_state_hash"] == sha("x")
    assert kfm_wal.verify(log).pending == 0


def test_complete_refusals(log: Path, tmp_path: Path) -> None:
    (a,) = append_ok(log, entry(0))
    assert run("complete", log, a["wal_id"]).exit_code == 0
    assert_one_error_line(run("complete", log, a["wal_id"]), "already completed", f"log {log}")
    unknown = "0b6f2b38-2b0a-4c8e-9d2c-1a6f3e0c5d7a"
    assert_one_error_line(run("complete", log, unknown), unknown)
    assert_one_error_line(run("complete", log, "nope"), "UUID", "field wal_id")
    assert_one_error_line(run("complete", log, a["wal_id"], "--status", "done"), "--status")
    assert_one_error_line(run("complete", log, a["wal_id"], "--post-state-hash", "md5:1"), "field post_state_hash")
    assert_one_error_line(run("complete", tmp_path / "nolog", a["wal_id"]), "not a kfm-wal log")
