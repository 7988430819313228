"""Decide a request against identity policies: Allow, ExplicitDeny or ImplicitDeny.

RAM's rules: deny by default; a matching Allow allows; any matching Deny wins over every Allow.
A statement matches when its action part, its resource part and every condition match.

Where RAM's documentation leaves the behaviour open, the evaluator makes one documented choice
(docs/ram.md, "Semantic choices where the documentation is open") and every decision lists, in
`notes`, each choice that applied to it, prefixed by the choice's id:

- `absent-key`: a condition on a key the request does not carry does not match...
- `absent-key-negated`: ...except a negated operator (StringNotEquals, StringNotEqualsIgnoreCase,
  StringNotLike, NumericNotEquals, DateNotEquals, NotIpAddress), which matches.
- `unparsable-context-value`: a context value the operator cannot read as its type (a number,
  date, bool or IP address) makes the condition not match, negated or not.
- `context-key-case`: condition keys compare case-insensitively.
- `unknown-context-key`, `unknown-action`, `resource-outside-catalog`: the request names
  something the catalog does not know; it is evaluated as given.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from acscontract.errors import UsageError
from acscontract.ram._arn import template_pattern
from acscontract.ram._document import ConditionClause, ParseResult, PolicyDocument, Statement
from acscontract.ram._language import (
    OPERATORS,
    OperatorSpec,
    canonical_value,
    parse_bool,
    parse_date,
    parse_ip,
    parse_network,
    parse_number,
)
from acscontract.ram._load import require_valid
from acscontract.ram._wildcard import compile_union, fold
from acscontract.spec import ActionCatalog, action_catalog

__all__ = [
    "Decision",
    "DecisionEffect",
    "Evaluator",
    "StatementRef",
    "evaluate",
    "parse_context",
]


class DecisionEffect(enum.Enum):
    """The outcome of a request, named as RAM names it in `AccessDeniedDetail`."""

    ALLOW = "Allow"
    EXPLICIT_DENY = "ExplicitDeny"
    IMPLICIT_DENY = "ImplicitDeny"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class StatementRef:
    """Which statement of which policy: file, 0-based index, Sid, JSON Pointer and position."""

    file: str
    index: int
    sid: str | None
    pointer: str
    effect: str
    line: int
    column: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "index": self.index,
            "sid": self.sid,
            "pointer": self.pointer,
            "effect": self.effect,
            "line": self.line,
            "column": self.column,
        }

    def __str__(self) -> str:
        sid = f" ({self.sid})" if self.sid else ""
        return f"{self.file}:{self.line} statement {self.index}{sid} [{self.effect}]"


@dataclass(frozen=True, slots=True)
class Decision:
    """The decision for one request, the statements that decided it, and the notes.

    `statements` are every matching Deny for ExplicitDeny, every matching Allow for Allow, and
    empty for ImplicitDeny.
    """

    decision: DecisionEffect
    action: str
    resource: str
    context: Mapping[str, str] = field(hash=False)
    statements: tuple[StatementRef, ...]
    notes: tuple[str, ...]

    @property
    def allowed(self) -> bool:
        return self.decision is DecisionEffect.ALLOW

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON form (`acscontract ram simulate --format json`)."""
        return {
            "decision": self.decision.value,
            "statements": [s.to_dict() for s in self.statements],
            "action": self.action,
            "resource": self.resource,
            "context": dict(self.context),
            "notes": list(self.notes),
        }


# ---------------------------------------------------------------------------------------------
# Context


_Parsed = Any
_UNREADABLE = object()

_READERS: dict[str, Callable[[str], object | None]] = {
    "number": parse_number,
    "date": parse_date,
    "bool": lambda text: parse_bool(text, strict=False),
    "ip": parse_ip,
}

_TYPE_WORDS = {
    "number": "a number",
    "date": "an ISO-8601 date-time",
    "bool": '"true" or "false"',
    "ip": "an IP address",
}


