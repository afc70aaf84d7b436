"""Verification of a whole log and the report it gives (docs/FORMAT.md section 6)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _core
from .keys import Keyring, load_keyring

if TYPE_CHECKING:
    from .receipts import VerificationReceipt
    from .rules import Rule

# The core's rule ids (docs/FORMAT.md section 6), every one checked on every run.
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
)
RECEIPT_RULES = ("receipt.truncated", "receipt.mismatch")


@dataclass(frozen=True)
class Finding:
    code: str
    segment: str
    offset: int
    seq: int | None
    wal_id: str | None
    message: str

    @property
    def recoverable(self) -> bool:
        return self.code in ("tail.torn", "tail.unsealed")

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
        d.update(
            ok=self.ok,
            counts=self.counts,
            findings_total=len(self.findings),
            throughput=self.throughput,
            format=_core.FORMAT,
        )
        return d


def _public_keys(keyring: Keyring | str | os.PathLike[str] | Sequence[str] | None) -> list[str] | None:
    if isinstance(keyring, str | os.PathLike):
        keyring = load_keyring(keyring)
    if isinstance(keyring, Keyring):
        return keyring.public_keys()
    return None if keyring is None else list(keyring)


def verify(
    path: str | os.PathLike[str],
    keyring: Keyring | str | os.PathLike[str] | Sequence[str] | None = None,
    *,
    check_bodies: bool = True,
    receipt: VerificationReceipt | None = None,
    rules: Sequence[Rule] = (),
    fail_fast: bool = False,
    progress: Callable[[int, int], None] | None = None,
    keep_pending: bool = False,
    check_signatures: bool = True,
) -> VerifyReport:
    """Verify every byte of the log at `path`: hashes, chain, segment links, seals and their
    signatures, timestamps, record schemas, intent/completion pairing.

    `keyring`: a Keyring, a keyring file, or base64 public keys to trust. Without one the keys the
    log declares are trusted, and the report says so (`trust == "self-declared"`).
    `receipt`: a receipt from an earlier run; the log must still hold exactly the history it
    vouches for (else receipt.truncated / receipt.mismatch), and only what follows is scanned.
    `rules`: operation-level rules run over the decoded records (kfm_wal.rules).
    `progress(bytes_scanned, records)`: called as the scan advances.
    `keep_pending`: list the pending intents' ids in `pending_ids` (a receipt needs them).
    `check_signatures=False` skips the Ed25519 check of each seal (keys and trust are still
    checked) to measure what signatures cost; `seal.signature` is then not among the rules run
    and `signatures_checked` is False. Never a way to accept a log.
    """
    checkpoint = receipt.checkpoint() if receipt is not None else None
    raw = _core.verify_log(
        Path(path),
        _public_keys(keyring),
        check_bodies,
        checkpoint,
        1 if fail_fast else None,
        progress,
        keep_pending,
        check_signatures,
    )
    findings = [Finding(**f) for f in raw.pop("findings")]
    core_rules = CORE_RULES if check_signatures else tuple(r for r in CORE_RULES if r != "seal.signature")
    run = [*core_rules, *(RECEIPT_RULES if receipt else ()), *(r.id for r in rules)]
    report = VerifyReport(
        path=str(path), findings=findings, rules=run, incremental_from=receipt.seq if receipt else None, **raw
    )
    if rules and not (fail_fast and findings):
        from .rules import run_rules

        start = receipt.seq + 1 if receipt else None
        report.findings.extend(run_rules(path, rules, start_seq=start))
    return report


__all__ = ["CORE_RULES", "Finding", "VerifyReport", "verify"]
