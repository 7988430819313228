"""Pure analysis of a probe timeline: window counts, limiter kind and limit estimation.

Everything here works on `Attempt`s alone, so it can be tested on synthetic timelines. Times are
seconds on the probe's clock; aligned windows are aligned to multiples of the window length on
that clock (Unix time), which is how window limiters align theirs.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from acscontract.probe._model import Attempt, Estimate, Finding, LimiterKind, Outcome

__all__ = [
    "MIN_STEADY",
    "WindowCount",
    "agrees",
    "capacity_finding",
    "enforcement_findings",
    "estimate_limiter",
    "sliding_max",
    "tolerance",
    "window_series",
]

#: Slack for float comparisons of times (sub-microsecond; far below any pacing interval).
_EPSILON = 1e-6
#: A steady-state accepted call whose predecessor was also accepted is "clumped". Window limiters
#: refill all at once (or mirror their burst), so most of their accepted calls are clumped; a
#: token bucket driven at more than twice its rate never accepts two calls in a row.
_CLUMPED_FRACTION = 0.5
#: `measure` can only tell the kinds apart when most steady-state calls are refused.
_DENSE_REFUSED_FRACTION = 0.5
#: A sliding log never lets more than its limit (its burst after idle) into one span, and reaches
#: it again in the steady part; these allow for send-time jitter. A fixed window started
#: mid-window lets the burst and the next window's refill into one span (twice the limit), and a
#: token bucket its burst plus a window's refill.
_SLIDING_STEADY = 0.8


#: Accepted calls after the first refusal that are needed to read a limiter at all.
MIN_STEADY = 3
#: A zero-tolerance limiter's interval is read between these quantiles of the gaps after each
#: acceptance to the next refusal and to the next acceptance, once there are enough gaps.
_BOUND_QUANTILE = 0.05
_MIN_GAPS = 5


def _jitter(count: int) -> int:
    """Calls a span may show over a limit just because send times are not arrival times."""
    return max(1, round(0.02 * count))


@dataclass(frozen=True, slots=True)
class WindowCount:
    """Accepted and throttled calls in one aligned bin `[start, start + width)` (probe-clock s)."""

    start: float
    width: float
    accepted: int
    throttled: int


def tolerance(limit: int) -> int:
    """How many calls over the limit one window may show before check mode calls it a breach.

    Send times are the probe's, not the gateway's: a call sent just before a window boundary can
    be counted just after it. Two calls, or 5% of the limit when that is more.
    """
    return max(2, math.ceil(limit * 0.05))


def agrees(estimated: float, expected: float) -> bool:
    """Whether a measured limit matches the expected one: within 2%, or 1 call at low limits."""
    return abs(estimated - expected) <= max(0.02 * expected, 1.0)


def sliding_max(times: Iterable[float], width: float, *, not_before: float | None = None) -> int:
    """The most `times` in any half-open span `[t, t + width)`.

    Only spans starting at or after `not_before` count, when given. The maximum is always reached
    by a span that starts at one of the times, so only those are tried.
    """
    ordered = sorted(times)
    best = 0
    j = 0
    n = len(ordered)
    for i in range(n):
        if not_before is not None and ordered[i] < not_before - _EPSILON:
            continue
        j = max(j, i)
        while j + 1 < n and ordered[j + 1] - ordered[i] < width - _EPSILON:
            j += 1
        best = max(best, j - i + 1)
    return best


def window_series(
    attempts: Iterable[Attempt], width: float, *, start: float, end: float
) -> tuple[WindowCount, ...]:
    """Accepted and throttled calls per aligned bin, covering `[start, end)` without gaps.

    Bins are aligned to multiples of `width` on the probe clock, so a fixed-window limiter's
    windows and these bins coincide. Fatal answers are not counted.
    """
    first = math.floor(start / width + _EPSILON)
    last = max(first, math.ceil(end / width - _EPSILON) - 1)
    accepted = [0] * (last - first + 1)
    throttled = [0] * (last - first + 1)
    for attempt in attempts:
        slot = math.floor(attempt.sent_at / width + _EPSILON) - first
        if not 0 <= slot < len(accepted):
            continue
        if attempt.outcome is Outcome.ACCEPTED:
            accepted[slot] += 1
        elif attempt.outcome is Outcome.THROTTLED:
            throttled[slot] += 1
    return tuple(
        WindowCount((first + k) * width, width, accepted[k], throttled[k])
        for k in range(len(accepted))
    )


def _clumps(accepted: Sequence[Attempt], gap: float) -> list[list[Attempt]]:
    groups: list[list[Attempt]] = []
    for attempt in accepted:
        if groups and attempt.sent_at - groups[-1][-1].sent_at <= gap:
            groups[-1].append(attempt)
        else:
            groups.append([attempt])
    return groups


def estimate_limiter(attempts: Sequence[Attempt], window: float) -> Estimate:
    """Estimate the limiter behind one dense over-rate run that started after idle.

    The run is read in two parts. The **burst**: the calls accepted before the first refusal. The
    **steady part**: everything after it. A sliding log never accepts more than its limit in any
    window-long span, so no span holds more than the burst, and the steady part fills spans to it
    again. A fixed window refills all at once at its boundaries, so its steady calls come in
    clumps of consecutive calls, and since the run starts mid-window, the burst and the next
    window's clump share one span (twice the limit). A token bucket accepts single calls spaced
    at its refill rate, after a burst of its capacity.

    The limit is read from the burst (sliding log), whole clumps (fixed window) or the spacing of
    the steady calls (token bucket), never from an average accepted rate: pacing just over the
    limit would alias with the window and under-measure it.
    """
    ordered = sorted(attempts, key=lambda a: a.index)
    accepted = [a for a in ordered if a.outcome is Outcome.ACCEPTED]
    refused = [a for a in ordered if a.outcome is Outcome.THROTTLED]
    times = [a.sent_at for a in accepted]
    span_max = sliding_max(times, window)
    if not refused:
        return Estimate(
            kind=LimiterKind.NONE,
            limit=None,
            burst=None,
            sliding_max=span_max,
            steady_sliding_max=span_max,
            window_counts=(),
            clump_sizes=(),
            refill_rate=None,
            notes=(f"None of the {len(ordered)} calls was throttled.",),
        )
    first_refusal = refused[0]
    burst_calls = [a for a in accepted if a.index < first_refusal.index]
    steady_attempts = [a for a in ordered if a.index > first_refusal.index]
    steady = [a for a in steady_attempts if a.outcome is Outcome.ACCEPTED]
    steady_times = [a.sent_at for a in steady]
    steady_max = sliding_max(steady_times, window)
    end = ordered[-1].sent_at
    counts = tuple(
        w.accepted
        for w in window_series(steady_attempts, window, start=first_refusal.sent_at, end=end)
        if w.start >= first_refusal.sent_at - _EPSILON and w.start + w.width <= end + _EPSILON
    )
    notes: list[str] = []
    limit: float | None
    if len(steady) < MIN_STEADY:
        return Estimate(
            kind=LimiterKind.UNKNOWN,
            limit=float(steady_max) if steady else None,
            burst=len(burst_calls),
            sliding_max=span_max,
            steady_sliding_max=steady_max,
            window_counts=counts,
            clump_sizes=(),
            refill_rate=None,
            notes=(
                f"Only {len(steady)} calls were accepted after the first refusal, too few to "
                "read the limiter; run longer (--seconds).",
            ),
        )
    refused_fraction = 1.0 - len(steady) / len(steady_attempts)
    accepted_indices = {a.index for a in accepted}
    clumped = sum(1 for a in steady if a.index - 1 in accepted_indices) / len(steady)
    burst = len(burst_calls)
    sizes: tuple[int, ...] = ()
    rate: float | None = None
    if refused_fraction < _DENSE_REFUSED_FRACTION:
        kind = LimiterKind.UNKNOWN
        limit = float(steady_max)
        notes.append(
            f"Only {refused_fraction:.0%} of the calls after the first refusal were throttled; "
            "the probe's rate was too close to the limit to tell the limiter's kind, and the "
            "limit is read from the fullest span. Raise --max-rate."
        )
    elif span_max <= burst + _jitter(burst) and steady_max >= _SLIDING_STEADY * burst:
        # Nothing ever exceeded the burst, and the steady part reaches it again: a sliding log.
        kind = LimiterKind.SLIDING_LOG
        limit = float(burst)
    elif clumped >= _CLUMPED_FRACTION:
        # Refilled all at once, at the window's boundaries: a fixed window.
        kind = LimiterKind.FIXED_WINDOW
        groups = _clumps(steady, gap=0.2 * window)
        last_index = ordered[-1].index
        complete = [g for g in groups if g[-1].index != last_index] or groups
        sizes = tuple(len(g) for g in complete)
        limit = float(statistics.median_low(sizes))
    else:
        kind = LimiterKind.TOKEN_BUCKET
        rate, zero_tolerance = _refill_rate(ordered, steady, single_token=burst <= 1)
        limit = None if rate is None else rate * window
        if rate is not None and burst_calls:
            refilled = rate * (burst_calls[-1].sent_at - ordered[0].sent_at)
            burst = max(1, round(burst - refilled))
        if zero_tolerance:
            notes.append(
                "The bucket holds one token: a zero-tolerance limiter (GCRA without burst). Its "
                "interval was read from the latest refusal and the earliest acceptance after "
                "each accepted call."
            )
    return Estimate(
        kind=kind,
        limit=limit,
        burst=burst,
        sliding_max=span_max,
        steady_sliding_max=steady_max,
        window_counts=counts,
        clump_sizes=sizes,
        refill_rate=rate,
        notes=tuple(notes),
    )


def _refill_rate(
    ordered: Sequence[Attempt], steady: Sequence[Attempt], *, single_token: bool
) -> tuple[float | None, bool]:
    """The steady refill rate of a token bucket, and whether it is a zero-tolerance one.

    A bucket that can hold more than one token keeps the fraction of a token left over between
    calls, so over a long run its accepted calls average exactly its rate: the mean gap is read.
    A zero-tolerance limiter (GCRA without burst, `single_token`: at most one call got through
    after idle) loses that fraction at every call, so the mean gap overstates its interval by up
    to one pacing interval (the aliasing trap). There a refusal comes less than the interval
    after the last acceptance and an acceptance at least the interval after it; with a dithered
    schedule both bounds close in on the interval. When send-time jitter over a network makes the
    extremes cross, percentiles are taken instead.
    """
    span = steady[-1].sent_at - steady[0].sent_at
    if len(steady) < 2 or span <= 0:
        return None, False
    mean_rate = (len(steady) - 1) / span
    if not single_token:
        return mean_rate, False
    by_index = {a.index: a for a in ordered}
    accepts: list[float] = []
    refusals: list[float] = []
    for before, after in itertools.pairwise(steady):
        accepts.append(after.sent_at - before.sent_at)
        refused = by_index.get(after.index - 1)
        if refused is not None and refused.index > before.index:
            refusals.append(refused.sent_at - before.sent_at)
    if len(accepts) < _MIN_GAPS or len(refusals) < _MIN_GAPS:
        return mean_rate, False
    accepts.sort()
    refusals.sort()
    upper, lower = accepts[0], refusals[-1]
    if lower >= upper:  # jitter crossed the bounds: read them a little inside the extremes
        upper = accepts[math.floor(_BOUND_QUANTILE * (len(accepts) - 1))]
        lower = refusals[math.ceil((1.0 - _BOUND_QUANTILE) * (len(refusals) - 1))]
    return 2.0 / (lower + upper), True


def _share(rate: float, limit: int, window: float) -> str:
    """A rate in calls per second as a share of a limit per window (`80% of the limit 50 per
    1 s`; 133.3/s against 10,000 per 60 s is 80% too)."""
    return f"{rate * window / limit:.0%} of the limit {limit} per {window:g} s"


def capacity_finding(
    attempts: Sequence[Attempt], rate: float, limit: int, window: float = 1.0
) -> Finding:
    """Calls paced under the limit must all get through: zero throttles. `rate` is in calls per
    second, `limit` per `window` seconds."""
    throttled = sum(1 for a in attempts if a.outcome is Outcome.THROTTLED)
    sent = len(attempts)
    span = attempts[-1].sent_at - attempts[0].sent_at if len(attempts) > 1 else 0.0
    achieved = (sent - 1) / span if span > 0 else 0.0
    detail = (
        f"{sent} calls paced at {rate:.1f}/s ({_share(rate, limit, window)}), "
        f"achieved {achieved:.1f}/s: {throttled} throttled"
    )
    if throttled:
        detail += "; the endpoint throttles below its documented limit"
    return Finding("capacity", throttled == 0, detail + ".")


def enforcement_findings(
    attempts: Sequence[Attempt], rate: float, limit: int, window: float
) -> tuple[Finding, ...]:
    """Calls paced over the limit must be throttled, and the sustained rate must hold the limit.

    "Sustained" means window-long spans that start at or after the first refusal, so an initial
    burst allowance (a token bucket's, say) is reported but not held against the endpoint.
    """
    throttled = [a for a in attempts if a.outcome is Outcome.THROTTLED]
    accepted_times = [a.sent_at for a in attempts if a.outcome is Outcome.ACCEPTED]
    seen = Finding(
        "enforcement-throttles",
        bool(throttled),
        f"{len(attempts)} calls paced at {rate:.1f}/s ({rate * window / limit:.1f}x the limit "
        f"{limit} per {window:g} s): "
        f"{len(throttled)} throttled"
        + ("" if throttled else "; the endpoint does not enforce its documented limit")
        + ".",
    )
    if not throttled:
        return (seen,)
    allowed = limit + tolerance(limit)
    sustained = sliding_max(accepted_times, window, not_before=throttled[0].sent_at)
    burst = sliding_max(accepted_times, window)
    held = Finding(
        "enforcement-window",
        sustained <= allowed,
        f"after the first refusal, at most {sustained} calls were accepted in any {window:g}-s "
        f"span (limit {limit}, tolerance {allowed - limit}); the first span after idle "
        f"accepted up to {burst}.",
    )
    return (seen, held)
