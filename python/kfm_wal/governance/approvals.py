"""Approvals: Ed25519 signatures by keyring keys (carrying roles) over the canonical digest of an
operation request, and the policy decision over a request and its approvals.

The approval request (what an approver signs) is the JSON object with exactly these members:

    operation       the operation name (e.g. "etl_step")
    actor           the author's actor object, as it will be recorded in the intent
    tier            the risk tier, integer 0-4
    governance      the intent's governance object without its "approvals" and "policy" members
    lineage_links   the intent's lineage links (array of strings)
    actions_digest  "sha256:" + SHA-256 of the canonical JSON of the payload actions (the
                    intent's payload.actions, kfm_wal.ops form; JSON null when there are none)

canonical JSON = compact (no whitespace), keys sorted, UTF-8 (not ASCII-escaped), no NaN;
digest = SHA-256 of the canonical JSON of the request, hex; signed message = the bytes
b"kfm-wal/1 approval\\n" + the 64 lowercase hex digits. An approval object is
{"key_id": ..., "role": ..., "signature": <standard base64 of the 64-byte signature>}.
A request file may carry other members (e.g. "actions", for review): they are not signed, but
`approve` refuses a request whose "actions" do not hash to its actions_digest.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..errors import UsageError
from ..keys import Keyring, SigningKey
from ..ops import files
from ..ops.digests import actions_digest, canonical_json
from ..ops.errors import PathEscapeError
from .decision import Decision
from .policy import CARE_LABELS, HOTFIX, HOTFIX_TIERS, Policy, judged_as
from .snapshot import declared as _declared
from .snapshot import snapshot_problem

APPROVAL_DOMAIN = b"kfm-wal/1 approval\n"
REQUEST_MEMBERS = ("operation", "actor", "tier", "governance", "lineage_links", "actions_digest")
UNSIGNED_GOVERNANCE = ("approvals", "policy")  # added when the operation runs
_HASH = re.compile(r"^sha256:[0-9a-f]{64}$")


# -- the request -------------------------------------------------------------------------------


def _path(p: str) -> str:
    """The lexical form kfm_wal.ops records for a path with no symlink in it; the same refusals."""
    if not isinstance(p, str) or not p or "\x00" in p or "\\" in p:
        raise PathEscapeError(f"{p!r}: a path must be a non-empty string without NUL or backslash")
    pure = PurePosixPath(p)
    if pure.is_absolute() or ".." in pure.parts or pure.as_posix() in ("", "."):
        raise PathEscapeError(f"{p!r}: give a relative path inside the data root, without '..'")
    return pure.as_posix()


def request_actions(actions: Sequence[files.Action]) -> list[dict[str, Any]]:
    """The payload actions kfm_wal.ops will record for `actions` (computed without touching any
    file: write contents are hashed, paths normalized lexically)."""
    out: list[dict[str, Any]] = []
    for a in actions:
        if isinstance(a, files.Write):
            data = bytes(a.data)
            blob = "sha256:" + hashlib.sha256(data).hexdigest()
            out.append({"type": "file.write", "path": _path(a.path), "blob": blob, "bytes": len(data)})
        elif isinstance(a, files.Delete):
            out.append({"type": "file.delete", "path": _path(a.path)})
        elif isinstance(a, files.Move):
            out.append({"type": "file.move", "src": _path(a.src), "dst": _path(a.dst)})
        else:
            raise UsageError(f"unknown file action {a!r}; use Write, Delete or Move")
    if not out:
        raise UsageError("an operation needs at least one action")
    return out


def signed_governance(governance: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in governance.items() if k not in UNSIGNED_GOVERNANCE}


def build_request(
    actions: Sequence[files.Action],
    *,
    actor: Mapping[str, Any],
    tier: int,
    governance: Mapping[str, Any],
    lineage_links: Sequence[str] = (),
    operation: str = "etl_step",
) -> dict[str, Any]:
    """The approval request for a file operation: the six signed members plus "actions" (the
    payload actions, for review), computed lexically without reading any file. For any kind of
    action (STAC, graph, mixed) use kfm_wal.ops.planned_request, which plans it as `run` will."""
    payload_actions = request_actions(actions)
    request = {
        "operation": operation,
        "actor": dict(actor),
        "tier": tier,
        "governance": signed_governance(governance),
        "lineage_links": list(lineage_links),
        "actions_digest": actions_digest(payload_actions),
        "actions": payload_actions,
    }
    canonical_request(request)  # validate now
    return request


def request_from_intent(body: Mapping[str, Any]) -> dict[str, Any]:
    """The approval request an intent record (or entry) answers to."""
    payload = body.get("payload")
    governance = body.get("governance")
    return {
        "operation": body.get("operation"),
        "actor": body.get("actor"),
        "tier": body.get("tier"),
        "governance": signed_governance(governance) if isinstance(governance, Mapping) else governance,
        "lineage_links": body.get("lineage_links"),
        "actions_digest": actions_digest(payload.get("actions") if isinstance(payload, Mapping) else None),
    }


def canonical_request(request: Mapping[str, Any]) -> dict[str, Any]:
    """The six signed members of `request`, checked; UsageError names the member at fault."""
    missing = [m for m in REQUEST_MEMBERS if m not in request]
    if missing:
        raise UsageError(f"approval request: missing member(s) {', '.join(missing)}")
    r = {m: request[m] for m in REQUEST_MEMBERS}
    if not isinstance(r["operation"], str) or not r["operation"]:
        raise UsageError("approval request: operation must be a non-empty string")
    actor = r["actor"]
    if not isinstance(actor, Mapping) or not isinstance(actor.get("id"), str) or not actor["id"]:
        raise UsageError("approval request: actor must be an object with a non-empty id")
    tier = r["tier"]
    if isinstance(tier, bool) or not isinstance(tier, int) or not 0 <= tier <= 4:
        raise UsageError(f"approval request: tier must be an integer 0-4, got {tier!r}")
    gov = r["governance"]
    if not isinstance(gov, Mapping) or gov.get("care") not in CARE_LABELS:
        raise UsageError(f"approval request: governance.care must be one of {', '.join(CARE_LABELS)}")
    r["governance"] = signed_governance(gov)
    links = r["lineage_links"]
    if not isinstance(links, list | tuple) or not all(isinstance(x, str) and x for x in links):
        raise UsageError("approval request: lineage_links must be a list of non-empty strings")
    r["lineage_links"] = list(links)
    if not isinstance(r["actions_digest"], str) or not _HASH.match(r["actions_digest"]):
        raise UsageError("approval request: actions_digest must be sha256:<64 hex>")
    if "actions" in request and actions_digest(request["actions"]) != r["actions_digest"]:
        raise UsageError("approval request: its actions do not hash to its actions_digest")
    return r


def request_digest(request: Mapping[str, Any]) -> str:
    """ "sha256:<hex>" of the canonical JSON of the request's signed members."""
    return "sha256:" + hashlib.sha256(canonical_json(canonical_request(request))).hexdigest()


