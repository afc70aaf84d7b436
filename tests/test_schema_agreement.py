"""The core's compiled entry check and the shipped JSON Schema must agree on every entry:
the core enforces, the JSON Schema explains. Hypothesis mutates seed-shaped entries member by
member with valid and invalid values."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from kfm_wal import _core, schema
from waltools import make_entry

HASH = "sha256:" + "c" * 64
VALUES: dict[str, list[Any]] = {
    "wal_id": [
        "3f2b8c1e-5d4a-4e6b-9c7d-0a1b2c3d4e5f",
        "3F2B8C1E-5D4A-4E6B-9C7D-0A1B2C3D4E5F",
        "3f2b8c1e-5d4a-1e6b-9c7d-0a1b2c3d4e5f",
        "3f2b8c1e-5d4a-4e6b-1c7d-0a1b2c3d4e5f",
        "x",
        7,
    ],
    "operation": ["etl_step", "stac.build", "a", "Etl", "9lives", "", "x" * 65, "x" * 64, None],
    "actor": [
        {"type": "ci", "id": "r"},
        {"type": "system", "id": "s", "extra": 1},
        {"type": "bot", "id": "r"},
        {"type": "ci", "id": ""},
        {"type": "ci"},
        {"id": "r"},
        "ci",
        [],
    ],
    "pre_state_hash": [HASH, "sha256:" + "C" * 64, "sha256:" + "c" * 63, "md5:" + "c" * 64, 1],
    "post_state_expected": [HASH, "sha256:", None],
    "payload": [{}, {"actions": [1, 2]}, [], "x", None],
    "reversal": [
        {"steps": [1]},
        {"steps": []},
        {"steps": "x"},
        {"irreversible": True, "reason": "drop"},
        {"irreversible": True},
        {"irreversible": True, "reason": ""},
        {"irreversible": False},
        {"irreversible": False, "steps": [1]},
        {"irreversible": True, "steps": [1], "reason": "r"},
        {"irreversible": "yes", "steps": [1]},
        {},
        [],
    ],
    "tier": [0, 1, 3, 4, 5, -1, "1", None, True],
    "governance": [
        {"care": "public"},
        {"care": "restricted", "approvals": []},
        {"care": "sensitive", "x": 1},
        {"care": "secret"},
        {"care": "public", "approvals": {}},
        {},
        "public",
    ],
    "lineage_links": [[], ["wal:a", "wal:b"], [""], [1], "wal:a", None],
    "telemetry": [{"id": "t"}, {"id": "t", "trace": "x"}, {"id": ""}, {}, "t"],
    "timestamp": ["2026-01-01T00:00:00.000000Z"],
    "surprise": [1],
}


@st.composite
def entries(draw: st.DrawFn) -> dict[str, Any]:
    entry = make_entry(draw(st.integers(0, 10_000)))
    for member in draw(st.lists(st.sampled_from(sorted(VALUES)), max_size=3, unique=True)):
        if draw(st.booleans()) and member in entry:
            del entry[member]
        else:
            entry[member] = draw(st.sampled_from(VALUES[member]))
    if draw(st.booleans()):
        entry["operation"] = draw(st.sampled_from(["rollback", "etl_step"]))
    return entry


@settings(max_examples=600, deadline=None)
@given(entries())
def test_core_and_json_schema_agree(entry: dict[str, Any]) -> None:
    core = _core.check_entry("intent", orjson.dumps(entry))
    assert (core is None) == schema.is_valid(entry), (core, schema.explain(entry), entry)


def test_every_required_member_is_required_by_both() -> None:
    for member in schema.entry_schema()["required"]:
        entry = make_entry()
        del entry[member]
        assert _core.check_entry("intent", orjson.dumps(entry)) is not None, member
        assert not schema.is_valid(entry), member


def test_patterns_refuse_a_trailing_newline() -> None:
    """jsonschema matches `pattern` with re.search, whose `$` also matches before a final newline;
    the shipped patterns end in `$(?!\\n)` so that both refuse what FORMAT.md refuses (section 4)."""
    wal_id = "3f2b8c1e-5d4a-4e6b-9c7d-0a1b2c3d4e5f"
    for member, good in (("operation", "etl_step"), ("wal_id", wal_id), ("pre_state_hash", "sha256:" + "c" * 64)):
        for value, ok in ((good, True), (good + "\n", False)):
            entry = dict(make_entry(), **{member: value})
            assert schema.is_valid(entry) == ok, (member, value)
            assert (_core.check_entry("intent", orjson.dumps(entry)) is None) == ok, (member, value)
