"""Checks on Action and NotAction: unknown names, unknown service prefixes, and wildcards that
sweep in the catalogued state-changing, billable action without naming it.

Action names compare case-insensitively. Known names come from the catalog (every action of each
catalogued product, from the product's official metadata).
"""

from __future__ import annotations

from collections.abc import Iterator

from acscontract.ram._document import PolicyDocument
from acscontract.ram._findings import Finding, Severity
from acscontract.ram._lint._base import (
    NEEDS_ACTION_NAMES,
    NEEDS_IMPLICIT,
    NEEDS_STAR,
    NEEDS_UNCONDITIONED,
    LintContext,
    RuleCheck,
    StatementFacts,
    rule,
)
from acscontract.ram._lint._facts import RELATIVE, has_wildcard
from acscontract.ram._wildcard import fold
from acscontract.spec import CatalogEntry

__all__ = ["CHECKS"]


def _action_values(sf: StatementFacts) -> str:
    return "NotAction" if sf.negated else "Action"


@rule(
    "action-unknown",
    Severity.ERROR,
    "An action of a catalogued service that does not exist (or a wildcard that matches none).",
    needs=NEEDS_ACTION_NAMES,
)
def _unknown(check: RuleCheck, document: PolicyDocument, context: LintContext) -> Iterator[Finding]:
    facts = context.facts
    known = facts.known_patterns
    for sf in context.statements:
        if sf.actions_named:
            continue
        element = _action_values(sf)
        for k, text in enumerate(sf.action_texts):
            if not (known.get(text) or facts.action_pattern(text)).unknown:
                continue
            prefix = text.partition(":")[0]
            if "*" in prefix or "?" in prefix:
                continue
            if "*" in text or "?" in text:
                message = (
                    f"The {element} pattern {text!r} in {sf.where} matches no "
                    f"{prefix} action, so it has no effect."
                )
                hint = "Fix the pattern; the known actions are listed in the product's API docs."
            else:
                meant = facts.suggest_action(text, context.budget)
                message = (
                    f"{text!r} in {sf.where} is not a {prefix} action, so it has no effect"
                    + (
                        "; RAM rejects or ignores unknown actions."
                        if sf.allow
                        else ", and the Deny does not block what it was meant to."
                    )
                )
                hint = f"Did you mean {meant!r}?" if meant else "Check the action's name."
            yield context.finding(check, sf.action_at(k), message, hint)


@rule(
    "action-service-unknown",
    Severity.ERROR,
    "An action whose service prefix is wrong: a catalogued action under another prefix (such "
    "as the service of its resource ARN), a near-miss prefix, or no prefix at all.",
    needs=NEEDS_ACTION_NAMES,
)
def _service_unknown(
    check: RuleCheck, document: PolicyDocument, context: LintContext
) -> Iterator[Finding]:
    facts = context.facts
    known = facts.known_patterns
    prefixes = sorted(facts.prefixes)
    for sf in context.statements:
        if sf.actions_named:
            continue
        for k, text in enumerate(sf.action_texts):
            if text == "*" or (known.get(text) or facts.action_pattern(text)).prefix_known:
                continue
            location = sf.action_at(k)
            prefix, colon, name = text.partition(":")
            if not colon:
                meant = (
                    facts.suggest_action(f"{prefixes[0]}:{text}", context.budget)
                    if prefixes
                    else None
                )
                yield context.finding(
                    check,
                    location,
                    f"{text!r} in {sf.where} has no service prefix; actions are written "
                    "<service>:<Action>, so this matches nothing.",
                    f"Did you mean {meant!r}?" if meant else "Add the service prefix.",
                )
                continue
            folded = fold(prefix)
            if folded in facts.prefixes or has_wildcard(prefix):
                continue
            near = _near(folded, prefixes)
            same = facts.known_by_name.get(fold(name))
            if near is not None:
                guess = f"{near}:{name}"
                meant = (
                    facts.known.get(fold(guess))
                    or facts.suggest_action(guess, context.budget)
                    or guess
                )
            elif same is not None:
                meant = facts.known[same]
            else:
                continue  # another product's action: the catalog does not know its names
            extra = ""
            if folded in facts.resource_services:
                extra = (
                    f" ({prefix} is the service in the resource ARN, but the action keeps its "
                    "own product's prefix)"
                )
            yield context.finding(
                check,
                location,
                f"{text!r} in {sf.where} uses the service prefix {prefix!r}{extra}; no such "
                f"action exists, so it matches nothing.",
                f"Did you mean {meant!r}?",
            )


def _near(prefix: str, prefixes: list[str]) -> str | None:
    import difflib  # only for a wrong prefix

    close = difflib.get_close_matches(prefix, prefixes, n=1, cutoff=0.6)
    return close[0] if close else None


def _sensitive(entry: CatalogEntry) -> bool:
    return entry.writes or entry.billable


