"""Differential tests: the Rust core (kfm_wal.Wal, kfm_wal.verify, kfm_wal.records) against the
independent reference (tests/reference/kfm_wal_ref.py: RefWriter, verify, read).

- whatever the Rust writer writes, the reference verifies as valid, with the same records (seq,
  kind, hash, segment, offset), head and pending intents;
- whatever the reference writer writes, the Rust verifier and reader accept with the same records,
  and the Rust writer can continue the log, after which both verifiers still accept it;
- any single-byte change to a valid multi-segment log is reported by both verifiers, with the same
  findings (code, segment, offset, seq) in the same order.

Entries are hypothesis-generated: arbitrary JSON (nested objects and arrays, strings with quotes,
backslashes, control characters, non-BMP characters, integers within +-2^53, finite floats, null,
booleans) in every free place of an intent (payload, reversal steps, the free members of actor,
governance and telemetry) and of a completion (error, detail, duration_ms).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kfm_wal
import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from kfm_wal import SchemaError, Wal, keys
from waltools import build_log, findings, make_entry, ref, ref_locations, segment_paths

SEED = hashlib.sha256(b"kfm-wal differential test key").digest()
KEY = keys.SigningKey.from_seed(SEED)
RUST_KEYRING = [KEY.public_key]  # kfm_wal.verify takes base64 public keys
REF_KEYRING = [{"key_id": KEY.key_id, "public_key": KEY.public_key, "roles": ["writer"]}]
MAX_RECORD_BYTES = 4096  # the smallest the Rust writer allows: small segments, many rotations
MAX_ENTRY_BYTES = 3000  # leaves room for the envelope within MAX_RECORD_BYTES
ENVELOPE = ("seq", "prev", "kind", "timestamp", "hash")

SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# ---------------------------------------------------------------- strategies

TRICKY = [
    '"',
    "\\",
    '\\"',
    "\\u0000",
    "\x00",
    "\x01",
    "\x1f",
    "\x7f",
    "\n",
    "\r\n",
    "\t",
    "\b\f",
    "\u2028\u2029",
    "\ufeff",
    "\ud7ff\ue000",
    "\U0001f600",
    "\U0010ffff",
    "\U0001d11e",
    "é",
    "\u0301",
    "</script>",
    "'",
    '{"a":1}',
    "null",
    "seq",
    "hash",
    '"hash":"sha256:',
    "",
    " ",
]
TEXT = st.one_of(st.text(st.characters(codec="utf-8"), max_size=10), st.sampled_from(TRICKY))
NONEMPTY_TEXT = TEXT.filter(bool)
SAFE_INT = st.integers(-(2**53 - 1), 2**53 - 1)  # the writer refuses what is not exact in a double
FLOAT = st.floats(allow_nan=False, allow_infinity=False)
SCALAR = st.one_of(st.none(), st.booleans(), SAFE_INT, FLOAT, TEXT)
JSON = st.recursive(
    SCALAR,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=10,
)
OBJECT = st.dictionaries(TEXT, JSON, max_size=3)
EXTRA = st.dictionaries(TEXT, SCALAR, max_size=2)
SHA = st.binary(max_size=8).map(lambda b: "sha256:" + hashlib.sha256(b).hexdigest())
KNOWN_OPERATIONS = [
    "etl_step",
    "stac_build",
    "stac_item",
    "stac_collection",
    "graph_write",
    "checkpoint",
    "hotfix",
    "retry",
    "rollback",
    "snapshot",
    "lineage_update",
    "ledger_update",
]
OPERATION = st.one_of(st.sampled_from(KNOWN_OPERATIONS), st.from_regex(r"[a-z][a-z0-9_.]{0,63}", fullmatch=True))


@st.composite
def intents(draw: st.DrawFn) -> dict[str, Any]:
    """A valid intent entry (members in a drawn order; the hash covers the bytes as written)."""
    operation = draw(OPERATION)
    # Reversal reasons and lineage links are non-empty here: both edges of those rules are pinned
    # by test_schema_edges_* below, so that this property stays free to find other differences.
    reversal = draw(
        st.one_of(
            st.lists(JSON, min_size=1, max_size=3).map(lambda steps: {"steps": steps}),
            NONEMPTY_TEXT.map(lambda why: {"irreversible": True, "reason": why}),
        )
    )
    governance = {**draw(EXTRA), "care": draw(st.sampled_from(["public", "sensitive", "restricted"]))}
    if draw(st.booleans()):
        governance["approvals"] = draw(st.lists(JSON, max_size=3))
    entry = {
        "operation": operation,
        "actor": {
            **draw(EXTRA),
            "type": draw(st.sampled_from(["developer", "ci", "system"])),
            "id": draw(NONEMPTY_TEXT),
        },
        "pre_state_hash": draw(SHA),
        "post_state_expected": draw(SHA),
        "payload": draw(OBJECT),
        "reversal": reversal,
        "tier": draw(st.integers(0, 4 if operation == "rollback" else 3)),
        "governance": governance,
        "lineage_links": draw(st.lists(NONEMPTY_TEXT, max_size=3)),
        "telemetry": {**draw(EXTRA), "id": draw(NONEMPTY_TEXT)},
    }
    if draw(st.booleans()):
        entry["wal_id"] = str(draw(st.uuids(version=4)))
    order = draw(st.permutations(sorted(entry)))
    entry = {k: entry[k] for k in order}
    if len(orjson.dumps(entry)) > MAX_ENTRY_BYTES:
        entry["payload"] = {}  # keep every record under max_record_bytes
    return entry


@st.composite
def completion_fields(draw: st.DrawFn) -> dict[str, Any]:
    c: dict[str, Any] = {"status": draw(st.sampled_from(["succeeded", "failed", "refused", "reversed"]))}
    optional = {
        "post_state_hash": SHA,
        "executed_digest": SHA,
        "duration_ms": st.one_of(
            st.integers(0, 2**53 - 1), st.floats(min_value=0.0, allow_nan=False, allow_infinity=False)
        ),
        "error": TEXT,
        "detail": OBJECT,
    }
    for name in draw(st.lists(st.sampled_from(sorted(optional)), unique=True)):
        c[name] = draw(optional[name])
    if len(orjson.dumps(c)) > MAX_ENTRY_BYTES:
        c["detail"] = {}  # keep every record under max_record_bytes
    return c


@dataclass
class Step:
    intents: list[dict[str, Any]]
    completions: list[tuple[int, dict[str, Any]]]  # (index into the pending intents, outcome)


STEP = st.builds(
    Step,
    st.lists(intents(), min_size=1, max_size=4),
    st.lists(st.tuples(st.integers(0, 1000), completion_fields()), max_size=3),
)
STEPS = st.lists(STEP, min_size=2, max_size=8)
MAX_SEGMENT_BYTES = st.sampled_from([4096, 6000, 9000])


# ---------------------------------------------------------------- a model of what was written


@dataclass
class Model:
    """What the test asked to write: intents by wal_id, the pending ones, and every acknowledged
    record (seq, hash, kind, segment, offset) the writer reported."""

    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)  # wal_id -> intent body
    completions: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)
    acked: list[tuple[int, str, str, str, int]] = field(default_factory=list)

    def fresh(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Drop a drawn wal_id the log already holds (hypothesis may draw the same uuid twice)."""
        if entry.get("wal_id") in self.bodies:
            entry = {k: v for k, v in entry.items() if k != "wal_id"}
        return entry

    def choose(self, picks: list[tuple[int, dict[str, Any]]]) -> list[dict[str, Any]]:
        chosen: list[dict[str, Any]] = []
        for index, outcome in picks:
            left = [w for w in self.pending if all(c["wal_id"] != w for c in chosen)]
            if left:
                chosen.append({"wal_id": left[index % len(left)], **outcome})
        return chosen

    def intent_written(self, wal_id: str, entry: dict[str, Any]) -> None:
        self.bodies[wal_id] = {**entry, "wal_id": wal_id}
        self.pending.append(wal_id)

    def completion_written(self, c: dict[str, Any]) -> None:
        self.completions[c["wal_id"]] = c
        self.pending.remove(c["wal_id"])


