"""Checks on Condition: AWS-only operators, unknown keys, type mismatches, and conditions that
can never (or always) match.

Key types come from the catalog (`global_condition_keys`, and each catalogued action's own keys);
operator types from the policy language table (`acscontract.ram._language.OPERATORS`).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from acscontract.ram._document import (
    ConditionClause,
    PolicyDocument,
    escape_pointer,
)
from acscontract.ram._findings import Finding, Severity
from acscontract.ram._language import (
    OPERATORS,
    OperatorSpec,
    canonical_value,
    parse_bool,
    parse_date,
    parse_network,
    parse_number,
)
from acscontract.ram._lint._base import (
    NEEDS_CONDITION,
    NEEDS_DATE_TEST,
    NEEDS_IP_TEST,
    NEEDS_OTHER_OPERATOR,
    NEEDS_TESTS,
    LintContext,
    RuleCheck,
    StatementFacts,
    rule,
)
from acscontract.ram._wildcard import compile_union
from acscontract.spec import ConditionKey

__all__ = ["CHECKS", "aws_only_operator"]

# AWS IAM condition forms that RAM does not have (what AWS has, not what RAM has; RAM's own
# operators are `_language.OPERATORS`).
_AWS_PREFIXES = ("ForAnyValue:", "ForAllValues:")
_AWS_SUFFIX = "IfExists"


def aws_only_operator(name: str) -> tuple[str, str | None] | None:
    """For an AWS-only operator: (what it is, the RAM operator to use or None); else None."""
    if name in OPERATORS:
        return None
    base = name
    forms: list[str] = []
    for prefix in _AWS_PREFIXES:
        if base.startswith(prefix):
            base = base[len(prefix) :]
            forms.append(f"the {prefix[:-1]} set operator")
    if base.endswith(_AWS_SUFFIX) and len(base) > len(_AWS_SUFFIX):
        base = base[: -len(_AWS_SUFFIX)]
        forms.append("the ...IfExists form")
    if base == "Null":
        return ("AWS's Null operator", None)
    if base.startswith("Arn") and "String" + base[3:] in OPERATORS:
        forms.append("an Arn* operator")
        base = "String" + base[3:]
    elif base.startswith("Binary") and len(base) > len("Binary"):
        return ("AWS's Binary* operators", None)
    if forms and base in OPERATORS:
        return (" and ".join(forms), base)
    return None


def _dead(sf: StatementFacts) -> Severity:
    """A statement that can never apply: harmless in an Allow, a silent gap in a Deny."""
    return Severity.SECURITY if sf.deny else Severity.WARNING


def _dead_effect(sf: StatementFacts) -> str:
    if sf.deny:
        return "this Deny never applies and protects nothing"
    if sf.allow:
        return "this Allow never applies"
    return "the statement never applies"


@rule(
    "aws-only-operator",
    Severity.ERROR,
    "An AWS IAM condition operator (…IfExists, Null, ForAnyValue:, ForAllValues:, Arn*) "
    "that RAM does not have.",
    needs=NEEDS_OTHER_OPERATOR,
)
def _aws_only(
    check: RuleCheck, document: PolicyDocument, context: LintContext
) -> Iterator[Finding]:
    for sf in context.statements:
        condition = sf.statement.raw.get("Condition")
        if not isinstance(condition, dict) or _OPERATOR_SET.issuperset(condition):
            continue
        for operator in condition:
            found = aws_only_operator(operator)
            if found is None:
                continue
            what, instead = found
            pointer = sf.statement.pointer + "/Condition/" + escape_pointer(operator)
            if instead is not None:
                hint = (
                    f"Use {instead}. RAM's positive operators do not match when the key is "
                    "absent, and its negated operators do, so check that the result is the one "
                    "you want."
                )
            else:
                hint = (
                    "Remove the operator; RAM has no equivalent. A positive RAM operator already "
                    "fails when its key is absent."
                )
            yield context.finding(
                check,
                document.locate(pointer, key=True),
                f"Condition operator {operator!r} in {sf.where} uses {what}, which exists in AWS "
                "IAM but not in RAM; RAM rejects the policy or never matches the condition.",
                hint,
            )


def _resolve(context: LintContext, sf: StatementFacts, key: str) -> ConditionKey | None:
    facts = context.facts
    return facts.global_key(key) or facts.entry_key(key, sf.entries)


_Test = tuple[int, str, str, Any, OperatorSpec | None, ConditionKey | None]
"""One `operator: {key: values}` test of a statement: its index in `Statement.conditions` (whose
node a finding asks for), the operator, the key, the values as parsed, the operator's spec and
the key (None: unknown)."""

_OPERATOR_SET = frozenset(OPERATORS)


def _tests(context: LintContext, sf: StatementFacts) -> list[_Test]:
    """Each condition test of the statement with its operator's spec and its key; computed once
    per statement for every condition check, from the parsed values (no nodes built)."""
    found = sf.memo.get("tests")
    if found is None:
        found = sf.memo["tests"] = [
            (i, operator, key, values, OPERATORS.get(operator), _resolve(context, sf, key))
            for i, (operator, key, values) in enumerate(sf.statement.condition_tests())
        ]
    return found


def _listed(values: Any) -> list[Any]:
    """A test's values as a list (a single value is one)."""
    return values if type(values) is list else [values]


