"""Body rules (FORMAT.md section 4): the members each record kind must, may and must not have."""

from __future__ import annotations

import math
import re

from ref_grammar import _OPERATION, _SHA, _UUID4, FORMATS
from ref_json import Signed
from ref_keys import _key_matches, b64decode, key_id_of

_SURROGATE = re.compile("[\ud800-\udfff]")
_UINT64 = 2**64


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, (bool, Signed))


def _is_str(v) -> bool:
    """A string section 4 judges: it must decode to valid Unicode (no lone surrogate)."""
    return isinstance(v, str) and _SURROGATE.search(v) is None


def _is_sha(v) -> bool:
    return isinstance(v, str) and _SHA.fullmatch(v) is not None


def _nonempty_str(v) -> bool:
    return _is_str(v) and v != ""


def _judged(v, names) -> bool:
    """An object whose judged members `names` are not repeated (other members are free)."""
    return isinstance(v, dict) and not (getattr(v, "repeated", set()) & set(names))


def _present(obj: dict, optional) -> dict:
    """`obj` without its optional members that are null (FORMAT.md section 2: null = absent)."""
    return {k: v for k, v in obj.items() if not (v is None and k in optional)}


_HEADER_MEMBERS = ("format", "log_id", "segment", "key_id", "public_key", "max_record_bytes", "max_segment_bytes")
# A stream id names one writer's log in a log set (FORMAT.md 4, "stream: one writer among many").
_STREAM = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_COMPLETION_OPTIONAL = ("post_state_hash", "executed_digest", "duration_ms", "error", "detail")
_INTENT_MEMBERS = (
    "wal_id",
    "operation",
    "actor",
    "pre_state_hash",
    "post_state_expected",
    "payload",
    "reversal",
    "tier",
    "governance",
    "lineage_links",
    "telemetry",
)


def _reversal_ok(r) -> bool:
    # FORMAT.md section 4: non-empty `steps` (with `irreversible` absent or false), or
    # `irreversible: true` with a non-empty `reason` and no steps; other members are free.
    if not _judged(r, ("steps", "irreversible", "reason")):
        return False
    r = _present(r, ("steps", "irreversible", "reason"))
    irreversible = r.get("irreversible", False)
    if not isinstance(irreversible, bool):
        return False
    if "steps" in r:
        return not irreversible and isinstance(r["steps"], list) and len(r["steps"]) > 0
    return irreversible and _nonempty_str(r.get("reason"))


def check_body(kind: str, b: dict) -> list:
    """Problems with the body members of a record of `kind` (empty list: fine)."""
    problems = []
    for name in sorted(getattr(b, "repeated", ())):
        problems.append(f"member {name!r} is repeated (or names an envelope member)")
    b = _present(b, {"key": ("public_key",), "completion": _COMPLETION_OPTIONAL}.get(kind, ()))

    def members(required, optional=()):
        for name in required:
            if name not in b:
                problems.append(f"missing member {name!r}")
        for name in b:
            if name not in required and name not in optional:
                problems.append(f"unknown member {name!r}")

    def rule(name, ok, what):
        if name in b and not ok(b[name]):
            problems.append(f"{name}: {what}")

    if kind == "header":
        members(_HEADER_MEMBERS, ("stream",))
        rule("stream", lambda v: isinstance(v, str) and _STREAM.fullmatch(v), "must match ^[a-z0-9][a-z0-9._-]{0,63}$")
        rule("format", lambda v: v in FORMATS, f"must be one of {FORMATS!r}")
        rule("log_id", lambda v: isinstance(v, str) and _UUID4.fullmatch(v), "must be a lowercase UUIDv4")
        rule("segment", lambda v: _is_int(v) and 0 <= v < _UINT64, "must be an integer")
        rule("public_key", lambda v: _key_matches(v, key_id_of(b64decode(v, 32) or b"")), "must be a public key")
        rule("key_id", lambda v: _key_matches(b.get("public_key"), v), "must be the key id of public_key")
        rule("max_record_bytes", lambda v: _is_int(v) and 0 <= v < _UINT64, "must be an integer 0 to 2^64-1")
        rule("max_segment_bytes", lambda v: _is_int(v) and 0 <= v < _UINT64, "must be an integer 0 to 2^64-1")
    elif kind == "seal":
        members(("key_id", "signature", "closes"))
        rule("key_id", _is_str, "must be a string")
        rule("signature", _is_str, "must be a string (its base64 is judged by section 5: seal.signature)")
        rule("closes", lambda v: isinstance(v, bool), "must be a boolean")
    elif kind == "key":
        members(("action", "key_id"), ("public_key",))
        rule("action", lambda v: v in ("rotate", "revoke"), "must be rotate or revoke")
        rule("key_id", _is_str, "must be a string")
        if b.get("action") == "rotate":
            if "public_key" not in b:
                problems.append("public_key is required for rotate")
            rule(
                "public_key",
                lambda v: _key_matches(v, b.get("key_id")),
                "must be a base64 32-byte key whose key id is key_id",
            )
    elif kind == "intent":
        members(_INTENT_MEMBERS)
        rule("wal_id", lambda v: isinstance(v, str) and _UUID4.fullmatch(v), "must be a lowercase UUIDv4")
        rule(
            "operation", lambda v: isinstance(v, str) and _OPERATION.fullmatch(v), "must match ^[a-z][a-z0-9_.]{0,63}$"
        )
        rule(
            "actor",
            lambda v: (
                _judged(v, ("type", "id"))
                and v.get("type") in ("developer", "ci", "system")
                and _nonempty_str(v.get("id"))
            ),
            "needs type developer|ci|system and a non-empty id",
        )
        rule("pre_state_hash", _is_sha, "must be sha256:<64 hex>")
        rule("post_state_expected", _is_sha, "must be sha256:<64 hex>")
        rule("payload", lambda v: isinstance(v, dict), "must be an object")
        rule("reversal", _reversal_ok, "must be {steps: [...]} or {irreversible: true, reason}")
        rule("tier", lambda v: _is_int(v) and 0 <= v <= 4, "must be an integer 0-4")
        if b.get("tier") == 4 and _is_int(b.get("tier")) and b.get("operation") != "rollback":
            problems.append("tier: 4 is reserved for operation rollback")
        rule(
            "governance",
            lambda v: (
                _judged(v, ("care", "approvals"))
                and v.get("care") in ("public", "sensitive", "restricted")
                and isinstance(_present(v, ("approvals",)).get("approvals", []), list)
            ),
            "needs care public|sensitive|restricted; approvals: array",
        )
        rule(
            "lineage_links",
            lambda v: isinstance(v, list) and all(_nonempty_str(x) for x in v),
            "must be an array of non-empty strings",
        )
        rule("telemetry", lambda v: _judged(v, ("id",)) and _nonempty_str(v.get("id")), "needs a non-empty id")
    elif kind == "completion":
        members(("wal_id", "status"), _COMPLETION_OPTIONAL)
        rule("wal_id", lambda v: isinstance(v, str) and _UUID4.fullmatch(v), "must be a lowercase UUIDv4")
        rule("status", lambda v: v in ("succeeded", "failed", "refused", "reversed"), "unknown status")
        rule("post_state_hash", _is_sha, "must be sha256:<64 hex>")
        rule("executed_digest", _is_sha, "must be sha256:<64 hex>")
        rule(
            "duration_ms",
            lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0,
            "must be a number >= 0",
        )
        rule("error", _is_str, "must be a string")
        rule("detail", lambda v: isinstance(v, dict), "must be an object")
    else:
        problems.append(f"unknown kind {kind!r}")
    return problems
