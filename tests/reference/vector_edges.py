"""Edge cases of FORMAT.md that only bytes a writer would not write reach: the JSON rules
(integers, null, repeated names, lone surrogates, depth), the timestamp and JSON failures of a
line with a valid own hash, what the last valid seal is, and mixed tails. Each is a small log of
its own: one intent commit, then the commit that holds the edge."""

from __future__ import annotations

import os

import kfm_wal_ref as ref
from vector_bodies import LOG_ID, StepClock, completion, intent
from vector_expectations import expect, expected_valid, write_json
from vector_logs import BASIC_MAX_SEGMENT_BYTES, KEY_SEED, InvalidCases, new_writer


def _text(body: dict) -> bytes:
    return ref._body_text(body)


def _edited(body: dict, old: bytes, new: bytes) -> bytes:
    text = _text(body)
    assert text.count(old) == 1, (old, text)
    return text.replace(old, new)


def _small(cases: InvalidCases, name, last, writer=None, **writer_args):
    """A log: intent 1 sealed, then `last(w)` (which writes the edge); returns (dir, journal).
    `writer`: a RefWriter subclass to write it with (vector_logs.new_writer's settings)."""
    d = cases.case(name)
    if writer is None:
        w = new_writer(d, **writer_args)
    else:
        w = writer(d, KEY_SEED, LOG_ID, StepClock(), max_segment_bytes=BASIC_MAX_SEGMENT_BYTES, journal=True)
    w.append_many([intent(1, "etl_step")])
    last(w)
    w.close()
    return d, w.journal


def _one(kind: str, raw: bytes):
    return lambda w: w.commit([{"kind": kind, "raw": raw}])


def write_edge_cases(cases: InvalidCases) -> None:
    write_json_edges(cases)
    write_line_edges(cases)
    write_tail_edges(cases)
    write_key_edges(cases)
    write_start_edges(cases)


def write_json_edges(cases: InvalidCases) -> None:
    """Each a sealed intent (or key, completion) whose body breaks one JSON rule of section 2 or 4."""
    tier, actor = b'"tier":1', b'"type":"ci"'
    schema = {  # name: (bytes of intent 2's body, what replaces them, note)
        "json-integer-with-fraction": (tier, b'"tier":1.0', "`tier` written as 1.0"),
        "json-integer-negative-zero": (tier, b'"tier":-0', "`tier` written as -0"),
        "json-required-null": (tier, b'"tier":null', "a required member (`tier`) is null"),
        "json-repeated-member": (tier, b'"tier":1,"tier":1', "a top-level member written twice (same value)"),
        "json-member-named-like-envelope": (tier, b'"tier":1,"seq":5', "a body member named `seq`"),
        "json-repeated-judged-nested": (actor, actor + b"," + actor, "`actor.type` written twice (judged)"),
        "json-lone-surrogate-judged": (b'"id":"github', b'"id":"\\ud800github', "`actor.id` holds a lone surrogate"),
        "intent-operation-trailing-newline": (
            b'"operation":"etl_step"',
            b'"operation":"etl_step\\n"',
            "`operation` is `etl_step` + an escaped newline (an end anchor must not match before it)",
        ),
    }
    for name, (old, replacement, note) in schema.items():
        d, j = _small(cases, name, _one("intent", _edited(intent(2, "etl_step"), old, replacement)))
        expect(d, j[-2], error="record.schema", sole=True, note=note)

    bad = _text(completion(1)) + b',"error":"\\udc00"'
    d, j = _small(cases, "completion-error-lone-surrogate", _one("completion", bad))
    expect(d, j[-2], error="record.schema", sole=True, note="a completion's `error` holds a lone surrogate")

    raw = b'"action":"revoke","key_id":"ed25519:0000000000000000",,"x":1'
    d, j = _small(cases, "key-not-json", _one("key", raw))
    expect(d, j[-2], error="record.schema", sole=True, note="a key record whose JSON is broken (`,,`)")


