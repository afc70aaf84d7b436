"""keyring.json and the valid logs: basic (three segments), rotated-key, crash-mid-rotation and
closed-last-segment, each with its expected.json."""

from __future__ import annotations

import os

import kfm_wal_ref as ref
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from vector_bodies import basic_steps, fixed_uuid
from vector_expectations import expected_valid, write_json
from vector_logs import KEY2_SEED, KEY_SEED, UNTRUSTED_SEED, BasicLog, build_basic, copy_log, new_writer, rotate_after


def write_keyring(out):
    """keyring.json: key1 and key2 as trusted writers (the untrusted key is left out)."""
    pubs = {
        label: ref.public_key_of(Ed25519PrivateKey.from_private_bytes(seed))
        for label, seed in (("key1", KEY_SEED), ("key2", KEY2_SEED), ("untrusted", UNTRUSTED_SEED))
    }
    write_json(
        os.path.join(out, "keyring.json"),
        {
            "keys": [
                {
                    "key_id": ref.key_id_of(pubs[k]),
                    "public_key": ref.b64encode(pubs[k]),
                    "roles": ["writer"],
                    "name": f"kfm-wal test vector {k}",
                }
                for k in ("key1", "key2")
            ]
        },
    )


def write_valid_logs(valid) -> BasicLog:
    """Write valid/*; returns valid/basic, which the byte-level invalid cases copy."""
    basic_pending = [fixed_uuid("intent-10")]

    # valid/basic
    basic = os.path.join(valid, "basic")
    journal, spans = build_basic(basic)
    segments = sorted({e["segment"] for e in journal})
    assert len(segments) == 3, segments
    write_json(os.path.join(basic, "expected.json"), expected_valid(journal, basic_pending))
    by_seq = {e["seq"]: e for e in journal}
    _, seg2, _ = segments

    # valid/rotated-key: key1 -> key2 (and key1 revoked) in the middle of the log
    rotated = os.path.join(valid, "rotated-key")
    rj, rspans = build_basic(rotated, hooks={6: rotate_after})
    write_json(os.path.join(rotated, "expected.json"), expected_valid(rj, basic_pending))

    # valid/crash-mid-rotation: the previous segment not yet moved to archive/ (section 1)
    mid = os.path.join(valid, "crash-mid-rotation")
    copy_log(basic, mid)
    os.rename(os.path.join(mid, "archive", seg2), os.path.join(mid, seg2))
    write_json(os.path.join(mid, "expected.json"), expected_valid(journal, basic_pending))

    # valid/closed-last-segment: crash after the closing seal, before the next segment exists
    closed = os.path.join(valid, "closed-last-segment")
    w = new_writer(closed)
    for kind, bodies in basic_steps():
        w.append_many(bodies, kind)
    w._write([w._seal(True)])
    w.close()
    write_json(os.path.join(closed, "expected.json"), expected_valid(w.journal, basic_pending))

    return BasicLog(basic, journal, spans, segments, by_seq)
