"""RefWriter: creates a log and appends group commits to it, one fsynced write each (FORMAT.md
section 7), with knobs the vector generator uses to write defects on purpose."""

from __future__ import annotations

import hashlib
import json
import os
import uuid

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from ref_bodies import check_body
from ref_grammar import (
    DEFAULT_MAX_RECORD_BYTES,
    DEFAULT_MAX_SEGMENT_BYTES,
    ENVELOPE,
    FORMAT,
    SUFFIX_LEN,
    ZERO,
    segment_name,
    utc_timestamp,
)
from ref_keys import b64encode, key_id_of, public_key_of, seal_message


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
        stream: str | None = None,
        format_name: str = FORMAT,
    ):
        self.dir = os.fspath(dir)
        self.format_name = format_name  # what each header's `format` says (kfm-wal/1 or /2)
        self.stream = stream  # the optional header member naming this writer's log in a log set
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
            "format": self.format_name,
            "log_id": self.log_id,
            "segment": self.segment,
            "key_id": self.key_id,
            "public_key": b64encode(self.public_key),
            "max_record_bytes": self.max_record_bytes,
            "max_segment_bytes": self.max_segment_bytes,
        } | ({"stream": self.stream} if self.stream is not None else {})

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
