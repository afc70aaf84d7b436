"""One audit over every root the log writes: a data root, a STAC catalog and a graph store, each
target changed behind the log's back reported once, with its kind, id, states and operation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import kfm_wal
import pytest
from click.testing import CliRunner, Result
from kfm_wal import Wal
from kfm_wal.audit import (
    MISSING_FILE,
    MISSING_TRIPLE,
    UNEXPECTED_STATE,
    UNLOGGED_FILE,
    UNLOGGED_TRIPLE,
    TreeMatchesLog,
    audit_tree,
)
from kfm_wal.cli import cli
from kfm_wal.ops import Write, prepare, run, stac, undo
from kfm_wal.ops import graph as g
from kfm_wal.ops.digests import content_digest
from stactools import collection, item
from test_ops_support import META, UNDO_META

EX = "http://example.org/"
REPORT_SCHEMA = json.loads((Path(kfm_wal.__file__).parent / "schemas" / "verify-report-v1.json").read_text())


def t(s: str, p: str, o: str) -> str:
    return f"<{EX}{s}> <{EX}{p}> <{EX}{o}>"


class World:
    def __init__(self, base: Path) -> None:
        self.data = base / "data"
        self.processed, self.stac, self.graph_dir = self.data / "processed", self.data / "stac", self.data / "graph"
        self.store = g.GraphStore.open(self.graph_dir)
        self.ops: dict[str, Any] = {}

    def targets(self) -> dict[str, Any]:
        return {"root": self.processed, "stac_root": self.stac, "graph": self.store}


@pytest.fixture
def world(wal: Wal, tmp_path: Path) -> World:
    w = World(tmp_path)
    where = w.targets()
    w.ops["file"] = run(wal, [Write("counties.csv", b"fips\n20001\n")], **where, **META)
    w.ops["stac"] = run(wal, [stac.CreateCollection(collection()), stac.CreateItem(item("ks-1"))], **where, **META)
    w.ops["graph"] = run(wal, [g.Insert([t("ks", "name", "kansas"), t("ks", "in", "us")])], **where, **META)
    # one operation over all three kinds (payload mixed-1)
    w.ops["mixed"] = run(
        wal,
        [Write("states.csv", b"ks\n"), stac.CreateItem(item("ks-2")), g.Insert([t("ks", "cap", "topeka")])],
        **where,
        **META,
    )
    return w


def _one(findings: list[kfm_wal.Finding]) -> kfm_wal.Finding:
    assert len(findings) == 1, [f.message for f in findings]
    return findings[0]


def test_untouched_roots_report_nothing(wal: Wal, world: World) -> None:
    assert audit_tree(wal.path) == []
    rule = TreeMatchesLog()
    report = kfm_wal.verify(wal.path, rules=[rule])
    assert report.ok, report.findings
    kinds = {(a.kind, a.path) for a in rule.audited}
    assert kinds == {
        ("file", world.processed.resolve()),
        ("stac", world.stac.resolve()),
        ("graph", world.graph_dir.resolve()),
    }


def test_file_changed_behind_the_log(wal: Wal, world: World) -> None:
    (world.processed / "states.csv").write_bytes(b"tampered\n")
    f = _one(audit_tree(wal.path))
    assert f.code == UNEXPECTED_STATE and f.target is not None
    assert f.target["kind"] == "file" and f.target["id"] == "states.csv" and f.target["path"] == "states.csv"
    assert f.target["root"] == str(world.processed.resolve())
    assert f.target["expected"] == [content_digest(b"ks\n")] and f.target["actual"] == content_digest(b"tampered\n")
    mixed = world.ops["mixed"]
    assert f.wal_id == mixed.wal_id and f.seq == mixed.completion.seq == f.target["seq"]


def test_stac_item_changed_behind_the_log(wal: Wal, world: World) -> None:
    path = world.stac / "collections/counties/items/ks-1.json"
    doc = json.loads(path.read_bytes())
    doc["properties"]["name"] = "edited"
    path.write_text(json.dumps(doc))
    f = _one(audit_tree(wal.path))
    assert f.code == UNEXPECTED_STATE and f.target is not None
    assert (f.target["kind"], f.target["id"]) == ("stac.item", "counties/ks-1")
    assert f.target["path"] == "collections/counties/items/ks-1.json"
    assert f.target["actual"] == content_digest(path.read_bytes())
    assert f.wal_id == world.ops["stac"].wal_id and f.seq == world.ops["stac"].completion.seq
    assert "STAC item counties/ks-1" in f.message


def test_stac_item_deleted_and_added(wal: Wal, world: World) -> None:
    (world.stac / "collections/counties/items/ks-2.json").unlink()
    (world.stac / "collections/counties/items/ks-9.json").write_text("{}")
    findings = audit_tree(wal.path)
    assert [(f.code, f.target and f.target["id"]) for f in findings] == [
        (MISSING_FILE, "counties/ks-2"),
        (UNLOGGED_FILE, "counties/ks-9"),
    ]
    assert findings[0].wal_id == world.ops["mixed"].wal_id  # the mixed operation created ks-2
    assert findings[1].seq is None and findings[1].target is not None and findings[1].target["expected"] == []


def test_graph_triple_changed_behind_the_log(wal: Wal, world: World) -> None:
    world.store.update([t("ks", "cap", "topeka")], [t("ks", "cap", "wichita")])
    findings = audit_tree(wal.path)
    assert [(f.code, f.target and f.target["id"]) for f in findings] == [
        (MISSING_TRIPLE, t("ks", "cap", "topeka")),
        (UNLOGGED_TRIPLE, t("ks", "cap", "wichita")),
    ]
    missing = findings[0]
    assert missing.target is not None and missing.target["kind"] == "graph.triple"
    assert missing.target["expected"] == ["present"] and missing.target["actual"] == "absent"
    assert missing.target["root"] == str(world.graph_dir.resolve())
    assert missing.wal_id == world.ops["mixed"].wal_id and missing.seq == world.ops["mixed"].completion.seq


def test_deleted_triple_that_comes_back(wal: Wal, world: World) -> None:
    gone = run(wal, [g.Delete([t("ks", "in", "us")])], graph=world.store, **META)
    assert audit_tree(wal.path) == []
    world.store.update([], [t("ks", "in", "us")])
    f = _one(audit_tree(wal.path))
    assert f.code == UNEXPECTED_STATE and f.wal_id == gone.wal_id
    assert f.target is not None and (f.target["expected"], f.target["actual"]) == (["absent"], "present")


def test_undos_audit_clean(wal: Wal, world: World) -> None:
    both = run(wal, [Write("more.csv", b"m\n"), g.Insert([t("ks", "more", "x")])], **world.targets(), **META)
    for op in (both, world.ops["graph"]):
        undo(wal, op.wal_id, **UNDO_META)
        assert audit_tree(wal.path) == []
    assert not (world.processed / "more.csv").exists() and t("ks", "name", "kansas") not in world.store.triples()


def test_pending_graph_operation_accepts_before_or_after(wal: Wal, world: World) -> None:
    prepare(wal, [g.Insert([t("ks", "pop", "x")])], graph=world.store, **META)  # intent only: a crash
    assert audit_tree(wal.path) == []
    world.store.update([], [t("ks", "pop", "x")])  # it ran, its completion was never written
    assert audit_tree(wal.path) == []


def test_each_change_reported_once_with_its_location(wal: Wal, world: World) -> None:
    (world.processed / "counties.csv").write_bytes(b"x\n")
    (world.stac / "collections/counties/items/ks-1.json").write_text("{}")
    world.store.update([t("ks", "name", "kansas")], [])
    report = kfm_wal.verify(wal.path, rules=[TreeMatchesLog()])
    assert [f.code for f in report.findings] == ["tree.matches_log"] * 3
    got = sorted((f.target["kind"], f.target["id"], f.wal_id) for f in report.findings if f.target)
    assert got == sorted(
        [
            ("file", "counties.csv", world.ops["file"].wal_id),
            ("stac.item", "counties/ks-1", world.ops["stac"].wal_id),
            ("graph.triple", t("ks", "name", "kansas"), world.ops["graph"].wal_id),
        ]
    )
    assert all(f.segment and f.seq is not None for f in report.findings)
    assert all(f.message.startswith(f.target["code"] + ": ") for f in report.findings if f.target)


def test_roots_under_a_directory_only(wal: Wal, world: World) -> None:
    (world.processed / "counties.csv").write_bytes(b"x\n")
    world.store.update([t("ks", "name", "kansas")], [])
    # roots in path order: data/graph, data/processed, data/stac
    assert [f.target and f.target["kind"] for f in audit_tree(wal.path, world.data)] == ["graph.triple", "file"]
    assert [f.target and f.target["kind"] for f in audit_tree(wal.path, world.processed)] == ["file"]
    assert audit_tree(wal.path, world.stac) == []


# -- the command line ------------------------------------------------------------------------------


def cli_run(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_cli_tree_audits_every_root_in_one_run(wal: Wal, world: World) -> None:
    wal.close()
    assert cli_run("validate", wal.path, "--tree").exit_code == 0
    clean = json.loads(cli_run("validate", wal.path, "--tree", "--json").output)
    assert clean["ok"] and "tree.matches_log" in clean["rules"]
    (world.stac / "collections/counties/items/ks-1.json").write_text("{}")
    world.store.update([], [t("ks", "sneaky", "triple")])
    out = cli_run("validate", wal.path, "--tree", "--json")
    assert out.exit_code == 1, out.output
    doc = json.loads(out.output)
    jsonschema.validate(doc, REPORT_SCHEMA)
    targets = [f["target"] for f in doc["findings"]]
    assert [(x["code"], x["kind"], x["id"]) for x in targets] == [
        (UNLOGGED_TRIPLE, "graph.triple", t("ks", "sneaky", "triple")),
        (UNEXPECTED_STATE, "stac.item", "counties/ks-1"),
    ]
    assert doc["counts"] == {"tree.matches_log": 2} and doc["findings"][1]["wal_id"] == world.ops["stac"].wal_id
    assert doc["findings"][0]["seq"] is None and doc["findings"][0]["segment"] == ""
    # --tree DIR: only the roots under DIR
    assert cli_run("validate", wal.path, "--tree", world.processed).exit_code == 0
    assert cli_run("validate", wal.path, "--tree", world.data).exit_code == 1
    under = json.loads(cli_run("validate", wal.path, "--tree", world.data, "--json").output)
    assert [f["target"] for f in under["findings"]] == targets
    assert cli_run("validate", wal.path, "--tree", world.data / "nope" / "deeper", "--json").exit_code == 0


def test_a_damaged_graph_store_is_one_finding(wal: Wal, world: World, tmp_path: Path) -> None:
    broken = tmp_path / "broken-graph"
    run(wal, [g.Insert([t("x", "y", "z")])], graph=broken, **META)
    g.GraphStore._open.pop(broken.resolve()).store.flush()  # let this process's handle go
    import gc

    gc.collect()
    (broken / "CURRENT").write_text("junk\n")
    (f,) = audit_tree(wal.path)
    assert f.code == "tree.unreadable_root" and f.target is not None
    assert (f.target["kind"], f.target["root"]) == ("graph.store", str(broken.resolve()))
    out = cli_run("validate", wal.path, "--tree")
    assert out.exit_code == 1 and "Traceback" not in out.output
