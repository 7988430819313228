"""The typed, frozen model of a spec: an operation, its product and the protocol it speaks.

Everything the rest of acscontract knows about an operation comes from here; nothing about the
operation is written in Python. The raw spec documents stay reachable (`raw`) for derivations that
need the original shape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from acscontract.spec._terms import ConditionKey, ResourceType

__all__ = [
    "Check",
    "ConditionKey",
    "EndpointRules",
    "ErrorCode",
    "FlowControl",
    "GatewayError",
    "Lifecycle",
    "Operation",
    "Parameter",
    "ParameterProblem",
    "Product",
    "Protocol",
    "RamAction",
    "RequestLimit",
    "RequestLimits",
    "ResourceType",
    "SignatureMethod",
    "Transition",
    "Undocumented",
]

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_DECIMAL = re.compile(r"^-?[0-9]+$")


@dataclass(frozen=True, slots=True)
class Undocumented:
    """A point the documentation does not settle, with what the emulator does there."""

    pointer: str
    text: str


@dataclass(frozen=True, slots=True)
class Parameter:
    """One request parameter, as Alibaba's metadata describes it."""

    name: str
    location: str
    type: str
    required: bool
    format: str | None = None
    enum: tuple[str, ...] | None = None
    example: Any = None
    description: str = ""
    style: str | None = None
    max_length: int | None = None
    min_length: int | None = None
    pattern: str | None = None
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True, slots=True)
class ParameterProblem:
    """Why a set of request parameters breaks the spec's rules: the error code and the parameter."""

    code: str
    parameter: str
    message: str


@dataclass(frozen=True, slots=True)
class Check:
    """A check the service makes before the command runs, and the error code it answers with."""

    check: str
    code: str
    description: str = ""
    undocumented: str | None = None


@dataclass(frozen=True, slots=True)
class ErrorCode:
    """An error the operation itself returns."""

    code: str
    http_status: int
    message: str
    when: str


@dataclass(frozen=True, slots=True)
class GatewayError:
    """An error the API gateway returns before the operation runs."""

    code: str
    http_status: int
    when: str
    category: str
    condition: str = ""
    alternatives: tuple[int, ...] = ()
    message_format: str | None = None
    undocumented: str | None = None

    @property
    def statuses(self) -> tuple[int, ...]:
        """Every HTTP status a real endpoint may use for this code, the emulator's first."""
        return (self.http_status, *self.alternatives)


@dataclass(frozen=True, slots=True)
class RequestLimit:
    """How much of one thing a request may carry, and the gateway error over the limit."""

    name: str
    value: int
    unit: str
    condition: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class RequestLimits:
    """The protocol's `requestLimits`: what one request may cost, each with its refusal."""

    query_bytes: RequestLimit
    body_bytes: RequestLimit
    parameters: RequestLimit
    parameter_bytes: RequestLimit
    nonces_per_access_key: RequestLimit

    def all(self) -> tuple[RequestLimit, ...]:
        """Every limit, in the spec's order."""
        return (
            self.query_bytes,
            self.body_bytes,
            self.parameters,
            self.parameter_bytes,
            self.nonces_per_access_key,
        )


@dataclass(frozen=True, slots=True)
class SignatureMethod:
    """A signature scheme the protocol accepts (`v1` HMAC-SHA1 or `v3` ACS3-HMAC-SHA256)."""

    id: str
    name: str
    carried_in: str
    raw: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RamAction:
    """The RAM facts of an operation: its action, access level, resources and condition keys."""

    action: str
    access_level: str
    writes: bool | None
    billable: bool | None
    resource_types: tuple[ResourceType, ...]
    condition_keys: tuple[ConditionKey, ...]
    associated_actions: tuple[str, ...]
    known: bool = True


@dataclass(frozen=True, slots=True)
class FlowControl:
    """The per-scope call limit (for RealTimeRecordCommand: 50 per second per account)."""

    limit: int | None
    per: str
    scope: str
    throttle_code: str | None
    throttle_status: int | None
    default_algorithm: str | None

    @property
    def per_seconds(self) -> float:
        """The length of the limit's window in seconds."""
        return {"second": 1.0, "minute": 60.0}[self.per]


