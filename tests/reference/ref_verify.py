"""The verifier (FORMAT.md sections 1-6): the lines of each segment (6.2), its valid seals and tail
(6.3, 6.5), the joins between segments (6.4), intents and completions (6.6), in the order of 6.7;
verify() reports, read() yields the records of the sealed parts."""

from __future__ import annotations

import os

from ref_bodies import check_body
from ref_checkpoint import NUMBERING, START, settle
from ref_grammar import _UUID4, DEFAULT_MAX_RECORD_BYTES, KINDS, TAIL_CODES, ZERO
from ref_keys import _load_keyring, b64decode, key_id_of
from ref_keystate import KeyState
from ref_lines import _known_seq
from ref_receipts import head_line, load_receipt
from ref_report import Error, Report, VerifyError
from ref_segments import _read_segments
from ref_tail import classify_tail

# phases at one location (FORMAT.md 6.7): sealed-part lines (L, then L14), joins J1-J7, the tail
# (J8), intents and revoked keys (J9, J10), the previous segment's missing closing seal (J5)
SEALED, JOIN, TAIL, PAIRS, J5 = 0, 1, 2, 3, 4


def _is_seal(ln) -> bool:
    return ln.status == "good" and ln.kind == "seal" and not check_body("seal", ln.body)


def _scan(dir, keyring=None, receipt=None):
    """Return (report, sealed records as parsed dicts). `receipt` (path or dict, FORMAT.md
    section 9): check it, then verify only what follows the line it vouches for."""
    trusted = _load_keyring(keyring)
    receipt = load_receipt(receipt) if receipt is not None else None
    found = []  # (rank, offset, phase, n, Error); sorted at the end

    def err(rank, name, offset, seq, code, message, phase=SEALED):
        found.append((rank, offset, phase, len(found), Error(code, name, offset, seq, message)))

    segs = _read_segments(os.fspath(dir), err)
    st = {"log_id": None, "kid": None, "pub": None, "boundary": None, "clean": True, "head": None}
    revoked, intents, records = {}, {}, []
    start = 0
    if receipt is not None:
        where = head_line(segs, receipt, lambda seg: _header_log_id(seg))
        if isinstance(where[0], str):  # receipt.truncated / receipt.mismatch: nothing else is scanned
            code, name, offset = where
            found = [(0, 0, 0, 0, Error(code, name, offset, receipt["seq"], "the receipt's line is not there"))]
            segs = []
        else:
            start, at = where
            st.update(resume=(at, receipt), log_id=receipt["log_id"], number=segs[start].number - 1)
            revoked = {kid: 0 for kid in receipt["revoked"]}
            intents = {wid: False for wid in receipt["pending"]}
    for r, seg in enumerate(segs):
        if r >= start:
            _segment(r, seg, r == len(segs) - 1, st, trusted, revoked, intents, records, err)
    found = [t for t in found if t[0] >= start]  # a repeat of a number before the receipt's: not read
    if receipt is None:  # a compacted log anchored by a checkpoint (FORMAT.md 6.10)
        found = settle(found, segs, _is_seal, intents)
    found.sort(key=lambda t: t[:4])
    errors = [t[4] for t in found]
    head = st["head"]
    report = Report(
        ok=not errors,
        errors=errors,
        records=len(records),
        head_seq=head.seq if head else None,
        head_hash="sha256:" + head.hash if head else None,
        pending=[w for w, done in intents.items() if not done],
        trust="keyring" if trusted is not None else "self-declared",
    )
    return report, records


def _header_log_id(seg):
    return seg.lines[0].body["log_id"] if seg.lines and _header_ok(seg, seg.lines[0]) else None


def _header_ok(seg, ln) -> bool:
    return (
        ln.status == "good"
        and ln.kind == "header"
        and not check_body("header", ln.body)
        and ln.body["segment"] == seg.number
    )


