"""`Governor`: the governance an operation is decided under, wherever it runs (kfm_wal.ops calls
it through ops/governed.py for every governed operation: tier >= 1, or a hotfix).

A governor holds the policy, the keyring the approvals are checked against, and the governance
ledger (a path and its signing key, or an open Ledger). `decide` judges a group of planned
intents: their governance gets "approvals" (the ones given in governance.approvals, plus an
`approver`'s, see there) and "policy" (the policy's version hash); when any is refused, every
refusal is recorded in the ledger (one group commit) and GovernanceError is raised, nothing
having been recorded in the operations log. `record` writes the outcomes of the allowed ones.
A governor without an open `ledger` opens the ledger for each group of records; a job running
many operations one by one gives it an open Ledger (as the demo does), `run_batch` needs not.

    Governor.for_log("data/wal")   # the shipped policy, data/keys/keyring.json, data/keys/writer.pem
                                   # signs data/governance/ledger
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import provision
from ..errors import UsageError
from ..keys import Keyring, SigningKey, load, load_keyring
from ..ops.digests import canonical_json
from .approvals import Decision, canonical_request, check, request_digest, request_from_intent
from .errors import GovernanceError
from .ledger import Ledger
from .policy import Policy, default_policy
from .snapshot import declared
from .snapshot_required import judged

# An approver signs the requests it is shown: request -> approvals (kfm_wal.governance.approve).
# For reviewers that are programs (a CI gate, the demo's reviewer key); people use `kfm-wal approve`.
Approver = Callable[[dict[str, Any]], Sequence[Mapping[str, Any]]]


def _undeclared_irreversible(entry: Mapping[str, Any]) -> str | None:
    """An irreversible operation must say so where its approvers sign (governance.irreversible)."""
    reversal = entry.get("reversal")
    if isinstance(reversal, Mapping) and reversal.get("irreversible") is True:
        if not declared(entry["governance"].get("irreversible")):
            return "irreversible operation without a declaration (governance.irreversible) for its approvers"
    return None


def _named(entry: Mapping[str, Any]) -> dict[str, Any]:
    """What a ledger record says of the operation besides its decision: its kind and author."""
    return {"operation": entry["operation"], "actor": entry["actor"]}


def ledger_path_for(log_dir: str | os.PathLike[str]) -> Path:
    """`<parent of the log directory>/governance/ledger`: data/wal's ledger is data/governance/ledger."""
    return Path(os.path.abspath(log_dir)).parent / "governance" / "ledger"


