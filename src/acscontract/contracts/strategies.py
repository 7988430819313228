"""Hypothesis strategies derived from an operation's spec: the one module for strategies.

Every value comes from the spec model: parameter names, types, enums and limits, the error code
each precondition check answers with, the gateway's error categories, the HTTP methods and the
signature schemes. A generated `RequestCase` carries the request and what the spec says may come
back for it, so a contract only sends it and compares.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from acscontract.signing import Scheme
from acscontract.spec import Operation, Parameter, encode, request_schema
from acscontract.spec._values import JSON_BOOLEANS

__all__ = [
    "OK",
    "SEQUENCE_SIZE",
    "InvalidKind",
    "RequestCase",
    "action_errors",
    "control_characters",
    "invalid_requests",
    "methods",
    "oversized_requests",
    "parameter_errors",
    "parameter_value",
    "ram_refusals",
    "schemes",
    "sequences",
    "signed_as",
    "signings",
    "structured_value",
    "valid_parameters",
    "valid_requests",
]

OK = "ok"
"""The outcome of a request the endpoint accepted (HTTP 200), next to error codes."""

_INT_BOUNDS = {"int64": (-(2**63), 2**63 - 1), "int32": (-(2**31), 2**31 - 1)}
_CONTROL = tuple(chr(c) for c in (*range(0x20), 0x7F))
_TEXT = st.characters(exclude_categories=("Cs", "Cc"))
# Long enough to be "oversized" for any plausible gateway, short enough for one HTTP request line.
_OVERSIZED = (1025, 4096)
_SHORT_LIST = 3  # items of a generated array: enough to show repeatList indexes
SEQUENCE_SIZE = 12
"""The most requests one example of a property sends (see `sequences`)."""


class InvalidKind:
    """The kinds of invalid request the strategies make (stable ids, shown in reports)."""

    MISSING = "missing-parameter"
    EMPTY = "empty-parameter"
    UNKNOWN_ENUM = "unknown-enum-value"
    CONTROL = "control-characters"
    WRONG_TYPE = "wrong-type"
    OVERSIZED = "oversized-value"
    UNKNOWN_ACTION = "unknown-action"
    MISSING_ACTION = "missing-action"
    UNKNOWN_VERSION = "unknown-version"
    MALFORMED = "malformed-value"


@dataclass(frozen=True, slots=True)
class RequestCase:
    """One generated request and the outcomes the spec allows for it.

    `params` are the business parameters as wire strings, in order. `action` or `version` None
    leaves that common parameter out. `expected` is the outcome the spec names (the emulator's
    answer), `accepted` every outcome a real endpoint may give (`ok` or an error code); an empty
    `accepted` means the outcome depends on the target's state and the contract decides.
    """

    kind: str
    params: tuple[tuple[str, str], ...]
    action: str | None
    version: str | None
    method: str
    scheme: Scheme
    parameter: str | None = None
    expected: str | None = None
    accepted: frozenset[str] = field(default_factory=frozenset)
    documented: bool = True

    @property
    def param_map(self) -> dict[str, str]:
        """The business parameters as a dict (the last value wins)."""
        return dict(self.params)

    def describe(self) -> str:
        """A one-line description for reports: kind, parameter, method and scheme."""
        target = f" {self.parameter}" if self.parameter else ""
        return f"{self.kind}{target} ({self.method} {self.scheme.value})"


def _method_names(op: Operation) -> list[str]:
    return [m.upper() for m in op.methods]


def _scheme_list(op: Operation) -> list[Scheme]:
    known = {s.value: s for s in Scheme}
    declared = [known[m.id] for m in op.protocol.signature_methods if m.id in known]
    if not declared:
        raise LookupError(
            f"{op.protocol.path}: the protocol declares no signature method acscontract can sign "
            f"with (it knows {', '.join(known)})."
        )
    return declared


def methods(op: Operation) -> st.SearchStrategy[str]:
    """The HTTP methods the operation accepts, upper-cased."""
    return st.sampled_from(_method_names(op))


def schemes(op: Operation) -> st.SearchStrategy[Scheme]:
    """The signature schemes the protocol declares that the signer implements."""
    return st.sampled_from(_scheme_list(op))


def signings(op: Operation) -> list[tuple[str, Scheme]]:
    """Every (HTTP method, signature scheme) pair the operation takes, in the spec's order."""
    return [(m, s) for m in _method_names(op) for s in _scheme_list(op)]


