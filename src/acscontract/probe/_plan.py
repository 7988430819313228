"""What a probe will send, decided (and made safe) before the first call.

The safety rules live here, so that they hold for the library as well as the command line:

- every run has a hard ceiling on its rate and on its total calls, derived from the limit;
  a caller may lower them, and raise them only with `allow_throttling`;
- against a target that is not on this machine (not loopback), anything meant to draw refusals
  (`measure`, and `check`'s enforcement part) needs `allow_throttling`, and so does expecting a
  limit above the documented one;
- the cost (calls to send, refusals expected) is known before starting.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

from acscontract.errors import UsageError

__all__ = [
    "CAPACITY_SHARE",
    "ENFORCEMENT_FACTOR",
    "MEASURE_FACTOR",
    "Ceilings",
    "Mode",
    "PhasePlan",
    "ProbePlan",
    "ProbeSettings",
    "plan_probe",
]

#: `check` paces its capacity part at this share of the limit: well under it, so a polite probe of
#: a real account leaves room for the account's other traffic.
CAPACITY_SHARE = 0.8
#: `check`'s enforcement part paces at this multiple of the limit.
ENFORCEMENT_FACTOR = 2.0
#: `measure` sends at this multiple of the expected limit by default: dense enough that the
#: pacing interval is tiny next to the window, so no aliasing with the window hides calls.
MEASURE_FACTOR = 10.0
#: How long `check`'s enforcement part and the idle gaps last, in windows.
ENFORCEMENT_WINDOWS = 2.0
IDLE_WINDOWS = 1.1
MEASURE_IDLE_WINDOWS = 2.0
#: Default durations in seconds.
CHECK_SECONDS = 10.0
MEASURE_SECONDS = 4.0
#: The most calls one run may plan, whatever --limit, --seconds and --max-calls say: far above
#: what any documented limit needs (a measure of 50/s sends about 2,000), and small enough that
#: planning and sending stay bounded. acscontract's own choice.
MAX_PROBE_CALLS = 1_000_000


class Mode(StrEnum):
    """`check`: does the endpoint behave as documented. `measure`: what is its limiter."""

    CHECK = "check"
    MEASURE = "measure"


@dataclass(frozen=True, slots=True)
class Ceilings:
    """The hard limits of one run: calls per second, and calls in all."""

    max_rate: float
    max_calls: int


@dataclass(frozen=True, slots=True)
class ProbeSettings:
    """What the caller asked for. None means "the default the mode and the limit give"."""

    mode: Mode = Mode.CHECK
    allow_throttling: bool = False
    limit: int | None = None
    max_rate: float | None = None
    max_calls: int | None = None
    seconds: float | None = None


@dataclass(frozen=True, slots=True)
class PhasePlan:
    """One paced part of a run: `calls` calls at `rate` per second, after `idle_before` seconds
    of silence. `align` (a fraction of the window) delays the start to that point of a window."""

    name: str
    rate: float
    calls: int
    idle_before: float = 0.0
    align: float | None = None
    dither: bool = False

    @property
    def duration(self) -> float:
        """Seconds from the first call to the last."""
        return (self.calls - 1) / self.rate if self.calls > 1 else 0.0


@dataclass(frozen=True, slots=True)
class ProbePlan:
    """A run decided in full: its phases, ceilings and cost."""

    mode: Mode
    documented_limit: int
    expected_limit: int
    window_s: float
    ceilings: Ceilings
    phases: tuple[PhasePlan, ...]
    expected_refusals: int
    enforcement: bool
    notes: tuple[str, ...] = ()

    @property
    def calls(self) -> int:
        """Calls the run will send at most (the preflight call included)."""
        return 1 + sum(p.calls for p in self.phases)

    @property
    def seconds(self) -> float:
        """Roughly how long the run takes on the probe's clock."""
        return sum(
            p.idle_before + (self.window_s if p.align is not None else 0.0) + p.duration
            for p in self.phases
        )

    def describe(self, target: str) -> str:
        """The cost line printed before a run starts."""
        rates = ", ".join(f"{p.name} {p.calls} calls at {p.rate:g}/s" for p in self.phases)
        refusals = (
            "no throttled calls expected"
            if self.expected_refusals == 0
            else f"about {self.expected_refusals} throttled calls expected"
        )
        return (
            f"Probe {self.mode.value} of {target}: up to {self.calls} calls in about "
            f"{self.seconds:.0f} s ({rates}); {refusals} at the expected limit of "
            f"{self.expected_limit} calls per {self.window_s:g} s. Ceilings: "
            f"{self.ceilings.max_rate:g} calls/s, {self.ceilings.max_calls} calls."
        )


