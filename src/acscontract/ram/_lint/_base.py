"""The linter's extension point: the `Check` protocol, the registry, and what a check is given.

A check is any object with an `id`, a default `severity`, a `description` and
`run(document, context)`. The context carries the catalog facts, the injectable "now", the
parser's and the grammar module's problems, and per-statement facts computed once per document
and shared by every check.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from acscontract.ram._document import Location, PolicyDocument, Statement, Value
from acscontract.ram._findings import Finding, Severity
from acscontract.ram._language import OPERATORS
from acscontract.ram._lint._facts import CatalogFacts
from acscontract.ram._wildcard import SearchBudget
from acscontract.spec import CatalogEntry

__all__ = [
    "Check",
    "CheckRegistry",
    "LintContext",
    "ProblemCheck",
    "RuleCheck",
    "StatementFacts",
    "rule",
]

_CHECK_ID = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")


@runtime_checkable
class Check(Protocol):
    """One lint check: a stable kebab-case id, a default severity, a one-line description."""

    @property
    def id(self) -> str: ...

    @property
    def severity(self) -> Severity: ...

    @property
    def description(self) -> str: ...

    def run(self, document: PolicyDocument, context: LintContext) -> Iterable[Finding]:
        """The findings of this check in `document` (positions resolved, file set)."""
        ...


RuleBody = Callable[["RuleCheck", PolicyDocument, "LintContext"], Iterable[Finding]]


NEEDS_STATEMENTS = 1
"""`RuleCheck.needs`: the document has two statements or more."""
NEEDS_CONDITION = 2
"""`RuleCheck.needs`: a statement has a Condition."""
NEEDS_ACTION_NAMES = 4
"""`RuleCheck.needs`: a statement has an action that is not `StatementFacts.actions_named`."""
NEEDS_ALLOW_ENTRIES = 8
"""`RuleCheck.needs`: an Allow statement covers a catalogued action."""
NEEDS_ENTRY_RESOURCES = 16
"""`RuleCheck.needs`: a statement covers a catalogued action and lists resources."""
NEEDS_LIST = 32
"""`RuleCheck.needs`: an Action, NotAction, Resource or NotResource list has two entries or
more."""
NEEDS_STAR = 64
"""`RuleCheck.needs`: an Allow statement lists the resource `*`."""
NEEDS_UNDECIDED = 128
"""`RuleCheck.needs`: a check has recorded a question it could not decide (see
`LintContext.undecided`)."""
NEEDS_OTHER_OPERATOR = 256
"""`RuleCheck.needs`: a Condition names an operator RAM does not have."""
NEEDS_IP_TEST = 512
"""`RuleCheck.needs`: a Condition has an IP-address operator."""
NEEDS_DATE_TEST = 1024
"""`RuleCheck.needs`: a Condition has a date operator."""
NEEDS_TESTS = 2048
"""`RuleCheck.needs`: a statement's Condition has two tests or more."""
NEEDS_SYNTAX_PROBLEM = 4096
"""`RuleCheck.needs`: a resource may have a syntax problem. Set for every document; the check
that first looks at every resource clears it when none has (see `LintContext.clear`)."""
NEEDS_ENTRY_PROBLEM = 8192
"""`RuleCheck.needs`: a list may repeat or cover an entry. Set when a list has two entries or
more; the check that first compares them clears it when none does."""

NEEDS_UNCONDITIONED = 16384
"""`RuleCheck.needs`: an Allow statement without a Condition covers a catalogued action."""
NEEDS_IMPLICIT = 32768
"""`RuleCheck.needs`: an Allow statement covers a catalogued action it does not name exactly."""
NEEDS_RESOURCE_MISS = 65536
"""`RuleCheck.needs`: a resource may fit none of its statement's catalogued actions. Set with
`NEEDS_ENTRY_RESOURCES`; the check that first looks clears it when none does."""

_IP_OPERATORS = frozenset(name for name, spec in OPERATORS.items() if spec.type == "ip")
_DATE_OPERATORS = frozenset(name for name, spec in OPERATORS.items() if spec.type == "date")
_OPERATOR_NAMES = frozenset(OPERATORS)


@dataclass(frozen=True, slots=True)
class RuleCheck:
    """A check written as a function; `body(check, document, context)` yields its findings.

    `needs`: `NEEDS_*` flags of which the document must have at least one for the check to find
    anything (0: always run). The linter skips the check, as a shortcut, for a document with
    none of them (`LintContext.features`); a check must find nothing in such a document.
    """

    id: str
    severity: Severity
    description: str
    body: RuleBody
    needs: int = 0

    def run(self, document: PolicyDocument, context: LintContext) -> Iterable[Finding]:
        return self.body(self, document, context)


