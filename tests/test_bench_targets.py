"""The targets section of the bench report (benches/targets.py): a target not met is shown next to
the limit the same run measured, from the run's own figures, and a target met is not."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCHES = Path(__file__).resolve().parent.parent / "benches"


@pytest.fixture(scope="module")
def targets() -> Iterator[ModuleType]:
    sys.path.insert(0, str(BENCHES))
    try:
        import targets

        yield targets
    finally:
        sys.path.remove(str(BENCHES))


def _ratio(median: float, lo: float, hi: float) -> dict[str, Any]:
    return {"ratio_of_medians": median, "paired_min": lo, "paired_max": hi, "paired": [lo, median, hi]}


def _pipelined(targets: ModuleType, bound: float, share: float) -> dict[str, Any]:
    cpu_bound = targets.CPU_BOUND
    return {
        "cores": 2,
        "ratios": {
            f"{cpu_bound} (diagnostic)/raw write+fdatasync": _ratio(bound, bound - 0.05, bound + 0.1),
            f"kfm-wal pipelined (diagnostic)/{cpu_bound}": _ratio(share, share - 0.04, share + 0.03),
        },
    }


def test_the_pipelined_ceiling_is_its_cpu_bound_from_the_run(targets: ModuleType) -> None:
    text = targets._pipelined_ceiling(_pipelined(targets, 0.66, 0.83))
    assert "2 cores" in text
    assert "0.66x (0.61-0.76) of the raw floor" in text
    assert "0.83x (0.79-0.86) of that bound" in text


def test_a_run_without_the_cpu_bound_shows_no_pipelined_ceiling(targets: ModuleType) -> None:
    assert targets._pipelined_ceiling(None) is None
    assert targets._pipelined_ceiling({"cores": 2, "ratios": {}}) is None


def test_the_threads_ceiling_is_the_python_group_commit_against_the_grouped_peer(targets: ModuleType) -> None:
    th = {
        "peers": {
            targets.PYTHON_GROUP_COMMIT: {"8": {"median": 15_000.0}},
            targets.GROUPED: {"8": {"median": 36_000.0}},
        },
        "ratios": {f"kfm-wal/{targets.PYTHON_GROUP_COMMIT}": {"8": _ratio(1.19, 1.0, 1.69)}},
    }
    text = targets._threads_ceiling(th)
    assert "reach 0.42x of the grouped ceiling" in text
    assert "kfm-wal reaches 1.19x (1.00-1.69) of that peer" in text
    assert targets._threads_ceiling({"peers": {}, "ratios": {}}) is None


@pytest.mark.parametrize(("measured", "shown"), [(0.55, True), (0.75, False), (None, False)])
def test_only_a_target_not_met_shows_its_ceiling(targets: ModuleType, measured: float | None, shown: bool) -> None:
    t = targets.Target("pipelined", "pipelined / raw", ">=", 0.7, measured, [], ceiling="its CPU bound is 0.66x")
    txt, md = targets.render([t])
    assert any("its CPU bound is 0.66x" in line for line in txt) is shown
    assert any(line == "- `pipelined`: its CPU bound is 0.66x." for line in md) is shown