class _Context:
    """A request context: values by lower-cased key, each read lazily as each type."""

    __slots__ = ("given", "typed", "values")

    def __init__(self, context: Mapping[str, str]) -> None:
        self.given = context
        values: dict[str, tuple[str, str]] = {}
        for key, value in context.items():
            low = key.lower()
            if low in values:
                raise UsageError(
                    f"The request context gives the condition key {key!r} twice (also as "
                    f"{values[low][0]!r}); condition keys compare case-insensitively, so give it "
                    "once."
                )
            values[low] = (key, value)
        self.values = values
        self.typed: dict[tuple[str, str], object] = {}

    def read(self, key_lower: str, type_: str) -> tuple[str, str, object] | None:
        """(given key, raw value, value read as `type_` or _UNREADABLE), None when absent."""
        entry = self.values.get(key_lower)
        if entry is None:
            return None
        if type_ == "string":
            return (entry[0], entry[1], entry[1])
        cache_key = (key_lower, type_)
        typed = self.typed.get(cache_key, None)
        if typed is None:
            typed = _READERS[type_](entry[1])
            if typed is None:
                typed = _UNREADABLE
            self.typed[cache_key] = typed
        return (entry[0], entry[1], typed)


def parse_context(pairs: Iterable[str]) -> dict[str, str]:
    """`KEY=VALUE` strings (as given on the command line) as a context mapping.

    Raises UsageError for a pair without `=`, an empty key, or a key given twice.
    """
    context: dict[str, str] = {}
    seen: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(
                f"The context value {pair!r} is not KEY=VALUE; write for example "
                "--context acs:SourceIp=203.0.113.7."
            )
        low = key.lower()
        if low in seen:
            raise UsageError(
                f"The context key {key!r} is given twice (also as {seen[low]!r}); condition keys "
                "compare case-insensitively, so give each key once."
            )
        seen[low] = key
        context[key] = value
    return context


# ---------------------------------------------------------------------------------------------
# Compiled policies


def _compare(test: str) -> Callable[[Any, Sequence[Any]], bool]:
    if test == "equals":
        return lambda v, values: any(v == x for x in values)
    if test == "less":
        return lambda v, values: any(v < x for x in values)
    if test == "less-equals":
        return lambda v, values: any(v <= x for x in values)
    if test == "greater":
        return lambda v, values: any(v > x for x in values)
    if test == "greater-equals":
        return lambda v, values: any(v >= x for x in values)
    raise AssertionError(test)  # pragma: no cover


def _in_networks(v: Any, networks: Sequence[Any]) -> bool:
    return any(v.version == n.version and v in n for n in networks)


class _Clause:
    """One compiled condition clause."""

    __slots__ = ("key", "key_lower", "label", "negated", "spec", "test", "type", "values")

    def __init__(self, clause: ConditionClause, where: str) -> None:
        spec = OPERATORS[clause.operator]
        self.spec: OperatorSpec = spec
        self.key = clause.key
        self.key_lower = clause.key.lower()
        self.type = spec.type
        self.negated = spec.negated
        self.label = f"{spec.name} on {clause.key} ({where})"
        texts = [t for t in (canonical_value(v.value) for v in clause.values) if t is not None]
        test: Callable[[Any], bool]
        if spec.type == "string":
            if spec.test == "equals":
                literal = frozenset(texts)
                test = literal.__contains__
            elif spec.test == "equals-ignore-case":
                folded = frozenset(fold(t) for t in texts)
                test = lambda v: fold(v) in folded  # noqa: E731
            else:
                test = compile_union(texts)
            self.values: tuple[Any, ...] = tuple(texts)
        elif spec.type == "ip":
            nets = tuple(n for n in map(parse_network, texts) if n is not None)
            self.values = nets
            test = lambda v: _in_networks(v, nets)  # noqa: E731
        else:
            readers: dict[str, Callable[[str], Any]] = {
                "number": parse_number,
                "date": parse_date,
                "bool": parse_bool,
            }
            reader = readers[spec.type]
            parsed = tuple(p for p in map(reader, texts) if p is not None)
            self.values = parsed
            compare = _compare(spec.test)
            test = lambda v: compare(v, parsed)  # noqa: E731
        self.test: Callable[[Any], bool] = test

    def check(self, ctx: _Context, notes: list[str] | None) -> bool:
        found = ctx.read(self.key_lower, self.type)
        if found is None:
            if notes is not None:
                if self.negated:
                    notes.append(
                        f"absent-key-negated: {self.label}: the request has no {self.key}, so "
                        "this negated operator matches."
                    )
                else:
                    notes.append(
                        f"absent-key: {self.label}: the request has no {self.key}, so the "
                        "condition does not match."
                    )
            return self.negated
        given_key, raw, value = found
        if value is _UNREADABLE:
            if notes is not None:
                notes.append(
                    f"unparsable-context-value: {self.label}: {given_key}={raw!r} is not "
                    f"{_TYPE_WORDS[self.type]}, so the condition does not match."
                )
            return False
        if notes is not None and given_key != self.key:
            notes.append(
                f"context-key-case: {self.label}: the request gives the key as {given_key!r}; "
                "condition keys compare case-insensitively."
            )
        result = bool(self.test(value))
        return not result if self.negated else result


