"""Rate-limit probes: the analysis on synthetic timelines, and whole runs against the emulator."""

from __future__ import annotations

import itertools
import json
import math
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acscontract.client import Client
from acscontract.emulator import (
    THROTTLE_ALGORITHMS,
    Emulator,
    EmulatorTransport,
    FixedWindowBucket,
    ManualClock,
    SlidingLogBucket,
    ThrottleBucket,
    TokenBucket,
    serve_in_thread,
    signed_request,
)
from acscontract.errors import UsageError
from acscontract.probe import (
    Attempt,
    Caller,
    LimiterKind,
    Mode,
    Outcome,
    PhasePlan,
    ProbeSettings,
    Reply,
    Resources,
    ResponseClassifier,
    SimulatedClock,
    Target,
    agrees,
    capacity_finding,
    deadlines,
    emulator_target,
    enforcement_findings,
    estimate_limiter,
    harmless_command,
    http_target,
    plan_probe,
    probe_call,
    result_json,
    run_probe,
    sliding_max,
    tolerance,
    window_series,
    write_json,
    write_plot,
)
from acscontract.signing import Credentials
from acscontract.spec import operation

OP = operation()
FLOW = OP.flow_control
LIMIT = FLOW.limit or 0
WINDOW = FLOW.per_seconds
THROTTLE_CODES = [e.code for e in OP.protocol.gateway_errors_in("throttling")]
ACCOUNT = "1234567890123456"
ROOT = Credentials("LTAIemulatorRootKey0001", "emulator-root-secret-not-real-0001")
DENIED = Credentials("LTAIemulatorDenied00001", "emulator-denied-secret-not-real-0001")
DOMAIN = "push.example.com"
KINDS = sorted(THROTTLE_ALGORITHMS)
BUCKETS = {
    "fixed-window": FixedWindowBucket,
    "sliding-log": SlidingLogBucket,
    "token-bucket": TokenBucket,
}


# --------------------------------------------------------------------------------------------
# synthetic timelines


def attempt(index: int, t: float, accepted: bool, phase: str = "measure") -> Attempt:
    outcome = Outcome.ACCEPTED if accepted else Outcome.THROTTLED
    code = None if accepted else FLOW.throttle_code
    return Attempt(index, phase, t, t, t, outcome, 400, code)


def timeline(
    bucket: ThrottleBucket, rate: float, seconds: float, start: float, *, dither: bool = True
) -> list[Attempt]:
    """What a run at `rate` from `start`, scheduled as `measure` schedules it, sees from a
    reference limiter."""
    phase = PhasePlan("measure", rate, round(rate * seconds), dither=dither)
    return [attempt(i, t, bucket.try_acquire(t)) for i, t in enumerate(deadlines(phase, start))]


def gcra(limit: int, window: float) -> ThrottleBucket:
    """A zero-tolerance limiter: a GCRA (token bucket of one token) at `limit` per window."""
    return TokenBucket(limit, window, burst=1)


def test_sliding_max_counts_half_open_spans():
    times = [0.0, 0.5, 0.999, 1.0, 1.5]
    assert sliding_max(times, 1.0) == 3  # [0, 1) holds 0, 0.5, 0.999; 1.0 is outside
    assert sliding_max(times, 1.0, not_before=0.6) == 3  # [0.999, 1.999)
    assert sliding_max(times, 1.0, not_before=1.2) == 1
    assert sliding_max([], 1.0) == 0


@given(st.lists(st.floats(0, 20, allow_nan=False), max_size=60), st.floats(0.05, 3))
def test_sliding_max_agrees_with_brute_force(times, width):
    brute = max((sum(1 for u in times if t <= u < t + width - 1e-6) for t in times), default=0)
    assert sliding_max(times, width) == brute


def test_window_series_aligns_bins_to_the_clock_and_leaves_no_gap():
    attempts = [attempt(0, 100.2, True), attempt(1, 100.9, False), attempt(2, 102.5, True)]
    series = window_series(attempts, 1.0, start=100.2, end=102.6)
    assert [(w.start, w.accepted, w.throttled) for w in series] == [
        (100.0, 1, 1),
        (101.0, 0, 0),
        (102.0, 1, 0),
    ]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("limit", [10, 50, 200])
