"""A process to be killed in the middle of an operation, one scenario per action kind, and the
process that recovers after it. Run by tests/test_ops_recover_kill.py:

    python tests/crash/ops_kill.py run DIR SCENARIO K      # set up DIR, run the operation, SIGKILL
                                                           # itself before action K (K = the number
                                                           # of actions: before the completion)
    python tests/crash/ops_kill.py recover DIR SCENARIO [--reexecute] [--die-at N]
                                                           # ops.recover, JSON report; --die-at:
                                                           # SIGKILL itself at its N-th file change

`run` SIGKILLs its own process (a real death: no handler, no flush, no atexit) right before the
operation's action K would start; K = 0 is "after the intent is durable", K = n "after every
action, before the completion". A K past that runs the operation to its end (exit 0), which tells
the test it has seen every kill point. Graph stores are opened only in these processes (a store
is locked by the process that has it open)."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # kv_actions, stactools

import kfm_wal  # noqa: E402
import kv_actions  # noqa: E402, F401  (registers kv_put)
import stactools  # noqa: E402
from kfm_wal import Wal, keys, ops  # noqa: E402
from kfm_wal.ops import durable, graph, operation, stac  # noqa: E402
from kfm_wal.ops.blobs import BlobStore  # noqa: E402
from kfm_wal.ops.digests import state_hash  # noqa: E402
from kfm_wal.ops.recover_parts import resume  # noqa: E402

META: dict[str, Any] = {
    "actor": {"type": "ci", "id": "kill-test"},
    "tier": 0,  # recovery is under test, not governance (tier 0: no decision, no ledger)
    "governance": {"care": "public", "approvals": []},
    "telemetry": {"id": "kill-test"},
}
EX = "http://example.org/"
SCENARIOS = ("file", "stac", "graph", "custom", "mixed")


def triple(s: str, p: str, o: str) -> str:
    return f"<{EX}{s}> <{EX}{p}> <{EX}{o}>"


def _roots(d: Path) -> dict[str, Any]:
    return {"root": d / "data", "stac_root": d / "stac", "graph": d / "graph"}


def _kv(d: Path, key: str, value: str, previous: str | None) -> ops.Custom:
    return ops.Custom("kv_put", {"dir": str(d / "kv"), "key": key, "value": value, "previous": previous})


def setup(d: Path, wal: Wal) -> None:
    """The state before the operation: files, a STAC collection, triples, a value (some recorded
    by completed operations, so the log has history before the interrupted one)."""
    (d / "data").mkdir(parents=True)
    (d / "data" / "old.csv").write_bytes(b"id\n1\n")
    (d / "data" / "gone.csv").write_bytes(b"bye\n")
    ops.run(wal, [stac.CreateCollection(stactools.collection())], **META, **_roots(d))
    graph.GraphStore.open(d / "graph").update([], [triple("ks", "in", "us"), triple("ks", "name", "kansas")])
    ops.run(wal, [_kv(d, "b", "old", None)], **META)


def actions(scenario: str, d: Path) -> list[Any]:
    if scenario == "file":
        return [
            ops.Write("a.csv", b"id\n2\n"),
            ops.Write("old.csv", b"id\n3\n"),
            ops.Delete("gone.csv"),
            ops.Move("a.csv", "moved.csv"),
        ]
    if scenario == "stac":  # each item: its file, then its collection's links
        return [stac.CreateItem(stactools.item("ks")), stac.CreateItem(stactools.item("ne"))]
    if scenario == "graph":
        return [
            graph.Insert([triple("ks", "cap", "topeka")]),
            graph.Delete([triple("ks", "in", "us")]),
            graph.Insert([triple("ne", "in", "us"), triple("ne", "cap", "lincoln")]),
        ]
    if scenario == "custom":
        return [_kv(d, "a", "1", None), _kv(d, "b", "2", "old")]
    if scenario == "mixed":  # files under two roots (data and STAC), triples, a custom value
        return [
            ops.Write("m.csv", b"m\n"),
            stac.CreateItem(stactools.item("ks")),
            graph.Insert([triple("ks", "cap", "topeka")]),
            _kv(d, "a", "1", None),
            ops.Delete("gone.csv"),
        ]
    raise SystemExit(f"unknown scenario {scenario!r}")


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def run(d: Path, scenario: str, kill_at: int) -> None:
    key = keys.generate()
    keys.save(key, d / "writer.pem")
    wal = Wal.create(d / "wal", key)
    setup(d, wal)
    prepared = ops.prepare(wal, actions(scenario, d), **META, **_roots(d))  # the intent is durable
    real = operation.OpPlan.execute

    def execute(plan: operation.OpPlan, k: int) -> dict[str, Any]:
        if k == kill_at:
            _die()
        return real(plan, k)

    operation.OpPlan.execute = execute  # type: ignore[method-assign]
    if kill_at == len(prepared.plan.order):
        Wal.complete_many = lambda self, completions: _die()  # type: ignore[method-assign,assignment,return-value]
    ops.execute(wal, prepared)
    wal.close()


def _targets(wal: Wal, wal_id: str) -> str:
    intent = wal.intent(wal_id)
    assert intent is not None
    return state_hash(resume(intent, BlobStore.for_log(wal.path)).observe())


def _die_at_change(n: int) -> None:
    """SIGKILL this process when it is about to make its n-th file change (write or unlink)."""
    calls: list[int] = []
    for name in ("write_atomic", "unlink"):
        real = getattr(durable, name)

        def wrapped(*args: Any, _real: Any = real, **kwargs: Any) -> Any:
            calls.append(1)
            if len(calls) == n:
                _die()
            return _real(*args, **kwargs)

        setattr(durable, name, wrapped)


def recover(d: Path, reexecute: bool, die_at: int | None = None) -> dict[str, Any]:
    if die_at is not None:
        _die_at_change(die_at)
    with Wal.open(d / "wal", keys.load(d / "writer.pem")) as wal:
        (intent,) = ops.pending(wal)
        before = _targets(wal, str(intent.wal_id))
        found = ops.recover(wal, reexecute=reexecute)
        after = _targets(wal, str(intent.wal_id))
        completion = wal.completion(str(intent.wal_id))
    report = kfm_wal.verify(d / "wal", rules=[ops.ExecutedMatchesIntent()])
    return {
        "recovered": [r.to_dict() for r in found],
        "pre": intent.body["pre_state_hash"],
        "post": intent.body["post_state_expected"],
        "before": before,
        "after": after,
        "completion": None if completion is None else completion.body,
        "valid": report.ok,
        "findings": [str(f) for f in report.findings][:3],
        "pending": report.pending,
    }


def main() -> None:
    mode, d, scenario = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    if mode == "run":
        run(d, scenario, int(sys.argv[4]))
    else:
        flags = sys.argv[4:]
        die_at = int(flags[flags.index("--die-at") + 1]) if "--die-at" in flags else None
        print(json.dumps(recover(d, "--reexecute" in flags, die_at)))


if __name__ == "__main__":
    main()
