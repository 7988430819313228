"""What a new version of a policy grants that the old one did not, for the catalogued actions.

Actions and resources are compared exactly: for each catalogued action, the resources each
statement covers are wildcard languages (NotResource is a complement), intersected with the ARN
space of the action's resource types, and the question "is there an ARN NEW allows and OLD does
not?" is answered by the product automaton of `_wildcard.find_string`.

Conditions are compared syntactically. Each distinct condition clause (operator, key and set of
values) is treated as an independent yes/no test, and every combination of tests is tried. This is
sound: a real request answers every test, so any real new access shows up under some combination.
It can be pessimistic: a combination can be impossible in reality (say `IpAddress 203.0.113.0/24`
true and `IpAddress 203.0.113.0/25` false is possible, but both `Bool true` and `Bool false`
true is not). Every difference reported is therefore backed by a concrete request (action,
resource ARN and context) that the evaluator confirms NEW allows and OLD does not; a combination
for which no concrete context could be built is reported as a possible difference, unverified.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from ipaddress import IPv4Network, IPv6Network
from typing import Any

from acscontract.ram._arn import template_pattern
from acscontract.ram._document import ParseResult, PolicyDocument
from acscontract.ram._evaluator import (
    DecisionEffect,
    Evaluator,
    StatementRef,
    _Clause,
    _Context,
    _Stmt,
)
from acscontract.ram._wildcard import (
    ANY_CHAR,
    ANY_RUN,
    Pattern,
    SearchLimitError,
    find_string,
    fold,
)
from acscontract.spec import ActionCatalog, CatalogEntry, action_catalog

__all__ = ["Difference", "PolicyDiff", "diff"]

_MAX_FREE_TESTS = 10  # 2**10 combinations per statement at most


@dataclass(frozen=True, slots=True)
class Difference:
    """One request one side allows and the other does not, and why.

    `granted_by` are the statements of the allowing side that allow the request; `other_decision`
    is the other side's decision for it (ImplicitDeny or ExplicitDeny) with `other_statements` its
    denying statements. `assumed` lists the condition tests the request satisfies.
    `verified` is False only for a possible difference the evaluator could not confirm with a
    concrete context (see the module docstring).
    """

    action: str
    resource: str
    context: Mapping[str, str] = field(hash=False)
    granted_by: tuple[StatementRef, ...]
    other_decision: DecisionEffect
    other_statements: tuple[StatementRef, ...]
    assumed: tuple[str, ...]
    explanation: str
    verified: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "resource": self.resource,
            "context": dict(self.context),
            "granted_by": [s.to_dict() for s in self.granted_by],
            "other_decision": self.other_decision.value,
            "other_statements": [s.to_dict() for s in self.other_statements],
            "assumed_conditions": list(self.assumed),
            "explanation": self.explanation,
            "verified": self.verified,
        }


@dataclass(frozen=True, slots=True)
class PolicyDiff:
    """The result of `diff`: `added` is new access (NEW allows, OLD did not); `removed` is access
    NEW no longer grants (for information). `actions` are the catalogued actions compared."""

    old: tuple[str, ...]
    new: tuple[str, ...]
    actions: tuple[str, ...]
    added: tuple[Difference, ...]
    removed: tuple[Difference, ...]
    notes: tuple[str, ...]

    @property
    def grants_new_access(self) -> bool:
        return bool(self.added)

    def to_dict(self) -> dict[str, Any]:
        return {
            "old": list(self.old),
            "new": list(self.new),
            "actions": list(self.actions),
            "grants_new_access": self.grants_new_access,
            "added": [d.to_dict() for d in self.added],
            "removed": [d.to_dict() for d in self.removed],
            "notes": list(self.notes),
        }


# ---------------------------------------------------------------------------------------------
# Condition tests as atoms


@dataclass(frozen=True, slots=True)
class _Atom:
    id: int
    clause: _Clause
    text: str


def _atom_key(clause: _Clause) -> tuple[str, str, frozenset[str]]:
    texts = frozenset(
        fold(str(v)) if clause.spec.test == "equals-ignore-case" else str(v) for v in clause.values
    )
    return (clause.spec.name, clause.key_lower, texts)


def _value_text(value: Any) -> str:
    """A parsed condition value as a policy writes it: `true`, an ISO-8601 date, a number, an
    address block, a string (not Python's `True` or `2030-01-01 00:00:00+00:00`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _describe(clause: _Clause, truth: bool = True) -> str:
    values = ", ".join(_value_text(v) for v in clause.values)
    text = f"{clause.spec.name} {clause.key} [{values}]"
    return text if truth else f"not ({text})"


class _Side:
    """One policy set, compiled, with its statements for one action split by effect."""

    def __init__(self, evaluator: Evaluator, action: str) -> None:
        self.evaluator = evaluator
        stmts = evaluator._candidates(action)
        self.allows = [s for s in stmts if not s.deny]
        self.denies = [s for s in stmts if s.deny]


def _atoms(sides: Iterable[_Side]) -> tuple[list[_Atom], dict[int, frozenset[int]]]:
    atoms: list[_Atom] = []
    by_key: dict[tuple[str, str, frozenset[str]], int] = {}
    conds: dict[int, frozenset[int]] = {}
    for side in sides:
        for st in (*side.allows, *side.denies):
            ids = []
            for clause in st.clauses:
                key = _atom_key(clause)
                if key not in by_key:
                    by_key[key] = len(atoms)
                    atoms.append(_Atom(len(atoms), clause, _describe(clause)))
                ids.append(by_key[key])
            conds[id(st)] = frozenset(ids)
    return atoms, conds


# ---------------------------------------------------------------------------------------------
# Resources


class _Region:
    """A boolean formula over resource pattern sets, checked exactly or on a concrete ARN."""

    def __init__(
        self,
        universe: Sequence[Pattern],
        target: _Stmt,
        granting_denies: Sequence[_Stmt],
        other_allows: Sequence[_Stmt],
        other_denies: Sequence[_Stmt],
    ) -> None:
        self.patterns: list[Pattern] = list(universe)
        self.universe = range(len(universe))
        self.target = self._add(target)
        self.denies = [self._add(s) for s in granting_denies]
        self.other_allows = [self._add(s) for s in other_allows]
        self.other_denies = [self._add(s) for s in other_denies]

    def _add(self, st: _Stmt) -> tuple[range, bool]:
        start = len(self.patterns)
        self.patterns.extend(Pattern.wildcard(p) for p in st.resource_patterns)
        return (range(start, len(self.patterns)), st.resource_negated)

    @staticmethod
    def _covers(bits: Sequence[bool], part: tuple[range, bool]) -> bool:
        return any(bits[i] for i in part[0]) != part[1]

    def accept(self, bits: Sequence[bool]) -> bool:
        if not any(bits[i] for i in self.universe):
            return False
        if not self._covers(bits, self.target):
            return False
        if any(self._covers(bits, d) for d in self.denies):
            return False
        other = any(self._covers(bits, a) for a in self.other_allows) and not any(
            self._covers(bits, d) for d in self.other_denies
        )
        return not other

    def accepts(self, resource: str) -> bool:
        return self.accept([p.matches(resource) for p in self.patterns])

    def witness(self, candidates: Iterable[str], fallback: Sequence[Pattern]) -> str | None:
        for candidate in candidates:
            if self.accepts(candidate):
                return candidate
        # Exact search, over the universe made a little more readable (non-empty placeholders).
        for universe in (fallback, self.patterns[: len(self.universe)]):
            saved = self.patterns[: len(self.universe)]
            self.patterns[: len(self.universe)] = list(universe)
            try:
                found = find_string(self.patterns, self.accept)
            finally:
                self.patterns[: len(self.universe)] = saved
            if found is not None:
                return found
        return None


def _readable_universe(entry: CatalogEntry) -> list[Pattern]:
    """The ARN space with each placeholder at least one character long."""
    out = []
    for rt in entry.resource_types:
        pattern = template_pattern(rt.arn_template)
        tokens: list[Any] = []
        for t in pattern.tokens:
            if t is ANY_RUN:
                tokens.extend((ANY_CHAR, ANY_RUN))
            else:
                tokens.append(t)
        out.append(Pattern(tuple(tokens)))
    return out


def _resource_candidates(entry: CatalogEntry, patterns: Iterable[str]) -> list[str]:
    accounts: list[str] = []
    literal_names: list[str] = []
    filled_names: list[str] = []
    for p in patterns:
        for part in p.split(":"):
            if len(part) == 16 and part.isdigit():
                accounts.append(part)
        if "/" in p:
            tail = p.rsplit("/", 1)[1]
            if "*" not in tail and "?" not in tail:
                literal_names.append(tail)
            for filler in ("www", "x"):
                filled_names.append(tail.replace("*", filler).replace("?", "x"))
    accounts += ["1234567890123456", "9999999999999999"]
    names = [*literal_names, "example.com", *filled_names, "other.example.net", "x"]
    accounts = list(dict.fromkeys(a for a in accounts if a))
    names = list(dict.fromkeys(n for n in names if n))
    out: list[str] = []
    for rt in entry.resource_types:
        placeholders = rt.placeholders
        for values in itertools.product(
            *[accounts if "account" in ph.lower() else names for ph in placeholders]
        ):
            out.append(rt.arn(**dict(zip(placeholders, values, strict=True))))
    return out[:400]


# ---------------------------------------------------------------------------------------------
# Contexts


def _string_candidates(constraints: Sequence[tuple[_Clause, bool]]) -> tuple[list[str], bool]:
    """Readable guesses first, then an exact solution from the wildcard automata.

    Exact (complete) when the key's string tests are all case-sensitive or all ignore case.
    """
    out: list[str] = []
    for c, _ in constraints:
        for v in c.values:
            text = str(v)
            out += [
                text.replace("*", "").replace("?", "x"),
                text.replace("*", "x").replace("?", "x"),
            ]
            out += [text.upper(), text + "-other"]
    out.append("acscontract-other-value")
    folded = {c.spec.test == "equals-ignore-case" for c, _ in constraints}
    if len(folded) != 1:
        return out, False
    ignore_case = folded.pop()
    patterns: list[Pattern] = []
    groups: list[tuple[range, bool]] = []
    for c, truth in constraints:
        start = len(patterns)
        for v in c.values:
            text = str(v)
            patterns.append(
                Pattern.wildcard(text) if c.spec.test == "like" else Pattern.literal(text)
            )
        # The operator holds when some value matches, negated operators when none does.
        groups.append((range(start, len(patterns)), truth != c.negated))

    def accept(bits: tuple[bool, ...]) -> bool:
        return all(any(bits[i] for i in r) == want for r, want in groups)

    found = find_string(patterns, accept, ignore_case=ignore_case)
    if found is not None:
        out.append(found)
    return out, True


def _ordered(values: Iterable[Any]) -> list[Any]:
    return sorted(set(values))


def _number_candidates(clauses: Sequence[_Clause]) -> list[str]:
    values = _ordered(v for c in clauses for v in c.values if isinstance(v, Decimal))
    if not values:
        return ["0"]
    points = [values[0] - 1, *values, values[-1] + 1]
    points += [(a + b) / 2 for a, b in itertools.pairwise(values)]
    return [str(p) for p in points]


def _date_candidates(clauses: Sequence[_Clause]) -> list[str]:
    values = _ordered(v for c in clauses for v in c.values if isinstance(v, datetime))
    if not values:
        return ["2026-01-01T00:00:00+00:00"]
    second = timedelta(seconds=1)
    points = [values[0] - second, *values, values[-1] + second]
    points += [a + (b - a) / 2 for a, b in itertools.pairwise(values)]
    return [p.isoformat() for p in points]


def _ip_candidates(clauses: Sequence[_Clause]) -> list[str]:
    # Every region of a Venn diagram of address blocks starts at a block's first address or just
    # after a block's last one, so these points reach every region that is not empty.
    out: list[str] = []
    for c in clauses:
        for n in c.values:
            if isinstance(n, IPv4Network | IPv6Network):
                first, last = n.network_address, n.broadcast_address
                if n.num_addresses > 2:
                    out.append(str(first + 1))
                out += [str(first), str(last)]
                for outside in (int(first) - 1, int(last) + 1):
                    with contextlib.suppress(ValueError):
                        out.append(str(type(first)(outside)))
    return [*out, "198.51.100.7", "2001:db8::7"]


_CANDIDATES: dict[str, Callable[[Sequence[_Clause]], list[str]]] = {
    "number": _number_candidates,
    "date": _date_candidates,
    "bool": lambda clauses: ["true", "false"],
    "ip": _ip_candidates,
}


def _context_for(
    wanted: Mapping[int, bool], atoms: Sequence[_Atom]
) -> tuple[dict[str, str] | None, bool]:
    """A context in which each atom in `wanted` has the given truth value, or None.

    The flag says whether the search was complete: when it was and no context was found, no
    realistic request gives these truth values (a context value is always absent or readable).
    """
    by_key: dict[str, list[tuple[_Clause, bool]]] = {}
    for atom_id, truth in wanted.items():
        clause = atoms[atom_id].clause
        by_key.setdefault(clause.key_lower, []).append((clause, truth))
    context: dict[str, str] = {}
    complete = True
    for constraints in by_key.values():
        clauses = [c for c, _ in constraints]
        key = clauses[0].key
        types = {c.type for c in clauses}
        candidates: list[str | None] = [None]
        key_complete = len(types) == 1
        for type_ in sorted(types):
            if type_ == "string":
                strings, exact = _string_candidates(
                    [(c, t) for c, t in constraints if c.type == "string"]
                )
                candidates += strings
                key_complete = key_complete and exact
            else:
                candidates += _CANDIDATES[type_](clauses)
        chosen: str | None = None
        found = False
        for candidate in dict.fromkeys(candidates):
            ctx = _Context({} if candidate is None else {key: candidate})
            if all(c.check(ctx, None) == truth for c, truth in constraints):
                chosen, found = candidate, True
                break
        if not found:
            return None, complete and key_complete
        complete = complete and key_complete
        if chosen is not None:
            context[key] = chosen
    return context, complete


# ---------------------------------------------------------------------------------------------
# The comparison


def _subsets(items: Sequence[int], limit: int) -> Iterable[frozenset[int]]:
    for size in range(len(items) + 1):
        if size > limit:
            return
        for combo in itertools.combinations(items, size):
            yield frozenset(combo)


def _compare(
    granting: Evaluator,
    other: Evaluator,
    entry: CatalogEntry,
    notes: list[str],
    granting_label: str,
    other_label: str,
) -> list[Difference]:
    action = entry.action
    g = _Side(granting, action)
    o = _Side(other, action)
    atoms, conds = _atoms((g, o))
    universe = [template_pattern(rt.arn_template) for rt in entry.resource_types] or [
        Pattern((ANY_RUN,))
    ]
    readable = _readable_universe(entry) or universe
    every_pattern = [
        p for side in (g, o) for s in (*side.allows, *side.denies) for p in s.resource_patterns
    ]
    candidates = _resource_candidates(entry, every_pattern)
    found: list[Difference] = []
    for target in g.allows:
        required = conds[id(target)]
        free = sorted({a.id for a in atoms} - required)
        limit = len(free)
        if len(free) > _MAX_FREE_TESTS:
            limit = 2
            notes.append(
                f"{granting_label} statement {target.ref.index} of {target.ref.file} shares its "
                f"action with {len(free)} other condition tests; only combinations of up to two "
                "of them were tried, so the comparison may miss a difference."
            )
        unverified: Difference | None = None
        result: Difference | None = None
        tried: set[tuple[frozenset[int], ...]] = set()
        for extra in _subsets(free, limit):
            true_atoms = required | extra

            def active(
                stmts: Sequence[_Stmt], true_atoms: frozenset[int] = true_atoms
            ) -> list[_Stmt]:
                return [s for s in stmts if conds[id(s)] <= true_atoms]

            g_denies, o_allows, o_denies = active(g.denies), active(o.allows), active(o.denies)
            signature = tuple(
                frozenset(id(s) for s in group) for group in (g_denies, o_allows, o_denies)
            )
            region = _Region(universe, target, g_denies, o_allows, o_denies)
            try:
                resource = region.witness(candidates, readable) if signature not in tried else None
            except SearchLimitError as exc:
                notes.append(
                    f"{granting_label} {target.ref.file} statement {target.ref.index}: {exc} "
                    "It is reported as a possible difference."
                )
                if unverified is None:
                    unverified = _difference(
                        granting,
                        other,
                        action,
                        target.resource_patterns[0] if target.resource_patterns else "*",
                        {},
                        target,
                        atoms,
                        true_atoms,
                        granting_label,
                        other_label,
                        verified=False,
                    )
                break
            if resource is None:
                tried.add(signature)
                continue
            wanted = {a.id: a.id in true_atoms for a in atoms}
            context, complete = _context_for(wanted, atoms)
            if context is None:
                # No realistic request gives these test results: skip them, unless the search
                # for one was not exhaustive, in which case report a possible difference.
                if not complete and unverified is None:
                    unverified = _difference(
                        granting,
                        other,
                        action,
                        resource,
                        {},
                        target,
                        atoms,
                        true_atoms,
                        granting_label,
                        other_label,
                        verified=False,
                    )
                continue
            decision = granting.evaluate(action, resource, context)
            if decision.allowed and not other.is_allowed(action, resource, context):
                result = _difference(
                    granting,
                    other,
                    action,
                    resource,
                    context,
                    target,
                    atoms,
                    true_atoms,
                    granting_label,
                    other_label,
                    verified=True,
                )
                break
        if result is not None:
            found.append(result)
        elif unverified is not None:
            found.append(unverified)
    return found


def _difference(
    granting: Evaluator,
    other: Evaluator,
    action: str,
    resource: str,
    context: dict[str, str],
    target: _Stmt,
    atoms: Sequence[_Atom],
    true_atoms: frozenset[int],
    granting_label: str,
    other_label: str,
    *,
    verified: bool,
) -> Difference:
    mine = granting.evaluate(action, resource, context)
    theirs = other.evaluate(action, resource, context)
    granted_by = mine.statements if mine.allowed else (target.ref,)
    assumed = tuple(atoms[i].text for i in sorted(true_atoms))
    ref = target.ref
    sid = f" ({ref.sid})" if ref.sid else ""
    parts = [
        f"{granting_label} {ref.file} statement {ref.index}{sid} (line {ref.line}) allows "
        f"{action} on {resource}" + (f" when {' and '.join(assumed)}" if assumed else "") + "."
    ]
    if theirs.decision is DecisionEffect.EXPLICIT_DENY:
        denied_by = ", ".join(f"{s.file} statement {s.index}" for s in theirs.statements)
        parts.append(f"{other_label} denies that request explicitly ({denied_by}).")
    else:
        # Does OLD cover the resource at all, but under conditions this request does not meet?
        near = [
            s
            for s in other._candidates(action)
            if not s.deny and s.covers_resource(resource) and s.clauses
        ]
        if near:
            wants = "; ".join(
                f"{s.ref.file} statement {s.ref.index} requires "
                + " and ".join(_describe(c) for c in s.clauses)
                for s in near
            )
            parts.append(
                f"{other_label} allows that resource only under conditions this request does "
                f"not meet ({wants}); {granting_label} does not require them."
            )
        else:
            parts.append(f"No statement of {other_label} allows that request.")
    if not verified:
        parts.append(
            "No concrete context satisfying exactly these condition tests was found, so this "
            "difference is possible but unconfirmed (the tests may contradict each other)."
        )
    return Difference(
        action=action,
        resource=resource,
        context=context,
        granted_by=granted_by,
        other_decision=theirs.decision,
        other_statements=theirs.statements,
        assumed=assumed,
        explanation=" ".join(parts),
        verified=verified,
    )


def _names(docs: Sequence[PolicyDocument]) -> tuple[str, ...]:
    return tuple(d.name for d in docs)


def _as_list(
    policies: PolicyDocument | ParseResult | Iterable[PolicyDocument | ParseResult],
) -> list[PolicyDocument | ParseResult]:
    if isinstance(policies, PolicyDocument | ParseResult):
        return [policies]
    return list(policies)


def diff(
    old: PolicyDocument | ParseResult | Iterable[PolicyDocument | ParseResult],
    new: PolicyDocument | ParseResult | Iterable[PolicyDocument | ParseResult],
    *,
    catalog: ActionCatalog | None = None,
) -> PolicyDiff:
    """Exactly what `new` allows that `old` did not (and the reverse, as `removed`), for every
    catalogued action. Each side is one policy or a set of policies attached together."""
    catalog = catalog if catalog is not None else action_catalog()
    old_ev = Evaluator(_as_list(old), catalog=catalog)
    new_ev = Evaluator(_as_list(new), catalog=catalog)
    notes: list[str] = []
    added: list[Difference] = []
    removed: list[Difference] = []
    entries = sorted(catalog.entries.values(), key=lambda e: e.action)
    for entry in entries:
        added += _compare(new_ev, old_ev, entry, notes, "NEW", "OLD")
        removed += _compare(old_ev, new_ev, entry, notes, "OLD", "NEW")
    has_conditions = any(
        st.conditions for d in (*old_ev.documents, *new_ev.documents) for st in d.statements
    )
    notes.append(
        "Only the catalogued actions were compared ("
        + ", ".join(e.action for e in entries)
        + "), each over the ARN space of its resource types."
    )
    if has_conditions:
        notes.append(
            "Conditions were compared syntactically: each distinct clause (operator, key and "
            "values) is an independent test and every combination was tried; each reported "
            "difference comes with a concrete request the evaluator confirms."
        )
    return PolicyDiff(
        old=_names(old_ev.documents),
        new=_names(new_ev.documents),
        actions=tuple(e.action for e in entries),
        added=tuple(added),
        removed=tuple(removed),
        notes=tuple(dict.fromkeys(notes)),
    )
