"""Entries for `kfm-wal append`: one JSON object, a JSON array of objects, or JSONL.

The whole input is parsed before the log is opened, so bad input writes nothing. Every entry keeps
the line it starts on, so that an error found later (by the schema or the log) can point at it.
Parsing is strict RFC 8259: NaN/Infinity and repeated member names are refused, not guessed at."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_WS = " \t\r\n"
# Strings are matched first so that a "NaN" inside a string value is never taken for the literal.
_NONFINITE = re.compile(r'"(?:[^"\\]|\\.)*"|(NaN|-?Infinity)')


class InputError(ValueError):
    """Input that is not acceptable JSON entries; `where` locates it for the user."""

    def __init__(self, what: str, where: str) -> None:
        super().__init__(f"{what} ({where})")
        self.what, self.where = what, where


class _DuplicateKey(ValueError):
    pass


@dataclass(frozen=True)
class Entries:
    source: str
    items: list[dict[str, Any]]
    lines: list[int]

    def where(self, index: int | None, field: str | None = None) -> str:
        """`source, line N, entry M[, field F]` with M counted from 1, as users count."""
        parts = [self.source]
        if index is not None and 0 <= index < len(self.lines):
            parts += [f"line {self.lines[index]}", f"entry {index + 1}"]
        if field:
            parts.append(f"field {field}")
        return ", ".join(parts)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _DuplicateKey(k)
        out[k] = v
    return out


# Python's decoder accepts NaN/Infinity; they are found afterwards, with their position, by _NONFINITE.
_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates)


class _Text:
    """The input text with offset -> (line, column) conversion, both counted from 1."""

    def __init__(self, text: str, source: str) -> None:
        self.text, self.source = text, source

    def line(self, pos: int) -> int:
        return self.text.count("\n", 0, pos) + 1

    def where(self, pos: int) -> str:
        column = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
        return f"{self.source}, line {self.line(pos)}, column {column}"

    def skip_ws(self, pos: int) -> int:
        while pos < len(self.text) and self.text[pos] in _WS:
            pos += 1
        return pos

    def value(self, start: int, end: int | None = None) -> tuple[Any, int]:
        """Decode the JSON value starting at `start` (not whitespace), looking no further than
        `end`. A bounded value is decoded from its own slice: slicing up to `end` instead would
        copy the whole prefix of the input for every JSONL line."""
        base = 0 if end is None else start
        doc = self.text if end is None else self.text[start:end]
        try:
            value, stop = _DECODER.raw_decode(doc, start - base)
        except json.JSONDecodeError as e:
            raise InputError(f"invalid JSON: {e.msg}", self.where(base + e.pos)) from None
        except _DuplicateKey as e:
            raise InputError(f"invalid JSON: member name {e.args[0]!r} repeated", self.where(start)) from None
        stop += base
        found = None
        if self.text.find("NaN", start, stop) != -1 or self.text.find("Infinity", start, stop) != -1:
            found = next((m for m in _NONFINITE.finditer(self.text, start, stop) if m.group(1)), None)
        if found:
            raise InputError(f"invalid JSON: {found.group(1)} is not a JSON value", self.where(found.start(1)))
        return value, stop


def parse(data: bytes, source: str) -> Entries:
    """Parse entries from `data`; `source` names the input in error messages."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise InputError("input is not UTF-8 text", f"{source}, line {line}") from None
    t = _Text(text.removeprefix("\ufeff"), source)
    start = t.skip_ws(0)
    if start == len(t.text):
        raise InputError("no entries in the input", source)
    if t.text[start] == "[":
        items, starts = _array(t, start)
    else:
        items, starts = _documents(t, start)
    lines = _line_numbers(t.text, starts)
    for item, line in zip(items, lines, strict=True):
        if not isinstance(item, dict):
            raise InputError(f"an entry must be a JSON object, got {_json_type(item)}", f"{source}, line {line}")
    if not items:
        raise InputError("no entries in the input", source)
    return Entries(source, items, lines)


def _array(t: _Text, start: int) -> tuple[list[Any], list[int]]:
    items: list[Any] = []
    starts: list[int] = []
    pos = t.skip_ws(start + 1)
    if t.text[pos : pos + 1] == "]":
        pos += 1
    else:
        while True:
            starts.append(pos)
            value, pos = t.value(pos)
            items.append(value)
            pos = t.skip_ws(pos)
            sep = t.text[pos : pos + 1]
            if sep == "]":
                pos += 1
                break
            if sep != ",":
                raise InputError("invalid JSON: expected ',' or ']' after an array element", t.where(pos))
            pos = t.skip_ws(pos + 1)
    end = t.skip_ws(pos)
    if end != len(t.text):
        raise InputError("invalid JSON: extra data after the array", t.where(end))
    return items, starts


def _documents(t: _Text, start: int) -> tuple[list[Any], list[int]]:
    """JSONL when the first line holds a complete value and more lines follow; otherwise a single
    (possibly pretty-printed) document, so its errors are reported where they really are."""
    first_end = t.text.find("\n", start)
    if first_end != -1 and t.skip_ws(first_end) < len(t.text) and _complete_line(t, start, first_end):
        return _jsonl(t, start)
    value, pos = t.value(start)
    end = t.skip_ws(pos)
    if end != len(t.text):
        raise InputError("invalid JSON: extra data after the first value", t.where(end))
    return [value], [start]


def _complete_line(t: _Text, start: int, end: int) -> bool:
    line = t.text[start:end]
    try:
        _, stop = _DECODER.raw_decode(line)
    except ValueError:
        return False
    return line[stop:].strip(_WS) == ""


def _line_numbers(text: str, starts: list[int]) -> list[int]:
    """Line of each (ascending) offset, counting newlines once over the whole input."""
    lines, line, last = [], 1, 0
    for s in starts:
        line += text.count("\n", last, s)
        last = s
        lines.append(line)
    return lines


def _jsonl(t: _Text, pos: int) -> tuple[list[Any], list[int]]:
    items: list[Any] = []
    starts: list[int] = []
    while pos < len(t.text):
        end = t.text.find("\n", pos)
        end = len(t.text) if end == -1 else end
        first = _skip_line_ws(t, pos, end)
        if first < end:
            value, stop = t.value(first, end)
            rest = _skip_line_ws(t, stop, end)
            if rest != end:
                raise InputError("invalid JSON: extra data after the value on this line", t.where(rest))
            items.append(value)
            starts.append(first)
        pos = end + 1
    return items, starts


def _skip_line_ws(t: _Text, pos: int, end: int) -> int:
    while pos < end and t.text[pos] in " \t\r":
        pos += 1
    return pos


def _json_type(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


__all__ = ["Entries", "InputError", "parse"]
