"""The operation-level CLI: validate --operations/--policy/--tree, approve, lineage export/emit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from kfm_wal import Wal, governance, keys, ops
from kfm_wal.cli import cli

ACTOR = {"type": "ci", "id": "etl-runner"}


def run(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def world(tmp_path: Path, key: keys.SigningKey) -> tuple[Path, Path]:
    log, root = tmp_path / "wal", tmp_path / "processed"
    with Wal.create(log, key, durability="none") as wal:
        for i in range(3):
            ops.run(
                wal,
                [ops.Write(f"part-{i}.csv", b"fips,name\n%d,x\n" % i)],
                actor=ACTOR,
                tier=0,
                governance={"care": "public"},
                telemetry={"id": f"t-{i}"},
                root=root,
            )
        ops.run(
            wal,
            [ops.Delete("part-0.csv")],
            actor=ACTOR,
            tier=0,
            governance={"care": "public"},
            telemetry={"id": "t-del"},
            root=root,
        )
    return log, root


def test_validate_tree_and_operation_rules(world: tuple[Path, Path]) -> None:
    log, root = world
    assert run("validate", log, "--operations").exit_code == 0
    assert run("validate", log, "--tree", root).exit_code == 0
    (root / "part-1.csv").write_bytes(b"edited behind the log's back\n")
    (root / "stray.csv").write_bytes(b"never logged\n")
    out = run("validate", log, "--tree", root, "--json")
    assert out.exit_code == 1
    messages = " ".join(f["message"] for f in json.loads(out.output)["findings"])
    assert "part-1.csv" in messages and "stray.csv" in messages


def test_policy_needs_a_keyring(world: tuple[Path, Path], tmp_path: Path) -> None:
    log, _ = world
    policy = tmp_path / "policy.toml"
    policy.write_bytes(governance.default_policy_bytes())
    out = run("validate", log, "--policy", policy)
    assert out.exit_code == 2 and "--keyring" in out.output


def test_approve_signs_a_request(tmp_path: Path) -> None:
    approver = keys.generate()
    key_file = keys.save(approver, tmp_path / "ana.pem")
    request = governance.build_request([ops.Write("a.csv", b"x")], actor=ACTOR, tier=2, governance={"care": "public"})
    req_file = tmp_path / "request.json"
    req_file.write_text(json.dumps(request))
    out = run("approve", req_file, "--key", key_file, "--role", "maintainer", "--out", tmp_path / "a.json")
    assert out.exit_code == 0, out.output
    approval = json.loads((tmp_path / "a.json").read_text())
    assert approval["key_id"] == approver.key_id and approval["role"] == "maintainer"
    ring = keys.Keyring(()).with_key(approver, ("maintainer",), "ana")
    decision = governance.check(request, [approval], ring, governance.default_policy())
    assert decision.allowed, decision.reasons
    (tmp_path / "bad.json").write_text("{nope")
    assert run("approve", tmp_path / "bad.json", "--key", key_file, "--role", "maintainer").exit_code == 2


def test_lineage_export_and_emit(world: tuple[Path, Path], tmp_path: Path) -> None:
    log, _ = world
    out = run("lineage", "export", log)
    assert out.exit_code == 0
    events = [json.loads(line) for line in out.output.splitlines()]
    assert [e["eventType"] for e in events].count("START") == 4
    assert [e["eventType"] for e in events].count("COMPLETE") == 4
    prov = run("lineage", "export", log, "--format", "prov-json")
    assert prov.exit_code == 0 and "activity" in json.loads(prov.output)
    assert run("lineage", "export", log, "--format", "bogus").exit_code == 2
    first = run("lineage", "emit", log, "--out", tmp_path / "lineage")
    assert first.exit_code == 0 and Path(first.output.split("\t")[0]).is_file()