def test_estimate_recovers_reference_limiters(kind, limit):
    runs = timeline(BUCKETS[kind](limit, WINDOW), 10 * LIMIT, 4.0, start=1_700_000_000.5)
    estimate = estimate_limiter(runs, WINDOW)
    assert estimate.kind.value == kind
    assert estimate.limit is not None
    assert agrees(estimate.limit, limit)
    assert estimate.burst == limit


@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from([*KINDS, "gcra"]),
    limit=st.integers(3, 300),
    factor=st.floats(3.0, 12.0),
    start=st.integers(1_600_000_000, 1_800_000_000),
)
def test_estimate_is_exact_for_any_limit_and_dense_rate(kind, limit, factor, start):
    make = gcra if kind == "gcra" else BUCKETS[kind]
    runs = timeline(make(limit, WINDOW), factor * limit, 4.0, start=start + 0.5)
    estimate = estimate_limiter(runs, WINDOW)
    assert estimate.kind.value == ("token-bucket" if kind == "gcra" else kind)
    assert estimate.limit is not None
    assert agrees(estimate.limit, limit)


def steady_average(runs: list[Attempt]) -> float:
    """The naive estimate: accepted calls per second after the first refusal."""
    first = next(a.index for a in runs if a.outcome is Outcome.THROTTLED)
    steady = [a for a in runs if a.index > first and a.outcome is Outcome.ACCEPTED]
    return (len(steady) - 1) / (steady[-1].sent_at - steady[0].sent_at)


def test_pacing_just_over_a_sliding_log_does_not_under_measure_it():
    # The aliasing trap: 2.6% over the limit, a slot freed at t + 1 s waits for the next call,
    # so the average accepted rate is under the limit. Whole spans still hold the limit.
    runs = timeline(SlidingLogBucket(50, WINDOW), 51.3, 6.0, 1_700_000_000.5, dither=False)
    assert steady_average(runs) < 49.8
    estimate = estimate_limiter(runs, WINDOW)
    assert estimate.limit == 50
    assert estimate.kind is LimiterKind.UNKNOWN  # too little was refused to tell the kind
    assert any("--max-rate" in note for note in estimate.notes)


def test_a_zero_tolerance_limiter_is_not_under_measured():
    # A GCRA without burst loses the rest of its interval at every call: at 3x its rate on a
    # plain grid it accepts every 4th call or so, and the average says about 38/s, not 50/s.
    plain = timeline(gcra(50, WINDOW), 150, 4.0, 1_700_000_000.5, dither=False)
    assert steady_average(plain) < 40
    dithered = timeline(gcra(50, WINDOW), 150, 4.0, 1_700_000_000.5)
    estimate = estimate_limiter(dithered, WINDOW)
    assert estimate.kind is LimiterKind.TOKEN_BUCKET
    assert estimate.limit is not None
    assert agrees(estimate.limit, 50)
    assert estimate.burst == 1
    assert any("zero-tolerance" in note for note in estimate.notes)


def test_no_refusal_means_no_limit():
    runs = [attempt(i, 10.0 + i / 100, True) for i in range(300)]
    estimate = estimate_limiter(runs, WINDOW)
    assert estimate.kind is LimiterKind.NONE
    assert estimate.limit is None
    assert estimate.sliding_max == 100


def test_capacity_fails_on_any_throttle_and_enforcement_needs_throttles():
    clean = [attempt(i, i / 40, True, "capacity") for i in range(40)]
    assert capacity_finding(clean, 40, 50).passed
    dirty = [*clean[:-1], attempt(39, 39 / 40, False, "capacity")]
    assert not capacity_finding(dirty, 40, 50).passed
    never = [attempt(i, i / 100, True, "enforcement") for i in range(200)]
    (seen,) = enforcement_findings(never, 100, 50, WINDOW)
    assert not seen.passed


def test_enforcement_ignores_the_burst_but_not_a_leaky_limit():
    bucket = TokenBucket(50, WINDOW)  # a burst of 50 on top of 50/s: fine once throttling starts
    runs = [
        attempt(i, t, bucket.try_acquire(t), "enforcement")
        for i in range(200)
        for t in [1000.0 + i / 100]
    ]
    assert all(f.passed for f in enforcement_findings(runs, 100, 50, WINDOW))
    leaky = [attempt(i, 1000.0 + i / 100, i % 10 != 0, "enforcement") for i in range(200)]
    window = enforcement_findings(leaky, 100, 50, WINDOW)[1]
    assert not window.passed
    assert "at most 90 calls" in window.detail


