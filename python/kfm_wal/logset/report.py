"""The report of a log set: each stream's own verification report, and the set-level findings
(docs/VERIFY.md, "Log sets")."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..findings import VerifyReport

# Set-level finding codes (docs/VERIFY.md, "Log sets"); all are damage, none recoverable.
SET_RULES = (
    "set.stream_missing",  # the manifest names a log that is not there
    "set.stream_mismatch",  # a header of the stream's log names another stream, or none
    "set.log_repeated",  # two streams are one log (the same log_id)
    "set.link_missing",  # a wal:<id> link found in no stream's sealed records
    "set.link_order",  # a cross-stream link to an intent sealed no earlier than the linking intent
)


@dataclass(frozen=True)
class SetFinding:
    """A finding about the set: `stream` is the stream it is located in (its log's segment,
    offset, seq and wal_id as in a verification finding)."""

    code: str
    stream: str
    segment: str
    offset: int
    seq: int | None
    wal_id: str | None
    message: str

    def location(self) -> str:
        where = f"{self.segment} @ {self.offset}" if self.segment else "log"
        return f"stream {self.stream}: " + where + (f" (seq {self.seq})" if self.seq is not None else "")


@dataclass(frozen=True)
class LogSetReport:
    manifest: str
    streams: dict[str, str]  # stream id -> log location
    reports: dict[str, VerifyReport | None]  # None: no log there (set.stream_missing)
    set_findings: list[SetFinding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.set_findings and all(r is not None and r.ok for r in self.reports.values())

    @property
    def findings(self) -> list[SetFinding]:
        """Every finding: each stream's, in manifest order, then the set's."""
        out = [
            SetFinding(f.code, stream, f.segment, f.offset, f.seq, f.wal_id, f.message)
            for stream, report in self.reports.items()
            if report is not None
            for f in report.findings
        ]
        return out + self.set_findings

    def to_dict(self) -> dict[str, Any]:
        return {
            "manifest": self.manifest,
            "ok": self.ok,
            "streams": {
                s: {"log": self.streams[s], "report": r.to_dict() if r is not None else None}
                for s, r in self.reports.items()
            },
            "set_findings": [asdict(f) for f in self.set_findings],
            "rules": list(SET_RULES),
        }


__all__ = ["SET_RULES", "LogSetReport", "SetFinding"]
