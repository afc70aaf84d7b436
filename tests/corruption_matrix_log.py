"""The log of the corruption matrix and the tools its cases damage it with.

The log (built once per test module, copied for each case): 4 segments, max_segment_bytes 6144,
each segment

    0 header, 1 seal, 2-4 intent x3, 5 seal, 6-7 completion x2, 8 seal, [9 closing seal]

(segments 1-3 in archive/ end with a closing seal at 9; segment 4 is live and ends at 8). Every
case is verified with a keyring holding the writer key. Each case says what to expect (Expect);
its class is one of

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
from dataclasses import dataclass
from pathlib import Path

import kfm_wal
from kfm_wal import keys
from waltools import SEGMENTS, SUFFIX_LEN, Segment, build_log, layout, rechain, ref

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


def make_pristine(root: Path) -> Pristine:
    """The three logs and the keyring, written under `root`."""
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


def locations(log: Path) -> list[tuple[str, int, int, str]]:
    return [(r.segment, r.offset, r.seq, r.hash) for r in kfm_wal.records(log)]
