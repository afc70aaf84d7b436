"""Settling one pending operation after a crash: what state its targets are in, and what is
recorded for it (the rules, per intent without completion):

- the targets hash to `post_state_expected`: it ran to the end and only its completion was lost;
  recorded "succeeded" with the observed state;
- they hash to `pre_state_hash`: nothing of it ran; recorded "refused" (not run), or, when asked,
  re-executed now through the lifecycle's own execute step (ops/operation.py), which records what
  that run did ("succeeded", or "reversed"/"failed" after a failing action);
- every target is in a state the operation's own actions pass through (a partial run, or a
  partial in-process reversal): reversed from the before-images its intent records, recorded
  "reversed" with the observed state (which is then `pre_state_hash`);
- anything else (a target someone else changed, an operation recorded irreversible caught half
  way, a before-image missing, a custom action not registered in this process): nothing is
  changed, no completion is recorded, and the operation is reported for a person.

Every completion written here carries `detail.recovered: true` and `detail.found` (the state
found: "pre", "post" or "partial"); a re-executed one also `detail.reexecuted: true`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ..reader import Record
from .blobs import BlobStore
from .digests import state_hash
from .operation import Prepared, _execute
from .recover_parts import Resumed

NOT_RUN = "not executed: the process stopped before running it (found at recovery)"
DONE = "its targets are in the state it planned: it ran to the end, its completion was lost (found at recovery)"
PARTIAL = "interrupted: the process stopped mid-operation; rolled back at recovery"


@dataclass(frozen=True)
class Recovered:
    """What recovery did (or, in a plan, would do) with one pending intent. `status` is the
    completion recorded ("succeeded", "refused", "reversed", "failed"), or "pending" (left for a
    person, nothing changed), or "skipped" (an intent not recorded by kfm_wal.ops)."""

    wal_id: str
    status: str
    message: str
    found: str | None = None  # "pre", "post", "partial", "other", or None (not observed)
    seq: int | None = None
    operation: str | None = None
    kinds: list[str] = field(default_factory=list)
    applied: bool = True  # False: a plan, nothing was changed or recorded

    @property
    def needs_person(self) -> bool:
        return self.status == "pending"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Settled:
    recovered: Recovered
    completion: dict[str, Any] | None = None


# (status, message, state found, completion) -> the Settled of the operation being judged
Outcome = Callable[[str, str, str, "dict[str, Any] | None"], Settled]


def _detail(found: str, **more: Any) -> dict[str, Any]:
    return {"recovered": True, "found": found, **more}


def left(intent: Record, message: str, found: str | None = None, kinds: list[str] | None = None) -> Settled:
    """Left pending for a person: nothing changed, nothing recorded."""
    return Settled(
        Recovered(
            str(intent.wal_id), "pending", f"left pending: {message}", found, intent.seq, intent.operation, kinds or []
        )
    )


def settle(r: Resumed, blobs: BlobStore, *, reexecute: bool, apply: bool) -> Settled:
    """Judge `r` by the state of its targets and (with `apply`) act on it; see the module doc."""
    intent, body = r.intent, r.intent.body
    kinds = r.kinds()

    def outcome(status: str, message: str, found: str, completion: dict[str, Any] | None) -> Settled:
        rec = Recovered(r.wal_id, status, message, found, intent.seq, intent.operation, kinds, apply)
        return Settled(rec, completion if apply else None)

    started = time.perf_counter()
    try:
        now = r.observe()
    except Exception as e:  # a target turned into a directory, a user's state function failed...
        return left(intent, f"cannot observe its targets: {type(e).__name__}: {e}", kinds=kinds)
    observed = state_hash(now)
    if observed == body["post_state_expected"]:
        done = {"wal_id": r.wal_id, "status": "succeeded", "post_state_hash": observed, "detail": _detail("post")}
        return outcome("succeeded", DONE, "post", done)
    if observed == body["pre_state_hash"]:
        if not reexecute:
            not_run = {"wal_id": r.wal_id, "status": "refused", "post_state_hash": observed, "error": NOT_RUN}
            return outcome("refused", NOT_RUN, "pre", {**not_run, "detail": _detail("pre")})
        return _reexecute(r, now, blobs, apply, outcome)
    if r.recorded_pre is None:
        why = f"caught half way, and recorded irreversible ({r.irreversible}): settle it by hand"
        return left(intent, why, "other", kinds)
    doubt = r.consistent()
    if doubt is not None:
        return left(intent, f"its targets are neither in its pre nor its post state, and {doubt}", "other", kinds)
    reach = r.reachable()
    foreign = sorted(k for k, v in now.items() if v not in reach.get(k, ()))
    if foreign:
        key = foreign[0]
        return left(intent, f"{key} holds {now[key]}, a state this operation never produced", "other", kinds)
    try:
        for part in r.plan.parts:
            part.prefetch(False)  # every before-image at hand before anything is restored
        if apply:
            r.plan.reverse(len(r.plan.order))
            after = state_hash(r.observe())
            if after != body["pre_state_hash"]:
                return left(intent, "after its reversal the state does not match pre_state_hash", "partial", kinds)
    except Exception as e:  # reported, left pending: a later recovery run can retry (steps are idempotent)
        return left(intent, f"rollback failed: {type(e).__name__}: {e}", "partial", kinds)
    completion: dict[str, Any] = {
        "wal_id": r.wal_id,
        "status": "reversed",
        "post_state_hash": body["pre_state_hash"],
        "error": PARTIAL,
        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        "detail": _detail("partial"),
    }
    return outcome(
        "reversed", PARTIAL if apply else "interrupted mid-operation: would be rolled back", "partial", completion
    )


def _reexecute(r: Resumed, now: dict[str, str], blobs: BlobStore, apply: bool, outcome: Outcome) -> Settled:
    """Run the recorded actions now, from the state found (pre_state_hash), through the
    lifecycle's execute step: validate, execute, reverse on a failure."""
    intent, body = r.intent, r.intent.body
    post = r.simulated(now)
    if state_hash(post) != body["post_state_expected"]:
        why = "not re-executed: its actions, simulated from the state found, do not lead to post_state_expected"
        completion = {"wal_id": r.wal_id, "status": "refused", "post_state_hash": state_hash(now), "error": why}
        return outcome("refused", why, "pre", {**completion, "detail": _detail("pre")})
    try:
        for part in r.plan.parts:
            part.prefetch(True)  # every content read and checked before the first action runs
    except Exception as e:
        return left(intent, f"cannot re-execute: {type(e).__name__}: {e}", "pre", r.kinds())
    if not apply:
        return outcome("succeeded", "not executed yet: would be re-executed", "pre", None)
    r.plan.pre, r.plan.post = dict(now), post
    try:
        result = _execute(Prepared(dict(body), r.plan, blobs)).completion
    except Exception as e:  # a user's state function failing after the actions ran: a person looks
        return left(intent, f"re-execution stopped: {type(e).__name__}: {e}", "other", r.kinds())
    result["detail"] = {**result.get("detail", {}), **_detail("pre", reexecuted=True)}
    status = str(result["status"])
    message = f"re-executed at recovery: {status}" + (f": {result['error']}" if result.get("error") else "")
    return outcome(status, message, "pre", result)


__all__ = ["Recovered", "Settled", "left", "settle"]
