#!/usr/bin/env python3
"""Deterministically (re)generate the kfm-wal/1 golden test vectors.

    python tests/reference/make_vectors.py [OUT_DIR]      (default: data/vectors/)

OUT_DIR is removed and rewritten from scratch; every run produces identical bytes.
Expected results are derived from what the generator wrote (the writer's journal and the
defect it applied), never from running the verifier.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import uuid
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

try:
    from . import kfm_wal_ref as ref
except ImportError:  # run as a script, or imported with tests/reference on sys.path
    import kfm_wal_ref as ref

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_OUT = os.path.join(REPO, "data", "vectors")

KEY_SEED = hashlib.sha256(b"kfm-wal test vector key").digest()
KEY2_SEED = hashlib.sha256(b"kfm-wal test vector key 2").digest()
UNTRUSTED_SEED = hashlib.sha256(b"kfm-wal test vector untrusted key").digest()
BASIC_MAX_SEGMENT_BYTES = 9600
SMALL_MAX_RECORD_BYTES = 4096  # only for the record-too-large case


def fixed_uuid(label: str) -> str:
    return str(uuid.UUID(bytes=hashlib.sha256(b"kfm-wal vector uuid " + label.encode()).digest()[:16], version=4))


LOG_ID = fixed_uuid("log")
OTHER_LOG_ID = fixed_uuid("other-log")


class StepClock:
    """2026-01-01T00:00:00.000000Z, then +1 ms per call."""

    def __init__(self):
        self.n = 0

    def __call__(self) -> str:
        t = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(milliseconds=self.n)
        self.n += 1
        return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def h(label: str) -> str:
    return "sha256:" + hashlib.sha256(label.encode()).hexdigest()


# ---------------------------------------------------------------- bodies


def intent(
    n: int,
    operation: str,
    *,
    tier: int = 1,
    actor=("ci", "github-actions/etl-nightly"),
    care="public",
    payload=None,
    irreversible: str = None,
    approvals=None,
    links=(),
) -> dict:
    wid = fixed_uuid(f"intent-{n}")
    reversal = (
        {"irreversible": True, "reason": irreversible}
        if irreversible
        else {"steps": [{"action": "restore", "target": f"data/work/{operation}/{n:03d}", "state": h(f"pre-{n}")}]}
    )
    governance = {"care": care}
    if approvals is not None:
        governance["approvals"] = approvals
    return {
        "wal_id": wid,
        "operation": operation,
        "actor": {"type": actor[0], "id": actor[1]},
        "pre_state_hash": h(f"pre-{n}"),
        "post_state_expected": h(f"post-{n}"),
        "payload": payload
        or {
            "dataset": "ks-hydrography",
            "step": operation,
            "inputs": [f"data/raw/hydro/part-{n:03d}.parquet"],
        },
        "reversal": reversal,
        "tier": tier,
        "governance": governance,
        "lineage_links": [f"wal:{fixed_uuid(f'intent-{x}')}" for x in links],
        "telemetry": {"id": f"tel-{n:04d}", "run": "nightly-2026-01-01"},
    }


def completion(n: int, status: str = "succeeded", **extra) -> dict:
    body = {"wal_id": fixed_uuid(f"intent-{n}"), "status": status, "duration_ms": 100 + 17 * n}
    if status == "succeeded":
        body["post_state_hash"] = h(f"post-{n}")
        body["executed_digest"] = h(f"exec-{n}")
    body.update(extra)
    return body


def basic_steps():
    """The group commits of the basic log: (kind, bodies)."""
    dev = ("developer", "kfm-dev-alice")
    return [
        ("intent", [intent(1, "etl_step"), intent(2, "etl_step", links=[1])]),
        ("completion", [completion(1)]),
        (
            "intent",
            [intent(3, "stac_item", payload={"collection": "ks-landcover", "item": "lc-2025-q4"}, links=[2])],
        ),
        (
            "completion",
            [completion(2), completion(3, "failed", error="upstream tile missing: lc-2025-q4/07")],
        ),
        (
            "intent",
            [
                intent(4, "graph_write", tier=2, care="sensitive", approvals=["kfm-steward-bob"]),
                intent(5, "stac_collection", payload={"collection": "ks-landcover", "items": 12}),
                intent(6, "lineage_update", tier=0, links=[4, 5]),
            ],
        ),
        ("completion", [completion(4)]),
        (
            "intent",
            [
                intent(
                    7,
                    "hotfix",
                    tier=3,
                    actor=dev,
                    care="restricted",
                    approvals=["kfm-steward-bob", "kfm-lead-carol"],
                )
            ],
        ),
        (
            "completion",
            [
                completion(5),
                completion(6, "failed", error="graph lock timeout", detail={"retries": 3}),
                completion(7),
            ],
        ),
        (
            "intent",
            [
                intent(
                    8,
                    "rollback",
                    tier=4,
                    actor=dev,
                    approvals=["kfm-lead-carol"],
                    irreversible="restores snapshot; the superseded state is kept in the ledger",
                    payload={"to_snapshot": "snap-2025-12-31"},
                    links=[7],
                )
            ],
        ),
        ("completion", [completion(8)]),
        (
            "intent",
            [
                intent(9, "snapshot", actor=("system", "kfm-scheduler")),
                intent(10, "checkpoint", tier=0, actor=("system", "kfm-scheduler")),
            ],
        ),
        ("completion", [completion(9, "refused", error="care review pending")]),
        ("intent", [intent(11, "ledger_update", tier=2), intent(12, "etl_step", links=[11])]),
        ("completion", [completion(11), completion(12, "failed", error="schema drift in part-012")]),
    ]


# ---------------------------------------------------------------- building


def new_writer(d, seed=KEY_SEED, log_id=LOG_ID, max_record_bytes=ref.DEFAULT_MAX_RECORD_BYTES):
    return ref.RefWriter(
        d,
        seed,
        log_id,
        StepClock(),
        max_segment_bytes=BASIC_MAX_SEGMENT_BYTES,
        max_record_bytes=max_record_bytes,
        journal=True,
    )


def build_basic(d, hooks=None, **writer_args):
    """Write the basic log; hooks[step](writer, kind, bodies) replaces a step. Returns (journal, spans)."""
    w = new_writer(d, **writer_args)
    spans = []  # per step: the journal entries it produced
    for n, (kind, bodies) in enumerate(basic_steps()):
        start = len(w.journal)
        if hooks and n in hooks:
            hooks[n](w, kind, bodies)
        else:
            w.append_many(bodies, kind)
        spans.append(w.journal[start:])
    w.close()
    return w.journal, spans


def records_of(spans, step):
    """Journal entries of a step's own records (not its seal, not a rotation before it)."""
    return spans[step][_commit_start(spans[step]) : -1]