def rule(
    id: str, severity: Severity, description: str, *, needs: int = 0
) -> Callable[[RuleBody], RuleCheck]:
    """Decorator: make a `RuleCheck` of a function (see `RuleCheck.needs`)."""

    def wrap(body: RuleBody) -> RuleCheck:
        return RuleCheck(id, severity, description, body, needs)

    return wrap


@dataclass(frozen=True, slots=True)
class ProblemCheck:
    """A problem found by the parser or the grammar module, surfaced under its own check id.

    `refine` may drop problems that a more specific lint check reports instead.
    """

    id: str
    severity: Severity
    description: str
    refine: Callable[[Finding], bool] | None = None

    def run(self, document: PolicyDocument, context: LintContext) -> Iterable[Finding]:
        found = context.problems_for(self.id)
        if self.refine is not None:
            return [f for f in found if self.refine(f)]
        return found


class CheckRegistry:
    """An ordered set of checks with unique ids. Create one, or use `default_registry()`."""

    __slots__ = ("_checks",)

    def __init__(self, checks: Iterable[Check] = ()) -> None:
        self._checks: dict[str, Check] = {}
        for check in checks:
            self.register(check)

    def register(self, check: Check) -> Check:
        """Add `check`; ValueError if its id is not kebab-case or is already registered."""
        if _CHECK_ID.fullmatch(check.id) is None:
            raise ValueError(f"Check id {check.id!r} is not kebab-case (a-z, 0-9 and '-').")
        if check.id in self._checks:
            raise ValueError(f"Check id {check.id!r} is registered twice; ids must be unique.")
        self._checks[check.id] = check
        return check

    def get(self, check_id: str) -> Check | None:
        return self._checks.get(check_id)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._checks)

    def __iter__(self) -> Iterator[Check]:
        return iter(self._checks.values())

    def __len__(self) -> int:
        return len(self._checks)

    def __contains__(self, check_id: object) -> bool:
        return check_id in self._checks