def approval_message(request: Mapping[str, Any]) -> bytes:
    return APPROVAL_DOMAIN + request_digest(request).removeprefix("sha256:").encode("ascii")


def approve(request: Mapping[str, Any], key: SigningKey, role: str) -> dict[str, str]:
    """Sign `request` with `key`, claiming `role` (which the verifier's keyring must give it)."""
    if not isinstance(role, str) or not role:
        raise UsageError("approve: role must be a non-empty role name")
    signature = key.sign(approval_message(request))
    return {"key_id": key.key_id, "role": role, "signature": base64.b64encode(signature).decode("ascii")}


# -- the decision ------------------------------------------------------------------------------


def _verifies(public_key: str, message: bytes, signature: str) -> bool:
    try:
        raw_sig = base64.b64decode(signature, validate=True)
        Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key, validate=True)).verify(raw_sig, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _roles_text(roles: Sequence[str]) -> str:
    return " or ".join(roles)


def check(request: Mapping[str, Any], approvals: Sequence[Any], keyring: Keyring, policy: Policy) -> Decision:
    """Judge `request` with its `approvals` under `policy`, trusting the keys (and roles) of
    `keyring`. Every problem becomes one reason; the request is allowed only when there is none.
    An approval is the author's when its keyring name equals actor.id, or its key_id equals
    actor.key_id; the author may not approve their own operation."""
    signed = canonical_request(request)
    digest = "sha256:" + hashlib.sha256(canonical_json(signed)).hexdigest()  # request_digest, checked once
    message = APPROVAL_DOMAIN + digest.removeprefix("sha256:").encode("ascii")
    tier, op, gov, actor = signed["tier"], signed["operation"], signed["governance"], signed["actor"]
    care = str(gov["care"])
    # A retry of a hotfix (governance.retry_of, signed) is judged as the hotfix was.
    as_op = judged_as(op, gov)
    rule = policy.rule(tier, as_op)
    reasons: list[str] = []
    if as_op == HOTFIX and tier not in HOTFIX_TIERS:
        reasons.append(
            f"a hotfix cannot be tier {tier}: tier 4 is reserved for rollback; roll the change back instead "
            "(kfm-wal rollback DIR --to SNAPSHOT, or kfm-wal undo WAL_ID for one operation)"
        )
    elif not rule.allows_operation(as_op):
        reasons.append(f"operation {op} may not use tier {tier} (tier {tier} allows: {', '.join(rule.operations)})")
    if _declared(gov.get("irreversible")) and tier < policy.irreversible_min_tier:
        reasons.append(f"irreversible operations need tier {policy.irreversible_min_tier} or higher; got tier {tier}")
    snapshot = snapshot_problem(rule, as_op, gov)
    if snapshot is not None:
        reasons.append(snapshot)
    if care == "sensitive" and policy.masking_required and not _declared(gov.get("masking")):
        reasons.append("sensitive data needs a declared masking step (governance.masking)")

    seen: set[str] = set()
    valid: list[dict[str, Any]] = []
    judged: list[dict[str, Any]] = []
    if not isinstance(approvals, list | tuple):
        reasons.append("approvals must be a list of approval objects")
        approvals = []
    for i, a in enumerate(approvals):
        if not isinstance(a, Mapping) or not all(
            isinstance(a.get(k), str) and a.get(k) for k in ("key_id", "role", "signature")
        ):
            reasons.append(f"approvals[{i}] is malformed: needs key_id, role and signature strings")
            judged.append({"key_id": None, "role": None, "valid": False, "counted": False})
            continue
        key_id, role = str(a["key_id"]), str(a["role"])
        entry = {"key_id": key_id, "role": role, "valid": False, "counted": False}
        judged.append(entry)
        trusted = keyring.get(key_id)
        if key_id in seen:
            reasons.append(f"approval by {key_id} appears more than once: each key approves once")
            continue
        seen.add(key_id)
        if trusted is None:
            reasons.append(f"approval by {key_id}: key is not in the keyring")
        elif not _verifies(trusted.public_key, message, str(a["signature"])):
            reasons.append(f"approval by {key_id} does not verify (forged, or for another request)")
        elif role not in trusted.roles:
            held = ", ".join(trusted.roles) or "none"
            reasons.append(
                f"approval by {key_id} claims role {role}, which the keyring does not give it (roles: {held})"
            )
        elif (trusted.name and trusted.name == actor.get("id")) or key_id == actor.get("key_id"):
            reasons.append(f"the author may not approve their own operation (approval by {key_id})")
        else:
            entry["valid"] = True
            valid.append(entry)

    counted = [a for a in valid if rule.counts_role(a["role"])]
    for a in counted:
        a["counted"] = True
    which = f"a hotfix at tier {tier}" if as_op == HOTFIX and tier in policy.hotfix else f"tier {tier}"
    if len(counted) < rule.approvals:
        by = f" by role {_roles_text(rule.roles)}" if rule.roles else ""
        reasons.append(f"{which} needs {rule.approvals} approval(s){by}; got {len(counted)}")
    for r in rule.required_roles:
        if not any(a["role"] == r for a in counted):
            reasons.append(f"{which} needs an approval with role {r}")
    if care == "restricted" and not any(a["role"] == policy.override_role for a in valid):
        reasons.append(f"restricted data needs an approval with role {policy.override_role}")
    return Decision(not reasons, reasons, tier, care, digest, policy.version_hash, judged)


__all__ = [
    "APPROVAL_DOMAIN",
    "REQUEST_MEMBERS",
    "Decision",
    "approval_message",
    "approve",
    "build_request",
    "canonical_request",
    "check",
    "request_actions",
    "request_digest",
    "request_from_intent",
]
