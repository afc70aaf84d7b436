"""Verification of a whole log and the report it gives (docs/FORMAT.md section 6). The report's
model (Finding, VerifyReport, the core's rule ids) is in `findings`, re-exported here."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from . import _core
from .findings import CORE_RULES, RECEIPT_RULES, Finding, VerifyReport
from .keys import Keyring, load_keyring
from .verify_rules import Rule, run_rules

if TYPE_CHECKING:  # a receipt is given by the caller: its module (and cryptography) is not needed here
    from .verification_receipts import VerificationReceipt


def _public_keys(keyring: Keyring | str | os.PathLike[str] | Sequence[str] | None) -> list[str] | None:
    if isinstance(keyring, str | os.PathLike):
        keyring = load_keyring(keyring)
    if isinstance(keyring, Keyring):
        return keyring.public_keys()
    return None if keyring is None else list(keyring)


# compaction.record.FORMAT, spelled here so that a plain install (no operation layers, which the
# compaction package imports) can tell an uncompacted log without importing it.
_CHECKPOINT_FORMAT = b"kfm-wal-checkpoint/1"


def _may_be_compacted(path: str | os.PathLike[str]) -> bool:
    """Whether any segment of the log mentions a checkpoint: only then may a receipt's segment have
    been compacted away, and the checkpoint's seal list be asked (kfm_wal.compaction)."""
    return any(
        _CHECKPOINT_FORMAT in _core.segment_bytes(segment, archived)
        for _, _, segment, archived in _core.segments(Path(path))
    )


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
    `rules`: operation-level rules run over the decoded records (kfm_wal.verify_rules).
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
    if receipt is not None and findings and findings[0].code == "receipt.truncated" and _may_be_compacted(path):
        from .compaction.continuity import receipt_continuity

        # The receipt's segment may have been compacted away: the checkpoint's seal list decides.
        through = receipt_continuity(path, receipt.seq, receipt.hash)
        if through.holds:  # history continues: verify the whole log, anchored by its checkpoint
            return verify(
                path,
                keyring,
                check_bodies=check_bodies,
                rules=rules,
                fail_fast=fail_fast,
                progress=progress,
                keep_pending=keep_pending,
                check_signatures=check_signatures,
            )
        if through.holds is False:
            findings = [Finding("receipt.mismatch", "", 0, receipt.seq, None, through.message)]
    core_rules = CORE_RULES if check_signatures else tuple(r for r in CORE_RULES if r != "seal.signature")
    run = [*core_rules, *(RECEIPT_RULES if receipt else ()), *(r.id for r in rules)]
    report = VerifyReport(
        path=str(path), findings=findings, rules=run, incremental_from=receipt.seq if receipt else None, **raw
    )
    if rules and not (fail_fast and findings):
        start = receipt.seq + 1 if receipt else None
        report.findings.extend(run_rules(path, rules, start_seq=start))
    return report


__all__ = ["CORE_RULES", "Finding", "VerifyReport", "verify"]
