"""The segments of a log (FORMAT.md section 1): the union of DIR/*.jsonl and DIR/archive/*.jsonl (and
DIR/archive/*.jsonl.zst, compressed), ordered by segment number, each read and split into lines."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ref_grammar import _SEG_NAME, FORMAT_V2
from ref_lines import _parse_line, _split
from ref_zstd import SUFFIX, decode


@dataclass
class _Segment:
    name: str
    number: int
    first_seq: int
    lines: list
    # a compressed segment that does not decode to its end: not judged line by line (6.4)
    unreadable: bool = False


def _read_segments(d: str, err) -> list:
    """The log's segments in number order (archive/ first, then by name, for one number); a
    repeated number is reported through err(rank, name, offset, seq, code, message, phase) (J1)
    and that copy left out."""
    candidates = []
    for where, sub in ((0, os.path.join(d, "archive")), (1, d)):
        if os.path.isdir(sub):
            for name in sorted(os.listdir(sub)):
                path = os.path.join(sub, name)
                # compressed segments count in archive/ only
                compressed = where == 0 and name.endswith(SUFFIX)
                m = _SEG_NAME.fullmatch(name[: -len(SUFFIX)] if compressed else name)
                # FORMAT.md section 1: any other entry (LOCK, *.tmp, subdirectories, other names) is
                # ignored without a finding; number 0 is a segment name (a numbering error, 6.4)
                if m is not None and os.path.isfile(path):
                    candidates.append((int(m[1]), where, int(m[2]), compressed, name, path))
    candidates.sort()
    # NAME and NAME.zst both in archive/ (a compression interrupted by a crash): one segment, the
    # plain file is read
    candidates = [c for i, c in enumerate(candidates) if not (c[3] and i > 0 and candidates[i - 1][:3] == c[:3])]
    segs = []
    for number, _, first_seq, compressed, name, path in candidates:
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
            data = f.read()
        if compressed:
            data, why = decode(data)
            if why is not None:
                msg = f"compressed segment unreadable after {len(data)} uncompressed bytes: {why}"
                err(len(segs), name, len(data), None, "segment.compression", msg, phase=0)
                segs.append(_Segment(name, number, first_seq, [], unreadable=True))
                continue
        segs.append(_Segment(name, number, first_seq, _split(_v2_data(data))))
    if not segs:  # not a log: a verifier refuses it (no report)
        raise FileNotFoundError(f"{d}: not a log (no segment file in it or in its archive/)")
    return segs


def _is_v2(data: bytes) -> bool:
    """FORMAT.md section 2: a segment is v2 when its line at offset 0 has a valid own hash, kind
    `header`, and a JSON body whose `format` member, present once, is `kfm-wal/2` (whatever else the
    header's body says: its other rules are judged as for any header)."""
    nl = data.find(b"\n")
    if nl < 0:
        return False
    first = _parse_line(0, data[: nl + 1])
    obj = first.obj
    return (
        first.hash_ok
        and first.kind == "header"
        and obj is not None
        and obj.get("format") == FORMAT_V2
        and "format" not in obj.repeated  # a repeated `format` member says no one version
    )


def _v2_data(data: bytes) -> bytes:
    """The bytes of a v2 segment that are judged (FORMAT.md section 2, "Padding" and "Torn
    lines"): without its padding (the zero bytes that end it from a line boundary), and ending
    with its first line that holds a zero byte, if one does (the lines after it are never
    judged). Any other segment's bytes are returned as they are."""
    if not _is_v2(data):
        return data
    end = len(data.rstrip(b"\0"))
    if end < len(data) and end > 0 and data[end - 1 : end] == b"\n":
        data = data[:end]
    zero = data.find(b"\0")
    if zero >= 0:
        nl = data.find(b"\n", zero)
        data = data[: len(data) if nl < 0 else nl + 1]
    return data
