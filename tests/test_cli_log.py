"""`kfm-wal log`: the records as a table or as their exact bytes, and its filters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from clitools import append_ok, assert_one_error_line, init_log, run
from conftest import make_entry as entry
from kfm_wal.cli import cli


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return init_log(tmp_path)


def test_log_table_and_exact_json(log: Path) -> None:
    a, b = append_ok(log, entry(0), entry(1, operation="stac_build", tier=2))
    assert run("complete", log, a["wal_id"]).exit_code == 0
    table = run("log", log)
    assert table.exit_code == 0, table.stderr
    for text in (a["wal_id"], b["wal_id"], "etl_step", "stac_build", "succeeded", "ci:etl-runner", "header"):
        assert text in table.stdout
    exact = CliRunner().invoke(cli, ["log", str(log), "--json"])
    assert exact.exit_code == 0
    (seg,) = log.glob("wal-*.jsonl")
    assert exact.stdout_bytes == seg.read_bytes()  # every record is sealed here: the whole file


def test_log_filters(log: Path) -> None:
    a, b = append_ok(log, entry(0), entry(1, operation="stac_build"))
    assert run("complete", log, b["wal_id"], "--status", "refused").exit_code == 0

    def seqs(*args: str) -> list[int]:
        result = run("log", log, "--json", *args)
        assert result.exit_code == 0, result.stderr
        return [json.loads(line)["seq"] for line in result.stdout.splitlines()]

    assert seqs("--kind", "intent") == [a["seq"], b["seq"]]
    assert seqs("--operation", "stac_build") == [b["seq"]]
    assert seqs("--wal-id", b["wal_id"]) == [b["seq"], b["seal_seq"] + 1]
    assert seqs("--from-seq", "2", "--to-seq", "4") == [2, 3, 4]
    assert seqs("--kind", "seal", "--limit", "2") == [2, a["seal_seq"]]
    assert "2 record(s)" in run("log", log, "--kind", "intent").stdout
    assert_one_error_line(run("log", log, "--from-seq", "5", "--to-seq", "2"), "--from-seq")
    assert_one_error_line(run("log", log, "--kind", "nonsense"), "--kind")
    assert_one_error_line(run("log", log, "--limit", "0"), "--limit")
    assert_one_error_line(run("log", log.parent / "nolog"), "not a kfm-wal log")
