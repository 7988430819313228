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
from typing import TYPE_CHECKING, Any, ClassVar

from acscontract.spec._terms import ConditionKey, ResourceType
from acscontract.spec._values import JSON_BOOLEANS, ShapeError, coerce, decode, json_schema

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

__all__ = [
    "CHECK_KINDS",
    "EFFECT_KINDS",
    "Check",
    "CheckKind",
    "ConditionKey",
    "Effect",
    "EndpointRules",
    "ErrorCode",
    "FieldSource",
    "Filter",
    "FlowControl",
    "GatewayError",
    "Lifecycle",
    "Match",
    "Operation",
    "Paging",
    "Parameter",
    "ParameterProblem",
    "Produces",
    "Product",
    "Protocol",
    "RamAction",
    "RequestLimit",
    "RequestLimits",
    "Requirement",
    "Resource",
    "ResourceEvent",
    "ResourceProperty",
    "ResourceType",
    "SeedBinding",
    "SignatureMethod",
    "TimerSource",
    "Transition",
    "Undocumented",
]

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_REASON = "it contains control characters"
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_DECIMAL = re.compile(r"^-?[0-9]+$")
# Effects and metadata operation types that only read (see `Operation.writes`).
_READING_EFFECTS = frozenset({"read", "list"})
_READING_OPERATION_TYPES = frozenset({"get", "list"})


class Memo(dict[str, Any]):
    """Values computed once from a frozen spec object and kept on it.

    A memo is never pickled (it pickles as an empty memo): it may hold objects that cannot be
    pickled, such as JSON Schema validators, and the spec cache pickles operations.
    """

    __slots__ = ()

    def __reduce__(self) -> tuple[type[Memo], tuple[()]]:
        return (Memo, ())


@dataclass(frozen=True, slots=True)
class Undocumented:
    """A point the documentation does not settle, with what the emulator does there."""

    pointer: str
    text: str


@dataclass(frozen=True, slots=True)
class Parameter:
    """One request parameter, as Alibaba's metadata describes it.

    `style` says how an array or object travels: `repeatList` as `Name.1`, `Name.1.Field`, ...;
    `json` as one JSON text; `simple` as comma-separated values. `items` is the schema of an
    array's items (for repeatList, an object's `properties` or a scalar), `max_items` its bound.
    """

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
    default: str | None = None
    schema: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """The parameter's schema as the metadata writes it (see `json_schema` for JSON Schema)."""
    _memo: Memo = field(default_factory=lambda: Memo(), init=False, repr=False, compare=False)

    @property
    def structured(self) -> bool:
        """Whether the value is an array or object (repeatList, json or simple style)."""
        return self.type in ("array", "object")

    @property
    def items(self) -> Mapping[str, Any] | None:
        """The schema of an array's items, or None."""
        items = self.schema.get("items")
        return items if isinstance(items, Mapping) else None

    @property
    def max_items(self) -> int | None:
        """An array's most items, or None."""
        bound = self.schema.get("maxItems")
        return int(bound) if bound is not None and str(bound).isdigit() else None

    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema of the parameter's decoded value (see `Operation.decode`)."""
        return json_schema(self.schema)


@dataclass(frozen=True, slots=True)
class ParameterProblem:
    """Why a set of request parameters breaks the spec's rules: the error code and the parameter."""

    code: str
    parameter: str
    message: str


Match = Mapping[str, tuple[str | bool, ...]]
"""Resource property -> the values it may have: `$Name` a request parameter, else a literal."""


@dataclass(frozen=True, slots=True)
class CheckKind:
    """What a kind of precondition check needs from the spec: its options, and whether it answers
    with one `errorCode` or with an `errors` mapping (the keys it may use)."""

    options: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    description: str = ""


#: The kinds of effect an operation may declare in `x-effect`, after Smithy's lifecycle
#: operations. The emulator has one interpreter per kind and verifies that at import.
EFFECT_KINDS: tuple[str, ...] = ("create", "read", "update", "delete", "list", "lifecycle")


