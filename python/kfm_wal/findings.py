"""What a verification found: the findings (rule id and location) and the report of a whole run
(docs/FORMAT.md section 6). Shared by the verifier (`report.verify`), the operation rules
(`verify_rules`), verification receipts and quarantine; imports nothing else of the package."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from . import _core

# The core's rule ids (docs/FORMAT.md section 6), every one checked on every run. The core's list
# is rust/core/src/finding.rs (`Code`); tests/test_vocabulary_drift.py holds the two together.
CORE_RULES = (
    "record.malformed",
    "record.hash",
    "record.kind",
    "record.schema",
    "record.too_large",
    "chain.seq",
    "chain.prev",
    "chain.segment",
    "seal.signature",
    "seal.untrusted_key",
    "seal.missing",
    "time.regression",
    "tail.unsealed",
    "tail.torn",
    "intent.duplicate",
    "completion.orphan",
    "completion.duplicate",
    "segment.compression",
)
RECEIPT_RULES = ("receipt.truncated", "receipt.mismatch")
# A torn or unsealed tail holds nothing that was ever acknowledged: opening for writing may cut it.
RECOVERABLE = ("tail.unsealed", "tail.torn")


@dataclass(frozen=True)
class Finding:
    code: str
    segment: str
    offset: int
    seq: int | None
    wal_id: str | None
    message: str
    # What an optional rule found wrong, for machines (docs/VERIFY.md): e.g. the tree audit's
    # {"kind", "root", "id", "expected", "actual"}. None for the core's findings.
    target: dict[str, Any] | None = None

    @property
    def recoverable(self) -> bool:
        return self.code in RECOVERABLE

    def location(self) -> str:
        where = f"{self.segment} @ {self.offset}" if self.segment else "log"
        return where + (f" (seq {self.seq})" if self.seq is not None else "")


@dataclass(frozen=True)
class VerifyReport:
    path: str
    findings: list[Finding]
    segments: list[str]
    records: int
    bytes: int
    scanned_bytes: int
    intents: int
    completions: int
    pending: int
    log_id: str | None
    head_seq: int | None
    head_hash: str | None
    keys_seen: list[str]
    key_in_force: str | None
    trust: str
    elapsed: float
    stopped: bool = False
    rules: list[str] = field(default_factory=list)
    incremental_from: int | None = None
    head_state: dict[str, Any] | None = None
    pending_ids: list[str] | None = None
    signatures_checked: bool = True

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def errors(self) -> list[Finding]:
        return self.findings

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(f.code for f in self.findings))

    @property
    def throughput(self) -> float:
        """Bytes scanned per second."""
        return self.scanned_bytes / self.elapsed if self.elapsed > 0 else 0.0

    def to_dict(self, max_errors: int | None = None) -> dict[str, Any]:
        """The JSON report (schema: kfm_wal/schemas/verify-report-v1.json)."""
        d = asdict(self)
        del d["head_state"], d["pending_ids"]
        d["findings"] = d["findings"][:max_errors] if max_errors is not None else d["findings"]
        for f in d["findings"]:  # `target` is there only when a rule set one
            if f["target"] is None:
                del f["target"]
        d.update(
            ok=self.ok,
            counts=self.counts,
            findings_total=len(self.findings),
            throughput=self.throughput,
            format=_core.FORMAT,
        )
        return d


__all__ = ["CORE_RULES", "RECEIPT_RULES", "RECOVERABLE", "Finding", "VerifyReport"]
