"""Findings: one problem found in one policy, with a stable check id and a severity.

The parser, the grammar checks and the linter all report through this one value type, so a
report (text, JSON or SARIF) never needs to know which stage found a problem.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["Finding", "Severity", "json_document"]


class Severity(enum.Enum):
    """How bad a finding is, in RAM's own four classes.

    Severities compare by badness: ``ERROR > SECURITY > WARNING > SUGGESTION``.
    """

    ERROR = "error"
    SECURITY = "security"
    WARNING = "warning"
    SUGGESTION = "suggestion"

    @property
    def rank(self) -> int:
        """3 for error down to 0 for suggestion."""
        return _RANK[self.value]

    @classmethod
    def parse(cls, text: str) -> Severity:
        """The severity named `text` (case-insensitive); ValueError for anything else."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            names = ", ".join(s.value for s in cls)
            raise ValueError(f"{text!r} is not a severity; use one of {names}.") from None

    def __str__(self) -> str:
        return self.value

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank >= other.rank


_RANK = {"error": 3, "security": 2, "warning": 1, "suggestion": 0}


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem in one policy document.

    `check` is a stable kebab-case id (each has a page under docs/checks/). `line` and `column` are
    1-based; `column` counts characters. `pointer` is a JSON Pointer (RFC 6901) to the offending
    element, "" for the whole document. `hint` says how to fix it.
    """

    check: str
    severity: Severity
    file: str
    line: int
    column: int
    pointer: str
    message: str
    hint: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON form of the finding."""
        return {
            "check": self.check,
            "severity": self.severity.value,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "pointer": self.pointer,
            "message": self.message,
            "hint": self.hint,
        }

    def describe(self) -> str:
        """One line for a human: `file:line:column: severity [check] message (pointer)`."""
        where = f" (at {self.pointer})" if self.pointer else ""
        return (
            f"{self.file}:{self.line}:{self.column}: {self.severity.value} [{self.check}] "
            f"{self.message}{where}"
        )

    def sort_key(self) -> tuple[str, int, int, int, str]:
        """Order by file, position, then worst severity first."""
        return (self.file, self.line, self.column, _NEG_RANK[self.severity], self.check)


_NEG_RANK = {s: -s.rank for s in Severity}

_SURROGATE = re.compile("[\ud800-\udfff]")


def json_document(data: Any) -> str:
    """`data` as indented JSON text with a final newline. Non-ASCII text stays readable; a lone
    surrogate (a policy can hold `"\\ud800"`, which is no character) is written as its `\\u`
    escape, so the text is valid JSON that any encoding, UTF-8 included, can write."""
    text = json.dumps(data, indent=2, ensure_ascii=False)
    if not text.isascii() and _SURROGATE.search(text) is not None:
        text = _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return text + "\n"
