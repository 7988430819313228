"""What a contract run against a real account will cost, known before it sends anything.

`run_plan` gives, per contract area, an upper bound on the requests the run sends, on the
recordings it may start and on the writes it may make, for a profile and the run's operations. On a
target without the emulator's admin API (a real account) the properties run fewer examples
(`ACCOUNT_EXAMPLES`) and never shrink, the generated traffic that would start recordings does not
run at all, and recordings are capped by `--max-recordings`. The bounds follow the suite's
structure: a property sends at most its examples' worth of sequences of at most `SEQUENCE_SIZE`
requests (hypothesis runs one more example to report a failure); a parametrized contract sends a
fixed number; a stream is restored with the spec's homing sequence. An operation without a
lifecycle costs its lean requests: the valid one (for an operation the spec says writes, only
within --max-writes) and the refused ones; its generated traffic and the workflow run against
emulators only. Each request is paced under its own operation's limit, so the least time is the sum
of their intervals. Retries of throttled requests are not included: a paced run sees them only when
other traffic uses the account's budget.

`tests/test_contracts_plan.py` checks the bounds against what a run sends through the
real-account stand-in, and `bench/contracts.py` measures each profile's real cost.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hypothesis import Phase
from hypothesis import settings as Settings

from acscontract.client import PACING_SHARE, pacing_interval
from acscontract.contracts.budget import recording_commands
from acscontract.contracts.cases import absent_domain, lean_cases
from acscontract.contracts.lifecycle import homing_sequence, path_to
from acscontract.contracts.pacing import paced_flow
from acscontract.contracts.selection import Selection
from acscontract.contracts.strategies import SEQUENCE_SIZE, signings
from acscontract.contracts.suite import opening_command

if TYPE_CHECKING:
    from acscontract.contracts.targets import Resources
    from acscontract.spec import FlowControl, Operation

__all__ = [
    "ACCOUNT_EXAMPLES",
    "CAPACITY_MAX_CALLS",
    "CAPACITY_WINDOWS",
    "OVERSIZED_SEQUENCE",
    "SCHEMA_EXAMPLES",
    "AreaCost",
    "RunPlan",
    "capacity_calls",
    "run_plan",
    "settings_for",
]

ACCOUNT_EXAMPLES: Mapping[str, int] = {"quick": 20, "ci": 20, "thorough": 100, "selftest": 4}
"""Examples per property against a real account, per profile (emulators get the profile's own)."""

CAPACITY_WINDOWS: Mapping[str, int] = {"quick": 2, "ci": 2, "selftest": 1, "thorough": 5}
"""How many windows of the limit the throttling capacity contract paces at 80% of the limit."""

CAPACITY_MAX_CALLS = 400
"""The most calls the capacity contract sends (the rate-limit probe's `check` sends at most 401):
an operation with a large limit per minute is paced at 80% of it for fewer than its windows."""


def capacity_calls(flow: FlowControl, profile: str) -> tuple[int, float]:
    """The throttling capacity contract's calls and their rate (calls per second): 80% of the
    limit for `CAPACITY_WINDOWS` windows, at most `CAPACITY_MAX_CALLS` calls."""
    if flow.limit is None:
        return 0, 0.0
    rate = flow.limit * PACING_SHARE / flow.per_seconds
    windows = CAPACITY_WINDOWS.get(profile, 2)
    return min(math.ceil(rate * flow.per_seconds * windows), CAPACITY_MAX_CALLS), rate


OVERSIZED_SEQUENCE = 3
"""The most requests one example of the oversized-values property sends."""

# The cases schemathesis' examples phase adds per operation: the document's own example.
SCHEMA_EXAMPLES = 1


def settings_for(base: Settings, *, emulator: bool, profile: str) -> Settings:
    """The hypothesis settings of the contracts: the profile's own against an emulator; against a
    real account fewer examples, and no shrinking (it would send more requests after a failure)."""
    if emulator:
        return base
    return Settings(
        base,
        max_examples=ACCOUNT_EXAMPLES.get(profile, ACCOUNT_EXAMPLES["quick"]),
        phases=[p for p in base.phases if p is not Phase.shrink],
    )


@dataclass(frozen=True, slots=True)
class AreaCost:
    """At most `requests` requests, `recordings` recordings and `writes` writes; `seconds` is
    the least time the pacing needs for those requests."""

    requests: int
    recordings: int
    writes: int = 0
    seconds: float = 0.0

    def __add__(self, other: AreaCost) -> AreaCost:
        return AreaCost(
            self.requests + other.requests,
            self.recordings + other.recordings,
            self.writes + other.writes,
            self.seconds + other.seconds,
        )


@dataclass(frozen=True, slots=True)
class RunPlan:
    """The upper bounds of one run against a real account: per area, and in all."""

    profile: str
    areas: Mapping[str, AreaCost]
    max_recordings: int
    max_writes: int = 0
    writes_wanted: int = 0
    """Valid requests of operations the spec says write that the run would send if the write
    budget allowed them all (one per such operation)."""

    @property
    def requests(self) -> int:
        """At most this many requests in all."""
        return sum(a.requests for a in self.areas.values())

    @property
    def recordings_wanted(self) -> int:
        """Recordings the contracts that start them would use if the budget allowed all."""
        return sum(a.recordings for a in self.areas.values())

    @property
    def recordings(self) -> int:
        """At most this many recordings in all: what the contracts want, within the budget."""
        return min(self.recordings_wanted, self.max_recordings)

    @property
    def writes(self) -> int:
        """At most this many writes in all: what the operations want, within the budget."""
        return min(self.writes_wanted, self.max_writes)

    @property
    def seconds(self) -> float:
        """The least time the pacing needs for every planned request."""
        return sum(a.seconds for a in self.areas.values())


def _interval(op: Operation) -> float:
    return pacing_interval(paced_flow(op))


def run_plan(
    operations: Operation | Sequence[Operation],
    profile: str,
    base: Settings,
    *,
    resources: Resources | None,
    deny_keys: int,
    allow_throttling: bool,
    max_recordings: int,
    max_writes: int = 0,
) -> RunPlan:
    """The upper bounds of a run of the bundled suite over `operations` against a real account
    (see the module's docstring). Against an emulator nothing is billed or paced, and nothing is
    planned."""
    ops = (operations,) if not isinstance(operations, Sequence) else tuple(operations)
    chosen = Selection(ops, ",".join(op.name for op in ops))
    examples = settings_for(base, emulator=False, profile=profile).max_examples + 1
    areas: dict[str, AreaCost] = {}

    def add(area: str, cost: AreaCost) -> None:
        areas[area] = areas.get(area, AreaCost(0, 0)) + cost

    for op in chosen.lifecycle:
        for area, cost in _lifecycle_costs(op, profile, examples, resources).items():
            add(area, cost)
    writes_wanted = 0
    write_intervals: list[float] = []
    domain = resources.domain if resources is not None else "example.com"
    for op in chosen.lean:
        interval = _interval(op)
        refused = None if op.writes is None else absent_domain(domain)
        cases = lean_cases(op, domain, invalid_domain=refused)
        if cases.valid is not None and op.writes is None:
            add("valid-requests", AreaCost(1, 0, 0, interval))
        elif cases.valid is not None:
            writes_wanted += 1
            write_intervals.append(interval)
        invalid = len(cases.invalid)
        add("invalid-requests", AreaCost(invalid, 0, 0, invalid * interval))
    writes = min(writes_wanted, max_writes)
    if writes:
        slowest = sorted(write_intervals, reverse=True)[:writes]
        add("valid-requests", AreaCost(writes, 0, writes, sum(slowest)))

    # gateway: five refusals under every signature and method, a reused nonce (two requests),
    # an unsupported method, for the primary operation. (The inactive key comes only from an
    # emulator's seed.)
    primary = chosen.primary
    interval = _interval(primary)
    signed = len(signings(primary))
    gateway = signed * (5 + 2) + 1
    add("gateway", AreaCost(gateway, 0, 0, gateway * interval))
    add("ram", AreaCost(deny_keys, 0, 0, deny_keys * interval))

    # throttling: capacity at 80% of the primary operation's limit; the burst of twice the
    # limit only with --allow-throttling.
    flow = primary.flow_control
    if flow.limit is not None:
        capacity, rate = capacity_calls(flow, profile)
        burst = 2 * flow.limit if allow_throttling else 0
        seconds = capacity / rate + 2 * flow.per_seconds
        add("throttling", AreaCost(capacity + burst, 0, 0, seconds))
    return RunPlan(profile, areas, max_recordings, max_writes, writes_wanted)


def _lifecycle_costs(
    op: Operation, profile: str, examples: int, resources: Resources | None
) -> dict[str, AreaCost]:
    """The deep contracts of one operation with a lifecycle (the reference operation's)."""
    lifecycle = op.lifecycle
    command = op.command_parameter
    if lifecycle is None or command is None or not command.enum:
        raise LookupError(f"The spec of {op.name} lacks the lifecycle to plan.")
    interval = _interval(op)
    commands = tuple(command.enum)
    starting = recording_commands(op)
    everywhere = frozenset(lifecycle.states)
    restore = len(homing_sequence(lifecycle, commands, everywhere, lifecycle.initial) or ())
    offline = bool(resources and resources.stream_offline)
    without = bool(resources and resources.app_without_config)
    costs: dict[str, AreaCost] = {}

    def cost(requests: int, recordings: int = 0) -> AreaCost:
        return AreaCost(requests, recordings, 0, requests * interval)

    # response-schema: the property, then each documented 4xx status provoked: a missing
    # parameter, an unknown stream, an app without record configuration, and the state errors
    # of the opening command (twice, between restores), each taking one recording.
    opening = opening_command(op)
    state_errors = [
        t for t in lifecycle.transitions if t.documented and t.error and t.trigger == opening
    ]
    provocations = 2 + int(without) + 2 * len(state_errors)
    if state_errors:
        provocations += restore * (2 + len(state_errors))
    costs["response-schema"] = cost(examples * SEQUENCE_SIZE + provocations, len(state_errors))

    # valid-requests: generated requests to a stream that does not exist; every command on the
    # offline stream and on the app without record configuration (the property on the named
    # stream runs against emulators only).
    valid = examples * SEQUENCE_SIZE + len(commands) * (int(offline) + int(without))
    costs["valid-requests"] = cost(valid)

    # invalid-requests: two properties, each required parameter absent and empty, three
    # Action/Version cases.
    invalid = examples * (SEQUENCE_SIZE + OVERSIZED_SEQUENCE)
    costs["invalid-requests"] = cost(invalid + 2 * len(op.required_parameters) + 3)

    # lifecycle: each documented command transition, reached by documented steps between two
    # restores (the state machine runs against emulators only).
    requests = wanted = 0
    for transition in lifecycle.transitions:
        if not transition.documented or transition.trigger not in commands:
            continue
        path = path_to(lifecycle, lifecycle.initial, transition.source, commands) or ()
        fired = (*path, transition.trigger)
        requests += len(fired) + 2 * restore
        wanted += sum(1 for step in fired if step in starting)
    costs["lifecycle"] = cost(requests, wanted)

    # schemathesis: per operation (one per HTTP method), the fuzzing phase's examples and the
    # document's own example (its coverage phase is off against a real account).
    costs["schemathesis"] = cost(len(op.methods) * (examples + SCHEMA_EXAMPLES))
    return costs
