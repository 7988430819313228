"""Redundancy: duplicate or subsumed statements, and duplicate or subsumed entries of one list.

Subsumption is exact: it uses wildcard language inclusion (`acscontract.ram._wildcard`), so
`live:Real*` is known to cover `live:RealTimeRecordCommand` and `domain/*.example.com` to cover
`domain/a.example.com`, with no sampling.

The work is bounded by the document's search budget (`LintContext.budget`, proportional to its
size): candidates are looked up by literal prefix and suffix instead of comparing every pair, and
each comparison spends from the budget. When it runs out, or a comparison cannot be decided, the
rest is not compared and `analysis-undecided` says so.
"""

from __future__ import annotations

import bisect
import itertools
import json
import operator
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from acscontract.ram._document import PolicyDocument, Statement, Value
from acscontract.ram._findings import Finding, Severity
from acscontract.ram._language import canonical_value
from acscontract.ram._lint._base import (
    NEEDS_ENTRY_PROBLEM,
    NEEDS_LIST,
    NEEDS_STATEMENTS,
    LintContext,
    RuleCheck,
    StatementFacts,
    rule,
)
from acscontract.ram._lint._facts import literal_ends
from acscontract.ram._wildcard import SearchBudget, fold

__all__ = ["CHECKS"]


def _raw_key(value: object) -> str:
    return json.dumps(value, sort_keys=True)


def _set(raw: Mapping[str, Any], name: str, fold_case: bool) -> tuple[frozenset[str] | None, bool]:
    """An element's entries as a set (order and repeats do not matter; actions ignore case), and
    whether every entry was a string (others are kept as their JSON text); (None, False) when
    the statement has no such element."""
    if name not in raw:
        return None, False
    texts = raw[name]
    if type(texts) is not list:
        texts = [texts]  # one value (a string, or a value of the wrong type)
    if set(map(type, texts)) == _ONLY_STR:  # the usual case, tested in C
        if not fold_case:
            return frozenset(texts), True
        if "".join(texts).isascii():
            return frozenset(map(str.lower, texts)), True
        return frozenset(map(_fold_fast, texts)), True
    if all(type(t) is str for t in texts):  # no entry at all
        return frozenset(map(_fold_fast, texts) if fold_case else texts), bool(texts)
    out = {(_fold_fast(t) if fold_case else t) if type(t) is str else _raw_key(t) for t in texts}
    return frozenset(out), False


_ONLY_STR = {str}


@rule(
    "statement-duplicate",
    Severity.SUGGESTION,
    "A statement that repeats an earlier one (apart from its Sid).",
    needs=NEEDS_STATEMENTS,
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
        "comparable",
        "condition_keys",
        "conditions",
        "effect",
        "key",
        "principal",
        "resource_wild",
        "resources",
    )

    def __init__(self, st: Statement, memo: dict[str, Any] | None = None) -> None:
        """`memo`: the statement's `StatementFacts.memo`, where the folded entries of an Action
        list of strings are left for the list checks (`_entry_problems`)."""
        raw = st.raw
        effect = raw.get("Effect")
        effect = self.effect = effect if type(effect) is str else None
        principal = self.principal = _raw_key(raw["Principal"]) if "Principal" in raw else None
        # `_set` for Action and Resource, inline for their usual form (strings).
        actions: frozenset[str] | None
        texts = raw.get("Action")
        if type(texts) is str:
            actions = frozenset((texts.lower() if texts.isascii() else fold(texts),))
            plain_actions = True
            self.action_wild = "*" in texts or "?" in texts
        elif type(texts) is list and set(map(type, texts)) == _ONLY_STR:  # tested in C
            joined = "\n".join(texts)  # one pass: folded, and told whether it has a wildcard
            folded = _folded(texts, joined)
            if memo is not None:
                memo[_FOLDED_ACTIONS] = folded
            actions = frozenset(folded)  # type: ignore[arg-type]
            plain_actions = True
            self.action_wild = "*" in joined or "?" in joined  # folding keeps them as they are
        else:
            actions, plain_actions = _set(raw, "Action", True)
            self.action_wild = actions is not None and _wild("".join(actions))
        resources: frozenset[str] | None
        texts = raw.get("Resource")
        if type(texts) is str:
            resources = frozenset((texts,))
            plain_resources = True
            self.resource_wild = "*" in texts or "?" in texts
        elif type(texts) is list and set(map(type, texts)) == _ONLY_STR:
            resources = frozenset(texts)
            plain_resources = True
            self.resource_wild = _wild("".join(texts))
        else:
            resources, plain_resources = _set(raw, "Resource", False)
            self.resource_wild = resources is not None and _wild("".join(resources))
        self.actions = actions if plain_actions else None
        self.resources = resources if plain_resources else None
        conditions: dict[tuple[str, str], frozenset[str | None]] = {}
        opaque = False
        if "Condition" in raw:
            for operator, key, values in st.condition_tests():
                if type(values) is str:
                    conditions[(operator, key.lower())] = frozenset((values,))
                    continue
                if type(values) is not list:
                    values = [values]
                conditions[(operator, key.lower())] = (
                    frozenset(values)  # strings are their own canonical value
                    if set(map(type, values)) <= _ONLY_STR
                    else frozenset(map(canonical_value, values))
                )
            opaque = not conditions  # a Condition with no test: compared as written
        self.conditions: dict[tuple[str, str], frozenset[str | None]] | None = (
            None if opaque else conditions
        )
        self.comparable = plain_actions and plain_resources and not opaque
        """Whether the statement can be compared for subsumption at all (see `conditions`)."""
        if conditions:
            self.condition_keys = frozenset(conditions)
            condition_key: object = frozenset(conditions.items())
        else:
            self.condition_keys = _NO_KEYS
            condition_key = _raw_key(raw["Condition"]) if opaque else _NO_KEYS
        self.key = (
            effect,
            actions,
            _set(raw, "NotAction", True)[0] if "NotAction" in raw else None,
            resources,
            _set(raw, "NotResource", False)[0] if "NotResource" in raw else None,
            condition_key,
            principal,
        )


