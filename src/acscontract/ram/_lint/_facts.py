"""What the linter derives once from the action catalog, with caches for repeated patterns.

Everything about the catalogued actions (names, access level, billing, resource ARN templates,
condition keys) comes from `acscontract.spec.action_catalog()`; nothing here names an action, a
service or a key. A policy corpus repeats the same few action and resource patterns, so matching
a pattern against the 400-odd known action names is done once per distinct pattern.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from acscontract.ram._arn import template_pattern
from acscontract.ram._wildcard import (
    DEFAULT_BUDGET,
    Pattern,
    SearchBudget,
    compile_union,
    decide_inclusion,
    fold,
    overlaps,
)
from acscontract.spec import ActionCatalog, CatalogEntry, ConditionKey, ResourceType

__all__ = [
    "ACCOUNT",
    "PREFIX",
    "REGION",
    "RELATIVE",
    "SERVICE",
    "ActionPattern",
    "ArnParts",
    "CatalogFacts",
    "TemplateShape",
    "has_wildcard",
    "parse_arn",
]


def has_wildcard(text: str) -> bool:
    """Whether `text` contains a RAM wildcard (`*` or `?`)."""
    return "*" in text or "?" in text


ArnParts = tuple[str, str, str, str, str]
"""The five colon-separated parts of a resource ARN, as written: prefix, service, region,
account and relative id (index them with `PREFIX` ... `RELATIVE`). A plain tuple of strings,
which the garbage collector stops tracking: a corpus of new resources keeps many of them."""
PREFIX, SERVICE, REGION, ACCOUNT, RELATIVE = range(5)


def parse_arn(text: str) -> ArnParts | None:
    """The parts of `acs:<service>:<region>:<account>:<relative-id>`, or None if there are not five.

    The relative id may itself contain colons (they stay in the last part).
    """
    parts = text.split(":", 4)
    if len(parts) != 5:
        return None
    return tuple(parts)  # type: ignore[return-value]


_PLACEHOLDER = re.compile(r"\{#([A-Za-z0-9_]+)\}")


@dataclass(frozen=True, slots=True)
class TemplateShape:
    """One resource type's ARN template, split for shape checks.

    `relative` is the template's relative id (`domain/{#DomainName}`); `relative_pattern` reads
    each placeholder as any run; `relative_regex` captures each placeholder's value from a
    written relative id; `placeholders` names them in order.
    """

    resource_type: ResourceType
    service: str
    relative: str
    relative_pattern: Pattern
    relative_regex: re.Pattern[str]
    placeholders: tuple[str, ...]
    example: str

    @classmethod
    def of(cls, resource_type: ResourceType) -> TemplateShape:
        template = resource_type.arn_template
        relative = template.split(":", 4)[4] if template.count(":") >= 4 else template
        regex_parts: list[str] = []
        last = 0
        names: list[str] = []
        for m in _PLACEHOLDER.finditer(relative):
            regex_parts.append(re.escape(relative[last : m.start()]))
            regex_parts.append("(.*)")
            names.append(m.group(1))
            last = m.end()
        regex_parts.append(re.escape(relative[last:]))
        example = _PLACEHOLDER.sub(lambda m: f"<{m.group(1)}>", relative)
        return cls(
            resource_type=resource_type,
            service=resource_type.service,
            relative=relative,
            relative_pattern=template_pattern(relative),
            relative_regex=re.compile("".join(regex_parts), re.DOTALL),
            placeholders=tuple(names),
            example=example,
        )


@dataclass(frozen=True, slots=True)
class ActionPattern:
    """What one written action pattern covers among the known and the catalogued actions.

    `only_catalogued`: it matches at least one catalogued action and no other known action.
    `unknown`: it names a known product's prefix but matches none of its actions.
    `prefix_known`: its service prefix is a catalogued product's (or a wildcard).
    `named`: it names a known product's prefix (or is `*`) and is not `unknown`, so the
    action-name checks have nothing to say about it.
    """

    entries: tuple[CatalogEntry, ...]
    wildcard: bool
    only_catalogued: bool
    unknown: bool
    prefix_known: bool
    named: bool = False


_NO_ENTRIES: dict[tuple[bool, bool, bool, bool], ActionPattern] = {}
"""The `ActionPattern`s that cover no catalogued action, by (wildcard, unknown, prefix_known,
named): a list of thousands of distinct patterns shares a handful of them."""

SUGGESTION_COST = 300
"""Budget steps one "did you mean" costs (about its time in microseconds)."""


class _NearNames:
    """Names, with an index of their character trigrams to find the closest one quickly.

    `best` ranks the names by shared trigrams and compares only the top few exactly (difflib's
    ratio, as `difflib.get_close_matches` does), instead of comparing every name.
    """

    __slots__ = ("_grams", "_names")

    def __init__(self, names: Iterable[str]) -> None:
        self._names = list(names)
        self._grams: dict[str, list[int]] = {}
        for i, name in enumerate(self._names):
            for gram in _trigrams(name):
                self._grams.setdefault(gram, []).append(i)

    def best(self, word: str, cutoff: float, keep: int = 12) -> str | None:
        import difflib  # only for a "did you mean"

        counts: dict[int, int] = {}
        grams = self._grams
        for gram in _trigrams(word):
            for i in grams.get(gram, ()):
                counts[i] = counts.get(i, 0) + 1
        ranked = sorted(counts, key=lambda i: -counts[i])[:keep]
        matcher = difflib.SequenceMatcher()
        matcher.set_seq2(word)
        best: tuple[float, str] | None = None
        for i in ranked:
            name = self._names[i]
            matcher.set_seq1(name)
            if (
                matcher.real_quick_ratio() >= cutoff
                and matcher.quick_ratio() >= cutoff
                and (score := matcher.ratio()) >= cutoff
                and (best is None or (score, name) > best)
            ):
                best = (score, name)
        return best[1] if best is not None else None


class _NameIndex:
    """Sorted names, to find those a wildcard matches without testing every one: by the
    pattern's literal prefix (a range of the sorted names), else by its longest literal piece
    (found in all the names at once, in C), else all of them."""

    __slots__ = ("_heads", "_joined", "_names", "_starts")

    def __init__(self, names: Iterable[str]) -> None:
        self._names = sorted(names)
        self._heads: frozenset[str] | None = None
        """Every start of a name (made for the first wildcard): a pattern whose literal prefix
        is none matches nothing."""
        self._joined = "\n".join(self._names)
        starts, at = [], 0
        for name in self._names:
            starts.append(at)
            at += len(name) + 1
        self._starts = starts

    def matching(self, pattern: str) -> tuple[str, ...]:
        candidates = self._candidates(pattern)
        if not candidates:
            return ()
        return tuple(filter(compile_union((pattern,)), candidates))

    def _candidates(self, pattern: str) -> list[str]:
        names = self._names
        star, mark = pattern.find("*"), pattern.find("?")
        cut = mark if star < 0 or 0 <= mark < star else star
        head = pattern[:cut] if cut >= 0 else pattern
        heads = self._heads
        if heads is None:
            heads = self._heads = frozenset(n[:k] for n in names for k in range(len(n) + 1))
        if head not in heads:
            return []
        if head:
            first = bisect.bisect_left(names, head)
            last = bisect.bisect_left(names, head + "\U0010ffff", first)
            return names[first:last]
        piece = max(re.split(r"[*?]", pattern), key=len)
        if not piece or "\n" in piece:
            return names
        joined, starts = self._joined, self._starts
        found: list[str] = []
        at = joined.find(piece)
        while at >= 0:
            i = bisect.bisect_right(starts, at) - 1
            found.append(names[i])
            at = joined.find(piece, starts[i] + len(names[i]) + 1)  # a name counts once
        return found


def _trigrams(word: str) -> set[str]:
    padded = f"^{word}$"
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


class CatalogFacts:
    """The catalog as the checks need it.

    Action names compare case-insensitively (RAM's rule), so every lookup folds case.
    """

    __slots__ = (
        "_actions",
        "_arns",
        "_caches",
        "_entries",
        "_entry_by_name",
        "_global_keys",
        "_includes",
        "_names",
        "_near",
        "_patterns",
        "_suggestions",
        "_template",
        "arn_prefixes",
        "backs",
        "catalog",
        "entries",
        "global_keys",
        "heads",
        "key_prefixes",
        "known",
        "known_by_name",
        "known_names",
        "known_patterns",
        "memo",
        "prefixes",
        "remembered_inclusions",
        "resource_atoms",
        "resource_services",
        "shapes",
    )

    def __init__(self, catalog: ActionCatalog) -> None:
        self.catalog = catalog
        self.known: dict[str, str] = {fold(a): a for a in catalog.known_actions}
        self.known_names: tuple[str, ...] = tuple(sorted(self.known))
        self.known_by_name: dict[str, str] = {n.partition(":")[2]: n for n in self.known_names}
        """Folded action name without its prefix → folded full name."""
        self.prefixes = frozenset(fold(p) for p in catalog.service_prefixes)
        self._near: dict[str, _NearNames] | None = None  # built for the first suggestion
        self.entries: tuple[CatalogEntry, ...] = tuple(catalog.entries.values())
        self._entry_by_name = {fold(e.action): e for e in self.entries}
        self._names = _NameIndex(self.known_names)
        self.global_keys: tuple[ConditionKey, ...] = catalog.global_condition_keys
        self.shapes: dict[str, tuple[TemplateShape, ...]] = {
            entry.action: tuple(TemplateShape.of(rt) for rt in entry.resource_types)
            for entry in self.entries
        }
        self.resource_services = frozenset(
            shape.service for shapes in self.shapes.values() for shape in shapes
        )
        self.arn_prefixes = frozenset(
            shape.resource_type.arn_template.split(":", 1)[0]
            for shapes in self.shapes.values()
            for shape in shapes
        )
        """The first part of every catalogued ARN template (`acs`)."""
        self.key_prefixes = frozenset(
            (k.prefix or k.key).partition(":")[0].lower() for k in self.global_keys
        )
        """The service part of the global condition keys (`acs`)."""
        self.memo: dict[object, object] = {}
        """Results of checks that depend only on the catalog and their arguments."""
        self._arns: dict[str, ArnParts | None] = {}
        self._global_keys: dict[str, ConditionKey | None] = {}
        self._actions: dict[str, tuple[str, ...]] = {}
        self._patterns: dict[str, ActionPattern] = {}
        self.known_patterns = self._patterns
        """`action_pattern`'s answers so far, by pattern as written (read it directly in a hot
        loop, and call `action_pattern` on a miss)."""
        self._entries: dict[str, tuple[CatalogEntry, ...]] = {}
        self._suggestions: dict[str, str | None] = {}
        self._includes: dict[tuple[str, str, bool], bool | _Known] = {}
        """Inclusion answers: those that took no search steps, and the others with their steps
        (charged again on every use; see `_remember`)."""
        self.remembered_inclusions = self._includes
        """`includes`' answers by (general, specific, ignore_case): an answer that is a bool is
        what `includes` returns for the pair (for any budget, with no step spent), so a hot
        loop may read it directly; for any other value, or none, call `includes`."""
        self._template: dict[tuple[str, str, bool], bool | _Known] = {}
        self.resource_atoms: dict[str, Any] = {}
        """What the resource checks derive from each resource string (their own objects)."""
        self.heads: dict[str, str] = {}
        """The literal prefix (`literal_ends`) of each entry of a list compared for covered
        entries, by entry (folded, for actions); strings alone, so the collector never walks
        it."""
        self.backs: dict[str, str] = {}
        """Likewise, the literal suffix of each entry, reversed."""
        self._caches: tuple[dict[Any, Any], ...] = (
            self.resource_atoms,
            self.heads,
            self.backs,
            self.memo,
            self._arns,
            self._global_keys,
            self._actions,
            self._patterns,
            self._entries,
            self._suggestions,
            self._includes,
            self._template,
        )

    def actions_matching(self, pattern: str) -> tuple[str, ...]:
        """The known action names (folded) that the action `pattern` matches."""
        key = fold(pattern)
        found = self._actions.get(key)
        if found is None:
            found = self._actions[key] = self._actions_of(key)
        return found

    def _actions_of(self, key: str) -> tuple[str, ...]:
        if "*" in key or "?" in key:
            return self._names.matching(key)
        return (key,) if key in self.known else ()

    def entries_matching(self, pattern: str) -> tuple[CatalogEntry, ...]:
        """The catalogued actions that the action `pattern` matches."""
        key = fold(pattern)
        found = self._entries.get(key)
        if found is None:
            by_name = self._entry_by_name
            found = tuple(by_name[name] for name in self.actions_matching(key) if name in by_name)
            self._entries[key] = found
        return found

    def trim(self, limit: int = 50_000) -> None:
        """Empty any cache that has grown past `limit` entries (a long run over many distinct
        policies must not grow without bound; the caches refill from what is linted next)."""
        caches = self._caches
        if max(map(len, caches)) > limit:  # one C call in the usual case: nothing to trim
            for cache in caches:
                if len(cache) > limit:
                    cache.clear()

    def action_pattern(self, text: str) -> ActionPattern:
        """What the action pattern `text` (as written) covers; cached."""
        found = self._patterns.get(text)
        if found is None:
            key = fold(text)
            known = self._actions.get(key)
            if known is None:
                known = self._actions_of(key)
                if known:  # (most patterns of a long list of typos match nothing: not kept)
                    self._actions[key] = known
            entries = self._entries.get(key) if known else ()
            if entries is None:
                by_name = self._entry_by_name
                entries = self._entries[key] = tuple(
                    [by_name[name] for name in known if name in by_name]
                )
            prefix, colon, _ = key.partition(":")
            unknown = not known and prefix in self.prefixes
            prefix_known = bool(colon) and (prefix in self.prefixes or has_wildcard(prefix))
            wildcard = "*" in text or "?" in text
            only = bool(entries) and len(known) == len(entries)
            named = not unknown and (prefix_known or text == "*")
            if entries:
                found = ActionPattern(entries, wildcard, only, unknown, prefix_known, named)
            else:  # one of a few shapes: shared, not built per pattern
                shape = (wildcard, unknown, prefix_known, named)
                found = _NO_ENTRIES.get(shape)
                if found is None:
                    found = _NO_ENTRIES[shape] = ActionPattern(
                        (), wildcard, False, unknown, prefix_known, named
                    )
            self._patterns[text] = found
        return found

    def suggest_action(self, name: str, budget: SearchBudget | None = None) -> str | None:
        """The known action `name` was most likely meant to be, or None (also when `budget`
        cannot pay `SUGGESTION_COST`: a document with thousands of typos gets suggestions
        for the first ones only, whatever earlier documents asked)."""
        if budget is not None and not budget.spend(SUGGESTION_COST):
            return None
        key = fold(name)
        if key in self._suggestions:
            return self._suggestions[key]
        prefix, _, rest = key.partition(":")
        near = self._near
        if near is None:
            near = self._near = {
                p: _NearNames([n for n in self.known_names if n.startswith(p + ":")])
                for p in self.prefixes
            }
            near[""] = _NearNames(self.known_names)  # no prefix is "" after partition
            near[":rest"] = _NearNames(list(self.known_by_name))
        close = (near.get(prefix) or near[""]).best(key, 0.75)
        if close is None and rest:
            # The name part alone, for a wrong prefix (`cdn:RealTimeRecordCommand`).
            by_rest = self.known_by_name
            if rest in by_rest:
                close = by_rest[rest]
            else:
                part = near[":rest"].best(rest, 0.8)
                close = by_rest[part] if part is not None else None
        found = self.known[close] if close is not None else None
        self._suggestions[key] = found
        return found

    def includes(
        self,
        general: str,
        specific: str,
        *,
        ignore_case: bool,
        budget: SearchBudget | None = None,
    ) -> bool | None:
        """Whether every string the wildcard `specific` matches, `general` matches too; None
        when that could not be decided within the budget (see `decide_inclusion`)."""
        if general == specific:
            return True
        key = (general, specific, ignore_case)
        remembered = self._includes.get(key)
        if remembered is not None:
            return remembered if isinstance(remembered, bool) else _charge(remembered, budget)
        known: _Known
        if not has_wildcard(general):
            found: bool | None = not has_wildcard(specific) and (
                fold(general) == fold(specific) if ignore_case else False
            )
            known = (found, 0)
        elif not _ends_fit(general, specific, ignore_case):
            known = (False, 0)
        else:
            known = _decide(general, specific, ignore_case, budget)
        return _remember(self._includes, key, known)  # an undecided pair stays undecided too

    def relative_vs_template(
        self,
        relative: str,
        shape: TemplateShape,
        *,
        every: bool,
        budget: SearchBudget | None = None,
    ) -> bool | None:
        """Whether the wildcard relative id `relative` matches every relative id of `shape`
        (`every`; None when undecided within the budget), or at least one of them."""
        key = (relative, shape.relative, every)
        remembered = self._template.get(key)
        if remembered is not None:
            return remembered if isinstance(remembered, bool) else _charge(remembered, budget)
        known: _Known
        if every:
            known = (
                _decide(relative, shape.relative_pattern, False, budget)
                if has_wildcard(relative)
                else (False, 0)
            )
        elif not has_wildcard(relative):
            known = (shape.relative_pattern.matches(relative), 0)
        else:
            known = (overlaps(relative, shape.relative_pattern), 0)
        return _remember(self._template, key, known)

    def arn(self, text: str) -> ArnParts | None:
        """`parse_arn(text)`, cached (policies repeat the same resources)."""
        try:
            return self._arns[text]
        except KeyError:
            found = self._arns[text] = parse_arn(text)
            return found

    def global_key(self, key: str) -> ConditionKey | None:
        """The global condition key `key` names (case-insensitively), or None."""
        try:
            return self._global_keys[key]
        except KeyError:
            found = next((k for k in self.global_keys if k.matches(key)), None)
            self._global_keys[key] = found
            return found

    def entry_key(self, key: str, entries: Iterable[CatalogEntry]) -> ConditionKey | None:
        """The condition key of one of `entries` that `key` names, or None."""
        for entry in entries:
            if not entry.condition_keys:
                continue
            for candidate in entry.condition_keys:
                if candidate.matches(key):
                    return candidate
        return None


def literal_ends(text: str) -> tuple[str, str]:
    """The literal text before the first wildcard of `text` and after its last (both the whole
    text when it has no wildcard)."""
    star, mark = text.find("*"), text.find("?")
    if star < 0:
        if mark < 0:
            return text, text
        first = mark
    else:
        first = star if mark < 0 or star < mark else mark
    last = max(text.rfind("*"), text.rfind("?"))
    return text[:first], text[last + 1 :]


def _ends_fit(general: str, specific: str, ignore_case: bool) -> bool:
    """A necessary condition for `general` to include `specific`, in a few string operations:
    each string `specific` matches starts with its literal prefix (a wildcard there could put any
    other character), so `general`'s literal prefix must start it; likewise for the suffixes."""
    if ignore_case:
        general, specific = fold(general), fold(specific)
    g_head, g_tail = literal_ends(general)
    s_head, s_tail = literal_ends(specific)
    return s_head.startswith(g_head) and s_tail.endswith(g_tail)