def test_tolerance_and_agreement():
    assert tolerance(50) == 3
    assert tolerance(10) == 2
    assert agrees(50.9, 50)
    assert not agrees(51.1, 50)
    assert agrees(10.9, 10)
    assert not agrees(11.2, 10)
    assert agrees(196.5, 200)
    assert not agrees(195.0, 200)


# --------------------------------------------------------------------------------------------
# the spec decides


def test_the_classifier_reads_codes_not_statuses():
    classifier = ResponseClassifier.for_operation(OP)
    assert classifier.throttle_codes == {*THROTTLE_CODES, FLOW.throttle_code}
    for code in THROTTLE_CODES:
        for status in (FLOW.throttle_status, 429, 503):
            assert classifier.classify(Reply(status, code)) is Outcome.THROTTLED
    assert classifier.classify(Reply(400, "CodeConfigNotFound")) is Outcome.ACCEPTED
    assert classifier.classify(Reply(409, "StreamNotFound")) is Outcome.ACCEPTED
    for status, code in [
        (403, "Forbidden.RAM"),
        (400, "SignatureDoesNotMatch"),
        (404, "InvalidAccessKeyId.NotFound"),
        (400, "InvalidTimeStamp.Expired"),
        (500, "InternalError"),
        (503, None),
        (404, None),
        (403, "SomethingNew"),
    ]:
        reply = Reply(status, code)
        assert classifier.classify(reply) is Outcome.FATAL, (status, code)
    stop = classifier.fatal_reason(Reply(403, "Forbidden.RAM"))
    assert stop is not None
    assert OP.ram.action in stop.reason


def test_the_probe_call_is_the_lifecycles_harmless_command_on_probe_names():
    command = harmless_command(OP)
    lifecycle = OP.lifecycle
    assert lifecycle is not None
    refused = lifecycle.transition(lifecycle.initial, command)
    assert refused is not None
    assert refused.error is not None
    assert command == "stop"
    params = dict(probe_call(OP, Resources(DOMAIN)))
    assert params == {
        "Command": "stop",
        "DomainName": DOMAIN,
        "AppName": "acscontract-rate-probe",
        "StreamName": "acscontract-rate-probe",
    }
    with pytest.raises(UsageError, match="--domain"):
        probe_call(OP, Resources())


# --------------------------------------------------------------------------------------------
# safety rules


def plan(loopback: bool = False, **kwargs: object):
    return plan_probe(
        ProbeSettings(**kwargs),  # type: ignore[arg-type]
        documented_limit=LIMIT,
        window_s=WINDOW,
        loopback=loopback,
    )


def test_measure_and_enforcement_against_a_remote_target_need_allow_throttling():
    with pytest.raises(UsageError, match="--allow-throttling"):
        plan(mode=Mode.MEASURE)
    assert plan(mode=Mode.MEASURE, allow_throttling=True).phases[0].name == "measure"
    polite = plan()
    assert [p.name for p in polite.phases] == ["capacity"]
    assert polite.phases[0].rate == pytest.approx(0.8 * LIMIT)
    assert polite.ceilings.max_rate == LIMIT
    assert polite.expected_refusals == 0
    loud = plan(allow_throttling=True)
    assert [p.name for p in loud.phases] == ["capacity", "enforcement"]
    assert loud.phases[1].rate == pytest.approx(2 * LIMIT)
    with pytest.raises(UsageError, match="above the documented limit"):
        plan(limit=LIMIT * 4)


def test_ceilings_can_be_lowered_but_raised_only_with_allow_throttling():
    with pytest.raises(UsageError, match="can only be lowered"):
        plan(max_rate=LIMIT * 3)
    with pytest.raises(UsageError, match="can only be lowered"):
        plan(loopback=True, mode=Mode.MEASURE, max_calls=10**6)
    assert plan(loopback=True, mode=Mode.MEASURE, max_rate=100).phases[0].rate == 100
    assert plan(mode=Mode.CHECK, allow_throttling=True, max_rate=LIMIT * 3).ceilings.max_rate == (
        LIMIT * 3
    )
    short = plan(max_calls=101)
    assert short.calls == 101
    assert any("--max-calls" in note for note in short.notes)
    with pytest.raises(UsageError, match="well over the limit"):
        plan(allow_throttling=True, max_rate=LIMIT)


