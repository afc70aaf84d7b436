"""Vocabularies the Rust core restates must not drift from the Python side and the JSON Schemas.

The Python package derives what it can from one source (the CARE labels, tiers and operation
names from schemas/wal-entry-v1.json); what the core must spell out again in Rust is read here
from the Rust sources and compared:

- the finding codes of rust/core/src/finding.rs with `kfm_wal.findings` (CORE_RULES,
  RECEIPT_RULES, RECOVERABLE) and with docs/FORMAT.md;
- the value lists of rust/core/src/body.rs (CARE_LABELS, ACTOR_TYPES, STATUSES) with the entry
  schema, `kfm_wal.wal.Status` and the CLI's `complete --status` choices;
- the member names of intents and completions, and of their nested objects, in the four places
  the entry schema lives: the JSON Schema, body.rs (the explaining check), body_fast.rs (the fast
  check) and body_accept.rs (the verifier's one-pass check).
"""

from __future__ import annotations

import inspect
import re
import typing
from pathlib import Path
from typing import Any

import kfm_wal.wal
import pytest
from kfm_wal import findings, governance, schema
from kfm_wal.cli import cli

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "rust" / "core" / "src"
ENVELOPE = {"seq", "prev", "kind", "timestamp", "hash"}  # slots the writer fills (docs/FORMAT.md)


def rust(name: str) -> str:
    return (CORE / name).read_text()


def _block(text: str, opener: str) -> str:
    """The text between the `{` (or `[`) that ends `opener` and its matching close."""
    start = text.index(opener) + len(opener) - 1
    open_, close = text[start], {"{": "}", "[": "]"}[text[start]]
    depth = 0
    for i in range(start, len(text)):
        depth += {open_: 1, close: -1}.get(text[i], 0)
        if depth == 0:
            return text[start + 1 : i]
    raise AssertionError(f"unbalanced {opener!r}")


def struct_members(text: str, name: str) -> dict[str, bool]:
    """The JSON member names of the first `struct name` in `text` (serde renames applied) ->
    whether the member is required (its type is not an Option)."""
    body = _block(text, re.search(rf"struct {name}(<'a>)? {{", text).group(0))  # type: ignore[union-attr]
    members: dict[str, bool] = {}
    rename = None
    for line in body.splitlines():
        line = line.strip()
        if line.startswith("#[serde("):
            found = re.search(r'rename = "([^"]+)"', line)
            rename = found.group(1) if found else rename
        elif m := re.match(r"(?:pub(?:\(crate\))?\s+)?([a-z_][a-z0-9_]*)\s*:\s*(.+?),?$", line):
            members[rename or m.group(1)] = not m.group(2).startswith("Option<")
            rename = None
    return members


def str_const(text: str, name: str) -> list[str]:
    """The strings of `const NAME: &[&str] = &[...]`."""
    return re.findall(r'"([^"]*)"', _block(text, re.search(rf"const {name}: &\[&str\] = &\[", text).group(0)))  # type: ignore[union-attr]


def byte_names(text: str) -> list[str]:
    return re.findall(r'b"([^"]*)"', text)


def function(text: str, name: str) -> str:
    return _block(text, re.search(rf"fn {name}\([^{{]*{{", text).group(0))  # type: ignore[union-attr]


def schema_members(node: dict[str, Any]) -> set[str]:
    """Member names a JSON Schema object node allows (its properties, and its oneOf branches')."""
    names = set(node.get("properties", {}))
    for branch in node.get("oneOf", []):
        names |= set(branch.get("properties", {}))
    return names


# -- finding codes ---------------------------------------------------------------------------


def rust_codes() -> list[str]:
    text = rust("finding.rs")
    variants = re.findall(r"^\s*([A-Z][A-Za-z]*),", _block(text, "pub enum Code {"), re.M)
    spelled = dict(re.findall(r'Code::([A-Za-z]+) => "([a-z_.]+)"', function(text, "as_str")))
    assert variants and set(variants) == set(spelled), "every Code variant has its string"
    return [spelled[v] for v in variants]


