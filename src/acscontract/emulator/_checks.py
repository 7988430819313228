"""The precondition checks an operation makes before its effect runs, one function per kind.

A spec lists its checks in `x-checks` (or inherits the product's `x-defaultChecks`); each entry
names a kind from `acscontract.spec.CHECK_KINDS`. This module keeps one function per kind in a
registry, and verifies at import that the registry and the spec's kinds agree, so a kind the
spec allows can never be missing here, and a function here can never be unreachable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from acscontract.emulator._world import ExistsPlan, World, resolve_match
from acscontract.spec import CHECK_KINDS, Check, Operation

__all__ = ["CHECKS", "Call", "Refusal", "refuse", "run_checks"]


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a check refused a call: the error code to answer with, and the message."""

    code: str
    message: str


@dataclass(slots=True)
class Call:
    """One call of an operation, as the checks and effects see it.

    `params` are the business parameters as sent (wire strings, repeatList keys flat);
    `values` the same decoded to typed values, filled once the malformed-parameter check passed.
    `repeated` names parameters sent more than once. `now` is the virtual clock's time.
    """

    op: Operation
    account: str
    params: Mapping[str, str]
    now: float
    world: World
    repeated: frozenset[str] = frozenset()
    values: dict[str, Any] = field(default_factory=dict)

    def resolved(self, match: Mapping[str, tuple[Any, ...]]) -> dict[str, tuple[Any, ...]]:
        """A spec match with its `$Name` references replaced by this call's values."""
        defaults = self.op.effect.defaults if self.op.effect is not None else {}
        return resolve_match(match, self.values or self.params, defaults)


CheckFunction = Callable[[Call, Check], Refusal | None]

CHECKS: dict[str, CheckFunction] = {}
"""Kind -> the function that runs a check of that kind."""


def _kind(name: str) -> Callable[[CheckFunction], CheckFunction]:
    def register(function: CheckFunction) -> CheckFunction:
        if name in CHECKS:
            raise RuntimeError(f"The check kind {name!r} is registered twice.")
        CHECKS[name] = function
        return function

    return register


def run_checks(call: Call) -> Refusal | None:
    """Run the operation's checks in the order its spec lists them; the first refusal, or None."""
    for check in call.op.checks:
        refusal = CHECKS[check.check](call, check)
        if refusal is not None:
            return refusal
    if not call.values:
        call.values = call.op.decode(call.params)
    return None


def refuse(call: Call, code: str, detail: str) -> Refusal:
    """A refusal with `code` and the spec's message for it, `%s` filled by `detail` (or
    `detail` alone where the spec gives no message)."""
    try:
        template = call.op.error(code).message
    except KeyError:
        return Refusal(code, detail)
    if "%s" in template:
        return Refusal(code, template.replace("%s", detail))
    return Refusal(code, template or detail)


@_kind("missingParameter")
def _missing(call: Call, check: Check) -> Refusal | None:
    name = call.op.missing_parameter(call.params)
    if name is None:
        return None
    detail = (
        f"The input parameter {name} that is mandatory for processing this request is not supplied."
    )
    return refuse(call, check.code, detail)


@_kind("malformedParameter")
def _malformed(call: Call, check: Check) -> Refusal | None:
    found = call.op.malformed_parameter(call.params)
    if found is not None:
        name, reason = found
        detail = f"The specified parameter {name} is not valid: {reason}."
        return refuse(call, check.code, detail)
    repeated = sorted(call.repeated & call.op.parameter_names) if call.repeated else ()
    if repeated:
        detail = f"The specified parameter {repeated[0]} is not valid: it is given more than once."
        return refuse(call, check.code, detail)
    call.values = call.op.decode(call.params)
    return None


@_kind("exists")
def _exists(call: Call, check: Check) -> Refusal | None:
    plan = _exists_plan(check, call.world)
    effect = call.op.effect
    resolved = plan.resolve(call.values or call.params, effect.defaults if effect else {})
    keys = plan.keys(resolved)
    if keys is None:
        found = call.world.exists(plan.resource, call.account, resolved)
    else:
        found = call.world.exists_keyed(plan.resource, call.account, keys, resolved)
    if found:
        return None
    shown = ", ".join(f"{k}={'|'.join(map(str, v))}" for k, v in resolved.items())
    detail = f"No {plan.resource} of this account matches {shown}."
    return refuse(call, check.code, detail)


def _exists_plan(check: Check, world: World) -> ExistsPlan:
    """An `exists` check's resource, and its `match` and `where` as one match, worked out once
    (kept on the check: the spec is immutable)."""
    found: ExistsPlan | None = check.memo.get("exists")
    if found is None:
        merged = {**check.options["match"], **check.options.get("where", {})}
        resource = world.resource(str(check.options["resource"]))
        found = check.memo["exists"] = ExistsPlan(resource, merged)
    return found


@_kind("range")
def _range(call: Call, check: Check) -> Refusal | None:
    name = str(check.options["parameter"])
    value = call.values.get(name) if call.values else call.params.get(name)
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None  # the malformed-parameter check answers for a value that is not a number
    low, high = check.options.get("minimum"), check.options.get("maximum")
    if (low is not None and number < float(low)) or (high is not None and number > float(high)):
        detail = f"The specified {name} {value} is outside {low} to {high}."
        return refuse(call, check.code, detail)
    return None


def parse_time(value: str, layout: str) -> float | None:
    """A UTC time in the protocol's layout as Unix seconds, or None when it is not one."""
    try:
        return datetime.strptime(value, layout).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


@_kind("timeWindow")
def _time_window(call: Call, check: Check) -> Refusal | None:
    errors = dict(check.options.get("errors", {}))
    layout = call.op.protocol.timestamp_format
    start_name, end_name = str(check.options["start"]), str(check.options["end"])
    start_raw, end_raw = call.params.get(start_name), call.params.get(end_name)
    bounds: dict[str, float] = {}
    for name, raw, problem in (
        (start_name, start_raw, "startMalformed"),
        (end_name, end_raw, "endMalformed"),
    ):
        if not raw:
            continue
        parsed = parse_time(raw, layout)
        if parsed is None:
            code = errors.get(problem, check.code)
            detail = f"The specified {name} {raw[:40]!r} is not a UTC time like {layout}."
            return refuse(call, code, detail)
        bounds[name] = parsed
    if start_name in bounds and end_name in bounds:
        start, end = bounds[start_name], bounds[end_name]
        if end < start:
            code = errors.get("endBeforeStart", check.code)
            detail = f"{end_name} is before {start_name}."
            return refuse(call, code, detail)
        limit = check.options.get("maxSeconds")
        if limit is not None and end - start > float(limit):
            code = errors.get("tooLong", check.code)
            detail = f"{end_name} is more than {float(limit):g} seconds after {start_name}."
            return refuse(call, code, detail)
    return None


def _verify_registry() -> None:
    """The registry holds exactly the kinds the spec allows (checked once, at import)."""
    missing = sorted(set(CHECK_KINDS) - set(CHECKS))
    extra = sorted(set(CHECKS) - set(CHECK_KINDS))
    if missing or extra:
        raise RuntimeError(
            "The emulator's check registry and the spec's check kinds disagree: "
            f"not implemented {missing}, not allowed by the spec {extra}."
        )


_verify_registry()