class StatementFacts:
    """What several checks need to know about one statement, computed once.

    - `action_texts`: the string values of Action, or of NotAction when `negated`
    - `actions`: the same values as document nodes (built when first read, for findings)
    - `entries`: the catalogued actions the statement covers (for NotAction: those it does not
      leave out)
    - `explicit`: the catalogued actions named exactly, without a wildcard, in Action
    - `only_catalogued`: Action lists nothing but catalogued actions, so a resource that fits none
      of their ARN templates is dead weight
    - `resource_texts`: the string values of Resource, or None (NotResource, or no Resource)
    - `resources`: the same values as document nodes, or None
    """

    __slots__ = (
        "_action_base",
        "_actions",
        "_resources",
        "_where",
        "action_texts",
        "actions_named",
        "allow",
        "deny",
        "entries",
        "explicit",
        "features",
        "memo",
        "negated",
        "only_catalogued",
        "resource_texts",
        "statement",
    )

    def __init__(self, statement: Statement, facts: CatalogFacts) -> None:
        self.statement = statement
        self._where: str | None = None
        self._actions: tuple[Value, ...] | None = None
        self._resources: tuple[Value, ...] | None = None
        self._action_base: str | None = None  # see `action_at`
        self.memo: dict[str, Any] = {}
        """Results that several checks share, computed by the first that needs them."""
        raw = statement.raw
        effect = raw.get("Effect")
        self.allow = effect == "Allow"
        self.deny = effect == "Deny"
        negated = self.negated = "Action" not in raw and "NotAction" in raw
        actions = self.action_texts = string_entries(raw, "NotAction" if negated else "Action")
        self.resource_texts = string_entries(raw, "Resource") if "Resource" in raw else None
        known = facts.known_patterns
        entries: dict[str, CatalogEntry] = {}
        explicit: set[str] = set()
        only = bool(actions) and not negated
        named = True
        for text in actions:
            info = known.get(text) or facts.action_pattern(text)
            if not info.named:
                named = False
            if info.entries:
                for entry in info.entries:
                    entries[entry.action] = entry
                    if not info.wildcard:
                        explicit.add(entry.action)
            if only and not info.only_catalogued and not info.unknown:
                only = False  # an unknown action of a known product grants nothing
        if negated:  # NotAction covers every catalogued action it does not list
            entries = {e.action: e for e in facts.entries if e.action not in entries}
        self.entries: tuple[CatalogEntry, ...] = tuple(entries.values())
        self.explicit = frozenset(explicit)
        self.only_catalogued = only and bool(entries)
        self.actions_named = named
        """Every action names a known product's prefix (or is `*`) and no unknown action of it:
        the action-name checks have nothing to say about this statement."""
        features = 0 if named else NEEDS_ACTION_NAMES
        if "Condition" in raw:
            features |= NEEDS_CONDITION | _condition_features(raw["Condition"])
        resources = self.resource_texts
        if entries:
            if self.allow:
                features |= NEEDS_ALLOW_ENTRIES
                if "Condition" not in raw:
                    features |= NEEDS_UNCONDITIONED
                if not explicit.issuperset(entries):
                    features |= NEEDS_IMPLICIT
            if resources:
                features |= NEEDS_ENTRY_RESOURCES | NEEDS_RESOURCE_MISS
        if resources and self.allow and "*" in resources:
            features |= NEEDS_STAR
        if len(actions) > 1 or (resources is not None and len(resources) > 1) or _lists(raw):
            features |= NEEDS_LIST | NEEDS_ENTRY_PROBLEM
        self.features = features
        """The `NEEDS_*` flags this statement has (see `RuleCheck.needs`)."""

    @property
    def actions(self) -> tuple[Value, ...]:
        """The string values of Action (NotAction when `negated`) as nodes, in the order of
        `action_texts`."""
        found = self._actions
        if found is None:
            st = self.statement
            values = st.not_actions if self.negated else st.actions
            found = self._actions = _strings(values) if values else ()
        return found

    def action_at(self, k: int) -> Location | str:
        """Where `action_texts[k]` is written, for `LintContext.finding` (without building
        every action's node)."""
        base = self._action_base
        if base is None:
            element = "NotAction" if self.negated else "Action"
            listed = self.statement.raw.get(element)
            plain = type(listed) is list and len(listed) == len(self.action_texts)
            base = self._action_base = f"{self.statement.pointer}/{element}/" if plain else ""
        return base + str(k) if base else self.actions[k].location

    def resource_at(self, k: int) -> Location | str:
        """Where `resource_texts[k]` is written, for `LintContext.finding`."""
        listed = self.statement.raw.get("Resource")
        if type(listed) is list and len(listed) == len(self.resource_texts or ()):
            return self.statement.entry_address("Resource", k)
        return self.resources[k].location  # type: ignore[index]

    @property
    def resources(self) -> tuple[Value, ...] | None:
        """The string values of Resource as nodes (in the order of `resource_texts`), or
        None."""
        found = self._resources
        if found is None:
            values = self.statement.resources
            if values is None:
                return None
            found = self._resources = _strings(values)
        return found

    @property
    def where(self) -> str:
        """How messages name the statement: `statement 2`, or `statement 2 ('Sid')`."""
        found = self._where
        if found is None:
            sid = self.statement.sid_text
            found = self._where = f"statement {self.statement.index}" + (
                f" ({sid!r})" if sid else ""
            )
        return found

    @property
    def effect(self) -> str | None:
        return self.statement.effect_text


_ONLY_STR = {str}
_ONLY_DICT = frozenset((dict,))


def _condition_features(condition: object) -> int:
    """The `NEEDS_*` flags of a Condition's operators and tests (all of them for one whose
    operators or keys repeat: it is not worth telling apart)."""
    if type(condition) is not dict:
        if not isinstance(condition, dict):
            return 0
        return NEEDS_OTHER_OPERATOR | NEEDS_IP_TEST | NEEDS_DATE_TEST | NEEDS_TESTS
    blocks = list(condition.values())
    if _ONLY_DICT.issuperset(map(type, blocks)):  # the usual case, tested in C
        tests = sum(map(len, blocks))
    elif any(type(b) is not dict and isinstance(b, dict) for b in blocks):
        return NEEDS_OTHER_OPERATOR | NEEDS_IP_TEST | NEEDS_DATE_TEST | NEEDS_TESTS
    else:
        tests = sum(len(b) for b in blocks if type(b) is dict)
    features = 0 if _OPERATOR_NAMES.issuperset(condition) else NEEDS_OTHER_OPERATOR
    if not _IP_OPERATORS.isdisjoint(condition):
        features |= NEEDS_IP_TEST
    if not _DATE_OPERATORS.isdisjoint(condition):
        features |= NEEDS_DATE_TEST
    if tests > 1:
        features |= NEEDS_TESTS
    return features


