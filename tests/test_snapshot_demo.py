"""The demo takes a snapshot before its ETL step and shows the plan of a rollback to it, without
applying it; a snapshot refused (the roots were edited around the log) is said, and the demo
runs (and puts the edit right) all the same."""

from __future__ import annotations

from pathlib import Path

from kfm_wal import demo, snapshots


def test_the_demo_snapshots_before_etl_and_shows_a_rollback_plan(tmp_path: Path) -> None:
    data = tmp_path / "data"
    lines: list[str] = []
    first = demo.run(data, echo=lines.append)
    (snap,) = snapshots.snapshots(data / "wal")
    assert snap.name.startswith("before-etl-seq") and snap.actor == {"type": "system", "id": "kfm-demo"}
    taken = next(line for line in lines if line.startswith("  snapshot: "))
    assert snap.name in taken and "before the ETL step" in taken
    plan = next(line for line in lines if line.startswith(f"  rollback plan to {snap.name} (not applied): "))
    assert f"{first['operations']['recorded']} operation(s) to reverse" in plan
    assert lines.index(taken) < lines.index(plan)
    assert first["valid"] and first["replay"]["ok"]  # not applied: the outputs stay
    assert (data / "processed" / "kansas_counties.json").exists()

    target = data / "processed" / "kansas_counties.json"
    clean = target.read_bytes()
    target.write_bytes(b"edited by hand\n")
    lines.clear()
    second = demo.run(data, echo=lines.append)
    refused = next(line for line in lines if line.startswith("  snapshot: not taken: "))
    assert "written around the log" in refused and "kansas_counties.json" in refused
    assert second["valid"] and target.read_bytes() == clean
    assert len(snapshots.snapshots(data / "wal")) == 1
