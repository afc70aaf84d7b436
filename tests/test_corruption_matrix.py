"""Corruption matrix: one defect at a time in a multi-segment log written by the Rust writer, and
what the Rust verifier (kfm_wal.verify), the reference (tests/reference, ref.verify) and
`Wal.open` make of it (docs/FORMAT.md section 6, data/vectors/README.md location conventions).

The log (built once, copied for each case): 4 segments, max_segment_bytes 6144, each segment

    0 header, 1 seal, 2-4 intent x3, 5 seal, 6-7 completion x2, 8 seal, [9 closing seal]

(segments 1-3 in archive/ end with a closing seal at 9; segment 4 is live and ends at 8). Every
case is verified with a keyring holding the writer key. Classes:

- recoverable: a tail.torn / tail.unsealed at the tail's first byte; `Wal.open(recovery="strict")`
  refuses it (CorruptionError, nothing changed), the default "tolerate-tail" cuts it (a copy kept
  in recovered/) and the log then verifies with every record before the cut intact.
- corruption: record.* / chain.* / seal.* ; `Wal.open` raises CorruptionError and changes nothing.
- valid: damage no verifier can see without an outside receipt of the head (a cut exactly at a seal
  or segment boundary, a deleted live segment): both verifiers accept; the log opens for writing.
- trust: only the keyring makes it an error (seal.untrusted_key); `Wal.open` takes no keyring.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import kfm_wal
import pytest
from kfm_wal import CorruptionError, KeyMismatchError, Wal, keys
from kfm_wal.verification_receipts import VerificationReceipt
from waltools import (
    SEGMENTS,
    SUFFIX_LEN,
    Segment,
    build_log,
    findings,
    layout,
    make_entry,
    rechain,
    ref,
    snapshot,
    with_hash,
)

KEY = keys.SigningKey.from_seed(hashlib.sha256(b"kfm-wal corruption matrix key").digest())
OTHER_KEY = keys.SigningKey.from_seed(hashlib.sha256(b"kfm-wal corruption matrix other key").digest())
LIVE_KINDS = ["header", "seal", "intent", "intent", "intent", "seal", "completion", "completion", "seal"]
ARCHIVED_KINDS = [*LIVE_KINDS, "seal"]


def build(path: Path, key: keys.SigningKey) -> Path:
    log = build_log(path, key)
    segs = layout(log)
    assert [[ln.kind for ln in s.lines] for s in segs] == [ARCHIVED_KINDS] * (SEGMENTS - 1) + [LIVE_KINDS]
    return log


@dataclass(frozen=True)
class Pristine:
    log: Path  # written by KEY
    twin: Path  # same key, same layout, another log_id
    foreign_key: Path  # same layout, written by OTHER_KEY
    keyring: Path  # KEY only
    segs: list[Segment]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Pristine:
    root = tmp_path_factory.mktemp("matrix")
    keyring = keys.save_keyring(keys.Keyring(()).with_key(KEY, name="writer"), root / "keyring.json")
    log = build(root / "log", KEY)
    return Pristine(log, build(root / "twin", KEY), build(root / "foreign", OTHER_KEY), keyring, layout(log))


@dataclass(frozen=True)
class Expect:
    cls: str  # recoverable | corruption | valid | trust
    code: str | None = None
    segment: str | None = None
    offset: int | None = None
    seq: int | None = None
    sole: bool = False
    head_seq: int | None = None  # valid: the head both verifiers must report


@dataclass(frozen=True)
class Ctx:
    log: Path
    p: Pristine

    @property
    def segs(self) -> list[Segment]:
        return self.p.segs

    def path(self, seg: Segment) -> Path:
        return self.log / ("archive" if seg.archived else "") / seg.name

    def write(self, seg: Segment, data: bytes) -> None:
        self.path(seg).write_bytes(data)

    def read(self, seg: Segment) -> bytes:
        return self.path(seg).read_bytes()


ARCH = 1  # the archived segment the cases damage (segment 2, in archive/)
LIVE = SEGMENTS - 1


# ---------------------------------------------------------------- mutations


def flip_body_byte(ctx: Ctx, s: int, i: int) -> Expect:
    """XOR one byte in the middle of the body of line i of segment s: envelope intact, hash wrong."""
    seg = ctx.segs[s]
    ln = seg.lines[i]
    m = ref._PREFIX.match(ln.raw)
    assert m is not None
    at = (m.end() + len(ln.raw) - SUFFIX_LEN - 1) // 2
    data = bytearray(ctx.read(seg))
    data[ln.offset + at] ^= 0x01
    assert data[ln.offset + at] != 0x0A
    ctx.write(seg, bytes(data))
    return Expect("corruption", "record.hash", seg.name, ln.offset, None)


def replace_in_line(ctx: Ctx, s: int, i: int, old: bytes, new: bytes) -> None:
    seg = ctx.segs[s]
    ln = seg.lines[i]
    data = ctx.read(seg)
    assert old in ln.raw
    ctx.write(seg, data[: ln.offset] + ln.raw.replace(old, new, 1) + data[ln.end :])


def tail_start(ctx: Ctx, last_seal: int) -> tuple[str, int]:
    live = ctx.segs[LIVE]
    return live.name, live.lines[last_seal + 1].offset


def truncate_live(ctx: Ctx, at: int) -> None:
    seg = ctx.segs[LIVE]
    ctx.write(seg, ctx.read(seg)[:at])


def set_lines(ctx: Ctx, s: int, order: list[int]) -> None:
    seg = ctx.segs[s]
    ctx.write(seg, b"".join(seg.lines[i].raw for i in order))


def overwrite_tail_with_zeros(ctx: Ctx, k: int) -> None:
    seg = ctx.segs[LIVE]
    data = ctx.read(seg)
    ctx.write(seg, data[:-k] + bytes(k))


def replace_signature(ctx: Ctx, s: int, i: int) -> Expect:
    """Put another seal's (well-formed, 64-byte) signature into seal i of segment s, re-hash the
    line and re-chain (re-hash and re-sign) everything after it: only that signature is wrong."""
    donor = ctx.segs[0].lines[1].doc["signature"]
    target = ctx.segs[s].lines[i]
    assert target.kind == "seal" and donor != target.doc["signature"]
    replace_in_line(ctx, s, i, target.doc["signature"].encode(), donor.encode())
    rechain(ctx.log, KEY.sign, keep_signature=[target.seq])
    return Expect("corruption", "seal.signature", target.segment, target.offset, target.seq, sole=True)


def case_flip(s: int, i: int) -> Callable[[Ctx], Expect]:
    return lambda ctx: flip_body_byte(ctx, s, i)


def case_flip_final_seal(ctx: Ctx) -> Expect:
    # The last line of the log is the damaged one and nothing with a valid own hash follows it:
    # the final commit (completions 6-7 and the broken seal) is a torn tail, reported at its first
    # byte, whose line's own hash verifies (so the seq is known).
    flip_body_byte(ctx, LIVE, 8)
    seg, off = tail_start(ctx, 5)
    return Expect("recoverable", "tail.torn", seg, off, ctx.segs[LIVE].lines[6].seq, sole=True)


def case_flip_envelope_brace(ctx: Ctx) -> Expect:
    ln = ctx.segs[ARCH].lines[3]
    replace_in_line(ctx, ARCH, 3, b'{"seq":', b'["seq":')
    return Expect("corruption", "record.malformed", ln.segment, ln.offset, None)


def case_hash_hex_uppercase(ctx: Ctx) -> Expect:
    ln = ctx.segs[ARCH].lines[6]
    hex_part = ln.hash.removeprefix("sha256:")
    j = next(j for j, c in enumerate(hex_part) if c in "abcdef")
    upper = hex_part[:j] + hex_part[j].upper() + hex_part[j + 1 :]
    replace_in_line(ctx, ARCH, 6, hex_part.encode(), upper.encode())
    return Expect("corruption", "record.malformed", ln.segment, ln.offset, None)


def case_timestamp_not_a_timestamp(ctx: Ctx) -> Expect:
    # One character of the timestamp changed so that it is no timestamp any more. FORMAT.md section
    # 2 parses the envelope by "27 characters" for the timestamp, so the line still parses; its
    # hash does not match its bytes: record.hash (the reference's reading), seq unknown.
    ln = ctx.segs[ARCH].lines[3]
    ts = ln.doc["timestamp"].encode()
    replace_in_line(ctx, ARCH, 3, b'"timestamp":"' + ts, b'"timestamp":"' + ts.replace(b"T", b"X", 1))
    return Expect("corruption", "record.hash", ln.segment, ln.offset, None)


def case_invalid_json_valid_hash(ctx: Ctx) -> Expect:
    # The line's own hash verifies (re-hashed, chain fixed) but it is not JSON (FORMAT.md section 2:
    # "The whole line must also be a valid JSON object"): record.malformed, with the seq known
    # (vectors README: "a record.malformed line whose hash matches" names its seq). Its intent is
    # then unknown, so its completion follows as completion.orphan.
    ln = ctx.segs[ARCH].lines[2]
    replace_in_line(ctx, ARCH, 2, b'"tier":1', b'"tier":-')
    rechain(ctx.log, KEY.sign)
    return Expect("corruption", "record.malformed", ln.segment, ln.offset, ln.seq)


def case_truncate(at_line: int, plus: int, last_seal: int, code: str, seq_known: bool) -> Callable[[Ctx], Expect]:
    def mutate(ctx: Ctx) -> Expect:
        live = ctx.segs[LIVE]
        truncate_live(ctx, live.lines[at_line].offset + plus)
        seg, off = tail_start(ctx, last_seal)
        first = live.lines[last_seal + 1]
        return Expect("recoverable", code, seg, off, first.seq if seq_known else None, sole=True)

    return mutate


def case_truncate_valid(at_line: int) -> Callable[[Ctx], Expect]:
    # Cut exactly after a seal: what is left is a complete, valid, shorter log. Without a receipt
    # of the head no verifier can tell; both accept it with the earlier head.
    def mutate(ctx: Ctx) -> Expect:
        live = ctx.segs[LIVE]
        truncate_live(ctx, live.lines[at_line].offset)
        head = live.lines[at_line - 1]
        assert head.kind == "seal"
        return Expect("valid", head_seq=head.seq)

    return mutate


def case_zero_length_live(ctx: Ctx) -> Expect:
    # The writer creates segments as NAME.tmp (header + seal, synced) and renames them, so an empty
    # segment file is no crash state: its header is missing (FORMAT.md sections 4 and 6: "A
    # segment's first record must be a header"; "header missing" is chain.segment).
    truncate_live(ctx, 0)
    return Expect("corruption", "chain.segment", ctx.segs[LIVE].name, 0, None)


def case_append_zeros(n: int) -> Callable[[Ctx], Expect]:
    def mutate(ctx: Ctx) -> Expect:
        seg = ctx.segs[LIVE]
        size = seg.lines[-1].end
        ctx.write(seg, ctx.read(seg) + bytes(n))
        return Expect("recoverable", "tail.torn", seg.name, size, None, sole=True)

    return mutate


def case_zero_last(k_from: Callable[[Segment], int], last_seal: int) -> Callable[[Ctx], Expect]:
    # Zeros over the end of the live segment: the tail starts after the last seal left intact.
    def mutate(ctx: Ctx) -> Expect:
        live = ctx.segs[LIVE]
        k = k_from(live)
        overwrite_tail_with_zeros(ctx, k)
        first = live.lines[last_seal + 1]
        intact = first.end <= live.lines[-1].end - k
        seg, off = tail_start(ctx, last_seal)
        return Expect("recoverable", "tail.torn", seg, off, first.seq if intact else None, sole=True)

    return mutate


def case_delete_line(s: int, i: int) -> Callable[[Ctx], Expect]:
    # The next line moves to the deleted line's offset; its seq is one too far.
    def mutate(ctx: Ctx) -> Expect:
        seg = ctx.segs[s]
        set_lines(ctx, s, [j for j in range(len(seg.lines)) if j != i])
        nxt = seg.lines[i + 1]
        return Expect("corruption", "chain.seq", seg.name, seg.lines[i].offset, nxt.seq)

    return mutate


def case_swap_lines(s: int, i: int) -> Callable[[Ctx], Expect]:
    def mutate(ctx: Ctx) -> Expect:
        seg = ctx.segs[s]
        order = list(range(len(seg.lines)))
        order[i], order[i + 1] = order[i + 1], order[i]
        set_lines(ctx, s, order)
        return Expect("corruption", "chain.seq", seg.name, seg.lines[i].offset, seg.lines[i + 1].seq)

    return mutate


def case_duplicate_line(s: int, i: int) -> Callable[[Ctx], Expect]:
    def mutate(ctx: Ctx) -> Expect:
        seg = ctx.segs[s]
        order = list(range(len(seg.lines)))
        order.insert(i + 1, i)
        set_lines(ctx, s, order)
        return Expect("corruption", "chain.seq", seg.name, seg.lines[i].end, seg.lines[i].seq)

    return mutate


def case_delete_final_seal(ctx: Ctx) -> Expect:
    live = ctx.segs[LIVE]
    set_lines(ctx, LIVE, list(range(len(live.lines) - 1)))
    seg, off = tail_start(ctx, 5)
    return Expect("recoverable", "tail.unsealed", seg, off, live.lines[6].seq, sole=True)


def case_delete_segment(s: int) -> Callable[[Ctx], Expect]:
    # Segment numbers no longer contiguous: chain.segment at the first byte of the next segment
    # (whose header's own hash verifies, so its seq is known).
    def mutate(ctx: Ctx) -> Expect:
        ctx.path(ctx.segs[s]).unlink()
        nxt = ctx.segs[s + 1]
        return Expect("corruption", "chain.segment", nxt.name, 0, nxt.lines[0].seq)

    return mutate


def case_delete_live_segment(ctx: Ctx) -> Expect:
    # Undetectable without a receipt: the log now ends with segment 3's closing seal, which is
    # exactly the state between step (1) of a rotation and the next segment's creation (FORMAT.md
    # section 4: a closing seal may be the last record of the last segment). Both verifiers report
    # a valid log whose head is that closing seal (only a receipt catches the cut: see
    # test_undetectable_cuts_are_caught_by_a_receipt). Opening for writing verifies and refuses only
    # on an error (section 6), so the writer must continue it by finishing the rotation.
    ctx.path(ctx.segs[LIVE]).unlink()
    return Expect("valid", head_seq=ctx.segs[LIVE - 1].lines[-1].seq)


def case_segment_from_other_log(ctx: Ctx) -> Expect:
    # Same key, same layout, same file name, other log_id: the header's prev is not the hash of the
    # previous segment's closing seal (chain.prev first; chain.segment for the log_id follows).
    seg = ctx.segs[ARCH]
    intruder = ctx.p.twin / "archive" / seg.name
    assert intruder.exists() and intruder.read_bytes() != ctx.read(seg)
    shutil.copyfile(intruder, ctx.path(seg))
    return Expect("corruption", "chain.prev", seg.name, 0, seg.lines[0].seq)


def case_foreign_key(ctx: Ctx) -> Expect:
    # A log written (validly) with a key the keyring does not hold: its first seal is untrusted.
    shutil.rmtree(ctx.log)
    shutil.copytree(ctx.p.foreign_key, ctx.log)
    first_seal = layout(ctx.log)[0].lines[1]
    return Expect("trust", "seal.untrusted_key", first_seal.segment, first_seal.offset, first_seal.seq)


CASES: dict[str, Callable[[Ctx], Expect]] = {
    # a byte changed inside the body of one record: its hash no longer matches
    "flip-header-archived": case_flip(ARCH, 0),
    "flip-seal-after-header-archived": case_flip(ARCH, 1),
    "flip-intent-archived": case_flip(ARCH, 3),
    "flip-commit-seal-archived": case_flip(ARCH, 5),
    "flip-completion-archived": case_flip(ARCH, 6),
    "flip-closing-seal-archived": case_flip(ARCH, 9),
    "flip-header-live": case_flip(LIVE, 0),
    "flip-seal-after-header-live": case_flip(LIVE, 1),
    "flip-intent-live": case_flip(LIVE, 3),
    "flip-commit-seal-live": case_flip(LIVE, 5),
    "flip-completion-live": case_flip(LIVE, 7),  # sealed: the final seal (valid own hash) follows
    "flip-final-seal-live": case_flip_final_seal,
    # envelope damage: the line does not parse
    "flip-envelope-brace-archived": case_flip_envelope_brace,
    "hash-hex-uppercase-archived": case_hash_hex_uppercase,
    "timestamp-not-a-timestamp-archived": case_timestamp_not_a_timestamp,
    "invalid-json-valid-hash-archived": case_invalid_json_valid_hash,
    # truncation of the live segment
    "truncate-inside-final-seal": case_truncate(8, 40, 5, "tail.torn", seq_known=True),
    "truncate-inside-first-tail-record": case_truncate(6, 40, 5, "tail.torn", seq_known=False),
    "truncate-inside-intent-commit": case_truncate(3, 100, 1, "tail.torn", seq_known=True),
    "truncate-at-record-boundary": case_truncate(8, 0, 5, "tail.unsealed", seq_known=True),
    "truncate-at-record-boundary-mid-commit": case_truncate(7, 0, 5, "tail.unsealed", seq_known=True),
    "truncate-at-seal-boundary": case_truncate_valid(6),
    "truncate-at-segment-boundary": case_truncate_valid(2),
    "truncate-zero-length-live": case_zero_length_live,
    # zero bytes
    "append-1-zero-byte": case_append_zeros(1),
    "append-100-zero-bytes": case_append_zeros(100),
    "append-5000-zero-bytes": case_append_zeros(5000),
    "zero-last-50-bytes": case_zero_last(lambda s: 50, 5),
    "zero-final-seal-and-part-of-completion": case_zero_last(lambda s: len(s.lines[8].raw) + 20, 5),
    "zero-final-commit-whole": case_zero_last(lambda s: s.lines[-1].end - s.lines[6].offset, 5),
    "zero-into-previous-commit": case_zero_last(lambda s: s.lines[-1].end - s.lines[5].offset - 10, 1),
    # lines deleted, swapped, duplicated
    "delete-line-archived": case_delete_line(ARCH, 3),
    "swap-lines-archived": case_swap_lines(ARCH, 2),
    "duplicate-line-archived": case_duplicate_line(ARCH, 2),
    "delete-line-live": case_delete_line(LIVE, 3),
    "swap-lines-live": case_swap_lines(LIVE, 6),
    "duplicate-line-live": case_duplicate_line(LIVE, 4),
    "delete-final-seal-live": case_delete_final_seal,
    # whole segments
    "delete-first-segment": case_delete_segment(0),
    "delete-archived-segment": case_delete_segment(ARCH),
    "delete-live-segment": case_delete_live_segment,
    "segment-from-other-log": case_segment_from_other_log,
    # signatures and keys
    "seal-signature-replaced-archived": lambda ctx: replace_signature(ctx, ARCH, 5),
    "closing-seal-signature-replaced": lambda ctx: replace_signature(ctx, ARCH, 9),
    "final-seal-signature-replaced": lambda ctx: replace_signature(ctx, LIVE, 8),
    "signed-by-key-not-in-keyring": case_foreign_key,
}


# ---------------------------------------------------------------- the check


def locations(log: Path) -> list[tuple[str, int, int, str]]:
    return [(r.segment, r.offset, r.seq, r.hash) for r in kfm_wal.records(log)]


def check_still_writable(log: Path, key: keys.SigningKey, keyring: Path | None) -> None:
    """Append after opening; both verifiers accept the result."""
    with Wal.open(log, key, recovery="strict", durability="none") as w:
        r = w.append(make_entry(99))
        w.complete(r.wal_id)
    assert findings(kfm_wal.verify(log, keyring)) == []
    assert findings(ref.verify(log, None if keyring is None else str(keyring))) == []


def damaged(name: str, pristine: Pristine, tmp_path: Path) -> tuple[Path, Expect]:
    log = tmp_path / "wal"
    shutil.copytree(pristine.log, log)
    return log, CASES[name](Ctx(log, pristine))


@pytest.mark.parametrize("name", list(CASES))
def test_verifiers(name: str, pristine: Pristine, tmp_path: Path) -> None:
    """Both verifiers classify and locate the damage as expected (the first error; the only one
    where the case says so)."""
    log, exp = damaged(name, pristine, tmp_path)
    rust_report = kfm_wal.verify(log, pristine.keyring)
    ref_report = ref.verify(log, str(pristine.keyring))
    rust, theirs = findings(rust_report), findings(ref_report)
    if exp.cls == "valid":
        assert (rust, theirs) == ([], []), f"rust: {rust}\nref: {theirs}"
        assert rust_report.head_seq == ref_report.head_seq == exp.head_seq
        assert rust_report.head_hash == ref_report.head_hash
        before = locations(pristine.log)
        assert locations(log) == [r for r in before if r[2] <= exp.head_seq]
        return
    want = (exp.code, exp.segment, exp.offset, exp.seq)
    assert (rust[:1], theirs[:1]) == ([want], [want]), f"rust: {rust}\nref: {theirs}"
    if exp.sole:
        assert (len(rust), len(theirs)) == (1, 1), f"rust: {rust}\nref: {theirs}"
    assert ref_report.ok is rust_report.ok is False


@pytest.mark.parametrize("name", list(CASES))
def test_wal_open(name: str, pristine: Pristine, tmp_path: Path) -> None:
    """Opening the damaged log for writing: recoverable tails are cut (tolerate-tail) or refused
    (strict); anything else is refused with CorruptionError and leaves every file as it was."""
    log, exp = damaged(name, pristine, tmp_path)
    files = snapshot(log)
    before = locations(pristine.log)

    if exp.cls == "valid":
        # Nothing to repair (or, for a deleted live segment, a rotation to finish): opens in strict
        # mode and keeps every record the verifiers accept.
        with Wal.open(log, KEY, recovery="strict", durability="none") as w:
            assert w.head[0] >= (exp.head_seq or 0)
        assert [r for r in locations(log) if r[2] <= (exp.head_seq or 0)] == [
            r for r in before if r[2] <= (exp.head_seq or 0)
        ]
        check_still_writable(log, KEY, pristine.keyring)
        return

    if exp.cls == "trust":
        # Wal.open takes no keyring: a log trusts the key its first header declares (self-declared
        # trust), so its own writer opens it; any other key is refused as not the writer key.
        with pytest.raises(KeyMismatchError):
            Wal.open(log, KEY, durability="none")
        assert snapshot(log) == files
        assert findings(kfm_wal.verify(log)) == [] and findings(ref.verify(log)) == []
        check_still_writable(log, OTHER_KEY, None)
        return

    want = (exp.code, exp.segment, exp.offset, exp.seq)
    if exp.cls == "corruption":
        for mode in ("tolerate-tail", "strict"):
            with pytest.raises(CorruptionError) as err:
                Wal.open(log, KEY, recovery=mode, durability="none")  # type: ignore[arg-type]
            got = err.value.finding
            assert got is not None and (got["code"], got["segment"], got["offset"], got["seq"]) == want
            assert snapshot(log) == files
        return

    assert exp.cls == "recoverable"
    with pytest.raises(CorruptionError) as err:
        Wal.open(log, KEY, recovery="strict", durability="none")
    got = err.value.finding
    assert got is not None and (got["code"], got["segment"], got["offset"], got["seq"]) == want
    assert snapshot(log) == files
    live = log / exp.segment
    data = live.read_bytes()
    with Wal.open(log, KEY, durability="none") as w:
        (note,) = w.recovery
        assert (note["segment"], note["offset"], note["bytes"]) == (exp.segment, exp.offset, len(data) - exp.offset)
        assert Path(note["saved_to"]).read_bytes() == data[exp.offset :]
        assert Path(note["saved_to"]).name == f"{exp.segment}.{exp.offset}.tail"
    assert live.read_bytes() == data[: exp.offset]
    assert findings(kfm_wal.verify(log, pristine.keyring)) == []
    assert findings(ref.verify(log, str(pristine.keyring))) == []
    # every sealed record before the cut is intact, and nothing after it survives
    kept = [r for r in before if (r[0] != exp.segment or r[1] < exp.offset)]
    assert locations(log) == kept
    assert [(r["seq"], r["hash"]) for r in ref.read(log)] == [(r[2], r[3]) for r in kept]
    # ... and the cut is exactly the end of the last sealed record, a seal
    last = list(kfm_wal.records(log))[-1]
    assert (last.kind, last.segment, last.offset + len(last.line)) == ("seal", exp.segment, exp.offset)
    check_still_writable(log, KEY, pristine.keyring)


def test_matrix_covers_every_class_and_code(pristine: Pristine, tmp_path: Path) -> None:
    """The matrix exercises every class and every damage code this file distinguishes."""
    expected = []
    for n, name in enumerate(CASES):
        expected.append(damaged(name, pristine, tmp_path / str(n))[1])
    assert {e.cls for e in expected} == {"recoverable", "corruption", "valid", "trust"}
    assert {e.code for e in expected} >= {
        "tail.torn",
        "tail.unsealed",
        "record.hash",
        "record.malformed",
        "chain.seq",
        "chain.prev",
        "chain.segment",
        "seal.signature",
        "seal.untrusted_key",
    }
    damaged_segments = {e.segment for e in expected if e.cls == "corruption"}
    assert damaged_segments >= {pristine.segs[ARCH].name, pristine.segs[LIVE].name}


@pytest.mark.parametrize("name", ["delete-live-segment", "truncate-at-seal-boundary", "truncate-at-segment-boundary"])
def test_undetectable_cuts_are_caught_by_a_receipt(name: str, pristine: Pristine, tmp_path: Path) -> None:
    """What the chain cannot show (a log cut back to an earlier seal, the live segment deleted), a
    verification receipt kept outside the log does (FORMAT.md section 9: receipt.truncated). The
    reference implements no receipts; only the Rust verifier is asked."""
    report = kfm_wal.verify(pristine.log, pristine.keyring, keep_pending=True)
    receipt = VerificationReceipt.from_report(report)
    log, exp = damaged(name, pristine, tmp_path)
    assert findings(kfm_wal.verify(log, pristine.keyring)) == []
    got = kfm_wal.verify(log, pristine.keyring, receipt=receipt).findings
    assert [f.code for f in got][:1] == ["receipt.truncated"], got


def test_with_hash_is_the_format_hash(pristine: Pristine) -> None:
    """Self-check of the helper the re-chaining cases rely on."""
    for seg in pristine.segs:
        for ln in seg.lines:
            assert with_hash(ln.raw[:-SUFFIX_LEN]) == ln.raw