_NO_KEYS: frozenset[Any] = frozenset()
_FOLDED_ACTIONS = "folded-actions"
"""`StatementFacts.memo` key: the folded entries of the statement's Action list of strings."""


def _wild(text: str) -> bool:
    return "*" in text or "?" in text


def _fold_fast(text: str) -> str:
    return text.lower() if text.isascii() else fold(text)


def _summaries(context: LintContext) -> list[_Summary]:
    found = context.memo.get("summaries")
    if found is None:
        found = context.memo["summaries"] = [
            _Summary(sf.statement, sf.memo) for sf in context.statements
        ]
    return found


def _covered(
    context: LintContext,
    inner: frozenset[str],
    outer: frozenset[str],
    outer_wild: bool,
    ignore_case: bool,
) -> bool | None:
    """Whether every entry of `inner` is included by some entry of `outer` (None: undecided).
    The entries are compared in sorted order, so the budget runs out at the same pair on every
    run (a set's own order changes with the hash seed)."""
    if inner <= outer:
        return True
    if not outer_wild:
        return False
    facts = context.facts
    includes = facts.includes
    remembered = facts.remembered_inclusions
    budget = context.budget
    undecided = False
    ordered = sorted(outer)
    for i in sorted(inner - outer):
        for o in ordered:
            budget.left -= 1  # `spend`, whose answer this loop does not need
            # `includes`, at once for an answer it remembers as itself (the usual case; o is
            # never i here, as i is not in outer).
            found = remembered.get((o, i, ignore_case))
            if found is not True and found is not False:
                found = includes(o, i, ignore_case=ignore_case, budget=budget)
            if found:
                break
            if found is None:
                undecided = True
        else:
            return None if undecided else False
    return True


def _subsumes(context: LintContext, outer: _Summary, inner: _Summary) -> bool | None:
    """Whether `outer` covers everything `inner` does (same effect, principal, at least its
    actions and resources, and only conditions that `inner` also has, at least as strictly);
    None when undecided. The cheap set comparisons come first."""
    if inner.effect is None or inner.effect != outer.effect or inner.principal != outer.principal:
        return False
    ia, oa, ir, orr = inner.actions, outer.actions, inner.resources, outer.resources
    ic, oc = inner.conditions, outer.conditions
    if ia is None or oa is None or ir is None or orr is None or ic is None or oc is None:
        return False
    if oc:
        if not outer.condition_keys <= inner.condition_keys:
            return False
        for key, allowed in oc.items():
            if not ic[key] <= allowed:
                return False
    actions_listed = ia <= oa
    if not actions_listed and not outer.action_wild:
        return False
    resources_listed = ir <= orr
    if not resources_listed and not outer.resource_wild:
        return False
    actions = True if actions_listed else _covered(context, ia, oa, True, True)
    if actions is False:
        return False
    resources = True if resources_listed else _covered(context, ir, orr, True, False)
    if resources is False:
        return False
    return None if actions is None or resources is None else True


