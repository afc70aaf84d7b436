"""Verification receipts: what lets CI verify only what is new and still catch a log cut back, a
rewritten past or a fork. A bare hash chain cannot see its own tail cut off; a receipt kept
outside the log can.

A receipt records the last verified seal (seq, hash, segment, offset, timestamp) and the trust
state there (key in force, revoked keys, pending intents). The next run checks that the log still
holds exactly that record, then verifies only what follows. Signed with the verifier's key when
one is given, over `kfm-wal/1 receipt\\n` + the receipt's JSON with sorted keys, without
`signature`, checked by the rules seals are (docs/FORMAT.md sections 5 and 9).
"""

from __future__ import annotations

import base64
import os
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from . import _core
from .errors import UsageError
from .findings import VerifyReport
from .keys import SigningKey, key_id_of

FORMAT = "kfm-wal-receipt/1"
_DOMAIN = b"kfm-wal/1 receipt\n"


@dataclass(frozen=True)
class VerificationReceipt:
    format: str
    log_id: str
    seq: int
    hash: str
    segment: str
    segment_number: int
    offset: int
    timestamp: str
    public_key: str
    revoked: list[str]
    pending: list[str]
    verified_at: str
    verifier_key_id: str | None = None
    verifier_public_key: str | None = None
    signature: str | None = None

    @classmethod
    def from_report(cls, report: VerifyReport, signer: SigningKey | None = None) -> VerificationReceipt:
        """The receipt of a successful run (it needs `verify(..., keep_pending=True)`)."""
        state = report.head_state
        if not report.ok or state is None or report.head_seq is None or report.head_hash is None:
            raise UsageError("a receipt is only written after a successful verification")
        receipt = cls(
            format=FORMAT,
            log_id=str(report.log_id),
            seq=report.head_seq,
            hash=report.head_hash,
            segment=state["segment"],
            segment_number=state["segment_number"],
            offset=state["offset"],
            timestamp=state["timestamp"],
            public_key=state["public_key"],
            revoked=sorted(state["revoked"]),
            pending=sorted(report.pending_ids or []),
            verified_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        )
        if signer is None:
            return receipt
        signed = replace(receipt, verifier_key_id=signer.key_id, verifier_public_key=signer.public_key)
        return replace(signed, signature=base64.b64encode(signer.sign(signed.message())).decode())

    def message(self) -> bytes:
        doc = asdict(self)
        del doc["signature"]
        return _DOMAIN + orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)

    def checkpoint(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write atomically (temp, fsync, rename): a half-written receipt must never be read."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return path


def load(path: str | os.PathLike[str], trusted_verifier: str | None = None) -> VerificationReceipt:
    """Read a receipt. A signed receipt's signature must verify; with `trusted_verifier` (base64
    public key) it must also be signed by that key."""
    path = Path(path)
    try:
        doc = orjson.loads(path.read_bytes())
        receipt = VerificationReceipt(**doc)
    except OSError as e:
        raise UsageError(f"{path}: cannot read receipt: {e.strerror}") from None
    except (orjson.JSONDecodeError, TypeError) as e:
        raise UsageError(f"{path}: not a kfm-wal receipt ({e})") from None
    if receipt.format != FORMAT:
        raise UsageError(f"{path}: receipt format {receipt.format!r}, expected {FORMAT}")
    wrong = _mistyped(receipt)
    if wrong:
        raise UsageError(f"{path}: not a kfm-wal receipt (member {wrong} has the wrong type)")
    if trusted_verifier is not None and receipt.verifier_public_key != trusted_verifier:
        raise UsageError(f"{path}: receipt is not signed by the trusted verifier key")
    if receipt.signature is not None and not _signed_by_its_key(receipt):
        raise UsageError(f"{path}: receipt signature does not verify")
    return receipt


def _mistyped(receipt: VerificationReceipt) -> str | None:
    """The first member whose type is not FORMAT.md section 9's, else None."""
    doc = asdict(receipt)
    for name in ("seq", "segment_number", "offset"):
        value = doc[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            return name
    for name in ("log_id", "hash", "segment", "timestamp", "public_key", "verified_at"):
        if not isinstance(doc[name], str):
            return name
    for name in ("revoked", "pending"):
        if not (isinstance(doc[name], list) and all(isinstance(x, str) for x in doc[name])):
            return name
    for name in ("verifier_key_id", "verifier_public_key", "signature"):
        if doc[name] is not None and not isinstance(doc[name], str):
            return name
    return None


def _signed_by_its_key(receipt: VerificationReceipt) -> bool:
    """The signature verifies under `verifier_public_key` (FORMAT.md section 5's rules: strict
    base64, strict points, the cofactored equation), whose key id is `verifier_key_id`."""
    public, signature = receipt.verifier_public_key, receipt.signature
    if not (isinstance(public, str) and isinstance(signature, str)):
        return False
    if not _core.verify_signature(public, receipt.message(), signature):
        return False
    return receipt.verifier_key_id == key_id_of(base64.b64decode(public))


__all__ = ["FORMAT", "VerificationReceipt", "load"]
