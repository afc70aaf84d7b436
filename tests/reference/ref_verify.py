"""The verifier (FORMAT.md sections 1-6): one pass over every line of every segment in log order,
checking the chain, seals and keys, bodies and intents; verify() reports, read() yields records."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from ref_bodies import _is_int, check_body
from ref_grammar import DEFAULT_MAX_RECORD_BYTES, KINDS, TAIL_CODES, ZERO
from ref_keys import _load_keyring, b64decode, seal_message
from ref_lines import _known_seq
from ref_report import Error, Report, VerifyError
from ref_segments import _read_segments
from ref_tail import _classify_tail


def _scan(dir, keyring=None):
    """Return (report, sealed records as parsed dicts)."""
    d = os.fspath(dir)
    trusted = _load_keyring(keyring)
    found_errors = []  # (rank, offset, phase, n, Error); sorted at the end

    def err(rank, name, offset, seq, code, message, phase=2):
        found_errors.append((rank, offset, phase, len(found_errors), Error(code, name, offset, seq, message)))

    segs = _read_segments(d, err)

    # Tail of the last segment (section 6).
    last = len(segs) - 1
    tail_lines = segs[last].lines if segs else []
    seal_at, torn, tail_error = _classify_tail(tail_lines)

    # One pass over every line of every segment, in log order.
    exp_seq, exp_prev, resync, prev_ts = 1, ZERO, False, None
    log_id = cur_kid = cur_pub = None
    known = dict(trusted or {})  # key_id -> public key bytes, from the keyring, headers and rotations
    revoked, pending_keys = set(), []
    intents, intent_order = {}, []
    sealed_records, head = [], None
    for r, seg in enumerate(segs):
        lines = seg.lines
        first_seq = _known_seq(lines[0]) if lines else None
        want = segs[r - 1].number + 1 if r else 1
        if seg.number != want:
            err(r, seg.name, 0, first_seq, "chain.segment", f"segment number {seg.number}, expected {want}", phase=0)
        if not lines:
            err(r, seg.name, 0, None, "chain.segment", "empty segment file: no header", phase=0)
        max_record = DEFAULT_MAX_RECORD_BYTES
        for i, ln in enumerate(lines):
            sealed = r < last or i <= seal_at
            if tail_error and r == last and i == tail_error[0]:
                err(r, seg.name, ln.offset, _known_seq(ln), tail_error[1], tail_error[2], 1)
            if ln.status != "good":
                if not (r == last and i in torn):
                    code = "record.hash" if ln.status == "hash" else "record.malformed"
                    err(r, seg.name, ln.offset, _known_seq(ln), code, ln.problem)
                resync = True  # do not judge the next record's links against an unusable line
                continue

            def e(code, message, r=r, name=seg.name, offset=ln.offset, seq=ln.seq):
                err(r, name, offset, seq, code, message)

            kind, body = ln.kind, ln.body
            declared = body.get("max_record_bytes")
            if i == 0 and kind == "header" and _is_int(declared) and declared > 0:
                max_record = declared
            if len(ln.raw) > max_record:
                e("record.too_large", f"line of {len(ln.raw)} bytes exceeds max_record_bytes {max_record}")
            if not resync:
                if ln.seq != exp_seq:
                    e("chain.seq", f"seq {ln.seq}, expected {exp_seq}")
                if ln.prev != exp_prev:
                    e("chain.prev", f"prev sha256:{ln.prev}, expected sha256:{exp_prev}")
            resync, exp_seq, exp_prev = False, ln.seq + 1, ln.hash
            if i == 0 and kind != "header":
                e("chain.segment", "the first record of a segment must be a header")
            if i > 0 and kind == "header":
                e("chain.segment", "header out of place (not the first record of its segment)")
            if prev_ts is not None and ln.ts < prev_ts:
                e("time.regression", f"timestamp {ln.ts} is earlier than {prev_ts}")
            prev_ts = ln.ts

            problems = check_body(kind, body) if kind in KINDS else None
            if problems is None:
                e("record.kind", f"unknown record kind {kind!r}")
            elif problems:
                e("record.schema", f"{kind}: " + "; ".join(problems))
            if i == 1 and kind != "seal":
                e("seal.missing", "a segment's header must be followed by a seal")

            if kind == "header" and i == 0:
                if ln.seq != seg.first_seq:
                    e("chain.segment", f"file name says first seq {seg.first_seq}, header has seq {ln.seq}")
                if _is_int(body.get("segment")) and body["segment"] != seg.number:
                    e("chain.segment", f"header segment {body['segment']} differs from the file name's {seg.number}")
                if isinstance(body.get("log_id"), str):
                    if log_id is None:
                        log_id = body["log_id"]
                    elif body["log_id"] != log_id:
                        e("chain.segment", f"log_id {body['log_id']} differs from the log's {log_id}")
                if not problems:
                    pub = b64decode(body["public_key"], 32)
                    if cur_kid is None:  # the first header declares the initial writer key
                        cur_kid, cur_pub = body["key_id"], pub
                        known.setdefault(cur_kid, pub)
                    elif body["key_id"] != cur_kid:
                        # CHOICE: reported as chain.segment
                        e("chain.segment", f"header declares key {body['key_id']}, key in force is {cur_kid}")
            elif kind == "seal":
                if not problems:
                    kid, closes = body["key_id"], body["closes"]
                    if closes and i != len(lines) - 1:
                        # CHOICE: reported as chain.segment
                        e("chain.segment", "closing seal (closes: true) before the end of its segment")
                    pub = cur_pub if kid == cur_kid else known.get(kid)
                    if pub is not None and log_id is not None:
                        msg = seal_message(log_id, ln.seq, ln.ts, "sha256:" + ln.prev, closes)
                        try:
                            signature = b64decode(body["signature"], 64)
                            Ed25519PublicKey.from_public_bytes(pub).verify(signature, msg)
                        except (InvalidSignature, ValueError):
                            e("seal.signature", f"signature by {kid} does not verify")
                    why = []
                    if kid != cur_kid:
                        why.append(f"key in force is {cur_kid}")
                    if kid in revoked:
                        why.append("key was revoked")
                    if trusted is not None and trusted.get(kid) != pub:
                        why.append("key is not in the keyring")
                    if pub is None:
                        why.append("key is unknown")
                    if why:
                        e("seal.untrusted_key", f"seal signed by {kid}: " + ", ".join(why))
                for kb in pending_keys:  # key records take effect after the seal that covers them
                    if kb["action"] == "rotate":
                        cur_kid, cur_pub = kb["key_id"], b64decode(kb["public_key"], 32)
                        known[cur_kid] = cur_pub
                    else:
                        revoked.add(kb["key_id"])
                pending_keys = []
            elif kind == "key" and not problems:
                pending_keys.append(body)
            elif kind == "intent" and isinstance(body.get("wal_id"), str):
                wid = body["wal_id"]
                if wid in intents:
                    e("intent.duplicate", f"wal_id {wid} already used by an earlier intent")
                else:
                    intents[wid] = {"sealed": sealed, "done": False, "done_sealed": False}
                    intent_order.append(wid)
            elif kind == "completion" and isinstance(body.get("wal_id"), str):
                it = intents.get(body["wal_id"])
                if it is None:
                    e("completion.orphan", f"no earlier intent with wal_id {body['wal_id']}")
                elif it["done"]:
                    e("completion.duplicate", f"intent {body['wal_id']} already has a completion")
                else:
                    it["done"], it["done_sealed"] = True, sealed
            if sealed:
                sealed_records.append(ln.obj)
                head = ln
        if r < last and lines and lines[-1].status == "good":
            end = lines[-1]
            if not (end.kind == "seal" and end.body.get("closes") is True):
                err(
                    r,
                    seg.name,
                    end.offset,
                    end.seq,
                    "seal.missing",
                    "a segment other than the last must end with a closing seal",
                )

    found_errors.sort(key=lambda t: t[:4])
    errors = [t[4] for t in found_errors]
    pending = [w for w in intent_order if intents[w]["sealed"] and not intents[w]["done_sealed"]]
    report = Report(
        ok=not errors,
        errors=errors,
        records=len(sealed_records),
        head_seq=head.seq if head else None,
        head_hash="sha256:" + head.hash if head else None,
        pending=pending,
        trust="keyring" if trusted is not None else "self-declared",
    )
    return report, sealed_records


def verify(dir, keyring=None) -> Report:
    """Check a log against FORMAT.md; report every error found with its location."""
    return _scan(dir, keyring)[0]


def read(dir, keyring=None):
    """Iterate the sealed records (parsed dicts, envelope included) of a log.

    A recoverable tail (tail.unsealed / tail.torn) is skipped; any other error raises VerifyError.
    """
    report, records = _scan(dir, keyring)
    if any(e.code not in TAIL_CODES for e in report.errors):
        raise VerifyError(report)
    return iter(records)
