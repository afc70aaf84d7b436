"""The Rust core judges every golden vector in data/vectors/ exactly as its expected.json says:
the same verdicts the pure-Python reference gives (tests/test_reference_vectors.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kfm_wal
import pytest
from kfm_wal.errors import UsageError
from kfm_wal.verification_receipts import load as load_receipt
from vector_cases import INVALID, REFUSED, VALID, VECTORS, keyring_of, receipt_of
from waltools import findings, ref

KEYRING = VECTORS / "keyring.json"


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def run(case: Path, keyring: Path | None, **options: Any) -> kfm_wal.VerifyReport:
    """Verify a case as its layout says: with its receipt, if it has one."""
    receipt = receipt_of(case)
    return kfm_wal.verify(case, keyring, receipt=load_receipt(receipt) if receipt else None, **options)


@pytest.mark.parametrize("name", VALID)
def test_valid_vector(name: str) -> None:
    d = VECTORS / "valid" / name
    exp = load(d / "expected.json")
    for keyring, trust in ((keyring_of(d), "keyring"), (None, "self-declared")):
        report = run(d, keyring)
        assert report.ok, report.findings
        assert report.trust == trust
        assert (report.head_seq, report.head_hash) == (exp["head_seq"], exp["head_hash"])
        assert report.pending == len(exp["pending"])
    got = [
        {"seq": r.seq, "kind": r.kind, "hash": r.hash, "offset": r.offset, "segment": r.segment}
        for r in kfm_wal.records(d)
    ]
    assert got == [{k: r[k] for k in ("seq", "kind", "hash", "offset", "segment")} for r in exp["records"]]


@pytest.mark.parametrize("name", INVALID)
def test_invalid_vector(name: str) -> None:
    d = VECTORS / "invalid" / name
    exp = load(d / "expected.json")
    report = run(d, keyring_of(d))
    assert not report.ok
    first = report.findings[0]
    assert (first.code, first.segment, first.offset, first.seq) == (
        exp["error"],
        exp["segment"],
        exp["offset"],
        exp["seq"],
    ), report.findings
    if exp.get("sole_error"):
        assert len(report.findings) == 1, report.findings


def test_skipping_signatures_is_said_and_skips_only_them() -> None:
    """check_signatures=False (a benchmark's measure) passes the bad-signature vector, says so in the
    report and its rule list, and still catches every other vector's damage."""
    bad_sig = VECTORS / "invalid" / "seal-bad-signature"
    full = kfm_wal.verify(bad_sig, KEYRING)
    assert full.signatures_checked and "seal.signature" in full.rules
    skipped = kfm_wal.verify(bad_sig, KEYRING, check_signatures=False)
    assert skipped.ok and not skipped.signatures_checked
    assert "seal.signature" not in skipped.rules
    assert skipped.to_dict()["signatures_checked"] is False
    for name in INVALID:
        exp = load(VECTORS / "invalid" / name / "expected.json")
        if exp["error"] != "seal.signature":
            case = VECTORS / "invalid" / name
            report = run(case, keyring_of(case), check_signatures=False)
            assert exp["error"] in {f.code for f in report.findings}, name


@pytest.mark.parametrize("path", [VECTORS / "valid" / n for n in VALID] + [VECTORS / "invalid" / n for n in INVALID])
def test_core_and_reference_report_the_same_findings(path: Path) -> None:
    """Not only the first finding: both report every finding at the same place in the same order
    (FORMAT.md 6.7), and the same head, with and without a keyring."""
    for keyring in (keyring_of(path), None):
        core, theirs = run(path, keyring), ref.verify(path, keyring, receipt=receipt_of(path))
        assert findings(core) == findings(theirs), keyring
        # the head: the last valid seal of the last segment, null if it has none (VERIFY.md)
        assert (core.head_seq, core.head_hash) == (theirs.head_seq, theirs.head_hash), keyring


@pytest.mark.parametrize("name", INVALID)
def test_fail_fast_reports_the_full_runs_first_finding(name: str) -> None:
    """`fail_fast` (the CLI's --fail-fast) keeps exactly the first finding of a full run."""
    d = VECTORS / "invalid" / name
    full, fast = run(d, keyring_of(d)), run(d, keyring_of(d), fail_fast=True)
    assert findings(fast) == findings(full)[:1]
    assert fast.to_dict()["findings_total"] == 1


@pytest.mark.parametrize("name", REFUSED)
def test_refused_vector(name: str) -> None:
    """Its keyring or receipt is refused before any verdict (a usage error: exit 2 from the CLI),
    by the core's Python layer and by the reference alike."""
    d = VECTORS / "refused" / name
    with pytest.raises(UsageError):
        receipt = receipt_of(d)
        kfm_wal.verify(d, kfm_wal.keys.load_keyring(keyring_of(d)), receipt=load_receipt(receipt) if receipt else None)
    with pytest.raises(ValueError):
        ref.verify(d, keyring_of(d), receipt=receipt_of(d))
