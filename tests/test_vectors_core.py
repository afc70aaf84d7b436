"""The Rust core judges every golden vector in data/vectors/ exactly as its expected.json says:
the same verdicts the pure-Python reference gives (tests/test_reference_vectors.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kfm_wal
import pytest

VECTORS = Path(__file__).resolve().parent.parent / "data" / "vectors"
KEYRING = VECTORS / "keyring.json"
VALID = sorted(p.name for p in (VECTORS / "valid").iterdir())
INVALID = sorted(p.name for p in (VECTORS / "invalid").iterdir())


def load(path: Path) -> Any:
    return json.loads(path.read_text())


@pytest.mark.parametrize("name", VALID)
def test_valid_vector(name: str) -> None:
    d = VECTORS / "valid" / name
    exp = load(d / "expected.json")
    for keyring, trust in ((KEYRING, "keyring"), (None, "self-declared")):
        report = kfm_wal.verify(d, keyring)
        assert report.ok, report.findings
        assert report.trust == trust
        assert (report.head_seq, report.head_hash) == (exp["head_seq"], exp["head_hash"])
        assert report.pending == len(exp["pending"])
    got = [{"seq": r.seq, "kind": r.kind, "hash": r.hash, "offset": r.offset, "segment": r.segment}
           for r in kfm_wal.records(d)]
    assert got == [{k: r[k] for k in ("seq", "kind", "hash", "offset", "segment")} for r in exp["records"]]


@pytest.mark.parametrize("name", INVALID)
def test_invalid_vector(name: str) -> None:
    d = VECTORS / "invalid" / name
    exp = load(d / "expected.json")
    report = kfm_wal.verify(d, KEYRING)
    assert not report.ok
    first = report.findings[0]
    assert (first.code, first.segment, first.offset, first.seq) == (
        exp["error"], exp["segment"], exp["offset"], exp["seq"]), report.findings
    if exp.get("sole_error"):
        assert len(report.findings) == 1, report.findings
