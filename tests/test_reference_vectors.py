"""The reference implementation (tests/reference/) judges every vector in data/vectors/ as expected."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kfm_wal.findings import CORE_RULES

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "reference"))
import kfm_wal_ref as ref  # noqa: E402
import make_vectors  # noqa: E402
from vector_cases import INVALID, REFUSED, VALID, VECTORS, keyring_of, receipt_of  # noqa: E402

KEYRING = VECTORS / "keyring.json"

# The defects the vector set must contain at least, with the first error each must produce.
REQUIRED_INVALID = {
    "record-hash-flipped-byte": "record.hash",
    "chain-deleted-line": "chain.seq",
    "chain-swapped-lines": "chain.seq",
    "chain-duplicated-line": "chain.seq",
    "tail-torn-truncated": "tail.torn",
    "tail-unsealed": "tail.unsealed",
    "tail-torn-zero-filled": "tail.torn",
    "segment-missing-middle": "chain.segment",
    "segment-from-other-log": "chain.prev",
    "seal-bad-signature": "seal.signature",
    "seal-untrusted-key": "seal.untrusted_key",
    "time-regression": "time.regression",
    "record-unknown-kind": "record.kind",
    "record-too-large": "record.too_large",
    "intent-missing-field": "record.schema",
    "intent-tier-5": "record.schema",
    "completion-orphan": "completion.orphan",
    "corrupt-mid-last-segment": "record.hash",
    "corrupt-tail-followed-by-valid": "record.hash",
}


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def log_files(root: Path):
    return sorted(p for p in root.rglob("*.jsonl"))


def test_vector_set_is_complete():
    assert {"basic", "rotated-key"} <= set(VALID)
    for name, code in REQUIRED_INVALID.items():
        assert name in INVALID, name
        assert load(VECTORS / "invalid" / name / "expected.json")["error"] == code
    basic = VECTORS / "valid" / "basic"
    assert len(log_files(basic)) == 3 and len(list((basic / "archive").glob("*.jsonl"))) == 2
    kinds = {r["kind"] for r in load(basic / "expected.json")["records"]}
    assert kinds == {"header", "seal", "intent", "completion"}
    rotated = [r["kind"] for r in load(VECTORS / "valid" / "rotated-key" / "expected.json")["records"]]
    assert "key" in rotated


@pytest.mark.parametrize("name", VALID)
def test_valid_vector(name):
    d = VECTORS / "valid" / name
    exp = load(d / "expected.json")
    for keyring, trust in ((keyring_of(d), "keyring"), (None, "self-declared")):
        for receipt in {None, receipt_of(d)}:  # a receipt's run verifies only what follows it
            report = ref.verify(d, keyring, receipt=receipt)
            assert report.errors == [] and report.ok
            assert report.trust == trust
            assert (report.head_seq, report.head_hash) == (exp["head_seq"], exp["head_hash"])
            assert sorted(report.pending) == sorted(exp["pending"])
            if receipt is None:
                assert report.records == len(exp["records"])
                assert report.pending == exp["pending"]
    got = [(r["seq"], r["kind"], r["hash"]) for r in ref.read(d)]
    assert got == [(r["seq"], r["kind"], r["hash"]) for r in exp["records"]]
    # the hashes in expected.json are the SHA-256 of the exact bytes at the stated locations
    for r in exp["records"]:
        path = d / r["segment"] if (d / r["segment"]).exists() else d / "archive" / r["segment"]
        data = path.read_bytes()
        if path.name.endswith(".zst"):  # a compressed segment: the bytes are its decompressed ones
            data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
        line = data[r["offset"] : data.index(b"\n", r["offset"]) + 1]
        assert r["hash"] == "sha256:" + hashlib.sha256(line[:-82]).hexdigest()


@pytest.mark.parametrize("name", INVALID)
def test_invalid_vector(name):
    d = VECTORS / "invalid" / name
    exp = load(d / "expected.json")
    report = ref.verify(d, keyring_of(d), receipt=receipt_of(d))
    assert not report.ok and report.errors
    first = report.errors[0]
    assert (first.code, first.segment, first.offset, first.seq) == (
        exp["error"],
        exp["segment"],
        exp["offset"],
        exp["seq"],
    ), report.errors
    if exp["sole_error"]:
        assert len(report.errors) == 1, report.errors
    for e in report.errors:  # every error is located (a receipt's segment may be gone: "")
        assert (e.segment or e.code == "receipt.truncated") and e.offset >= 0 and e.message


@pytest.mark.parametrize("name", REFUSED)
def test_refused_vector(name):
    d = VECTORS / "refused" / name
    assert load(d / "expected.json")["refused"] is True
    with pytest.raises(ValueError):
        ref.verify(d, keyring_of(d), receipt=receipt_of(d))


def test_untrusted_key_case_depends_on_the_keyring():
    d = VECTORS / "invalid" / "seal-untrusted-key"
    report = ref.verify(d)
    assert report.ok and report.trust == "self-declared"


def test_read_skips_a_recoverable_tail_and_refuses_corruption():
    basic = load(VECTORS / "valid" / "basic" / "expected.json")["records"]
    for name in ("tail-unsealed", "tail-torn-truncated", "tail-torn-partial-record", "tail-torn-zero-filled"):
        exp = load(VECTORS / "invalid" / name / "expected.json")
        before = [r for r in basic if (r["segment"], r["offset"]) < (exp["segment"], exp["offset"])]
        records = list(ref.read(VECTORS / "invalid" / name))
        assert [(r["seq"], r["hash"]) for r in records] == [(r["seq"], r["hash"]) for r in before]
        assert records[-1]["kind"] == "seal" and len(records) < len(basic)
    with pytest.raises(ref.VerifyError):
        list(ref.read(VECTORS / "invalid" / "record-hash-flipped-byte"))


def test_regeneration_is_byte_identical(tmp_path):
    out = tmp_path / "vectors"
    make_vectors.generate(str(out))
    ours = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    theirs = sorted(str(p.relative_to(VECTORS)) for p in VECTORS.rglob("*") if p.is_file())
    assert ours == theirs
    for rel in ours:
        assert (out / rel).read_bytes() == (VECTORS / rel).read_bytes(), rel


# ---------------------------------------------------------------- line grammar


def make_line(head: bytes) -> bytes:
    """Complete a line from everything before '"hash":' with a correct hash."""
    return head + b'"hash":"sha256:' + hashlib.sha256(head).hexdigest().encode() + b'"}\n'


GOOD_HEAD = (
    b'{"seq":7,"prev":"sha256:' + b"ab" * 32 + b'","kind":"completion","timestamp":"2026-01-01T00:00:00.000000Z",'
    b'"status":"failed","wal_id":"x y",'
)


@pytest.mark.parametrize(
    "head,status",
    [
        (GOOD_HEAD, "good"),
        (GOOD_HEAD.replace(b'"seq":7', b'"seq":07'), "malformed"),  # leading zero
        (GOOD_HEAD.replace(b'"seq":7', b'"seq":0'), "malformed"),  # seq >= 1
        (GOOD_HEAD.replace(b"ab" * 32, b"AB" * 32), "malformed"),  # lowercase hex only
        (b"\xef\xbb\xbf" + GOOD_HEAD, "malformed"),  # BOM
        (GOOD_HEAD.replace(b'"status":"failed"', b'"status": "failed"'), "good"),  # body whitespace is allowed
        (GOOD_HEAD.replace(b'"seq":7,', b'"seq":7 ,'), "malformed"),
        (GOOD_HEAD + b'"status":"ok",', "malformed"),  # duplicate member
        (GOOD_HEAD + b'"seq":8,', "malformed"),  # envelope name in the body
        (GOOD_HEAD + b'"d":NaN,', "malformed"),  # not RFC 8259 JSON
        (GOOD_HEAD + b'"d":{"a":1,"a":2},', "good"),  # uniqueness is required of record members only
        (GOOD_HEAD.replace(b'"failed"', b'"f\xffiled"'), "malformed"),  # not UTF-8
        (GOOD_HEAD.replace(b"00.000000Z", b"00.00000Z "), "malformed"),  # timestamp shape
        (GOOD_HEAD.replace(b"2026-01-01T", b"2026-13-01T"), "malformed"),  # not a date
        (GOOD_HEAD.replace(b'"status":"failed","wal_id":"x y",', b","), "malformed"),  # empty body
        (GOOD_HEAD[:-1], "malformed"),  # body not followed by a comma
    ],
)
def test_line_grammar(head, status):
    assert line_status(ref._parse_line(0, make_line(head))) == status


def line_status(ln) -> str:
    """good, hash, or malformed: a bad envelope, timestamp or JSON, or a repeated record member
    (which the body rules report, FORMAT.md section 2)."""
    if ln.status == "hash":
        return "hash"
    return "good" if ln.status == "good" and not ln.ts_problem and not ln.body.repeated else "malformed"


def test_line_grammar_exact_suffix_and_hash():
    line = make_line(GOOD_HEAD)
    assert line_status(ref._parse_line(0, line)) == "good"
    assert line_status(ref._parse_line(0, line[:-1] + b"\r\n")) == "malformed"
    assert line_status(ref._parse_line(0, line[:-1])) == "malformed"  # incomplete
    assert line_status(ref._parse_line(0, line.replace(b'"hash":"', b'"hash": "'))) == "malformed"
    assert line_status(ref._parse_line(0, GOOD_HEAD.replace(b"x y", b"x z") + line[len(GOOD_HEAD) :])) == "hash"


# ---------------------------------------------------------------- writer


def test_writer_roundtrip_rotation_and_limits(tmp_path):
    seed = hashlib.sha256(b"writer test").digest()
    log = tmp_path / "wal"
    bodies = [make_vectors.intent(n, "etl_step") for n in range(1, 9)]
    for b in bodies:
        del b["wal_id"]  # the writer assigns uuid4s
    acked = []
    with ref.RefWriter(log, seed, make_vectors.fixed_uuid("writer-test"), max_segment_bytes=4000) as w:
        for i in range(0, 8, 2):
            acked += w.append_many(bodies[i : i + 2])
        intents = [r for r in ref.read(log) if r["kind"] == "intent"]
        acked += w.append_many([{"wal_id": r["wal_id"], "status": "succeeded"} for r in intents[:3]], "completion")
        with pytest.raises(ValueError):
            w.append_many([dict(bodies[0], payload={"blob": "x" * ref.DEFAULT_MAX_RECORD_BYTES})])
        with pytest.raises(ValueError):
            w.append_many([dict(bodies[0], tier=5)])
    report = ref.verify(log)
    assert report.ok, report.errors
    assert len(list((log / "archive").glob("*.jsonl"))) >= 2 and len(list(log.glob("*.jsonl"))) == 1
    records = {r["seq"]: r for r in ref.read(log)}
    assert [(s, records[s]["hash"]) for s, _ in acked] == [(s, "sha256:" + hx) for s, hx in acked]
    assert len(report.pending) == 5 and all(ref._UUID4.fullmatch(w) for w in report.pending)
    assert all(len(r["timestamp"]) == 27 for r in records.values())


def test_writer_clamps_a_backwards_clock(tmp_path):
    times = iter(
        [
            "2026-01-01T00:00:05.000000Z",
            "2026-01-01T00:00:06.000000Z",
            "2026-01-01T00:00:01.000000Z",
            "2026-01-01T00:00:02.000000Z",
            "2026-01-01T00:00:09.000000Z",
        ]
    )
    with ref.RefWriter(tmp_path / "w", bytes(32), make_vectors.LOG_ID, lambda: next(times)) as w:
        w.append_many([make_vectors.intent(1, "etl_step")])
    assert ref.verify(tmp_path / "w").ok
    assert [r["timestamp"][17:19] for r in ref.read(tmp_path / "w")] == ["05", "06", "06", "06"]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    payloads=st.lists(st.dictionaries(st.text(max_size=10), json_values, max_size=5), min_size=1, max_size=6),
    split=st.integers(1, 6),
)
def test_writer_output_verifies_for_arbitrary_payloads(payloads, split):
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "wal")
        with ref.RefWriter(
            log, bytes(range(32)), make_vectors.LOG_ID, make_vectors.StepClock(), max_segment_bytes=3000
        ) as w:
            acked = []
            for i in range(0, len(payloads), split):
                acked += w.append_many(
                    [
                        dict(make_vectors.intent(n, "etl_step"), payload=p)
                        for n, p in enumerate(payloads[i : i + split], start=i)
                    ]
                )
        report = ref.verify(log)
        assert report.ok, report.errors
        records = [r for r in ref.read(log) if r["kind"] == "intent"]
        assert [r["payload"] for r in records] == payloads
        assert [(r["seq"], r["hash"]) for r in records] == [(s, "sha256:" + hx) for s, hx in acked]


# ---------------------------------------------------------------- damage is always detected

BASIC = VECTORS / "valid" / "basic"
BASIC_FILES = [(str(p.relative_to(BASIC)), p.read_bytes()) for p in log_files(BASIC)]


def copy_basic(tmp):
    shutil.copytree(BASIC, tmp, dirs_exist_ok=True)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_single_byte_change_is_reported(data):
    rel, content = data.draw(st.sampled_from(BASIC_FILES))
    offset = data.draw(st.integers(0, len(content) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != content[offset]))
    with tempfile.TemporaryDirectory() as tmp:
        copy_basic(tmp)
        with open(os.path.join(tmp, rel), "wb") as f:
            f.write(content[:offset] + bytes([new]) + content[offset + 1 :])
        report = ref.verify(tmp)
        assert not report.ok and report.errors


LAST_SEGMENT = [p for p in BASIC.glob("*.jsonl")][0]
LAST_LINES = [r for r in load(BASIC / "expected.json")["records"] if r["segment"] == LAST_SEGMENT.name]


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(cut=st.integers(LAST_LINES[2]["offset"], LAST_SEGMENT.stat().st_size))
def test_truncating_the_last_segment_leaves_only_a_recoverable_tail(cut):
    ends = {}
    for r in LAST_LINES:
        nxt = [x["offset"] for x in LAST_LINES if x["offset"] > r["offset"]]
        ends[min(nxt) if nxt else LAST_SEGMENT.stat().st_size] = r
    last_seal_end = max(end for end, r in ends.items() if r["kind"] == "seal" and end <= cut)
    with tempfile.TemporaryDirectory() as tmp:
        copy_basic(tmp)
        with open(os.path.join(tmp, LAST_SEGMENT.name), "r+b") as f:
            f.truncate(cut)
        report = ref.verify(tmp)
    if cut == last_seal_end:
        assert report.ok
        assert report.head_hash == ends[cut]["hash"]
    else:
        assert [(e.code, e.offset) for e in report.errors] == [
            ("tail.unsealed" if cut in ends else "tail.torn", last_seal_end)
        ]


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_arbitrary_splices_are_judged_without_crashing(data):
    """Deleting a byte range or inserting random bytes anywhere: a Report, never an exception."""
    rel, content = data.draw(st.sampled_from(BASIC_FILES))
    a = data.draw(st.integers(0, len(content)))
    b = data.draw(st.integers(a, min(len(content), a + 2000)))
    insert = data.draw(st.binary(max_size=64) | st.sampled_from([b"\n", b"{}\n", b"\x00" * 32, b'{"seq":1,']))
    changed = content[:a] + insert + content[b:]
    with tempfile.TemporaryDirectory() as tmp:
        copy_basic(tmp)
        with open(os.path.join(tmp, rel), "wb") as f:
            f.write(changed)
        report = ref.verify(tmp)
    assert report.ok == (report.errors == [])
    if changed != content and not report.ok:
        assert all(e.code in CORE_RULES for e in report.errors)


def test_segment_file_rules(tmp_path):
    class WrongNumber(ref.RefWriter):
        def _header_body(self):
            return dict(super()._header_body(), segment=self.segment + 10 if self.segment == 2 else self.segment)

    log = tmp_path / "wal"
    with WrongNumber(log, bytes(32), make_vectors.LOG_ID, make_vectors.StepClock(), max_segment_bytes=2000) as w:
        for n in range(4):
            w.append_many([make_vectors.intent(n, "etl_step")])
    seg2 = sorted(log.rglob("wal-00000002-*.jsonl"))[0].name
    # the header is invalid, so its segment has no key in force: every seal in it is untrusted
    found = [(e.code, e.segment) for e in ref.verify(log).errors]
    assert found[0] == ("chain.segment", seg2) and ref.verify(log).errors[0].offset == 0
    assert set(found[1:]) == {("seal.untrusted_key", seg2)}

    last = sorted(log.glob("*.jsonl"))[0]
    number, first = int(last.name[4:12]), int(last.name[13:29])
    (log / ref.segment_name(number + 1, first + 99)).write_bytes(b"")  # an empty next segment
    errors = [(e.code, e.segment) for e in ref.verify(log).errors]
    assert ("chain.segment", ref.segment_name(number + 1, first + 99)) in errors
    # no line at offset 0: the joins (J3-J6) are not judged, so no seal.missing in the segment before
    assert ("seal.missing", last.name) not in errors
    (log / "notes.jsonl").write_bytes(b"")  # not a segment name: ignored without a finding
    assert [(e.code, e.segment) for e in ref.verify(log).errors] == errors
    with pytest.raises(FileNotFoundError):  # not a log: refused, no report
        ref.verify(tmp_path / "nothing-here")
