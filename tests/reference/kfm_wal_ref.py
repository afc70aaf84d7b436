"""Independent reference implementation of the kfm-wal/1 on-disk format.

Written from docs/FORMAT.md alone; it shares no code with rust/ or python/kfm_wal/.
Dependencies: the standard library and `cryptography` (Ed25519 only).

    RefWriter(dir, key32, log_id, clock)   create a log and append group commits
    verify(dir, keyring=None) -> Report     check everything FORMAT.md specifies
    read(dir)                               iterate the sealed records of a log

Choices where FORMAT.md leaves room are marked "CHOICE" below and listed in data/vectors/README.md.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

FORMAT = "kfm-wal/1"
ZERO = "0" * 64
DEFAULT_MAX_RECORD_BYTES = 1_048_576
DEFAULT_MAX_SEGMENT_BYTES = 64 * 1_048_576  # CHOICE: FORMAT.md names no default
KINDS = ("header", "intent", "completion", "seal", "key")
ENVELOPE = ("seq", "prev", "kind", "timestamp", "hash")
SUFFIX_LEN = 82  # '"hash":"sha256:' + 64 hex + '"}' + '\n'
TAIL_CODES = ("tail.unsealed", "tail.torn")

_SEG_NAME = re.compile(r"wal-([0-9]{8})-([0-9]{16})\.jsonl")
_PREFIX = re.compile(
    rb'\{"seq":([1-9][0-9]*),"prev":"sha256:([0-9a-f]{64})","kind":"([^"]*)","timestamp":"([^\n]{27})",'
)
_SUFFIX = re.compile(rb'"hash":"sha256:([0-9a-f]{64})"\}\n')
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
_SHA = re.compile(r"sha256:[0-9a-f]{64}")
_UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_OPERATION = re.compile(r"[a-z][a-z0-9_.]{0,63}")
_KEY_ID = re.compile(r"ed25519:[0-9a-f]{16}")


# ---------------------------------------------------------------- helpers


def segment_name(number: int, first_seq: int) -> str:
    return f"wal-{number:08d}-{first_seq:016d}.jsonl"


def key_id_of(public_key32: bytes) -> str:
    return "ed25519:" + hashlib.sha256(public_key32).hexdigest()[:16]


def public_key_of(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def b64decode(text, size: int):
    """Strict standard base64 with padding of exactly `size` bytes, else None."""
    if not isinstance(text, str):
        return None
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        return None
    return raw if len(raw) == size and b64encode(raw) == text else None


def seal_message(log_id: str, seq: int, timestamp: str, prev: str, closes: bool) -> bytes:
    """FORMAT.md section 4; `prev` includes the "sha256:" prefix."""
    return f"kfm-wal/1 seal\n{log_id}\n{seq}\n{timestamp}\n{prev}\n{1 if closes else 0}\n".encode()


def utc_timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _valid_timestamp(ts: str) -> bool:
    if not _TIMESTAMP.fullmatch(ts):
        return False
    try:
        datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        return False
    return True


def _key_matches(public_key, key_id) -> bool:
    raw = b64decode(public_key, 32)
    return raw is not None and key_id_of(raw) == key_id


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_sha(v) -> bool:
    return isinstance(v, str) and _SHA.fullmatch(v) is not None


def _nonempty_str(v) -> bool:
    return isinstance(v, str) and v != ""


# ---------------------------------------------------------------- body rules (section 4)

_HEADER_MEMBERS = ("format", "log_id", "segment", "key_id", "public_key", "max_record_bytes", "max_segment_bytes")
_COMPLETION_OPTIONAL = ("post_state_hash", "executed_digest", "duration_ms", "error", "detail")
_INTENT_MEMBERS = (
    "wal_id",
    "operation",
    "actor",
    "pre_state_hash",
    "post_state_expected",
    "payload",
    "reversal",
    "tier",
    "governance",
    "lineage_links",
    "telemetry",
)


def _reversal_ok(r) -> bool:
    # FORMAT.md section 4: non-empty `steps` (with `irreversible` absent or false), or
    # `irreversible: true` with a non-empty `reason` and no steps; other members are free.
    if not isinstance(r, dict):
        return False
    irreversible = r.get("irreversible", False)
    if not isinstance(irreversible, bool):
        return False
    if "steps" in r:
        return not irreversible and isinstance(r["steps"], list) and len(r["steps"]) > 0
    return irreversible and _nonempty_str(r.get("reason"))


def check_body(kind: str, b: dict) -> list:
    """Problems with the body members of a record of `kind` (empty list: fine)."""
    problems = []

    def members(required, optional=()):
        for name in required:
            if name not in b:
                problems.append(f"missing member {name!r}")
        for name in b:
            if name not in required and name not in optional:
                problems.append(f"unknown member {name!r}")

    def rule(name, ok, what):
        if name in b and not ok(b[name]):
            problems.append(f"{name}: {what}")

    if kind == "header":
        members(_HEADER_MEMBERS)
        rule("format", lambda v: v == FORMAT, f"must be {FORMAT!r}")
        rule("log_id", lambda v: isinstance(v, str) and _UUID4.fullmatch(v), "must be a lowercase UUIDv4")
        rule("segment", lambda v: _is_int(v) and v >= 1, "must be an integer >= 1")
        rule("public_key", lambda v: b64decode(v, 32) is not None, "must be a base64 32-byte key")
        rule("key_id", lambda v: _key_matches(b.get("public_key"), v), "must be the key id of public_key")
        rule("max_record_bytes", lambda v: _is_int(v) and v >= 1, "must be an integer >= 1")
        rule("max_segment_bytes", lambda v: _is_int(v) and v >= 1, "must be an integer >= 1")
    elif kind == "seal":
        members(("key_id", "signature", "closes"))
        rule("key_id", lambda v: isinstance(v, str) and _KEY_ID.fullmatch(v), "must be ed25519:<16 hex>")
        rule("signature", lambda v: b64decode(v, 64) is not None, "must be a base64 64-byte signature")
        rule("closes", lambda v: isinstance(v, bool), "must be a boolean")
    elif kind == "key":
        members(("action", "key_id"), ("public_key",))
        rule("action", lambda v: v in ("rotate", "revoke"), "must be rotate or revoke")
        rule("key_id", lambda v: isinstance(v, str) and _KEY_ID.fullmatch(v), "must be ed25519:<16 hex>")
        if b.get("action") == "rotate" and "public_key" not in b:
            problems.append("public_key is required for rotate")
        rule(
            "public_key",
            lambda v: _key_matches(v, b.get("key_id")),
            "must be a base64 32-byte key whose key id is key_id",
        )
    elif kind == "intent":
        members(_INTENT_MEMBERS)
        rule("wal_id", lambda v: isinstance(v, str) and _UUID4.fullmatch(v), "must be a lowercase UUIDv4")
        rule(
            "operation", lambda v: isinstance(v, str) and _OPERATION.fullmatch(v), "must match ^[a-z][a-z0-9_.]{0,63}$"
        )
        rule(
            "actor",
            lambda v: (
                isinstance(v, dict) and v.get("type") in ("developer", "ci", "system") and _nonempty_str(v.get("id"))
            ),
            "needs type developer|ci|system and a non-empty id",
        )
        rule("pre_state_hash", _is_sha, "must be sha256:<64 hex>")
        rule("post_state_expected", _is_sha, "must be sha256:<64 hex>")
        rule("payload", lambda v: isinstance(v, dict), "must be an object")
        rule("reversal", _reversal_ok, "must be {steps: [...]} or {irreversible: true, reason}")
        rule("tier", lambda v: _is_int(v) and 0 <= v <= 4, "must be an integer 0-4")
        if b.get("tier") == 4 and _is_int(b.get("tier")) and b.get("operation") != "rollback":
            problems.append("tier: 4 is reserved for operation rollback")
        rule(
            "governance",
            lambda v: (
                isinstance(v, dict)
                and v.get("care") in ("public", "sensitive", "restricted")
                and isinstance(v.get("approvals", []), list)
            ),
            "needs care public|sensitive|restricted; approvals: array",
        )
        rule(
            "lineage_links",
            lambda v: isinstance(v, list) and all(_nonempty_str(x) for x in v),
            "must be an array of non-empty strings",
        )
        rule("telemetry", lambda v: isinstance(v, dict) and _nonempty_str(v.get("id")), "needs a non-empty id")
    elif kind == "completion":
        members(("wal_id", "status"), _COMPLETION_OPTIONAL)
        rule("wal_id", lambda v: isinstance(v, str) and _UUID4.fullmatch(v), "must be a lowercase UUIDv4")
        rule("status", lambda v: v in ("succeeded", "failed", "refused", "reversed"), "unknown status")
        rule("post_state_hash", _is_sha, "must be sha256:<64 hex>")
        rule("executed_digest", _is_sha, "must be sha256:<64 hex>")
        rule(
            "duration_ms",
            lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0,
            "must be a number >= 0",
        )
        rule("error", lambda v: isinstance(v, str), "must be a string")
        rule("detail", lambda v: isinstance(v, dict), "must be an object")
    else:
        problems.append(f"unknown kind {kind!r}")
    return problems


# ---------------------------------------------------------------- writer


def _body_text(body: dict) -> bytes:
    if not isinstance(body, dict) or not body:
        raise ValueError("a body needs at least one member")
    for name in ENVELOPE:
        if name in body:
            raise ValueError(f"body member {name!r} is reserved for the envelope")
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    return text[1:-1].encode("utf-8")


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class RefWriter:
    """Creates a new log in `dir` and appends group commits to it (FORMAT.md section 7)."""

    def __init__(
        self,
        dir,
        private_key_bytes32: bytes,
        log_id: str,
        clock=None,
        max_segment_bytes: int = DEFAULT_MAX_SEGMENT_BYTES,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
        *,
        new_uuid=uuid.uuid4,
        validate: bool = True,
        journal: bool = False,
    ):
        self.dir = os.fspath(dir)
        self.archive = os.path.join(self.dir, "archive")
        self.log_id = str(log_id)
        self.clock = clock or utc_timestamp
        self.max_segment_bytes = max_segment_bytes
        self.max_record_bytes = max_record_bytes
        self.new_uuid = new_uuid
        self.validate = validate
        self.journal = [] if journal else None  # per line: seq, kind, hash, segment, offset, length
        self._set_key(Ed25519PrivateKey.from_private_bytes(private_key_bytes32))
        self.seq, self.prev, self.last_ts = 0, ZERO, ""
        self.segment, self.segment_file, self.size, self._fd, self._fresh = 0, None, 0, None, True
        for sub in (self.dir, self.archive):
            if os.path.isdir(sub) and any(n.endswith(".jsonl") for n in os.listdir(sub)):
                raise FileExistsError(f"{sub} already holds a log")
        os.makedirs(self.archive, exist_ok=True)
        _fsync_dir(self.dir)
        _fsync_dir(os.path.dirname(os.path.abspath(self.dir)))
        self._new_segment()

    def _set_key(self, key: Ed25519PrivateKey) -> None:
        self._key, self.public_key = key, public_key_of(key)
        self.key_id = key_id_of(self.public_key)

    # -- lines
    def _timestamp(self) -> str:
        ts = self.clock()
        if len(ts) != 27:
            raise ValueError(f"clock returned {ts!r}, need YYYY-MM-DDTHH:MM:SS.ffffffZ")
        return max(ts, self.last_ts)  # clamp: timestamps never decrease

    def _line(self, kind: str, body=None, raw: bytes = None, timestamp: str = None):
        seq = self.seq + 1
        ts = self._timestamp() if timestamp is None else timestamp
        raw = _body_text(body) if raw is None else raw
        head = f'{{"seq":{seq},"prev":"sha256:{self.prev}","kind":"{kind}","timestamp":"{ts}",'.encode() + raw + b","
        digest = hashlib.sha256(head).hexdigest()
        self.seq, self.prev, self.last_ts = seq, digest, ts
        return (seq, kind, digest, head + f'"hash":"sha256:{digest}"}}\n'.encode())

    @staticmethod
    def _line_len(seq: int, kind: str, raw: bytes) -> int:
        return (
            len(f'{{"seq":{seq},"prev":"sha256:{ZERO}","kind":"{kind}","timestamp":"{"0" * 27}",')
            + len(raw)
            + 1
            + SUFFIX_LEN
        )

    def _seal(self, closes: bool, key: Ed25519PrivateKey = None, bad_signature: bool = False):
        key = key or self._key
        seq, ts = self.seq + 1, self._timestamp()
        sig = key.sign(seal_message(self.log_id, seq, ts, "sha256:" + self.prev, closes))
        if bad_signature:
            sig = bytes([sig[0] ^ 0x01]) + sig[1:]
        body = {"closes": closes, "key_id": key_id_of(public_key_of(key)), "signature": b64encode(sig)}
        return self._line("seal", body, timestamp=ts)

    def _seal_len(self, seq: int) -> int:
        return self._line_len(
            seq, "seal", _body_text({"closes": False, "key_id": self.key_id, "signature": b64encode(bytes(64))})
        )

    def _note(self, lines, base: int) -> bytes:
        data = b"".join(line for _, _, _, line in lines)
        if self.journal is not None:
            for seq, kind, digest, line in lines:
                self.journal.append(
                    {
                        "seq": seq,
                        "kind": kind,
                        "hash": "sha256:" + digest,
                        "segment": self.segment_file,
                        "offset": base,
                        "length": len(line),
                    }
                )
                base += len(line)
        return data

    def _write(self, lines) -> None:
        data = self._note(lines, self.size)
        _write_all(self._fd, data)
        os.fsync(self._fd)
        self.size += len(data)

    # -- segments
    def _new_segment(self) -> None:
        self.segment += 1
        self.segment_file = segment_name(self.segment, self.seq + 1)
        path = os.path.join(self.dir, self.segment_file)
        data = self._note([self._line("header", self._header_body()), self._seal(False)], 0)
        fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(path + ".tmp", path)
        _fsync_dir(self.dir)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        self.size, self._fresh = len(data), True

    def _header_body(self) -> dict:
        return {
            "format": FORMAT,
            "log_id": self.log_id,
            "segment": self.segment,
            "key_id": self.key_id,
            "public_key": b64encode(self.public_key),
            "max_record_bytes": self.max_record_bytes,
            "max_segment_bytes": self.max_segment_bytes,
        }

    def rotate(self, closing_seal: bool = True) -> None:
        if closing_seal:  # (1)
            self._write([self._seal(True)])
        os.close(self._fd)
        old = os.path.join(self.dir, self.segment_file)
        self._new_segment()  # (2)
        os.rename(old, os.path.join(self.archive, os.path.basename(old)))  # (3)
        _fsync_dir(self.archive)
        _fsync_dir(self.dir)

    # -- commits
    def commit(
        self, records, *, seal_key: Ed25519PrivateKey = None, bad_signature: bool = False, check_size: bool = True
    ):
        """Low level group commit: records are dicts {kind, body | raw, [timestamp]}; ends with one seal."""
        raws = [(r["kind"], r["raw"] if "raw" in r else _body_text(r["body"]), r.get("timestamp")) for r in records]
        if check_size:
            for n, (kind, raw, _) in enumerate(raws):
                size = self._line_len(self.seq + 1 + n, kind, raw)
                if size > self.max_record_bytes:
                    limit = self.max_record_bytes
                    raise ValueError(f"record of {size} bytes exceeds max_record_bytes {limit}")
        need = sum(self._line_len(self.seq + 1 + n, k, raw) for n, (k, raw, _) in enumerate(raws))
        need += self._seal_len(self.seq + 1 + len(raws))
        if not self._fresh and self.size + need > self.max_segment_bytes:
            self.rotate()
        lines = [self._line(kind, raw=raw, timestamp=ts) for kind, raw, ts in raws]
        lines.append(self._seal(False, seal_key, bad_signature))
        self._write(lines)
        self._fresh = False
        return [(seq, digest) for seq, _, digest, _ in lines[:-1]]

    def append_many(self, bodies, kind: str = "intent"):
        """Append all bodies plus one seal with one write and one fsync; returns [(seq, hash_hex)]."""
        if kind not in ("intent", "completion", "key"):
            raise ValueError(f"cannot append records of kind {kind!r}")
        records = []
        for body in bodies:
            body = dict(body)
            if kind == "intent" and "wal_id" not in body:
                body["wal_id"] = str(self.new_uuid())
            if self.validate:
                problems = check_body(kind, body)
                if problems:
                    raise ValueError(f"invalid {kind} body: {'; '.join(problems)}")
            records.append({"kind": kind, "body": body})
        return self.commit(records)

    def rotate_key(self, new_private_key_bytes32: bytes, revoke_old: bool = False):
        """Commit a key rotation (sealed by the current key); later seals use the new key."""
        new = Ed25519PrivateKey.from_private_bytes(new_private_key_bytes32)
        pub = public_key_of(new)
        rotate = {"action": "rotate", "key_id": key_id_of(pub), "public_key": b64encode(pub)}
        records = [{"kind": "key", "body": rotate}]
        if revoke_old:
            records.append({"kind": "key", "body": {"action": "revoke", "key_id": self.key_id}})
        result = self.commit(records)
        self._set_key(new)
        return result

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---------------------------------------------------------------- verifier


@dataclass
class Error:
    code: str
    segment: str
    offset: int
    seq: int | None
    message: str


@dataclass
class Report:
    ok: bool
    errors: list
    records: int
    head_seq: int | None
    head_hash: str | None
    pending: list
    trust: str


class VerifyError(Exception):
    def __init__(self, report: Report):
        first = report.errors[0]
        super().__init__(f"{first.code} at {first.segment}:{first.offset}: {first.message}")
        self.report = report


@dataclass
class _Line:
    offset: int
    raw: bytes
    status: str = "malformed"  # good | malformed | hash
    hash_ok: bool = False  # the envelope parsed and H matches the bytes (even if the JSON is bad)
    problem: str = ""
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
    if not _valid_timestamp(ln.ts):
        ln.problem = f"timestamp {ln.ts!r} is not YYYY-MM-DDTHH:MM:SS.ffffffZ"
        return ln
    try:
        text = raw[:-1].decode("utf-8")
        # Member names must be unique in the record object itself (FORMAT.md section 2); the
        # outermost object is the last one the parser completes.
        objects = []
        obj = json.loads(text, object_pairs_hook=lambda p: objects.append(p) or dict(p), parse_constant=_no_constant)
        _unique_pairs(objects[-1])
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        ln.problem = f"not a valid JSON object with unique member names: {exc}"
        return ln
    ln.status, ln.obj = "good", obj
    ln.body = {k: v for k, v in obj.items() if k not in ENVELOPE}
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


def _load_keyring(keyring):
    """keyring: a keyring file's path, its parsed dict or its list of entries -> {key_id: public key}."""
    if keyring is None:
        return None
    if isinstance(keyring, (str, os.PathLike)):
        with open(keyring, encoding="utf-8") as f:
            keyring = json.load(f)
    entries = keyring["keys"] if isinstance(keyring, dict) else keyring
    trusted = {}
    for e in entries:
        pub = b64decode(e.get("public_key"), 32)
        # CHOICE: an entry counts only if its key_id matches its key and (if roles are given) it is a writer.
        if pub is not None and e.get("key_id") == key_id_of(pub) and "writer" in e.get("roles", ["writer"]):
            trusted[e["key_id"]] = pub
    return trusted


