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
from typing import Any, cast

__all__ = ["PositionIndex", "find_offset", "line_column"]

_WS = re.compile(r"[ \t\n\r]*")
_MEMBER = re.compile(r'"((?:[^"\\]|\\.)*)"[ \t\n\r]*:[ \t\n\r]*', re.DOTALL)
"""A member's quoted name, the colon and the whitespace up to its value."""
_COLON = re.compile(r"[ \t\n\r]*:[ \t\n\r]*")
"""The colon after a member's name, with the whitespace around it."""
_NEXT = re.compile(r"[ \t\n\r]*(?:,[ \t\n\r]*)?")
"""The whitespace after a value, and a comma with the whitespace after it."""
_NEWLINE = re.compile("\n")
_scan_value: Callable[[str, int], tuple[Any, int]] = make_scanner(json.JSONDecoder())  # type: ignore[arg-type]
"""The C scanner behind `json.loads`: (value, end offset) of the JSON value at an offset."""

_AMBIGUOUS = (-1, -1)


def _skip(text: str, i: int) -> int:
    """The offset of the first character at or after `i` that is not JSON whitespace."""
    m = _WS.match(text, i)
    return i if m is None else m.end()


def _unescape(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~") if "~" in part else part


class _Container:
    """The children of one object (name -> (name offset, value offset)) or array (value
    offsets) found so far, and the offset to resume scanning from (-1: all found). With
    `pending`, `resume` is where the last child found starts: its value is skipped only when
    a later child is asked for (skipping a value decodes it, and the child asked for is often
    the last one needed, such as a whole statement's array)."""

    __slots__ = ("children", "pending", "resume")

    def __init__(self, children: dict[str, tuple[int, int]] | list[int], resume: int) -> None:
        self.children = children
        self.resume = resume
        self.pending = False


_BROKEN = _Container([], -1)
"""A scalar, or text that does not parse as a container there."""


class PositionIndex:
    """Offsets of the nodes of one JSON text, indexed container by container on demand.

    With `unique` (the caller knows that no object repeats a member name), a container is
    scanned only as far as the child asked for, and the scan resumes there for a later child:
    a finding in the first statement does not pay for scanning the others. Otherwise each
    container is scanned whole, so that a repeated name is known to be ambiguous.
    """

    __slots__ = ("_containers", "_lookups", "_newlines", "_text", "_unique")

    def __init__(self, text: str, *, unique: bool = False) -> None:
        self._text = text
        self._unique = unique
        self._containers: dict[str, _Container] = {}
        self._newlines: list[int] | None = None
        self._lookups = 0

    def offset(self, pointer: str, key: bool = False) -> int | None:
        """The character offset where the node at `pointer` starts (its member name when
        `key`), or None when the node does not exist or a repeated name makes it ambiguous."""
        text = self._text
        containers = self._containers
        cut = pointer.rfind("/")
        parent = containers.get(pointer[:cut]) if cut >= 0 else None
        if parent is not None:
            # The parent is indexed already (a sibling was asked for): start there.
            raw = pointer[cut + 1 :]
            items = parent.children
            if type(items) is list and raw.isdigit() and (raw == "0" or raw[0] != "0"):
                position = int(raw)
                if position < len(items):
                    return items[position]  # an item already found
            parts = [raw]
            current = pointer[:cut]
            i = -1  # where the parent starts: not needed, its container exists
        else:
            i = _skip(text, 0)
            if not pointer:
                return i if i < len(text) else None
            parts = pointer.split("/")[1:]
            current = ""
        last = len(parts) - 1
        for depth, raw in enumerate(parts):
            node = containers.get(current)
            if node is None:
                node = containers[current] = self._open(i)
            children = node.children
            if type(children) is dict:
                name = _unescape(raw)
                found = children.get(name)
                if found is None and node.resume >= 0:
                    found = self._scan_members(node, name)
                if found is None or found is _AMBIGUOUS:
                    return None
                if depth == last and key:
                    return found[0]
                i = found[1]
            else:
                if node is _BROKEN or not raw.isdigit() or (raw != "0" and raw.startswith("0")):
                    return None
                position = int(raw)
                if position >= len(children) and node.resume >= 0:
                    self._scan_items(node, position)
                    children = node.children
                items = cast("list[int]", children)
                if position >= len(items):
                    return None
                i = items[position]
            current = current + "/" + raw
        return i

    def _open(self, i: int) -> _Container:
        """The container starting at offset `i`, scanned whole unless names are unique."""
        text = self._text
        opener = text[i : i + 1]
        if opener == "{":
            node = _Container({}, _skip(text, i + 1))
            if not self._unique:
                self._scan_members(node, None)
            return node
        if opener == "[":
            node = _Container([], _skip(text, i + 1))
            if not self._unique:
                self._scan_items(node, None)
            return node
        return _BROKEN

    def _resume(self, node: _Container) -> int:
        """Where a scan of `node` goes on: past the value it stopped at, when it stopped at one
        (ValueError or IndexError when the text does not parse there)."""
        i = node.resume
        if node.pending:
            node.pending = False
            i = _NEXT.match(self._text, _scan_value(self._text, i)[1]).end()  # type: ignore[union-attr]
        return i

    def _scan_members(self, node: _Container, wanted: str | None) -> tuple[int, int] | None:
        """Scan an object's members on from where the last scan stopped, up to `wanted` (every
        member for None); `wanted`'s (name offset, value offset), or None."""
        text = self._text
        members = node.children
        assert isinstance(members, dict)
        try:
            i = self._resume(node)
            while text[i] != "}":
                end = text.find('"', i + 1)
                name = text[i + 1 : end]
                colon = _COLON.match(text, end + 1) if text[i] == '"' and end > 0 else None
                if colon is not None and "\\" not in name:
                    value_at = colon.end()  # a plain name: no escape to decode
                else:
                    m = _MEMBER.match(text, i)
                    if m is None:
                        break
                    name = m.group(1)
                    if "\\" in name:
                        name = json.loads(f'"{name}"')
                    value_at = m.end()
                found = members[name] = _AMBIGUOUS if name in members else (i, value_at)
                if name == wanted:
                    node.resume, node.pending = value_at, True
                    return found
                i = _NEXT.match(text, _scan_value(text, value_at)[1]).end()  # type: ignore[union-attr]
            else:
                node.resume = -1
                return None
        except (IndexError, StopIteration, ValueError):
            pass
        node.children, node.resume = {}, -1  # does not parse here: no answers
        return None

    def _scan_items(self, node: _Container, wanted: int | None) -> None:
        """Scan an array's items on from where the last scan stopped, until item `wanted` is
        known (every item for None).

        A scan that reaches a later item goes on as far again as it has come: findings in a
        long list are asked for in order, and this makes one scan serve many of them while
        scanning at most twice the items they need. The first scan stops at the item asked for
        (skipping an item decodes it, and in a short list, such as a policy's statements, the
        items after the last one a finding names need not be decoded at all)."""
        text = self._text
        items = node.children
        assert isinstance(items, list)
        if wanted is not None and wanted > 0:
            wanted = max(wanted, min(2 * len(items), wanted + 4096))
        try:
            i = self._resume(node)
            while text[i] != "]":
                items.append(i)
                if wanted is not None and len(items) > wanted:
                    node.resume, node.pending = i, True
                    return
                i = _NEXT.match(text, _scan_value(text, i)[1]).end()  # type: ignore[union-attr]
            node.resume = -1
            return
        except (IndexError, StopIteration, ValueError):
            pass
        node.children, node.resume = [], -1  # does not parse here: no answers

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
