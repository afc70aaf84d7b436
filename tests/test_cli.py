"""The `kfm-wal` command line: every command, every exit code, and bad input of every kind ending as
exactly one line on stderr (`kfm-wal: error: <what> (<where>)`) with nothing written."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import kfm_wal
import pytest
from click.testing import CliRunner, Result
from kfm_wal.cli import cli
from waltools import make_entry as entry
from waltools import sha

KFM_WAL = Path(sys.executable).parent / "kfm-wal"


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


@pytest.fixture
def log(tmp_path: Path) -> Path:
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


# -- init ------------------------------------------------------------------------------------


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


# -- keys ------------------------------------------------------------------------------------


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


# -- append ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(json.dumps(entry(0)), id="object"),
        pytest.param(json.dumps(entry(0), indent=2), id="pretty-object"),
        pytest.param(json.dumps([entry(0), entry(1), entry(2)], indent=1), id="array"),
        pytest.param(jsonl(entry(0), entry(1), entry(2)) + "\n\n", id="jsonl"),
    ],
)
@pytest.mark.parametrize("from_file", [True, False], ids=["file", "stdin"])
def test_append_accepts_object_array_and_jsonl(log: Path, tmp_path: Path, text: str, from_file: bool) -> None:
    if from_file:
        (tmp_path / "in.json").write_text(text)
        result = run("append", log, tmp_path / "in.json")
    else:
        result = run("append", log, "-", input=text)
    assert result.exit_code == 0, result.stderr
    n = len(result.stdout.splitlines())
    assert n == (1 if text.lstrip().startswith("{") and "\n{" not in text else 3)
    intents = list(kfm_wal.records(log, kind="intent"))
    assert len(intents) == n
    for line, rec in zip(result.stdout.splitlines(), intents, strict=True):
        assert line == f"seq={rec.seq} kind=intent wal_id={rec.wal_id} hash={rec.hash}"


def test_append_json_receipts_are_one_group_commit(log: Path) -> None:
    receipts = append_ok(log, entry(0), entry(1), entry(2))
    assert [r["seq"] for r in receipts] == [3, 4, 5]
    assert {r["seal_seq"] for r in receipts} == {6}
    by_seq = {rec.seq: rec for rec in kfm_wal.records(log)}
    for r in receipts:
        assert by_seq[r["seq"]].hash == r["hash"] and by_seq[r["seq"]].wal_id == r["wal_id"]
        assert r["kind"] == "intent" and r["durability"] == "fsync"


BAD_INPUTS = [
    pytest.param(
        jsonl(entry(0), entry(1)) + '{"operation": "etl_step",\n',
        ("invalid JSON", "line 3"),
        id="bad-json-line-3",
    ),
    pytest.param("[\n" + json.dumps(entry(0)) + ',\n  {"tier": 1,}\n]', ("invalid JSON", "line 3"), id="bad-array"),
    pytest.param(
        jsonl(entry(0)) + json.dumps(entry(1)).replace('"tier": 1', '"tier": NaN') + "\n",
        ("NaN is not a JSON value", "line 2"),
        id="nan",
    ),
    pytest.param(json.dumps(entry(0)).replace('"tier": 1', '"tier": Infinity'), ("Infinity", "line 1"), id="inf"),
    pytest.param(
        jsonl(entry(0), entry(1, tier=7)),
        ("7 is greater than the maximum of 4", "line 2", "field tier"),
        id="schema-tier",
    ),
    pytest.param(
        jsonl(entry(0, actor={"type": "robot", "id": "r"})),
        ("line 1", "field actor.type"),
        id="schema-nested-field",
    ),
    pytest.param(
        jsonl(entry(0), {k: v for k, v in entry(1).items() if k != "reversal"}),
        ("'reversal' is a required property", "line 2"),
        id="schema-missing-field",
    ),
    pytest.param(jsonl(entry(0, tier=4)), ("field operation",), id="schema-tier-4-not-rollback"),
    pytest.param(
        json.dumps(entry(0))[:-1] + ', "tier": 2}',
        ("member name 'tier' repeated", "line 1"),
        id="duplicate-member",
    ),
    pytest.param("[1, 2]", ("must be a JSON object", "line 1"), id="not-objects"),
    pytest.param("  \n", ("no entries",), id="empty"),
    pytest.param("[]", ("no entries",), id="empty-array"),
    pytest.param(b'{"operation": "\xff"}', ("not UTF-8",), id="not-utf8"),
    pytest.param(jsonl(entry(0, wal_id="not-a-uuid")), ("field wal_id", "line 1"), id="bad-wal-id"),
]


@pytest.mark.parametrize(("text", "fragments"), BAD_INPUTS)
def test_bad_input_is_one_error_line_and_writes_nothing(
    log: Path, text: str | bytes, fragments: tuple[str, ...]
) -> None:
    before = sorted((p.name, p.read_bytes()) for p in log.glob("*.jsonl"))
    assert_one_error_line(run("append", log, input=text), "stdin", *fragments)
    assert sorted((p.name, p.read_bytes()) for p in log.glob("*.jsonl")) == before


def test_bad_input_from_a_file_names_the_file(log: Path, tmp_path: Path) -> None:
    bad = tmp_path / "entries.jsonl"
    bad.write_text(jsonl(entry(0), entry(1)) + "{oops}\n")
    assert_one_error_line(run("append", log, bad), "file ", "entries.jsonl", "line 3", "column 2")
    assert_one_error_line(run("append", log, tmp_path / "missing.jsonl"), "No such file", "missing.jsonl")
    assert record_count(log) == 2


def test_bad_input_is_refused_before_the_log_is_touched(tmp_path: Path) -> None:
    """Input is parsed before the log or the key is looked at: neither exists here."""
    assert_one_error_line(run("append", tmp_path / "nowhere", input="{"), "invalid JSON", "line 1")


def test_append_refusals(log: Path, tmp_path: Path) -> None:
    text = jsonl(entry(0))
    assert_one_error_line(run("append", tmp_path / "not-a-log", input=text), "not a kfm-wal log", "not-a-log")
    other = tmp_path / "other.pem"
    assert run("keys", "generate", "--out", other).exit_code == 0
    assert_one_error_line(
        run("append", log, "--key", other, input=text), "does not match the log's writer key", f"log {log}"
    )
    assert_one_error_line(
        run("append", log, "--key", tmp_path / "gone.pem", input=text), "key file not found", "gone.pem"
    )
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello")
    assert_one_error_line(run("append", log, "--key", not_pem, input=text), "not an unencrypted PKCS#8 PEM", "not.pem")
    assert record_count(log) == 2


def test_append_conflict_names_the_entry_line(log: Path) -> None:
    (first,) = append_ok(log, entry(0))
    text = jsonl(entry(1), entry(2, wal_id=first["wal_id"]))
    assert_one_error_line(run("append", log, input=text), "line 2", "entry 2", first["wal_id"])
    assert record_count(log) == 4


def test_append_reports_a_repaired_tail(log: Path) -> None:
    (seg,) = log.glob("wal-*.jsonl")
    with open(seg, "ab") as f:
        f.write(b'{"seq":3,"prev":"sha')
    result = run("append", log, input=jsonl(entry(0)))
    assert result.exit_code == 0
    assert "kfm-wal: note: cut tail.torn" in result.stderr and "recovered" in result.stderr
    assert kfm_wal.verify(log).ok


# -- complete --------------------------------------------------------------------------------


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


# -- log -------------------------------------------------------------------------------------


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


# -- validate --------------------------------------------------------------------------------


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


# -- the rest --------------------------------------------------------------------------------


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

    monkeypatch.setattr("kfm_wal.cli.verify", boom)
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
