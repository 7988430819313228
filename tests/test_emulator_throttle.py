"""Flow control: each algorithm keeps the spec's limit per window, per account."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acscontract.emulator import (
    THROTTLE_ALGORITHMS,
    Emulator,
    FixedWindowBucket,
    ManualClock,
    SlidingLogBucket,
    TokenBucket,
    signed_request,
)
from acscontract.emulator._throttle import AccountThrottle
from acscontract.signing import Credentials
from acscontract.spec import operation

OP = operation()
FLOW = OP.flow_control
LIMIT = FLOW.limit or 0
WINDOW = FLOW.per_seconds
ROOT = Credentials("LTAIemulatorRootKey0001", "emulator-root-secret-not-real-0001")
RECORDER = Credentials("LTAIemulatorRecorder001", "emulator-recorder-secret-not-real-01")
OTHER = Credentials("LTAIemulatorOtherRoot01", "emulator-other-root-secret-not-real-1")
ALGORITHMS = sorted(THROTTLE_ALGORITHMS)


def burst(em: Emulator, creds: Credentials, n: int, domain: str = "push.example.com") -> list[str]:
    """Send n calls at the current instant; the outcome of each (`ok` or the error code)."""
    outcomes = []
    for i in range(n):
        params = {
            "Command": "restart" if i else "start",
            "DomainName": domain,
            "AppName": "live",
            "StreamName": "stream1",
        }
        response = em.handle(signed_request(params, creds))
        if response.status == 200:
            outcomes.append("ok")
        else:
            outcomes.append(json.loads(response.body)["Code"])
    return outcomes


def test_the_default_algorithm_is_the_spec_one():
    assert Emulator().throttle_algorithm == FLOW.default_algorithm


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_each_algorithm_admits_the_limit_in_one_window_and_refuses_the_rest(algorithm):
    clock = ManualClock()
    em = Emulator(clock=clock, throttle=algorithm)
    outcomes = burst(em, ROOT, LIMIT + 10)
    assert outcomes[:LIMIT].count("ok") == LIMIT
    assert outcomes[LIMIT:] == [FLOW.throttle_code] * 10
    refused = em.handle(
        signed_request(
            {
                "Command": "restart",
                "DomainName": "push.example.com",
                "AppName": "live",
                "StreamName": "stream1",
            },
            ROOT,
        )
    )
    assert refused.status == FLOW.throttle_status
    clock.advance(WINDOW)
    again = burst(em, ROOT, LIMIT + 1)
    # after a full window the account has its whole limit again ("start" now hits a running task)
    assert len([o for o in again if o != FLOW.throttle_code]) == LIMIT


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_the_limit_is_shared_by_every_key_of_an_account_and_not_by_other_accounts(algorithm):
    em = Emulator(clock=ManualClock(), throttle=algorithm)
    half = LIMIT // 2
    first = burst(em, ROOT, half)
    second = burst(em, RECORDER, LIMIT - half + 3)
    assert FLOW.throttle_code not in first
    assert second.count(FLOW.throttle_code) == 3
    assert FLOW.throttle_code not in burst(em, OTHER, LIMIT, domain="other.example.com")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_seed_can_override_the_limit_per_account(algorithm):
    seed = Emulator().seed.to_json()
    seed["accounts"][0]["qps"] = 3
    em = Emulator(seed, clock=ManualClock(), throttle=algorithm)
    assert burst(em, ROOT, 5).count(FLOW.throttle_code) == 2
    assert FLOW.throttle_code not in burst(em, OTHER, LIMIT, domain="other.example.com")


def test_a_factory_can_replace_the_algorithm():
    em = Emulator(clock=ManualClock(), throttle=lambda limit, window: FixedWindowBucket(2, window))
    assert em.throttle_algorithm == "custom"
    assert burst(em, ROOT, 4).count(FLOW.throttle_code) == 2


def test_fixed_window_resets_at_the_window_boundary():
    bucket = FixedWindowBucket(3, 1.0)
    assert [bucket.try_acquire(10.9) for _ in range(4)] == [True, True, True, False]
    assert [bucket.try_acquire(11.0) for _ in range(4)] == [True, True, True, False]


def test_sliding_log_counts_the_last_window_exactly():
    bucket = SlidingLogBucket(3, 1.0)
    assert [bucket.try_acquire(t) for t in (10.0, 10.5, 10.9, 10.95)] == [True, True, True, False]
    assert bucket.try_acquire(11.0) is True  # the call at 10.0 has left the window
    assert bucket.try_acquire(11.1) is False


def test_token_bucket_allows_a_burst_then_the_steady_rate():
    bucket = TokenBucket(10, 1.0, burst=4)
    assert [bucket.try_acquire(0.0) for _ in range(5)] == [True] * 4 + [False]
    assert bucket.try_acquire(0.05) is False
    assert bucket.try_acquire(0.1) is True  # one token per 0.1 s
    assert [bucket.try_acquire(100.0) for _ in range(5)] == [True] * 4 + [False]


@settings(max_examples=60, deadline=None)
@given(
    algorithm=st.sampled_from(ALGORITHMS),
    gaps=st.lists(st.floats(min_value=0, max_value=0.3), min_size=1, max_size=120),
)
def test_no_algorithm_admits_more_than_twice_the_limit_in_any_window(algorithm, gaps):
    limit = 5
    bucket = THROTTLE_ALGORITHMS[algorithm](limit, 1.0)
    now, admitted = 0.0, []
    for gap in gaps:
        now += gap
        if bucket.try_acquire(now):
            admitted.append(now)
    for start in admitted:
        in_window = [t for t in admitted if start <= t < start + 1.0]
        # sliding log is exact; fixed window and a full token bucket may reach twice the limit
        assert len(in_window) <= (limit if algorithm == "sliding-log" else 2 * limit)


def test_account_throttle_without_a_limit_admits_everything():
    throttle = AccountThrottle(SlidingLogBucket, None, 1.0)
    assert all(throttle.try_acquire("a", 0.0) for _ in range(1000))
