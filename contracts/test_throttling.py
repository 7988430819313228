"""Flow control: the spec's per-account limit is honoured, and enforced.

Flow control sits in the gateway: the contracts run once, for the run's primary operation (its
harmless call). Capacity: traffic at 80% of the limit for a few seconds gets no refusals (polite;
runs on every target). Enforcement: a burst over the limit gets the throttle code, and no window
of the limit's length accepts more than the limit (runs against emulators, or with
--allow-throttling). On an emulator whose admin API moves its clock, time is the emulator's
clock, moved forward instead of slept.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import pytest

from acscontract.contracts.checks import outcome_of
from acscontract.contracts.plan import capacity_calls
from acscontract.contracts.plugin import profile_name, selection
from acscontract.contracts.suite import harmless_call, verify

pytestmark = pytest.mark.acscontract_area("throttling")

# Flow control is the gateway's: the contracts run once, for the run's primary operation.
OP = selection().primary
FLOW = OP.flow_control
THROTTLE_CODES = frozenset(e.code for e in OP.protocol.gateway_errors_in("throttling"))


def sliding_max(times, width):
    """The most events in any half-open interval of `width` (times sorted or not)."""
    ordered = sorted(times)
    best = start = 0
    for end, moment in enumerate(ordered):
        while ordered[start] <= moment - width:
            start += 1
        best = max(best, end - start + 1)
    return best


@pytest.fixture(scope="module")
def harmless(target):
    """The primary operation's harmless call (its limit documented, or the contracts skip)."""
    if FLOW.limit is None:
        pytest.skip(f"{OP.name} documents no flow-control limit, so there is none to check")
    call = harmless_call(target, OP)
    if call is None:
        pytest.skip(f"{OP.name} has no request its spec refuses before it can change anything")
    return call


def test_capacity_below_the_limit_is_served(target, harmless, exchanges, pytestconfig):
    """At 80% of the limit for a few windows (at most CAPACITY_MAX_CALLS calls), nothing is
    throttled."""
    count, rate = capacity_calls(FLOW, profile_name(pytestconfig))
    throttled = []
    with target.spec_flow_control(OP):
        clock = target.steady_clock()
        for index in range(count):
            clock.wait_until(index / rate)
            response = target.call(harmless.params, retry_throttled=False, operation=OP)
            exchanges.record(response)
            outcome = verify(target, response, op=OP, what="capacity")
            if outcome in THROTTLE_CODES:
                throttled.append(index)
    assert not throttled, (
        f"{len(throttled)} of {count} calls at {rate:.0f}/s (80% of the spec's {FLOW.limit} per "
        f"{FLOW.per}) were throttled, the first at call {throttled[0]}"
    )


@pytest.mark.needs_throttling
def test_limit_is_enforced(target, harmless, exchanges):
    """A burst of twice the limit is throttled, and no window accepts more than the limit."""
    burst = FLOW.limit * 2
    with target.spec_flow_control(OP):
        clock = target.steady_clock()

        def one(_):
            sent = clock.now()
            response = target.call(harmless.params, expect_throttling=True, operation=OP)
            return sent, response

        if target.is_emulator:
            results = [one(i) for i in range(burst)]
        else:
            with ThreadPoolExecutor(max_workers=min(16, burst)) as pool:
                results = list(pool.map(one, range(burst)))
    for _, response in results:
        exchanges.record(response)
        verify(target, response, op=OP, what="burst")
    outcomes = [outcome_of(r) for _, r in results]
    throttled = [o for o in outcomes if o in THROTTLE_CODES]
    assert throttled, (
        f"a burst of {burst} calls (twice the spec's {FLOW.limit} per {FLOW.per}) got no "
        f"throttle code ({', '.join(sorted(THROTTLE_CODES))}); outcomes: {sorted(set(outcomes))}"
    )
    if FLOW.throttle_code is not None:
        assert FLOW.throttle_code in throttled, (
            f"the burst was throttled with {sorted(set(throttled))}, not the spec's "
            f"{FLOW.throttle_code}"
        )
    accepted = [
        sent for (sent, _), o in zip(results, outcomes, strict=True) if o not in THROTTLE_CODES
    ]
    busiest = sliding_max(accepted, FLOW.per_seconds)
    slack = max(2, math.ceil(FLOW.limit * 0.05))
    assert busiest <= FLOW.limit + slack, (
        f"{busiest} calls were accepted within one {FLOW.per}; the spec's limit is {FLOW.limit}"
    )