def rust_write(w: Wal, steps: list[Step], model: Model) -> None:
    for step in steps:
        entries = []
        for e in step.intents:
            e = model.fresh(e)
            if e.get("wal_id") in {x.get("wal_id") for x in entries}:
                e = {k: v for k, v in e.items() if k != "wal_id"}
            entries.append(e)
        for entry, r in zip(entries, w.append_many(entries), strict=True):
            assert r.kind == "intent"
            model.intent_written(r.wal_id, entry)
            model.acked.append((r.seq, r.hash, r.kind, r.segment, r.offset))
        done = model.choose(step.completions)
        if done:
            for c, r in zip(done, w.complete_many(done), strict=True):
                assert (r.kind, r.wal_id) == ("completion", c["wal_id"])
                model.completion_written(c)
                model.acked.append((r.seq, r.hash, r.kind, r.segment, r.offset))


def ref_write(w: ref.RefWriter, steps: list[Step], model: Model, new_id: Any) -> None:
    for step in steps:
        entries = []
        for e in step.intents:
            e = model.fresh(e)
            if "wal_id" not in e or e["wal_id"] in {x["wal_id"] for x in entries}:
                e = {**e, "wal_id": str(new_id())}
            entries.append(e)
        w.append_many(entries, "intent")
        for e in entries:
            model.intent_written(e["wal_id"], {k: v for k, v in e.items() if k != "wal_id"})
        done = model.choose(step.completions)
        if done:
            w.append_many(done, "completion")
            for c in done:
                model.completion_written(c)


