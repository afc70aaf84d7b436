"""Corruption matrix, the verifiers: for one defect at a time in a multi-segment log written by the
Rust writer (corruption_matrix_cases), the Rust verifier (kfm_wal.verify) and the reference
(tests/reference, ref.verify) report the same findings at the same places, in the same order
(docs/FORMAT.md section 6), the first one as the case expects."""

from __future__ import annotations

from pathlib import Path

import kfm_wal
import pytest
from corruption_matrix_cases import CASES, damaged
from corruption_matrix_log import ARCH, LIVE, Pristine, locations, make_pristine
from kfm_wal.verification_receipts import VerificationReceipt
from waltools import SUFFIX_LEN, findings, ref, with_hash


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Pristine:
    return make_pristine(tmp_path_factory.mktemp("matrix"))


@pytest.mark.parametrize("name", list(CASES))
def test_verifiers(name: str, pristine: Pristine, tmp_path: Path) -> None:
    """Both verifiers classify and locate the damage as expected (the first error; the only one
    where the case says so)."""
    log, exp = damaged(name, pristine, tmp_path)
    rust_report = kfm_wal.verify(log, pristine.keyring)
    ref_report = ref.verify(log, str(pristine.keyring))
    rust, theirs = findings(rust_report), findings(ref_report)
    if exp.cls == "valid":
        assert (rust, theirs) == ([], []), f"rust: {rust}\nref: {theirs}"
        assert rust_report.head_seq == ref_report.head_seq == exp.head_seq
        assert rust_report.head_hash == ref_report.head_hash
        before = locations(pristine.log)
        assert locations(log) == [r for r in before if r[2] <= exp.head_seq]
        return
    want = (exp.code, exp.segment, exp.offset, exp.seq)
    assert rust[:1] == [want], f"rust: {rust}\nref: {theirs}"
    assert theirs == rust, f"every finding, in FORMAT.md 6.7's order\nrust: {rust}\nref: {theirs}"
    if exp.sole:
        assert (len(rust), len(theirs)) == (1, 1), f"rust: {rust}\nref: {theirs}"
    assert ref_report.ok is rust_report.ok is False


def test_matrix_covers_every_class_and_code(pristine: Pristine, tmp_path: Path) -> None:
    """The matrix exercises every class and every damage code this file distinguishes."""
    expected = []
    for n, name in enumerate(CASES):
        expected.append(damaged(name, pristine, tmp_path / str(n))[1])
    assert {e.cls for e in expected} == {"recoverable", "corruption", "valid", "trust"}
    assert {e.code for e in expected} >= {
        "tail.torn",
        "tail.unsealed",
        "record.hash",
        "record.malformed",
        "chain.seq",
        "chain.prev",
        "chain.segment",
        "seal.signature",
        "seal.untrusted_key",
    }
    damaged_segments = {e.segment for e in expected if e.cls == "corruption"}
    assert damaged_segments >= {pristine.segs[ARCH].name, pristine.segs[LIVE].name}


@pytest.mark.parametrize("name", ["delete-live-segment", "truncate-at-seal-boundary", "truncate-at-segment-boundary"])
def test_undetectable_cuts_are_caught_by_a_receipt(name: str, pristine: Pristine, tmp_path: Path) -> None:
    """What the chain cannot show (a log cut back to an earlier seal, the live segment deleted), a
    verification receipt kept outside the log does (FORMAT.md section 9: receipt.truncated). The
    reference implements no receipts; only the Rust verifier is asked."""
    report = kfm_wal.verify(pristine.log, pristine.keyring, keep_pending=True)
    receipt = VerificationReceipt.from_report(report)
    log, exp = damaged(name, pristine, tmp_path)
    assert findings(kfm_wal.verify(log, pristine.keyring)) == []
    got = kfm_wal.verify(log, pristine.keyring, receipt=receipt).findings
    assert [f.code for f in got][:1] == ["receipt.truncated"], got


def test_with_hash_is_the_format_hash(pristine: Pristine) -> None:
    """Self-check of the helper the re-chaining cases rely on."""
    for seg in pristine.segs:
        for ln in seg.lines:
            assert with_hash(ln.raw[:-SUFFIX_LEN]) == ln.raw
