"""`kfm-wal validate`: a valid log, an untrusted key, a corrupted log located to the byte, and usage
errors."""

from __future__ import annotations

import json
from pathlib import Path

import kfm_wal
import pytest
from clitools import append_ok, assert_one_error_line, init_log, jsonl, run
from conftest import make_entry as entry


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return init_log(tmp_path)


def test_validate_valid_log(log: Path) -> None:
    append_ok(log, entry(0), entry(1))
    result = run("validate", log)
    assert result.exit_code == 0, result.stderr
    for text in (
        "VALID",
        "self-declared (no --keyring given)",
        "2 intents",
        "2 pending",
        "records",
        "elapsed",
    ):
        assert text in result.stdout
    result = run("validate", log, "--keyring", log.parent / "keys" / "keyring.json")
    assert result.exit_code == 0 and "keyring " in result.stdout and "keyring.json" in result.stdout
    doc = json.loads(run("validate", log, "--json").stdout)
    assert doc["ok"] is True and doc["findings"] == [] and doc["intents"] == 2 and doc["trust"] == "self-declared"


def test_validate_untrusted_key_is_invalid(log: Path, tmp_path: Path) -> None:
    ring = tmp_path / "other-ring.json"
    ring.write_text(kfm_wal.keys.Keyring(()).with_key(kfm_wal.keys.generate()).to_json().decode())
    result = run("validate", log, "--keyring", ring)
    assert result.exit_code == 1
    assert "seal.untrusted_key" in result.stdout and "INVALID" in result.stdout


def corrupt(log: Path) -> tuple[str, int]:
    """Flip one byte inside the first intent; returns (segment name, offset of that line)."""
    (seg,) = log.glob("wal-*.jsonl")
    data = bytearray(seg.read_bytes())
    at = data.index(b'"operation":"etl_step"')
    data[at + len('"operation":"e')] = ord("X")
    seg.write_bytes(bytes(data))
    return seg.name, data.rindex(b"\n", 0, at) + 1


def test_validate_corrupted_log_exits_1_with_the_location(log: Path) -> None:
    append_ok(log, entry(0), entry(1))
    segment, offset = corrupt(log)
    result = run("validate", log)
    assert result.exit_code == 1
    assert "INVALID" in result.stdout and "record.hash" in result.stdout
    assert segment in result.stdout and str(offset) in result.stdout
    doc = json.loads(run("validate", log, "--json").stdout)
    assert doc["ok"] is False
    first = doc["findings"][0]
    assert (first["code"], first["segment"], first["offset"]) == ("record.hash", segment, offset)
    assert run("validate", log, "--json").exit_code == 1
    # Writing to it is refused, naming the same place.
    assert_one_error_line(
        run("append", log, input=jsonl(entry(9))), "record.hash", f"segment {segment}", f"offset {offset}"
    )
    assert_one_error_line(run("log", log), "record.hash", f"offset {offset}")


def test_validate_usage_errors(log: Path, tmp_path: Path) -> None:
    assert_one_error_line(run("validate", tmp_path / "empty"), "not a kfm-wal log")
    assert_one_error_line(run("validate", log, "--keyring", tmp_path / "nope.json"), "cannot read keyring", "nope.json")
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert_one_error_line(run("validate", a_file), "is a file")
