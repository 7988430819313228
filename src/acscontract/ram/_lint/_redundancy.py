"""Redundancy: duplicate or subsumed statements, and duplicate or subsumed entries of one list.

Subsumption is exact: it uses wildcard language inclusion (`acscontract.ram._wildcard.includes`),
so `live:Real*` is known to cover `live:RealTimeRecordCommand` and `domain/*.example.com` to
cover `domain/a.example.com`, with no sampling.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterator

from acscontract.ram._document import PolicyDocument, Statement, Value
from acscontract.ram._findings import Finding, Severity
from acscontract.ram._language import canonical_value
from acscontract.ram._lint._base import LintContext, RuleCheck, StatementFacts, rule
from acscontract.ram._lint._facts import CatalogFacts
from acscontract.ram._wildcard import fold

__all__ = ["CHECKS"]


def _raw_key(value: object) -> str:
    return json.dumps(value, sort_keys=True)


def _set(values: tuple[Value, ...] | None, fold_case: bool) -> tuple[frozenset[str] | None, bool]:
    """A list element as a set (order and repeats do not matter; actions ignore case), and
    whether every entry was a string (others are kept as their JSON text)."""
    if values is None:
        return None, False
    texts = [v.value for v in values]
    if all(type(t) is str for t in texts):
        return frozenset(map(_fold_fast, texts) if fold_case else texts), bool(texts)
    out = {(_fold_fast(t) if fold_case else t) if type(t) is str else _raw_key(t) for t in texts}
    return frozenset(out), False


@rule(
    "statement-duplicate",
    Severity.SUGGESTION,
    "A statement that repeats an earlier one (apart from its Sid).",
)
def _duplicate_statements(
    check: RuleCheck, document: PolicyDocument, context: LintContext
) -> Iterator[Finding]:
    if len(context.statements) < 2:
        return
    seen: dict[Hashable, StatementFacts] = {}
    for sf, summary in zip(context.statements, _summaries(context), strict=True):
        key = summary.key
        first = seen.get(key)
        if first is None:
            seen[key] = sf
            continue
        yield context.finding(
            check,
            sf.statement.location,
            f"{sf.where.capitalize()} repeats {first.where}; the copy adds nothing and "
            "uses up the policy's size limit.",
            f"Remove {sf.where}.",
        )


class _Summary:
    """A statement reduced to what the duplicate and subsumption checks compare.

    `key` is equal for statements that say the same thing (the Sid aside). `actions` (folded)
    and `resources` are the entries as sets; they and `conditions` are None when the statement
    cannot be compared for subsumption (NotAction, NotResource, values of the wrong type, a
    Condition that is not operator objects).
    """

    __slots__ = (
        "action_wild",
        "actions",
        "conditions",
        "effect",
        "key",
        "principal",
        "resource_wild",
        "resources",
    )

    def __init__(self, st: Statement) -> None:
        effect = self.effect = st.effect_text
        principal = self.principal = (
            _raw_key(st.principal.value) if st.principal is not None else None
        )
        actions, plain_actions = _set(st.actions, True)
        resources, plain_resources = _set(st.resources, False)
        self.actions = actions if plain_actions else None
        self.resources = resources if plain_resources else None
        self.action_wild = actions is not None and _wild("".join(actions))
        self.resource_wild = resources is not None and _wild("".join(resources))
        condition = st.condition
        conditions: dict[tuple[str, str], frozenset[str | None]] = {}
        for c in st.conditions:
            conditions[(c.operator, c.key.lower())] = frozenset(
                canonical_value(v.value) for v in c.values
            )
        opaque = condition is not None and not st.conditions
        self.conditions: dict[tuple[str, str], frozenset[str | None]] | None = (
            None if opaque else conditions
        )
        self.key = (
            effect,
            actions,
            None if st.not_actions is None else _set(st.not_actions, True)[0],
            resources,
            None if st.not_resources is None else _set(st.not_resources, False)[0],
            _raw_key(condition.value)
            if opaque and condition is not None
            else frozenset(conditions.items()),
            principal,
        )


def _wild(text: str) -> bool:
    return "*" in text or "?" in text


def _fold_fast(text: str) -> str:
    return text.lower() if text.isascii() else fold(text)


def _summaries(context: LintContext) -> list[_Summary]:
    found = context.memo.get("summaries")
    if found is None:
        found = context.memo["summaries"] = [_Summary(sf.statement) for sf in context.statements]
    return found


def _covered(
    facts: CatalogFacts,
    inner: frozenset[str],
    outer: frozenset[str],
    outer_wild: bool,
    ignore_case: bool,
) -> bool:
    """Whether every entry of `inner` is included by some entry of `outer`."""
    if inner <= outer:
        return True
    if not outer_wild:
        return False
    includes = facts.includes
    for i in inner - outer:
        for o in outer:
            if includes(o, i, ignore_case=ignore_case):
                break
        else:
            return False
    return True


def _subsumes(facts: CatalogFacts, outer: _Summary, inner: _Summary) -> bool:
    """Whether `outer` covers everything `inner` does (same effect, principal, at least its
    actions and resources, and only conditions that `inner` also has, at least as strictly)."""
    if inner.effect is None or inner.effect != outer.effect or inner.principal != outer.principal:
        return False
    ia, oa, ir, orr = inner.actions, outer.actions, inner.resources, outer.resources
    ic, oc = inner.conditions, outer.conditions
    if ia is None or oa is None or ir is None or orr is None or ic is None or oc is None:
        return False
    for key, allowed in oc.items():
        required = ic.get(key)
        if required is None or not required <= allowed:
            return False
    return _covered(facts, ia, oa, outer.action_wild, True) and _covered(
        facts, ir, orr, outer.resource_wild, False
    )


@rule(
    "statement-subsumed",
    Severity.SUGGESTION,
    "A statement that another statement of the same effect already covers entirely.",
)
def _subsumed_statements(
    check: RuleCheck, document: PolicyDocument, context: LintContext
) -> Iterator[Finding]:
    statements = context.statements
    if len(statements) < 2:
        return
    facts = context.facts
    summaries = _summaries(context)
    keys = [s.key for s in summaries]
    for i, inner in enumerate(summaries):
        if inner.effect is None or keys[i] in keys[:i]:
            continue  # statement-duplicate reports a repeat
        for j, outer in enumerate(summaries):
            if i == j or keys[i] == keys[j] or not _subsumes(facts, outer, inner):
                continue
            if j > i and _subsumes(facts, inner, outer):
                continue  # equivalent: the later one is reported
            yield context.finding(
                check,
                statements[i].statement.location,
                f"{statements[i].where.capitalize()} is covered by {statements[j].where}: "
                "the same effect for a superset of its actions and resources, under conditions "
                "no stricter, so it changes nothing.",
                f"Remove {statements[i].where}, or narrow {statements[j].where} if it "
                "grants more than intended.",
            )
            break


_Entry = tuple[Value, str, str]  # the entry, the message, the hint


def _entry_problems(context: LintContext) -> dict[str, list[_Entry]]:
    """Repeated and covered entries of every Action, NotAction, Resource and NotResource list,
    by check id; computed once per document for the four checks that report them."""
    found = context.memo.get("entries")
    if found is not None:
        return found  # type: ignore[no-any-return]
    found = {
        "action-duplicate": [],
        "resource-duplicate": [],
        "action-subsumed": [],
        "resource-subsumed": [],
    }
    facts = context.facts
    for sf in context.statements:
        st = sf.statement
        a, na, r, nr = st.actions, st.not_actions, st.resources, st.not_resources
        if (
            (a is None or len(a) < 2)
            and (r is None or len(r) < 2)
            and (na is None or len(na) < 2)
            and (nr is None or len(nr) < 2)
        ):
            continue
        for name, values, actions in (
            ("Action", st.actions, True),
            ("NotAction", st.not_actions, True),
            ("Resource", st.resources, False),
            ("NotResource", st.not_resources, False),
        ):
            if values is None or len(values) < 2:
                continue
            kind = "action" if actions else "resource"
            texts = [v.value if type(v.value) is str else None for v in values]
            keys = [_fold_fast(t) if t is not None and actions else t for t in texts]
            strings = [t for t in texts if t is not None]
            wild = _wild("".join(strings))
            if len(set(keys)) == len(keys) and not wild:
                continue  # no repeat, and without a wildcard nothing covers another entry
            first: dict[str, int] = {}
            for i, key in enumerate(keys):
                if key is None:
                    continue
                j = first.setdefault(key, i)
                if j != i:
                    same = "" if texts[j] == texts[i] else f" ({texts[j]!r}; case does not matter)"
                    found[f"{kind}-duplicate"].append(
                        (
                            values[i],
                            f"{texts[i]!r} appears twice in {name} of {sf.where}{same}.",
                            "Remove the second entry.",
                        )
                    )
            if not wild:
                continue
            for i, inner in enumerate(texts):
                if inner is None or first.get(keys[i]) != i:  # type: ignore[arg-type]
                    continue
                for j, outer in enumerate(texts):
                    if outer is None or keys[j] == keys[i]:
                        continue
                    if not facts.includes(outer, inner, ignore_case=actions):
                        continue
                    if j > i and facts.includes(inner, outer, ignore_case=actions):
                        continue  # equivalent entries: the later one is reported
                    found[f"{kind}-subsumed"].append(
                        (
                            values[i],
                            f"{inner!r} in {name} of {sf.where} is already covered by "
                            f"{outer!r} in the same list.",
                            f"Remove {inner!r}, or replace {outer!r} with a narrower entry if "
                            "it covers more than intended.",
                        )
                    )
                    break
    context.memo["entries"] = found
    return found


def _report_entries(check: RuleCheck, context: LintContext) -> list[Finding]:
    return [
        context.finding(check, value.location, message, hint)
        for value, message, hint in _entry_problems(context)[check.id]
    ]


@rule(
    "action-duplicate",
    Severity.SUGGESTION,
    "An action listed twice in one Action or NotAction list (names are case-insensitive).",
)
def _duplicate_actions(
    check: RuleCheck, document: PolicyDocument, context: LintContext
) -> list[Finding]:
    return _report_entries(check, context)


@rule(
    "resource-duplicate",
    Severity.SUGGESTION,
    "A resource listed twice in one Resource or NotResource list.",
)
def _duplicate_resources(
    check: RuleCheck, document: PolicyDocument, context: LintContext
) -> list[Finding]:
    return _report_entries(check, context)


@rule(
    "action-subsumed",
    Severity.SUGGESTION,
    "An action that a wildcard in the same list already covers (`<product>:*` next to one of "
    "the product's actions).",
)
def _subsumed_actions(
    check: RuleCheck, document: PolicyDocument, context: LintContext
) -> list[Finding]:
    return _report_entries(check, context)


@rule(
    "resource-subsumed",
    Severity.SUGGESTION,
    "A resource that a wildcard in the same list already covers.",
)
def _subsumed_resources(
    check: RuleCheck, document: PolicyDocument, context: LintContext
) -> list[Finding]:
    return _report_entries(check, context)


CHECKS: tuple[RuleCheck, ...] = (
    _duplicate_statements,
    _subsumed_statements,
    _duplicate_actions,
    _duplicate_resources,
    _subsumed_actions,
    _subsumed_resources,
)
