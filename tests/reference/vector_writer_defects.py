"""Invalid cases written by the writer with one step replaced: valid hashes and seals everywhere
except the one defect (in a seal or key, in the segment structure, or in a record)."""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from vector_bodies import OTHER_LOG_ID, completion, fixed_uuid, intent
from vector_expectations import expect
from vector_logs import (
    KEY2_SEED,
    KEY_SEED,
    SMALL_MAX_RECORD_BYTES,
    UNTRUSTED_SEED,
    InvalidCases,
    records_of,
    rotate_after,
)


def write_writer_defects(cases: InvalidCases) -> None:
    write_seal_and_key_defects(cases)
    write_segment_defects(cases)
    write_record_defects(cases)


def write_seal_and_key_defects(cases: InvalidCases) -> None:
    d, (j, sp) = cases.built(
        "seal-bad-signature",
        {4: lambda w, k, b: w.commit([{"kind": k, "body": x} for x in b], bad_signature=True)},
    )
    expect(
        d,
        sp[4][-1],
        error="seal.signature",
        sole=True,
        note="one bit of a seal's signature flipped before the line was hashed; chain intact",
    )

    d, (j, sp) = cases.built("seal-untrusted-key", {6: lambda w, k, b: rotate_after(w, k, b, UNTRUSTED_SEED)})
    expect(
        d,
        [e for e in sp[7] if e["kind"] == "seal"][0],
        error="seal.untrusted_key",
        sole=False,
        note="the log rotates to a key that is not in keyring.json; the first seal signed by it is untrusted "
        "(the log is valid without a keyring)",
    )

    d, (j, sp) = cases.built(
        "seal-key-not-in-force",
        {
            6: lambda w, k, b: rotate_after(w, k, b, revoke_old=False),
            9: lambda w, k, b: w.commit(
                [{"kind": k, "body": x} for x in b], seal_key=Ed25519PrivateKey.from_private_bytes(KEY_SEED)
            ),
        },
    )
    expect(
        d,
        sp[9][-1],
        error="seal.untrusted_key",
        sole=True,
        note="after key1 was rotated out (not revoked), a seal is validly signed by key1: trusted, not in force",
    )

    def rotate_back(w, k, b):  # key2 -> key1 again, but key1 was revoked
        w.append_many(b, k)
        w.rotate_key(KEY_SEED)

    d, (j, sp) = cases.built("seal-revoked-key", {6: rotate_after, 9: rotate_back})
    expect(
        d,
        [e for e in sp[10] if e["kind"] == "seal"][0],
        error="seal.untrusted_key",
        sole=False,
        note="key1 is revoked, later a rotate record makes key1 the writer key again; the first seal it "
        "signs after that is in force and in the keyring but revoked",
    )


def write_segment_defects(cases: InvalidCases) -> None:
    def manual_rotation(w, k, b, between):
        """Commit, close the segment, apply `between` (a defect), create the next segment, archive the old."""
        w.append_many(b, k)
        w._write([w._seal(True)])
        os.close(w._fd)
        old = os.path.join(w.dir, w.segment_file)
        between(w)
        w._new_segment()
        os.rename(old, os.path.join(w.archive, os.path.basename(old)))

    def unannounced_key(w, k, b):  # the new header declares key2 without any key record
        manual_rotation(w, k, b, lambda w: w._set_key(Ed25519PrivateKey.from_private_bytes(KEY2_SEED)))

    d, (j, sp) = cases.built("header-key-not-in-force", {6: unannounced_key})
    expect(
        d,
        [e for e in sp[6] if e["kind"] == "header"][-1],
        error="chain.segment",
        sole=False,
        note="a new segment's header declares key2 although no key record made it the writer key",
    )

    def other_log_id(w, k, b):
        manual_rotation(w, k, b, lambda w: setattr(w, "log_id", OTHER_LOG_ID))

    d, (j, sp) = cases.built("segment-log-id-differs", {6: other_log_id})
    expect(
        d,
        [e for e in sp[6] if e["kind"] == "header"][-1],
        error="chain.segment",
        sole=False,
        note="from segment 3 on the writer uses another log_id (headers, seal messages); the chain is intact",
    )

    def header_mid_segment(w, k, b):
        w.commit([{"kind": k, "body": x} for x in b] + [{"kind": "header", "body": w._header_body()}])

    d, (j, sp) = cases.built("header-out-of-place", {6: header_mid_segment})
    expect(
        d,
        records_of(sp, 6)[-1],
        error="chain.segment",
        sole=True,
        note="a well-formed header record in the middle of a segment",
    )

    def header_without_seal(w, k, b):
        manual_rotation(w, k, b, lambda w: None)
        header = w.journal[-2]
        del w.journal[-1]  # cut the new segment's first seal off again
        os.truncate(os.path.join(w.dir, w.segment_file), header["length"])
        w.seq, w.prev, w.size = header["seq"], header["hash"][len("sha256:") :], header["length"]

    d, (j, sp) = cases.built("segment-header-without-seal", {6: header_without_seal})
    expect(
        d,
        sp[7][0],
        error="seal.missing",
        sole=True,
        note="a new segment whose header is followed by a completion commit instead of a seal",
    )

    def closing_mid_segment(w, k, b):
        w._write([w._line(k, x) for x in b] + [w._seal(True)])

    d, (j, sp) = cases.built("seal-closing-mid-segment", {6: closing_mid_segment})
    expect(
        d,
        sp[6][-1],
        error="chain.segment",
        sole=True,
        note="a seal with closes: true in the middle of a segment (more records follow it)",
    )

    def no_closing_seal(w, k, b):
        w.append_many(b, k)
        w.rotate(closing_seal=False)

    d, (j, sp) = cases.built("segment-missing-closing-seal", {3: no_closing_seal})
    expect(
        d,
        sp[3][-3],
        error="seal.missing",
        sole=True,
        note="segment 1 ends with an ordinary seal (closes: false) and the log continues in segment 2",
    )