def _key_names(context: LintContext, sf: StatementFacts) -> list[str]:
    names = [k.key for k in context.facts.global_keys]
    names += [k.key for e in sf.entries for k in e.condition_keys]
    return names


def _suggest_key(key: str, names: list[str]) -> str | None:
    import difflib  # only for an unknown key

    lowered = {n.lower(): n for n in names}
    close = difflib.get_close_matches(key.lower(), list(lowered), n=1, cutoff=0.75)
    if close:
        return lowered[close[0]]
    tail = key.partition(":")[2].lower()
    by_tail = {n.partition(":")[2].lower(): n for n in names}
    if tail in by_tail:
        return by_tail[tail]
    near = difflib.get_close_matches(tail, list(by_tail), n=1, cutoff=0.75)
    return by_tail[near[0]] if near else None


@rule(
    "condition-key-unknown",
    Severity.ERROR,
    "A condition key that is neither a RAM global key nor a key of the catalogued action.",
    needs=NEEDS_CONDITION,
)
def _key_unknown(
    check: RuleCheck, document: PolicyDocument, context: LintContext
) -> Iterator[Finding]:
    facts = context.facts
    global_prefixes = facts.key_prefixes
    for sf in context.statements:
        for index, _, key, _, _, resolved in _tests(context, sf):
            if resolved is not None:
                continue
            clause = sf.statement.conditions[index]
            prefix, colon, _ = key.partition(":")
            prefix = prefix.lower()
            names = _key_names(context, sf)
            meant = _suggest_key(key, names)
            if not colon:
                example = f", such as {names[0]}" if names else ""
                reason = (
                    f"{key!r} in {sf.where} is not a condition key: keys are written "
                    f"<service>:<Name>{example}"
                )
            elif prefix in global_prefixes:
                reason = (
                    f"{key!r} in {sf.where} is not one of RAM's global condition keys "
                    f"({', '.join(n for n in names if n.lower().startswith(prefix + ':'))})"
                )
            elif prefix == "aws":
                reason = (
                    f"{key!r} in {sf.where} is an AWS IAM key; RAM never sets aws: keys, so the "
                    "condition never matches"
                )
            elif sf.entries and (prefix in facts.prefixes or prefix in facts.resource_services):
                actions = ", ".join(e.action for e in sf.entries)
                own = [k.key for e in sf.entries for k in e.condition_keys]
                defined = (
                    f"its own keys are {', '.join(own)}" if own else "it defines no keys of its own"
                )
                reason = (
                    f"{key!r} in {sf.where} is not a condition key of {actions} ({defined}); "
                    "a request for it never carries this key, so the condition never matches it"
                )
            else:
                continue
            hint = (
                f"Did you mean {meant!r}?"
                if meant
                else "Use a documented key: " + ", ".join(names) + "."
            )
            yield context.finding(check, clause.key_location, reason + ".", hint)


