"""Building and damaging the vector logs: the writer keys and sizes, the basic log written step
by step (with hooks that replace a step), the journal entries of a step, byte edits of a
segment, and the registry of the invalid cases being written."""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass

import kfm_wal_ref as ref
from vector_bodies import LOG_ID, StepClock, basic_steps

KEY_SEED = hashlib.sha256(b"kfm-wal test vector key").digest()
KEY2_SEED = hashlib.sha256(b"kfm-wal test vector key 2").digest()
UNTRUSTED_SEED = hashlib.sha256(b"kfm-wal test vector untrusted key").digest()
BASIC_MAX_SEGMENT_BYTES = 9600
SMALL_MAX_RECORD_BYTES = 4096  # only for the record-too-large case


def new_writer(d, seed=KEY_SEED, log_id=LOG_ID, max_record_bytes=ref.DEFAULT_MAX_RECORD_BYTES, format_name=ref.FORMAT):
    return ref.RefWriter(
        d,
        seed,
        log_id,
        StepClock(),
        max_segment_bytes=BASIC_MAX_SEGMENT_BYTES,
        max_record_bytes=max_record_bytes,
        journal=True,
        format_name=format_name,
    )


def build_basic(d, hooks=None, **writer_args):
    """Write the basic log; hooks[step](writer, kind, bodies) replaces a step. Returns (journal, spans)."""
    w = new_writer(d, **writer_args)
    spans = []  # per step: the journal entries it produced
    for n, (kind, bodies) in enumerate(basic_steps()):
        start = len(w.journal)
        if hooks and n in hooks:
            hooks[n](w, kind, bodies)
        else:
            w.append_many(bodies, kind)
        spans.append(w.journal[start:])
    w.close()
    return w.journal, spans


def records_of(spans, step):
    """Journal entries of a step's own records (not its seal, not a rotation before it)."""
    return spans[step][_commit_start(spans[step]) : -1]


def _commit_start(entries):
    for i in range(len(entries) - 2, -1, -1):
        if entries[i]["kind"] == "seal":
            return i + 1
    return 0


def seg_path(log, name):
    for sub in (log, os.path.join(log, "archive")):
        if os.path.exists(os.path.join(sub, name)):
            return os.path.join(sub, name)
    raise FileNotFoundError(name)


def copy_log(src, dst):
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("expected.json"))


def edit(path, fn):
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(fn(data))


def replace_in_line(log, entry, old: bytes, new: bytes):
    """Replace the first `old` inside the line of `entry` by `new` (same length keeps offsets)."""

    def fn(data):
        a, b = entry["offset"], entry["offset"] + entry["length"]
        line = data[a:b]
        assert old in line, (old, line)
        return data[:a] + line.replace(old, new, 1) + data[b:]

    edit(seg_path(log, entry["segment"]), fn)


def rotate_after(w, kind, bodies, seed=KEY2_SEED, revoke_old=True):
    """A build_basic hook: the step's commit, then a key rotation (by default to key2, revoking key1)."""
    w.append_many(bodies, kind)
    w.rotate_key(seed, revoke_old=revoke_old)


@dataclass(frozen=True)
class BasicLog:
    """valid/basic as written: its directory, journal, per-step journal spans, segment names in
    order and journal entries by seq."""

    dir: str
    journal: list
    spans: list
    segments: list
    by_seq: dict


class InvalidCases:
    """The invalid cases written so far (name -> directory under invalid/)."""

    def __init__(self, invalid: str, basic: BasicLog):
        self.invalid, self.basic, self.made = invalid, basic, {}

    def case(self, name):
        d = os.path.join(self.invalid, name)
        self.made[name] = d
        return d

    def from_basic(self, name):
        """A case made by editing a copy of valid/basic."""
        d = self.case(name)
        copy_log(self.basic.dir, d)
        return d

    def built(self, name, hooks, **kw):
        """A case written by the writer with some steps replaced: (directory, (journal, spans))."""
        d = self.case(name)
        return d, build_basic(d, hooks=hooks, **kw)