@dataclass(frozen=True, slots=True)
class Transition:
    """One lifecycle row: in state `source`, `trigger` leads to `target` or to `error`."""

    source: str
    trigger: str
    target: str | None
    error: str | None
    documented: bool
    start_timer: str | None = None
    produces_file: bool = False
    accepts: tuple[str, ...] = ()
    note: str | None = None
    undocumented: str | None = None

    @property
    def next_state(self) -> str:
        """The state after the trigger; an error leaves the state unchanged."""
        return self.target if self.target is not None else self.source

    def accepts_outcome(self, outcome: str) -> bool:
        """Whether a real endpoint's `outcome` (`ok` or an error code) is acceptable here.

        On documented transitions only the documented outcome is; on undocumented ones, any
        outcome the spec lists in `accepts`.
        """
        expected = "ok" if self.error is None else self.error
        if self.documented:
            return outcome == expected
        return outcome == expected or outcome in self.accepts


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """The recording lifecycle of one stream as a declarative state machine."""

    entity: str
    key: tuple[str, ...]
    initial: str
    states: tuple[str, ...]
    timers: Mapping[str, float]
    events: tuple[str, ...]
    timer_events: Mapping[str, str]
    transitions: tuple[Transition, ...]

    def transition(self, state: str, trigger: str) -> Transition | None:
        """The transition for `trigger` in `state`, or None when the spec has none."""
        for transition in self.transitions:
            if transition.source == state and transition.trigger == trigger:
                return transition
        return None

    def event_for_timer(self, timer: str) -> str | None:
        """The event a timer fires when it runs out."""
        for event, name in self.timer_events.items():
            if name == timer:
                return event
        return None


_TEMPLATE_FIELD = re.compile(r"\{(\w+)\}")
#: A region id as it appears in a host name: one DNS label.
_REGION_LABEL = "[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"


@dataclass(frozen=True, slots=True)
class EndpointRules:
    """How the SDKs name a product's endpoint when its endpoint list has none for a region.

    `templates` are host names over `{product}`, `{network}`, `{regionId}` and `{domain}`;
    `networks` are the values `{network}` takes (empty for the public network). Every endpoint of
    the protocol is under `domain`.
    """

    domain: str
    templates: tuple[str, ...]
    networks: tuple[str, ...]

    FIELDS: ClassVar[tuple[str, ...]] = ("product", "network", "regionId", "domain")

    @staticmethod
    def template_fields(template: str) -> tuple[str, ...]:
        """The `{field}` names a template uses, in order."""
        return tuple(_TEMPLATE_FIELD.findall(template))

    def host_patterns(self, product: str) -> tuple[str, ...]:
        """Regular expressions for the hosts the templates name for `product`, in any region."""
        values = {"product": re.escape(product.lower()), "domain": re.escape(self.domain)}
        patterns: list[str] = []
        for template in self.templates:
            for network in self.networks:
                values["network"] = re.escape(network)
                values["regionId"] = _REGION_LABEL
                pieces, last = [], 0
                for match in _TEMPLATE_FIELD.finditer(template):
                    pieces.append(re.escape(template[last : match.start()]))
                    pieces.append(values[match.group(1)])
                    last = match.end()
                pieces.append(re.escape(template[last:]))
                patterns.append("".join(pieces))
        return tuple(dict.fromkeys(patterns))

    def is_under_domain(self, host: str) -> bool:
        """Whether `host` (any case, with or without a trailing dot) is under `domain`."""
        name = host.lower().rstrip(".")
        return name == self.domain or name.endswith("." + self.domain)


@dataclass(frozen=True, slots=True)
class Protocol:
    """Facts shared by every operation of every product that speaks this protocol (RPC)."""

    name: str
    path: Path
    common_parameters: tuple[Parameter, ...]
    signature_methods: tuple[SignatureMethod, ...]
    timestamp_skew_seconds: int
    timestamp_format: str
    nonce_window_seconds: int
    error_content_type: str
    request_id_pattern: str | None
    error_schema: Mapping[str, Any]
    gateway_errors: tuple[GatewayError, ...]
    global_condition_keys: tuple[ConditionKey, ...]
    request_limits: RequestLimits
    raw: Mapping[str, Any] = field(repr=False)
    endpoint_rules: EndpointRules | None = None

    def gateway_error(self, code: str) -> GatewayError:
        """The gateway error with this code; KeyError if the protocol has none."""
        for error in self.gateway_errors:
            if error.code == code:
                return error
        raise KeyError(code)

    def gateway_error_for(self, condition: str) -> GatewayError:
        """The gateway error for a condition id (`unknownAccessKey`, ...); KeyError if none."""
        for error in self.gateway_errors:
            if error.condition == condition:
                return error
        raise KeyError(condition)

    def gateway_errors_in(self, category: str) -> tuple[GatewayError, ...]:
        """The gateway errors of one category (`signature`, `throttling`, ...)."""
        return tuple(e for e in self.gateway_errors if e.category == category)


