"""`kfm-wal undo`: reverse a recorded operation from the shell, itself recorded; whatever cannot be
undone (unknown, already undone, a bad actor) is one error line and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

from clitools import assert_one_error_line, init_log, record_count, run
from kfm_wal import Wal, keys, records, verify
from kfm_wal.ops import Write
from kfm_wal.ops import run as run_operation


def logged_write(tmp_path: Path) -> tuple[Path, Path, str]:
    log = init_log(tmp_path)
    root = tmp_path / "processed"
    with Wal.open(log, keys.load(tmp_path / "keys" / "writer.pem")) as wal:
        done = run_operation(
            wal,
            [Write("out/a.csv", b"id\n1\n")],
            actor={"type": "ci", "id": "etl"},
            tier=0,
            governance={"care": "public"},
            telemetry={"id": "t-1"},
            root=root,
        )
    assert (root / "out" / "a.csv").exists()
    return log, root, done.wal_id


def test_undo_reverses_the_operation_and_records_it(tmp_path: Path) -> None:
    log, root, wal_id = logged_write(tmp_path)
    done = run("undo", log, wal_id, "--actor", "developer:ana", "--json")
    assert done.exit_code == 0, done.output
    outcome = json.loads(done.stdout)
    assert outcome["undoes"] == wal_id and outcome["status"] == "succeeded"
    assert not (root / "out" / "a.csv").exists()
    (intent,) = (r for r in records(log) if r.wal_id == outcome["wal_id"] and r.kind == "intent")
    assert intent.body["actor"] == {"type": "developer", "id": "ana"}
    assert intent.body["telemetry"]["id"] == f"undo/{wal_id}"
    assert verify(log).ok


def test_what_cannot_be_undone_is_one_error_line_and_writes_nothing(tmp_path: Path) -> None:
    log, root, wal_id = logged_write(tmp_path)
    assert run("undo", log, wal_id, "--actor", "developer:ana").exit_code == 0
    count = record_count(log)
    assert_one_error_line(run("undo", log, wal_id, "--actor", "developer:ana"))  # already undone
    assert_one_error_line(run("undo", log, "9b2f2a6e-0f5e-4a43-9c3e-5b8f0d1c2e3f", "--actor", "ci:x"), "no such intent")
    assert_one_error_line(run("undo", log, wal_id, "--actor", "robot"), "--actor")
    assert record_count(log) == count
    assert verify(log).ok
