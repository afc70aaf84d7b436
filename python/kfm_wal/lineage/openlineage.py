"""OpenLineage run events for the operations in a log (openlineage-python `event_v2` models).

One START event per intent (eventTime = the intent's timestamp) and, once it has a completion,
one terminal event at the completion's timestamp: COMPLETE for `succeeded`, FAIL for `failed` and
`reversed` (the operation did not take effect), ABORT for `refused` (nothing ran). The job is
`{namespace}/{operation}`; the runId is the intent's `wal_id` (already a UUIDv4, so the same log
always gives the same events). Every event carries a `kfm_wal` run facet naming the record it
was built from (log_id, wal_id, seq, hash, kind; for terminal events also the status and the
intent's seq and hash), so a consumer can go back to the exact, signed line in the log.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import attr
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    DatasetFacet,
    RunFacet,
    dataset_version_dataset,
    error_message_run,
    lifecycle_state_change_dataset,
)
from openlineage.client.serde import Serde

from .. import _core
from ..ops.digests import ABSENT
from .model import DatasetRef, OpRun, Scan

# URIs (the spec asks for URIs, not necessarily resolvable URLs). The facet's JSON schema ships
# next to this module as kfm-wal-run-facet-1.json; swap in its published URL once there is one.
PRODUCER = f"urn:kfm-wal:{_core.__version__}"
FACET_SCHEMA_URL = "urn:kfm-wal:schemas:kfm-wal-run-facet-1.json#/$defs/KfmWalRunFacet"
FACET_NAME = "kfm_wal"
JOB_NAMESPACE = "kfm-wal"

TERMINAL = {
    "succeeded": RunState.COMPLETE,
    "failed": RunState.FAIL,
    "reversed": RunState.FAIL,
    "refused": RunState.ABORT,
}


@attr.define
class KfmWalRunFacet(RunFacet):
    """Links a run event back to the WAL record it was built from."""

    log_id: str
    wal_id: str
    seq: int
    hash: str
    kind: str
    status: str | None = attr.field(default=None)
    intent_seq: int | None = attr.field(default=None)
    intent_hash: str | None = attr.field(default=None)

    @staticmethod
    def _get_schema() -> str:
        return FACET_SCHEMA_URL


def _dataset_facets(ref: DatasetRef) -> dict[str, DatasetFacet]:
    facets: dict[str, DatasetFacet] = {}
    if ref.state is not None and ref.state != ABSENT:
        facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=ref.state, producer=PRODUCER
        )
    if ref.change is not None:
        lifecycle = lifecycle_state_change_dataset
        previous = None
        if ref.previous is not None:
            previous = lifecycle.PreviousIdentifier(namespace=ref.namespace, name=ref.previous)
        facets["lifecycleStateChange"] = lifecycle.LifecycleStateChangeDatasetFacet(
            lifecycleStateChange=lifecycle.LifecycleStateChange(ref.change),
            previousIdentifier=previous,
            producer=PRODUCER,
        )
    return facets


def _link(run: OpRun, phase: str) -> KfmWalRunFacet:
    if phase == "start":
        rec = run.intent
        return KfmWalRunFacet(
            log_id=run.log_id, wal_id=run.wal_id, seq=rec.seq, hash=rec.hash, kind=rec.kind, producer=PRODUCER
        )
    assert run.completion is not None
    rec = run.completion
    return KfmWalRunFacet(
        log_id=run.log_id,
        wal_id=run.wal_id,
        seq=rec.seq,
        hash=rec.hash,
        kind=rec.kind,
        status=run.status,
        intent_seq=run.intent.seq,
        intent_hash=run.intent.hash,
        producer=PRODUCER,
    )


def run_event(run: OpRun, phase: str, job_namespace: str = JOB_NAMESPACE) -> RunEvent:
    """The event of `run` at its intent (`phase` "start") or its completion ("end")."""
    facets: dict[str, RunFacet] = {FACET_NAME: _link(run, phase)}
    if phase == "start":
        state, time = RunState.START, run.intent.timestamp
    else:
        assert run.completion is not None
        state, time = TERMINAL.get(run.status or "", RunState.OTHER), run.completion.timestamp
        error = run.completion.body.get("error")
        if isinstance(error, str) and error:
            facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                message=error, programmingLanguage="python", producer=PRODUCER
            )
    return RunEvent(
        eventType=state,
        eventTime=time,
        run=Run(runId=str(uuid.UUID(run.wal_id)), facets=facets),
        job=Job(namespace=job_namespace, name=run.operation),
        inputs=[InputDataset(namespace=d.namespace, name=d.name, facets=_dataset_facets(d)) for d in run.inputs],
        outputs=[OutputDataset(namespace=d.namespace, name=d.name, facets=_dataset_facets(d)) for d in run.outputs],
        producer=PRODUCER,
    )


def events(scan: Scan, job_namespace: str = JOB_NAMESPACE) -> list[RunEvent]:
    """The run events of a scanned range, in log order."""
    return [run_event(run, phase, job_namespace) for phase, run in scan.steps]


def to_dict(event: RunEvent) -> dict[str, Any]:
    return Serde.to_dict(event)


def to_jsonl(scan: Scan, job_namespace: str = JOB_NAMESPACE) -> str:
    """One compact JSON object per line (keys sorted), ending with a newline when not empty."""
    lines = [
        json.dumps(to_dict(e), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        for e in events(scan, job_namespace)
    ]
    return "".join(line + "\n" for line in lines)


__all__ = ["FACET_NAME", "FACET_SCHEMA_URL", "PRODUCER", "KfmWalRunFacet", "events", "run_event", "to_dict", "to_jsonl"]
