"""What the linter derives once from the action catalog, with caches for repeated patterns.

Everything about the catalogued actions (names, access level, billing, resource ARN templates,
condition keys) comes from `acscontract.spec.action_catalog()`; nothing here names an action, a
service or a key. A policy corpus repeats the same few action and resource patterns, so matching
a pattern against the 400-odd known action names is done once per distinct pattern.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from acscontract.ram._arn import template_pattern
from acscontract.ram._wildcard import Pattern, compile_union, find_string, fold, includes
from acscontract.spec import ActionCatalog, CatalogEntry, ConditionKey, ResourceType

__all__ = [
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


@dataclass(frozen=True, slots=True)
class ArnParts:
    """The five colon-separated parts of a resource ARN, as written."""

    prefix: str
    service: str
    region: str
    account: str
    relative: str


def parse_arn(text: str) -> ArnParts | None:
    """The parts of `acs:<service>:<region>:<account>:<relative-id>`, or None if there are not five.

    The relative id may itself contain colons (they stay in `relative`).
    """
    parts = text.split(":", 4)
    if len(parts) != 5:
        return None
    return ArnParts(*parts)


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


_OPAQUE = "\ue000"  # stands for one wildcard of the specific pattern; no literal matches it


def _star_includes(general: str, specific: Pattern, ignore_case: bool) -> bool:
    """Exact inclusion L(specific) ⊆ L(general) for a `general` with `*` but no `?`.

    Replace each wildcard of `specific` by one character that no literal of `general` can
    match: only `general`'s stars can absorb it, so `general` matches that string exactly when
    it matches every string of `specific` (any expansion of those wildcards is absorbed the
    same way). One regular-expression match instead of an automaton product.
    """
    text = "".join(t if isinstance(t, str) else _OPAQUE for t in specific.tokens)
    return compile_union((general,), ignore_case=ignore_case)(text)


@dataclass(frozen=True, slots=True)
class ActionPattern:
    """What one written action pattern covers among the known and the catalogued actions.

    `only_catalogued`: it matches at least one catalogued action and no other known action.
    `unknown`: it names a known product's prefix but matches none of its actions.
    `prefix_known`: its service prefix is a catalogued product's (or a wildcard).
    """

    entries: tuple[CatalogEntry, ...]
    wildcard: bool
    only_catalogued: bool
    unknown: bool
    prefix_known: bool


class CatalogFacts:
    """The catalog as the checks need it.

    Action names compare case-insensitively (RAM's rule), so every lookup folds case.
    """

    __slots__ = (
        "_actions",
        "_arns",
        "_entries",
        "_global_keys",
        "_includes",
        "_patterns",
        "_suggestions",
        "_template",
        "arn_prefixes",
        "catalog",
        "entries",
        "global_keys",
        "key_prefixes",
        "known",
        "known_by_name",
        "known_names",
        "memo",
        "prefixes",
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
        self.entries: tuple[CatalogEntry, ...] = tuple(catalog.entries.values())
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
        self._entries: dict[str, tuple[CatalogEntry, ...]] = {}
        self._suggestions: dict[str, str | None] = {}
        self._includes: dict[tuple[str, str, bool], bool] = {}
        self._template: dict[tuple[str, str, bool], bool] = {}

    def actions_matching(self, pattern: str) -> tuple[str, ...]:
        """The known action names (folded) that the action `pattern` matches."""
        key = fold(pattern)
        found = self._actions.get(key)
        if found is None:
            if not has_wildcard(key):
                found = (key,) if key in self.known else ()
            else:
                test = compile_union((key,), ignore_case=True)
                found = tuple(name for name in self.known_names if test(name))
            self._actions[key] = found
        return found

    def entries_matching(self, pattern: str) -> tuple[CatalogEntry, ...]:
        """The catalogued actions that the action `pattern` matches."""
        key = fold(pattern)
        found = self._entries.get(key)
        if found is None:
            if not has_wildcard(key):
                found = tuple(e for e in self.entries if fold(e.action) == key)
            else:
                test = compile_union((key,), ignore_case=True)
                found = tuple(e for e in self.entries if test(e.action))
            self._entries[key] = found
        return found

    def trim(self, limit: int = 50_000) -> None:
        """Empty any cache that has grown past `limit` entries (a long run over many distinct
        policies must not grow without bound; the caches refill from what is linted next)."""
        for cache in (
            self.memo,
            self._arns,
            self._global_keys,
            self._actions,
            self._patterns,
            self._entries,
            self._suggestions,
            self._includes,
            self._template,
        ):
            if len(cache) > limit:
                cache.clear()

    def action_pattern(self, text: str) -> ActionPattern:
        """What the action pattern `text` (as written) covers; cached."""
        found = self._patterns.get(text)
        if found is None:
            entries = self.entries_matching(text)
            known = self.actions_matching(text)
            prefix, colon, _ = text.partition(":")
            prefix = fold(prefix)
            found = self._patterns[text] = ActionPattern(
                entries=entries,
                wildcard=has_wildcard(text),
                only_catalogued=bool(entries) and len(known) == len(entries),
                unknown=not known and prefix in self.prefixes,
                prefix_known=bool(colon) and (prefix in self.prefixes or has_wildcard(prefix)),
            )
        return found

    def suggest_action(self, name: str) -> str | None:
        """The known action `name` was most likely meant to be, or None."""
        key = fold(name)
        if key in self._suggestions:
            return self._suggestions[key]
        prefix, _, rest = key.partition(":")
        pool = [n for n in self.known_names if n.startswith(prefix + ":")] or list(self.known_names)
        close = difflib.get_close_matches(key, pool, n=1, cutoff=0.75)
        if not close and rest:
            # The name part alone, for a wrong prefix (`cdn:RealTimeRecordCommand`).
            by_rest = self.known_by_name
            close = [by_rest[rest]] if rest in by_rest else []
            if not close:
                near = difflib.get_close_matches(rest, list(by_rest), n=1, cutoff=0.8)
                close = [by_rest[near[0]]] if near else []
        found = self.known[close[0]] if close else None
        self._suggestions[key] = found
        return found

    def includes(self, general: str, specific: str, *, ignore_case: bool) -> bool:
        """Whether every string the wildcard `specific` matches, `general` matches too."""
        if general == specific:
            return True
        key = (general, specific, ignore_case)
        found = self._includes.get(key)
        if found is None:
            if not has_wildcard(general):
                found = not has_wildcard(specific) and (
                    fold(general) == fold(specific) if ignore_case else False
                )
            elif "?" not in general:
                found = _star_includes(general, Pattern.wildcard(specific), ignore_case)
            else:
                found = includes(general, specific, ignore_case=ignore_case)
            self._includes[key] = found
        return found

    def relative_vs_template(self, relative: str, shape: TemplateShape, *, every: bool) -> bool:
        """Whether the wildcard relative id `relative` matches every relative id of `shape`
        (`every`), or at least one of them (not `every`)."""
        key = (relative, shape.relative, every)
        found = self._template.get(key)
        if found is None:
            if every:
                found = has_wildcard(relative) and (
                    _star_includes(relative, shape.relative_pattern, False)
                    if "?" not in relative
                    else includes(relative, shape.relative_pattern)
                )
            elif not has_wildcard(relative):
                found = shape.relative_pattern.matches(relative)
            else:
                found = (
                    find_string(
                        [Pattern.wildcard(relative), shape.relative_pattern],
                        lambda m: m[0] and m[1],
                    )
                    is not None
                )
            self._template[key] = found
        return found

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