def test_the_cost_is_known_before_starting():
    measure = plan(loopback=True, mode=Mode.MEASURE)
    text = measure.describe("http://127.0.0.1:1")
    assert f"up to {measure.calls} calls" in text
    assert measure.expected_refusals > 0
    assert f"about {measure.expected_refusals} throttled calls expected" in text


# --------------------------------------------------------------------------------------------
# whole runs against the in-process emulator (simulated time)


def emulator(kind: str | None = None, qps: int | None = None) -> Target:
    target = emulator_target(throttle=kind)
    target.emulator.set_account_qps(ACCOUNT, qps)
    return target


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("limit", [10, 50, 200])
def test_measure_recovers_the_emulators_limit_and_kind(kind, limit):
    result = run_probe(emulator(kind, limit), ProbeSettings(mode=Mode.MEASURE))
    estimate = result.estimate
    assert estimate is not None
    assert estimate.kind.value == kind
    assert estimate.limit is not None
    assert abs(estimate.limit - limit) <= max(0.02 * limit, 1.0)
    assert estimate.burst == limit
    assert result.stop is None
    assert result.simulated
    assert result.duration_s < 20
    assert result.passed is (limit == LIMIT)
    assert result.requests <= plan(loopback=True, mode=Mode.MEASURE).ceilings.max_calls


def test_measure_reads_a_zero_tolerance_gcra_behind_the_emulator():
    target = emulator_target(throttle=gcra)
    result = run_probe(target, ProbeSettings(mode=Mode.MEASURE))
    estimate = result.estimate
    assert estimate is not None
    assert estimate.kind is LimiterKind.TOKEN_BUCKET
    assert estimate.burst == 1
    assert estimate.limit is not None
    assert agrees(estimate.limit, LIMIT)
    assert result.passed


@pytest.mark.parametrize("kind", KINDS)
def test_check_passes_on_a_faithful_emulator(kind):
    result = run_probe(emulator(kind), ProbeSettings(allow_throttling=True))
    assert result.passed, result.findings
    assert [f.name for f in result.findings] == [
        "capacity",
        "enforcement-throttles",
        "enforcement-window",
    ]
    capacity = [a for a in result.attempts if a.phase == "capacity"]
    assert len(capacity) == round(0.8 * LIMIT * 10)
    assert all(a.outcome is Outcome.ACCEPTED for a in capacity)


def test_check_fails_on_an_emulator_that_throttles_below_the_limit():
    result = run_probe(emulator(qps=30))
    assert not result.passed
    (capacity,) = result.findings
    assert capacity.name == "capacity"
    assert not capacity.passed
    assert "throttles below its documented limit" in capacity.detail


def test_check_with_allow_throttling_fails_when_nothing_is_throttled():
    result = run_probe(emulator(qps=100_000), ProbeSettings(allow_throttling=True))
    assert not result.passed
    names = {f.name: f.passed for f in result.findings}
    assert names == {"capacity": True, "enforcement-throttles": False}
    # Without --allow-throttling the same endpoint passes: enforcement is not checked.
    assert run_probe(emulator(qps=100_000)).passed


def in_process(em: Emulator, credentials: Credentials) -> Caller:
    """The probe's call signed with `credentials`, straight into `em`."""
    client = Client("http://127.0.0.1", credentials, transport=EmulatorTransport(em))
    return Caller(client, OP, concurrent=False)


def test_a_forbidden_key_stops_the_probe_after_one_call():
    manual = ManualClock()
    em = Emulator(clock=manual)
    target = Target(in_process(em, DENIED), SimulatedClock(manual), "denied", True)
    result = run_probe(target, ProbeSettings(mode=Mode.MEASURE), resources=Resources(DOMAIN))
    assert result.requests == 1
    assert result.stop is not None
    assert result.stop.kind == "fatal"
    assert result.stop.status == 403
    assert result.stop.code == "Forbidden.RAM"
    assert not result.passed


def test_a_signature_error_stops_the_probe_without_quoting_the_secret():
    manual = ManualClock()
    em = Emulator(clock=manual)
    wrong = Credentials(ROOT.access_key_id, "not-the-secret-at-all")
    target = Target(in_process(em, wrong), SimulatedClock(manual), "wrong", True)
    result = run_probe(target, resources=Resources(DOMAIN))
    assert result.requests == 1
    assert result.stop is not None
    assert result.stop.code == "SignatureDoesNotMatch"
    text = json.dumps(result_json(result))
    assert "not-the-secret-at-all" not in text
    assert "string to sign" not in text