def _commit_start(entries):
    for i in range(len(entries) - 2, -1, -1):
        if entries[i]["kind"] == "seal":
            return i + 1
    return 0


def seg_path(log, name):
    for sub in (log, os.path.join(log, "archive")):
        if os.path.exists(os.path.join(sub, name)):
            return os.path.join(sub, name)
    raise FileNotFoundError(name)


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def expect(case_dir, entry_or_seg, offset=None, seq=None, *, error, sole, note):
    if isinstance(entry_or_seg, dict):
        seg, offset, seq = entry_or_seg["segment"], entry_or_seg["offset"], entry_or_seg["seq"]
    else:
        seg = entry_or_seg
    write_json(
        os.path.join(case_dir, "expected.json"),
        {"error": error, "segment": seg, "offset": offset, "seq": seq, "sole_error": sole, "note": note},
    )


def expected_valid(journal, pending):
    head = journal[-1]
    return {
        "ok": True,
        "records": [
            {
                "seq": e["seq"],
                "kind": e["kind"],
                "hash": e["hash"],
                "segment": e["segment"],
                "offset": e["offset"],
            }
            for e in journal
        ],
        "head_seq": head["seq"],
        "head_hash": head["hash"],
        "pending": pending,
    }


def copy_log(src, dst):
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("expected.json"))


def edit(path, fn):
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(fn(data))