def signed_as(op: Operation) -> st.SearchStrategy[tuple[str, Scheme]]:
    """(HTTP method, signature scheme) pairs, drawn together (one choice instead of two)."""
    return st.sampled_from(signings(op))


def _integer_bounds(parameter: Parameter) -> tuple[int, int]:
    low, high = _INT_BOUNDS.get(parameter.format or "int64", _INT_BOUNDS["int64"])
    if parameter.minimum is not None:
        low = max(low, int(parameter.minimum))
    if parameter.maximum is not None:
        high = min(high, int(parameter.maximum))
    return low, high


def parameter_value(
    parameter: Parameter,
    wire_pattern: str | None = None,
    booleans: Mapping[str, bool] = JSON_BOOLEANS,
) -> st.SearchStrategy[str]:
    """Valid wire values (strings) of one parameter, by its type, enum, lengths and pattern.

    `wire_pattern` is the pattern the derived request schema gives the wire value (for an
    integer, how many digits it allows); values are kept within it too. A boolean is any of
    `booleans`' spellings (the protocol's: what every official SDK sends).
    """
    if parameter.enum is not None:
        return st.sampled_from(list(parameter.enum))
    if parameter.type == "integer":
        low, high = _integer_bounds(parameter)
        values = st.integers(low, high).map(str)
        if wire_pattern is not None:
            values = values.filter(re.compile(wire_pattern).search)
        return values
    if parameter.type == "boolean":
        return st.sampled_from(list(booleans))
    min_size = max(parameter.min_length or 0, 1 if parameter.required else 0)
    max_size = parameter.max_length if parameter.max_length is not None else max(min_size, 64)
    if parameter.pattern is not None:
        return st.from_regex(parameter.pattern, fullmatch=True).filter(
            lambda v: min_size <= len(v) <= max_size and not any(c in _CONTROL for c in v)
        )
    return st.text(_TEXT, min_size=min_size, max_size=max_size)


def structured_value(parameter: Parameter) -> st.SearchStrategy[list[tuple[str, str]]]:
    """Valid values of an array or object parameter (repeatList, json or simple), drawn from its
    schema and encoded as the official SDKs send them: the wire pairs."""
    schema = parameter.json_schema()
    validator = Draft202012Validator(schema)
    values = _schema_values(schema, top=parameter.required).filter(validator.is_valid)
    return values.map(lambda value: encode(parameter.name, parameter.style, value))


def _schema_values(schema: Mapping[str, Any], *, top: bool = False) -> st.SearchStrategy[Any]:
    """Values of a JSON Schema (as `json_schema` derives them from the metadata): objects with
    their declared properties only, short arrays, bounded numbers, text without control
    characters."""
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return st.sampled_from(enum)
    kind = schema.get("type")
    properties = schema.get("properties")
    if kind == "object" or isinstance(properties, Mapping):
        fields = dict(properties) if isinstance(properties, Mapping) else {}
        required = set(schema.get("required", ()))
        # At least one field: an empty object has no wire pairs in a repeatList, which would
        # leave a gap in the indexes.
        return st.fixed_dictionaries(
            {k: _schema_values(v) for k, v in fields.items() if k in required},
            optional={k: _schema_values(v) for k, v in fields.items() if k not in required},
        ).filter(lambda value: bool(value) or not fields)
    if kind == "array":
        items = schema.get("items")
        low = max(int(schema.get("minItems", 0)), 1 if top else 0)
        high = min(int(schema.get("maxItems", _SHORT_LIST)), max(low, _SHORT_LIST))
        element = _schema_values(items) if isinstance(items, Mapping) else st.text(_TEXT)
        return st.lists(element, min_size=low, max_size=high)
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "number":
        return st.floats(
            schema.get("minimum"), schema.get("maximum"), allow_nan=False, allow_infinity=False
        )
    if kind == "boolean":
        return st.booleans()
    low = int(schema.get("minLength", 1 if top else 0))
    high = int(schema.get("maxLength", max(low, 32)))
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        return st.from_regex(pattern, fullmatch=True).filter(
            lambda v: low <= len(v) <= high and not any(c in _CONTROL for c in v)
        )
    return st.text(_TEXT, min_size=low, max_size=high)