def _equivalent(spec: OperatorSpec, type_: str) -> list[str]:
    same = [
        op.name
        for op in OPERATORS.values()
        if op.type == type_ and op.test == spec.test and op.negated == spec.negated
    ]
    return same or [op.name for op in OPERATORS.values() if op.type == type_]


@rule(
    "condition-type-mismatch",
    Severity.WARNING,
    "A condition operator of one type (String, Numeric, Date, Bool, IpAddress) on a key of "
    "another type.",
    needs=NEEDS_CONDITION,
)
def _type_mismatch(
    check: RuleCheck, document: PolicyDocument, context: LintContext
) -> Iterator[Finding]:
    for sf in context.statements:
        for index, _, _, _, spec, key in _tests(context, sf):
            if spec is None or key is None or key.type == spec.type:
                continue
            clause = sf.statement.conditions[index]
            meant = _equivalent(spec, key.type)
            yield context.finding(
                check,
                clause.operator_location,
                f"{clause.operator} compares {_words(spec.type)}, but {clause.key} in "
                f"{sf.where} holds {_words(key.type)}; the comparison does not work as "
                f"written and may never match; then {_dead_effect(sf)}.",
                f"Use {' or '.join(meant)} for {clause.key}.",
                _dead(sf),
            )


def _words(type_: str) -> str:
    return _TYPE_WORDS.get(type_, f"{type_} values")


_TYPE_WORDS = {
    "string": "strings",
    "number": "numbers",
    "date": "dates",
    "bool": "booleans",
    "ip": "IP addresses",
}

# Addresses that never reach a public endpoint as a source address (RFC 1918, shared address
# space, loopback, link-local, "this network", multicast, reserved; their IPv6 counterparts).
_NON_PUBLIC = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::1/128",
        "::/128",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
    )
)


_NON_PUBLIC_RANGES = tuple(
    (block.version, int(block.network_address), int(block.broadcast_address), block)
    for block in _NON_PUBLIC
)


