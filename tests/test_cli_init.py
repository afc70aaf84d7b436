"""`kfm-wal init`: a new log with its key and keyring, or a given key; refusals that write nothing."""

from __future__ import annotations

import stat
from pathlib import Path

import kfm_wal
import pytest
from clitools import assert_one_error_line, init_log, jsonl, run
from conftest import make_entry as entry


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return init_log(tmp_path)


def test_init_creates_log_key_and_keyring(tmp_path: Path) -> None:
    result = run("init", tmp_path / "wal")
    assert result.exit_code == 0, result.stderr
    key_path, ring_path = tmp_path / "keys" / "writer.pem", tmp_path / "keys" / "keyring.json"
    key = kfm_wal.keys.load(key_path)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    report = kfm_wal.verify(tmp_path / "wal", ring_path)
    assert report.ok and report.trust == "keyring"
    assert report.log_id in result.stdout and key.key_id in result.stdout and "writer.pem" in result.stdout
    ring = kfm_wal.keys.load_keyring(ring_path)
    assert [(k.key_id, k.roles) for k in ring.keys] == [(key.key_id, ("writer",))]


def test_init_refuses_a_directory_that_holds_a_log(log: Path) -> None:
    key_before = (log.parent / "keys" / "writer.pem").read_bytes()
    assert_one_error_line(run("init", log), "already holds a kfm-wal log", f"log {log}")
    assert (log.parent / "keys" / "writer.pem").read_bytes() == key_before


def test_init_refuses_an_existing_key_file_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "writer.pem").write_text("not mine to overwrite")
    assert_one_error_line(run("init", tmp_path / "wal"), "key file already exists", "writer.pem")
    assert not (tmp_path / "wal").exists()
    assert (tmp_path / "keys" / "writer.pem").read_text() == "not mine to overwrite"
    assert not (tmp_path / "keys" / "keyring.json").exists()


def test_init_with_a_given_key_small_segments_and_no_fsync(tmp_path: Path) -> None:
    key_file = tmp_path / "k.pem"
    assert run("keys", "generate", "--out", key_file).exit_code == 0
    log = tmp_path / "wal"
    result = run("init", log, "--key", key_file, "--max-segment-bytes", "8192", "--durability", "none")
    assert result.exit_code == 0, result.stderr
    assert not (tmp_path / "keys").exists()  # the keyring is only written for a generated key
    for i in range(6):
        assert run("append", log, "--key", key_file, input=jsonl(entry(i), entry(100 + i))).exit_code == 0
    report = kfm_wal.verify(log)
    assert report.ok and len(report.segments) > 1 and report.intents == 12


def test_init_usage_errors(tmp_path: Path) -> None:
    assert_one_error_line(run("init"), "Missing argument 'DIR'", "kfm-wal init")
    assert_one_error_line(run("init", tmp_path / "w", "--durability", "maybe"), "--durability")
    assert_one_error_line(run("init", tmp_path / "w", "--max-segment-bytes", "10"), "--max-segment-bytes")
    assert_one_error_line(run("init", tmp_path / "w", "--key", tmp_path / "none.pem"), "key file not found", "none.pem")
    assert not (tmp_path / "w").exists()
