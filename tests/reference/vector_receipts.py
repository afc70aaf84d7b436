"""Vectors that carry their own inputs besides the log: a keyring of their own (`keyring.json` in
the case directory) and a verification receipt to start from (`receipt.json`, FORMAT.md section
9); and refused/ cases, whose keyring or receipt a verifier must refuse before any verdict."""

from __future__ import annotations

import hashlib
import os

import kfm_wal_ref as ref
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from ref_receipts import receipt_message
from vector_expectations import expect, expected_valid, write_json
from vector_logs import KEY2_SEED, KEY_SEED, BasicLog, InvalidCases, build_basic, copy_log, seg_path

VERIFIER_SEED = hashlib.sha256(b"kfm-wal test vector verifier key").digest()
VERIFIED_AT = "2026-01-02T00:00:00.000000Z"


def _public(seed: bytes) -> bytes:
    return ref.public_key_of(Ed25519PrivateKey.from_private_bytes(seed))


def _entry(seed: bytes, roles, key_id=None) -> dict:
    pub = _public(seed)
    return {"key_id": key_id or ref.key_id_of(pub), "public_key": ref.b64encode(pub), "roles": roles, "name": ""}


def receipt_for(log: str, seal: dict, signer: bytes | None = VERIFIER_SEED, **override) -> dict:
    """The receipt a verifier writes after a valid run whose head is the journal entry `seal`:
    the chain state there read back from the log (key in force key1, nothing revoked)."""
    with open(seg_path(log, seal["segment"]), "rb") as f:
        f.seek(seal["offset"])
        line = f.readline()
    records = [r for r in ref.read(log) if r["seq"] <= seal["seq"]]
    intents = {r["wal_id"] for r in records if r["kind"] == "intent"}
    done = {r["wal_id"] for r in records if r["kind"] == "completion"}
    doc = {
        "format": "kfm-wal-receipt/1",
        "log_id": records[0]["log_id"],
        "seq": seal["seq"],
        "hash": seal["hash"],
        "segment": seal["segment"],
        "segment_number": int(seal["segment"][4:12]),
        "offset": seal["offset"],
        "timestamp": line.split(b'"timestamp":"', 1)[1][:27].decode(),
        "public_key": ref.b64encode(_public(KEY_SEED)),
        "revoked": [],
        "pending": sorted(intents - done),
        "verified_at": VERIFIED_AT,
        "verifier_key_id": None,
        "verifier_public_key": None,
        "signature": None,
    }
    doc.update(override)
    return doc if signer is None else signed(doc, signer)


def signed(doc: dict, signer: bytes, key_id: str | None = None) -> dict:
    """`doc` signed by `signer`, naming `key_id` (default: the signer's own) as verifier_key_id."""
    doc = dict(doc, verifier_key_id=key_id or ref.key_id_of(_public(signer)))
    doc["verifier_public_key"] = ref.b64encode(_public(signer))
    doc["signature"] = ref.b64encode(Ed25519PrivateKey.from_private_bytes(signer).sign(receipt_message(doc)))
    return doc


def _first_seal_of(basic: BasicLog, segment: str) -> dict:
    return next(e for e in basic.journal if e["segment"] == segment and e["kind"] == "seal")


def _refused(out: str, name: str, note: str, receipt=None, keyring=None, log=None) -> None:
    d = os.path.join(out, "refused", name)
    copy_log(log, d)
    if receipt is not None:
        write_json(os.path.join(d, "receipt.json"), receipt)
    if keyring is not None:
        write_json(os.path.join(d, "keyring.json"), keyring)
    write_json(os.path.join(d, "expected.json"), {"refused": True, "note": note})