def _default_ceilings(
    mode: Mode, limit: int, window: float, seconds: float, enforcement: bool
) -> Ceilings:
    rate = limit / window
    if mode is Mode.MEASURE:
        max_rate = MEASURE_FACTOR * rate
        calls = _count(max_rate * seconds) + 1
    else:
        max_rate = ENFORCEMENT_FACTOR * rate if enforcement else rate
        calls = _count(CAPACITY_SHARE * rate * seconds) + 1
        if enforcement:
            calls += _count(ENFORCEMENT_FACTOR * rate * ENFORCEMENT_WINDOWS * window)
    return Ceilings(max_rate, calls)


def _count(calls: float, rounding: Callable[[float], int] = math.ceil) -> int:
    """`calls` rounded (up by default), or one past MAX_PROBE_CALLS when it is more, even too
    large for an integer (plan_probe refuses such a run, or fits it to --max-calls)."""
    return rounding(calls) if calls <= MAX_PROBE_CALLS else MAX_PROBE_CALLS + 1


def _fit(phases: list[PhasePlan], budget: int) -> tuple[list[PhasePlan], bool]:
    """Shorten the phases, last first, so that they send at most `budget` calls."""
    out: list[PhasePlan] = []
    cut = False
    for phase in phases:
        calls = min(phase.calls, budget)
        budget -= calls
        if calls < phase.calls:
            cut = True
        if calls > 0:
            out.append(replace(phase, calls=calls))
    return out, cut


