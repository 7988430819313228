"""What a contract run against a real account will cost, known before it sends anything.

`run_plan` gives, per contract area, an upper bound on the requests the run sends and on the
recordings it may start, for a profile. On a target without the emulator's admin API (a real
account) the properties run fewer examples (`ACCOUNT_EXAMPLES`) and never shrink, the generated
traffic that would start recordings does not run at all, and recordings are capped by
`--max-recordings`. The bounds follow the suite's structure: a property sends at most its
examples' worth of sequences of at most `SEQUENCE_SIZE` requests (hypothesis runs one more
example to report a failure); a parametrized contract sends a fixed number; a stream is restored
with the spec's homing sequence. Retries of throttled requests are not included: a paced run
sees them only when other traffic uses the account's budget.

`tests/test_contracts_plan.py` checks the bounds against what a run sends through the
real-account stand-in, and `bench/contracts.py` measures each profile's real cost.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hypothesis import Phase
from hypothesis import settings as Settings

from acscontract.contracts.budget import recording_commands
from acscontract.contracts.lifecycle import homing_sequence, path_to
from acscontract.contracts.strategies import SEQUENCE_SIZE
from acscontract.contracts.suite import opening_command
from acscontract.signing import Scheme

if TYPE_CHECKING:
    from acscontract.contracts.targets import Resources
    from acscontract.spec import Operation

__all__ = [
    "ACCOUNT_EXAMPLES",
    "CAPACITY_WINDOWS",
    "OVERSIZED_SEQUENCE",
    "SCHEMA_EXAMPLES",
    "AreaCost",
    "RunPlan",
    "run_plan",
    "settings_for",
]

ACCOUNT_EXAMPLES: Mapping[str, int] = {"quick": 20, "ci": 20, "thorough": 100, "selftest": 4}
"""Examples per property against a real account, per profile (emulators get the profile's own)."""

CAPACITY_WINDOWS: Mapping[str, int] = {"quick": 2, "ci": 2, "selftest": 1, "thorough": 5}
"""How many windows of the limit the throttling capacity contract paces at 80% of the limit."""

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
    """At most `requests` requests and at most `recordings` recordings."""

    requests: int
    recordings: int


@dataclass(frozen=True, slots=True)
class RunPlan:
    """The upper bounds of one run against a real account: per area, and in all."""

    profile: str
    areas: Mapping[str, AreaCost]
    max_recordings: int

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


def run_plan(
    op: Operation,
    profile: str,
    base: Settings,
    *,
    resources: Resources | None,
    deny_keys: int,
    allow_throttling: bool,
    max_recordings: int,
) -> RunPlan:
    """The upper bounds of a run of the bundled suite against a real account (see the module's
    docstring). Against an emulator nothing is billed or paced, and nothing is planned."""
    lifecycle = op.lifecycle
    command = op.command_parameter
    flow = op.flow_control
    if lifecycle is None or command is None or not command.enum or flow.limit is None:
        raise LookupError(f"The spec of {op.name} lacks the lifecycle or flow control to plan.")
    commands = tuple(command.enum)
    starting = recording_commands(op)
    # Examples per property; hypothesis runs one more to report a failure.
    examples = settings_for(base, emulator=False, profile=profile).max_examples + 1
    everywhere = frozenset(lifecycle.states)
    restore = len(homing_sequence(lifecycle, commands, everywhere, lifecycle.initial) or ())
    signed = len(op.methods) * len(
        [m for m in op.protocol.signature_methods if m.id in {s.value for s in Scheme}]
    )
    offline = bool(resources and resources.stream_offline)
    without = bool(resources and resources.app_without_config)
    areas: dict[str, AreaCost] = {}

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
    areas["response-schema"] = AreaCost(examples * SEQUENCE_SIZE + provocations, len(state_errors))

    # valid-requests: generated requests to a stream that does not exist; every command on the
    # offline stream and on the app without record configuration (the property on the named
    # stream runs against emulators only).
    valid = examples * SEQUENCE_SIZE + len(commands) * (int(offline) + int(without))
    areas["valid-requests"] = AreaCost(valid, 0)

    # invalid-requests: two properties, each required parameter absent and empty, three
    # Action/Version cases.
    invalid = examples * (SEQUENCE_SIZE + OVERSIZED_SEQUENCE)
    areas["invalid-requests"] = AreaCost(invalid + 2 * len(op.required_parameters) + 3, 0)

    # gateway: five refusals under every signature and method, a reused nonce (two requests),
    # an unsupported method. (The inactive key comes only from an emulator's seed.)
    areas["gateway"] = AreaCost(signed * (5 + 2) + 1, 0)

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
    areas["lifecycle"] = AreaCost(requests, wanted)

    areas["ram"] = AreaCost(deny_keys, 0)

    # throttling: capacity at 80% of the limit; the burst of twice the limit only with
    # --allow-throttling.
    windows = CAPACITY_WINDOWS.get(profile, 2)
    capacity = math.ceil(flow.limit * 0.8 * windows)
    areas["throttling"] = AreaCost(capacity + (2 * flow.limit if allow_throttling else 0), 0)

    # schemathesis: per operation (one per HTTP method), the fuzzing phase's examples and the
    # document's own example (its coverage phase is off against a real account).
    areas["schemathesis"] = AreaCost(len(op.methods) * (examples + SCHEMA_EXAMPLES), 0)
    return RunPlan(profile, areas, max_recordings)