Fixed = Mapping[str, "str | st.SearchStrategy[str]"]


def valid_parameters(
    op: Operation, fixed: Fixed | None = None, *, optional: bool = True
) -> st.SearchStrategy[dict[str, str]]:
    """Business parameter sets that pass the spec's rules.

    `fixed` pins parameters to a value or a strategy (a target's domain, app and stream).
    Optional parameters not pinned are drawn or left out when `optional` is true, and always left
    out when it is false (a real account may not accept arbitrary region or owner values).
    """
    fixed = dict(fixed or {})
    wire = request_schema(op)["properties"]
    pinned: dict[str, str] = {}
    drawn: dict[str, st.SearchStrategy[Any]] = {}
    maybe: dict[str, st.SearchStrategy[Any]] = {}

    def values_of(parameter: Parameter) -> st.SearchStrategy[Any]:
        if parameter.structured:
            return structured_value(parameter)
        return parameter_value(
            parameter, wire[parameter.name].get("pattern"), op.protocol.boolean_values
        )

    for parameter in op.parameters:
        value = fixed.get(parameter.name)
        if isinstance(value, str):
            pinned[parameter.name] = value  # no draw at all: cheaper, and shrinks nothing
        elif value is not None:
            drawn[parameter.name] = value
        elif parameter.required:
            drawn[parameter.name] = values_of(parameter)
        elif optional:
            maybe[parameter.name] = values_of(parameter)
    order = [p.name for p in op.parameters]

    def assemble(values: dict[str, Any]) -> dict[str, str]:
        merged = {**pinned, **values}
        out: dict[str, str] = {}
        for name in order:
            value = merged.get(name)
            if isinstance(value, list):  # a structured parameter's wire pairs
                out.update(value)
            elif value is not None:
                out[name] = value
        return out

    return st.fixed_dictionaries(drawn, optional=maybe).map(assemble)


def valid_requests(
    op: Operation, fixed: Fixed | None = None, *, optional: bool = True
) -> st.SearchStrategy[RequestCase]:
    """Valid requests: parameters, method and scheme; the outcome depends on the target's state."""

    def assemble(params: dict[str, str], how: tuple[str, Scheme]) -> RequestCase:
        return RequestCase(
            kind="valid",
            params=tuple(params.items()),
            action=op.name,
            version=op.product.version,
            method=how[0],
            scheme=how[1],
        )

    return st.builds(assemble, valid_parameters(op, fixed, optional=optional), signed_as(op))


def sequences(
    cases: st.SearchStrategy[RequestCase], max_size: int = SEQUENCE_SIZE
) -> st.SearchStrategy[list[RequestCase]]:
    """Sequences of requests: one hypothesis example sends several, in order.

    The endpoint is stateful, so a sequence is the natural unit; it also spreads hypothesis'
    per-example cost over several requests, and shrinks to the shortest failing sequence.
    """
    return st.lists(cases, min_size=1, max_size=max_size)


def parameter_errors(op: Operation) -> frozenset[str]:
    """Every code a real endpoint may give a bad business value.

    The spec leaves open whether an empty value is missing or malformed, and whether the gateway
    answers a missing parameter before the operation does; so both operation codes and the
    gateway's parameter codes are acceptable.
    """
    gateway = {e.code for e in op.protocol.gateway_errors_in("parameter")}
    return frozenset(
        {op.check_code("missingParameter"), op.check_code("malformedParameter"), *gateway}
    )


def ram_refusals(op: Operation, parameter: str | None) -> frozenset[str]:
    """The permission codes a bad value of `parameter` may also get, when the parameter names
    the RAM resource (DomainName in `acs:cdn:*:{#accountId}:domain/{#DomainName}`).

    The gateway evaluates RAM before the operation checks its parameters, so a key whose
    policies allow only some domains is denied a request that names another, or none, before
    the operation can call the value missing or malformed.
    """
    named = {p for r in op.ram.resource_types for p in r.placeholders}
    if parameter is None or parameter not in named:
        return frozenset()
    return frozenset(e.code for e in op.protocol.gateway_errors_in("permission"))


