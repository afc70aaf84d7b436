"""valid/snapshot: a log holding a snapshot record (docs/FORMAT-conventions.md, "Convention:
snapshots"): an operation, the snapshot taken after it (intent + completion, operation
"snapshot", payload kfm-wal-snapshot/1, `at` = the head right before it), then a tier-3 operation
whose governance.snapshot names it. A kfm-wal/1 verifier accepts it like any log; the conventions'
rules (`validate --operations`) find nothing to report in it either."""

from __future__ import annotations

import hashlib
import json
import os

import kfm_wal_ref as ref
from vector_bodies import LOG_ID, StepClock, completion, fixed_uuid, h, intent
from vector_expectations import expected_valid, write_json
from vector_logs import KEY_SEED

NAME = "before-hotfix"


def _state_hash(state: dict[str, str]) -> str:
    pairs = sorted([k, v] for k, v in state.items())
    data = json.dumps(pairs, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return "sha256:" + hashlib.sha256(data).hexdigest()


def snapshot_bodies(at_seq: int, at_hash: str) -> tuple[dict, dict]:
    """The snapshot's intent and completion, taken with the log's head at (at_seq, at_hash)."""
    roots = [
        {"role": "data", "path": "/srv/kfm/data/processed", "digest": h("root-processed"), "entries": 12},
        {"role": "stac", "path": "/srv/kfm/data/stac", "digest": h("root-stac"), "entries": 4},
        {"role": "graph", "path": "/srv/kfm/data/graph", "digest": h("root-graph"), "entries": 96},
    ]
    roots.sort(key=lambda r: ("graph" if r["role"] == "graph" else "file", r["path"]))
    state = {f"{'graph' if r['role'] == 'graph' else 'file'}:{r['path']}": r["digest"] for r in roots}
    hashed = _state_hash(state)
    wal_id = fixed_uuid("snapshot-1")
    body = {
        "wal_id": wal_id,
        "operation": "snapshot",
        "actor": {"type": "system", "id": "kfm-wal-snapshot"},
        "pre_state_hash": hashed,
        "post_state_expected": hashed,
        "payload": {
            "format": "kfm-wal-snapshot/1",
            "name": NAME,
            "at": {"seq": at_seq, "hash": at_hash},
            "roots": roots,
        },
        "reversal": {"steps": [{"type": "snapshot.none"}]},
        "tier": 0,
        "governance": {"care": "public"},
        "lineage_links": [],
        "telemetry": {"id": f"snapshot/{NAME}"},
    }
    done = {
        "wal_id": wal_id,
        "status": "succeeded",
        "post_state_hash": hashed,
        "duration_ms": 41,
        "detail": {"snapshot": NAME},
    }
    return body, done


def write_snapshot_valid(valid) -> None:
    d = os.path.join(valid, "snapshot")
    w = ref.RefWriter(d, KEY_SEED, LOG_ID, StepClock(), journal=True)
    w.commit([{"kind": "intent", "body": intent(1, "etl_step")}])
    w.commit([{"kind": "completion", "body": completion(1)}])
    head = w.prev if w.prev.startswith("sha256:") else "sha256:" + w.prev  # the writer keeps the bare hex
    snap, snap_done = snapshot_bodies(w.seq, head)
    w.commit([{"kind": "intent", "body": snap}])
    w.commit([{"kind": "completion", "body": snap_done}])
    hotfix = intent(2, "hotfix", tier=3)
    hotfix["governance"]["snapshot"] = NAME
    w.commit([{"kind": "intent", "body": hotfix}])
    w.commit([{"kind": "completion", "body": completion(2)}])
    w.close()
    write_json(os.path.join(d, "expected.json"), expected_valid(w.journal, []))


__all__ = ["NAME", "snapshot_bodies", "write_snapshot_valid"]