def _what(entry: CatalogEntry) -> str:
    traits = [
        t for t, on in (("changes state", entry.writes), ("is billable", entry.billable)) if on
    ]
    return (
        f"{entry.action}, which {' and '.join(traits)} although its documented access level is "
        f"{entry.access_level!r}"
    )


@rule(
    "billable-write-swept-in",
    Severity.SECURITY,
    "An Allow whose action wildcard or NotAction also grants the state-changing, billable "
    "catalogued action without naming it.",
    needs=NEEDS_IMPLICIT,
)
def _swept_in(
    check: RuleCheck, document: PolicyDocument, context: LintContext
) -> Iterator[Finding]:
    facts = context.facts
    for sf in context.statements:
        if not sf.allow:
            continue
        sensitive = [e for e in sf.entries if _sensitive(e) and e.action not in sf.explicit]
        if not sensitive:
            continue
        if sf.negated:
            for entry in sensitive:
                pointer = sf.statement.pointer + "/NotAction"
                yield context.finding(
                    check,
                    document.locate(pointer, key=True),
                    f"NotAction in {sf.where} allows every action it does not list, including "
                    f"{_what(entry)}.",
                    f"Add {entry.action} to NotAction, or replace NotAction by an Action list "
                    "of what is really needed.",
                )
            continue
        for k, text in enumerate(sf.action_texts):
            if not has_wildcard(text):
                continue
            for entry in facts.entries_matching(text):
                if entry not in sensitive:
                    continue
                yield context.finding(
                    check,
                    sf.action_at(k),
                    f"The action wildcard {text!r} in {sf.where} also allows {_what(entry)}; "
                    "reviewers reading the access level take it for read-only.",
                    f"List the actions you need instead of {text!r}; if {entry.action} is "
                    "meant, name it explicitly and restrict its resources.",
                )


def _all_actions(text: str) -> bool:
    """Whether the action pattern matches every action of every service (`*`, `*:*`)."""
    return "*" in text and text.count(":") <= 1 and not text.replace(":", "").strip("*")


@rule(
    "star-on-star",
    Severity.SECURITY,
    "An Allow of every action (`*`) on every resource (`*`): full administrator access.",
    needs=NEEDS_STAR,
)
def _star_on_star(
    check: RuleCheck, document: PolicyDocument, context: LintContext
) -> Iterator[Finding]:
    for sf in context.statements:
        if not sf.allow or sf.negated or not sf.resource_texts or "*" not in sf.resource_texts:
            continue
        if not any(_all_actions(text) for text in sf.action_texts):
            continue
        condition = " (a Condition narrows when, not what)" if sf.statement.conditions else ""
        yield context.finding(
            check,
            sf.statement.location,
            f"{sf.where.capitalize()} allows every action on every resource{condition}: it is "
            "full administrator access to the account.",
            "Grant only the actions and resources the principal needs; use the "
            "AdministratorAccess system policy if full access is really intended.",
        )


def _wide(context: LintContext, sf: StatementFacts) -> str | None:
    for k, text in enumerate(sf.resource_texts or ()):
        if text == "*":
            return text
        parts = context.facts.arn(text)
        if parts is None:
            continue
        for entry in sf.entries:
            for shape in context.facts.shapes.get(entry.action, ()):
                every = context.facts.relative_vs_template(
                    parts[RELATIVE], shape, every=True, budget=context.budget
                )
                if every is None:
                    context.undecided(
                        sf.resource_at(k),
                        f"whether the resource {text!r} reaches every resource of "
                        f"{shape.resource_type.arn_template} (the wildcards are too complex to "
                        "compare exactly)",
                    )
                if every:
                    return text
    return None


@rule(
    "billable-write-unconditioned",
    Severity.SUGGESTION,
    "An Allow of the billable, state-changing catalogued action on every resource of its type "
    "(every domain) with no Condition at all.",
    needs=NEEDS_UNCONDITIONED,
)
def _unconditioned(
    check: RuleCheck, document: PolicyDocument, context: LintContext
) -> Iterator[Finding]:
    for sf in context.statements:
        if not sf.allow or sf.statement.condition is not None:
            continue
        sensitive = [e for e in sf.entries if _sensitive(e)]
        if not sensitive:
            continue
        wide = _wide(context, sf)
        if wide is None:
            continue
        keys = ", ".join(k.key for k in context.facts.global_keys if k.type in ("ip", "bool"))
        kinds = sorted({rt.type.lower() for e in sensitive for rt in e.resource_types})
        every = " and ".join(kinds) or "resource"
        yield context.finding(
            check,
            sf.statement.location,
            f"{sf.where.capitalize()} allows {', '.join(e.action for e in sensitive)} "
            f"({_what(sensitive[0]).partition(', which ')[2]}) on {wide!r} from anywhere, at "
            f"any time, with no Condition; a leaked AccessKey can run it on every {every}.",
            f"Add a Condition (for example on {keys}), or name the {every} ARNs.",
        )


CHECKS: tuple[RuleCheck, ...] = (
    _unknown,
    _service_unknown,
    _swept_in,
    _star_on_star,
    _unconditioned,
)