# ---------------------------------------------------------------- comparisons


def rust_records(log: Path) -> list[tuple[str, int, int, str, str]]:
    return [(r.segment, r.offset, r.seq, r.kind, r.hash) for r in kfm_wal.records(log)]


def body(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in ENVELOPE}


def assert_both_accept(log: Path, model: Model) -> list[tuple[str, int, int, str, str]]:
    """Both verifiers accept the log (with the keyring and without); both readers return the same
    records as every line of the log; heads, counts and pending intents agree with the model."""
    for rust_ring, ref_ring, trust in ((RUST_KEYRING, REF_KEYRING, "keyring"), (None, None, "self-declared")):
        rust = kfm_wal.verify(log, rust_ring)
        theirs = ref.verify(log, ref_ring)
        assert (findings(rust), findings(theirs)) == ([], []), (rust.findings, theirs.errors)
        assert rust.trust == theirs.trust == trust
        assert rust.head_seq == theirs.head_seq
        assert rust.head_hash == theirs.head_hash
        assert rust.records == theirs.records
        assert rust.pending == len(theirs.pending) == len(model.pending)
        assert set(theirs.pending) == set(model.pending)
        assert (rust.intents, rust.completions) == (len(model.bodies), len(model.completions))
    ours = rust_records(log)
    event(f"segments: {min(len(segment_paths(log)), 4)}{'+' if len(segment_paths(log)) > 4 else ''}")
    # every line of the log is a sealed record, found at the same place by the reference's splitter
    assert ours == [(s, o, q, k, h) for s, o, q, k, h in ref_locations(log)]
    read = list(ref.read(log))
    assert [(r["seq"], r["kind"], r["hash"]) for r in read] == [(q, k, h) for _, _, q, k, h in ours]
    assert [q for _, _, q, _, _ in ours] == list(range(1, len(ours) + 1))
    assert ours[-1][3] == "seal" and ours[-1][2] == rust.head_seq and ours[-1][4] == rust.head_hash
    assert {s for s, *_ in ours} == {p.name for p in segment_paths(log)}
    # what the writer acknowledged is in the log, where it said, and the content is what was given
    assert set(model.acked) <= {(q, h, k, s, o) for s, o, q, k, h in ours}
    intents = {r["wal_id"]: body(r) for r in read if r["kind"] == "intent"}
    completions = {r["wal_id"]: body(r) for r in read if r["kind"] == "completion"}
    assert intents == model.bodies
    assert completions == model.completions
    for r in kfm_wal.records(log, kind="intent"):
        assert body(r.body) == model.bodies[r.wal_id or ""]
    return ours


