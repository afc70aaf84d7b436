"""The governance policy: a versioned TOML file saying, per risk tier 0-4, how many approvals an
operation needs and by which roles, whether a snapshot must precede it and which operations may
use the tier; and what the CARE labels demand (`restricted`: an approval by a key with the
override role; `sensitive`: a declared masking step).

    version = 1
    [care]
    override_role = "data-steward"
    masking_required = true
    [tiers.2]
    approvals = 1
    roles = ["maintainer"]
    required_roles = []          # optional
    snapshot_required = false
    operations = ["*"]           # or a list of operation names; tier 4: ["rollback"] only
    [hotfix.tiers.2]             # optional, tiers 0-3: what a hotfix (operation "hotfix") needs
    approvals = 2                #   instead of its tier's rule (same keys, no `operations`)
    roles = ["maintainer", "data-steward"]
    snapshot_required = true

Every key is checked, unknown keys included (a typo in a policy must not silently weaken it);
errors name the file and the dotted key. The policy's version hash is "sha256:" + SHA-256 of the
file's exact bytes.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..schema import entry_schema
from .errors import policy_error

# The entry schema (schemas/wal-entry-v1.json) is the one source of the tiers, the CARE labels and
# what an operation name is; tests/test_vocabulary_drift.py holds the core's copies to it.
_ENTRY = entry_schema()["properties"]
TIERS = tuple(range(_ENTRY["tier"]["minimum"], _ENTRY["tier"]["maximum"] + 1))
CARE_LABELS: tuple[str, ...] = tuple(_ENTRY["governance"]["properties"]["care"]["enum"])
ANY_OPERATION = "*"
DEFAULT_POLICY_NAME = "default-policy.toml"
_OPERATION = re.compile(_ENTRY["operation"]["pattern"])
_TIER_KEYS = {"approvals", "roles", "required_roles", "snapshot_required", "operations"}
_CARE_KEYS = {"override_role", "masking_required"}
_TOP_KEYS = {"version", "care", "tiers", "irreversible", "hotfix"}
_HOTFIX_KEYS = {"tiers"}
HOTFIX = "hotfix"  # the operation kind of an unscheduled fix; never tier 4 (that is rollback's)
RETRY = "retry"  # the operation kind of a re-run of a failed, refused or reversed operation


def judged_as(operation: Any, governance: Any) -> Any:
    """The operation kind whose rule judges an operation: a retry of a hotfix (governance.retry_of,
    signed with the rest) is judged as the hotfix was; every other operation as itself."""
    retry_of = governance.get("retry_of") if isinstance(governance, Mapping) else None
    return HOTFIX if operation == HOTFIX or (operation == RETRY and retry_of == HOTFIX) else operation


HOTFIX_TIERS = tuple(t for t in TIERS if t < 4)
_IRREVERSIBLE_KEYS = {"min_tier"}


@dataclass(frozen=True)
class TierRule:
    tier: int
    approvals: int
    roles: tuple[str, ...]  # roles an approval may be made under to count; () = any role
    required_roles: tuple[str, ...]  # each must be carried by at least one counted approval
    snapshot_required: bool
    operations: tuple[str, ...]  # ("*",) = any operation

    def allows_operation(self, operation: str) -> bool:
        return ANY_OPERATION in self.operations or operation in self.operations

    def counts_role(self, role: str) -> bool:
        return not self.roles or role in self.roles


@dataclass(frozen=True)
class Policy:
    version: int | str
    version_hash: str  # "sha256:<hex>" of the file bytes
    tiers: dict[int, TierRule]
    override_role: str
    masking_required: bool
    source: str = "<policy>"
    # Operations declared irreversible (governance.irreversible: a reason) need at least this tier.
    irreversible_min_tier: int = 0
    # The rules a hotfix follows per tier (0-3) instead of its tier's; absent: the tier's rule.
    hotfix: dict[int, TierRule] = field(default_factory=dict)

    def tier(self, tier: int) -> TierRule:
        return self.tiers[tier]

    def rule(self, tier: int, operation: str) -> TierRule:
        """The rule an operation of this kind at this tier is judged by (a hotfix: its own)."""
        if operation == HOTFIX and tier in self.hotfix:
            return self.hotfix[tier]
        return self.tiers[tier]


def _unknown(file: str, where: str, table: dict[str, Any], allowed: set[str]) -> None:
    for k in table:
        if k not in allowed:
            key = f"{where}.{k}" if where else k
            raise policy_error(file, key, f"unknown key (allowed: {', '.join(sorted(allowed))})")


def _table(file: str, key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise policy_error(file, key, f"must be a table, got {type(value).__name__}")
    return value


def _roles(file: str, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(r, str) and r for r in value):
        raise policy_error(file, key, "must be a list of non-empty role names")
    if len(set(value)) != len(value):
        raise policy_error(file, key, "lists a role twice")
    return tuple(value)


def _bool(file: str, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise policy_error(file, key, f"must be true or false, got {value!r}")
    return value


def _tier(file: str, n: int, raw: Any, where: str = "") -> TierRule:
    where = where or f"tiers.{n}"
    hotfix = where.startswith(HOTFIX)
    allowed = _TIER_KEYS - {"operations"} if hotfix else _TIER_KEYS
    t = _table(file, where, raw)
    _unknown(file, where, t, allowed)
    for k in sorted(allowed - {"required_roles"}):
        if k not in t:
            raise policy_error(file, f"{where}.{k}", "missing")
    approvals = t["approvals"]
    if isinstance(approvals, bool) or not isinstance(approvals, int) or not 0 <= approvals <= 100:
        raise policy_error(file, f"{where}.approvals", f"must be an integer from 0 to 100, got {approvals!r}")
    roles = _roles(file, f"{where}.roles", t["roles"])
    required = _roles(file, f"{where}.required_roles", t.get("required_roles", []))
    for r in required:
        if roles and r not in roles:
            raise policy_error(file, f"{where}.required_roles", f"role {r} is not in {where}.roles, so it cannot count")
    if len(required) > approvals:
        raise policy_error(
            file, f"{where}.required_roles", f"{len(required)} required role(s) but only {approvals} approval(s) needed"
        )
    snapshot = _bool(file, f"{where}.snapshot_required", t["snapshot_required"])
    if hotfix:
        return TierRule(n, approvals, roles, required, snapshot, (HOTFIX,))
    ops = t["operations"]
    if not isinstance(ops, list) or not ops or not all(isinstance(o, str) for o in ops):
        raise policy_error(file, f"{where}.operations", 'must be a non-empty list of operation names, or ["*"]')
    for o in ops:
        if o != ANY_OPERATION and not _OPERATION.match(o):
            raise policy_error(file, f"{where}.operations", f"{o!r} is not an operation name")
    if ANY_OPERATION in ops and len(ops) > 1:
        raise policy_error(file, f"{where}.operations", '"*" must stand alone')
    if n == 4 and ops != ["rollback"]:
        raise policy_error(file, f"{where}.operations", 'tier 4 is reserved for rollback: must be ["rollback"]')
    return TierRule(n, approvals, roles, required, snapshot, tuple(ops))


def _hotfix(file: str, raw: Any) -> dict[int, TierRule]:
    table = _table(file, HOTFIX, raw)
    _unknown(file, HOTFIX, table, _HOTFIX_KEYS)
    tiers = _table(file, f"{HOTFIX}.tiers", table.get("tiers", {}))
    out = {}
    for k, rule in tiers.items():
        if k not in {str(n) for n in HOTFIX_TIERS}:
            why = "tier 4 is reserved for rollback" if k == "4" else "unknown tier"
            raise policy_error(file, f"{HOTFIX}.tiers.{k}", f"{why} (a hotfix is tier 0 to 3)")
        out[int(k)] = _tier(file, int(k), rule, f"{HOTFIX}.tiers.{k}")
    return out


def parse_policy(data: bytes, source: str = "<policy>") -> Policy:
    """Parse and validate policy bytes; PolicyError names `source` and the key at fault."""
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise policy_error(source, None, f"not UTF-8 ({e})") from None
    except tomllib.TOMLDecodeError as e:
        raise policy_error(source, None, f"not valid TOML: {e}") from None
    _unknown(source, "", doc, _TOP_KEYS)
    if "version" not in doc:
        raise policy_error(source, "version", "missing")
    version = doc["version"]
    valid_int = isinstance(version, int) and not isinstance(version, bool) and version >= 1
    if not (valid_int or (isinstance(version, str) and version.strip())):
        raise policy_error(source, "version", f"must be a positive integer or a non-empty string, got {version!r}")
    care = _table(source, "care", doc.get("care", {}))
    _unknown(source, "care", care, _CARE_KEYS)
    override = care.get("override_role")
    if not isinstance(override, str) or not override:
        raise policy_error(source, "care.override_role", "missing or not a non-empty role name")
    masking = _bool(source, "care.masking_required", care.get("masking_required", True))
    tiers_raw = _table(source, "tiers", doc.get("tiers"))
    for k in tiers_raw:
        if k not in {str(n) for n in TIERS}:
            raise policy_error(source, f"tiers.{k}", "unknown tier (tiers are 0 to 4)")
    tiers = {}
    for n in TIERS:
        if str(n) not in tiers_raw:
            raise policy_error(source, f"tiers.{n}", "missing (every tier 0 to 4 must be defined)")
        tiers[n] = _tier(source, n, tiers_raw[str(n)])
    irreversible = _table(source, "irreversible", doc.get("irreversible", {}))
    _unknown(source, "irreversible", irreversible, _IRREVERSIBLE_KEYS)
    min_tier = irreversible.get("min_tier", 0)
    if not isinstance(min_tier, int) or isinstance(min_tier, bool) or min_tier not in TIERS:
        raise policy_error(source, "irreversible.min_tier", f"must be a tier 0 to 4, got {min_tier!r}")
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    hotfix = _hotfix(source, doc.get(HOTFIX, {}))
    return Policy(version, digest, tiers, override, masking, source, min_tier, hotfix)


def load_policy(path: str | os.PathLike[str]) -> Policy:
    """Read and validate the policy file at `path`."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise policy_error(str(p), None, f"cannot read policy: {e.strerror}") from None
    return parse_policy(data, str(p))


def default_policy_bytes() -> bytes:
    return resources.files("kfm_wal.governance").joinpath(DEFAULT_POLICY_NAME).read_bytes()


def default_policy() -> Policy:
    """The policy shipped with the package (kfm_wal/governance/default-policy.toml)."""
    return parse_policy(default_policy_bytes(), f"kfm_wal/governance/{DEFAULT_POLICY_NAME}")


__all__ = [
    "ANY_OPERATION",
    "HOTFIX",
    "RETRY",
    "judged_as",
    "HOTFIX_TIERS",
    "CARE_LABELS",
    "TIERS",
    "Policy",
    "TierRule",
    "default_policy",
    "default_policy_bytes",
    "load_policy",
    "parse_policy",
]