def _segment(r, seg, is_last, st, trusted, revoked, intents, records, err):
    lines, name = seg.lines, seg.name
    resume = st.pop("resume", None)  # (line index, receipt): lines up to it are vouched for
    skip = resume[0] if resume else -1
    if seg.unreadable:  # segment.compression (reported by the listing): only its number is judged
        _join(r, seg, lines, None, -1, None, st, err)
        st["head"], st["kid"], st["pub"], st["clean"] = None, None, None, False
        return
    seal_at = max((i for i, ln in enumerate(lines) if _is_seal(ln)), default=skip)
    tail = []  # the tail's line findings: (offset, seq, code, message)
    l14 = []

    def emit(i, offset, seq, code, message):
        if i > seal_at:
            tail.append((offset, seq, code, message))
        else:
            err(r, name, offset, seq, code, message)

    st["head"] = None  # the report's head: the last valid seal of the last segment (VERIFY.md)
    hdr = lines[0] if lines and _header_ok(seg, lines[0]) else None
    if hdr is not None and st["log_id"] is None:
        st["log_id"] = hdr.body["log_id"]
    keys = KeyState(
        trusted,
        dict(revoked),
        hdr.body["key_id"] if hdr else None,
        b64decode(hdr.body["public_key"], 32) if hdr else None,
        hdr.body["log_id"] if hdr else None,
    )
    if not lines:
        err(r, name, 0, None, "chain.segment", "empty segment file: no header")
    max_record, prev, after_bad, closing, pairs = DEFAULT_MAX_RECORD_BYTES, None, False, None, []
    if resume:  # the receipt's chain state (FORMAT.md section 9)
        pub = b64decode(resume[1]["public_key"], 32)
        keys.kid, keys.pub, prev, st["head"] = key_id_of(pub), pub, lines[skip], lines[skip]
        max_record = hdr.body["max_record_bytes"] if hdr else max_record
    for i, ln in enumerate(lines):
        if i <= skip:
            continue
        if not ln.hash_ok:  # L1, L2: nothing else is checked; the next line is not linked to it
            code = "record.hash" if ln.status == "hash" else "record.malformed"
            emit(i, ln.offset, None, code, ln.problem)
            after_bad = True
            continue

        def e(code, message, i=i, ln=ln):
            emit(i, ln.offset, ln.seq, code, message)

        kind, body = ln.kind, ln.body
        if closing is not None:  # L13, raised by this line, located at the closing seal
            emit(i, closing.offset, closing.seq, "chain.segment", "closing seal not last in its segment")
            closing = None
        if i == 0 and ln.seq != seg.first_seq:  # L3
            e("chain.segment", f"file name says first seq {seg.first_seq}, the line has seq {ln.seq}")
        if len(ln.raw) > max_record:  # L4: the header line is judged against the default
            e("record.too_large", f"line of {len(ln.raw)} bytes exceeds max_record_bytes {max_record}")
        if i == 0 and hdr is not None:
            max_record = hdr.body["max_record_bytes"]
        if prev is not None and not after_bad:  # L5
            if ln.seq != prev.seq + 1:
                e("chain.seq", f"seq {ln.seq}, expected {prev.seq + 1}")
            elif ln.prev != prev.hash:
                e("chain.prev", f"prev sha256:{ln.prev}, expected sha256:{prev.hash}")
        if prev is not None and ln.ts < prev.ts:  # L6
            e("time.regression", f"timestamp {ln.ts} is earlier than {prev.ts}")
        prev, after_bad = ln, False
        if i == 0 and kind != "header":  # L7
            e("chain.segment", "the first record of a segment must be a header")
        if ln.ts_problem:  # L8
            e("record.malformed", ln.ts_problem)
        if i == 1 and kind != "seal":  # L9
            e("seal.missing", "a segment's header must be followed by a seal")
        if kind not in KINDS:  # L10
            e("record.kind", f"unknown record kind {kind!r}")
            continue
        problems = [ln.problem] if ln.status == "json" else check_body(kind, body)  # L11
        if kind == "header" and i > 0:
            e("chain.segment", "header out of place (not the first record of its segment)")
        elif kind == "header" and problems:
            e("chain.segment", "header: " + "; ".join(problems))
        elif kind == "header" and body["segment"] != seg.number:
            e("chain.segment", f"header segment {body['segment']} differs from the file name's {seg.number}")
        elif problems:
            code = "record.malformed" if ln.status == "json" and kind != "key" else "record.schema"
            e(code, f"{kind}: " + "; ".join(problems))
        if i > seal_at:
            continue
        records.append(ln.obj)
        if kind == "seal" and not problems:
            found12, found14, found10 = keys.check(ln, body)
            if found12:
                e(*found12)
            if found14:
                l14.append((ln, found14))
            if found10:
                pairs.append((ln, found10))
            if body["closes"]:
                closing = ln
            st["head"] = ln
        elif kind == "key" and not problems:
            keys.pending.append(body)
        elif kind in ("intent", "completion") and ln.status == "good":
            wid = ln.obj.get("wal_id")
            if isinstance(wid, str) and _UUID4.fullmatch(wid):
                pairs.append((ln, _pair(kind, wid, intents)))
    for ln, (code, message) in l14:
        err(r, name, ln.offset, ln.seq, code, message)
    _join(r, seg, lines, hdr, seal_at, keys, st, err, resumed=resume is not None)
    _tail(r, seg, lines, seal_at, is_last, tail, err)
    for ln, finding in pairs:
        if finding:
            err(r, name, ln.offset, ln.seq, finding[0], finding[1], PAIRS)
    for kid, seq in keys.revoked_here.items():
        revoked.setdefault(kid, seq)
    st["kid"], st["pub"], st["clean"] = keys.kid, keys.pub, not tail
    if seal_at >= 0:
        st["boundary"] = (r, name, lines[seal_at])


