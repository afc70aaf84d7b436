"""`kfm-wal validate` as CI uses it: receipts (incremental and tamper-aware), quarantine, JSON
reports against their schema, exit codes, operation-level rules."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path

import jsonschema
import kfm_wal
import pytest
from click.testing import CliRunner, Result
from kfm_wal import Wal, keys, verify
from kfm_wal.cli import cli
from kfm_wal.reader import Record
from kfm_wal.verify_rules import ReversalStepsPresent
from waltools import make_entry

REPORT_SCHEMA = json.loads((Path(kfm_wal.__file__).parent / "schemas" / "verify-report-v1.json").read_text())


def run(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def log(tmp_path: Path, key: keys.SigningKey) -> Path:
    path = tmp_path / "wal"
    with Wal.create(path, key, max_segment_bytes=32 * 1024, max_record_bytes=8 * 1024) as w:
        for i in range(20):
            r = w.append_many([make_entry(i * 5 + j) for j in range(5)])
            w.complete(r[0].wal_id)
    return path


def grow(path: Path, key: keys.SigningKey, n: int, salt: int = 0) -> None:
    with Wal.open(path, key) as w:
        for i in range(n):
            w.append(make_entry(10_000 + salt * 1000 + i))


def test_receipt_makes_the_next_run_incremental(log: Path, key: keys.SigningKey, tmp_path: Path) -> None:
    receipt = tmp_path / "ci" / "receipt.json"
    first = run("validate", log, "--receipt", receipt, "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(receipt.read_text())["seq"] == verify(log).head_seq
    grow(log, key, 7)
    second = run("validate", log, "--receipt", receipt, "--json")
    assert second.exit_code == 0, second.output
    doc = json.loads(second.output)
    assert doc["incremental_from"] is not None and doc["scanned_bytes"] < doc["bytes"] / 4
    assert doc["records"] == 14  # 7 intents + their 7 seals
    assert json.loads(receipt.read_text())["seq"] == verify(log).head_seq


def test_receipt_catches_a_log_cut_back_to_an_older_valid_state(
    log: Path, key: keys.SigningKey, tmp_path: Path
) -> None:
    older = tmp_path / "older"
    shutil.copytree(log, older)
    grow(log, key, 30)
    receipt = tmp_path / "receipt.json"
    assert run("validate", log, "--receipt", receipt).exit_code == 0
    shutil.rmtree(log)
    shutil.copytree(older, log)
    assert verify(log).ok, "the older state is a valid log by itself: only the receipt can tell"
    out = run("validate", log, "--receipt", receipt, "--json")
    assert out.exit_code == 1
    assert json.loads(out.output)["findings"][0]["code"] == "receipt.truncated"
    assert json.loads(receipt.read_text())["seq"] > verify(log).head_seq, "a failed run keeps the receipt"


def test_receipt_catches_a_fork(log: Path, key: keys.SigningKey, tmp_path: Path) -> None:
    fork = tmp_path / "fork"
    shutil.copytree(log, fork)
    grow(log, key, 3, salt=1)
    grow(fork, key, 3, salt=2)
    receipt = tmp_path / "receipt.json"
    assert run("validate", log, "--receipt", receipt).exit_code == 0
    out = run("validate", fork, "--receipt", receipt, "--json")
    assert out.exit_code == 1
    assert json.loads(out.output)["findings"][0]["code"] == "receipt.mismatch"


def test_receipt_catches_a_rewritten_past(log: Path, tmp_path: Path) -> None:
    receipt = tmp_path / "receipt.json"
    assert run("validate", log, "--receipt", receipt).exit_code == 0
    seg = sorted((log / "archive").glob("*.jsonl"))[0]
    data = bytearray(seg.read_bytes())
    data[data.index(b'"payload"') + 15] ^= 1
    seg.write_bytes(bytes(data))
    # Incremental runs trust verified history by its head; a full run still sees the edit.
    assert run("validate", log).exit_code == 1


def test_signed_receipts(log: Path, tmp_path: Path) -> None:
    verifier = keys.save(keys.generate(), tmp_path / "ci.pem")
    receipt = tmp_path / "receipt.json"
    assert run("validate", log, "--receipt", receipt, "--receipt-key", verifier).exit_code == 0
    doc = json.loads(receipt.read_text())
    assert doc["signature"] and doc["verifier_key_id"]
    assert run("validate", log, "--receipt", receipt, "--receipt-key", verifier).exit_code == 0
    other = keys.save(keys.generate(), tmp_path / "other.pem")
    wrong = run("validate", log, "--receipt", receipt, "--receipt-key", other)
    assert wrong.exit_code == 2 and "trusted verifier" in wrong.output
    doc = json.loads(receipt.read_text())
    doc["seq"] -= 2
    receipt.write_text(json.dumps(doc))
    forged = run("validate", log, "--receipt", receipt, "--receipt-key", verifier)
    assert forged.exit_code == 2 and "signature" in forged.output


def test_receipt_from_another_log_is_a_usage_error(log: Path, key: keys.SigningKey, tmp_path: Path) -> None:
    receipt = tmp_path / "receipt.json"
    assert run("validate", log, "--receipt", receipt).exit_code == 0
    other = tmp_path / "other"
    with Wal.create(other, key, max_segment_bytes=32 * 1024, max_record_bytes=8 * 1024) as w:
        for i in range(100):
            w.append(make_entry(i))
    out = run("validate", other, "--receipt", receipt)
    assert out.exit_code == 2 and "receipt is for log" in out.output
    assert "Traceback" not in out.output


def test_quarantine_copies_and_never_changes(log: Path) -> None:
    seg = sorted((log / "archive").glob("*.jsonl"))[1]
    data = bytearray(seg.read_bytes())
    at = data.index(b'"payload"', 3000)
    data[at + 15] ^= 1
    seg.write_bytes(bytes(data))
    out = run("validate", log, "--quarantine", "--json")
    assert out.exit_code == 1
    doc = json.loads(out.output)
    jsonschema.validate(doc, REPORT_SCHEMA)
    files = [Path(p) for p in doc["quarantined"]]
    assert any(p.name == seg.name and p.read_bytes() == bytes(data) for p in files)
    line_start = data.rindex(b"\n", 0, at) + 1
    fault = next(p for p in files if p.name.endswith(".bytes"))
    assert fault.name == f"{seg.name}.{line_start}.bytes" and fault.read_bytes().startswith(b'{"seq":')
    report = next(p for p in files if p.suffix == ".json")
    assert json.loads(report.read_text())["findings"][0]["code"] == "record.hash"
    assert seg.read_bytes() == bytes(data)
    assert verify(log).findings[0].code == "record.hash", "quarantine files are not part of the log"


def test_json_report_max_errors_and_fail_fast(log: Path) -> None:
    for seg in sorted((log / "archive").glob("*.jsonl")):
        data = bytearray(seg.read_bytes())
        for pos in range(2000, len(data) - 200, 1500):
            data[pos] ^= 1
        seg.write_bytes(bytes(data))
    out = run("validate", log, "--json", "--max-errors", "2")
    assert out.exit_code == 1
    doc = json.loads(out.output)
    jsonschema.validate(doc, REPORT_SCHEMA)
    assert len(doc["findings"]) == 2 and doc["findings_total"] > 2
    assert sum(doc["counts"].values()) == doc["findings_total"]
    assert "record.hash" in doc["rules"] and "chain.prev" in doc["rules"]
    fast = json.loads(run("validate", log, "--json", "--fail-fast").output)
    assert fast["stopped"] and fast["findings_total"] < doc["findings_total"]


def test_valid_json_report_matches_schema(log: Path) -> None:
    out = run("validate", log, "--json")
    assert out.exit_code == 0
    doc = json.loads(out.output)
    jsonschema.validate(doc, REPORT_SCHEMA)
    assert doc["ok"] and doc["counts"] == {} and doc["throughput"] > 0


class TierZeroOnly:
    id = "policy.tier_zero_only"
    description = "this pipeline may only run tier-0 operations"

    def check(self, record: Record) -> Iterable[str]:
        if record.kind == "intent" and record.body["tier"] != 0:
            yield f"tier {record.body['tier']} operation"

    def finish(self) -> Iterable[tuple[Record | None, str]]:
        return ()


def test_operation_rules_report_under_their_id(log: Path) -> None:
    report = verify(log, rules=[TierZeroOnly(), ReversalStepsPresent()])
    assert "policy.tier_zero_only" in report.rules and "ops.reversal_present" in report.rules
    assert report.counts == {"policy.tier_zero_only": 100}
    first = report.findings[0]
    assert first.seq is not None and first.wal_id and first.segment.startswith("wal-")


def test_bad_inputs_exit_2(log: Path, tmp_path: Path) -> None:
    assert run("validate", tmp_path / "nothing").exit_code == 2
    (tmp_path / "ring.json").write_text("{not json")
    assert run("validate", log, "--keyring", tmp_path / "ring.json").exit_code == 2
    (log / "wal-00000999-0000000000099999.jsonl").mkdir()  # a segment that cannot be read
    out = run("validate", log)
    assert out.exit_code == 2 and len(out.output.strip().splitlines()) == 1