def test_a_server_error_mid_run_stops_the_probe_at_once():
    target = emulator()
    target.emulator.add_fault({"kind": "error", "every_nth": 100})
    result = run_probe(target)
    assert result.stop is not None
    assert result.stop.status == 500
    assert result.requests == 100
    assert result.attempts[-1].outcome is Outcome.FATAL


def test_a_call_that_takes_effect_stops_the_probe():
    target = emulator()
    start = {"Command": "start", "DomainName": DOMAIN, "AppName": "live", "StreamName": "stream1"}
    assert target.emulator.handle(signed_request(start, ROOT)).status == 200
    result = run_probe(target, resources=Resources(DOMAIN, "live", "stream1"))
    assert result.requests == 1
    assert result.stop is not None
    assert result.stop.kind == "disturbing"
    assert "--stream" in result.stop.reason


def test_json_report_fields(tmp_path: Path):
    result = run_probe(emulator("fixed-window"), ProbeSettings(mode=Mode.MEASURE))
    path = tmp_path / "probe.json"
    write_json(result, path)
    data = json.loads(path.read_text())
    assert data["estimated_limit"] == LIMIT
    assert data["burst"] == LIMIT
    assert data["limiter_kind"] == "fixed-window"
    assert data["requests"] == result.requests == data["accepted"] + data["throttled"]
    assert data["duration_s"] == pytest.approx(result.duration_s, abs=1e-3)
    assert data["simulated_time"] is True
    assert data["call"]["Command"] == "stop"
    assert data["throttle_codes"] == sorted(THROTTLE_CODES)
    windows = data["windows"]
    assert sum(w["accepted"] + w["throttled"] for w in windows) == result.requests - 1
    assert max(w["accepted"] for w in windows) == LIMIT  # aligned windows: exactly the limit
    bins = data["bins_100ms"]
    assert sum(b["accepted"] for b in bins) == sum(w["accepted"] for w in windows)
    assert all(
        math.isclose(b2["start_s"] - b1["start_s"], 0.1) for b1, b2 in itertools.pairwise(bins)
    )
    assert data["estimate"]["sliding_max"] == 2 * LIMIT  # the burst plus the next window


def test_plot_is_a_png(tmp_path: Path):
    result = run_probe(emulator("token-bucket"), ProbeSettings(allow_throttling=True))
    path = tmp_path / "probe.png"
    write_plot(result, path)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 800
    assert height > 500


def test_check_against_the_real_http_server_in_real_time():
    em = Emulator()
    with serve_in_thread(em) as url:
        target = http_target(url, ROOT)
        assert target.loopback
        assert not target.simulated
        result = run_probe(
            target,
            ProbeSettings(allow_throttling=True, seconds=2),
            resources=Resources(DOMAIN),
        )
    assert result.passed, result.findings
    assert not result.simulated
    capacity = [a for a in result.attempts if a.phase == "capacity"]
    assert len(capacity) == round(0.8 * LIMIT * 2)
    span = capacity[-1].sent_at - capacity[0].sent_at
    assert 1.5 < span < 3.0  # paced, not sent at once
    assert result.throttled > 0


def test_a_loopback_target_is_called_directly_whatever_the_proxy_settings(monkeypatch):
    # `acscontract run` already ignored HTTP_PROXY for this machine's own ports; the probe sent
    # its signed calls to the proxy (here one that refuses connections) and stopped at once.
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:1")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    with serve_in_thread(Emulator()) as url:
        target = http_target(url, ROOT)
        result = run_probe(target, ProbeSettings(max_calls=5), resources=Resources(DOMAIN))
    assert result.stop is None, result.stop
    assert len(result.attempts) == 5
    assert result.passed, result.findings


def test_a_per_minute_limit_is_shown_as_a_share_of_its_window() -> None:
    # 133.3 calls per second against 10,000 per minute is 80% of the limit, not 1%.
    finding = capacity_finding([], 10_000 * 0.8 / 60, 10_000, 60.0)
    assert "80% of the limit 10000 per 60 s" in finding.detail
    assert "80% of the limit 50 per 1 s" in capacity_finding([], 40, 50).detail
