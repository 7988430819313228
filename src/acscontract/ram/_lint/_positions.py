"""Find where one node of a policy is written, without scanning the whole document.

A lint run needs positions only for the few nodes it reports. The parser's `SourceMap` tokenizes
the whole text the first time any position is asked for; this walks just the path of one JSON
Pointer, skipping sibling values with the C JSON scanner. It answers only when the answer is
unambiguous (no repeated member names, the node exists); otherwise the caller falls back to the
document's own positions, so both always agree (a property test checks it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from json.scanner import make_scanner
from typing import Any

__all__ = ["find_offset", "line_column"]

_WS = re.compile(r"[ \t\n\r]*")


def _skip(text: str, i: int) -> int:
    """The offset of the first character at or after `i` that is not JSON whitespace."""
    m = _WS.match(text, i)
    return i if m is None else m.end()


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_scan_value: Callable[[str, int], tuple[Any, int]] = make_scanner(json.JSONDecoder())  # type: ignore[arg-type]
"""The C scanner behind `json.loads`: (value, end offset) of the JSON value at an offset."""


def _unescape(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~") if "~" in part else part


def find_offset(text: str, pointer: str, key: bool) -> int | None:
    """The character offset where the node at `pointer` starts (its member name when `key`),
    or None when it cannot be told without a full scan."""
    ws = _skip
    i = ws(text, 0)
    parts = pointer.split("/")[1:] if pointer else []
    last = len(parts) - 1
    try:
        for depth, raw_part in enumerate(parts):
            part = _unescape(raw_part)
            opener = text[i]
            if opener == "{":
                i = ws(text, i + 1)
                while True:
                    if text[i] == "}":
                        return None
                    m = _STRING.match(text, i)
                    if m is None:
                        return None
                    quoted = m.group()
                    name = json.loads(quoted) if "\\" in quoted else quoted[1:-1]
                    name_at = i
                    i = ws(text, m.end()) + 1  # past the colon
                    i = ws(text, i)
                    if name == part:
                        if depth == last and key:
                            return name_at
                        break
                    i = ws(text, _scan_value(text, i)[1])
                    if text[i] == ",":
                        i = ws(text, i + 1)
            elif opener == "[":
                if not part.isdigit() or (part != "0" and part.startswith("0")):
                    return None
                i = ws(text, i + 1)
                for _ in range(int(part)):
                    if text[i] == "]":
                        return None
                    i = ws(text, _scan_value(text, i)[1])
                    if text[i] != ",":
                        return None
                    i = ws(text, i + 1)
                if text[i] == "]":
                    return None
            else:
                return None
    except (IndexError, StopIteration, ValueError):
        return None
    return i


def line_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of a character offset."""
    start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - start + 1
