"""The parsed form of a RAM policy document.

Every node keeps where it was written: a JSON Pointer (RFC 6901) and a 1-based line and column.
Positions are resolved lazily from the source text the first time any node of a document is asked
for one, so parsing a clean policy never pays for the position scan.

Values keep their original JSON type (a number or boolean stays a number or boolean), so checks
can flag values that should have been quoted.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from acscontract.ram._findings import Finding, Severity

__all__ = [
    "ConditionClause",
    "JsonType",
    "Location",
    "Member",
    "ParseResult",
    "PolicyDocument",
    "PolicyKind",
    "PositionSource",
    "Statement",
    "Value",
    "escape_pointer",
]

JsonType = Literal["string", "number", "boolean", "null", "array", "object"]


class PolicyKind(enum.Enum):
    """What a policy document is attached to, which decides whether `Principal` belongs in it."""

    IDENTITY = "identity"
    TRUST = "trust"
    RESOURCE = "resource"

    @classmethod
    def parse(cls, text: str | PolicyKind) -> PolicyKind:
        """The kind named `text`; ValueError naming the valid kinds otherwise."""
        if isinstance(text, PolicyKind):
            return text
        try:
            return cls(text.strip().lower())
        except ValueError:
            names = ", ".join(k.value for k in cls)
            raise ValueError(f"{text!r} is not a policy kind; use one of {names}.") from None

    def __str__(self) -> str:
        return self.value


class PositionSource(Protocol):
    """Resolves a node address to a 1-based (line, column)."""

    def position(self, pointer: str, occurrence: int, key: bool) -> tuple[int, int]:
        """Where the node at `pointer` starts (its key when `key`).

        `occurrence` tells apart members of one object that share a name (0 for the first).
        """
        ...


@dataclass(frozen=True, slots=True)
class _FixedPosition:
    line: int
    column: int

    def position(self, pointer: str, occurrence: int, key: bool) -> tuple[int, int]:
        return (self.line, self.column)


def escape_pointer(token: str) -> str:
    """Escape one reference token for a JSON Pointer (`~` → `~0`, `/` → `~1`)."""
    if "~" in token or "/" in token:
        return token.replace("~", "~0").replace("/", "~1")
    return token


@dataclass(frozen=True, slots=True)
class Location:
    """Where a node is: its JSON Pointer, and its line and column (1-based, in characters).

    For an object member, `key=True` addresses the member's name rather than its value.
    """

    pointer: str
    key: bool = False
    occurrence: int = 0
    source: PositionSource | None = field(default=None, compare=False, repr=False, hash=False)

    @classmethod
    def at(cls, line: int, column: int, pointer: str = "") -> Location:
        """A location with a fixed, known position (for problems found before any tree exists)."""
        return cls(pointer=pointer, source=_FixedPosition(line, column))

    @property
    def line(self) -> int:
        return self.position[0]

    @property
    def column(self) -> int:
        return self.position[1]

    @property
    def position(self) -> tuple[int, int]:
        """(line, column); (1, 1) when the location has no source text."""
        if self.source is None:
            return (1, 1)
        return self.source.position(self.pointer, self.occurrence, self.key)

    def __str__(self) -> str:
        line, column = self.position
        return f"line {line}, column {column} ({self.pointer or '/'})"


_TYPE_NAMES: dict[type, JsonType] = {
    str: "string",
    bool: "boolean",
    int: "number",
    float: "number",
    type(None): "null",
    list: "array",
    dict: "object",
}


def json_type(value: object) -> JsonType:
    """The JSON type name of a parsed JSON value."""
    name = _TYPE_NAMES.get(type(value))
    if name is not None:
        return name
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string"


@dataclass(slots=True)
class Value:
    """A JSON value as written: the plain parsed `value`, its JSON Pointer and its position.

    Document nodes (`Value`, `Member`, `ConditionClause`, `Statement`) are read-only by
    convention rather than frozen: the parser builds thousands of them per large policy, and a
    frozen dataclass takes five times as long to build.

    `occurrence` tells apart members of one object that share a name (0 for the first).
    """

    value: Any
    pointer: str
    source: PositionSource | None = field(default=None, compare=False, repr=False, hash=False)
    occurrence: int = 0

    @property
    def location(self) -> Location:
        return Location(self.pointer, False, self.occurrence, self.source)

    @property
    def json_type(self) -> JsonType:
        return json_type(self.value)

    @property
    def is_string(self) -> bool:
        return type(self.value) is str

    @property
    def text(self) -> str | None:
        """The value when it is a string, else None."""
        v = self.value
        return v if type(v) is str else None

    @property
    def line(self) -> int:
        return self.location.line

    @property
    def column(self) -> int:
        return self.location.column


@dataclass(slots=True)
class Member:
    """One `"name": value` member of an object, as written (duplicates are kept, in order)."""

    name: str
    value: Value

    @property
    def key(self) -> Location:
        """Where the member's name is written."""
        v = self.value
        return Location(v.pointer, True, v.occurrence, v.source)

    @property
    def pointer(self) -> str:
        return self.value.pointer

    @property
    def line(self) -> int:
        return self.key.line

    @property
    def column(self) -> int:
        return self.key.column


