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


def _child(pointer: str, name: str) -> str:
    if "/" in name or "~" in name:
        return pointer + "/" + escape_pointer(name)
    return pointer + "/" + name


def _list_values(value: Value) -> tuple[Value, ...]:
    """The listed values of an element (a single value, or a list's items, each a `Value`)."""
    raw = value.value
    if type(raw) is list:
        base = value.pointer + "/"
        source = value.source
        return tuple([Value(item, base + str(i), source) for i, item in enumerate(raw)])
    return (value,)


def _pairs(obj: Mapping[str, Any]) -> Any:
    """The members of a parsed object, repeated names included (the parser keeps them in
    `pairs` when a name repeats)."""
    pairs = getattr(obj, "pairs", None)
    return pairs if pairs is not None else obj.items()


def condition_tests(condition: object) -> list[tuple[str, str, Any]]:
    """The `operator: {key: values}` tests of a parsed Condition value as plain (operator, key,
    values) triples, in the order written (repeated names included); the values as parsed (a
    list, or a single value). What `Statement.conditions` holds, without building nodes."""
    if not isinstance(condition, dict):
        return []
    found: list[tuple[str, str, Any]] = []
    # A plain dict repeats no name (the parser keeps an object that does in a subclass, with
    # every member in `pairs`).
    for operator, block in condition.items() if type(condition) is dict else _pairs(condition):
        if type(block) is dict:
            for key, values in block.items():
                found.append((operator, key, values))
        elif isinstance(block, dict):
            for key, values in _pairs(block):
                found.append((operator, key, values))
    return found


def _clauses(value: Value) -> tuple[ConditionClause, ...]:
    clauses: list[ConditionClause] = []
    base = value.pointer
    source = value.source
    for operator, key, values in condition_tests(value.value):
        ptr = _child(_child(base, operator), key)
        clauses.append(
            ConditionClause(operator, key, _list_values(Value(values, ptr, source)), ptr, source)
        )
    return tuple(clauses)


_UNSET: Any = object()