def _lists(raw: Mapping[str, Any]) -> bool:
    """Whether an element lists two values or more (strings or not; `NEEDS_LIST`)."""
    for name in ("Action", "NotAction", "Resource", "NotResource"):
        value = raw.get(name)
        if type(value) is list and len(value) > 1:
            return True
    return False


def string_entries(raw: Mapping[str, Any], name: str) -> tuple[str, ...]:
    """The strings an element lists: the element itself when it is one, the string items of a
    list, else none (read from the parsed statement, without building its nodes)."""
    value = raw.get(name)
    if type(value) is str:
        return (value,)
    if type(value) is list:
        if set(map(type, value)) <= _ONLY_STR:  # tested in C: every clean policy
            return tuple(value)
        return tuple([v for v in value if type(v) is str])
    return ()


def _strings(values: tuple[Value, ...]) -> tuple[Value, ...]:
    """The values that are strings (all of them, in a policy that passes the grammar)."""
    for v in values:
        if type(v.value) is not str:
            return tuple(v for v in values if type(v.value) is str)
    return values


class LintContext:
    """What a check gets besides the document: facts, time, earlier problems, statement facts,
    and the document's search budget.

    One context serves one document; it is cheap to create.
    """

    __slots__ = (
        "_by_check",
        "_undecided",
        "budget",
        "document",
        "facts",
        "features",
        "memo",
        "now",
        "problems",
        "statements",
    )

    def __init__(
        self,
        document: PolicyDocument,
        facts: CatalogFacts,
        now: datetime,
        problems: tuple[Finding, ...] = (),
    ) -> None:
        self.document = document
        self.facts = facts
        self.now = now
        self.problems = problems
        self.memo: dict[str, Any] = {}
        """Results that several checks share, computed by the first that needs them."""
        self.statements: tuple[StatementFacts, ...] = tuple(
            StatementFacts(st, facts) for st in document.statements
        )
        """Per-statement facts, in document order (every check needs them)."""
        features = NEEDS_SYNTAX_PROBLEM | (NEEDS_STATEMENTS if len(self.statements) > 1 else 0)
        for sf in self.statements:
            features |= sf.features
        self.features = features
        """The `NEEDS_*` flags the document has (see `RuleCheck.needs`)."""
        self.budget = SearchBudget(budget_for(len(document.source)))
        """Comparison steps the checks may spend on this document, shared by all of them; a
        check that runs out reports what it left undecided (`undecided`)."""
        self._by_check: dict[str, list[Finding]] | None = None
        self._undecided: list[tuple[Location, str]] = []

    def problems_for(self, check_id: str) -> list[Finding]:
        """The parser's and grammar module's problems with this check id."""
        by_check = self._by_check
        if by_check is None:
            by_check = self._by_check = {}
            for problem in self.problems:
                by_check.setdefault(problem.check, []).append(problem)
        return by_check.get(check_id, [])

    def clear(self, flags: int) -> None:
        """Clear `NEEDS_*` flags that a shared computation found the document does not have
        (the checks that need only them are then skipped)."""
        self.features &= ~flags

    def undecided(self, location: Location | str, question: str) -> None:
        """Record a question a check could not decide within the budget (`analysis-undecided`
        reports it); `location` as for `finding`."""
        if type(location) is str:
            location = Location(location, False, 0, self.document.positions)
        self._undecided.append((location, question))  # type: ignore[arg-type]
        self.features |= NEEDS_UNDECIDED

    @property
    def undecided_questions(self) -> tuple[tuple[Location, str], ...]:
        return tuple(self._undecided)

    def finding(
        self,
        check: Check,
        location: Location | str,
        message: str,
        hint: str,
        severity: Severity | None = None,
    ) -> Finding:
        """A finding of `check` at `location` (its line and column are resolved now): a
        `Location`, or the JSON Pointer of a node written once in the document (an item of a
        list, say), which is quicker for a check that reports thousands of them."""
        if type(location) is str:
            pointer = location
            positions = self.document.positions
            line, column = positions.position(pointer, 0, False) if positions else (1, 1)
        else:
            line, column = location.position  # type: ignore[union-attr]
            pointer = location.pointer  # type: ignore[union-attr]
        return Finding(
            check.id,
            severity or check.severity,
            self.document.name,
            line,
            column,
            pointer,
            message,
            hint,
        )


BASE_BUDGET = 50_000
"""Comparison steps any document may take (about a tenth of a second)."""


def budget_for(characters: int) -> int:
    """The search budget of a document of this many characters: `BASE_BUDGET`, and one step
    per ten characters beyond, so linting time stays linear in the size of the input."""
    return max(BASE_BUDGET, characters // 10)