@functools.lru_cache(maxsize=4096)
def _non_public(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    network = parse_network(text)
    if network is None:
        return None
    version = network.version
    first = int(network.network_address)
    last = first | ((1 << (network.max_prefixlen - network.prefixlen)) - 1)
    for block_version, low, high, block in _NON_PUBLIC_RANGES:
        if block_version == version and low <= first and last <= high:
            return block
    return None


@rule(
    "source-ip-private",
    Severity.WARNING,
    "A private or reserved range on an IP-address condition key, which only ever holds the "
    "public address a request comes from.",
    needs=NEEDS_IP_TEST,
)
def _source_ip_private(
    check: RuleCheck, document: PolicyDocument, context: LintContext
) -> Iterator[Finding]:
    for sf in context.statements:
        for index, _, key_name, values, spec, key in _tests(context, sf):
            if spec is None or spec.type != "ip" or key is None or key.type != "ip":
                continue
            if context.facts.global_key(key_name) is None:
                continue
            texts = [canonical_value(v) for v in _listed(values)]
            private = [
                (k, t, b) for k, t in enumerate(texts) if t is not None and (b := _non_public(t))
            ]
            if not private:
                continue
            clause = sf.statement.conditions[index]
            every = len(private) == len(texts)
            for k, text, block in private:
                value = clause.values[k]
                if spec.negated:
                    effect = (
                        "so the condition is true for every request"
                        if every
                        else "so this entry excludes nothing"
                    )
                    severity = Severity.WARNING
                else:
                    effect = (
                        f"so the condition never matches and {_dead_effect(sf)}"
                        if every
                        else "so this entry never matches"
                    )
                    severity = _dead(sf) if every else Severity.WARNING
                yield context.finding(
                    check,
                    value.location,
                    f"{text} in {clause.operator} {clause.key} ({sf.where}) is in the non-public "
                    f"range {block}; {clause.key} is the public address a request comes from, "
                    f"never a private or VPC address, {effect}.",
                    f"Use the public (NAT or egress) addresses of your network, or restrict "
                    f"requests from a VPC with a VPC condition key instead of {clause.key}.",
                    severity,
                )


@rule(
    "time-window-expired",
    Severity.WARNING,
    "A date condition on the request time that can no longer match (the window is over).",
    needs=NEEDS_DATE_TEST,
)
def _time_expired(
    check: RuleCheck, document: PolicyDocument, context: LintContext
) -> Iterator[Finding]:
    now = context.now
    for sf in context.statements:
        for index, _, key_name, values, spec, key in _tests(context, sf):
            if spec is None or spec.type != "date" or spec.negated:
                continue
            if spec.test not in ("less", "less-equals", "equals"):
                continue
            if key is None or key.type != "date" or context.facts.global_key(key_name) is None:
                continue
            dates = [_date(v) for v in _listed(values)]
            if not dates or any(d is None for d in dates):
                continue
            latest = max(d for d in dates if d is not None)
            if latest > now:
                continue
            clause = sf.statement.conditions[index]
            yield context.finding(
                check,
                clause.key_location,
                f"{clause.operator} {clause.key} in {sf.where} only matches requests up to "
                f"{latest.isoformat()}, which is in the past, so the "
                f"condition never matches again and {_dead_effect(sf)}.",
                "Move the date forward if the window should still be open, or remove the "
                "statement if it has served its purpose.",
            )


def _date(value: object) -> datetime | None:
    text = canonical_value(value)
    return parse_date(text) if text is not None else None


def _texts(clause: ConditionClause) -> list[str] | None:
    texts = [canonical_value(v.value) for v in clause.values]
    if not texts or any(t is None for t in texts):
        return None
    return [t for t in texts if t is not None]


class _Range:
    """The set of numbers that clauses on one key allow (AND of clauses, OR within one).

    Dates are compared as their POSIX timestamps, so one range type serves both.
    """

    __slots__ = ("equals", "high", "high_strict", "low", "low_strict", "not_equals")

    def __init__(self) -> None:
        self.low: Decimal | None = None
        self.low_strict = False
        self.high: Decimal | None = None
        self.high_strict = False
        self.equals: set[Decimal] | None = None
        self.not_equals: set[Decimal] = set()

    def add(self, spec: OperatorSpec, values: list[Decimal]) -> None:
        test = spec.test
        if test in ("greater", "greater-equals"):
            low = min(values)
            strict = test == "greater"
            if self.low is None or low > self.low or (low == self.low and strict):
                self.low, self.low_strict = low, strict
        elif test in ("less", "less-equals"):
            high = max(values)
            strict = test == "less"
            if self.high is None or high < self.high or (high == self.high and strict):
                self.high, self.high_strict = high, strict
        elif test == "equals" and spec.negated:
            self.not_equals.update(values)
        elif test == "equals":
            found = set(values)
            self.equals = found if self.equals is None else self.equals & found

    def _allows(self, v: Decimal) -> bool:
        if self.low is not None and (v < self.low or (v == self.low and self.low_strict)):
            return False
        if self.high is not None and (v > self.high or (v == self.high and self.high_strict)):
            return False
        return v not in self.not_equals

    def empty(self) -> bool:
        if self.equals is not None:
            return not any(self._allows(v) for v in self.equals)
        if self.low is None or self.high is None:
            return False
        if self.low > self.high:
            return True
        return self.low == self.high and (
            self.low_strict or self.high_strict or self.low in self.not_equals
        )


def _as_number(type_: str, text: str) -> Decimal | None:
    if type_ == "number":
        return parse_number(text)
    moment = parse_date(text)
    return None if moment is None else Decimal(str(moment.timestamp()))


def _contradiction(clauses: list[tuple[ConditionClause, OperatorSpec]]) -> bool:
    """Whether clauses on one key (all ANDed) can never all hold."""
    ranges: dict[str, _Range] = {}
    equals: set[str] | None = None
    equals_ci: set[str] | None = None
    not_equals: set[str] = set()
    not_equals_ci: set[str] = set()
    likes: list[list[str]] = []
    not_likes: list[str] = []
    bools: set[bool] = set()
    nets: list[list[ipaddress.IPv4Network | ipaddress.IPv6Network]] = []
    not_nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for clause, spec in clauses:
        texts = _texts(clause)
        if texts is None:
            continue
        if spec.type in ("number", "date"):
            parsed = [_as_number(spec.type, t) for t in texts]
            numbers = [p for p in parsed if p is not None]
            if len(numbers) != len(parsed):
                continue
            ranges.setdefault(spec.type, _Range()).add(spec, numbers)
        elif spec.type == "bool":
            if len(texts) == 1 and (b := parse_bool(texts[0])) is not None:
                bools.add(b)
        elif spec.type == "ip":
            networks = [parse_network(t) for t in texts]
            if any(n is None for n in networks):
                continue
            good = [n for n in networks if n is not None]
            if spec.negated:
                not_nets.extend(good)
            else:
                nets.append(good)
        elif spec.test == "equals":
            if spec.negated:
                not_equals.update(texts)
            else:
                equals = set(texts) if equals is None else equals & set(texts)
        elif spec.test == "equals-ignore-case":
            lowered = {t.lower() for t in texts}
            if spec.negated:
                not_equals_ci.update(lowered)
            else:
                equals_ci = lowered if equals_ci is None else equals_ci & lowered
        elif spec.test == "like":
            if spec.negated:
                not_likes.extend(texts)
            else:
                likes.append(texts)
    if len(bools) > 1 or any(r.empty() for r in ranges.values()):
        return True
    if equals is not None:
        candidates = {
            e
            for e in equals
            if e not in not_equals
            and e.lower() not in not_equals_ci
            and (equals_ci is None or e.lower() in equals_ci)
        }
        if not_likes:
            excluded = compile_union(not_likes)
            candidates = {e for e in candidates if not excluded(e)}
        for patterns in likes:
            allowed = compile_union(patterns)
            candidates = {e for e in candidates if allowed(e)}
        if not candidates:
            return True
    elif equals_ci is not None and equals_ci <= not_equals_ci:
        return True
    if nets:
        for group in nets:
            if all(_covered(n, not_nets) for n in group):
                return True
        for i, first in enumerate(nets):
            for second in nets[i + 1 :]:
                if not any(a.overlaps(b) for a in first for b in second):
                    return True
    return False


def _covered(
    network: ipaddress.IPv4Network | ipaddress.IPv6Network,
    blocks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network],
) -> bool:
    return any(
        b.version == network.version and network.subnet_of(b)  # type: ignore[arg-type]
        for b in blocks
    )


