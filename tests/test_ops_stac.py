"""STAC Items and Collections through kfm_wal.ops: offline validation, undo byte-identical."""

from __future__ import annotations

import json
from pathlib import Path

import pystac
import pytest
from kfm_wal import Wal
from kfm_wal.ops import PAYLOAD_FORMAT, PlanError, run, stac, undo
from stactools import collection, item
from test_ops_support import META, UNDO_META, assert_valid, count, snapshot


@pytest.fixture
def stac_root(tmp_path: Path) -> Path:
    return tmp_path / "data" / "stac"


def test_create_update_delete_items_then_undo_is_byte_identical(wal: Wal, stac_root: Path) -> None:
    first = run(wal, [stac.CreateCollection(collection()), stac.CreateItem(item("ks-1"))], stac_root=stac_root, **META)
    assert first.status == "succeeded"
    intent = wal.intent(first.wal_id)
    assert intent is not None
    payload = intent.body["payload"]
    assert payload["format"] == PAYLOAD_FORMAT and payload["root"] == str(stac_root.resolve())
    assert [o["type"] for o in payload["stac"]] == ["stac.collection.create", "stac.item.create"]
    assert payload["stac"][1]["paths"][0] == "collections/counties/items/ks-1.json"
    cat = pystac.Catalog.from_file(str(stac_root / "catalog.json"))
    assert [i.id for i in cat.get_items(recursive=True)] == ["ks-1"]
    before = snapshot(stac_root)

    ops = [
        [stac.CreateItem(item("ks-2"))],
        [stac.UpdateItem(item("ks-1", name="renamed"))],
        [stac.DeleteItem("counties", "ks-1")],
    ]
    results = []
    for actions in ops:
        states = snapshot(stac_root)
        results.append((run(wal, actions, stac_root=stac_root, **META), states))
    assert not (stac_root / "collections/counties/items/ks-1.json").exists()
    assert json.loads((stac_root / "collections/counties/items/ks-2.json").read_bytes())["id"] == "ks-2"
    for result, states in reversed(results):
        undo(wal, result.wal_id, **UNDO_META)
        assert snapshot(stac_root) == states
    assert snapshot(stac_root) == before
    undo(wal, first.wal_id, **UNDO_META)
    assert snapshot(stac_root) == {}
    assert_valid(wal)


def test_invalid_item_is_refused_before_anything_is_logged(wal: Wal, stac_root: Path) -> None:
    run(wal, [stac.CreateCollection(collection())], stac_root=stac_root, **META)
    n, before = count(wal), snapshot(stac_root)
    bad = item("ks-bad").to_dict(include_self_link=False)
    bad["bbox"] = "not a bbox"
    with pytest.raises(PlanError, match="STAC Feature 'ks-bad' is invalid"):
        run(wal, [stac.CreateItem(bad)], stac_root=stac_root, **META)
    no_geometry = item("ks-bad").to_dict(include_self_link=False)
    del no_geometry["geometry"]
    with pytest.raises(PlanError, match="invalid"):
        run(wal, [stac.CreateItem(no_geometry)], stac_root=stac_root, **META)
    with pytest.raises(PlanError, match="collection 'nope' does not exist"):
        run(wal, [stac.CreateItem(item("ks-3", cid="nope"))], stac_root=stac_root, **META)
    with pytest.raises(PlanError, match="does not exist; use CreateItem"):
        run(wal, [stac.UpdateItem(item("ks-4"))], stac_root=stac_root, **META)
    with_ext = item("ks-5").to_dict(include_self_link=False)
    with_ext["stac_extensions"] = ["https://stac-extensions.github.io/eo/v1.1.0/schema.json"]
    with pytest.raises(PlanError, match="not available offline"):
        run(wal, [stac.CreateItem(with_ext)], stac_root=stac_root, **META)
    assert count(wal) == n and snapshot(stac_root) == before


def test_collection_with_items_cannot_be_deleted(wal: Wal, stac_root: Path) -> None:
    run(wal, [stac.CreateCollection(collection()), stac.CreateItem(item("a"))], stac_root=stac_root, **META)
    with pytest.raises(PlanError, match="still has items"):
        run(wal, [stac.DeleteCollection("counties")], stac_root=stac_root, **META)
    result = run(
        wal, [stac.DeleteItem("counties", "a"), stac.DeleteCollection("counties")], stac_root=stac_root, **META
    )
    assert json.loads((stac_root / "catalog.json").read_bytes())["links"] == []
    undo(wal, result.wal_id, **UNDO_META)
    assert (stac_root / "collections/counties/items/a.json").exists()


def test_stac_catalog_audits_clean_and_has_lineage(wal: Wal, stac_root: Path) -> None:
    from kfm_wal.audit import audit_tree
    from kfm_wal.lineage.model import datasets

    result = run(wal, [stac.CreateCollection(collection()), stac.CreateItem(item("a"))], stac_root=stac_root, **META)
    assert audit_tree(wal.path, stac_root) == []
    intent = wal.intent(result.wal_id)
    assert intent is not None
    _, outputs = datasets(intent.body)
    assert "collections/counties/items/a.json" in {o.name for o in outputs}
