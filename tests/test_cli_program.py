"""The `kfm-wal` program as a whole: help, the demo, an unexpected failure still one line, and the
installed console script in a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import kfm_wal
import pytest
from clitools import assert_one_error_line, init_log, run

KFM_WAL = Path(sys.executable).parent / "kfm-wal"


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return init_log(tmp_path)


def test_demo_command(tmp_path: Path) -> None:
    result = run("demo", "--data", tmp_path / "data")
    assert result.exit_code == 0, result.stderr
    assert "valid" in result.stdout and "0 pending" in result.stdout
    assert kfm_wal.verify(tmp_path / "data" / "wal").ok


def test_no_arguments_shows_help_and_unknown_command_is_one_line() -> None:
    result = run()
    assert result.exit_code == 0 and "Commands:" in result.stdout
    assert_one_error_line(run("frobnicate"), "No such command", "kfm-wal")
    assert run("--help").exit_code == 0


def test_an_unexpected_failure_is_still_one_line(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("something\nunforeseen")

    monkeypatch.setattr("kfm_wal.cli_validate.verify", boom)
    line = assert_one_error_line(run("validate", log), "RuntimeError: something unforeseen")
    assert "\n" not in line


def test_real_process_prints_no_traceback(tmp_path: Path) -> None:
    """The installed console script, as a user runs it."""
    assert KFM_WAL.exists(), KFM_WAL
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [str(KFM_WAL), "append", str(tmp_path / "nolog")],
        input=b'{"a": 1,\n "b": NaN}',
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 2 and proc.stdout == b""
    assert proc.stderr.decode() == "kfm-wal: error: invalid JSON: NaN is not a JSON value (stdin, line 2, column 7)\n"
    proc = subprocess.run([str(KFM_WAL), "validate", str(tmp_path / "nolog")], capture_output=True, env=env, timeout=60)
    assert proc.returncode == 2 and b"Traceback" not in proc.stderr
    assert proc.stderr.decode().count("\n") == 1 and proc.stderr.startswith(b"kfm-wal: error: ")


def test_real_process_closed_pipe_is_quiet(tmp_path: Path) -> None:
    """`kfm-wal log --json | head -c 10`: the reader leaving is not an error worth a line."""
    for _ in range(4):
        assert run("demo", "--data", tmp_path / "data").exit_code == 0
    log = tmp_path / "data" / "wal"
    # More than a pipe holds (64 KiB on Linux), so the writer is still writing when the reader leaves.
    assert sum(p.stat().st_size for p in log.glob("*.jsonl")) > 2 * 65536
    # `with`: both pipes are closed on exit, not left to the garbage collector.
    with subprocess.Popen(
        [str(KFM_WAL), "log", str(log), "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.read(10) == b'{"seq":1,"'
        proc.stdout.close()
        assert proc.wait(timeout=60) == 141
        assert proc.stderr.read() == b""