#: The kinds of precondition check a spec may name in `x-checks`. The emulator implements each
#: one in its check registry and verifies at import that the two agree.
CHECK_KINDS: Mapping[str, CheckKind] = {
    "missingParameter": CheckKind(description="a required parameter is missing or empty"),
    "malformedParameter": CheckKind(
        optional=("refuseControlCharacters",),
        description="a value breaks its parameter's type, enum, bounds or repeatList shape (or, "
        "with refuseControlCharacters, holds a control character)",
    ),
    "exists": CheckKind(
        options=("resource", "match"),
        optional=("where",),
        description="a resource of the caller's account matches (and has the `where` values)",
    ),
    "range": CheckKind(
        options=("parameter",),
        optional=("minimum", "maximum"),
        description="a numeric parameter, when given, lies within bounds the operation documents",
    ),
    "timeWindow": CheckKind(
        options=("start", "end"),
        optional=("maxSeconds",),
        errors=("startMalformed", "endMalformed", "endBeforeStart", "tooLong"),
        description="two time parameters, when given, are UTC times in order and close enough",
    ),
}


@dataclass(frozen=True, slots=True)
class Check:
    """A check the service makes before the operation runs, and the error code it answers with.

    `check` is the kind, a function of the emulator's check registry; `name` tells two checks of
    one kind apart (it is the kind unless the spec says otherwise). `options` holds what the kind
    needs: a resource and a match, a parameter and bounds, a time window and its error codes.
    """

    check: str
    code: str
    description: str = ""
    undocumented: str | None = None
    name: str = ""
    options: Mapping[str, Any] = field(default_factory=dict, repr=False)
    _memo: Memo = field(default_factory=lambda: Memo(), init=False, repr=False, compare=False)

    @property
    def memo(self) -> Memo:
        """Values a consumer derives from the check once and keeps on it (never pickled)."""
        return self._memo

    @property
    def id(self) -> str:
        """The check's name within its operation (its kind when the spec names it no further)."""
        return self.name or self.check

    @property
    def codes(self) -> tuple[str, ...]:
        """Every error code the check can answer with."""
        extra = tuple(str(c) for c in dict(self.options.get("errors", {})).values())
        return tuple(dict.fromkeys(c for c in (self.code, *extra) if c))


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
class TimerSource:
    """Where a timer's length comes from when set: a property of a resource found by `match`."""

    resource: str
    property: str


@dataclass(frozen=True, slots=True)
class Produces:
    """What a transition with `producesFile` adds: a resource, with properties copied from
    another resource (found by `copy_match`, whose `$Name` values are the task's identifiers)."""

    resource: str
    copy_resource: str | None = None
    copy_match: Match = field(default_factory=dict)
    copy_properties: tuple[str, ...] = ()
    span: tuple[str, str, str | None] | None = None
    """The properties that take the segment's start, end and length (seconds)."""


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """The state machine of a resource (for RealTimeRecordCommand, a stream's recording task).

    `key` is the resource's identifiers. Events are bound by role (`roles`: role -> event), timers
    by name (`timer_events`: event -> timer).
    """

    resource: str
    key: tuple[str, ...]
    initial: str
    states: tuple[str, ...]
    timers: Mapping[str, float]
    events: tuple[str, ...]
    timer_events: Mapping[str, str]
    transitions: tuple[Transition, ...]
    roles: Mapping[str, str] = field(default_factory=dict)
    timer_sources: Mapping[str, TimerSource] = field(default_factory=dict)
    produces: Produces | None = None
    _index: dict[tuple[str, str], Transition] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def entity(self) -> str:
        """The name of the resource the state machine belongs to."""
        return self.resource

    def event_for_role(self, role: str) -> str | None:
        """The event the spec binds to a role (`streamOffline`, ...), or None."""
        return self.roles.get(role)

    def transition(self, state: str, trigger: str) -> Transition | None:
        """The transition for `trigger` in `state`, or None when the spec has none."""
        index = self._index
        if not index:
            index.update({(t.source, t.trigger): t for t in reversed(self.transitions)})
        return index.get((state, trigger))

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
    boolean_values: Mapping[str, bool] = field(default_factory=lambda: dict(JSON_BOOLEANS))
    """Each wire spelling of a boolean parameter's value (`booleanValues`), with its value."""

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
class ResourceProperty:
    """A property of a resource: its type, and whether the emulator sets or derives it."""

    name: str
    type: str
    set: str | None = None
    template: str | None = None
    undocumented: str | None = None


