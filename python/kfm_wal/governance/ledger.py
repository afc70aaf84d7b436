"""The governance ledger: a second kfm-wal log (default data/governance/ledger/), hash-chained and
sealed by the same core, holding one record per governed operation of tier >= 1 and one per
refusal. Each record is an ordinary intent (operation "ledger_update", irreversible) whose payload
holds the ledger facts, followed by its completion, so `kfm_wal.verify` checks the ledger like any
log and it has no pending intents.

Payload (format "kfm-wal-governance/ledger-1"):
    operation, wal_id (the governed intent's, null for a refusal), tier, care, actor,
    approvals [{key_id, role, valid, counted}], decision ("allowed" | "refused"), reasons,
    status (the governed operation's completion status, null when refused), policy (version hash),
    policy_version, request_digest
pre_state_hash = the ledger's head hash before the record (records appended together, e.g. for
one batch of operations, all name the head before their group); post_state_expected = the digest of the
canonical JSON of the payload (also the completion's post_state_hash).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from ..keys import SigningKey
from ..ops.digests import canonical_json, content_digest
from ..reader import is_log, records
from ..wal import Durability, Receipt, Wal
from .approvals import Decision
from .policy import Policy

DEFAULT_LEDGER = "data/governance/ledger"
LEDGER_FORMAT = "kfm-wal-governance/ledger-1"
LEDGER_OPERATION = "ledger_update"
LEDGER_ACTOR = {"type": "system", "id": "kfm-wal-governance"}
LEDGER_REVERSAL = {"irreversible": True, "reason": "ledger records are append-only"}


def read(path: str | os.PathLike[str]) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """The sealed ledger records of the ledger log at `path`, without opening it for writing:
    (seq, timestamp, facts) in order, facts being the payload described above."""
    for r in records(path, kind="intent", operation=LEDGER_OPERATION):
        payload = r.body["payload"]
        if payload.get("format") == LEDGER_FORMAT:
            yield r.seq, r.timestamp, dict(payload)


def _facts(
    decision: Decision, request: Mapping[str, Any], policy: Policy, wal_id: str | None, status: str | None
) -> dict[str, Any]:
    return {
        "format": LEDGER_FORMAT,
        "operation": request["operation"],
        "wal_id": wal_id,
        "tier": decision.tier,
        "care": decision.care,
        "actor": dict(request["actor"]),
        "approvals": [dict(a) for a in decision.approvals],
        "decision": "allowed" if decision.allowed else "refused",
        "reasons": list(decision.reasons),
        "status": status,
        "policy": decision.policy,
        "policy_version": policy.version,
        "request_digest": decision.request_digest,
    }


class Ledger:
    """An open governance ledger. Use `Ledger.open` (creates the log when missing)."""

    def __init__(self, wal: Wal) -> None:
        self.wal = wal
        self._lock = threading.Lock()  # head read + append must not interleave

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str] = DEFAULT_LEDGER,
        key: SigningKey | None = None,
        *,
        durability: Durability = "fsync",
    ) -> Ledger:
        if key is None:
            from ..errors import UsageError

            raise UsageError("the governance ledger needs a signing key")
        if is_log(path):
            return cls(Wal.open(path, key, durability=durability))
        return cls(Wal.create(path, key, durability=durability))

    @property
    def path(self) -> Path:
        return self.wal.path

    def record(
        self,
        decision: Decision,
        request: Mapping[str, Any],
        policy: Policy,
        *,
        wal_id: str | None = None,
        status: str | None = None,
        telemetry: Mapping[str, Any] | None = None,
    ) -> Receipt:
        """Append one ledger record (intent + completion, each durable); returns the intent's receipt."""
        return self.record_many([(decision, request, wal_id, status, telemetry)], policy)[0]

    def record_many(
        self,
        records: Sequence[tuple[Decision, Mapping[str, Any], str | None, str | None, Mapping[str, Any] | None]],
        policy: Policy,
    ) -> list[Receipt]:
        """Append several ledger records (decision, request, wal_id, status, telemetry) in two group
        commits (the intents, then their completions); every record of the group names, as its
        pre_state_hash, the ledger's head hash before the group. Returns the intents' receipts."""
        entries = []
        with self._lock:
            head = self.wal.head[1]
            for decision, request, wal_id, status, telemetry in records:
                facts = _facts(decision, request, policy, wal_id, status)
                digest = content_digest(canonical_json(facts))
                tel = (
                    dict(telemetry)
                    if telemetry and telemetry.get("id")
                    else {"id": f"governance:{decision.request_digest}"}
                )
                entries.append(
                    {
                        "operation": LEDGER_OPERATION,
                        "actor": dict(LEDGER_ACTOR),
                        "pre_state_hash": head,
                        "post_state_expected": digest,
                        "payload": facts,
                        "reversal": dict(LEDGER_REVERSAL),
                        "tier": 0,
                        "governance": {"care": "public"},  # facts only: ids, roles, hashes, reasons
                        "lineage_links": [f"wal:{wal_id}"] if wal_id else [],
                        "telemetry": tel,
                    }
                )
            receipts = list(self.wal.append_many(entries))
            done = [
                {"wal_id": r.wal_id, "status": "succeeded", "post_state_hash": e["post_state_expected"]}
                for r, e in zip(receipts, entries, strict=True)
            ]
            self.wal.complete_many(done)
        return receipts

    def entries(self) -> Iterator[dict[str, Any]]:
        """The ledger facts (payloads) in order."""
        for _seq, _time, facts in read(self.path):
            yield facts

    def close(self) -> None:
        self.wal.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


__all__ = ["DEFAULT_LEDGER", "LEDGER_FORMAT", "Ledger"]
