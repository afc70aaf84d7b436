"""Stream ids (FORMAT.md section 4, "stream: one writer among many"): valid/stream-header (a log
whose every header names its stream, across a rotation) and the header rules of the member:
invalid/header-stream-uppercase, invalid/header-stream-empty, invalid/header-stream-not-string,
invalid/header-stream-null (each `chain.segment` at the header, which leaves its segment without a key in force)."""

from __future__ import annotations

import os

import kfm_wal_ref as ref
from vector_bodies import LOG_ID, StepClock, completion, intent
from vector_expectations import expect, expected_valid, write_json
from vector_logs import BASIC_MAX_SEGMENT_BYTES, KEY_SEED, InvalidCases

STREAM = "etl-worker-1.a_b"


class _NullStreamWriter(ref.RefWriter):
    """Writes `"stream":null` in every header (present, but not a string)."""

    def _header_body(self):
        return dict(super()._header_body(), stream=None)


def _stream_writer(d: str, stream, writer=ref.RefWriter) -> ref.RefWriter:
    return writer(
        d, KEY_SEED, LOG_ID, StepClock(), max_segment_bytes=BASIC_MAX_SEGMENT_BYTES, journal=True, stream=stream
    )


def write_streams_valid(valid: str) -> None:
    d = os.path.join(valid, "stream-header")
    w = _stream_writer(d, STREAM)
    w.append_many([intent(1, "etl_step")])
    w.append_many([completion(1)], kind="completion")
    w.rotate()
    w.append_many([intent(2, "etl_step")])
    w.append_many([completion(2)], kind="completion")
    w.close()
    headers = [e for e in w.journal if e["kind"] == "header"]
    assert len(headers) == 2, headers
    write_json(os.path.join(d, "expected.json"), expected_valid(w.journal, []))


def write_streams_invalid(cases: InvalidCases) -> None:
    bad = {
        "header-stream-uppercase": ("ETL-A", "a stream id in uppercase"),
        "header-stream-empty": ("", "an empty stream id"),
        "header-stream-not-string": (7, "a stream id that is a number"),
        "header-stream-null": (None, "a stream id that is null (present, so it must be a string)"),
    }
    for name, (stream, what) in bad.items():
        d = cases.case(name)
        w = _stream_writer(d, stream, _NullStreamWriter if stream is None else ref.RefWriter)
        w.append_many([intent(1, "etl_step")])
        w.close()
        expect(
            d,
            w.journal[0],
            error="chain.segment",
            sole=False,
            note=f"the header carries {what}: the header is invalid (chain.segment), so its segment has no key "
            "in force and its seals are seal.untrusted_key",
        )
