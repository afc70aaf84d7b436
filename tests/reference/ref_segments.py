"""The segments of a log (FORMAT.md section 1): the union of DIR/*.jsonl and DIR/archive/*.jsonl,
ordered by segment number, each read and split into lines."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ref_grammar import _SEG_NAME
from ref_lines import _split


@dataclass
class _Segment:
    name: str
    number: int
    first_seq: int
    lines: list


def _read_segments(d: str, err) -> list:
    """The log's segments in number order; a misnamed or repeated segment file is reported through
    err(rank, name, offset, seq, code, message, phase) and left out."""
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
    return segs
