"""Helpers for the `kfm-wal` command line tests: run a command in-process, check that a failure is
exactly one line on stderr (`kfm-wal: error: <what> (<where>)`), and make or append to a log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kfm_wal
from click.testing import CliRunner, Result
from kfm_wal.cli import cli


def jsonl(*entries: dict[str, Any]) -> str:
    return "".join(json.dumps(e) + "\n" for e in entries)


def run(*args: str | Path, input: str | bytes | None = None) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], input=input)


def assert_one_error_line(result: Result, *fragments: str, code: int = 2) -> str:
    """Exit `code`, nothing on stdout, exactly one `kfm-wal: error:` line on stderr holding every
    fragment, and no traceback."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("kfm-wal: error: "), lines[0]
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def init_log(tmp_path: Path) -> Path:
    """A log at tmp/wal with its key in tmp/keys/writer.pem (the default key path)."""
    result = run("init", tmp_path / "wal")
    assert result.exit_code == 0, result.stderr
    return tmp_path / "wal"


def record_count(log: Path) -> int:
    return sum(1 for _ in kfm_wal.records(log))


def append_ok(log: Path, *entries: dict[str, Any]) -> list[dict[str, Any]]:
    result = run("append", log, "--json", input=jsonl(*entries))
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]