@dataclass(frozen=True, slots=True)
class ResourceEvent:
    """A change of a resource's property that lifecycles react to, by role."""

    property: str
    value: Any
    role: str


@dataclass(frozen=True, slots=True)
class Resource:
    """A resource of the product (after Smithy's resources): identifiers and properties."""

    name: str
    identifiers: tuple[str, ...]
    origin: str = "operations"
    properties: Mapping[str, ResourceProperty] = field(default_factory=dict)
    lifecycle: str | None = None
    events: tuple[ResourceEvent, ...] = ()
    description: str = ""
    _memo: Memo = field(default_factory=lambda: Memo(), init=False, repr=False, compare=False)

    @property
    def fields(self) -> tuple[str, ...]:
        """The identifiers, then the properties."""
        return (*self.identifiers, *(p for p in self.properties if p not in self.identifiers))

    def properties_set(self, how: str) -> tuple[str, ...]:
        """The properties whose `set` is `how` (`generated`, `created`, `updated`), in order."""
        found: tuple[str, ...] | None = self._memo.get(how)
        if found is None:
            found = self._memo[how] = tuple(
                name for name, prop in self.properties.items() if prop.set == how
            )
        return found

    @property
    def templated(self) -> tuple[tuple[str, str], ...]:
        """(property, template) of the properties derived from others, in order."""
        found: tuple[tuple[str, str], ...] | None = self._memo.get("templated")
        if found is None:
            found = self._memo["templated"] = tuple(
                (name, prop.template)
                for name, prop in self.properties.items()
                if prop.template is not None
            )
        return found


@dataclass(frozen=True, slots=True)
class Requirement:
    """A resource that must exist before an effect runs, and the code when it does not."""

    resource: str
    match: Match
    code: str
    undocumented: str | None = None


@dataclass(frozen=True, slots=True)
class Filter:
    """A list filter: a property compared with a parameter, exactly or by substring.

    `mode_parameter` names a parameter whose value picks the mode (`modes`: value -> `equals`
    or `contains`); `default_mode` is the mode's value when that parameter is absent.
    """

    property: str
    parameter: str
    mode_parameter: str | None = None
    modes: Mapping[str, str] = field(default_factory=dict)
    default_mode: str | None = None


@dataclass(frozen=True, slots=True)
class Paging:
    """The paging parameters of a list, which are also the names of the response's fields."""

    page_num: str
    page_size: str
    total_num: str | None = None
    total_page: str | None = None
    order: str | None = None
    order_by: str | None = None


FieldSource = str | Mapping[str, str]
"""Where a response field comes from: a property name, or `{"template": "..."}`."""


@dataclass(frozen=True, slots=True)
class Effect:
    """What an operation does to a resource: create, read, update, delete, list or a lifecycle
    command. One interpreter per kind in the emulator runs it; see docs/spec.md for each key."""

    kind: str
    resource: str
    defaults: Mapping[str, Any] = field(default_factory=dict)
    requires: tuple[Requirement, ...] = ()
    conflict: str | None = None
    not_found: str | None = None
    match: Match = field(default_factory=dict)
    filters: tuple[Filter, ...] = ()
    where: Match = field(default_factory=dict)
    window: tuple[str, str] | None = None
    paging: Paging | None = None
    items: str | None = None
    item: str | None = None
    fields: Mapping[str, FieldSource] = field(default_factory=dict)
    undocumented: str | None = None

    @property
    def codes(self) -> tuple[str, ...]:
        """Every error code the effect itself can answer with."""
        own = [r.code for r in self.requires]
        for code in (self.conflict, self.not_found):
            if code is not None and code not in _EFFECT_OUTCOMES:
                own.append(code)
        return tuple(dict.fromkeys(own))


