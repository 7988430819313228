"""The probe's values: what was sent and how it was answered, and what the probe concluded."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "Attempt",
    "Estimate",
    "Finding",
    "LimiterKind",
    "Outcome",
    "Phase",
    "ProbeResult",
    "Reply",
    "Stop",
]


class Outcome(StrEnum):
    """How one call was answered, from the probe's point of view."""

    ACCEPTED = "accepted"
    """The gateway let the call through (whatever the operation then answered)."""
    THROTTLED = "throttled"
    """The body's `Code` is one of the spec's throttling codes."""
    FATAL = "fatal"
    """The probe cannot go on: a permission, signature or credential error, a 5xx, no answer."""


class LimiterKind(StrEnum):
    """The kinds of limiter `measure` tells apart, named as the emulator's `--throttle` names
    them."""

    FIXED_WINDOW = "fixed-window"
    SLIDING_LOG = "sliding-log"
    TOKEN_BUCKET = "token-bucket"  # noqa: S105 - a limiter's name, not a password
    NONE = "none"
    """No call was throttled: no limit at or below the rate the probe sent at."""
    UNKNOWN = "unknown"
    """Throttling was seen, but the pattern fits none of the kinds (or the rate was too low)."""


@dataclass(frozen=True, slots=True)
class Reply:
    """What one call got back. Only the status and the body's `Code` are kept:
    an error `Message` can quote the string to sign, so the probe never stores it."""

    status: int | None
    code: str | None
    transport_error: str | None = None
    api_body: bool = True
    """Whether the body is the API's JSON (an object with a RequestId), as every answer of an
    Alibaba Cloud RPC endpoint is."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """One call of a probe run.

    `index` is the call's position in the whole run's schedule. Times are seconds on the probe's
    clock (Unix time, simulated or real): `scheduled_at` the deadline, `sent_at` when the call
    actually left, `received_at` when its answer came back. Window counting uses `sent_at`.
    """

    index: int
    phase: str
    scheduled_at: float
    sent_at: float
    received_at: float
    outcome: Outcome
    status: int | None
    code: str | None


@dataclass(frozen=True, slots=True)
class Phase:
    """One part of a run, sent at one steady rate: `capacity`, `enforcement`, `measure`, ..."""

    name: str
    rate: float
    planned_calls: int
    start: float
    end: float
    sent: int = 0


@dataclass(frozen=True, slots=True)
class Stop:
    """Why a run stopped early: the answer that made going on pointless or unsafe.

    `kind` is `fatal` (permission, signature, credential, server or transport error),
    `disturbing` (the command took effect on a stream) or `budget` (the call ceiling was hit).
    """

    kind: str
    reason: str
    status: int | None = None
    code: str | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """One check of `check` mode: its name, whether it passed, and what was observed."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Estimate:
    """What `measure` concluded about the limiter from a dense over-rate run.

    `limit` is the sustained calls per window (the per-clump count for window limiters, the refill
    rate for a token bucket); `burst` the calls accepted after idle before the first refusal (for a
    token bucket, corrected for the tokens refilled during the burst). `sliding_max` is the most
    accepted calls in any window-long span of the whole run, `steady_sliding_max` the same after
    the burst; `window_counts` the accepted calls per aligned window in the steady part.
    """

    kind: LimiterKind
    limit: float | None
    burst: int | None
    sliding_max: int
    steady_sliding_max: int
    window_counts: tuple[int, ...]
    clump_sizes: tuple[int, ...]
    refill_rate: float | None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """Everything one probe run did and concluded; the JSON report and the plot read from it.

    `passed` is the verdict: for `check`, every finding passed; for `measure`, the estimate agrees
    with the expected limit. `inconclusive` says why the run could not decide, when it could not
    (it sent too few calls in any window to see the limit); such a run has not passed, and has
    not failed either. `duration_s` is wall-clock time; `probe_time_s` the span on the probe's
    clock (simulated time when `simulated`).
    """

    mode: str
    operation: str
    target: str
    simulated: bool
    documented_limit: int
    expected_limit: int
    window_s: float
    throttle_codes: tuple[str, ...]
    call: tuple[tuple[str, str], ...]
    phases: tuple[Phase, ...]
    attempts: tuple[Attempt, ...]
    findings: tuple[Finding, ...]
    estimate: Estimate | None
    stop: Stop | None
    passed: bool
    duration_s: float
    probe_time_s: float
    inconclusive: str | None = None

    @property
    def verdict(self) -> str:
        """`passed`, `failed` or `inconclusive`."""
        if self.passed:
            return "passed"
        return "inconclusive" if self.inconclusive is not None else "failed"

    @property
    def requests(self) -> int:
        """Calls sent."""
        return len(self.attempts)

    @property
    def accepted(self) -> int:
        """Calls the gateway let through."""
        return sum(1 for a in self.attempts if a.outcome is Outcome.ACCEPTED)

    @property
    def throttled(self) -> int:
        """Calls refused with a throttling code."""
        return sum(1 for a in self.attempts if a.outcome is Outcome.THROTTLED)

    @property
    def origin(self) -> float:
        """The probe-clock time plots and series count from: the first phase's start."""
        if self.phases:
            return self.phases[0].start
        return self.attempts[0].sent_at if self.attempts else 0.0
