"""Find where the nodes of a policy are written, without tokenizing the whole document in Python.

A lint run needs positions only for the nodes it reports. `PositionIndex` walks the path of a
JSON Pointer and, for each container on the way, records where each of its children starts, once
(the C JSON scanner skips the children's values). Later lookups under the same container are
dictionary reads, so a document with thousands of findings costs one pass over the containers
involved, not one pass per finding. It answers only when the answer is unambiguous (no repeated
member names, the node exists); otherwise the caller falls back to the parser's full scan, so both
always agree (a property test checks it).
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Callable
from json.scanner import make_scanner
from typing import Any

__all__ = ["PositionIndex", "find_offset", "line_column"]

_WS = re.compile(r"[ \t\n\r]*")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NEWLINE = re.compile("\n")
_scan_value: Callable[[str, int], tuple[Any, int]] = make_scanner(json.JSONDecoder())  # type: ignore[arg-type]
"""The C scanner behind `json.loads`: (value, end offset) of the JSON value at an offset."""

_AMBIGUOUS = (-1, -1)
_Children = dict[str, tuple[int, int]] | list[int]


def _skip(text: str, i: int) -> int:
    """The offset of the first character at or after `i` that is not JSON whitespace."""
    m = _WS.match(text, i)
    return i if m is None else m.end()


def _unescape(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~") if "~" in part else part


class PositionIndex:
    """Offsets of the nodes of one JSON text, indexed container by container on demand."""

    __slots__ = ("_containers", "_lookups", "_newlines", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._containers: dict[str, _Children | None] = {}
        self._newlines: list[int] | None = None
        self._lookups = 0

    def offset(self, pointer: str, key: bool = False) -> int | None:
        """The character offset where the node at `pointer` starts (its member name when
        `key`), or None when the node does not exist or a repeated name makes it ambiguous."""
        text = self._text
        i = _skip(text, 0)
        if not pointer:
            return i if i < len(text) else None
        parts = pointer.split("/")[1:]
        last = len(parts) - 1
        current = ""
        containers = self._containers
        for depth, raw in enumerate(parts):
            if current in containers:
                children = containers[current]
            else:
                children = containers[current] = self._index(i)
            if children is None:
                return None
            if isinstance(children, dict):
                found = children.get(_unescape(raw))
                if found is None or found is _AMBIGUOUS:
                    return None
                if depth == last and key:
                    return found[0]
                i = found[1]
            else:
                if not raw.isdigit() or (raw != "0" and raw.startswith("0")):
                    return None
                position = int(raw)
                if position >= len(children):
                    return None
                i = children[position]
            current = current + "/" + raw
        return i

    def _index(self, i: int) -> _Children | None:
        """Where each child of the container at offset `i` starts; None for a scalar or text
        that does not parse there."""
        text = self._text
        try:
            opener = text[i]
            if opener == "{":
                members: dict[str, tuple[int, int]] = {}
                i = _skip(text, i + 1)
                while text[i] != "}":
                    m = _STRING.match(text, i)
                    if m is None:
                        return None
                    quoted = m.group()
                    name = json.loads(quoted) if "\\" in quoted else quoted[1:-1]
                    value_at = _skip(text, _skip(text, m.end()) + 1)  # past the colon
                    members[name] = _AMBIGUOUS if name in members else (i, value_at)
                    i = _skip(text, _scan_value(text, value_at)[1])
                    if text[i] == ",":
                        i = _skip(text, i + 1)
                return members
            if opener == "[":
                items: list[int] = []
                i = _skip(text, i + 1)
                while text[i] != "]":
                    items.append(i)
                    i = _skip(text, _scan_value(text, i)[1])
                    if text[i] == ",":
                        i = _skip(text, i + 1)
                return items
        except (IndexError, StopIteration, ValueError):
            return None
        return None

    def line_column(self, offset: int) -> tuple[int, int]:
        """1-based line and column (in characters) of a character offset."""
        self._lookups += 1
        if self._newlines is None and self._lookups <= 16:
            return line_column(self._text, offset)
        newlines = self._newlines
        if newlines is None:
            newlines = self._newlines = [m.start() for m in _NEWLINE.finditer(self._text)]
        line = bisect.bisect_left(newlines, offset)
        start = newlines[line - 1] + 1 if line else 0
        return (line + 1, offset - start + 1)


def find_offset(text: str, pointer: str, key: bool) -> int | None:
    """The character offset where the node at `pointer` starts (its member name when `key`),
    or None when it cannot be told without a full scan."""
    return PositionIndex(text).offset(pointer, key)


def line_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of a character offset."""
    start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - start + 1