def write_receipt_cases(cases: InvalidCases, valid: str, out: str) -> None:
    basic = cases.basic
    _, seg2, seg3 = basic.segments
    resumed_at = _first_seal_of(basic, seg2)
    head = basic.journal[-1]

    d = os.path.join(valid, "receipt-resumed")
    copy_log(basic.dir, d)
    write_json(os.path.join(d, "receipt.json"), receipt_for(basic.dir, resumed_at))
    write_json(os.path.join(d, "expected.json"), expected_valid(basic.journal, pending_of(basic)))

    d = os.path.join(valid, "keyring-roles-not-consulted")
    copy_log(basic.dir, d)
    write_json(os.path.join(d, "keyring.json"), {"keys": [_entry(KEY_SEED, ["approver"])]})
    write_json(os.path.join(d, "expected.json"), expected_valid(basic.journal, pending_of(basic)))

    d = cases.from_basic("receipt-truncated")
    write_json(os.path.join(d, "receipt.json"), receipt_for(basic.dir, head))
    with open(seg_path(d, seg3), "r+b") as f:
        f.truncate(head["offset"])
    expect(
        d,
        seg3,
        head["offset"],
        head["seq"],
        error="receipt.truncated",
        sole=True,
        note="the receipt vouches for the head seal; the last segment was cut back before it",
    )

    d = cases.from_basic("receipt-segment-gone")
    write_json(os.path.join(d, "receipt.json"), receipt_for(basic.dir, head))
    os.remove(seg_path(d, seg3))
    expect(
        d,
        "",
        0,
        head["seq"],
        error="receipt.truncated",
        sole=True,
        note="the receipt vouches for a seal in segment 3; segment 3 is gone",
    )

    def rewritten(w, kind, bodies):  # the first intent's payload changed, same length: a new history
        bodies = [dict(b) for b in bodies]
        assert kind == "intent" and bodies[0]["payload"]["dataset"] == "ks-hydrography", bodies
        bodies[0]["payload"] = dict(bodies[0]["payload"], dataset="ks-hydrographz")
        w.append_many(bodies, kind)

    d, _ = cases.built("receipt-mismatch", hooks={0: lambda w, k, b: rewritten(w, k, b)})
    write_json(os.path.join(d, "receipt.json"), receipt_for(basic.dir, resumed_at))
    expect(
        d,
        resumed_at["segment"],
        resumed_at["offset"],
        resumed_at["seq"],
        error="receipt.mismatch",
        sole=True,
        note="the receipt is valid/basic's at segment 2's first seal; the log's first intent was rewritten "
        "(same length), so the line there has the same seq and another hash",
    )

    d = cases.from_basic("receipt-resumed-then-damage")
    write_json(os.path.join(d, "receipt.json"), receipt_for(basic.dir, resumed_at))
    target = [e for e in basic.journal if e["segment"] == seg3 and e["kind"] == "completion"][-1]

    def flip(data: bytes) -> bytes:
        at = target["offset"] + target["length"] // 2  # inside the body: the envelope still parses
        return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]

    path = seg_path(d, seg3)
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(flip(data))
    expect(
        d,
        seg3,
        target["offset"],
        None,
        error="record.hash",
        sole=True,
        note="resumed from segment 2's first seal, then a byte of a sealed completion in segment 3 changed",
    )

    good = receipt_for(basic.dir, resumed_at)
    bad_sig = dict(
        good,
        signature=ref.b64encode(
            bytes([ref.b64decode(good["signature"], 64)[0] ^ 1]) + ref.b64decode(good["signature"], 64)[1:]
        ),
    )
    _refused(
        out, "receipt-bad-signature", "the receipt's signature has one bit flipped", receipt=bad_sig, log=basic.dir
    )
    other = receipt_for(basic.dir, resumed_at, log_id="cd52e8bc-dd74-4ceb-a39e-41c18affe013")
    _refused(out, "receipt-other-log", "a validly signed receipt for another log_id", receipt=other, log=basic.dir)
    claim = signed(good, VERIFIER_SEED, key_id=ref.key_id_of(_public(KEY2_SEED)))
    _refused(
        out,
        "receipt-verifier-key-id-mismatch",
        "a receipt validly signed by its verifier_public_key whose verifier_key_id names another key",
        receipt=claim,
        log=basic.dir,
    )
    mistyped = receipt_for(basic.dir, resumed_at, seq=str(resumed_at["seq"]))
    _refused(out, "receipt-mistyped", "a validly signed receipt whose seq is a string", receipt=mistyped, log=basic.dir)
    mismatch = {"keys": [_entry(KEY_SEED, ["writer"], key_id=ref.key_id_of(_public(KEY2_SEED)))]}
    _refused(
        out,
        "keyring-key-id-mismatch",
        "a keyring entry whose key_id is another key's: the keyring is refused, not partly used",
        keyring=mismatch,
        log=basic.dir,
    )


def pending_of(basic: BasicLog) -> list:
    records = list(ref.read(basic.dir))
    done = {r["wal_id"] for r in records if r["kind"] == "completion"}
    return [r["wal_id"] for r in records if r["kind"] == "intent" and r["wal_id"] not in done]


__all__ = ["build_basic", "receipt_for", "write_receipt_cases"]