@dataclass(slots=True)
class ConditionClause:
    """One `operator: {key: values}` test of a statement's Condition.

    `values` are the listed values (a single string is one value), each with its original JSON
    type. `pointer` addresses the key's value; `key_location` is where the key's name is written
    and `operator_location` where the operator's name is.
    """

    operator: str
    key: str
    values: tuple[Value, ...]
    pointer: str
    source: PositionSource | None = field(default=None, compare=False, repr=False, hash=False)

    @property
    def location(self) -> Location:
        return Location(self.pointer, False, 0, self.source)

    @property
    def key_location(self) -> Location:
        return Location(self.pointer, True, 0, self.source)

    @property
    def operator_location(self) -> Location:
        return Location(self.pointer.rsplit("/", 1)[0], True, 0, self.source)

    @property
    def line(self) -> int:
        return self.key_location.line

    @property
    def column(self) -> int:
        return self.key_location.column


def _members(raw: object, pointer: str, source: PositionSource | None) -> tuple[Member, ...]:
    if not isinstance(raw, dict):
        return ()
    pairs = getattr(raw, "pairs", None)
    members: list[Member] = []
    counts: dict[str, int] = {}
    for name, value in pairs if pairs is not None else raw.items():
        occurrence = counts.get(name, 0)
        counts[name] = occurrence + 1
        members.append(
            Member(name, Value(value, pointer + "/" + escape_pointer(name), source, occurrence))
        )
    return tuple(members)


@dataclass(slots=True)
class Statement:
    """One statement of a policy.

    The element fields hold what the statement says, taking the last member when a name repeats
    (duplicates are reported by the parser). `actions`, `not_actions`, `resources` and
    `not_resources` list the element's values (a single string is one value) or are None when the
    element is absent; a value of the wrong JSON type is kept as is, for the grammar checks.
    `raw` is the statement object as parsed; `members` lists every member as written.
    """

    index: int
    pointer: str
    raw: Mapping[str, Any]
    sid: Value | None
    effect: Value | None
    actions: tuple[Value, ...] | None
    not_actions: tuple[Value, ...] | None
    resources: tuple[Value, ...] | None
    not_resources: tuple[Value, ...] | None
    principal: Value | None
    condition: Value | None
    conditions: tuple[ConditionClause, ...]
    source: PositionSource | None = field(default=None, compare=False, repr=False, hash=False)

    @property
    def location(self) -> Location:
        return Location(self.pointer, False, 0, self.source)

    @property
    def members(self) -> tuple[Member, ...]:
        """Every member of the statement object, in the order written (duplicates included)."""
        return _members(self.raw, self.pointer, self.source)

    @property
    def line(self) -> int:
        return self.location.line

    @property
    def column(self) -> int:
        return self.location.column

    @property
    def sid_text(self) -> str | None:
        return self.sid.text if self.sid is not None else None

    @property
    def effect_text(self) -> str | None:
        return self.effect.text if self.effect is not None else None

    def member(self, name: str) -> Member | None:
        """The last member called exactly `name`, or None."""
        found = None
        for m in self.members:
            if m.name == name:
                found = m
        return found


@dataclass(frozen=True, slots=True)
class PolicyDocument:
    """A parsed policy document.

    `name` is the file path (or a label such as `<stdin>`), used in findings and decisions.
    `statement_element` is the raw `Statement` value (a list, or whatever was written);
    `statements` are its object entries (a single object written without a list counts as one).
    `raw` is the top-level object as parsed.
    """

    name: str
    kind: PolicyKind
    source: str
    raw: Mapping[str, Any]
    version: Value | None
    statement_element: Value | None
    statements: tuple[Statement, ...]
    positions: PositionSource | None = field(default=None, compare=False, repr=False, hash=False)

    @property
    def location(self) -> Location:
        return Location("", False, 0, self.positions)

    @property
    def members(self) -> tuple[Member, ...]:
        """Every top-level member, in the order written (duplicates included)."""
        return _members(self.raw, "", self.positions)

    def member(self, name: str) -> Member | None:
        """The last top-level member called exactly `name`, or None."""
        found = None
        for m in self.members:
            if m.name == name:
                found = m
        return found

    def locate(self, pointer: str, *, key: bool = False, occurrence: int = 0) -> Location:
        """A location in this document's source for any JSON Pointer into it."""
        return Location(pointer, key, occurrence, self.positions)

    def __iter__(self) -> Iterator[Statement]:
        return iter(self.statements)


@dataclass(frozen=True, slots=True)
class ParseResult:
    """What parsing gave: a document (None when the text is not a JSON object) and problems."""

    document: PolicyDocument | None
    problems: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        """True when there is a document and no problem of severity error."""
        return self.document is not None and not any(
            p.severity is Severity.ERROR for p in self.problems
        )