class _Stmt:
    """One compiled statement."""

    __slots__ = (
        "action_match",
        "action_negated",
        "action_patterns",
        "clause_sources",
        "clauses",
        "deny",
        "ref",
        "resource_match",
        "resource_negated",
        "resource_patterns",
    )

    def __init__(self, doc: PolicyDocument, st: Statement) -> None:
        line, column = st.location.position
        effect = st.effect_text or ""
        self.ref = StatementRef(doc.name, st.index, st.sid_text, st.pointer, effect, line, column)
        self.deny = effect == "Deny"
        actions = st.actions if st.actions is not None else st.not_actions or ()
        self.action_negated = st.actions is None
        self.action_patterns: tuple[str, ...] = tuple(v.value for v in actions if v.is_string)
        self.action_match = compile_union(self.action_patterns, ignore_case=True)
        resources = st.resources if st.resources is not None else st.not_resources
        if resources is None:  # a trust policy statement: it covers every resource
            self.resource_negated = True
            self.resource_patterns: tuple[str, ...] = ()
        else:
            self.resource_negated = st.resources is None
            self.resource_patterns = tuple(v.value for v in resources if v.is_string)
        self.resource_match = compile_union(self.resource_patterns)
        where = f"{doc.name} statement {st.index}"
        self.clause_sources = st.conditions
        self.clauses = tuple(_Clause(c, where) for c in st.conditions)

    def covers_action(self, action: str) -> bool:
        return self.action_match(action) != self.action_negated

    def covers_resource(self, resource: str) -> bool:
        return self.resource_match(resource) != self.resource_negated


def _documents_of(policies: Iterable[PolicyDocument | ParseResult]) -> list[PolicyDocument]:
    return [
        require_valid(p if isinstance(p, ParseResult) else ParseResult(p, ())) for p in policies
    ]