@dataclass(frozen=True, slots=True)
class SeedBinding:
    """Which resources an emulator seed's domains, streams (and their online flag) and app
    record configurations become (`x-seed` in the product file)."""

    domains: str
    streams: str
    online: str
    record_configs: str | None = None


#: `notFound` values that are outcomes, not error codes.
_EFFECT_OUTCOMES = frozenset({"ignore", "create", "empty"})


@dataclass(frozen=True, slots=True)
class Product:
    """A product and API version: its identity, endpoints and the protocol it speaks.

    `resources` is the product's resource model, `errors` the errors it declares for several
    operations, and `default_checks` the checks of an operation that declares none.
    """

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
    resources: Mapping[str, Resource] = field(default_factory=dict, repr=False)
    errors: tuple[ErrorCode, ...] = ()
    default_checks: tuple[Check, ...] = ()
    seed: SeedBinding | None = None

    def resource(self, name: str) -> Resource:
        """The resource called `name`; KeyError if the product declares none."""
        return self.resources[name]

    @property
    def domain_parameter(self) -> str | None:
        """The parameter that names one of the account's domains: the identifier of the
        resource the seed's domains are (`DomainName` for Live); None when there is none."""
        if self.seed is None or self.seed.domains not in self.resources:
            return None
        identifiers = self.resources[self.seed.domains].identifiers
        return identifiers[0] if len(identifiers) == 1 else None


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
    effect: Effect | None = None
    product_errors: tuple[ErrorCode, ...] = ()
    """The product's errors this operation's checks or effect answer with."""
    _memo: Memo = field(default_factory=lambda: Memo(), init=False, repr=False, compare=False)

    @property
    def modelled(self) -> bool:
        """Whether the spec declares what the operation does (an `x-effect`), so the emulator
        runs it against its world instead of answering from the response schema."""
        return self.effect is not None

    @property
    def writes(self) -> str | None:
        """Why a successful call may change state or bill, as the spec tells; None when the spec
        says the operation only reads.

        Read from, in order: the RAM assessment (`x-ram.accessLevel.assessed`: writes or
        billable, which overrides a documented `get`), the declared effect (read and list only
        read), and the metadata's `operationType` (`get` and `list` only read). An operation whose
        type is not documented is taken to write: the safe side for a real account.
        """
        if self.ram.billable:
            return "its RAM assessment says a call is billable"
        if self.ram.writes:
            return "its RAM assessment says a call writes"
        if self.effect is not None:
            if self.effect.kind in _READING_EFFECTS:
                return None
            return f"its effect is a {self.effect.kind} of {self.effect.resource}"
        if self.operation_type in _READING_OPERATION_TYPES:
            return None
        if self.operation_type in (None, "none"):
            return "its operationType is not documented"
        return f"its operationType is {self.operation_type}"

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
        """The operation's own error with this code (or a product error it answers with);
        KeyError if there is none."""
        for error in (*self.errors, *self.product_errors):
            if error.code == code:
                return error
        raise KeyError(code)

    def status_of(self, code: str) -> int:
        """The HTTP status the spec gives `code`, from the operation's, the product's or the
        gateway's errors."""
        for error in (*self.errors, *self.product_errors):
            if error.code == code:
                return error.http_status
        return self.protocol.gateway_error(code).http_status

    def documented_statuses(self, code: str) -> tuple[int, ...]:
        """Every HTTP status a real endpoint may use for `code`; empty for an unknown code."""
        statuses = [e.http_status for e in (*self.errors, *self.product_errors) if e.code == code]
        for gateway in self.protocol.gateway_errors:
            if gateway.code == code:
                statuses.extend(gateway.statuses)
        return tuple(dict.fromkeys(statuses))

    @property
    def all_error_codes(self) -> tuple[str, ...]:
        """Every code the endpoint may return: the operation's own, the product's it answers
        with, and the gateway's."""
        codes = [e.code for e in (*self.errors, *self.product_errors)]
        codes += [e.code for e in self.protocol.gateway_errors]
        return tuple(dict.fromkeys(codes))

    @property
    def required_parameters(self) -> tuple[Parameter, ...]:
        """The parameters a request must carry."""
        return tuple(p for p in self.parameters if p.required)

    @property
    def command_parameter(self) -> Parameter | None:
        """The parameter whose enum values are the lifecycle's commands, if there is one."""
        if "command" not in self._memo:
            found = None
            if self.lifecycle is not None:
                commands = {t.trigger for t in self.lifecycle.transitions}
                found = next(
                    (p for p in self.parameters if p.enum and set(p.enum) <= commands), None
                )
            self._memo["command"] = found
        result: Parameter | None = self._memo["command"]
        return result

    def check_code(self, check: str) -> str:
        """The error code the spec gives a precondition check, by its name (`recordConfig`) or
        kind (`missingParameter`)."""
        for item in self.checks:
            if item.id == check:
                return item.code
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
        missing = self.missing_parameter(params)
        if missing is not None:
            return ParameterProblem(
                self.check_code("missingParameter"),
                missing,
                f"The input parameter {missing} that is mandatory for processing this request "
                "is not supplied.",
            )
        malformed = self.malformed_parameter(params)
        if malformed is not None:
            name, reason = malformed
            return ParameterProblem(
                self.check_code("malformedParameter"),
                name,
                f"The specified parameter {name} is not valid: {reason}.",
            )
        return None

    def _scalar_plan(self) -> _ScalarPlan | None:
        """How to check an operation whose parameters are all scalars (None when some is an
        array or object): worked out once, as every call of the operation runs it."""
        if "plan" not in self._memo:
            plan = None
            if not any(p.structured for p in self.parameters):
                plan = _ScalarPlan(
                    required=tuple(p.name for p in self.parameters if p.required),
                    parameters=tuple((p.name, p, _has_value_rules(p)) for p in self.parameters),
                )
            self._memo["plan"] = plan
        found: _ScalarPlan | None = self._memo["plan"]
        return found

    def missing_parameter(self, params: Mapping[str, str]) -> str | None:
        """The first required parameter the request lacks (or sends empty), or None."""
        plan = self._scalar_plan()
        if plan is not None:
            for name in plan.required:
                if not params.get(name):
                    return name
            return None
        for parameter in self.parameters:
            if not parameter.required:
                continue
            if parameter.structured:
                try:
                    present, value = decode(
                        parameter.name, parameter.style, parameter.schema, params
                    )
                except ShapeError:
                    continue  # present, and malformed: the malformed check says so
                if not present or value in ("", [], {}):
                    return parameter.name
            elif not params.get(parameter.name):
                return parameter.name
        return None

    @property
    def parameter_names(self) -> frozenset[str]:
        """The names of the operation's parameters."""
        names: frozenset[str] | None = self._memo.get("names")
        if names is None:
            names = self._memo["names"] = frozenset(p.name for p in self.parameters)
        return names

    @property
    def refuses_control_characters(self) -> bool:
        """Whether the malformed-parameter check refuses values with control characters."""
        if "control" not in self._memo:
            self._memo["control"] = any(
                c.check == "malformedParameter" and c.options.get("refuseControlCharacters") is True
                for c in self.checks
            )
        return bool(self._memo["control"])

    def malformed_parameter(self, params: Mapping[str, str]) -> tuple[str, str] | None:
        """(name, reason) of the first value that breaks its parameter's rules, or None."""
        forbid_control = self.refuses_control_characters
        booleans = self.protocol.boolean_values
        plan = self._scalar_plan()
        if plan is not None:
            control = _CONTROL_CHARACTERS.search if forbid_control else None
            for name, parameter, ruled in plan.parameters:
                value = params.get(name)
                if value is None or (value == "" and not parameter.required):
                    continue
                if control is not None and control(value):
                    return name, _CONTROL_REASON
                if ruled:
                    problem = _value_problem(
                        parameter, value, forbid_control=False, booleans=booleans
                    )
                    if problem is not None:
                        return name, problem
            return None
        for parameter in self.parameters:
            if parameter.structured:
                reason = _structured_problem(
                    parameter, params, forbid_control=forbid_control, booleans=booleans
                )
                if reason is not None:
                    return parameter.name, reason
                continue
            value = params.get(parameter.name)
            if value is None or (value == "" and not parameter.required):
                continue
            problem = _value_problem(
                parameter, value, forbid_control=forbid_control, booleans=booleans
            )
            if problem is not None:
                return parameter.name, problem
        return None

    def decode(self, params: Mapping[str, str]) -> dict[str, Any]:
        """The request's business parameters as typed values: integers, booleans, numbers, and
        the arrays and objects of repeatList, json and simple parameters. Absent or empty
        optional parameters are left out; call it on parameters `check_parameters` accepted."""
        values: dict[str, Any] = {}
        booleans = self.protocol.boolean_values
        scalars = self._memo.get("scalars")
        if scalars is None:
            scalars = self._memo["scalars"] = not any(p.structured for p in self.parameters)
        if scalars:  # the common case, and the hot one: no repeatList, json or simple values
            for parameter in self.parameters:
                raw = params.get(parameter.name)
                if raw:
                    values[parameter.name] = (
                        raw
                        if parameter.type == "string"
                        else coerce(raw, parameter.schema, booleans)
                    )
            return values
        for parameter in self.parameters:
            try:
                present, value = decode(
                    parameter.name, parameter.style, parameter.schema, params, booleans
                )
            except ShapeError:
                continue
            if present and value != "":
                values[parameter.name] = value
        return values