@settings(SETTINGS, max_examples=100)
@given(steps=STEPS, max_segment_bytes=MAX_SEGMENT_BYTES)
def test_reference_accepts_what_rust_writes(steps: list[Step], max_segment_bytes: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "wal"
        model = Model()
        with Wal.create(
            log, KEY, max_segment_bytes=max_segment_bytes, max_record_bytes=MAX_RECORD_BYTES, durability="none"
        ) as w:
            rust_write(w, steps, model)
            head = w.head
        ours = assert_both_accept(log, model)
        assert (ours[-1][2], ours[-1][4], ours[-1][0]) == (head[0], head[1], head[3])


@settings(SETTINGS, max_examples=60)
@given(steps=STEPS, more=STEPS, max_segment_bytes=MAX_SEGMENT_BYTES, log_id=st.uuids(version=4))
def test_rust_accepts_and_continues_what_the_reference_writes(
    steps: list[Step], more: list[Step], max_segment_bytes: int, log_id: uuid.UUID
) -> None:
    counter = iter(range(1, 1 << 30))

    def new_id() -> uuid.UUID:  # deterministic wal_ids for intents that were drawn without one
        return uuid.UUID(hashlib.sha256(str(next(counter)).encode()).hexdigest()[:32], version=4)

    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "wal"
        model = Model()
        with ref.RefWriter(
            log,
            SEED,
            str(log_id),
            max_segment_bytes=max_segment_bytes,
            max_record_bytes=MAX_RECORD_BYTES,
            journal=True,
            new_uuid=new_id,
        ) as w:
            ref_write(w, steps, model, new_id)
            journal = [(j["segment"], j["offset"], j["seq"], j["kind"], j["hash"]) for j in w.journal or []]
        written = assert_both_accept(log, model)
        assert written == journal
        # The Rust writer continues the reference's log (same key), completing some of its intents.
        with Wal.open(log, KEY, recovery="strict", durability="none") as rw:
            assert rw.log_id == str(log_id) and rw.recovery == []
            assert rw.head[:2] == (journal[-1][2], journal[-1][4])
            rust_write(rw, more, model)
        continued = assert_both_accept(log, model)
        assert continued[: len(journal)] == journal


# ---------------------------------------------------------------- schema edges


@pytest.mark.parametrize(
    "over",
    [
        {"reversal": {"steps": [1], "irreversible": False}},
        {"reversal": {"steps": [1], "note": "not a member of reversal"}},
    ],
)
def test_schema_edges_rust_writes_only_what_the_reference_accepts(over: dict[str, Any], tmp_path: Path) -> None:
    """FORMAT.md section 4: a reversal with steps may also say `irreversible: false` and carry other
    members. The Rust writer writes them, and both verifiers accept the log."""
    log = tmp_path / "wal"
    with Wal.create(log, KEY, durability="none") as w:
        w.append(make_entry(1, **over))
    assert findings(kfm_wal.verify(log)) == findings(ref.verify(log)) == []


@pytest.mark.parametrize(
    "over",
    [
        {"reversal": {"irreversible": True, "reason": ""}},
        {"lineage_links": [""]},
    ],
)
def test_schema_edges_empty_strings_are_refused_by_both(over: dict[str, Any], tmp_path: Path) -> None:
    """FORMAT.md section 4: a reversal's reason and each lineage link are non-empty strings. Both
    writers refuse such an entry, and both verifiers reject a log holding one."""
    with Wal.create(tmp_path / "rust", KEY, durability="none") as rw, pytest.raises(SchemaError):
        rw.append(make_entry(1, **over))
    log = tmp_path / "wal"
    with ref.RefWriter(log, SEED, "2b9e8d2c-4f7a-4c1e-9a3b-5d6e7f8091a2", validate=False) as w:
        w.append_many([make_entry(1, wal_id="7c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5", **over)])
    rust, reference = findings(kfm_wal.verify(log)), findings(ref.verify(log))
    assert [f[0] for f in rust] == [f[0] for f in reference] == ["record.schema"]


# ---------------------------------------------------------------- single-byte changes


@pytest.fixture(scope="module")
def sample_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid Rust-written log of 4 segments (3 archived), intents and completions."""
    log = build_log(tmp_path_factory.mktemp("bytes") / "wal", KEY)
    assert findings(kfm_wal.verify(log, RUST_KEYRING)) == findings(ref.verify(log, REF_KEYRING)) == []
    return log


@settings(SETTINGS, max_examples=400)
@given(data=st.data())
def test_any_single_byte_change_is_reported_by_both(sample_log: Path, data: st.DataObject) -> None:
    paths = segment_paths(sample_log)
    target = data.draw(st.sampled_from(paths), label="segment")
    size = target.stat().st_size
    offset = data.draw(st.integers(0, size - 1), label="offset")
    original = target.read_bytes()
    new = data.draw(st.integers(0, 255).filter(lambda b: b != original[offset]), label="new byte")
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "wal"
        shutil.copytree(sample_log, log)
        changed = log / target.relative_to(sample_log)
        changed.write_bytes(original[:offset] + bytes([new]) + original[offset + 1 :])
        rust = findings(kfm_wal.verify(log, RUST_KEYRING))
        theirs = findings(ref.verify(log, REF_KEYRING))
    assert rust and theirs, (rust, theirs)
    # Both verifiers follow FORMAT.md's rules, order included (section 6): every finding, its code
    # and its location (segment, offset, seq) must be the same.
    assert rust == theirs, (
        f"{target.name} @ {offset}: {original[offset]:#04x} -> {new:#04x}\nrust: {rust}\nref:  {theirs}"
    )