_Known = tuple[bool | None, int]
"""An answer to a language question and the search steps it took: `_GIVEN_UP` when a full
`DEFAULT_BUDGET` did not decide it, `_CUT_SHORT` when less than that was left and did not (not
remembered: more steps might decide it)."""

_GIVEN_UP = DEFAULT_BUDGET + 1
_CUT_SHORT = DEFAULT_BUDGET + 2


def _decide(
    general: str, specific: str | Pattern, ignore_case: bool, budget: SearchBudget | None
) -> _Known:
    """`decide_inclusion` with at most `DEFAULT_BUDGET` steps of the shared `budget` (spent),
    and what it took (see `_Known`)."""
    own = SearchBudget(
        DEFAULT_BUDGET if budget is None else max(0, min(DEFAULT_BUDGET, budget.left))
    )
    start = own.left
    found = decide_inclusion(general, specific, ignore_case=ignore_case, budget=own)
    spent = start - max(own.left, 0)
    if budget is not None:
        budget.spend(spent)
    if found is not None:
        return found, spent
    return None, _GIVEN_UP if start == DEFAULT_BUDGET else _CUT_SHORT


def _remember(
    cache: dict[tuple[str, str, bool], bool | _Known], key: tuple[str, str, bool], known: _Known
) -> bool | None:
    """Remember an answer (as itself when it took no steps, the usual case, else with its
    steps), unless a smaller budget than one question may take cut its search short; return
    it."""
    found, steps = known
    if not steps and found is not None:
        cache[key] = found
    elif steps != _CUT_SHORT:
        cache[key] = known
    return found


def _charge(known: _Known, budget: SearchBudget | None) -> bool | None:
    """A remembered answer, charged to `budget` exactly as working it out again would be: its
    steps when they fit in what one question may take now, else None for all of those (so a
    document's findings never depend on what was linted before it)."""
    found, steps = known
    if budget is None:
        return found
    own = max(0, min(DEFAULT_BUDGET, budget.left))
    if steps <= own:
        budget.left -= steps
        return found
    budget.left -= own
    return None