class Statement:
    """One statement of a policy.

    The element properties hold what the statement says, taking the last member when a name
    repeats (duplicates are reported by the parser). `actions`, `not_actions`, `resources` and
    `not_resources` list the element's values (a single string is one value) or are None when the
    element is absent; a value of the wrong JSON type is kept as is, for the grammar checks.
    `raw` is the statement object as parsed; `members` lists every member as written.

    The element nodes are built from `raw` when first read: a linter reads the plain values of
    `raw` in its hot paths and asks for the nodes (and their positions) only for what it reports.
    Treat a statement as read-only.
    """

    __slots__ = (
        "_actions",
        "_condition",
        "_conditions",
        "_effect",
        "_not_actions",
        "_not_resources",
        "_occurrences",
        "_principal",
        "_resources",
        "_sid",
        "_tests",
        "index",
        "pointer",
        "raw",
        "source",
    )

    def __init__(
        self,
        index: int,
        pointer: str,
        raw: Mapping[str, Any],
        source: PositionSource | None = None,
    ) -> None:
        self.index = index
        self.pointer = pointer
        self.raw = raw
        self.source = source
        self._occurrences: dict[str, int] | None = _UNSET
        self._sid = self._effect = self._principal = self._condition = _UNSET
        self._actions = self._not_actions = self._resources = self._not_resources = _UNSET
        self._conditions: tuple[ConditionClause, ...] = _UNSET
        self._tests: list[tuple[str, str, Any]] = _UNSET

    def __repr__(self) -> str:
        return f"Statement(index={self.index!r}, pointer={self.pointer!r}, raw={self.raw!r})"

    def _identity(self) -> tuple[object, ...]:
        return (self.index, self.pointer, self.raw, getattr(self.raw, "pairs", None))

    def __eq__(self, other: object) -> bool:
        """Statements are equal when they say the same thing at the same place (as written,
        repeated members included), whatever text they were parsed from."""
        if not isinstance(other, Statement):
            return NotImplemented
        return self._identity() == other._identity()

    __hash__ = None  # type: ignore[assignment]

    def _element(self, name: str) -> Value | None:
        """The element called `name` (its last member when the name repeats), or None."""
        raw = self.raw
        if name not in raw:
            return None
        occurrences = self._occurrences
        if occurrences is _UNSET:
            occurrences = self._occurrences = last_occurrences(raw)
        occurrence = occurrences[name] if occurrences is not None else 0
        return Value(raw[name], self.pointer + "/" + name, self.source, occurrence)

    def _listed(self, name: str) -> tuple[Value, ...] | None:
        element = self._element(name)
        return _list_values(element) if element is not None else None

    def entry_location(self, name: str, index: int) -> Location:
        """Where entry `index` of the element `name` (a list, or one value: index 0) is written,
        without building the element's nodes."""
        where = self.entry_address(name, index)
        if isinstance(where, str):
            return Location(where, False, 0, self.source)
        return where

    def entry_address(self, name: str, index: int) -> Location | str:
        """`entry_location`, or just its JSON Pointer when the entry is an item of a list (an
        item is written once: its pointer alone locates it; a finding needs nothing more)."""
        if type(self.raw.get(name)) is list:
            return f"{self.pointer}/{name}/{index}"
        element = self._element(name)
        assert element is not None
        assert index == 0
        return element.location

    @property
    def sid(self) -> Value | None:
        found = self._sid
        if found is _UNSET:
            found = self._sid = self._element("Sid")
        return found  # type: ignore[no-any-return]

    @property
    def effect(self) -> Value | None:
        found = self._effect
        if found is _UNSET:
            found = self._effect = self._element("Effect")
        return found  # type: ignore[no-any-return]

    @property
    def principal(self) -> Value | None:
        found = self._principal
        if found is _UNSET:
            found = self._principal = self._element("Principal")
        return found  # type: ignore[no-any-return]

    @property
    def condition(self) -> Value | None:
        found = self._condition
        if found is _UNSET:
            found = self._condition = self._element("Condition")
        return found  # type: ignore[no-any-return]

    @property
    def actions(self) -> tuple[Value, ...] | None:
        found = self._actions
        if found is _UNSET:
            found = self._actions = self._listed("Action")
        return found  # type: ignore[no-any-return]

    @property
    def not_actions(self) -> tuple[Value, ...] | None:
        found = self._not_actions
        if found is _UNSET:
            found = self._not_actions = self._listed("NotAction")
        return found  # type: ignore[no-any-return]

    @property
    def resources(self) -> tuple[Value, ...] | None:
        found = self._resources
        if found is _UNSET:
            found = self._resources = self._listed("Resource")
        return found  # type: ignore[no-any-return]

    @property
    def not_resources(self) -> tuple[Value, ...] | None:
        found = self._not_resources
        if found is _UNSET:
            found = self._not_resources = self._listed("NotResource")
        return found  # type: ignore[no-any-return]

    @property
    def conditions(self) -> tuple[ConditionClause, ...]:
        """Each `operator: {key: values}` test of the Condition, in the order written."""
        found = self._conditions
        if found is _UNSET:
            condition = self.condition
            found = self._conditions = _clauses(condition) if condition is not None else ()
        return found

    def condition_tests(self) -> list[tuple[str, str, Any]]:
        """`condition_tests` of the Condition as parsed (none without one), worked out once for
        the grammar module and every check that reads them; do not change the list."""
        found = self._tests
        if found is _UNSET:
            raw = self.raw
            found = self._tests = condition_tests(raw["Condition"]) if "Condition" in raw else []
        return found

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
        sid = self.raw.get("Sid")
        return sid if type(sid) is str else None

    @property
    def effect_text(self) -> str | None:
        effect = self.raw.get("Effect")
        return effect if type(effect) is str else None

    def member(self, name: str) -> Member | None:
        """The last member called exactly `name`, or None."""
        found = None
        for m in self.members:
            if m.name == name:
                found = m
        return found


def last_occurrences(obj: Mapping[str, Any]) -> dict[str, int] | None:
    """For an object with repeated names: each name's last occurrence number (None: no name
    repeats, so every occurrence is 0)."""
    pairs = getattr(obj, "pairs", None)
    if pairs is None:
        return None
    counts: dict[str, int] = {}
    for name, _ in pairs:
        counts[name] = counts.get(name, -1) + 1
    return counts


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