def action_errors(op: Operation) -> frozenset[str]:
    """The gateway's codes for an unknown or missing Action or Version."""
    return frozenset(e.code for e in op.protocol.gateway_errors_in("action"))


def control_characters() -> st.SearchStrategy[str]:
    """One of the characters the spec's malformed-parameter check refuses."""
    return st.sampled_from(_CONTROL)


def _with(params: Mapping[str, str], name: str, value: str | None) -> tuple[tuple[str, str], ...]:
    prefix = name + "."
    out = {k: v for k, v in params.items() if k != name and not k.startswith(prefix)}
    if value is None:
        return tuple(out.items())
    # Keep the spec's parameter order so reports read naturally.
    merged = dict(params)
    merged[name] = value
    return tuple(merged.items())


def _not_in(values: Sequence[str]) -> Callable[[str], bool]:
    return lambda v: v not in values


def _wrong_type_values(parameter: Parameter) -> st.SearchStrategy[str]:
    """Values that break an integer parameter's type: not decimal, fractional, or out of range."""
    low, high = _integer_bounds(parameter)
    return st.one_of(
        st.text(string.ascii_letters, min_size=1, max_size=12),
        st.floats(allow_nan=False, allow_infinity=False).map(repr).filter(lambda v: "." in v),
        st.integers(min_value=high + 1, max_value=high + 1 + abs(high) * 3).map(str),
        st.integers(min_value=low - 1 - abs(low) * 3, max_value=low - 1).map(str),
        st.sampled_from(["0x1F", "1e3", "+", "-", " 1", "true"]),
    )


@dataclass(frozen=True, slots=True)
class _Defect:
    """What makes a valid request invalid; applied to a drawn valid request by `_assemble`."""

    kind: str
    parameter: str | None = None
    value: str | None = None
    """The bad value; None removes the parameter (for MISSING)."""
    insert: tuple[str, int, str] | None = None
    """(character, position, fallback value): a control character put into the valid value."""
    action: str | None = None
    version: str | None = None
    action_level: bool = False


def _defects(op: Operation) -> st.SearchStrategy[_Defect]:
    """Every way the spec lets a request be invalid, each as a prebuilt strategy."""
    required = [p.name for p in op.required_parameters]
    options: list[st.SearchStrategy[_Defect]] = [
        st.sampled_from(required).map(lambda n: _Defect(InvalidKind.MISSING, n)),
        st.sampled_from(required).map(lambda n: _Defect(InvalidKind.EMPTY, n, "")),
    ]
    wire = request_schema(op)["properties"]
    for parameter in op.parameters:
        name = parameter.name
        if parameter.enum is not None:
            enum = list(parameter.enum)
            options.append(
                st.one_of(
                    st.text(string.ascii_letters + "_", min_size=1, max_size=16),
                    st.sampled_from(enum).map(str.upper),
                    st.sampled_from(enum).map(lambda v: v + "_"),
                )
                .filter(_not_in(enum))
                .map(_defect(InvalidKind.UNKNOWN_ENUM, name))
            )
        if parameter.type == "integer":
            options.append(_wrong_type_values(parameter).map(_defect(InvalidKind.WRONG_TYPE, name)))
        if not op.refuses_control_characters or parameter.structured:
            continue
        # A control character inside an otherwise valid value (the request's own, if it has one).
        fallback = parameter_value(parameter, wire[name].get("pattern"), op.protocol.boolean_values)
        options.append(
            st.tuples(control_characters(), st.integers(0, 64), fallback).map(_control(name))
        )
    options.append(
        st.one_of(
            st.text(string.ascii_letters, min_size=1, max_size=40)
            .filter(_not_in([op.name]))
            .map(
                lambda a: _Defect(
                    InvalidKind.UNKNOWN_ACTION,
                    action=a,
                    version=op.product.version,
                    action_level=True,
                )
            ),
            st.just(
                _Defect(InvalidKind.MISSING_ACTION, version=op.product.version, action_level=True)
            ),
            st.text(string.digits + "-", min_size=1, max_size=12)
            .filter(_not_in([op.product.version]))
            .map(
                lambda v: _Defect(
                    InvalidKind.UNKNOWN_VERSION, action=op.name, version=v, action_level=True
                )
            ),
        )
    )
    return st.one_of(options)


