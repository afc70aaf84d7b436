"""Compressed archived segments (FORMAT.md section 1): a `wal-….jsonl.zst` file in archive/ holds one
or more zstd frames, concatenated, whose decompressed bytes are the segment. Decoded here with the
`zstandard` package, independently of the core's `zstd` crate."""

from __future__ import annotations

import zstandard

SUFFIX = ".zst"


def _decode_all(raw: bytes) -> bytes:
    """Every frame of `raw`, decompressed; raises ZstdError on corrupt data, EOFError when a frame
    is cut short or there is no frame at all."""
    if not raw:
        raise EOFError("the file is empty (no zstd frame)")
    out, rest = [], raw
    while rest:
        d = zstandard.ZstdDecompressor().decompressobj()
        out.append(d.decompress(rest))
        if not d.eof:
            raise EOFError("the zstd frame is truncated")
        rest = d.unused_data
    return b"".join(out)


def _readable_prefix(raw: bytes) -> bytes:
    """What decodes before the damage: fed a byte at a time, so that the output of every block
    decoded before the failing call is kept (zstd emits whole blocks)."""
    out, d = [], zstandard.ZstdDecompressor().decompressobj()
    for i in range(len(raw)):
        try:
            out.append(d.decompress(raw[i : i + 1]))
        except zstandard.ZstdError:
            break
        if d.eof:
            d = zstandard.ZstdDecompressor().decompressobj()
            if d.unused_data:
                break
    return b"".join(out)


def decode(raw: bytes) -> tuple[bytes, str | None]:
    """(the segment's bytes, why decoding stopped before the end or None). On damage, the bytes
    are the readable prefix: the uncompressed offset where readable data ends is its length."""
    try:
        return _decode_all(raw), None
    except (zstandard.ZstdError, EOFError) as e:
        return _readable_prefix(raw), str(e)