def _pair(kind, wid, intents):
    if kind == "intent":
        if wid in intents:
            return ("intent.duplicate", f"wal_id {wid} already used by an earlier intent")
        intents[wid] = False
        return None
    if wid not in intents:
        return ("completion.orphan", f"no earlier intent with wal_id {wid}")
    if intents[wid]:
        return ("completion.duplicate", f"intent {wid} already has a completion")
    intents[wid] = True
    return None


def _join(r, seg, lines, hdr, seal_at, keys, st, err, resumed=False):
    """J2-J7 (FORMAT.md 6.4); J1 is the listing's (ref_segments). A segment resumed from a
    receipt has no boundary to check (its first judged line is linked to the receipt's)."""
    name = seg.name
    first = next((ln for ln in lines if ln.hash_ok), None)
    first_seq = first.seq if first else None
    want = st.get("number", 0) + 1
    st["number"] = seg.number
    if seg.number != want:
        first_msg = (
            f"{NUMBERING} {seg.number}, expected 1" if r == 0 else f"segment number {seg.number}, expected {want}"
        )
        err(r, name, 0, first_seq, "chain.segment", first_msg, JOIN)
    line0 = lines[0] if lines and lines[0].hash_ok else None
    if line0 is not None and st["clean"] and not resumed:
        boundary = st["boundary"]
        if r == 0:
            if line0.seq != 1 or line0.prev != ZERO:
                err(r, name, 0, line0.seq, "chain.prev", START, JOIN)
        elif boundary is not None:
            b = boundary[2]
            if line0.seq != b.seq + 1:
                err(r, name, 0, line0.seq, "chain.seq", f"seq {line0.seq}, expected {b.seq + 1}", JOIN)
            elif line0.prev != b.hash:
                err(r, name, 0, line0.seq, "chain.prev", "prev is not the previous segment's last seal", JOIN)
            if line0.ts < b.ts:
                err(r, name, 0, line0.seq, "time.regression", f"timestamp earlier than {b.ts}", JOIN)
            if not b.body["closes"]:
                msg = "the segment before the next one does not end with a closing seal"
                err(boundary[0], boundary[1], b.offset, b.seq, "seal.missing", msg, J5)
        if r > 0 and hdr is not None and st["kid"] is not None and hdr.body["key_id"] != st["kid"]:
            msg = f"header declares key {hdr.body['key_id']}, the key in force is {st['kid']}"
            err(r, name, 0, line0.seq, "chain.segment", msg, JOIN)
    if hdr is not None and hdr.body["log_id"] != st["log_id"]:
        msg = f"log_id {hdr.body['log_id']} differs from the log's {st['log_id']}"
        err(r, name, 0, first_seq, "chain.segment", msg, JOIN)


def _tail(r, seg, lines, seal_at, is_last, tail, err):
    """J8 (FORMAT.md 6.5): one tail finding at the tail's first byte, or its line findings as they are."""
    if seal_at + 1 >= len(lines):
        return
    first = lines[seal_at + 1]
    code = classify_tail(lines[seal_at + 1 :], [t[2] for t in tail], is_last)
    if code:
        err(
            r,
            seg.name,
            first.offset,
            _known_seq(first),
            code,
            f"{len(lines) - seal_at - 1} line(s) after the last valid seal",
            TAIL,
        )
        return
    for offset, seq, c, message in tail:
        err(r, seg.name, offset, seq, c, message, TAIL)


def verify(dir, keyring=None, receipt=None) -> Report:
    """Check a log against FORMAT.md; report every finding with its location. With a receipt
    (FORMAT.md section 9; ValueError when it is refused), only what follows its line."""
    return _scan(dir, keyring, receipt)[0]


def read(dir, keyring=None):
    """Iterate the sealed records (parsed dicts, envelope included) of a log.

    A recoverable tail (tail.unsealed / tail.torn) is skipped; any other finding raises VerifyError.
    """
    report, records = _scan(dir, keyring)
    if any(e.code not in TAIL_CODES for e in report.errors):
        raise VerifyError(report)
    return iter(records)