class _PrefixIndex:
    """Wildcard entries by their literal prefix and suffix (the text before the first wildcard
    and after the last). An entry can cover another only if its prefix starts the other's prefix
    and its suffix ends the other's suffix, so only those are compared. Each lookup costs one
    budget step per distinct (prefix length, suffix length) shape."""

    __slots__ = ("_buckets", "_budget", "_shapes")

    def __init__(self, budget: SearchBudget) -> None:
        self._budget = budget
        self._buckets: dict[tuple[str, str], list[int]] = {}
        self._shapes: list[tuple[int, int]] = []

    def add(self, index: int, text: str) -> None:
        prefix, suffix = _ends(text)
        bucket = self._buckets.get((prefix, suffix))
        if bucket is None:
            bucket = self._buckets[(prefix, suffix)] = []
            shape = (len(prefix), len(suffix))
            if shape not in self._shapes:
                self._shapes.append(shape)
        bucket.append(index)

    def _fitting(self, text: str) -> list[list[int]]:
        # `literal_ends(text)`, inline: this runs once per entry of a long list.
        star, mark = text.find("*"), text.find("?")
        if star < 0 and mark < 0:
            prefix = suffix = text
        else:
            first = star if mark < 0 or (0 <= star < mark) else mark
            prefix = text[:first]
            suffix = text[max(text.rfind("*"), text.rfind("?")) + 1 :]
        shapes = self._shapes
        self._budget.left -= len(shapes)  # `spend`, whose answer this lookup does not need
        buckets = self._buckets
        start, end = len(prefix), len(suffix)
        found = []
        for p, q in shapes:
            if p <= start and q <= end:
                bucket = buckets.get((prefix[:p], suffix[end - q :]))
                if bucket is not None:
                    found.append(bucket)
        return found

    def estimate(self, text: str) -> int:
        """How many entries `candidates(text)` lists, without listing them."""
        return sum(len(bucket) for bucket in self._fitting(text))

    def candidates(self, text: str) -> list[int]:
        """Indexes of the added entries that may cover `text`, in increasing order (the caller
        must not change the list)."""
        buckets = self._fitting(text)
        if len(buckets) == 1:
            return buckets[0]  # built in increasing order: `add` is called that way
        found = [index for bucket in buckets for index in bucket]
        found.sort()
        return found


_ends = literal_ends


def _note_undecided(context: LintContext, location: Value | Statement, what: str) -> None:
    context.undecided(location.location, what)


def _out_of_budget(context: LintContext, facts: StatementFacts) -> None:
    """Note that the statements from `facts`'s on were not all compared (budget spent)."""
    _note_undecided(
        context,
        facts.statement,
        f"whether {facts.where} or any later statement is covered by another (the document has "
        "too many statements to compare all pairs)",
    )


@rule(
    "statement-subsumed",
    Severity.SUGGESTION,
    "A statement that another statement of the same effect already covers entirely.",
    needs=NEEDS_STATEMENTS,
)
def _subsumed_statements(
    check: RuleCheck, document: PolicyDocument, context: LintContext
) -> Iterator[Finding]:
    statements = context.statements
    if len(statements) < 2:
        return
    summaries = _summaries(context)
    budget = context.budget
    first_of: dict[Hashable, int] = {}
    same = [first_of.setdefault(s.key, i) for i, s in enumerate(summaries)]
    candidates = _statement_candidates(summaries, budget)
    # The bit masks of the index take memory in proportion to the statements: past a few
    # dozen, the pairs (fewer, from `candidates`) are refused one by one.
    refusals = _Refusals(summaries) if _UNMASKED < len(summaries) <= _MASKED else None
    for i, inner in enumerate(summaries):
        if inner.effect is None or same[i] != i:
            continue  # statement-duplicate reports a repeat
        undecided = False
        outers = [j for j in candidates(i) if same[j] != i]  # not itself nor a repeat of it
        if not inner.comparable:
            # `_subsumes` is False for every pair: only their budget steps remain.
            steps, outers = len(outers), []
            if not _spend_each(budget, steps):
                _out_of_budget(context, statements[i])
                return
        keys, ic = inner.condition_keys, inner.conditions
        ia, ir = inner.actions, inner.resources
        fitting = refusals.fitting(inner) if outers and refusals is not None else -1
        pending = 0  # refused pairs not yet charged: one budget step each, as compared
        for j in outers:
            if not (fitting >> j) & 1:
                pending += 1  # refused by the set tests below, in the index instead
                continue
            if budget.left > pending:  # `_spend_each(budget, pending + 1)`, inline
                budget.left -= pending + 1
            elif not _spend_each(budget, pending + 1):
                _out_of_budget(context, statements[i])
                return
            pending = 0
            outer = summaries[j]
            if refusals is None and (  # the set tests, when there is no index
                not outer.comparable
                or (not outer.action_wild and not ia <= outer.actions)  # type: ignore[operator]
                or (not outer.resource_wild and not ir <= outer.resources)  # type: ignore[operator]
            ):
                continue
            # The cheap refusals of `_subsumes`, inline (they spend no budget there either).
            oc = outer.conditions
            if oc and not (
                outer.condition_keys <= keys
                and all(ic[key] <= allowed for key, allowed in oc.items())  # type: ignore[index]
            ):
                continue
            covers = _subsumes(context, outer, inner)
            if covers is None:
                undecided = True
                continue
            if not covers:
                continue
            if j > i and _subsumes(context, inner, outer) is not False:
                continue  # equivalent (or possibly so): the later one is reported
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
        else:
            if not _spend_each(budget, pending):
                _out_of_budget(context, statements[i])
                return
            if undecided:
                _note_undecided(
                    context,
                    statements[i].statement,
                    f"whether another statement covers {statements[i].where} (its wildcards are "
                    "too complex to compare exactly)",
                )


