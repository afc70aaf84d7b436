"""Strict RFC 8259 JSON (FORMAT.md section 2, "JSON rules"), parsed without recursion so that no
nesting depth makes the reference crash (a verifier imposes no nesting limit).

Objects come back as `Obj` (a dict that remembers which member names were repeated: uniqueness is
judged by the body rules, not here); an integer written with a minus sign comes back as `Signed`, so
that only plain digits read as a judged integer (`-0` is not the integer 0)."""

from __future__ import annotations

import re
from json.decoder import scanstring

_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_LITERALS = (("true", True), ("false", False), ("null", None))


class Obj(dict):
    """A JSON object; `repeated` holds the member names written more than once."""

    def __init__(self):
        super().__init__()
        self.repeated = set()


class Signed(int):
    """An integer written with a minus sign: not plain digits, so never a judged integer."""


def _number(text: str):
    if "." in text or "e" in text or "E" in text:
        return float(text)  # 1e400 is inf: a judged number refuses it, a free one is not judged
    return Signed(text) if text.startswith("-") else int(text)


def loads(text: str):
    """The value `text` holds, or ValueError."""
    stack = []  # open containers: [container, pending member name or None]
    pos, n = _WS.match(text, 0).end(), len(text)
    result, done = None, False
    while True:
        if pos >= n:
            raise ValueError("unexpected end of JSON")
        c = text[pos]
        if c == "{" or c == "[":
            container = Obj() if c == "{" else []
            pos = _WS.match(text, pos + 1).end()
            close = "}" if c == "{" else "]"
            if pos < n and text[pos] == close:
                pos += 1
                value = container
            else:
                stack.append([container, None])
                if c == "{":
                    pos = _member_name(text, pos, stack[-1])
                continue
        elif c == '"':
            value, pos = scanstring(text, pos + 1, True)
        else:
            m = _NUMBER.match(text, pos)
            if m is not None:
                value, pos = _number(m.group()), m.end()
            else:
                for word, literal in _LITERALS:
                    if text.startswith(word, pos):
                        value, pos = literal, pos + len(word)
                        break
                else:
                    raise ValueError(f"unexpected character at {pos}")
        # a complete value: put it in its container, then close every container that ends here
        while True:
            pos = _WS.match(text, pos).end()
            if not stack:
                result, done = value, True
                break
            top = stack[-1]
            if isinstance(top[0], dict):
                if top[1] in top[0]:
                    top[0].repeated.add(top[1])
                top[0][top[1]] = value
            else:
                top[0].append(value)
            close = "}" if isinstance(top[0], dict) else "]"
            if pos < n and text[pos] == ",":
                pos = _WS.match(text, pos + 1).end()
                if isinstance(top[0], dict):
                    pos = _member_name(text, pos, top)
                break
            if pos < n and text[pos] == close:
                stack.pop()
                value, pos = top[0], pos + 1
                continue
            raise ValueError(f"expected ',' or {close!r} at {pos}")
        if done:
            if pos != n:
                raise ValueError(f"extra data at {pos}")
            return result


def _member_name(text: str, pos: int, top: list) -> int:
    if pos >= len(text) or text[pos] != '"':
        raise ValueError(f"expected a member name at {pos}")
    top[1], pos = scanstring(text, pos + 1, True)
    pos = _WS.match(text, pos).end()
    if pos >= len(text) or text[pos] != ":":
        raise ValueError(f"expected ':' at {pos}")
    return _WS.match(text, pos + 1).end()