class Evaluator:
    """Policies compiled once, to decide many requests quickly.

    Build it from parsed documents (or parse results); it refuses, with InputError, any document
    that has grammar errors, because RAM would not accept it. `catalog` supplies condition key
    types and the actions and resource types it knows (default: the bundled spec's catalog).
    """

    __slots__ = ("_by_action", "_catalog", "_known_actions", "_statements", "documents")

    def __init__(
        self,
        policies: Iterable[PolicyDocument | ParseResult],
        *,
        catalog: ActionCatalog | None = None,
    ) -> None:
        self.documents: tuple[PolicyDocument, ...] = tuple(_documents_of(policies))
        self._catalog = catalog if catalog is not None else action_catalog()
        self._statements = tuple(_Stmt(d, s) for d in self.documents for s in d.statements)
        self._by_action: dict[str, tuple[_Stmt, ...]] = {}
        self._known_actions = frozenset(a.lower() for a in self._catalog.known_actions)

    @property
    def catalog(self) -> ActionCatalog:
        return self._catalog

    def _candidates(self, action: str) -> tuple[_Stmt, ...]:
        key = fold(action)
        found = self._by_action.get(key)
        if found is None:
            found = tuple(s for s in self._statements if s.covers_action(action))
            if len(self._by_action) > 4096:
                self._by_action.clear()
            self._by_action[key] = found
        return found

    def is_allowed(
        self, action: str, resource: str, context: Mapping[str, str] | None = None
    ) -> bool:
        """The decision alone, without an explanation (the fast path)."""
        ctx = _Context(context or {})
        allowed = False
        for st in self._candidates(action):
            if st.resource_match(resource) == st.resource_negated:
                continue
            if st.deny:
                if all(c.check(ctx, None) for c in st.clauses):
                    return False
            elif not allowed and all(c.check(ctx, None) for c in st.clauses):
                allowed = True
        return allowed

    def evaluate(
        self, action: str, resource: str, context: Mapping[str, str] | None = None
    ) -> Decision:
        """The decision, the statements that decided it, and the notes that explain it."""
        context = dict(context or {})
        ctx = _Context(context)
        notes: list[str] = []
        notes.extend(self._request_notes(action, resource, ctx))
        allows: list[StatementRef] = []
        denies: list[StatementRef] = []
        for st in self._candidates(action):
            if not st.covers_resource(resource):
                continue
            matched = True
            for clause in st.clauses:  # check every clause, so that each one's notes are given
                matched = clause.check(ctx, notes) and matched
            if matched:
                (denies if st.deny else allows).append(st.ref)
        if denies:
            effect, deciding = DecisionEffect.EXPLICIT_DENY, denies
        elif allows:
            effect, deciding = DecisionEffect.ALLOW, allows
        else:
            effect, deciding = DecisionEffect.IMPLICIT_DENY, []
        return Decision(
            decision=effect,
            action=action,
            resource=resource,
            context=context,
            statements=tuple(deciding),
            notes=tuple(dict.fromkeys(notes)),
        )

    def _request_notes(self, action: str, resource: str, ctx: _Context) -> list[str]:
        notes: list[str] = []
        catalog = self._catalog
        entry = catalog.entry(action)
        if entry is None:
            if action.lower() not in self._known_actions:
                notes.append(
                    f"unknown-action: {action} is not an action the catalog knows; it is "
                    "evaluated as given."
                )
        else:
            templates = [rt.arn_template for rt in entry.resource_types]
            if templates and not any(template_pattern(t).matches(resource) for t in templates):
                notes.append(
                    f"resource-outside-catalog: {resource} does not have the form of a resource "
                    f"of {entry.action} ({', '.join(templates)}); it is evaluated as given."
                )
        own = entry.condition_keys if entry is not None else ()
        keys = (*catalog.global_condition_keys, *own)
        for low, (given, raw) in ctx.values.items():
            known = next((k for k in keys if k.matches(given)), None)
            if known is None:
                notes.append(
                    f"unknown-context-key: {given} is not a condition key the catalog lists for "
                    f"{action}; conditions on it are evaluated with the value as given."
                )
            elif known.type in _READERS and ctx.read(low, known.type) is not None:
                read = ctx.read(low, known.type)
                if read is not None and read[2] is _UNREADABLE:
                    notes.append(
                        f"unparsable-context-value: {given}={raw!r} is not "
                        f"{_TYPE_WORDS[known.type]} ({known.key} is of type {known.type}); "
                        "conditions that read it as that type do not match."
                    )
        return notes


def evaluate(
    policies: Iterable[PolicyDocument | ParseResult],
    action: str,
    resource: str,
    context: Mapping[str, str] | None = None,
    *,
    catalog: ActionCatalog | None = None,
) -> Decision:
    """Decide one request against `policies` (for many requests, build an `Evaluator`)."""
    return Evaluator(policies, catalog=catalog).evaluate(action, resource, context)
