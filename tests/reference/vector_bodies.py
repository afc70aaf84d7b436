"""The deterministic contents of the vector logs: fixed UUIDs, a stepping clock, and the intent
and completion bodies of the basic log's group commits."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta


def fixed_uuid(label: str) -> str:
    return str(uuid.UUID(bytes=hashlib.sha256(b"kfm-wal vector uuid " + label.encode()).digest()[:16], version=4))


LOG_ID = fixed_uuid("log")
OTHER_LOG_ID = fixed_uuid("other-log")


class StepClock:
    """2026-01-01T00:00:00.000000Z, then +1 ms per call."""

    def __init__(self):
        self.n = 0

    def __call__(self) -> str:
        t = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(milliseconds=self.n)
        self.n += 1
        return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def h(label: str) -> str:
    return "sha256:" + hashlib.sha256(label.encode()).hexdigest()


def intent(
    n: int,
    operation: str,
    *,
    tier: int = 1,
    actor=("ci", "github-actions/etl-nightly"),
    care="public",
    payload=None,
    irreversible: str = None,
    approvals=None,
    links=(),
) -> dict:
    wid = fixed_uuid(f"intent-{n}")
    reversal = (
        {"irreversible": True, "reason": irreversible}
        if irreversible
        else {"steps": [{"action": "restore", "target": f"data/work/{operation}/{n:03d}", "state": h(f"pre-{n}")}]}
    )
    governance = {"care": care}
    if approvals is not None:
        governance["approvals"] = approvals
    return {
        "wal_id": wid,
        "operation": operation,
        "actor": {"type": actor[0], "id": actor[1]},
        "pre_state_hash": h(f"pre-{n}"),
        "post_state_expected": h(f"post-{n}"),
        "payload": payload
        or {
            "dataset": "ks-hydrography",
            "step": operation,
            "inputs": [f"data/raw/hydro/part-{n:03d}.parquet"],
        },
        "reversal": reversal,
        "tier": tier,
        "governance": governance,
        "lineage_links": [f"wal:{fixed_uuid(f'intent-{x}')}" for x in links],
        "telemetry": {"id": f"tel-{n:04d}", "run": "nightly-2026-01-01"},
    }


def completion(n: int, status: str = "succeeded", **extra) -> dict:
    body = {"wal_id": fixed_uuid(f"intent-{n}"), "status": status, "duration_ms": 100 + 17 * n}
    if status == "succeeded":
        body["post_state_hash"] = h(f"post-{n}")
        body["executed_digest"] = h(f"exec-{n}")
    body.update(extra)
    return body


def basic_steps():
    """The group commits of the basic log: (kind, bodies)."""
    dev = ("developer", "kfm-dev-alice")
    return [
        ("intent", [intent(1, "etl_step"), intent(2, "etl_step", links=[1])]),
        ("completion", [completion(1)]),
        (
            "intent",
            [intent(3, "stac_item", payload={"collection": "ks-landcover", "item": "lc-2025-q4"}, links=[2])],
        ),
        (
            "completion",
            [completion(2), completion(3, "failed", error="upstream tile missing: lc-2025-q4/07")],
        ),
        (
            "intent",
            [
                intent(4, "graph_write", tier=2, care="sensitive", approvals=["kfm-steward-bob"]),
                intent(5, "stac_collection", payload={"collection": "ks-landcover", "items": 12}),
                intent(6, "lineage_update", tier=0, links=[4, 5]),
            ],
        ),
        ("completion", [completion(4)]),
        (
            "intent",
            [
                intent(
                    7,
                    "hotfix",
                    tier=3,
                    actor=dev,
                    care="restricted",
                    approvals=["kfm-steward-bob", "kfm-lead-carol"],
                )
            ],
        ),
        (
            "completion",
            [
                completion(5),
                completion(6, "failed", error="graph lock timeout", detail={"retries": 3}),
                completion(7),
            ],
        ),
        (
            "intent",
            [
                intent(
                    8,
                    "rollback",
                    tier=4,
                    actor=dev,
                    approvals=["kfm-lead-carol"],
                    irreversible="restores snapshot; the superseded state is kept in the ledger",
                    payload={"to_snapshot": "snap-2025-12-31"},
                    links=[7],
                )
            ],
        ),
        ("completion", [completion(8)]),
        (
            "intent",
            [
                intent(9, "snapshot", actor=("system", "kfm-scheduler")),
                intent(10, "checkpoint", tier=0, actor=("system", "kfm-scheduler")),
            ],
        ),
        ("completion", [completion(9, "refused", error="care review pending")]),
        ("intent", [intent(11, "ledger_update", tier=2), intent(12, "etl_step", links=[11])]),
        ("completion", [completion(11), completion(12, "failed", error="schema drift in part-012")]),
    ]
