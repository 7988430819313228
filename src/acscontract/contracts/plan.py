"""What a contract run will cost, known before it sends anything: requests and recordings.

`run_plan` gives, per contract area, an upper bound on the requests the run sends and on the
recordings it may start, for a profile and a kind of target. The bounds follow the suite's
structure: a property sends at most `max_examples` sequences of at most `SEQUENCE_SIZE` requests
(hypothesis runs one more example to report a failure); a parametrized contract sends a fixed
number; a stream is restored with the spec's homing sequence. Retries of throttled requests are
not included: a paced run sees them only when other traffic uses the account's budget.

On a target without the emulator's admin API (a real account) the properties run fewer examples
(`ACCOUNT_EXAMPLES`) and never shrink, the generated traffic that would start recordings does not
run at all, and recordings are capped by `--max-recordings`. `tests/test_contracts_plan.py`
checks these bounds against what a run sends through the real-account stand-in.
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

# schemathesis adds cases of its own to hypothesis' examples (the schema's examples, and
# boundary values of its coverage phase), per operation and method.
SCHEMATHESIS_EXTRA = 60


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
    """At most `requests` requests and at most `recordings` recordings (None: an emulator's,
    which cost nothing)."""

    requests: int
    recordings: int | None


@dataclass(frozen=True, slots=True)
class RunPlan:
    """The upper bounds of one run: per area, and in all."""

    profile: str
    emulator: bool
    areas: Mapping[str, AreaCost]
    max_recordings: int | None

    @property
    def requests(self) -> int:
        """At most this many requests in all."""
        return sum(a.requests for a in self.areas.values())

    @property
    def recordings(self) -> int | None:
        """At most this many recordings in all (None against an emulator)."""
        if self.emulator:
            return None
        wanted = sum(a.recordings or 0 for a in self.areas.values())
        return wanted if self.max_recordings is None else min(wanted, self.max_recordings)

    @property
    def recordings_wanted(self) -> int:
        """Recordings the contracts that start them would use if the budget allowed all."""
        return sum(a.recordings or 0 for a in self.areas.values())


def _examples(base: Settings, emulator: bool, profile: str) -> int:
    return int(settings_for(base, emulator=emulator, profile=profile).max_examples) + 1


def run_plan(
    op: Operation,
    profile: str,
    base: Settings,
    *,
    emulator: bool,
    resources: Resources | None,
    deny_keys: int,
    inactive_key: bool,
    allow_throttling: bool,
    max_recordings: int | None,
) -> RunPlan:
    """The upper bounds of a run of the bundled suite (see the module's docstring)."""
    lifecycle = op.lifecycle
    command = op.command_parameter
    flow = op.flow_control
    if lifecycle is None or command is None or not command.enum or flow.limit is None:
        raise LookupError(f"The spec of {op.name} lacks the lifecycle or flow control to plan.")
    commands = tuple(command.enum)
    starting = recording_commands(op)
    examples = _examples(base, emulator, profile)
    steps = int(base.stateful_step_count)
    everywhere = frozenset(lifecycle.states)
    restore = len(homing_sequence(lifecycle, commands, everywhere, lifecycle.initial) or ())
    emulator_restore = restore if emulator else 0
    signed = len(op.methods) * len(
        [m for m in op.protocol.signature_methods if m.id in {s.value for s in Scheme}]
    )
    required = len(op.required_parameters)
    offline = bool(resources and resources.stream_offline)
    without = bool(resources and resources.app_without_config)
    areas: dict[str, AreaCost] = {}

    # response-schema: the property, then each documented 4xx status provoked.
    provocations = 1 + 1 + (1 if without else 0)  # missing parameter, unknown stream, no config
    opening = opening_command(op)
    state_errors = [
        t for t in lifecycle.transitions if t.documented and t.error and t.trigger == opening
    ]
    provocations += 2 * len(state_errors) + restore * (2 + len(state_errors))
    areas["response-schema"] = AreaCost(
        examples * SEQUENCE_SIZE + emulator_restore + provocations,
        None if emulator else len(state_errors),
    )

    # valid-requests: the property on the named stream (emulators only), an unknown stream,
    # an offline stream and an app without record configuration.
    valid = examples * SEQUENCE_SIZE
    valid += (examples * SEQUENCE_SIZE + restore) if emulator else 0
    valid += len(commands) * (int(offline) + int(without))
    areas["valid-requests"] = AreaCost(valid, None if emulator else 0)

    # invalid-requests: two properties, each required parameter absent and empty, three
    # Action/Version cases.
    invalid = examples * SEQUENCE_SIZE + examples * OVERSIZED_SEQUENCE + 2 * emulator_restore
    areas["invalid-requests"] = AreaCost(invalid + 2 * required + 3, None if emulator else 0)

    # gateway: five refusals under every signature and method, a reused nonce (two requests),
    # an inactive key (emulator seeds), an unsupported method.
    gateway = signed * (5 + 2 + int(inactive_key)) + 1
    areas["gateway"] = AreaCost(gateway, None if emulator else 0)

    # lifecycle: the state machine (emulators only) and each documented command transition,
    # reached by documented steps, between two restores.
    triggers = list(commands)
    if emulator:
        plain = [e for e in lifecycle.events if e not in lifecycle.timer_events]
        triggers += plain + list(lifecycle.timer_events)
    transitions = 0
    wanted = 0
    for transition in lifecycle.transitions:
        if not transition.documented or transition.trigger not in triggers:
            continue
        path = path_to(lifecycle, lifecycle.initial, transition.source, triggers) or ()
        fired = (*path, transition.trigger)
        transitions += sum(1 for step in fired if step in commands) + 2 * restore
        wanted += sum(1 for step in fired if step in starting)
    machine = examples * (steps + 2 * restore) if emulator else 0
    areas["lifecycle"] = AreaCost(machine + transitions, None if emulator else wanted)

    areas["ram"] = AreaCost(deny_keys, None if emulator else 0)

    # throttling: capacity at 80% of the limit; enforcement (a burst of twice the limit) where
    # throttling is allowed.
    windows = CAPACITY_WINDOWS.get(profile, 2)
    capacity = math.ceil(flow.limit * 0.8 * windows)
    burst = 2 * flow.limit if (emulator or allow_throttling) else 0
    areas["throttling"] = AreaCost(capacity + burst, None if emulator else 0)

    # schemathesis: every operation of the document (one per HTTP method).
    areas["schemathesis"] = AreaCost(
        len(op.methods) * (examples + SCHEMATHESIS_EXTRA), None if emulator else 0
    )
    return RunPlan(profile, emulator, areas, None if emulator else max_recordings)
