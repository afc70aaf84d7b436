"""One pass over a log that pairs each intent with its completion and names the datasets it
reads and writes. Both exports (OpenLineage, PROV) are built from this.

Datasets of a file operation (payload format `kfm-wal-ops/files-1`, docs/FORMAT.md section 4):
namespace = the data root as a `file://` URI, name = the path relative to it, as in the payload.
Outputs are every path an action writes, deletes or moves to; inputs are the sources of moves.
The state of each path before (from the reversal steps: `file.restore` names the before-image,
`file.delete` means it was absent) and after (`reversal.expects`) is known from the intent.

Datasets of other intents come from payload fields when present: `inputs` / `outputs` (arrays of
names, or of `{"namespace", "name"}` objects; bare names are in `payload.namespace`, default
"kfm-wal"), else `actions` objects with `path` / `src` / `dst` (as the file operations write
them). An intent with none of these has no datasets.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from ..ops.digests import ABSENT
from ..ops.files import PAYLOAD_FORMAT
from ..reader import Record, records

DEFAULT_NAMESPACE = "kfm-wal"

# Lifecycle changes (the OpenLineage LifecycleStateChange values used here).
CREATE, OVERWRITE, DROP, RENAME = "CREATE", "OVERWRITE", "DROP", "RENAME"


@dataclass(frozen=True)
class DatasetRef:
    namespace: str
    name: str
    state: str | None = None  # content digest ("sha256:...") or "absent", when the log knows it
    change: str | None = None  # outputs: CREATE, OVERWRITE, DROP or RENAME, when known
    previous: str | None = None  # RENAME: the name it had before
    before: str | None = None  # the state before the operation, when known


@dataclass
class OpRun:
    """An intent and (once seen) its completion."""

    log_id: str
    intent: Record
    completion: Record | None = None
    inputs: list[DatasetRef] = field(default_factory=list)
    outputs: list[DatasetRef] = field(default_factory=list)

    @property
    def wal_id(self) -> str:
        return str(self.intent.body["wal_id"])

    @property
    def operation(self) -> str:
        return str(self.intent.body["operation"])

    @property
    def actor(self) -> Mapping[str, Any]:
        actor = self.intent.body.get("actor")
        return actor if isinstance(actor, dict) else {}

    @property
    def status(self) -> str | None:
        return None if self.completion is None else str(self.completion.body["status"])


@dataclass
class Scan:
    """What a seq range of a log holds: `steps` are ("start" | "end", run) in log order, one per
    intent / completion record in the range; `runs` every run with a record in it; `head` the seq
    and hash of the last record read (the chain head the range was derived from)."""

    log_id: str
    steps: list[tuple[str, OpRun]]
    runs: list[OpRun]
    head: tuple[int, str] | None = None  # (seq, hash) of the last record read: what it derives from


def file_namespace(root: str) -> str:
    """The OpenLineage namespace of a data root: its `file://` URI (no trailing slash)."""
    posix = PurePosixPath(root)
    if posix.is_absolute():
        return "file://" + quote(str(posix), safe="/")
    return "file:" + quote(root, safe="/")


def _unique(refs: list[DatasetRef]) -> list[DatasetRef]:
    seen: dict[tuple[str, str], DatasetRef] = {}
    for r in refs:
        seen.setdefault((r.namespace, r.name), r)
    return list(seen.values())


def _file_op_datasets(payload: Mapping[str, Any], reversal: Mapping[str, Any]) -> tuple[list[DatasetRef], ...]:
    ns = file_namespace(str(payload.get("root", "")))
    pre: dict[str, str] = {}
    for step in reversal.get("steps") or []:
        if isinstance(step, dict) and isinstance(step.get("path"), str):
            pre[step["path"]] = step["blob"] if step.get("type") == "file.restore" else ABSENT
    post = reversal.get("expects")
    post = post if isinstance(post, dict) else {}
    inputs: list[DatasetRef] = []
    written: list[str] = []
    moved_from: dict[str, str] = {}
    for action in payload.get("actions") or []:
        kind = action.get("type")
        if kind == "file.move":
            src_pre = pre.get(action["src"])
            inputs.append(DatasetRef(ns, action["src"], src_pre, before=src_pre))
            written.append(action["dst"])
            moved_from[action["dst"]] = action["src"]
        elif kind in ("file.write", "file.delete"):
            written.append(action["path"])
            moved_from.pop(action["path"], None)
    outputs = []
    for path in dict.fromkeys(written):
        after, before = post.get(path), pre.get(path)
        previous = None
        if after == ABSENT:
            change = DROP
        elif path in moved_from:
            change, previous = RENAME, moved_from[path]
        elif before == ABSENT:
            change = CREATE
        else:
            change = OVERWRITE
        outputs.append(DatasetRef(ns, path, after, change, previous, before))
    return _unique(inputs), outputs


def _named(items: Any, ns: str) -> list[DatasetRef]:
    out = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, str) and item:
            out.append(DatasetRef(ns, item))
        elif isinstance(item, dict) and isinstance(item.get("name"), str):
            out.append(DatasetRef(str(item.get("namespace", ns)), item["name"]))
    return _unique(out)


def _generic_datasets(payload: Mapping[str, Any]) -> tuple[list[DatasetRef], ...]:
    if isinstance(payload.get("root"), str):
        ns = file_namespace(payload["root"])
    else:
        ns = str(payload.get("namespace", DEFAULT_NAMESPACE))
    if "inputs" in payload or "outputs" in payload:
        return _named(payload.get("inputs"), ns), _named(payload.get("outputs"), ns)
    inputs: list[DatasetRef] = []
    outputs: list[DatasetRef] = []
    for action in payload.get("actions") or []:
        if not isinstance(action, dict):
            continue
        if isinstance(action.get("src"), str):
            inputs.append(DatasetRef(ns, action["src"]))
        for key in ("path", "dst"):
            if isinstance(action.get(key), str):
                outputs.append(DatasetRef(ns, action[key]))
    return _unique(inputs), _unique(outputs)


def datasets(body: Mapping[str, Any]) -> tuple[list[DatasetRef], list[DatasetRef]]:
    """(inputs, outputs) of an intent body."""
    payload = body.get("payload")
    if not isinstance(payload, dict):
        return [], []
    reversal = body.get("reversal")
    if payload.get("format") == PAYLOAD_FORMAT and isinstance(reversal, dict):
        ins, outs = _file_op_datasets(payload, reversal)
    else:
        ins, outs = _generic_datasets(payload)
    return ins, outs


class Scanner:
    """Pairs intents with completions as records are fed in log order (the whole log up to the
    range's end: an intent before the range is needed for a completion inside it) and keeps the
    steps with seq >= `start_seq`. `head` is the (seq, hash) of the last record fed."""

    def __init__(self, start_seq: int | None = None) -> None:
        self.lo = start_seq or 1
        self.log_id = ""
        self.head: tuple[int, str] | None = None
        self._pending: dict[str, OpRun] = {}
        self._steps: list[tuple[str, OpRun]] = []
        self._touched: dict[str, OpRun] = {}

    def feed(self, rec: Record) -> None:
        body = rec.body
        self.head = (rec.seq, rec.hash)
        if rec.kind == "header" and not self.log_id:
            self.log_id = str(body["log_id"])
        elif rec.kind == "intent":
            ins, outs = datasets(body)
            run = OpRun(self.log_id, rec, None, ins, outs)
            self._pending[run.wal_id] = run
            if rec.seq >= self.lo:
                self._steps.append(("start", run))
                self._touched[run.wal_id] = run
        elif rec.kind == "completion":
            found = self._pending.pop(str(body["wal_id"]), None)
            if found is None:  # an orphan completion: the verifier reports it; nothing to pair
                return
            found.completion = rec
            if rec.seq >= self.lo:
                self._steps.append(("end", found))
                self._touched[found.wal_id] = found

    def result(self) -> Scan:
        return Scan(self.log_id, list(self._steps), list(self._touched.values()), self.head)


def scan(log: str | os.PathLike[str], start_seq: int | None = None, end_seq: int | None = None) -> Scan:
    """The steps in [start_seq, end_seq] of the log at `log` (see `Scanner`)."""
    scanner = Scanner(start_seq)
    for rec in records(log, end_seq=end_seq):
        scanner.feed(rec)
    return scanner.result()


__all__ = ["DEFAULT_NAMESPACE", "DatasetRef", "OpRun", "Scan", "Scanner", "datasets", "file_namespace", "scan"]
