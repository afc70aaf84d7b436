"""The entry schema (`schemas/wal-entry-v1.json`) and the encoding of entries for the core.

Entries are encoded with orjson (compact, 53-bit integers). The core then checks each one
against the compiled form of the same schema before anything is queued; when it refuses one, the
JSON Schema here produces the field-precise message. The two are held in agreement by
tests/test_schema_agreement.py.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

import orjson

from . import _core
from .errors import SchemaError

# Key order is kept as given (the hash covers the bytes, so no canonical order is needed and
# sorting would cost ~15% of encoding); integers beyond 2^53 are refused for portable readers.
_OPTIONS = orjson.OPT_STRICT_INTEGER


@cache
def entry_schema() -> dict[str, Any]:
    from importlib import resources  # only to explain a refusal (like jsonschema): not at start-up

    text = resources.files("kfm_wal").joinpath("schemas/wal-entry-v1.json").read_bytes()
    schema: dict[str, Any] = orjson.loads(text)
    return schema


@cache
def _validator() -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(entry_schema())


def _path(parts: Iterable[object]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def explain(entry: object) -> tuple[str, str] | None:
    """(field, message) of the most relevant schema violation of `entry`, or None if valid."""
    import jsonschema

    found = _envelope_member(entry) or _depth_exceeded(entry)
    if found:
        return found
    errors = list(_validator().iter_errors(entry))
    if not errors:
        return None
    best = jsonschema.exceptions.best_match(errors)
    return _path(best.absolute_path), best.message


def is_valid(entry: object) -> bool:
    return bool(_validator().is_valid(entry))


# Deepest nesting an entry may have (the entry object is level 1). Far below orjson's own limit
# and the stack of any reader, so every conforming verifier can parse what the writer accepts.
MAX_DEPTH = 128

# Members of a record's envelope: the writer sets them, an entry cannot (docs/FORMAT.md section 2).
_ENVELOPE = ("seq", "prev", "kind", "timestamp", "hash")


def _unencodable(value: object, path: list[object]) -> tuple[str, str] | None:
    """Find what orjson cannot (or must not) encode: NaN/Infinity, non-string keys, odd types,
    nesting deeper than MAX_DEPTH. Iterative, so no payload can exhaust Python's stack."""
    stack: list[tuple[object, list[object]]] = [(value, path)]
    while stack:
        value, path = stack.pop()
        if len(path) >= MAX_DEPTH and isinstance(value, Mapping | list | tuple):
            # The field names where the deep value starts; the full path would be MAX_DEPTH long.
            return _path(path[:3]) + "...", f"nested deeper than {MAX_DEPTH} levels (the writer's limit)"
        if isinstance(value, float):
            if not math.isfinite(value):
                return _path(path), f"{value} is not allowed (JSON has no NaN/Infinity)"
        elif value is None or isinstance(value, str | bool | int):
            continue
        elif isinstance(value, Mapping):
            for k in value:
                if not isinstance(k, str):
                    return _path(path), f"key {k!r} is not a string"
            # Pushed in reverse so members are examined in order and the first fault is reported.
            stack.extend((v, [*path, k]) for k, v in reversed(list(value.items())))
        elif isinstance(value, list | tuple):
            stack.extend((v, [*path, i]) for i, v in reversed(list(enumerate(value))))
        else:
            return _path(path), f"{type(value).__name__} is not JSON-serializable"
    return None


def _depth_exceeded(entry: object) -> tuple[str, str] | None:
    """The depth fault of an entry orjson encoded, if any (called only on the core's refusal)."""
    found = _unencodable(entry, [])
    return found if found and "nested deeper" in found[1] else None


def _envelope_member(entry: object) -> tuple[str, str] | None:
    if not isinstance(entry, Mapping):
        return None
    for name in _ENVELOPE:
        if name in entry:
            hint = (
                "; to keep the event's own time, put it in telemetry (e.g. telemetry.event_time)"
                if name == "timestamp"
                else ""
            )
            return name, f"'{name}' is set by the writer for every record and cannot be given: remove it{hint}"
    return None


def _fail(index: int, field: str, message: str) -> SchemaError:
    err = SchemaError(f"entry {index}: {field or 'entry'}: {message}")
    err.index, err.field = index, field
    return err


def encode(entries: Iterable[Mapping[str, Any]], first: int = 0) -> list[bytes]:
    """Encode entries to compact JSON, keys in the caller's order. This is the ETL hot path: one
    orjson call per entry, and the slow walks below run only on failure or on the entries where
    `null` shows up (NaN and Infinity would silently become null in orjson and can hide nowhere
    else; the core's SIMD search finds those entries). Whether each entry is an object is the
    core's check. `first` is the index of the first entry in the caller's batch (errors name
    that index)."""
    entries = entries if isinstance(entries, list) else list(entries)
    dumps = orjson.dumps
    try:
        out = [dumps(e, option=_OPTIONS) for e in entries]
    except TypeError:
        out = [_encode_one(first + i, e) for i, e in enumerate(entries)]
    for index in _core.holding_null(out):
        found = _unencodable(entries[index], [])
        if found:
            raise _fail(first + index, *found)
    return out


def encode_array(entries: list[Mapping[str, Any]], first: int = 0) -> bytes | None:
    """The entries as one compact JSON array, in one orjson call (the core splits it, see
    `Batch.add_array`): cheaper than a call and a buffer per entry. The entries holding a `null`
    are walked for a NaN or Infinity, as `encode` does (SchemaError naming `first` + its index).
    None when the chunk must take `encode`'s path, which finds and names the entry: one orjson
    refuses."""
    try:
        data = orjson.dumps(entries, option=_OPTIONS)
    except TypeError:
        return None
    holding = _core.array_holding_null(data)
    if holding is None:
        return None
    for index in holding:
        found = _unencodable(entries[index], [])
        if found:
            raise _fail(first + index, *found)
    return data


def _encode_one(index: int, entry: object) -> bytes:
    """Encode one entry, or say precisely why it cannot be (the slow path)."""
    if isinstance(entry, Mapping) and not isinstance(entry, dict):
        entry = dict(entry)
    try:
        return orjson.dumps(entry, option=_OPTIONS)
    except TypeError as e:
        found = _unencodable(entry, [])
        raise _fail(index, *(found or ("", str(e)))) from None


def check(entry: Mapping[str, Any], kind: str = "intent") -> tuple[str, str] | None:
    """(field, message) if `entry` would be refused by the writer, else None. Writes nothing."""
    try:
        (data,) = encode([entry])
    except SchemaError as e:
        return e.field or "", str(e).split(": ", 2)[-1]
    refused = _core.check_entry(kind, data)
    if refused is None:
        return None
    return (explain(entry) or refused) if kind == "intent" else refused


def refine(err: SchemaError, entries: list[Mapping[str, Any]]) -> SchemaError:
    """Replace the core's message with the JSON Schema's path-precise one when it has one."""
    if err.index is None or not 0 <= err.index < len(entries):
        return err
    found = explain(entries[err.index])
    return _fail(err.index, *found) if found else err


__all__ = ["check", "encode", "encode_array", "entry_schema", "explain", "is_valid", "refine"]
