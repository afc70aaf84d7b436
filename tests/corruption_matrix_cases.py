"""The cases of the corruption matrix: one defect at a time in the multi-segment log of
corruption_matrix_log, each returning what the verifiers and `Wal.open` must make of it (docs/FORMAT.md
section 6, data/vectors/README.md location conventions)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from corruption_matrix_log import (
    ARCH,
    KEY,
    LIVE,
    Ctx,
    Expect,
    Pristine,
    flip_body_byte,
    overwrite_tail_with_zeros,
    replace_in_line,
    replace_signature,
    set_lines,
    tail_start,
    truncate_live,
)
from waltools import Segment, layout, rechain


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
    # The writer writes kfm-wal/2 segments: zeros right after the last line's newline are padding
    # (FORMAT.md section 2), what a writer filled ahead of its data. (In a kfm-wal/1 segment they
    # are a torn tail: vector tail-torn-zero-filled.)
    def mutate(ctx: Ctx) -> Expect:
        seg = ctx.segs[LIVE]
        ctx.write(seg, ctx.read(seg) + bytes(n))
        return Expect("valid", head_seq=seg.lines[-1].seq)

    return mutate


def case_zero_last(k_from: Callable[[Segment], int], last_seal: int) -> Callable[[Ctx], Expect]:
    # Zeros over the end of the live segment: the tail starts after the last seal left intact.
    # Zeros from a line's start are padding in a kfm-wal/2 segment: the log ends at that line,
    # valid when it follows a seal (vector padded-zeroed-final-commit).
    def mutate(ctx: Ctx) -> Expect:
        live = ctx.segs[LIVE]
        k = k_from(live)
        overwrite_tail_with_zeros(ctx, k)
        kept = [ln for ln in live.lines if ln.end <= live.lines[-1].end - k]
        if kept and kept[-1].end == live.lines[-1].end - k and kept[-1].kind == "seal":
            return Expect("valid", head_seq=kept[-1].seq)
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


def damaged(name: str, pristine: Pristine, tmp_path: Path) -> tuple[Path, Expect]:
    log = tmp_path / "wal"
    shutil.copytree(pristine.log, log)
    return log, CASES[name](Ctx(log, pristine))