@dataclass(frozen=True, slots=True)
class _ScalarPlan:
    """An all-scalar operation's parameter checks, worked out once (see `_scalar_plan`)."""

    required: tuple[str, ...]
    parameters: tuple[tuple[str, Parameter, bool], ...]
    """(name, parameter, whether its values have rules beyond "no control characters")."""


def _has_value_rules(parameter: Parameter) -> bool:
    """Whether `_value_problem` can refuse a value of `parameter` without control characters."""
    return (
        parameter.type in ("integer", "boolean")
        or parameter.enum is not None
        or parameter.max_length is not None
        or parameter.min_length is not None
        or parameter.pattern is not None
    )


def _structured_problem(
    parameter: Parameter,
    params: Mapping[str, str],
    *,
    forbid_control: bool,
    booleans: Mapping[str, bool],
) -> str | None:
    """Why an array or object parameter's value breaks its schema, or None."""
    try:
        present, value = decode(parameter.name, parameter.style, parameter.schema, params, booleans)
    except ShapeError as exc:
        return str(exc)
    if not present:
        return None
    for raw in _leaves(value) if forbid_control else ():
        if isinstance(raw, str) and _CONTROL_CHARACTERS.search(raw):
            return _CONTROL_REASON
    error = next(iter(_validator(parameter).iter_errors(value)), None)
    if error is None:
        return None
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return f"{parameter.name}{where}: {error.message[:200]}"


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    return [value]