class _Refusals:
    """The set tests that refuse most pairs of statements before any wildcard comparison, as
    an index: for an inner statement, a bit mask of the statements that pass them (comparable,
    and covering its actions and its resources as sets, unless they have a wildcard there).
    The same pairs as testing each one, without a Python step per refused pair."""

    __slots__ = ("_action_wild", "_actions", "_all", "_resource_wild", "_resources")

    def __init__(self, summaries: Sequence[_Summary]) -> None:
        actions: dict[str, int] = {}
        resources: dict[str, int] = {}
        every = action_wild = resource_wild = 0
        for j, s in enumerate(summaries):
            if not s.comparable:
                continue
            bit = 1 << j
            every |= bit
            if s.action_wild:
                action_wild |= bit
            if s.resource_wild:
                resource_wild |= bit
            for text in s.actions:  # type: ignore[union-attr]
                actions[text] = actions.get(text, 0) | bit
            for text in s.resources:  # type: ignore[union-attr]
                resources[text] = resources.get(text, 0) | bit
        self._all = every
        self._action_wild = action_wild
        self._resource_wild = resource_wild
        self._actions = actions
        self._resources = resources

    def fitting(self, inner: _Summary) -> int:
        """The statements that are comparable, have an action wildcard or list every action of
        `inner` (folded), and have a resource wildcard or list every resource of `inner`."""
        every = self._all
        listed = every
        index = self._actions
        for text in inner.actions:  # type: ignore[union-attr]
            listed &= index.get(text, 0)
        found = every & (self._action_wild | listed)
        listed = every
        index = self._resources
        for text in inner.resources:  # type: ignore[union-attr]
            listed &= index.get(text, 0)
        return found & (self._resource_wild | listed)


def _spend_each(budget: SearchBudget, steps: int) -> bool:
    """`budget.spend()` called once per step, stopping at the first that fails: False then."""
    if budget.left >= steps:
        budget.left -= steps
        return True
    if steps:
        budget.left -= max(1, budget.left + 1)
        return False
    return True


def _statement_candidates(summaries: Sequence[_Summary], budget: SearchBudget) -> _Candidates:
    """For each statement, the statements that may cover it: all of them for a short policy.
    For a long one, the statements of its effect and principal that cover its most selective
    action or resource: those that list it, or have a wildcard whose literal prefix and suffix
    fit it (an outer statement must cover every action and every resource of the inner one, so
    any of them can pick the candidates)."""
    if len(summaries) <= _SMALL:
        same: dict[tuple[object, ...], list[int]] = {}
        for j, s in enumerate(summaries):
            same.setdefault((s.effect, s.principal), []).append(j)
        return lambda i: same[(summaries[i].effect, summaries[i].principal)]
    literal: dict[tuple[object, ...], list[int]] = {}
    wild: dict[tuple[object, ...], _PrefixIndex] = {}
    groups: dict[tuple[object, ...], list[int]] = {}
    for j, s in enumerate(summaries):
        if s.actions is None or s.resources is None:
            continue
        group = (s.effect, s.principal)
        groups.setdefault(group, []).append(j)
        for dimension, entries in (("a", s.actions), ("r", s.resources)):
            for text in sorted(entries):  # a fixed order, whatever the hash seed
                if _wild(text):
                    wild.setdefault((*group, dimension), _PrefixIndex(budget)).add(j, text)
                else:
                    literal.setdefault((*group, dimension, text), []).append(j)

    def candidates(i: int) -> list[int]:
        s = summaries[i]
        if s.actions is None or s.resources is None:
            return []
        group = (s.effect, s.principal)
        if not s.actions or not s.resources:  # an empty list: any statement may cover it
            return groups.get(group, [])
        best: tuple[int, str, str] | None = None
        for dimension, entries in (("a", s.actions), ("r", s.resources)):
            index = wild.get((*group, dimension))
            for text in sorted(entries):  # ties go to the first in a fixed order
                size = len(literal.get((*group, dimension, text), ()))
                if index is not None:
                    size += index.estimate(text)
                if best is None or size < best[0]:
                    best = (size, dimension, text)
        assert best is not None
        _, dimension, text = best
        found = set(literal.get((*group, dimension, text), ()))
        index = wild.get((*group, dimension))
        if index is not None:
            found.update(index.candidates(text))
        return sorted(found)

    return candidates


