"""What the verifier reports: one Error per finding, the Report of a log, and VerifyError."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Error:
    code: str
    segment: str
    offset: int
    seq: int | None
    message: str


@dataclass
class Report:
    ok: bool
    errors: list
    records: int
    head_seq: int | None
    head_hash: str | None
    pending: list
    trust: str


class VerifyError(Exception):
    def __init__(self, report: Report):
        first = report.errors[0]
        super().__init__(f"{first.code} at {first.segment}:{first.offset}: {first.message}")
        self.report = report
