"""Plain-text output for the base commands (spec, ram): styles, escapes and simple tables.

The base install has no `rich` (it would add four distributions to what a policy reviewer
installs), so these commands colour with ANSI codes themselves, on a terminal only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TextIO

from acscontract._text import printable

__all__ = ["Out", "printable"]

BOLD, DIM, RED, GREEN, YELLOW = "1", "2", "1;31", "1;32", "1;33"


class Out:
    """Standard output with optional colour (a terminal, unless NO_COLOR; FORCE_COLOR forces)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        isatty = getattr(self.stream, "isatty", None)
        self.color = not os.environ.get("NO_COLOR") and (
            bool(os.environ.get("FORCE_COLOR")) or bool(isatty and isatty())
        )
        try:
            columns = os.get_terminal_size(self.stream.fileno()).columns
        except (OSError, ValueError, AttributeError):
            columns = int(os.environ.get("COLUMNS", "0") or 0) or 100
        self.width = max(60, columns)

    def style(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color and text else text

    def line(self, text: str = "") -> None:
        self.stream.write(text + "\n")

    def table(self, title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        """A title, then aligned columns; the last column wraps to the terminal width."""
        import textwrap

        self.line(self.style(title, BOLD))
        cells = [[printable(c) for c in row] for row in rows]
        widths = [len(h) for h in headers]
        for row in cells:
            widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
        lead = sum(widths[:-1]) + 2 * (len(widths) - 1) + 2
        last = max(20, min(widths[-1], self.width - lead))
        head = "  ".join(h.ljust(w) for h, w in zip(headers[:-1], widths, strict=False))
        self.line("  " + self.style(f"{head}  {headers[-1]}".rstrip(), DIM))
        for row in cells:
            wrapped = textwrap.wrap(row[-1], last) or [""]
            first = "  ".join(c.ljust(w) for c, w in zip(row[:-1], widths, strict=False))
            self.line(f"  {first}  {wrapped[0]}".rstrip())
            for more in wrapped[1:]:
                self.line(" " * lead + more)
