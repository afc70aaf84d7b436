"""Verification receipts (FORMAT.md section 9): reading one (refused: ValueError), the bytes its
signature covers, and whether the log still holds the line it vouches for."""

from __future__ import annotations

import hashlib
import json
import os

from ref_ed25519 import verify as signature_valid
from ref_grammar import SUFFIX_LEN
from ref_keys import b64decode, key_id_of

RECEIPT_FORMAT = "kfm-wal-receipt/1"
SIGNED_OPTIONAL = ("verifier_key_id", "verifier_public_key", "signature")
REQUIRED = (
    "format",
    "log_id",
    "seq",
    "hash",
    "segment",
    "segment_number",
    "offset",
    "timestamp",
    "public_key",
    "revoked",
    "pending",
    "verified_at",
)


def receipt_message(doc: dict) -> bytes:
    """`kfm-wal/1 receipt\\n` + every member but `signature` (absent optional ones as null) as
    compact JSON, names sorted, non-ASCII as UTF-8, control characters escaped."""
    signed = {k: doc.get(k) for k in (*REQUIRED, *SIGNED_OPTIONAL) if k != "signature"}
    return (
        b"kfm-wal/1 receipt\n" + json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )


def load_receipt(receipt, trusted_verifier: str | None = None) -> dict:
    """A receipt (path or dict) as FORMAT.md section 9 accepts it; ValueError when it is refused."""
    if isinstance(receipt, (str, os.PathLike)):
        with open(receipt, "rb") as f:
            receipt = json.loads(f.read())
    if not isinstance(receipt, dict) or set(receipt) - {*REQUIRED, *SIGNED_OPTIONAL} or set(REQUIRED) - set(receipt):
        raise ValueError("not a kfm-wal receipt (members)")
    if receipt["format"] != RECEIPT_FORMAT:
        raise ValueError(f"receipt format {receipt['format']!r}")
    for name in ("seq", "segment_number", "offset"):
        if type(receipt[name]) is not int or receipt[name] < 0:
            raise ValueError(f"receipt member {name} is not an integer >= 0")
    strings = ("log_id", "hash", "segment", "timestamp", "public_key", "verified_at")
    lists = ("revoked", "pending")
    if not all(isinstance(receipt[n], str) for n in strings) or not all(
        isinstance(receipt[n], list) and all(isinstance(x, str) for x in receipt[n]) for n in lists
    ):
        raise ValueError("receipt member of the wrong type")
    if any(receipt.get(n) is not None and not isinstance(receipt[n], str) for n in SIGNED_OPTIONAL):
        raise ValueError("receipt member of the wrong type")
    if trusted_verifier is not None and receipt.get("verifier_public_key") != trusted_verifier:
        raise ValueError("receipt not signed by the trusted verifier key")
    if receipt.get("signature") is not None:
        public = b64decode(receipt.get("verifier_public_key"), 32)
        signature = b64decode(receipt["signature"], 64)
        if public is None or signature is None or not signature_valid(public, signature, receipt_message(receipt)):
            raise ValueError("receipt signature does not verify")
        if receipt.get("verifier_key_id") != key_id_of(public):
            raise ValueError("receipt verifier_key_id is not its key's")
    return receipt


def head_line(segs, receipt, header_log_id):
    """Where the log holds the receipt's line: (segment index, line index), or a finding
    (code, segment, offset) when it does not (receipt.truncated / receipt.mismatch).
    header_log_id(seg): the log_id of the segment's valid header, None if it has none."""
    r = next((i for i, seg in enumerate(segs) if seg.number == receipt["segment_number"]), None)
    if r is None:
        return ("receipt.truncated", "", 0)
    seg = segs[r]
    log_id = header_log_id(seg)
    if log_id is not None and log_id != receipt["log_id"]:
        raise ValueError(f"the receipt is for log {receipt['log_id']}, this is log {log_id}")
    at = next((i for i, ln in enumerate(seg.lines) if ln.offset == receipt["offset"]), None)
    if at is None or not seg.lines[at].raw.endswith(b"\n"):
        return ("receipt.truncated", seg.name, receipt["offset"])
    ln = seg.lines[at]
    digest = "sha256:" + hashlib.sha256(ln.raw[:-SUFFIX_LEN]).hexdigest() if len(ln.raw) >= SUFFIX_LEN else None
    if ln.status == "malformed" or ln.seq != receipt["seq"] or digest != receipt["hash"]:
        return ("receipt.mismatch", seg.name, receipt["offset"])
    return (r, at)
