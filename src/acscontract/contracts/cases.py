"""The few fixed requests the lean contracts send per operation.

For an operation without a lifecycle the suite sends one valid request, each required parameter
missing once, and one malformed value, and checks every answer against the spec. Every value
comes from the spec: the metadata's examples (`example_parameters`), the account's domain in the
parameter that names one (`domain_parameter`), and a malformed value that the spec's own rules
refuse (`Operation.check_parameters` decides, and gives the code the emulator answers). The
requests alternate between the operation's HTTP methods and signature versions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from acscontract.contracts.selection import domain_parameter
from acscontract.contracts.strategies import (
    OK,
    InvalidKind,
    RequestCase,
    parameter_errors,
    ram_refusals,
    signings,
)
from acscontract.spec import example_parameters

if TYPE_CHECKING:
    from acscontract.spec import Operation, Parameter

__all__ = ["LeanCases", "absent_domain", "lean_cases", "own_outcomes"]

Pairs = tuple[tuple[str, str], ...]

_ABSENT_PREFIX = "absent-acscontract."


class _CaseMaker(Protocol):
    def __call__(self, kind: str, pairs: Pairs, **fields: Any) -> RequestCase: ...


@dataclass(frozen=True, slots=True)
class LeanCases:
    """One operation's lean requests: `valid` (None, with `why`, when the spec's examples make
    no valid request), `missing` (one per required parameter) and `malformed` (None when no
    value of any parameter can be malformed by the spec's rules)."""

    op: Operation
    valid: RequestCase | None
    missing: tuple[RequestCase, ...]
    malformed: RequestCase | None
    why: str = ""

    @property
    def invalid(self) -> tuple[RequestCase, ...]:
        """The requests the spec refuses: the missing parameters, then the malformed value."""
        return (*self.missing, *((self.malformed,) if self.malformed is not None else ()))

    @property
    def all(self) -> tuple[RequestCase, ...]:
        """Every request, valid first."""
        return (*((self.valid,) if self.valid is not None else ()), *self.invalid)


def absent_domain(domain: str) -> str:
    """A domain name no account has: a made-up subdomain of `domain`."""
    return _ABSENT_PREFIX + domain


def own_outcomes(op: Operation) -> frozenset[str]:
    """What a valid request of `op` may get: 200, or one of the operation's own documented
    client errors (the spec cannot tell the account's state)."""
    codes = {e.code for e in (*op.errors, *op.product_errors) if e.http_status < 500}
    return frozenset({OK, *codes})


def _without(pairs: Pairs, parameter: Parameter) -> Pairs:
    prefix = parameter.name + "."
    return tuple((k, v) for k, v in pairs if k != parameter.name and not k.startswith(prefix))


def _malformed_candidates(parameter: Parameter, control: bool) -> list[Pairs]:
    """Wire values that may break `parameter`'s rules; the spec decides which do."""
    name = parameter.name
    if parameter.style == "repeatList":
        return [((f"{name}.0", "x"),)]
    values = []
    if parameter.enum is not None or parameter.type in ("integer", "number", "boolean"):
        values.append("not-a-" + parameter.type)
    if parameter.style == "json" or parameter.type == "object":
        values.append("{")
    if parameter.max_length is not None:
        values.append("x" * (parameter.max_length + 1))
    if control:
        values.append("acscontract\x01")
    return [((name, value),) for value in values]


def lean_cases(
    op: Operation,
    domain: str | None,
    *,
    invalid_domain: str | None = None,
) -> LeanCases:
    """The lean requests of `op`, naming `domain` in its domain parameter (`invalid_domain` in
    the requests the spec refuses, when given: a real account's writing operations name a domain
    that does not exist there, so that a request wrongly accepted changes nothing)."""
    domain_name = domain_parameter(op.product)
    signed = signings(op)
    count = 0

    def case(kind: str, pairs: Pairs, **fields: Any) -> RequestCase:
        nonlocal count
        method, scheme = signed[count % len(signed)]
        count += 1
        return RequestCase(
            kind=kind,
            params=pairs,
            action=op.name,
            version=op.product.version,
            method=method,
            scheme=scheme,
            **fields,
        )

    def named(domain_value: str | None) -> Pairs:
        pairs = example_parameters(op)
        if domain_name is None or domain_value is None:
            return tuple(pairs)
        return tuple((k, domain_value if k == domain_name else v) for k, v in pairs)

    base = named(domain)
    refused_base = named(invalid_domain or domain)
    valid = None
    why = ""
    if op.check_parameters(dict(base)) is None:
        valid = case("valid", base, accepted=own_outcomes(op))
    else:
        problem = op.check_parameters(dict(base))
        why = f"the spec's examples make no valid request ({problem})"
    missing = []
    for parameter in op.required_parameters:
        pairs = _without(refused_base, parameter)
        problem = op.check_parameters(dict(pairs))
        missing.append(
            case(
                InvalidKind.MISSING,
                pairs,
                parameter=parameter.name,
                expected=None if problem is None else problem.code,
                accepted=parameter_errors(op) | ram_refusals(op, parameter.name),
            )
        )
    malformed = _malformed(op, refused_base, case)
    return LeanCases(op, valid, tuple(missing), malformed, why)


def _malformed(op: Operation, base: Pairs, case: _CaseMaker) -> RequestCase | None:
    control = op.refuses_control_characters
    ordered = sorted(op.parameters, key=lambda p: not p.required)
    for parameter in ordered:
        for candidate in _malformed_candidates(parameter, control):
            pairs = (*_without(base, parameter), *candidate)
            found = op.malformed_parameter(dict(pairs))
            if found is None or found[0] != parameter.name:
                continue
            problem = op.check_parameters(dict(pairs))
            return case(
                InvalidKind.MALFORMED,
                pairs,
                parameter=parameter.name,
                expected=None if problem is None else problem.code,
                accepted=parameter_errors(op) | ram_refusals(op, parameter.name),
            )
    return None