def write_line_edges(cases: InvalidCases) -> None:
    """A line with a valid own hash but an invalid timestamp or no JSON (record.malformed, seq
    known); what counts as the last valid seal; the header line and max_record_bytes."""

    def bad_timestamp(kind):
        def last(w):
            good = w.clock()
            ts = w.clock()[:-1] + "z"  # lowercase z: bytewise after the previous, before the next
            if kind == "seal":
                w.clock = _Replay([good, ts], w.clock)
                w.append_many([intent(2, "etl_step")])
            else:
                w.commit([{"kind": "intent", "body": intent(2, "etl_step"), "timestamp": ts}])

        return last

    d, j = _small(cases, "record-malformed-timestamp", bad_timestamp("intent"))
    expect(
        d,
        j[-2],
        error="record.malformed",
        sole=True,
        note="a sealed intent with a valid own hash and a timestamp ending in `z`: seq known",
    )
    d, j = _small(cases, "seal-malformed-timestamp", bad_timestamp("seal"))
    expect(
        d,
        j[-1],
        error="record.malformed",
        sole=True,
        note="the last seal has an invalid timestamp: still a valid seal (no tail finding)",
    )

    raw = _edited(intent(2, "etl_step"), b'"tier":1', b'"tier":01')
    d, j = _small(cases, "record-malformed-json", _one("intent", raw))
    expect(d, j[-2], error="record.malformed", sole=True, note="a sealed intent whose body is not JSON (`01`)")

    def bad_seal_body(w):
        w.append_many([intent(2, "etl_step")])
        seal = w.journal[-1]
        path = os.path.join(w.dir, seal["segment"])
        with open(path, "rb") as f:
            data = f.read()
        line = data[seal["offset"] :]
        w.seq, w.prev = seal["seq"] - 1, w.journal[-2]["hash"][len("sha256:") :]
        body = line[line.index(b'"closes"') : line.index(b',"hash"')].replace(b'"closes":false', b'"closes":0')
        new = w._line("seal", raw=body, timestamp=line[line.index(b'"timestamp":"') + 13 :][:27].decode())[3]
        with open(path, "wb") as f:
            f.write(data[: seal["offset"]] + new)

    d, j = _small(cases, "seal-body-error-not-a-seal", bad_seal_body)
    expect(
        d,
        j[-1],
        error="record.schema",
        sole=True,
        note="the last seal's `closes` is 0: not a valid seal, so the intent before it is in the tail; the tail "
        "holds a line finding, so no tail finding",
    )

    d = cases.case("header-line-exempt-from-its-limit")
    w = new_writer(d, max_record_bytes=200)
    w.close()
    assert w.journal[0]["length"] > 200
    expect(
        d,
        w.journal[1],
        error="record.too_large",
        sole=True,
        note="max_record_bytes 200 is smaller than the header line: the header is judged against 1,048,576, "
        "the lines after it against 200",
    )


class _WeakKeyWriter(ref.RefWriter):
    """Declares the identity point (small order) as its key in every header; signs with its own."""

    def _header_body(self):
        weak = bytes([1]) + bytes(31)
        return dict(super()._header_body(), public_key=ref.b64encode(weak), key_id=ref.key_id_of(weak))


def write_key_edges(cases: InvalidCases) -> None:
    d, j = _small(cases, "header-small-order-key", lambda w: None, writer=_WeakKeyWriter)
    expect(
        d,
        j[0],
        error="chain.segment",
        sole=False,
        note="the header's public key is the identity point (small order, its key_id matches): the header is "
        "invalid, so its segment has no key in force and every seal in it is seal.untrusted_key",
    )


class _LateStartWriter(ref.RefWriter):
    """Starts the log at seq 5 (with the zero hash as prev), as if four records were cut off."""

    def _new_segment(self):
        if self.segment == 0:
            self.seq = 4
        super()._new_segment()


def write_start_edges(cases: InvalidCases) -> None:
    d, j = _small(cases, "log-starts-after-seq-1", lambda w: None, writer=_LateStartWriter)
    expect(d, j[0], error="chain.prev", sole=True, note="the first record of the log has seq 5 (prev zero)")

    def unpadded_signature(w):
        seal = ref._body_text({"closes": False, "key_id": w.key_id, "signature": "A" * 86})
        w._write([w._line("intent", intent(2, "etl_step")), w._line("seal", raw=seal)])

    d, j = _small(cases, "seal-signature-not-base64", unpadded_signature)
    expect(
        d,
        j[-1],
        error="seal.signature",
        sole=True,
        note="a seal by the key in force whose signature is 86 base64 characters without padding: its body is "
        "valid (a string), so it is a valid seal, and the signature does not decode to 64 bytes",
    )

    d = cases.case("header-log-id-uppercase")
    w = new_writer(d, log_id=LOG_ID.upper())
    w.append_many([intent(1, "etl_step")])
    w.close()
    expect(
        d,
        w.journal[0],
        error="chain.segment",
        sole=False,
        note="the header's log_id is in uppercase: not canonical, so the header is invalid and every seal of "
        "its segment is seal.untrusted_key",
    )