@dataclass(frozen=True, slots=True)
class Product:
    """A product and API version: its identity, endpoints and the protocol it speaks."""

    name: str
    version: str
    style: str
    title: str
    path: Path
    default_endpoint: str
    endpoints: Mapping[str, str]
    ram_action_prefix: str
    metadata_path: Path | None
    protocol: Protocol
    raw: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation of a product, with everything the spec knows about it."""

    name: str
    path: Path
    product: Product
    title: str
    summary: str
    description: str
    methods: tuple[str, ...]
    schemes: tuple[str, ...]
    operation_type: str | None
    parameters: tuple[Parameter, ...]
    success_schema: Mapping[str, Any]
    errors: tuple[ErrorCode, ...]
    checks: tuple[Check, ...]
    ram: RamAction
    flow_control: FlowControl
    lifecycle: Lifecycle | None
    undocumented: tuple[Undocumented, ...]
    raw: Mapping[str, Any] = field(repr=False)

    @property
    def qualified_name(self) -> str:
        """`product/version/Name`, the unambiguous way to name an operation."""
        return f"{self.product.name}/{self.product.version}/{self.name}"

    @property
    def protocol(self) -> Protocol:
        """The protocol the operation's product speaks."""
        return self.product.protocol

    def parameter(self, name: str) -> Parameter:
        """The parameter called `name`; KeyError if there is none."""
        for parameter in self.parameters:
            if parameter.name == name:
                return parameter
        raise KeyError(name)

    def error(self, code: str) -> ErrorCode:
        """The operation's own error with this code; KeyError if there is none."""
        for error in self.errors:
            if error.code == code:
                return error
        raise KeyError(code)

    def status_of(self, code: str) -> int:
        """The HTTP status the spec gives `code`, from the operation's or the gateway's errors."""
        for error in self.errors:
            if error.code == code:
                return error.http_status
        return self.protocol.gateway_error(code).http_status

    def documented_statuses(self, code: str) -> tuple[int, ...]:
        """Every HTTP status a real endpoint may use for `code`; empty for an unknown code."""
        statuses = [e.http_status for e in self.errors if e.code == code]
        for gateway in self.protocol.gateway_errors:
            if gateway.code == code:
                statuses.extend(gateway.statuses)
        return tuple(dict.fromkeys(statuses))

    @property
    def all_error_codes(self) -> tuple[str, ...]:
        """Every code the endpoint may return: the operation's own and the gateway's."""
        codes = [e.code for e in self.errors] + [e.code for e in self.protocol.gateway_errors]
        return tuple(dict.fromkeys(codes))

    @property
    def required_parameters(self) -> tuple[Parameter, ...]:
        """The parameters a request must carry."""
        return tuple(p for p in self.parameters if p.required)

    @property
    def command_parameter(self) -> Parameter | None:
        """The parameter whose enum values are the lifecycle's commands, if there is one."""
        if self.lifecycle is None:
            return None
        commands = {t.trigger for t in self.lifecycle.transitions}
        for parameter in self.parameters:
            if parameter.enum and set(parameter.enum) <= commands:
                return parameter
        return None

    def check_code(self, check: str) -> str:
        """The error code the spec gives a precondition check (`missingParameter`, ...)."""
        for item in self.checks:
            if item.check == check:
                return item.code
        raise LookupError(
            f"{self.path}: the spec of {self.name} has no x-checks entry {check!r}, which this "
            "feature needs."
        )

    def check_parameters(self, params: Mapping[str, str]) -> ParameterProblem | None:
        """Apply the spec's parameter rules to wire values; return the first problem, or None.

        Missing parameters are found before malformed ones, and an empty value for a required
        parameter counts as missing (see `x-checksUndocumented`).
        """
        for parameter in self.parameters:
            if parameter.required and not params.get(parameter.name):
                return ParameterProblem(
                    self.check_code("missingParameter"),
                    parameter.name,
                    f"The input parameter {parameter.name} that is mandatory for processing "
                    "this request is not supplied.",
                )
        for parameter in self.parameters:
            value = params.get(parameter.name)
            if value is None or (value == "" and not parameter.required):
                continue
            reason = _value_problem(parameter, value)
            if reason is not None:
                return ParameterProblem(
                    self.check_code("malformedParameter"),
                    parameter.name,
                    f"The specified parameter {parameter.name} is not valid: {reason}.",
                )
        return None


def _value_problem(parameter: Parameter, value: str, *, forbid_control: bool = True) -> str | None:
    if forbid_control and _CONTROL_CHARACTERS.search(value):
        return "it contains control characters"
    if parameter.type == "integer":
        if not _DECIMAL.match(value):
            return f"{value[:40]!r} is not a decimal integer"
        number = int(value)
        if parameter.format == "int64" and not _INT64_MIN <= number <= _INT64_MAX:
            return "it is out of the int64 range"
        if parameter.format == "int32" and not -(2**31) <= number < 2**31:
            return "it is out of the int32 range"
        if parameter.minimum is not None and number < parameter.minimum:
            return f"it is below the minimum {parameter.minimum}"
        if parameter.maximum is not None and number > parameter.maximum:
            return f"it is above the maximum {parameter.maximum}"
    if parameter.type == "boolean" and value not in ("true", "false"):
        return f"{value[:40]!r} is not true or false"
    if parameter.enum is not None and value not in parameter.enum:
        return f"{value[:40]!r} is not one of {', '.join(parameter.enum)}"
    if parameter.max_length is not None and len(value) > parameter.max_length:
        return f"it is longer than {parameter.max_length} characters"
    if parameter.min_length is not None and len(value) < parameter.min_length:
        return f"it is shorter than {parameter.min_length} characters"
    if parameter.pattern is not None and not re.search(parameter.pattern, value):
        return f"it does not match {parameter.pattern}"
    return None