_SMALL = 32
"""Up to this many statements, every pair is compared (cheaper than building an index)."""
_UNMASKED, _MASKED = 4, 64
"""Between these many statements, `_Refusals` refuses pairs by bit masks (below, testing the
few pairs costs less than building the masks; above, the masks take too much memory)."""
_SMALL_LIST = 8
"""Likewise for the entries of one Action or Resource list."""
_Candidates = Callable[[int], list[int]]


_Entry = tuple[Statement, str, int, str, str]
"""An entry problem: the statement, the element name and the entry's index (its node is built
only for the report), the message, the hint."""

_LISTS = (
    ("Action", True),
    ("NotAction", True),
    ("Resource", False),
    ("NotResource", False),
)


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
    exhausted = False
    for sf in context.statements:
        if not sf.features & NEEDS_LIST:
            continue  # no element lists two entries or more
        st = sf.statement
        raw = st.raw
        for name, actions in _LISTS:
            entries = raw.get(name)
            if type(entries) is not list or len(entries) < 2:
                continue  # absent, or one value: nothing to repeat or cover
            keys: list[str | None]
            if set(map(type, entries)) == _ONLY_STR:  # the usual case, tested in C
                texts: list[str | None] = entries
                joined = "\n".join(entries)
                wild = "*" in joined or "?" in joined
                if not wild and not actions and len(set(entries)) == len(entries):
                    continue  # no repeat, and without a wildcard nothing covers another entry
                if not actions:
                    keys = entries
                else:  # folded by the statement's summary already, when it was made
                    folded = sf.memo.get(_FOLDED_ACTIONS) if name == "Action" else None
                    keys = folded if folded is not None else _folded(entries, joined)
            else:
                texts = [t if type(t) is str else None for t in entries]
                keys = [_fold_fast(t) if t is not None and actions else t for t in texts]
                wild = _wild("".join([t for t in texts if t is not None]))
            if not wild and len(set(keys)) == len(keys):
                continue  # no repeat, and without a wildcard nothing covers another entry
            # Each key's first place (the last written wins: going backwards, the first).
            first = dict(zip(reversed(keys), range(len(keys) - 1, -1, -1), strict=True))
            kind = "action" if actions else "resource"
            if len(first) < len(keys):
                for i, key in enumerate(keys):
                    if key is None:
                        continue
                    j = first[key]
                    if j != i:
                        same = (
                            "" if texts[j] == texts[i] else f" ({texts[j]!r}; case does not matter)"
                        )
                        found[f"{kind}-duplicate"].append(
                            (
                                st,
                                name,
                                i,
                                f"{texts[i]!r} appears twice in {name} of {sf.where}{same}.",
                                "Remove the second entry.",
                            )
                        )
            if not wild or exhausted:
                continue
            stopped = _subsumed_entries(context, found, name, sf, texts, keys, first)
            if stopped is not None:
                index, question = stopped
                context.undecided(st.entry_location(name, index), question)
                exhausted = context.budget.left <= 0
    context.memo["entries"] = found
    if not any(found.values()):
        context.clear(NEEDS_ENTRY_PROBLEM)  # the other entry checks have nothing to do
    return found


def _folded(texts: list[str], joined: str | None = None) -> list[str | None]:
    """`_fold_fast` of each string (action names compare case-insensitively); for ASCII, in one
    pass over them all (`joined`: the strings joined by line breaks, when the caller has it)."""
    if joined is None:
        joined = "\n".join(texts)
    if joined.isascii():
        folded = joined.lower().split("\n")
        if len(folded) == len(texts):  # no entry holds a line break
            return folded  # type: ignore[return-value]
        return list(map(str.lower, texts))
    return list(map(_fold_fast, texts))