def _defect(kind: str, name: str) -> Callable[[str], _Defect]:
    def make(value: str) -> _Defect:
        return _Defect(kind, name, value)

    return make


def _control(name: str) -> Callable[[tuple[str, int, str]], _Defect]:
    def make(drawn: tuple[str, int, str]) -> _Defect:
        return _Defect(InvalidKind.CONTROL, name, insert=drawn)

    return make


def _insert(value: str, character: str, position: int) -> str:
    """`value` with `character` inserted at `position` (modulo its length plus one)."""
    at = position % (len(value) + 1)
    return value[:at] + character + value[at:]


def invalid_requests(
    op: Operation, fixed: Fixed | None = None, *, optional: bool = True
) -> st.SearchStrategy[RequestCase]:
    """Requests the spec says must be refused, each with its intended code.

    Kinds: each required parameter missing or empty; a value outside its enum, of the wrong type,
    or with control characters; an unknown or missing Action; an unknown Version. `expected` is
    the code the spec's checks give (what `op.check_parameters` returns); `accepted` widens it
    where the spec says the real service is undocumented.
    """
    missing_code = op.check_code("missingParameter")
    malformed_code = op.check_code("malformedParameter")
    param_codes = parameter_errors(op)
    action_codes = action_errors(op)

    def assemble(base: dict[str, str], how: tuple[str, Scheme], defect: _Defect) -> RequestCase:
        method, scheme = how
        if defect.action_level:
            return RequestCase(
                kind=defect.kind,
                params=tuple(base.items()),
                action=defect.action,
                version=defect.version,
                method=method,
                scheme=scheme,
                accepted=action_codes,
            )
        name = defect.parameter or ""
        value = defect.value
        if defect.insert is not None:
            character, position, fallback = defect.insert
            value = _insert(base.get(name, fallback), character, position)
        missing = defect.kind in (InvalidKind.MISSING, InvalidKind.EMPTY)
        return RequestCase(
            kind=defect.kind,
            params=_with(base, name, value),
            action=op.name,
            version=op.product.version,
            method=method,
            scheme=scheme,
            parameter=name,
            expected=missing_code if missing else malformed_code,
            accepted=param_codes | ram_refusals(op, name),
            documented=defect.kind != InvalidKind.EMPTY,
        )

    return st.builds(
        assemble, valid_parameters(op, fixed, optional=optional), signed_as(op), _defects(op)
    )


def oversized_requests(
    op: Operation, fixed: Fixed | None = None, *, optional: bool = True
) -> st.SearchStrategy[RequestCase]:
    """Requests with one string value longer than any plausible limit.

    The spec publishes no length limit (`x-lengthLimits` is undocumented), so `accepted` is every
    documented outcome that is not a server error: 200, a parameter error, or a state error.
    """
    strings = [p.name for p in op.parameters if p.type == "string" and p.enum is None]
    accepted = frozenset(
        {OK, *parameter_errors(op), *(e.code for e in op.errors if e.http_status < 500)}
    )
    low, high = _OVERSIZED

    def assemble(
        base: dict[str, str], how: tuple[str, Scheme], name: str, size: int, unit: str
    ) -> RequestCase:
        method, scheme = how
        value = (unit * (size // len(unit) + 1))[:size]
        return RequestCase(
            kind=InvalidKind.OVERSIZED,
            params=_with(base, name, value),
            action=op.name,
            version=op.product.version,
            method=method,
            scheme=scheme,
            parameter=name,
            accepted=accepted | ram_refusals(op, name),
            documented=False,
        )

    return st.builds(
        assemble,
        valid_parameters(op, fixed, optional=optional),
        signed_as(op),
        st.sampled_from(strings),
        st.integers(low, high),
        st.text(string.ascii_letters + string.digits, min_size=1, max_size=8),
    )