def _validator(parameter: Parameter) -> Draft202012Validator:
    """The parameter's JSON Schema validator, built once and kept on the parameter."""
    cache = parameter._memo
    if "validator" not in cache:
        from jsonschema import Draft202012Validator  # only when a structured value is checked

        cache["validator"] = Draft202012Validator(parameter.json_schema())
    validator: Draft202012Validator = cache["validator"]
    return validator


def _value_problem(
    parameter: Parameter,
    value: str,
    *,
    forbid_control: bool = True,
    booleans: Mapping[str, bool] = JSON_BOOLEANS,
) -> str | None:
    if forbid_control and _CONTROL_CHARACTERS.search(value):
        return _CONTROL_REASON
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
    if parameter.type == "boolean" and value not in booleans:
        return f"{value[:40]!r} is not one of {', '.join(booleans)}"
    if parameter.enum is not None and value not in parameter.enum:
        return f"{value[:40]!r} is not one of {', '.join(parameter.enum)}"
    if parameter.max_length is not None and len(value) > parameter.max_length:
        return f"it is longer than {parameter.max_length} characters"
    if parameter.min_length is not None and len(value) < parameter.min_length:
        return f"it is shorter than {parameter.min_length} characters"
    if parameter.pattern is not None and not re.search(parameter.pattern, value):
        return f"it does not match {parameter.pattern}"
    return None