def _ends_of(
    keys: list[str | None], known: tuple[dict[str, str], dict[str, str]]
) -> tuple[list[str], list[str]]:
    """The literal prefix and the reversed literal suffix (`literal_ends`) of each key ("" for
    None). `known` holds those of the strings seen before, by string (`CatalogFacts.heads` and
    `.backs`): a list of strings is read from it in two C passes, and the strings not in it yet
    are worked out and added."""
    if None in keys:  # a list with values of other types: entry by entry
        heads, backs = [], []
        for key in keys:
            head, tail = literal_ends(key) if key is not None else ("", "")
            heads.append(head)
            backs.append(tail[::-1])
        return heads, backs
    known_heads, known_backs = known
    read_heads = list(map(known_heads.get, keys))  # type: ignore[arg-type]
    read_backs = list(map(known_backs.get, keys))  # type: ignore[arg-type]
    if None in read_heads or None in read_backs:  # (trimmed together: both, in fact)
        for k, key in enumerate(keys):
            if read_heads[k] is None or read_backs[k] is None:
                head, tail = literal_ends(key)  # type: ignore[arg-type]
                read_heads[k] = known_heads[key] = head  # type: ignore[index]
                read_backs[k] = known_backs[key] = tail[::-1]  # type: ignore[index]
    return read_heads, read_backs  # type: ignore[return-value]


def _subsumed_entries(
    context: LintContext,
    found: dict[str, list[_Entry]],
    name: str,
    sf: StatementFacts,
    texts: list[str | None],
    keys: list[str | None],
    first: dict[str | None, int],
) -> tuple[int, str] | None:
    """Report the entries of one list that another entry covers; when the comparison was not
    complete, the first entry it left undecided and the question.

    An outer (wildcard) entry can cover an inner one only if its literal prefix starts the
    inner's and its literal suffix ends the inner's (`includes` answers False for any other
    pair, at no cost). A short list compares every pair, at one budget step each; for a long one
    the candidates are looked up (`_fitting_table`), at one step per lookup and distinct (prefix
    length, suffix length) of the outers, and one per candidate, as `_PrefixIndex` spends. Pairs
    that cannot fit and lookups that find nothing are counted, and charged in bulk where the next
    comparison (or the end) would charge them."""
    actions = name.endswith("Action")
    kind = "action" if actions else "resource"
    facts = context.facts
    budget = context.budget
    small = len(keys) <= _SMALL_LIST
    heads, backs = _ends_of(keys, (facts.heads, facts.backs))
    every = len(first) == len(keys) and None not in first  # every entry a first occurrence
    if every:
        inners = list(range(len(keys)))
        # An entry has a wildcard where its literal prefix is shorter than it.
        wild = map(operator.lt, map(len, heads), map(len, keys))  # type: ignore[arg-type]
        outers = list(itertools.compress(inners, wild))
        if small:
            # Every pair of an inner and another outer is compared at one step: when no entry's
            # suffix ends another's, or no prefix starts another's, no pair fits, and those
            # steps are all that is left (charged at once when the budget has them).
            steps = len(outers) * (len(keys) - 1)  # each outer is an inner too
            if budget.left >= steps and (_apart(backs) or _apart(heads)):
                budget.left -= steps
                return None
    else:
        inners = [i for i, key in enumerate(keys) if key is not None and first[key] == i]
        outers = [j for j in inners if "*" in keys[j] or "?" in keys[j]]  # type: ignore[operator]
    lookup: Callable[[int], list[int]] | None = None
    shapes = 0
    order: Iterable[int] = inners
    if not small:
        if len(outers) == len(keys):  # every entry is an outer (each has a wildcard)
            outer_heads, outer_backs = heads, backs
        else:
            outer_heads = [heads[j] for j in outers]
            outer_backs = [backs[j] for j in outers]
        head_lengths = set(map(len, outer_heads))
        if len(head_lengths) == 1:  # the usual case: the shapes differ by suffix alone
            shapes = len(set(map(len, outer_backs)))
        else:
            shapes = len(set(zip(map(len, outer_heads), map(len, outer_backs), strict=True)))
    if not small and (
        # Resources tell apart by suffix more often (a region or account wildcard before
        # distinct names), actions by prefix: that test first.
        (
            _apart(heads if every else [heads[i] for i in inners])
            or _apart(backs if every else [backs[i] for i in inners])
        )
        if actions
        else (
            _apart(backs if every else [backs[i] for i in inners])
            or _apart(heads if every else [heads[i] for i in inners])
        )
    ):
        # No entry's prefix starts another's (or no suffix ends another's): no pair fits, and
        # only the lookups' budget steps remain.
        budget.left -= shapes * len(inners)
        return None
    if not small:  # a long list: look the candidates up
        # A table for a very long list, unless it would hold more pairs than the budget
        # allows (each candidate pair costs a step): then, and for a shorter list, the
        # candidates are looked up one entry at a time.
        table = (
            _fitting_table(heads, backs, inners, outers, 4 * len(inners) + max(budget.left, 0))
            if len(inners) > _LONG_LIST
            else None
        )
        if table is None:
            lookup = _fitting_outers(heads, backs, outers)
        else:
            lookup = table.__getitem__
            order = sorted(table)  # the others find nothing: only their lookups are charged
    undecided: tuple[int, str] | None = None
    looked_up = 0  # lookups not yet charged
    place = -1  # where in `inners` the last entry compared is
    candidates = outers
    for i in order:
        if lookup is not None:
            if order is not inners:
                at = bisect.bisect_left(inners, i)
                looked_up += at - place - 1  # the entries in between found nothing
                place = at
            candidates = lookup(i)
            if not candidates or (len(candidates) == 1 and candidates[0] == i):
                looked_up += 1  # found nothing but the entry itself
                continue
            budget.left -= shapes * (looked_up + 1)  # what each `_PrefixIndex` lookup spends
            looked_up = 0
        head, back = heads[i], backs[i]
        pending = 0  # pairs that cannot fit, not yet charged: one budget step each
        for j in candidates:
            if j == i:
                continue
            if not (head.startswith(heads[j]) and back.startswith(backs[j])):
                pending += 1  # `includes` is False for it, at no cost but the pair's step
                continue
            if not _spend_each(budget, pending + 1):
                return i, _too_many(texts, i, name, sf)
            pending = 0
            outer_text, inner_text = texts[j], texts[i]
            assert outer_text is not None
            assert inner_text is not None
            covers = facts.includes(outer_text, inner_text, ignore_case=actions, budget=budget)
            if covers is None:
                if undecided is None:
                    undecided = (
                        i,
                        (
                            f"whether another entry of {name} in {sf.where} covers {texts[i]!r} "
                            "(the wildcards are too complex to compare exactly)"
                        ),
                    )
                continue
            if not covers:
                continue
            if j > i and facts.includes(inner_text, outer_text, ignore_case=actions, budget=budget):
                continue  # equivalent entries: the later one is reported
            found[f"{kind}-subsumed"].append(
                (
                    sf.statement,
                    name,
                    i,
                    f"{inner_text!r} in {name} of {sf.where} is already covered by "
                    f"{outer_text!r} in the same list.",
                    f"Remove {inner_text!r}, or replace {outer_text!r} with a narrower entry if "
                    "it covers more than intended.",
                )
            )
            break
        else:
            if not _spend_each(budget, pending):
                return i, _too_many(texts, i, name, sf)
    if order is not inners:
        looked_up += len(inners) - place - 1
    budget.left -= shapes * looked_up
    return undecided