@dataclass
class Governor:
    policy: Policy
    keyring: Keyring
    ledger_path: Path | None = None
    ledger_key: SigningKey | None = None
    approver: Approver | None = None
    ledger: Ledger | None = None  # an open ledger (its owner closes it); else opened per record
    key_path: Path | None = field(default=None, repr=False)  # where ledger_key is loaded from

    @classmethod
    def for_log(
        cls,
        log_dir: str | os.PathLike[str],
        *,
        policy: Policy | None = None,
        keyring: Keyring | None = None,
        ledger: Ledger | None = None,
        key: SigningKey | None = None,
        approver: Approver | None = None,
    ) -> Governor:
        """The governance of the log in `log_dir`, each part defaulting to its place next to it:
        the shipped policy, <parent>/keys/keyring.json (none: no key is trusted), the ledger in
        <parent>/governance/ledger signed by `key` or <parent>/keys/writer.pem."""
        if keyring is None:
            ring_path = provision.default_keyring_path(log_dir)
            keyring = load_keyring(ring_path) if ring_path.exists() else Keyring(())
        return cls(
            policy or default_policy(),
            keyring,
            ledger_path_for(log_dir),
            key,
            approver,
            ledger,
            provision.default_key_path(log_dir),
        )

    def _key(self) -> SigningKey:
        if self.ledger_key is None:
            where = self.key_path
            if where is None or not where.exists():
                raise UsageError(
                    f"governed operations are recorded in the governance ledger {self.ledger_path}, whose signing "
                    f"key {where or '(none given)'} is missing; give the ledger's key (Governor(ledger_key=...))"
                )
            self.ledger_key = load(where)
        return self.ledger_key

    @contextmanager
    def open_ledger(self) -> Iterator[Ledger]:
        if self.ledger is not None:
            yield self.ledger
            return
        if self.ledger_path is None:
            raise UsageError("a Governor needs a ledger or a ledger_path")
        with Ledger.open(self.ledger_path, self._key()) as ledger:
            yield ledger

    def decide(
        self, entries: Sequence[dict[str, Any]], log_dir: str | os.PathLike[str] | None = None
    ) -> list[Decision]:
        """Judge each intent entry (its governance completed in place); raises GovernanceError,
        after recording the refusals, when any is refused. `log_dir`: the log the operations go
        to, where a snapshot they must name has to be recorded (None: the declaration alone)."""
        if self.ledger is None:
            self._key()  # a ledger that cannot be written refuses before anything is judged
        decisions: list[Decision] = []
        # Operations carrying no approval are judged once per distinct request apart from their
        # actions (a batch of like operations: one decision), their own request digests kept.
        unapproved: dict[bytes, Decision] = {}
        for entry in entries:
            given = entry["governance"].get("approvals", [])
            if not isinstance(given, list):
                raise UsageError("governance.approvals must be a list of approval objects")
            request = request_from_intent(entry)  # the signed members: approvals and policy left out
            approvals = [*given, *(self.approver(request) if self.approver else ())]
            if approvals:
                decision = check(request, approvals, self.keyring, self.policy)
            else:
                like = canonical_json({**canonical_request(request), "actions_digest": None})
                if like not in unapproved:
                    unapproved[like] = check(request, approvals, self.keyring, self.policy)
                decision = replace(unapproved[like], request_digest=request_digest(request))
            if log_dir is not None:
                decision = judged(decision, log_dir, self.policy, entry)
            undeclared = _undeclared_irreversible(entry)
            if undeclared:
                decision = replace(decision, allowed=False, reasons=[*decision.reasons, undeclared])
            # Recorded: every approval judged, and the policy that decides now (not an earlier one).
            entry["governance"] = {
                **entry["governance"],
                "approvals": [dict(a) for a in approvals],
                "policy": self.policy.version_hash,
            }
            decisions.append(decision)
        refused = [(e, d) for e, d in zip(entries, decisions, strict=True) if not d.allowed]
        if refused:
            raise self._refuse(refused, len(entries))
        return decisions

    def _refuse(self, refused: list[tuple[dict[str, Any], Decision]], of: int) -> GovernanceError:
        with self.open_ledger() as ledger:
            receipts = ledger.record_many(
                [(d, _named(e), None, None, e.get("telemetry")) for e, d in refused], self.policy
            )
        entry, decision = refused[0]
        where = f" ({len(refused)} of {of} operations of the batch refused; the first:)" if of > 1 else ""
        err = GovernanceError(
            f"operation {entry['operation']} (tier {decision.tier}, {decision.care}) refused by governance policy "
            f"{decision.policy}{where}, nothing executed: " + "; ".join(decision.reasons)
        )
        err.decision, err.ledger_receipt = decision, receipts[0]
        return err

    def record(self, outcomes: Sequence[tuple[Mapping[str, Any], Decision, str, str]]) -> None:
        """Record allowed operations' outcomes: (intent entry, decision, wal_id, completion status)."""
        if not outcomes:
            return
        with self.open_ledger() as ledger:
            # The ledger's facts name the request by its digest (in the decision): no need to rebuild it.
            ledger.record_many(
                [(d, _named(e), wal_id, status, e.get("telemetry")) for e, d, wal_id, status in outcomes], self.policy
            )


__all__ = ["Approver", "Governor", "ledger_path_for"]
