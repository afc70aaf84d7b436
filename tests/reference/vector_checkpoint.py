"""Compacted logs (FORMAT.md 6.10): a log whose first two segments were moved away by a compaction,
anchored by a checkpoint intent (operation "checkpoint", payload kfm-wal-checkpoint/1) in the live
segment whose cut is the last compacted segment's closing seal.

- valid/compacted-partial: the same compaction stopped after moving segment 1 (a crash): the
  checkpoint's `segments` anchors the log at segment 2;
- valid/compacted: one intent pending at the cut is completed after it (paired with the
  checkpoint's `pending`), another stays pending;
- invalid/compacted-without-checkpoint: the same compaction, no checkpoint: the first retained
  segment is reported as today (`chain.segment`: segments are missing);
- invalid/checkpoint-cut-mismatch: the checkpoint's cut hash is not the first retained record's prev;
- invalid/checkpoint-segment-mismatch: its cut names segment 1, the first retained segment is 3;
- invalid/checkpoint-unsealed: the checkpoint is in no sealed part (its segment's last seal was cut
  off): it anchors nothing."""

from __future__ import annotations

import os
import shutil

import kfm_wal_ref as ref
from vector_bodies import LOG_ID, StepClock, completion, fixed_uuid, h, intent
from vector_expectations import expect, expected_valid, write_json
from vector_logs import KEY_SEED, InvalidCases

FORMAT = "kfm-wal-checkpoint/1"


def _prefixed(digest: str) -> str:
    return digest if digest.startswith("sha256:") else "sha256:" + digest


def checkpoint_body(cut: dict, first: dict, seals: list, pending: list, ends: list) -> dict:
    """The checkpoint intent for a cut after journal entry `cut` (the last compacted record)."""
    state = h("checkpoint-roots")
    return {
        "wal_id": fixed_uuid("checkpoint-1"),
        "operation": "checkpoint",
        "actor": {"type": "system", "id": "kfm-wal-compact"},
        "pre_state_hash": state,
        "post_state_expected": state,
        "payload": {
            "format": FORMAT,
            "cut": {"segment": cut["number"], "seq": cut["seq"], "hash": _prefixed(cut["hash"])},
            "range": {"first_seq": first["seq"], "last_seq": cut["seq"], "first_segment": first["number"]},
            "seals": [[s["seq"], _prefixed(s["hash"])] for s in seals],
            "roots": [{"role": "data", "path": "/srv/kfm/data/processed", "digest": state, "entries": 3}],
            "snapshot": None,
            "pending": pending,
            "segments": [
                {"segment": e["number"], "seq": e["seq"], "hash": _prefixed(e["hash"]), "pending": pending}
                for e in ends
            ],
            "cold": "cold",
        },
        "reversal": {"steps": [{"type": "checkpoint.none"}]},
        "tier": 0,
        "governance": {"care": "public"},
        "lineage_links": [],
        "telemetry": {"id": "checkpoint/1"},
    }


def _build(d: str, cut_edit=None, with_checkpoint: bool = True, moved: int = 2):
    """Write the three-segment log, compact segments 1-2; returns the writer's journal."""
    w = ref.RefWriter(d, KEY_SEED, LOG_ID, StepClock(), journal=True)
    w.commit([{"kind": "intent", "body": intent(1, "etl_step")}])
    w.commit([{"kind": "completion", "body": completion(1)}])
    w.commit(
        [{"kind": "intent", "body": intent(2, "stac_build")}, {"kind": "intent", "body": intent(5, "graph_write")}]
    )
    w.rotate()
    w.commit([{"kind": "intent", "body": intent(3, "etl_step")}])
    w.commit([{"kind": "completion", "body": completion(3)}])
    w.rotate()
    w.commit([{"kind": "completion", "body": completion(2)}])
    compacted = [e for e in w.journal if not e["segment"].startswith("wal-00000003-")]
    for e in w.journal:
        e["number"] = int(e["segment"][4:12])
    cut, first = compacted[-1], compacted[0]
    seals = [e for e in compacted if e["kind"] == "seal"]
    if with_checkpoint:
        ends = [e for i, e in enumerate(compacted) if i + 1 == len(compacted) or compacted[i + 1]["kind"] == "header"]
        body = checkpoint_body(cut, first, seals, [fixed_uuid("intent-2"), fixed_uuid("intent-5")], ends)
        if cut_edit:
            for b in [body["payload"]["cut"], *body["payload"]["segments"]]:
                cut_edit(b)
        w.commit([{"kind": "intent", "body": body}])
        w.commit([{"kind": "completion", "body": {"wal_id": body["wal_id"], "status": "succeeded"}}])
    w.close()
    compacted = [e for e in compacted if e["number"] <= moved]
    for name in {e["segment"] for e in compacted}:
        os.makedirs(os.path.join(d, "cold"), exist_ok=True)
        shutil.move(os.path.join(d, "archive", name), os.path.join(d, "cold", name))
    return [e for e in w.journal if e not in compacted], len(compacted)


def write_checkpoint_valid(valid: str) -> None:
    d = os.path.join(valid, "compacted")
    journal, _ = _build(d)
    journal = [{k: v for k, v in e.items() if k != "number"} for e in journal]
    write_json(os.path.join(d, "expected.json"), expected_valid(journal, [fixed_uuid("intent-5")]))
    # a compaction stopped after moving its first segment: the second is still there, and the
    # checkpoint's `segments` names the boundary the log now starts at
    d = os.path.join(valid, "compacted-partial")
    journal, _ = _build(d, moved=1)
    journal = [{k: v for k, v in e.items() if k != "number"} for e in journal]
    write_json(os.path.join(d, "expected.json"), expected_valid(journal, [fixed_uuid("intent-5")]))


def _first_retained(journal):
    return journal[0]["segment"], journal[0]["seq"]


def write_checkpoint_invalid(cases: InvalidCases) -> None:
    note = "a log starting at a later segment with no checkpoint anchoring it: segments are missing"
    edits = {
        "compacted-without-checkpoint": (None, False, note),
        "checkpoint-cut-mismatch": (
            lambda cut: cut.update(hash=h("not-the-chain-head")),
            True,
            "the checkpoint's cut hash is not the first retained record's prev: it anchors nothing",
        ),
        "checkpoint-segment-mismatch": (
            lambda cut: cut.update(segment=1),
            True,
            "the checkpoint's cut names segment 1, the first retained segment is 3: it anchors nothing",
        ),
    }
    for name, (edit, with_checkpoint, why) in edits.items():
        d = cases.case(name)
        journal, _ = _build(d, edit, with_checkpoint)
        seg, seq = _first_retained(journal)
        expect(d, seg, 0, seq, error="chain.segment", sole=False, note=why)
    d = cases.case("checkpoint-unsealed")
    journal, _ = _build(d)
    live = os.path.join(d, journal[-1]["segment"])
    # cut the live segment right after the checkpoint intent: it is then in no sealed part
    cp = next(
        e
        for e in journal
        if e["kind"] == "intent" and e["seq"] > journal[0]["seq"] and e["segment"] == journal[-1]["segment"]
    )
    with open(live, "r+b") as f:
        f.truncate(cp["offset"] + cp["length"])
    seg, seq = _first_retained(journal)
    why = "the checkpoint lies in the unsealed tail: it anchors nothing"
    expect(d, seg, 0, seq, error="chain.segment", sole=False, note=why)


__all__ = ["checkpoint_body", "write_checkpoint_invalid", "write_checkpoint_valid"]