def _apart(texts: list[str]) -> bool:
    """Whether none of these strings starts another (or equals it): sorted, a string that
    starts another starts its successor too, so neighbours tell."""
    ordered = sorted(texts)
    return not any(map(str.startswith, ordered[1:], ordered[:-1]))


def _too_many(texts: list[str | None], i: int, name: str, sf: StatementFacts) -> str:
    return (
        f"whether {texts[i]!r} and the entries after it in {name} of {sf.where} are covered by "
        "other entries (the list has too many wildcards to compare every pair)"
    )


def _fitting_table(
    heads: list[str], backs: list[str], inners: list[int], outers: list[int], limit: int
) -> dict[int, list[int]] | None:
    """For each inner entry, the other outers whose literal prefix (`heads`) starts its prefix
    and whose literal suffix ends its suffix (`backs`, the suffixes reversed, start), in
    increasing order (entries with none are left out); None when that takes more than `limit`
    steps (pairs looked at).

    The entries are sorted by prefix: the strings that start with a prefix sort in one run from
    its first copy, and every outer is in that order itself (an outer is an inner too). An outer
    whose prefix starts no neighbour's fits only itself; most other runs are a few entries long
    and are looked through at once; for the rest the entries are also sorted by reversed
    suffix, and each measures its two runs a step on the shorter so far at a time and looks
    through the one that ends first. A long list of distinct wildcards costs a sort or two and
    a few steps per entry."""
    by_head = sorted(inners, key=heads.__getitem__)
    ordered = list(map(heads.__getitem__, by_head))
    starts_next = list(map(str.startswith, ordered[1:], ordered[:-1]))
    near = set(itertools.compress(range(len(starts_next)), starts_next))
    near = {by_head[k] for k in near} | {by_head[k + 1] for k in near}
    limit -= len(outers)
    last = len(inners)
    table: dict[int, list[int]] = {}
    later: list[int] = []  # outers with a long run of prefixes
    for j in outers:  # in increasing order, so each inner's list is too (but for `later`)
        if j not in near:
            continue  # its prefix run is itself alone
        head, back = heads[j], backs[j]
        start = bisect.bisect_left(ordered, head)  # its run starts at its first copy
        high = start + 1
        while high < last and ordered[high].startswith(head):
            high += 1
            if high - start > _SHORT_RUN:
                later.append(j)
                break
        else:
            limit -= high - start
            if limit < 0:
                return None
            for k in range(start, high):
                i = by_head[k]
                if i != j and backs[i].startswith(back):
                    table.setdefault(i, []).append(j)
    if not later:
        return table
    by_back = sorted(inners, key=backs.__getitem__)
    ordered_backs = list(map(backs.__getitem__, by_back))
    for j in later:
        head, back = heads[j], backs[j]
        start = bisect.bisect_left(ordered, head)
        back_start = bisect.bisect_left(ordered_backs, back)
        a, b = start, back_start  # the ends of the runs measured so far
        while True:
            limit -= 1
            if a - start <= b - back_start:
                if a < last and ordered[a].startswith(head):
                    a += 1
                    continue
                run, low, high, by_prefix = by_head, start, a, True
            else:
                if b < last and ordered_backs[b].startswith(back):
                    b += 1
                    continue
                run, low, high, by_prefix = by_back, back_start, b, False
            break
        limit -= high - low
        if limit < 0:
            return None
        for k in range(low, high):
            i = run[k]
            if i != j and (backs[i].startswith(back) if by_prefix else heads[i].startswith(head)):
                table.setdefault(i, []).append(j)
    for found in table.values():
        found.sort()  # the outers of `later` were added after the others
    return table


