"""The fixed shapes of FORMAT.md: format constants, the envelope grammar of a line, segment file
names and timestamps."""

from __future__ import annotations

import re
from datetime import UTC, datetime

FORMAT = "kfm-wal/1"
FORMAT_V2 = "kfm-wal/2"  # a segment that may end in zero padding (FORMAT.md section 2)
FORMATS = (FORMAT, FORMAT_V2)
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


def segment_name(number: int, first_seq: int) -> str:
    return f"wal-{number:08d}-{first_seq:016d}.jsonl"


def utc_timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _valid_timestamp(ts: str) -> bool:
    """FORMAT.md section 2, step 3: the shape and the field ranges; the day is not checked against
    the month (2026-02-30 passes)."""
    if not _TIMESTAMP.fullmatch(ts):
        return False
    month, day, hour, minute, second = int(ts[5:7]), int(ts[8:10]), int(ts[11:13]), int(ts[14:16]), int(ts[17:19])
    return 1 <= month <= 12 and 1 <= day <= 31 and hour <= 23 and minute <= 59 and second <= 59