def replace_in_line(log, entry, old: bytes, new: bytes):
    """Replace the first `old` inside the line of `entry` by `new` (same length keeps offsets)."""

    def fn(data):
        a, b = entry["offset"], entry["offset"] + entry["length"]
        line = data[a:b]
        assert old in line, (old, line)
        return data[:a] + line.replace(old, new, 1) + data[b:]

    edit(seg_path(log, entry["segment"]), fn)


# ---------------------------------------------------------------- the vectors


def generate(out=DEFAULT_OUT):
    out = os.path.abspath(out)
    if os.path.isdir(out) and os.listdir(out) and not os.path.exists(os.path.join(out, "keyring.json")):
        raise SystemExit(f"refusing to wipe {out}: not empty and not a vectors directory")
    shutil.rmtree(out, ignore_errors=True)
    valid, invalid = os.path.join(out, "valid"), os.path.join(out, "invalid")
    os.makedirs(valid)
    os.makedirs(invalid)

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

    basic_pending = [fixed_uuid("intent-10")]

    # valid/basic
    basic = os.path.join(valid, "basic")
    journal, spans = build_basic(basic)
    segments = sorted({e["segment"] for e in journal})
    assert len(segments) == 3, segments
    write_json(os.path.join(basic, "expected.json"), expected_valid(journal, basic_pending))
    by_seq = {e["seq"]: e for e in journal}
    seg1, seg2, seg3 = segments

    # valid/rotated-key: key1 -> key2 (and key1 revoked) in the middle of the log
    def rotate_after(w, kind, bodies, seed=KEY2_SEED, revoke_old=True):
        w.append_many(bodies, kind)
        w.rotate_key(seed, revoke_old=revoke_old)

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

    cases = {}

    def case(name):
        d = os.path.join(invalid, name)
        cases[name] = d
        return d

    def from_basic(name):
        d = case(name)
        copy_log(basic, d)
        return d

    last_commit = spans[-1][_commit_start(spans[-1]) :]  # final commit: completions 11, 12 + seal
    assert [e["kind"] for e in last_commit] == ["completion", "completion", "seal"]
    assert all(e["segment"] == seg3 for e in last_commit)

    # byte-level defects on copies of valid/basic
    d = from_basic("record-hash-flipped-byte")
    target = records_of(spans, 5)[0]  # completion of intent 4, in segment 2
    assert target["segment"] == seg2
    replace_in_line(d, target, b'"duration_ms":168', b'"duration_ms":169')
    expect(
        d,
        target["segment"],
        target["offset"],
        None,
        error="record.hash",
        sole=True,
        note="one byte of a sealed completion changed",
    )

    d = from_basic("chain-deleted-line")
    target = records_of(spans, 7)[1]  # completion of intent 6
    assert target["segment"] == seg2
    edit(seg_path(d, seg2), lambda b: b[: target["offset"]] + b[target["offset"] + target["length"] :])
    nxt = by_seq[target["seq"] + 1]
    expect(
        d,
        seg2,
        target["offset"],
        nxt["seq"],
        error="chain.seq",
        sole=False,
        note="a sealed completion line deleted; the next record's seq and prev no longer link",
    )

    d = from_basic("chain-swapped-lines")
    a, b = records_of(spans, 4)[0], records_of(spans, 4)[1]  # intents 4 and 5
    assert a["segment"] == b["segment"] == seg2 and a["offset"] + a["length"] == b["offset"]

    def swap(data):
        la = data[a["offset"] : a["offset"] + a["length"]]
        lb = data[b["offset"] : b["offset"] + b["length"]]
        return data[: a["offset"]] + lb + la + data[b["offset"] + b["length"] :]

    edit(seg_path(d, seg2), swap)
    expect(
        d,
        seg2,
        a["offset"],
        b["seq"],
        error="chain.seq",
        sole=False,
        note="two adjacent intent lines swapped",
    )

    d = from_basic("chain-duplicated-line")
    target = records_of(spans, 6)[0]  # intent 7

    def dup(data):
        end = target["offset"] + target["length"]
        return data[:end] + data[target["offset"] : end] + data[end:]

    edit(seg_path(d, target["segment"]), dup)
    expect(
        d,
        target["segment"],
        target["offset"] + target["length"],
        target["seq"],
        error="chain.seq",
        sole=False,
        note="an intent line written twice",
    )

    seal = last_commit[-1]
    d = from_basic("tail-torn-truncated")
    edit(seg_path(d, seg3), lambda b: b[: seal["offset"] + seal["length"] // 2])
    expect(
        d,
        last_commit[0],
        error="tail.torn",
        sole=True,
        note="last segment cut in the middle of its final seal: complete records + a partial line after the "
        "last valid seal; located at the start of the tail (the recovery cut point)",
    )

    d = from_basic("tail-torn-partial-record")
    first = last_commit[0]
    edit(seg_path(d, seg3), lambda b: b[: first["offset"] + 40])
    expect(
        d,
        seg3,
        first["offset"],
        None,
        error="tail.torn",
        sole=True,
        note="last segment cut 40 bytes into the first record after the last seal",
    )

    d = from_basic("tail-unsealed")
    edit(seg_path(d, seg3), lambda b: b[: seal["offset"]])
    expect(
        d,
        last_commit[0],
        error="tail.unsealed",
        sole=True,
        note="the final seal removed: two complete, valid records after the last seal",
    )

    d = from_basic("tail-torn-zero-filled")
    start = last_commit[0]["offset"]
    edit(seg_path(d, seg3), lambda b: b[:start] + bytes(len(b) - start))
    expect(
        d,
        seg3,
        start,
        None,
        error="tail.torn",
        sole=True,
        note="the bytes of the final commit (records and seal) replaced by zero bytes",
    )

    d = from_basic("corrupt-mid-last-segment")
    target = records_of(spans, 11)[0]  # completion of intent 9, followed by sealed records
    assert target["segment"] == seg3
    replace_in_line(d, target, b'"status":"refused"', b'"status":"refusex"')
    expect(
        d,
        target["segment"],
        target["offset"],
        None,
        error="record.hash",
        sole=True,
        note="byte changed in the middle of the last segment, valid sealed records follow: corruption, not a tail",
    )

    d = from_basic("corrupt-tail-followed-by-valid")
    edit(seg_path(d, seg3), lambda b: b[: seal["offset"]])
    replace_in_line(d, last_commit[0], b'"status":"succeeded"', b'"status":"succeedex"')
    expect(
        d,
        last_commit[0]["segment"],
        last_commit[0]["offset"],
        None,
        error="record.hash",
        sole=True,
        note="final seal removed and the first record after the last seal corrupted; the next line has a "
        "valid own hash, so this is corruption, not a torn tail (and no tail error is reported)",
    )

    d = from_basic("segment-missing-middle")
    os.remove(os.path.join(d, "archive", seg2))
    expect(
        d,
        seg3,
        0,
        by_seq[int(seg3[13:29])]["seq"],
        error="chain.segment",
        sole=False,
        note="archive/ segment 2 deleted: segment numbers 1, 3",
    )

    d = from_basic("segment-name-mismatch")
    first_seq = int(seg3[13:29])
    bad_name = ref.segment_name(3, first_seq + 1)
    os.rename(os.path.join(d, seg3), os.path.join(d, bad_name))
    expect(
        d,
        bad_name,
        0,
        first_seq,
        error="chain.segment",
        sole=True,
        note="the live segment renamed so its file name's first seq disagrees with its header",
    )

    d = from_basic("segment-duplicate-number")
    shutil.copyfile(os.path.join(d, "archive", seg2), os.path.join(d, seg2))
    expect(
        d,
        seg2,
        0,
        None,
        error="chain.segment",
        sole=True,
        note="segment 2 present both in archive/ and in the log directory (the archive/ copy is read)",
    )

    other = os.path.join(out, "_other")
    other_journal, _ = build_basic(other, log_id=OTHER_LOG_ID)
    assert [(e["segment"], e["offset"]) for e in other_journal] == [(e["segment"], e["offset"]) for e in journal]
    d = from_basic("segment-from-other-log")
    shutil.copyfile(os.path.join(other, "archive", seg2), os.path.join(d, "archive", seg2))
    shutil.rmtree(other)
    expect(
        d,
        seg2,
        0,
        int(seg2[13:29]),
        error="chain.prev",
        sole=False,
        note="segment 2 replaced by segment 2 of another log (same key, other log_id, same layout)",
    )

    # writer-built defects: valid hashes and seals everywhere except the one defect
    def built(name, hooks, **kw):
        d = case(name)
        return d, build_basic(d, hooks=hooks, **kw)

    d, (j, sp) = built(
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

    d, (j, sp) = built("seal-untrusted-key", {6: lambda w, k, b: rotate_after(w, k, b, UNTRUSTED_SEED)})
    expect(
        d,
        [e for e in sp[7] if e["kind"] == "seal"][0],
        error="seal.untrusted_key",
        sole=False,
        note="the log rotates to a key that is not in keyring.json; the first seal signed by it is untrusted "
        "(the log is valid without a keyring)",
    )

    d, (j, sp) = built(
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

    d, (j, sp) = built("seal-revoked-key", {6: rotate_after, 9: rotate_back})
    expect(
        d,
        [e for e in sp[10] if e["kind"] == "seal"][0],
        error="seal.untrusted_key",
        sole=False,
        note="key1 is revoked, later a rotate record makes key1 the writer key again; the first seal it "
        "signs after that is in force and in the keyring but revoked",
    )

    d, (j, sp) = built(
        "intent-tier-4-not-rollback", {2: lambda w, k, b: w.commit([{"kind": k, "body": dict(b[0], tier=4)}])}
    )
    expect(
        d,
        records_of(sp, 2)[0],
        error="record.schema",
        sole=True,
        note="tier 4 on an operation other than rollback",
    )

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

    d, (j, sp) = built("header-key-not-in-force", {6: unannounced_key})
    expect(
        d,
        [e for e in sp[6] if e["kind"] == "header"][-1],
        error="chain.segment",
        sole=False,
        note="a new segment's header declares key2 although no key record made it the writer key",
    )

    def other_log_id(w, k, b):
        manual_rotation(w, k, b, lambda w: setattr(w, "log_id", OTHER_LOG_ID))

    d, (j, sp) = built("segment-log-id-differs", {6: other_log_id})
    expect(
        d,
        [e for e in sp[6] if e["kind"] == "header"][-1],
        error="chain.segment",
        sole=False,
        note="from segment 3 on the writer uses another log_id (headers, seal messages); the chain is intact",
    )

    def header_mid_segment(w, k, b):
        w.commit([{"kind": k, "body": x} for x in b] + [{"kind": "header", "body": w._header_body()}])

    d, (j, sp) = built("header-out-of-place", {6: header_mid_segment})
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

    d, (j, sp) = built("segment-header-without-seal", {6: header_without_seal})
    expect(
        d,
        sp[7][0],
        error="seal.missing",
        sole=True,
        note="a new segment whose header is followed by a completion commit instead of a seal",
    )

    def closing_mid_segment(w, k, b):
        w._write([w._line(k, x) for x in b] + [w._seal(True)])

    d, (j, sp) = built("seal-closing-mid-segment", {6: closing_mid_segment})
    expect(
        d,
        sp[6][-1],
        error="chain.segment",
        sole=True,
        note="a seal with closes: true in the middle of a segment (more records follow it)",
    )

    def back_in_time(w, k, b):
        recs = [{"kind": k, "body": x} for x in b]
        recs[1]["timestamp"] = "2025-12-31T23:59:59.000000Z"
        w.commit(recs)

    d, (j, sp) = built("time-regression", {4: back_in_time})
    expect(
        d,
        records_of(sp, 4)[1],
        error="time.regression",
        sole=True,
        note="one intent's timestamp earlier than its predecessor's; hashes and seals correct",
    )

    d, (j, sp) = built(
        "record-unknown-kind",
        {5: lambda w, k, b: w.commit([{"kind": k, "body": b[0]}, {"kind": "note", "body": {"text": "operator note"}}])},
    )
    expect(d, records_of(sp, 5)[1], error="record.kind", sole=True, note="a record of kind 'note'")

    def big(w, k, b):
        body = dict(b[0], detail={"log": "x" * 5000})
        w.commit([{"kind": k, "body": body}], check_size=False)

    d, (j, sp) = built("record-too-large", {5: big}, max_record_bytes=SMALL_MAX_RECORD_BYTES)
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

    d, (j, sp) = built("intent-missing-field", {6: drop_telemetry})
    expect(d, records_of(sp, 6)[0], error="record.schema", sole=True, note="an intent without telemetry")

    d, (j, sp) = built("intent-tier-5", {2: lambda w, k, b: w.commit([{"kind": k, "body": dict(b[0], tier=5)}])})
    expect(d, records_of(sp, 2)[0], error="record.schema", sole=True, note="an intent with tier 5")

    d, (j, sp) = built(
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

    d, (j, sp) = built(
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

    d, (j, sp) = built(
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

    def no_closing_seal(w, k, b):
        w.append_many(b, k)
        w.rotate(closing_seal=False)

    d, (j, sp) = built("segment-missing-closing-seal", {3: no_closing_seal})
    expect(
        d,
        sp[3][-3],
        error="seal.missing",
        sole=True,
        note="segment 1 ends with an ordinary seal (closes: false) and the log continues in segment 2",
    )

    write_readme(out, sorted(cases))
    return cases


def write_readme(out, case_names):
    notes = {}
    for name in case_names:
        with open(os.path.join(out, "invalid", name, "expected.json"), encoding="utf-8") as f:
            exp = json.load(f)
        notes[name] = exp
    rows = "\n".join(
        f"| `{n}` | `{e['error']}` | {'yes' if e['sole_error'] else 'no'} | {e['note']} |" for n, e in notes.items()
    )
    text = f"""# kfm-wal/1 test vectors

Generated by `python tests/reference/make_vectors.py` (deterministic; rewrites this directory).
Do not edit by hand. The generator derives every expectation from what it wrote, not from a verifier.

This file only says how the vectors are laid out. Every rule they exercise (what is a finding, its
code, where it is located, which seq it names, in which order findings come) is in
[docs/FORMAT.md](../../docs/FORMAT.md), section 6 and its rule table; the places where the
reference implementation (`tests/reference/kfm_wal_ref.py`) marks a CHOICE are decided there too
(where the reference reads a case the vectors do not cover differently, FORMAT.md is what counts).

## Layout

- `keyring.json`: the trusted writer keys, in the keyring file format of FORMAT.md section 5:
  `key1` and `key2`. Private key seeds (raw 32-byte Ed25519): key1 = SHA-256(`kfm-wal test vector key`),
  key2 = SHA-256(`kfm-wal test vector key 2`), untrusted = SHA-256(`kfm-wal test vector untrusted key`)
  (the untrusted key is not in `keyring.json`).
- `valid/<case>/`: a log directory (`wal-*.jsonl`, `archive/`) plus `expected.json` with the members
  `ok` (`true`), `records` (every sealed record in log order, each with `seq`, `kind`, `hash`
  (`sha256:<hex>`), `segment` (file name without `archive/`) and `offset` (byte offset of its line)),
  `head_seq` and `head_hash` (the last record, a seal), and `pending` (the wal_ids of the intents
  without completion, in log order).
- `invalid/<case>/`: a log with one defect plus `expected.json` with the members `error` (a finding
  code), `segment`, `offset`, `seq` (a number or `null`), `sole_error` (boolean) and `note` (what the
  defect is, for people).

## How to check an implementation against them

- A `valid/` case, verified with `keyring.json` and again without a keyring (self-declared trust),
  must have no finding, the same head and pending intents, and read back exactly `records`.
- An `invalid/` case, verified with `keyring.json`, must report as its first finding (in the order
  of FORMAT.md section 6.7) one with exactly `error`, `segment`, `offset` and `seq`; when
  `sole_error` is `true`, it must be the only finding.

Log id of every log: `{LOG_ID}` (the `segment-from-other-log` intruder uses `{OTHER_LOG_ID}`).
Timestamps start at 2026-01-01T00:00:00.000000Z and advance 1 ms per record. Segments rotate at
`max_segment_bytes` = {BASIC_MAX_SEGMENT_BYTES}, so the basic log has three segments (two in `archive/`).

## Cases

| case | first error | sole | what |
|---|---|---|---|
{rows}
"""
    with open(os.path.join(out, "README.md"), "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT
    made = generate(target)
    print(f"wrote {len(made)} invalid cases and the valid logs to {target}")
