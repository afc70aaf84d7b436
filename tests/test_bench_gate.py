"""The regression gate's judgement (benches/gate.py), on made-up baselines: a figure measured on
another CPU family is judged with a wider tolerance, never a narrower one."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCHES = Path(__file__).resolve().parent.parent / "benches"
THIS_CPU = {"vendor": "AuthenticAMD", "model_name": "AMD EPYC", "family": "25", "model": "17"}
OTHER_CPU = {"vendor": "AuthenticAMD", "model_name": "AMD EPYC", "family": "26", "model": "2"}


@pytest.fixture(scope="module")
def gate() -> Iterator[ModuleType]:
    sys.path.insert(0, str(BENCHES))
    try:
        import gate

        yield gate
    finally:
        sys.path.remove(str(BENCHES))


def _judge(gate: ModuleType, fid: str, tolerance: float, measured: float, cpu: dict[str, str]) -> dict[str, Any]:
    figure = {"what": fid, "better": "higher", "baseline": 10.0, "tolerance": tolerance, "cpu": cpu}
    baseline = {"figures": {fid: figure}}
    figs = {fid: {"value": measured, "paired": [measured]}}
    (row,) = gate.compare(figs, baseline, THIS_CPU)
    return row


@pytest.mark.parametrize("tolerance", [0.1, 0.3, 0.4, 0.8, 0.9])
def test_another_cpu_never_narrows_a_tolerance(gate: ModuleType, tolerance: float) -> None:
    fid = gate.FIGURES[0].id
    base = {"better": "higher", "tolerance": tolerance}
    assert gate.widened(base) >= tolerance
    assert gate.widened(base) <= max(tolerance, gate.CPU_WIDEN_MAX)
    # A figure just inside its own tolerance passes on the baseline's CPU, so it passes on another.
    inside = 10.0 * (1 - tolerance) * 1.01
    assert _judge(gate, fid, tolerance, inside, THIS_CPU)["status"] == "PASS"
    assert _judge(gate, fid, tolerance, inside, OTHER_CPU)["status"] == "PASS"


def test_another_cpu_widens_a_narrow_tolerance_and_says_so(gate: ModuleType) -> None:
    fid = gate.FIGURES[0].id
    # 55% below the baseline: past a 30% tolerance, inside the 60% it is widened to.
    assert _judge(gate, fid, 0.3, 4.5, THIS_CPU)["status"] == "FAIL"
    row = _judge(gate, fid, 0.3, 4.5, OTHER_CPU)
    assert row["status"] == "PASS"
    assert "widened from 30% to 60%" in row["note"], row["note"]
    # A collapse still fails on any CPU.
    assert _judge(gate, fid, 0.3, 1.0, OTHER_CPU)["status"] == "FAIL"