@rule(
    "condition-contradiction",
    Severity.WARNING,
    "Conditions on one key that can never all hold (an empty date or number range, Equals and "
    "NotEquals of the same value, Bool true and false).",
    needs=NEEDS_TESTS,
)
def _contradictions(
    check: RuleCheck, document: PolicyDocument, context: LintContext
) -> Iterator[Finding]:
    for sf in context.statements:
        tests = _tests(context, sf)
        if len(tests) < 2:
            continue
        keys = [key.lower() for _, _, key, _, spec, _ in tests if spec is not None]
        if len(set(keys)) == len(keys):
            continue  # no key is tested twice
        conditions = sf.statement.conditions
        by_key: dict[str, list[tuple[ConditionClause, OperatorSpec]]] = {}
        for clause in conditions:
            spec = OPERATORS.get(clause.operator)
            if spec is not None:
                by_key.setdefault(clause.key.lower(), []).append((clause, spec))
        for group in by_key.values():
            if len(group) < 2 or not _contradiction(group):
                continue
            last = group[-1][0]
            shown = " and ".join(f"{c.operator} {_values_text(c)}" for c, _ in group)
            yield context.finding(
                check,
                last.key_location,
                f"The conditions on {last.key} in {sf.where} ({shown}) can never all hold, since "
                f"every condition of a statement must match, so {_dead_effect(sf)}.",
                "Fix the values so that the range they describe is not empty, or remove the "
                "condition that is wrong.",
                _dead(sf),
            )


def _values_text(clause: ConditionClause) -> str:
    texts = [str(canonical_value(v.value)) for v in clause.values]
    return texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"


CHECKS: tuple[RuleCheck, ...] = (
    _aws_only,
    _key_unknown,
    _type_mismatch,
    _source_ip_private,
    _time_expired,
    _contradictions,
)