def test_finding_codes_are_the_cores() -> None:
    assert [*findings.CORE_RULES, *findings.RECEIPT_RULES] == rust_codes()


def test_recoverable_codes_are_the_cores() -> None:
    text = rust("finding.rs")
    spelled = dict(re.findall(r'Code::([A-Za-z]+) => "([a-z_.]+)"', function(text, "as_str")))
    recoverable = re.findall(r"Code::([A-Za-z]+)", function(text, "is_recoverable"))
    assert set(findings.RECOVERABLE) == {spelled[v] for v in recoverable}


def test_every_finding_code_is_documented() -> None:
    documented = set(re.findall(r"`([a-z]+\.[a-z_]+)`", (ROOT / "docs" / "FORMAT.md").read_text()))
    assert [c for c in rust_codes() if c not in documented] == []


# -- value lists -----------------------------------------------------------------------------


def test_value_lists_of_the_core_are_the_schemas() -> None:
    props = schema.entry_schema()["properties"]
    body = rust("body.rs")
    assert str_const(body, "CARE_LABELS") == props["governance"]["properties"]["care"]["enum"]
    assert str_const(body, "ACTOR_TYPES") == props["actor"]["properties"]["type"]["enum"]
    assert governance.CARE_LABELS == tuple(props["governance"]["properties"]["care"]["enum"])
    assert governance.TIERS == (0, 1, 2, 3, 4)  # body.rs: `t > 4` refused, tier 4 for rollback only


def test_completion_statuses_are_the_cores() -> None:
    statuses = str_const(rust("body.rs"), "STATUSES")
    assert list(typing.get_args(kfm_wal.wal.Status)) == statuses
    (option,) = [p for p in cli.commands["complete"].params if p.name == "status"]
    assert list(option.type.choices) == statuses  # type: ignore[attr-defined]


# -- member names ----------------------------------------------------------------------------


def test_intent_members_agree_in_all_four_places() -> None:
    entry = schema.entry_schema()
    members = set(entry["properties"])
    required = set(entry["required"])
    for where, text, struct in (
        ("body.rs", rust("body.rs"), "IntentShape"),
        ("body_fast.rs", rust("body_fast.rs"), "Intent"),
    ):
        shape = struct_members(text, struct)
        assert set(shape) - ENVELOPE == members, where
        assert {m for m, req in shape.items() if req} == required, where
        assert {m for m in shape if m in ENVELOPE} == ENVELOPE, where
    assert set(byte_names(function(rust("body_accept.rs"), "intent"))) >= members
    names_table = _block(function(rust("body_accept.rs"), "intent"), "const NAMES: [(&[u8], u16); 11] = [")
    assert byte_names(names_table) == list(entry["properties"])


def test_completion_members_agree() -> None:
    shape = struct_members(rust("body.rs"), "CompletionShape")
    members = [m for m in shape if m not in ENVELOPE]
    table = re.search(r"const NAMES: \[\(&\[u8\], u8\); \d+\] = \[", function(rust("body_accept.rs"), "completion"))
    assert table is not None
    assert byte_names(_block(function(rust("body_accept.rs"), "completion"), table.group(0))) == members
    assert {m for m in shape if m in ENVELOPE} == ENVELOPE
    complete = inspect.signature(kfm_wal.wal.Wal.complete).parameters
    assert [p for p in complete if p != "self"] == members  # Wal.complete writes every member


@pytest.mark.parametrize("member", ["actor", "reversal", "governance", "telemetry"])
def test_nested_members_agree_in_all_four_places(member: str) -> None:
    allowed = schema_members(schema.entry_schema()["properties"][member])
    struct = member.capitalize()
    assert set(struct_members(rust("body.rs"), struct)) == allowed
    assert set(struct_members(rust("body_fast.rs"), struct)) == allowed
    accept = function(rust("body_accept.rs"), member)
    assert set(byte_names(_block(accept, "object_of(&["))) == allowed
