"""`governed_run`: a file operation that runs only when the policy allows it.

The decision is taken BEFORE anything is recorded in the operations log or touches the data root.
A refusal is recorded in the governance ledger and raised as GovernanceError, naming every missing
or invalid item; nothing is executed. An allowed operation runs through `kfm_wal.ops.run` with
governance = the caller's governance + "approvals" + "policy" (the policy version hash), under a
Governor of this policy, keyring and ledger, which records its outcome in the ledger (also when
it was refused or failed by the ops layer, before the ops error is re-raised)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import UsageError
from ..keys import Keyring
from ..ops import files
from ..ops.blobs import BlobStore
from ..ops.operation import OperationResult, RootLike, run
from ..ops.paths import DEFAULT_ROOT, FileRoot
from ..wal import Wal
from .approvals import Decision, build_request, check
from .errors import GovernanceError
from .gate import Governor
from .ledger import Ledger
from .policy import Policy
from .snapshot_required import judged


def _refuse(
    ledger: Ledger, decision: Decision, request: Mapping[str, Any], policy: Policy, telemetry: Mapping[str, Any]
) -> GovernanceError:
    receipt = ledger.record(decision, request, policy, telemetry=telemetry)
    err = GovernanceError(
        f"operation {request['operation']} (tier {decision.tier}, {decision.care}) refused by governance policy "
        f"{decision.policy}, nothing executed: " + "; ".join(decision.reasons)
    )
    err.decision, err.ledger_receipt = decision, receipt
    return err


def _path_mismatches(root: FileRoot, actions: list[dict[str, Any]]) -> list[str]:
    """Paths the ops layer would record differently from the approved ones (a symlink)."""
    out = []
    for a in actions:
        for p in (a["src"], a["dst"]) if a["type"] == "file.move" else (a["path"],):
            real = root.locate(p)[0]
            if real != p:
                out.append(f"path {p} resolves to {real} (symlink); the approvals cover {p}")
    return out


def governed_run(
    wal: Wal,
    actions: Sequence[files.Action],
    *,
    actor: Mapping[str, Any],
    tier: int,
    governance: Mapping[str, Any],
    telemetry: Mapping[str, Any],
    approvals: Sequence[Mapping[str, Any]] = (),
    policy: Policy,
    keyring: Keyring,
    ledger: Ledger,
    lineage_links: Sequence[str] = (),
    operation: str = "etl_step",
    root: RootLike = DEFAULT_ROOT,
    blobs: BlobStore | None = None,
) -> OperationResult:
    """Check the approvals against the policy, then run the operation (kfm_wal.ops.run) or refuse.
    `governance` holds care and any declared masking / snapshot; approvals are passed apart."""
    if "approvals" in governance or "policy" in governance:
        raise UsageError("governed_run: pass approvals with approvals=...; governance.approvals/policy are set here")
    request = build_request(
        actions, actor=actor, tier=tier, governance=governance, lineage_links=lineage_links, operation=operation
    )
    decision = judged(check(request, list(approvals), keyring, policy), wal.path, policy, request)
    if not decision.allowed:
        raise _refuse(ledger, decision, request, policy, telemetry)
    file_root = root if isinstance(root, FileRoot) else FileRoot(root)
    mismatch = _path_mismatches(file_root, request["actions"])
    if mismatch:
        refused = Decision(
            False, mismatch, decision.tier, decision.care, decision.request_digest, decision.policy, decision.approvals
        )
        raise _refuse(ledger, refused, request, policy, telemetry)
    # ops.run decides again under the same governor (the same request: allowed) and records the
    # outcome in the ledger, whatever it is, before an ops error reaches the caller.
    governor = Governor(policy, keyring, ledger=ledger)
    declared = governance.get("irreversible")  # what the approvers signed lets ops record it
    return run(
        wal,
        actions,
        actor=actor,
        tier=tier,
        governance={**governance, "approvals": [dict(a) for a in approvals]},
        telemetry=telemetry,
        lineage_links=lineage_links,
        operation=operation,
        root=file_root,
        blobs=blobs,
        irreversible=declared if isinstance(declared, str) and declared else None,
        governor=governor,
    )


__all__ = ["governed_run"]