class _Replay:
    """A clock that returns the given timestamps first, then asks `then`."""

    def __init__(self, stamps, then):
        self.stamps, self.then = list(stamps), then

    def __call__(self):
        return self.stamps.pop(0) if self.stamps else self.then()


def write_tail_edges(cases: InvalidCases) -> None:
    """Tails that hold more than unsealed records."""

    def unsealed(*bodies, times=None):
        def last(w):
            lines = []
            for n, (kind, body) in enumerate(bodies):
                lines.append(w._line(kind, body, timestamp=None if times is None else times[n]))
            w._write(lines)

        return last

    d, j = _small(
        cases,
        "tail-time-regression",
        unsealed(
            ("intent", intent(2, "etl_step")),
            ("intent", intent(3, "etl_step")),
            times=[None, "2025-12-31T23:59:59.000000Z"],
        ),
    )
    expect(
        d,
        j[-1],
        error="time.regression",
        sole=True,
        note="two unsealed intents, the second earlier than the first: the tail holds a line finding, so it "
        "is reported as it is and the tail gets no tail finding",
    )

    d, j = _small(cases, "tail-unsealed-duplicate-intent", unsealed(("intent", intent(1, "etl_step"))))
    expect(
        d,
        j[-1],
        error="tail.unsealed",
        sole=True,
        note="an unsealed intent reuses a sealed intent's wal_id: records in a tail are not paired",
    )

    d, j = _small(cases, "tail-unknown-kind", unsealed(("frob", {"a": 1})))
    expect(
        d,
        j[-1],
        error="tail.torn",
        sole=True,
        note="the only record after the last seal has an unknown kind: a torn tail (record.kind is not reported)",
    )

    def closing_then_unsealed(w):
        w._write([w._seal(True)])
        w._write([w._line("intent", intent(2, "etl_step"))])

    d, j = _small(cases, "seal-closing-then-unsealed", closing_then_unsealed)
    expect(
        d,
        j[-2],
        error="chain.segment",
        sole=True,
        note="a closing seal followed only by an unsealed intent: chain.segment at the seal, no tail finding",
    )


def write_edge_valid(valid) -> None:
    """valid/json-edges: everything section 2 says a verifier must accept, in a log whose headers
    declare max_segment_bytes 0 (informative, not a verifier rule: the writer rotates before every
    commit)."""
    d = os.path.join(valid, "json-edges")
    w = ref.RefWriter(d, KEY_SEED, LOG_ID, StepClock(), max_segment_bytes=0, journal=True)
    deep = b"[" * 5000 + b"]" * 5000
    i1 = _edited(intent(1, "my.custom_op"), b'"dataset":"ks-hydrography"', b'"dataset":' + deep)
    i2 = _edited(
        intent(2, "etl_step"),
        b'"dataset":"ks-hydrography"',
        b'"dataset":"\\ud800","n":123456789012345678901234567890,"f":1e400,"d":{"a":1,"a":2}',
    )
    i2 = i2.replace(b'"care":"public"', b'"care":"public","approvals":null', 1).replace(b'"tier":1', b'"tier" :\t1 ')
    c1 = _text(completion(1)).replace(b'"duration_ms":117', b'"duration_ms":-0') + b',"error":null,"detail":null'
    w.commit([{"kind": "intent", "raw": i1}, {"kind": "intent", "raw": i2}])
    w.commit(
        [
            {"kind": "completion", "raw": c1},
            {"kind": "key", "raw": b'"action":"revoke","key_id":"nope","public_key":null'},
        ]
    )
    w.clock = _Replay(["2026-02-30T00:00:00.000000Z"] * 2, w.clock)
    w.commit([{"kind": "completion", "body": completion(2)}])
    w.close()
    write_json(os.path.join(d, "expected.json"), expected_valid(w.journal, []))
