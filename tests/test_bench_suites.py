"""The operation suites of `make bench` (sections 8-11: guarded writes, undo, recovery, rollback
to a snapshot, replay) run end to end at a tiny size: each checks what its peers did, so a suite
broken by a change of the API it measures (a tier that now needs a governor, a renamed result)
fails here, in `make test`, not first in a benchmark run. Figures are not judged here."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

BENCHES = Path(__file__).resolve().parent.parent / "benches"


@pytest.fixture(scope="module")
def suites() -> Iterator[dict[str, Any]]:
    sys.path.insert(0, str(BENCHES))
    try:
        import ops_undo
        import ops_writes
        import recover
        import replay
        import rollback_to

        yield {
            "ops_writes": ops_writes,
            "ops_undo": ops_undo,
            "recover": recover,
            "rollback_to": rollback_to,
            "replay": replay,
        }
    finally:
        sys.path.remove(str(BENCHES))


def _scratch(tmp_path: Path) -> dict[str, Callable[..., Any]]:
    made: list[Path] = []

    def fresh(label: str) -> Path:
        d = tmp_path / f"{len(made):03d}"
        made.append(d)
        return d

    def remove(path: Path) -> None:
        import shutil

        shutil.rmtree(path, ignore_errors=True)

    return {"fresh": fresh, "remove": remove, "say": lambda msg="": None}


@pytest.mark.parametrize("name", ["ops_undo", "recover", "rollback_to", "replay"])
def test_operation_suite_runs_and_judges_its_peers(suites: dict[str, Any], tmp_path: Path, name: str) -> None:
    suite = suites[name]
    args: dict[str, Any] = {"ops_count": 6, "size": 64, "rounds": 2, "seed": 7, **_scratch(tmp_path)}
    if name != "recover":
        args["batch"] = 4
    res = suite.run(**args)
    assert res["operations"] == 6
    assert set(res["rows"]) == set(suite.PEERS)
    for row in res["rows"].values():
        assert len(row["seconds"]["values"]) == 2  # the warm-up is discarded
    (ratio,) = res["time_ratio"].values()
    assert ratio["ratio_of_medians"] > 0 and len(ratio["paired"]) == 2
    txt, md = suite.render(res)
    assert txt and md


def test_guarded_writes_suite_runs(suites: dict[str, Any], tmp_path: Path) -> None:
    suite = suites["ops_writes"]
    res = suite.run(files=6, batch=4, size=64, rounds=1, warmup=2, seed=7, **_scratch(tmp_path))
    assert set(res["rows"]) == set(suite.PEERS)
    assert all(len(row["seconds"]["values"]) == 1 for row in res["rows"].values())
    assert len(res["time_ratio"]) == 2
