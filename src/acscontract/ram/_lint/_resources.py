"""Checks on Resource: ARN syntax, placeholders, and whether a resource can reach the catalogued
action at all (service, shape) or reaches further than it looks (wildcards).

The ARN form (prefix, service, and the relative id with its placeholders) is read from each
catalogued action's ARN templates; nothing here names a service or a resource type.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

from acscontract.ram._document import PolicyDocument, Value
from acscontract.ram._findings import Finding, Severity
from acscontract.ram._lint._base import (
    NEEDS_ALLOW_ENTRIES,
    NEEDS_RESOURCE_MISS,
    NEEDS_SYNTAX_PROBLEM,
    LintContext,
    RuleCheck,
    StatementFacts,
    rule,
)
from acscontract.ram._lint._facts import (
    ACCOUNT,
    PREFIX,
    RELATIVE,
    SERVICE,
    ArnParts,
    TemplateShape,
    has_wildcard,
)
from acscontract.ram._wildcard import matches
from acscontract.spec import CatalogEntry

__all__ = ["ACCOUNT_ID_DIGITS", "CHECKS"]

ACCOUNT_ID_DIGITS = 16
"""RAM account ids (the fourth part of an ARN) are 16 decimal digits."""

_PLACEHOLDER = re.compile(r"\{#[^{}]*\}|\$\{[^{}]*\}|\{\{[^{}]*\}\}|<[^<>]*>")
_SCHEMES = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_HOST = re.compile(r"[A-Za-z0-9_*?](?:[A-Za-z0-9_*?.-]*[A-Za-z0-9_*?])?")


_TEMPLATE_PLACEHOLDER = re.compile(r"\{#([A-Za-z0-9_]+)\}")


def _example(context: LintContext) -> str:
    """The first catalogued ARN template, with `<name>` for each placeholder (cached)."""
    memo = context.facts.memo
    found = memo.get("example-arn")
    if found is None:
        found = memo["example-arn"] = next(
            (
                _TEMPLATE_PLACEHOLDER.sub(r"<\1>", shape.resource_type.arn_template)
                for shapes in context.facts.shapes.values()
                for shape in shapes
            ),
            "acs:<service>:*:<account>:<relative-id>",
        )
    return cast("str", found)


@dataclass(frozen=True, slots=True)
class _Syntax:
    """What is wrong with one resource string on its own (None: nothing of that kind)."""

    malformed: tuple[str, str] | None  # (problem, hint)
    account: str | None  # how the account part is described
    placeholder: str | None


_CLEAN = _Syntax(None, None, None)


class _Resource:
    """What the checks derive from one resource string, kept per string (policies repeat
    resources): its parts, its syntax problems, its fit to each ARN template (by the template's
    identity) and its reach for each catalogued action (with the search steps it took)."""

    __slots__ = ("fits", "parts", "reach", "syntax")

    def __init__(self, context: LintContext, text: str) -> None:
        self.parts = context.facts.arn(text)
        self.syntax = _compute_syntax(context, text)
        self.fits: dict[int, _Miss | None] = {}
        self.reach: dict[str, tuple[_Reach | None, int]] = {}


def _resource(context: LintContext, text: str) -> _Resource:
    """The `_Resource` of a resource string (made on first use)."""
    atoms = context.facts.resource_atoms
    found = atoms.get(text)
    if found is None:
        found = atoms[text] = _Resource(context, text)
    return found


def _compute_syntax(context: LintContext, text: str) -> _Syntax:
    if text == "*" or not text:
        return _CLEAN
    prefixes = context.facts.arn_prefixes
    parts = context.facts.arn(text)
    malformed: tuple[str, str] | None = None
    if parts is None or parts[PREFIX] not in prefixes:
        # Worded only for a resource that needs it (a corpus of new resources notices).
        shown = "/".join(sorted(prefixes))
        form = f"{shown}:<service>:<region>:<account>:<relative-id>"
        head = text.split(":", 1)[0]
    if parts is None:
        malformed = (
            f"has {text.count(':') + 1} colon-separated part(s); an ARN has five ({form})",
            f"Write the full ARN, such as {_example(context)}.",
        )
    elif parts[PREFIX] not in prefixes:
        if head.lower() in prefixes:
            malformed = (
                f"starts with {head!r}; the ARN prefix is lower-case {shown!r}",
                f"Write {shown}: at the start.",
            )
        else:
            malformed = (
                f"starts with {head!r}; RAM ARNs start with {shown!r} ({form})",
                f"Rewrite it as an {shown}: ARN, such as {_example(context)}.",
            )
    elif not parts[SERVICE]:
        malformed = ("has an empty service part", f"Name the service, such as {_example(context)}.")
    elif parts[SERVICE] != parts[SERVICE].lower():
        malformed = (
            f"names the service {parts[SERVICE]!r} in upper case; service names in ARNs are "
            "lower-case and matched exactly",
            f"Write {parts[SERVICE].lower()!r}.",
        )
    account = None
    if parts is not None and parts[PREFIX] in prefixes:
        account = _account_problem(parts[ACCOUNT])
    m = _PLACEHOLDER.search(text)
    if malformed is None and account is None and m is None:
        return _CLEAN
    return _Syntax(malformed, account, m.group() if m else None)


def _account_problem(account: str) -> str | None:
    if account == "*" or _PLACEHOLDER.search(account):
        return None
    if has_wildcard(account):
        digits = account.replace("*", "").replace("?", "")
        ok = (digits.isdigit() or not digits) and len(account.replace("*", "")) <= (
            ACCOUNT_ID_DIGITS
        )
    else:
        ok = len(account) == ACCOUNT_ID_DIGITS and account.isdigit() and account.isascii()
    if ok:
        return None
    return "is empty" if not account else f"is {account!r}"


_RESOURCE_ELEMENTS = ("Resource", "NotResource")


def _syntax_problems(context: LintContext) -> list[tuple[StatementFacts, Value, _Syntax]]:
    """Every resource with a syntax problem, in document order; computed once per document."""
    found = context.memo.get("syntax")
    if found is None:
        found = []
        atoms = context.facts.resource_atoms
        for sf in context.statements:
            raw = sf.statement.raw
            for name in _RESOURCE_ELEMENTS:
                if name not in raw:
                    continue
                entries = raw[name]
                if type(entries) is not list:
                    entries = [entries]
                for k, text in enumerate(entries):
                    if type(text) is str:
                        atom = atoms.get(text) or _resource(context, text)
                        syntax = atom.syntax
                        if syntax is not _CLEAN:
                            st = sf.statement
                            values = st.resources if name == "Resource" else st.not_resources
                            found.append((sf, values[k], syntax))  # type: ignore[index]
        context.memo["syntax"] = found
        if not found:
            context.clear(NEEDS_SYNTAX_PROBLEM)  # the other syntax checks have nothing to do
    return found


@rule(
    "arn-malformed",
    Severity.ERROR,
    "A resource that is neither `*` nor a well-formed RAM ARN (five colon-separated parts: "
    "prefix, service, region, account, relative id).",
    needs=NEEDS_SYNTAX_PROBLEM,
)
def _arn_malformed(
    check: RuleCheck, document: PolicyDocument, context: LintContext
) -> Iterator[Finding]:
    for sf, value, syntax in _syntax_problems(context):
        if syntax.malformed is not None:
            problem, hint = syntax.malformed
            yield context.finding(
                check,
                value.location,
                f"The resource {value.value!r} in {sf.where} {problem}, so it matches no resource.",
                hint,
            )


@rule(
    "arn-account-invalid",
    Severity.ERROR,
    f"The account part of an ARN is neither `*` nor a {ACCOUNT_ID_DIGITS}-digit account id.",
    needs=NEEDS_SYNTAX_PROBLEM,
)
def _account_invalid(
    check: RuleCheck, document: PolicyDocument, context: LintContext
) -> Iterator[Finding]:
    for sf, value, syntax in _syntax_problems(context):
        if syntax.account is not None:
            yield context.finding(
                check,
                value.location,
                f"The account part of {value.value!r} in {sf.where} {syntax.account}; it must "
                f"be `*` or a {ACCOUNT_ID_DIGITS}-digit account id, so this ARN matches no "
                "resource.",
                f"Write your {ACCOUNT_ID_DIGITS}-digit account id (the console shows it as "
                "Account ID), or `*` for the account the policy is attached in.",
            )


@rule(
    "resource-placeholder",
    Severity.ERROR,
    "A resource still holds a template placeholder ({#DomainName}, <DomainName>, ${...}).",
    needs=NEEDS_SYNTAX_PROBLEM,
)
def _placeholder(
    check: RuleCheck, document: PolicyDocument, context: LintContext
) -> Iterator[Finding]:
    for sf, value, syntax in _syntax_problems(context):
        if syntax.placeholder is not None:
            found = syntax.placeholder
            yield context.finding(
                check,
                value.location,
                f"The resource {value.value!r} in {sf.where} still holds the placeholder "
                f"{found!r}; RAM reads it literally, so it matches no resource.",
                f"Replace {found!r} with the real value (an account id or a domain name).",
            )


# ---------------------------------------------------------------------------------------------
# Fit against the catalogued action's ARN templates


@dataclass(frozen=True, slots=True)
class _Miss:
    kind: str  # "service" or "shape"
    detail: str
    shape: TemplateShape


def _value_problem(name: str, value: str, last: bool) -> str | None:
    if _PLACEHOLDER.search(value):
        return None  # resource-placeholder reports it
    lowered = name.lower()
    if "domain" in lowered:
        if "://" in value or (_SCHEMES.match(value) and not value.split(":", 1)[1][:1].isdigit()):
            return f"the {name} {value!r} includes a URL scheme; write the bare domain name"
        if "/" in value:
            rest = value.partition("/")[2]
            return (
                f"the {name} is followed by the path {'/' + rest!r}; the resource is the domain "
                f"alone, and apps or streams are not part of it"
            )
        if ":" in value:
            return f"the {name} {value!r} includes a port; write the domain name without it"
        if not value:
            return f"the {name} is empty"
        if _HOST.fullmatch(value) is None:
            return f"the {name} {value!r} is not a domain name"
    elif last and "/" in value:
        return f"the {name} {value!r} is followed by a path the template does not have"
    return None


def _fit(context: LintContext, atom: _Resource, shape: TemplateShape) -> _Miss | None:
    """None when the resource can name a resource of `shape`, else why not (cached)."""
    fits = atom.fits
    key = id(shape)  # the catalog's templates live as long as the facts that hold the atoms
    if key in fits:
        return fits[key]
    assert atom.parts is not None
    found = fits[key] = _compute_fit(context, atom.parts, shape)
    return found


def _compute_fit(context: LintContext, parts: ArnParts, shape: TemplateShape) -> _Miss | None:
    service = parts[SERVICE]
    if has_wildcard(service):
        service_ok = matches(service, shape.service, ignore_case=True)
    else:
        service_ok = service.lower() == shape.service
    if not service_ok:
        return _Miss("service", f"names the service {service!r}", shape)
    relative = parts[RELATIVE]
    m = shape.relative_regex.fullmatch(relative)
    if m is not None:
        names = shape.placeholders
        for i, name in enumerate(names):
            problem = _value_problem(name, m.group(i + 1), i == len(names) - 1)
            if problem is not None:
                return _Miss("shape", problem, shape)
        return None
    if _PLACEHOLDER.search(relative) or context.facts.relative_vs_template(
        relative, shape, every=False
    ):
        return None
    return _Miss(
        "shape",
        f"has the relative id {relative!r}, which is not of the form {shape.example}",
        shape,
    )


def _misses(
    context: LintContext, sf: StatementFacts
) -> tuple[list[tuple[Value, _Miss]], bool] | None:
    """The resources that fit none of the statement's catalogued actions' templates, and
    whether any resource fits; None when the statement has no such action or no Resource."""
    if not sf.entries or not sf.resource_texts:
        return None
    memo = sf.memo.get("misses")
    if memo is None:
        memo = sf.memo["misses"] = _compute_misses(context, sf)
    return memo


def _compute_misses(
    context: LintContext, sf: StatementFacts
) -> tuple[list[tuple[Value, _Miss]], bool]:
    assert sf.resource_texts is not None
    prefixes = context.facts.arn_prefixes
    atoms = context.facts.resource_atoms
    shapes = context.facts.shapes
    misses: list[tuple[Value, _Miss]] = []
    reaching = False
    for k, text in enumerate(sf.resource_texts):
        if text == "*":
            reaching = True
            continue
        atom = atoms.get(text) or _resource(context, text)
        parts = atom.parts
        if parts is None or parts[PREFIX] not in prefixes:
            continue  # arn-malformed reports it
        first: _Miss | None = None
        fits = False
        for entry in sf.entries:
            for shape in shapes.get(entry.action, ()):
                miss = _fit(context, atom, shape)
                if miss is None:
                    fits = True
                    break
                if first is None or (first.kind == "service" and miss.kind == "shape"):
                    first = miss
            if fits:
                break
        if fits:
            reaching = True
        elif first is not None:
            misses.append((sf.resources[k], first))  # type: ignore[index]
    return misses, reaching


def _actions_of(sf: StatementFacts) -> str:
    return ", ".join(e.action for e in sf.entries)


def _miss_severity(sf: StatementFacts) -> Severity:
    if sf.deny:
        return Severity.SECURITY
    return Severity.ERROR if sf.only_catalogued else Severity.WARNING


def _miss_effect(sf: StatementFacts, reaching: bool) -> str:
    actions = _actions_of(sf)
    if sf.deny:
        return f"so this Deny does not protect {actions} on it"
    if reaching:
        return f"so it grants nothing for {actions}"
    return f"so the statement grants nothing for {actions}"


def _report_misses(
    check: RuleCheck, context: LintContext, kind: str
) -> Iterator[tuple[StatementFacts, Value, _Miss, bool]]:
    missed = False
    for sf in context.statements:
        found = _misses(context, sf)
        if found is None:
            continue
        misses, reaching = found
        if misses:
            missed = True
        if not sf.only_catalogued and reaching:
            continue  # the other actions of the statement may be what the resource is for
        for value, miss in misses:
            if miss.kind == kind:
                yield sf, value, miss, reaching
    if not missed:
        context.clear(NEEDS_RESOURCE_MISS)  # the other mismatch check has nothing to do


def _with_service(text: str, service: str) -> str:
    parts = text.split(":", 4)
    parts[1] = service
    return ":".join(parts)


@rule(
    "resource-service-mismatch",
    Severity.ERROR,
    "A resource whose ARN names another service than the catalogued action's ARN template "
    "(an action's product prefix is not always the service in its resource ARN).",
    needs=NEEDS_RESOURCE_MISS,
)
def _service_mismatch(
    check: RuleCheck, document: PolicyDocument, context: LintContext
) -> Iterator[Finding]:
    for sf, value, miss, reaching in _report_misses(check, context, "service"):
        template = miss.shape.resource_type.arn_template
        yield context.finding(
            check,
            value.location,
            f"The resource {value.value!r} in {sf.where} {miss.detail}, but the resources of "
            f"{_actions_of(sf)} are {miss.shape.service} ARNs ({template}), "
            f"{_miss_effect(sf, reaching)}.",
            f"Write {_with_service(value.value, miss.shape.service)!r}.",
            _miss_severity(sf),
        )


@rule(
    "resource-shape-mismatch",
    Severity.ERROR,
    "A resource whose relative id does not fit the catalogued action's ARN template "
    "(a stream path, a URL scheme or a port after the domain).",
    needs=NEEDS_RESOURCE_MISS,
)
def _shape_mismatch(
    check: RuleCheck, document: PolicyDocument, context: LintContext
) -> Iterator[Finding]:
    for sf, value, miss, reaching in _report_misses(check, context, "shape"):
        template = miss.shape.resource_type.arn_template
        yield context.finding(
            check,
            value.location,
            f"The resource {value.value!r} in {sf.where} does not fit {template}: "
            f"{miss.detail}, {_miss_effect(sf, reaching)}.",
            f"Write the resource in the form {template}.",
            _miss_severity(sf),
        )


# ---------------------------------------------------------------------------------------------
# Wildcards that reach further than they look


def _overreach(domain: str) -> tuple[str, list[str]] | None:
    """For a domain wildcard that also matches unrelated domains: an example it matches and the
    patterns that were probably meant; None when it stays under one parent domain."""
    if not has_wildcard(domain):
        return None
    cut = max(domain.rfind("*"), domain.rfind("?"))
    fixed = domain[cut + 1 :]
    if fixed.startswith(".") and fixed.count(".") >= 2:
        return None  # every match ends in .<parent domain>
    example = domain.replace("*", "bad").replace("?", "x")
    rest = domain[1:]
    meant: list[str] = []
    if domain.startswith("*") and not has_wildcard(rest) and rest[:1].isalnum() and "." in rest:
        meant = [f"*.{rest}", rest]
    return example, meant


@rule(
    "resource-wildcard-reach",
    Severity.SECURITY,
    "A resource wildcard that reaches more than it seems to: `*`, every domain, or a domain "
    "wildcard that also matches unrelated domains (`*example.com` matches badexample.com).",
    needs=NEEDS_ALLOW_ENTRIES,
)
def _wildcard_reach(
    check: RuleCheck, document: PolicyDocument, context: LintContext
) -> Iterator[Finding]:
    prefixes = context.facts.arn_prefixes
    for sf in context.statements:
        if not sf.allow or not sf.entries or not sf.resource_texts:
            continue
        for k, text in enumerate(sf.resource_texts):
            if text == "*":
                yield context.finding(
                    check,
                    sf.resource_at(k),
                    f"The resource '*' in {sf.where} allows {_actions_of(sf)} on every "
                    "resource of every service in the account.",
                    f"Name the resources, such as {_example(context)} with the real values.",
                    Severity.SECURITY,
                )
                continue
            atom = _resource(context, text)
            parts = atom.parts
            if parts is None or parts[PREFIX] not in prefixes:
                continue
            for entry in sf.entries:
                reach = _reach(context, sf, k, atom, entry)
                if reach is None:
                    continue
                if reach[0] == "every":
                    yield context.finding(
                        check,
                        sf.resource_at(k),
                        f"The resource {text!r} in {sf.where} allows {_actions_of(sf)} on "
                        f"every {reach[1]} in the account, not only the ones you use today.",
                        f"List the {reach[1]}s this principal works with, one ARN each.",
                        Severity.WARNING,
                    )
                else:
                    _, name, domain, example, meant = reach
                    hint = (
                        f"Use {meant} (a subdomain wildcard plus the domain itself)."
                        if meant
                        else "Write the domains out, or put the wildcard only in front of a dot "
                        "(*.example.com)."
                    )
                    yield context.finding(
                        check,
                        sf.resource_at(k),
                        f"The {name} wildcard {domain!r} in {sf.where} also matches unrelated "
                        f"domains such as {example!r}, so {_actions_of(sf)} is allowed on more "
                        "domains than it seems.",
                        hint,
                        Severity.WARNING,
                    )
                break


_Reach = tuple[str, ...]


def _reach(
    context: LintContext,
    sf: StatementFacts,
    k: int,
    atom: _Resource,
    entry: CatalogEntry,
) -> _Reach | None:
    """How far a resource reaches for a catalogued action: ("every", resource type) or
    ("overreach", placeholder, value, example, intended patterns); None when it stays narrow.
    Cached per resource and action, with the search steps it took: a remembered answer is
    charged them again, and worked out again when they no longer fit in the budget, so the
    findings do not depend on what was linted before."""
    cache = atom.reach
    key = entry.action
    budget = context.budget
    known = cache.get(key)
    if known is not None and (known[1] == 0 or known[1] <= budget.left):
        budget.left -= known[1]
        return known[0]
    before = budget.left
    try:
        found = _compute_reach(context, atom, entry)
    except _Undecided as exc:
        context.undecided(
            sf.resource_at(k),
            f"whether the resource {exc.relative!r} reaches every resource of "
            f"{exc.template} (the wildcards are too complex to compare exactly)",
        )
        return None
    cache[key] = (found, before - budget.left)
    return found


class _Undecided(Exception):
    """A signal inside this module: a question was left undecided (never raised out)."""

    def __init__(self, relative: str, template: str) -> None:
        super().__init__(relative)
        self.relative = relative
        self.template = template


def _compute_reach(context: LintContext, atom: _Resource, entry: CatalogEntry) -> _Reach | None:
    parts = atom.parts
    assert parts is not None
    for shape in context.facts.shapes.get(entry.action, ()):
        if _fit(context, atom, shape) is not None:
            continue
        relative = parts[RELATIVE]
        m = shape.relative_regex.fullmatch(relative)
        domains = [
            (name, m.group(i + 1))
            for i, name in enumerate(shape.placeholders)
            if m is not None and "domain" in name.lower()
        ]
        every = relative == "*" or context.facts.relative_vs_template(
            relative, shape, every=True, budget=context.budget
        )
        if every is None:
            raise _Undecided(relative, shape.resource_type.arn_template)
        if every or any(d == "*" for _, d in domains):
            return ("every", shape.resource_type.type.lower())
        for name, domain in domains:
            found = _overreach(domain)
            if found is not None:
                example, meant = found
                return ("overreach", name, domain, example, " and ".join(repr(p) for p in meant))
    return None


CHECKS: tuple[RuleCheck, ...] = (
    _arn_malformed,
    _account_invalid,
    _placeholder,
    _service_mismatch,
    _shape_mismatch,
    _wildcard_reach,
)
