"""Text that is safe to show: no terminal control sequences, nothing an encoding cannot write."""

from __future__ import annotations

import re

__all__ = ["printable", "shorten"]

_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def printable(text: str) -> str:
    """`text` safe for a terminal and for any output encoding: control characters (which could
    drive the terminal) and lone surrogates (which UTF-8 cannot encode) as backslash escapes."""
    if _UNPRINTABLE.search(text) is None:
        return text
    return _UNPRINTABLE.sub(_escape, text)


def shorten(text: str, limit: int = 80) -> str:
    """`text` cut to at most `limit` characters, ending in `...` when cut: for echoing what a
    user typed in a one-line error, whatever its length."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