def write_record_defects(cases: InvalidCases) -> None:
    d, (j, sp) = cases.built(
        "intent-tier-4-not-rollback", {2: lambda w, k, b: w.commit([{"kind": k, "body": dict(b[0], tier=4)}])}
    )
    expect(
        d,
        records_of(sp, 2)[0],
        error="record.schema",
        sole=True,
        note="tier 4 on an operation other than rollback",
    )

    def back_in_time(w, k, b):
        recs = [{"kind": k, "body": x} for x in b]
        recs[1]["timestamp"] = "2025-12-31T23:59:59.000000Z"
        w.commit(recs)

    d, (j, sp) = cases.built("time-regression", {4: back_in_time})
    expect(
        d,
        records_of(sp, 4)[1],
        error="time.regression",
        sole=True,
        note="one intent's timestamp earlier than its predecessor's; hashes and seals correct",
    )

    d, (j, sp) = cases.built(
        "record-unknown-kind",
        {5: lambda w, k, b: w.commit([{"kind": k, "body": b[0]}, {"kind": "note", "body": {"text": "operator note"}}])},
    )
    expect(d, records_of(sp, 5)[1], error="record.kind", sole=True, note="a record of kind 'note'")

    def big(w, k, b):
        body = dict(b[0], detail={"log": "x" * 5000})
        w.commit([{"kind": k, "body": body}], check_size=False)

    d, (j, sp) = cases.built("record-too-large", {5: big}, max_record_bytes=SMALL_MAX_RECORD_BYTES)
    expect(
        d,
        records_of(sp, 5)[0],
        error="record.too_large",
        sole=True,
        note=f"headers declare max_record_bytes {SMALL_MAX_RECORD_BYTES}; one completion line is larger",
    )

    def drop_telemetry(w, k, b):
        body = dict(b[0])
        del body["telemetry"]
        w.commit([{"kind": k, "body": body}])

    d, (j, sp) = cases.built("intent-missing-field", {6: drop_telemetry})
    expect(d, records_of(sp, 6)[0], error="record.schema", sole=True, note="an intent without telemetry")

    d, (j, sp) = cases.built("intent-tier-5", {2: lambda w, k, b: w.commit([{"kind": k, "body": dict(b[0], tier=5)}])})
    expect(d, records_of(sp, 2)[0], error="record.schema", sole=True, note="an intent with tier 5")

    d, (j, sp) = cases.built(
        "completion-orphan",
        {5: lambda w, k, b: w.commit([{"kind": k, "body": b[0]}, {"kind": k, "body": dict(completion(99))}])},
    )
    expect(
        d,
        records_of(sp, 5)[1],
        error="completion.orphan",
        sole=True,
        note="a completion whose wal_id no intent used",
    )

    d, (j, sp) = cases.built(
        "completion-duplicate",
        {
            5: lambda w, k, b: w.commit(
                [
                    {"kind": k, "body": b[0]},
                    {"kind": k, "body": completion(1, "failed", error="second outcome")},
                ]
            )
        },
    )
    expect(
        d,
        records_of(sp, 5)[1],
        error="completion.duplicate",
        sole=True,
        note="a second completion for intent 1",
    )

    d, (j, sp) = cases.built(
        "intent-duplicate",
        {
            6: lambda w, k, b: w.commit(
                [
                    {"kind": k, "body": b[0]},
                    {"kind": k, "body": dict(intent(13, "retry"), wal_id=fixed_uuid("intent-2"))},
                ]
            )
        },
    )
    expect(
        d,
        records_of(sp, 6)[1],
        error="intent.duplicate",
        sole=True,
        note="an intent reusing the wal_id of intent 2",
    )
