"""W3C PROV documents for the operations in a log (built with the `prov` package).

- activity `wal:op-<wal_id>`: one operation run; startTime = the intent's timestamp, endTime =
  the completion's (absent while pending); attributes wal:wal_id, wal:operation, wal:log_id,
  wal:seq / wal:hash (the intent record), wal:status, wal:completion_seq / wal:completion_hash.
- agent `wal:agent-<type>-<id>`: the intent's actor; wasAssociatedWith(activity, agent).
- entity: one dataset *state* (attributes wal:path, wal:namespace, wal:state = the content
  digest when known). A state a run in the document produced is `<prefix>:<path>.seq<N>` (N = the
  seq of that run's completion) and `wasGeneratedBy` the run at the completion's time (succeeded
  runs only: the others left the files as they were). A state from before the exported range is
  `<prefix>:<path>.<sha256-hex>` (or `<prefix>:<name>` when no state is known). A run `used` its
  inputs (move sources, other operations' payload inputs); a file it deleted or moved away is
  `wasInvalidatedBy` it; a moved file's new state `wasDerivedFrom` the old one; an undo
  (`lineage_links` "wal:<id>") `wasInformedBy` the run it reverses.

Local names are percent-encoded (`quote(..., safe="")`), so they are valid PROV-N names.
"""

from __future__ import annotations

import datetime
from urllib.parse import quote

from prov.model import ProvActivity, ProvAgent, ProvDocument, ProvEntity

from ..ops.digests import ABSENT
from .model import DatasetRef, OpRun, Scan

WAL_NS = "urn:kfm-wal:"


def _time(ts: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(ts.replace("Z", "+00:00"))


def _local(text: str) -> str:
    return quote(text, safe="").replace("~", "%7E")


class _Builder:
    def __init__(self) -> None:
        self.doc = ProvDocument()
        self.doc.add_namespace("wal", WAL_NS)
        self.prefixes: dict[str, str] = {}  # dataset namespace -> prov prefix
        self.entities: dict[str, ProvEntity] = {}
        self.current: dict[tuple[str, str], tuple[ProvEntity, str | None]] = {}  # latest generated state
        self.agents: dict[str, ProvAgent] = {}

    def _prefix(self, namespace: str) -> str:
        if namespace not in self.prefixes:
            prefix = "data" if not self.prefixes else f"data{len(self.prefixes) + 1}"
            uri = namespace if "://" in namespace or namespace.startswith("urn:") else WAL_NS + "dataset:" + namespace
            self.doc.add_namespace(prefix, uri.rstrip("/") + "/")
            self.prefixes[namespace] = prefix
        return self.prefixes[namespace]

    def _entity(self, ident: str, ref: DatasetRef, state: str | None, seq: int | None) -> ProvEntity:
        if ident not in self.entities:
            attrs: dict[str, str | int] = {"wal:path": ref.name, "wal:namespace": ref.namespace}
            if state is not None:
                attrs["wal:state"] = state
            if seq is not None:
                attrs["wal:completion_seq"] = seq
            self.entities[ident] = self.doc.entity(ident, attrs)
        return self.entities[ident]

    def existing(self, ref: DatasetRef, state: str | None) -> ProvEntity:
        """The dataset as it was before a run: the state an earlier run of this document
        generated, or else a state entity named after its content (generated before the range)."""
        key = (ref.namespace, ref.name)
        known = self.current.get(key)
        if known is not None and (state is None or known[1] == state):
            return known[0]
        local = _local(ref.name)
        if state is not None and state != ABSENT:
            local += "." + _local(state.replace("sha256:", "sha256-"))
        return self._entity(f"{self._prefix(ref.namespace)}:{local}", ref, state, None)

    def generated(self, ref: DatasetRef, seq: int) -> ProvEntity:
        """A new state of the dataset, produced by the run completed at `seq`."""
        ident = f"{self._prefix(ref.namespace)}:{_local(ref.name)}.seq{seq}"
        entity = self._entity(ident, ref, ref.state, seq)
        self.current[(ref.namespace, ref.name)] = (entity, ref.state)
        return entity

    def agent(self, run: OpRun) -> ProvAgent:
        kind, who = str(run.actor.get("type", "unknown")), str(run.actor.get("id", "unknown"))
        ident = f"wal:agent-{_local(kind)}-{_local(who)}"
        if ident not in self.agents:
            self.agents[ident] = self.doc.agent(
                ident,
                {
                    "wal:actor_type": kind,
                    "wal:actor_id": who,
                    "prov:type": "prov:SoftwareAgent" if kind != "developer" else "prov:Person",
                },
            )
        return self.agents[ident]

    def run(self, run: OpRun) -> ProvActivity:
        attrs: dict[str, str | int] = {
            "prov:label": run.operation,
            "wal:operation": run.operation,
            "wal:wal_id": run.wal_id,
            "wal:log_id": run.log_id,
            "wal:seq": run.intent.seq,
            "wal:hash": run.intent.hash,
        }
        end = None
        if run.completion is not None:
            end = _time(run.completion.timestamp)
            attrs.update(
                {
                    "wal:status": run.status or "",
                    "wal:completion_seq": run.completion.seq,
                    "wal:completion_hash": run.completion.hash,
                }
            )
        activity = self.doc.activity(f"wal:op-{run.wal_id}", _time(run.intent.timestamp), end, attrs)
        self.doc.wasAssociatedWith(activity, self.agent(run))
        for link in run.intent.body.get("lineage_links") or []:
            if isinstance(link, str) and link.startswith("wal:"):
                self.doc.wasInformedBy(activity, f"wal:op-{_local(link[4:])}")
        sources = {ref.name: self.existing(ref, ref.state) for ref in run.inputs}
        for used in sources.values():
            self.doc.used(activity, used, _time(run.intent.timestamp))
        if run.status != "succeeded" or run.completion is None or end is None:
            return activity
        seq = run.completion.seq
        # what this run replaced or removed, taken before the outputs become the current states
        replaced = {ref.name: self.existing(ref, ref.before) for ref in run.outputs if ref.before not in (None, ABSENT)}
        for ref in run.outputs:
            if ref.state == ABSENT:
                continue
            made = self.generated(ref, seq)
            self.doc.wasGeneratedBy(made, activity, end)
            if ref.previous is not None and ref.previous in sources:
                self.doc.wasDerivedFrom(made, sources[ref.previous], activity)
        for ref in run.inputs:
            # a move source is gone afterwards unless the same run wrote it again
            if not any(o.name == ref.name and o.state not in (None, ABSENT) for o in run.outputs):
                self.doc.wasInvalidatedBy(sources[ref.name], activity, end)
                self.current.pop((ref.namespace, ref.name), None)
        for ref in run.outputs:
            if ref.state == ABSENT and ref.name in replaced:
                self.doc.wasInvalidatedBy(replaced[ref.name], activity, end)
                self.current.pop((ref.namespace, ref.name), None)
        return activity


def document(scan: Scan) -> ProvDocument:
    """The PROV document of the runs with a record in the scanned range."""
    builder = _Builder()
    for run in scan.runs:
        builder.run(run)
    return builder.doc


def to_prov_json(scan: Scan) -> str:
    return str(document(scan).serialize(format="json", indent=2, sort_keys=True))


def to_prov_n(scan: Scan) -> str:
    return str(document(scan).get_provn()) + "\n"


__all__ = ["WAL_NS", "document", "to_prov_json", "to_prov_n"]
