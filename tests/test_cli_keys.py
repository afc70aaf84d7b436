"""`kfm-wal keys`: generate a key file, list a keyring's keys and a log's."""

from __future__ import annotations

import stat
from pathlib import Path

import kfm_wal
import pytest
from clitools import assert_one_error_line, init_log, run


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return init_log(tmp_path)


def test_keys_generate_prints_id_and_public_key_and_refuses_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "k" / "writer.pem"
    result = run("keys", "generate", "--out", out)
    assert result.exit_code == 0, result.stderr
    key = kfm_wal.keys.load(out)
    assert key.key_id in result.stdout and key.public_key in result.stdout
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert_one_error_line(run("keys", "generate", "--out", out), "already exists", "writer.pem")
    assert kfm_wal.keys.load(out) == key


def test_keys_list_keyring_and_log(log: Path) -> None:
    ring_path = log.parent / "keys" / "keyring.json"
    key = kfm_wal.keys.load(log.parent / "keys" / "writer.pem")
    result = run("keys", "list", "--keyring", ring_path)
    assert result.exit_code == 0 and key.key_id in result.stdout and key.public_key in result.stdout
    assert "writer" in result.stdout
    result = run("keys", "list", log)
    assert result.exit_code == 0 and key.key_id in result.stdout and "in force" in result.stdout
    result = run("keys", "list", "--keyring", ring_path, log)
    assert result.exit_code == 0 and "yes" in result.stdout
    assert_one_error_line(run("keys", "list"), "give a log directory")
    assert_one_error_line(run("keys", "list", log.parent / "nothing"), "not a kfm-wal log")
    bad_ring = log.parent / "bad.json"
    bad_ring.write_text("{not json")
    assert_one_error_line(run("keys", "list", "--keyring", bad_ring), "keyring is not JSON", "bad.json")
