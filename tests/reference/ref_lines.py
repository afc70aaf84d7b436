"""One line of a segment: split a segment's bytes into lines and parse each against the envelope
grammar, its own hash and strict JSON (FORMAT.md section 2)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from ref_grammar import _PREFIX, _SUFFIX, ENVELOPE, SUFFIX_LEN, _valid_timestamp
from ref_json import Obj, loads


@dataclass
class _Line:
    offset: int
    raw: bytes
    status: str = "malformed"  # good | malformed | hash | json (valid own hash, not JSON)
    hash_ok: bool = False  # the envelope parsed and H matches the bytes (even if the JSON is bad)
    problem: str = ""
    ts_problem: str = ""  # the timestamp is invalid (L8); the line is otherwise judged
    seq: int | None = None  # set once the line is complete and its envelope prefix and suffix parse
    prev: str = ""
    kind: str = ""
    ts: str = ""
    hash: str = ""
    obj: dict | None = None
    body: dict = field(default_factory=dict)


def _unique_pairs(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate member {key!r}")
        obj[key] = value
    return obj


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


def _parse_line(offset: int, raw: bytes) -> _Line:
    ln = _Line(offset, raw)
    if not raw.endswith(b"\n"):
        ln.problem = "incomplete line (no terminating newline)"
        return ln
    m = _PREFIX.match(raw)
    if m is None:
        ln.problem = "line does not start with the envelope prefix"
        return ln
    suffix_at = len(raw) - SUFFIX_LEN
    s = _SUFFIX.fullmatch(raw, max(suffix_at, 0))
    if s is None or suffix_at < m.end() + 2 or raw[suffix_at - 1 : suffix_at] != b",":
        ln.problem = "line does not end with ',' + the envelope suffix, or has an empty body"
        return ln
    ln.seq, ln.prev, ln.hash = int(m[1]), m[2].decode(), s[1].decode()
    ln.kind, ln.ts = m[3].decode("utf-8", "replace"), m[4].decode("utf-8", "replace")
    if hashlib.sha256(raw[:suffix_at]).hexdigest() != ln.hash:
        ln.status, ln.problem = "hash", "record hash does not match the line's bytes"
        return ln
    ln.hash_ok = True
    # From here on the line has a place in the chain: a bad timestamp or bad JSON is reported (L8,
    # L11) and the line is otherwise judged (FORMAT.md section 6.2).
    if not _valid_timestamp(ln.ts):
        ln.ts_problem = f"timestamp {ln.ts!r} is not YYYY-MM-DDTHH:MM:SS.ffffffZ"
    try:
        obj = loads(raw[:-1].decode("utf-8"))
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        ln.status, ln.problem = "json", f"not valid JSON: {exc}"
        return ln
    if not isinstance(obj, dict):
        ln.status, ln.problem = "json", "not a JSON object"
        return ln
    ln.status, ln.obj = "good", obj
    # Repeated top-level names (a body member named like an envelope member included) are a body
    # error of the record (FORMAT.md section 2, "Uniqueness"), judged with its kind's rules.
    ln.body = Obj()
    ln.body.update((k, v) for k, v in obj.items() if k not in ENVELOPE)
    ln.body.repeated = set(obj.repeated)
    return ln


def _known_seq(ln: _Line):
    """CHOICE: an error names a seq only when the line's own hash vouches for it."""
    return ln.seq if ln.hash_ok else None


def _split(data: bytes, offset: int = 0):
    lines = []
    while offset < len(data):
        nl = data.find(b"\n", offset)
        end = len(data) if nl < 0 else nl + 1
        lines.append(_parse_line(offset, data[offset:end]))
        offset = end
    return lines