def plan_probe(
    settings: ProbeSettings,
    *,
    documented_limit: int | None,
    window_s: float,
    loopback: bool,
    operation: str = "the operation",
) -> ProbePlan:
    """Decide a run, or raise UsageError (with a full sentence) when it would be unsafe."""
    allow = settings.allow_throttling
    if documented_limit is None and settings.limit is None:
        raise UsageError(
            f"The spec of {operation} documents no flow-control limit, so there is nothing to "
            "probe against; pass --limit with the limit you expect."
        )
    documented = documented_limit if documented_limit is not None else settings.limit
    assert documented is not None
    expected = settings.limit if settings.limit is not None else documented
    if expected < 1:
        raise UsageError(f"--limit must be at least 1 call per window; {expected} was given.")
    mode = settings.mode
    enforcement = mode is Mode.CHECK and allow
    if not loopback and not allow:
        if mode is Mode.MEASURE:
            raise UsageError(
                "measure draws throttled calls on purpose, and the target is not on this "
                "machine: it may be a real account. Pass --allow-throttling if the account may "
                "be throttled (a sacrificial account), or run check instead."
            )
        if expected > documented:
            raise UsageError(
                f"--limit {expected} is above the documented limit of {documented}, and the "
                "target is not on this machine: pacing at it could throttle a real account. "
                "Pass --allow-throttling to do it anyway."
            )
    default_seconds = MEASURE_SECONDS if mode is Mode.MEASURE else CHECK_SECONDS
    seconds = settings.seconds if settings.seconds is not None else default_seconds
    if not (seconds > 0 and math.isfinite(seconds)):
        raise UsageError(f"--seconds must be a finite number more than 0; {seconds:g} was given.")
    rate = expected / window_s
    defaults = _default_ceilings(mode, expected, window_s, seconds, enforcement)
    max_rate, max_calls = defaults.max_rate, defaults.max_calls
    if settings.max_rate is not None:
        if not (settings.max_rate > 0 and math.isfinite(settings.max_rate)):  # NaN included
            raise UsageError(
                f"--max-rate must be a finite number more than 0; {settings.max_rate:g} was given."
            )
        if settings.max_rate > max_rate and not allow:
            raise UsageError(
                f"--max-rate {settings.max_rate:g} is above this run's ceiling of "
                f"{max_rate:g} calls/s (derived from the limit of {expected}); it can only be "
                "lowered unless you pass --allow-throttling."
            )
        max_rate = settings.max_rate
    if settings.max_calls is not None:
        if settings.max_calls < 2:
            raise UsageError(f"--max-calls must be at least 2; {settings.max_calls} was given.")
        if settings.max_calls > max_calls and not allow:
            raise UsageError(
                f"--max-calls {settings.max_calls} is above this run's ceiling of {max_calls} "
                "calls; it can only be lowered unless you pass --allow-throttling."
            )
        max_calls = settings.max_calls
    if max_calls > MAX_PROBE_CALLS:
        raise UsageError(
            f"This run would send more than {MAX_PROBE_CALLS:,} calls (limit {expected}, "
            f"{seconds:g} s), the most the probe sends in one run; lower --limit, --seconds or "
            "--max-calls."
        )
    notes: list[str] = []
    phases: list[PhasePlan] = []
    if mode is Mode.MEASURE:
        if max_rate <= rate:
            notes.append(
                f"The measuring rate {max_rate:g}/s is not above the expected limit; a limit "
                "above it cannot be seen."
            )
        phases.append(
            PhasePlan(
                "measure",
                max_rate,
                max(2, _count(max_rate * seconds, round)),
                idle_before=MEASURE_IDLE_WINDOWS * window_s,
                align=0.5,
                dither=True,
            )
        )
        expected_refusals = max(0, phases[0].calls - _count(expected * (seconds / window_s + 1)))
    else:
        capacity_rate = min(CAPACITY_SHARE * rate, max_rate)
        if capacity_rate < CAPACITY_SHARE * rate:
            notes.append(
                f"The capacity part paces at {capacity_rate:g}/s, below "
                f"{CAPACITY_SHARE:.0%} of the limit, because of --max-rate."
            )
        phases.append(
            PhasePlan(
                "capacity",
                capacity_rate,
                max(2, _count(capacity_rate * seconds, round)),
                idle_before=IDLE_WINDOWS * window_s,
            )
        )
        expected_refusals = 0
        if enforcement:
            enforce_rate = min(ENFORCEMENT_FACTOR * rate, max_rate)
            if enforce_rate < 1.2 * rate:
                raise UsageError(
                    f"The enforcement part must pace well over the limit ({rate:g}/s), but "
                    f"--max-rate is {max_rate:g}/s; raise it to {ENFORCEMENT_FACTOR * rate:g}."
                )
            calls = round(enforce_rate * ENFORCEMENT_WINDOWS * window_s)
            phases.append(
                PhasePlan("enforcement", enforce_rate, calls, idle_before=IDLE_WINDOWS * window_s)
            )
            expected_refusals = max(0, calls - round(expected * ENFORCEMENT_WINDOWS))
    fitted, cut = _fit(phases, max_calls - 1)
    if cut:
        notes.append(f"The run was shortened to fit --max-calls {max_calls}.")
        expected_refusals = 0
        for phase in fitted:
            if phase.name in ("measure", "enforcement"):
                seconds_sent = phase.calls / phase.rate
                allowed = math.ceil(expected * (seconds_sent / window_s + 1))
                expected_refusals += max(0, phase.calls - allowed)
    for phase in fitted:
        densest = min(phase.calls, math.ceil(phase.rate * window_s))
        if phase.name in ("measure", "enforcement") and densest <= expected:
            notes.append(
                f"The {phase.name} part sends at most {densest} calls in any {window_s:g}-s span, "
                f"not more than the limit of {expected}: it cannot see the limit, and the result "
                "will be inconclusive (exit 3). Raise --max-calls or --seconds."
            )
        elif phase.name == "measure" and phase.calls / phase.rate <= window_s:
            notes.append(
                f"The measure part lasts {phase.calls / phase.rate:.2g} s, not more than one "
                f"{window_s:g}-s window: too short to read the limiter after its first refusal, "
                "so the result may be inconclusive (exit 3). Raise --max-calls or --seconds."
            )
    return ProbePlan(
        mode=mode,
        documented_limit=documented,
        expected_limit=expected,
        window_s=window_s,
        ceilings=Ceilings(max_rate, max_calls),
        phases=tuple(fitted),
        expected_refusals=expected_refusals,
        enforcement=enforcement and any(p.name == "enforcement" for p in fitted),
        notes=tuple(notes),
    )