@dataclass
class _Segment:
    name: str
    number: int
    first_seq: int
    lines: list


def _scan(dir, keyring=None):
    """Return (report, sealed records as parsed dicts)."""
    d = os.fspath(dir)
    trusted = _load_keyring(keyring)
    found_errors = []  # (rank, offset, phase, n, Error); sorted at the end

    def err(rank, name, offset, seq, code, message, phase=2):
        found_errors.append((rank, offset, phase, len(found_errors), Error(code, name, offset, seq, message)))

    # Segments: union of DIR/*.jsonl and DIR/archive/*.jsonl ordered by number (section 1).
    candidates = []
    for where, sub in ((0, os.path.join(d, "archive")), (1, d)):
        if os.path.isdir(sub):
            for name in sorted(os.listdir(sub)):
                path = os.path.join(sub, name)
                if name.endswith(".jsonl") and os.path.isfile(path):
                    m = _SEG_NAME.fullmatch(name)
                    if m is None or int(m[1]) == 0:
                        err(
                            -1,
                            name,
                            0,
                            None,
                            "chain.segment",
                            "file name is not wal-SSSSSSSS-QQQQQQQQQQQQQQQQ.jsonl with a segment number from 1",
                            phase=0,
                        )
                    else:
                        candidates.append((int(m[1]), where, name, int(m[2]), path))
    candidates.sort()
    segs = []
    for number, _, name, first_seq, path in candidates:
        if segs and segs[-1].number == number:
            err(
                len(segs) - 1,
                name,
                0,
                None,
                "chain.segment",
                f"segment number {number} is present more than once (this copy ignored)",
                phase=0,
            )
            continue
        with open(path, "rb") as f:
            segs.append(_Segment(name, number, first_seq, _split(f.read())))
    if not segs:
        err(-1, "", 0, None, "chain.segment", "not a log: no segment file in DIR or DIR/archive", phase=0)

    # Tail of the last segment (section 6).
    last = len(segs) - 1
    tail_lines = segs[last].lines if segs else []
    seal_at = max((i for i, ln in enumerate(tail_lines) if ln.status == "good" and ln.kind == "seal"), default=-1)
    last_hash_ok = max((i for i, ln in enumerate(tail_lines) if ln.hash_ok), default=-1)
    torn = [i for i, ln in enumerate(tail_lines) if ln.status != "good" and i > last_hash_ok]
    tail_corrupt = any(ln.status != "good" and i not in torn for i, ln in enumerate(tail_lines) if i > seal_at)
    tail_error = None  # (line index, code, message)
    if torn:
        # CHOICE: a torn tail is reported once, at the start of the tail (the recovery cut point),
        # unless a corrupted line precedes the torn part in the tail.
        at = torn[0] if tail_corrupt else seal_at + 1
        tail_error = (at, "tail.torn", f"torn tail: {tail_lines[torn[0]].problem}")
    elif seal_at + 1 < len(tail_lines) and not tail_corrupt:
        count = len(tail_lines) - seal_at - 1
        tail_error = (seal_at + 1, "tail.unsealed", f"{count} record(s) after the last seal")

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