_LONG_LIST = 256
"""Past this many distinct entries, the candidates of a list come from `_fitting_table`."""
_SHORT_RUN = 16
"""Runs of prefixes up to this long are looked through without measuring the suffix run."""


def _fitting_outers(
    heads: list[str], backs: list[str], outers: list[int]
) -> Callable[[int], list[int]]:
    """`_PrefixIndex` of the outer (wildcard) entries, built in one pass without its per-entry
    calls: a function listing, for an inner entry, the outers that may cover it (itself
    included, in increasing order), at one dictionary lookup per distinct (prefix length,
    suffix length) of the outers."""
    buckets: dict[tuple[str, str], list[int]] = {}
    shapes: list[tuple[int, int]] = []
    for j in outers:  # every outer is an inner too: a first occurrence
        key = (heads[j], backs[j])
        bucket = buckets.get(key)
        if bucket is None:
            bucket = buckets[key] = []
            shape = (len(key[0]), len(key[1]))
            if shape not in shapes:
                shapes.append(shape)
        bucket.append(j)

    def fitting(i: int) -> list[int]:
        prefix, back = heads[i], backs[i]
        start, end = len(prefix), len(back)
        found: list[list[int]] = []
        for p, q in shapes:
            if p <= start and q <= end:
                bucket = buckets.get((prefix[:p], back[:q]))
                if bucket is not None:
                    found.append(bucket)
        if len(found) == 1:
            return found[0]
        return sorted(index for bucket in found for index in bucket)

    return fitting


def _report_entries(check: RuleCheck, context: LintContext) -> list[Finding]:
    return [
        context.finding(check, st.entry_address(name, i), message, hint)
        for st, name, i, message, hint in _entry_problems(context)[check.id]
    ]


@rule(
    "action-duplicate",
    Severity.SUGGESTION,
    "An action listed twice in one Action or NotAction list (names are case-insensitive).",
    needs=NEEDS_ENTRY_PROBLEM,
)
def _duplicate_actions(
    check: RuleCheck, document: PolicyDocument, context: LintContext
) -> list[Finding]:
    return _report_entries(check, context)


@rule(
    "resource-duplicate",
    Severity.SUGGESTION,
    "A resource listed twice in one Resource or NotResource list.",
    needs=NEEDS_ENTRY_PROBLEM,
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
    needs=NEEDS_ENTRY_PROBLEM,
)
def _subsumed_actions(
    check: RuleCheck, document: PolicyDocument, context: LintContext
) -> list[Finding]:
    return _report_entries(check, context)


@rule(
    "resource-subsumed",
    Severity.SUGGESTION,
    "A resource that a wildcard in the same list already covers.",
    needs=NEEDS_ENTRY_PROBLEM,
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
