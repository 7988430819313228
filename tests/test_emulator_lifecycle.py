"""The recording lifecycle: every transition of the spec's table, the checks, timers and files."""

from __future__ import annotations

import json
from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acscontract.emulator import Emulator, ManualClock, signed_request
from acscontract.emulator._lifecycle import DUE, STATE, TIMER, Machine, NoTransition
from acscontract.emulator._world import ExistsPlan, World, resolve_match
from acscontract.signing import Credentials
from acscontract.spec import Transition, operation

OP = operation()
LIFECYCLE = OP.lifecycle
assert LIFECYCLE is not None
COMMANDS = tuple(OP.command_parameter.enum or ())  # type: ignore[union-attr]
DELAY = LIFECYCLE.timers["interruptionDelay"]
DOMAIN, APP, STREAM = "push.example.com", "live", "stream1"
ROOT = Credentials("LTAIemulatorRootKey0001", "emulator-root-secret-not-real-0001")
OTHER_ROOT = Credentials("LTAIemulatorOtherRoot01", "emulator-other-root-secret-not-real-1")


def params(command: str, stream: str = STREAM, domain: str = DOMAIN, app: str = APP) -> dict:
    return {"Command": command, "DomainName": domain, "AppName": app, "StreamName": stream}


class Driver:
    def __init__(self) -> None:
        self.clock = ManualClock()
        self.em = Emulator(clock=self.clock)

    def send(self, command: str, stream: str = STREAM, creds: Credentials = ROOT, **kw):
        return self.em.handle(signed_request(params(command, stream, **kw), creds))

    def code(self, command: str, stream: str = STREAM, **kw) -> str | None:
        response = self.send(command, stream, **kw)
        return None if response.status == 200 else json.loads(response.body)["Code"]

    def state(self, stream: str = STREAM) -> str:
        return self.em.state.task_state(DOMAIN, APP, stream)


def path_to(state: str) -> list[str]:
    """The shortest list of commands that leads from the initial state to `state`."""
    queue: deque[tuple[str, list[str]]] = deque([(LIFECYCLE.initial, [])])
    seen = {LIFECYCLE.initial}
    while queue:
        current, steps = queue.popleft()
        if current == state:
            return steps
        for command in COMMANDS:
            transition = LIFECYCLE.transition(current, command)
            if transition is None or transition.error is not None:
                continue
            if transition.next_state not in seen:
                seen.add(transition.next_state)
                queue.append((transition.next_state, [*steps, command]))
    raise AssertionError(f"the spec gives no way to reach {state}")


def reach(driver: Driver, state: str) -> None:
    for command in path_to(state):
        assert driver.code(command) is None
    assert driver.state() == state


def _id(transition: Transition) -> str:
    kind = "doc" if transition.documented else "undoc"
    return f"{transition.source}-{transition.trigger}-{kind}"


@pytest.mark.parametrize("transition", LIFECYCLE.transitions, ids=_id)
def test_every_transition_of_the_spec_is_executed_as_the_spec_says(transition: Transition):
    driver = Driver()
    reach(driver, transition.source)
    before_files = len(driver.em.recordings())
    before_task = driver.em.state.tasks.get((DOMAIN, APP, STREAM))

    if transition.trigger in COMMANDS:
        response = driver.send(transition.trigger)
        if transition.error is not None:
            assert response.status == OP.status_of(transition.error)
            assert json.loads(response.body)["Code"] == transition.error
        else:
            assert response.status == 200
    elif transition.trigger == "interrupt":
        driver.em.set_stream_online(DOMAIN, APP, STREAM, False)
    elif transition.trigger == "resume":
        driver.em.set_stream_online(DOMAIN, APP, STREAM, False)
        assert driver.state() == transition.source  # the spec keeps idle/stopped on interrupt
        before_files = len(driver.em.recordings())
        driver.em.set_stream_online(DOMAIN, APP, STREAM, True)
    else:
        timer = LIFECYCLE.timer_events[transition.trigger]
        driver.em.advance_clock(LIFECYCLE.timers[timer])

    after_task = driver.em.state.tasks.get((DOMAIN, APP, STREAM))
    assert driver.state() == transition.next_state
    files = driver.em.recordings()[before_files:]
    if transition.produces_file:
        assert [f.reason for f in files] == [transition.trigger]
    else:
        assert files == ()
    if transition.error is not None:
        assert after_task == before_task
    if transition.start_timer is not None:
        assert after_task is not None
        assert after_task[TIMER] == transition.start_timer
        assert after_task[DUE] == pytest.approx(
            driver.clock.now() + LIFECYCLE.timers[transition.start_timer]
        )


def test_the_spec_covers_every_command_in_every_state():
    for state in LIFECYCLE.states:
        for command in COMMANDS:
            assert LIFECYCLE.transition(state, command) is not None


def test_stop_produces_the_file_only_when_the_180_s_delay_runs_out():
    driver = Driver()
    started = driver.clock.now()
    assert driver.code("start") is None
    driver.clock.advance(30)
    assert driver.code("stop") is None
    stopped_at = driver.clock.now()
    driver.em.advance_clock(DELAY - 1)
    assert driver.em.recordings() == ()
    assert driver.state() == "stopped"
    driver.em.advance_clock(1)
    (recording,) = driver.em.recordings()
    assert recording.reason == LIFECYCLE.event_for_timer("interruptionDelay")
    assert recording.started_at == started
    assert recording.ended_at == stopped_at + DELAY
    assert driver.state() == LIFECYCLE.initial
    assert driver.em.state.tasks == {}


def test_due_timers_fire_on_any_access_after_the_clock_moved():
    driver = Driver()
    driver.code("start")
    driver.code("stop")
    driver.clock.advance(DELAY + 5)  # the clock moves without telling the emulator
    assert driver.code("start", "stream2") is None  # any call fires due timers first
    assert [r.reason for r in driver.em.recordings()] == ["delayElapsed"]
    assert driver.em.recordings()[0].ended_at == pytest.approx(driver.clock.now() - 5)


def test_cancel_delay_produces_the_file_at_once():
    driver = Driver()
    driver.code("start")
    driver.clock.advance(12)
    driver.code("stop")
    assert driver.code("cancel_delay") is None
    (recording,) = driver.em.recordings()
    assert recording.reason == "cancel_delay"
    assert recording.ended_at == driver.clock.now()
    assert recording.ended_at - recording.started_at == 12
    assert recording.key == (DOMAIN, APP, STREAM)
    driver.em.advance_clock(DELAY * 2)
    assert len(driver.em.recordings()) == 1  # the cancelled delay produces nothing more


def test_restart_cuts_a_file_and_keeps_recording():
    driver = Driver()
    driver.code("start")
    driver.clock.advance(5)
    assert driver.code("restart") is None
    driver.clock.advance(7)
    assert driver.code("restart") is None
    first, second = driver.em.recordings()
    assert second.started_at == first.ended_at
    assert second.ended_at - second.started_at == 7
    assert driver.state() == "recording"


def test_an_interruption_stops_recording_and_the_stream_coming_back_does_not_restart_it():
    driver = Driver()
    driver.code("start")
    driver.em.set_stream_online(DOMAIN, APP, STREAM, False)
    assert driver.state() == "stopped"
    driver.em.set_stream_online(DOMAIN, APP, STREAM, True)
    assert driver.state() == "stopped"
    driver.em.advance_clock(DELAY)
    assert driver.state() == LIFECYCLE.initial
    assert [r.reason for r in driver.em.recordings()] == ["delayElapsed"]


def test_an_interruption_during_the_delay_keeps_the_running_delay():
    driver = Driver()
    driver.code("start")
    driver.code("stop")
    due = driver.em.state.tasks[(DOMAIN, APP, STREAM)][DUE]
    driver.clock.advance(60)
    driver.em.set_stream_online(DOMAIN, APP, STREAM, False)
    assert driver.em.state.tasks[(DOMAIN, APP, STREAM)][DUE] == due


def test_every_command_on_an_offline_stream_is_stream_not_found():
    driver = Driver()
    driver.code("start")
    driver.code("stop")
    driver.em.set_stream_online(DOMAIN, APP, STREAM, False)
    for command in COMMANDS:
        assert driver.code(command) == OP.check_code("streamOnline")
    assert driver.code("start", "offline1") == OP.check_code("streamOnline")
    assert driver.code("start", "no-such-stream") == OP.check_code("streamOnline")


def test_checks_run_in_the_spec_order():
    driver = Driver()
    # missing beats malformed beats record config beats stream online
    missing = {"Command": "bogus", "DomainName": "", "AppName": "nope", "StreamName": "offline1"}
    response = driver.em.handle(signed_request(missing, ROOT))
    assert json.loads(response.body)["Code"] == OP.check_code("missingParameter")
    malformed = {**missing, "DomainName": "unknown.example.com"}
    response = driver.em.handle(signed_request(malformed, ROOT))
    assert json.loads(response.body)["Code"] == OP.check_code("malformedParameter")
    assert driver.code("start", "offline1", app="nope") == OP.check_code("recordConfig")
    assert driver.code("start", "offline1") == OP.check_code("streamOnline")
    assert [c.id for c in OP.checks] == [
        "missingParameter",
        "malformedParameter",
        "recordConfig",
        "streamOnline",
    ]


def test_record_config_is_needed_on_the_callers_own_domain_and_app():
    driver = Driver()
    assert driver.code("start", app="norecord") == OP.check_code("recordConfig")
    assert driver.code("start", domain="unknown.example.com") == OP.check_code("recordConfig")
    # another account's domain is not this account's: no config found
    response = driver.em.handle(signed_request(params("start", domain="other.example.com"), ROOT))
    assert json.loads(response.body)["Code"] == OP.check_code("recordConfig")
    response = driver.em.handle(
        signed_request(params("start", domain="other.example.com"), OTHER_ROOT)
    )
    assert response.status == 200


def test_owner_id_is_checked_for_type_only():
    driver = Driver()
    assert driver.code("start") is None
    extra = {**params("restart"), "OwnerId": "12ab"}
    response = driver.em.handle(signed_request(extra, ROOT))
    assert json.loads(response.body)["Code"] == OP.check_code("malformedParameter")
    extra["OwnerId"] = "9999999999999999"
    assert driver.em.handle(signed_request(extra, ROOT)).status == 200


def test_the_machine_refuses_a_trigger_the_spec_does_not_know():
    machine = Machine(OP)
    world = World(OP.product)
    key = (DOMAIN, APP, STREAM)
    with pytest.raises(NoTransition, match="no transition"):
        machine.fire(world, "1234567890123456", key, "explode", 0.0)
    assert machine.state_of(world, "1234567890123456", key) == LIFECYCLE.initial
    assert world.get(LIFECYCLE.resource, "1234567890123456", key) is None


def test_a_record_configurations_delay_time_replaces_the_default_delay():
    seed = Emulator().seed.to_json()
    seed["accounts"][0]["domains"][0]["apps"][0]["record_config"] = {"DelayTime": 30}
    clock = ManualClock()
    em = Emulator(seed, clock=clock)
    assert em.handle(signed_request(params("start"), ROOT)).status == 200
    assert em.handle(signed_request(params("stop"), ROOT)).status == 200
    task = em.state.tasks[(DOMAIN, APP, STREAM)]
    assert task[STATE] == "stopped"
    assert task[DUE] == pytest.approx(clock.now() + 30)
    em.advance_clock(30)
    assert [r.reason for r in em.recordings()] == [LIFECYCLE.event_for_timer("interruptionDelay")]


def test_a_replaced_deadline_never_fires_and_many_cycles_keep_every_timer():
    driver = Driver()
    driver.code("start")
    driver.code("stop")  # a delay runs out at t0 + DELAY
    driver.clock.advance(DELAY / 2)
    assert driver.code("restart") is None  # recording again: that delay is cancelled
    driver.clock.advance(1)
    driver.code("stop")  # a new delay, DELAY / 2 + 1 later than the first one
    second_due = driver.clock.now() + DELAY
    driver.em.advance_clock(DELAY / 2)  # past the first deadline only
    assert [r.reason for r in driver.em.recordings()] == ["restart"]
    assert driver.state() == "stopped"
    driver.em.advance_clock(second_due - driver.clock.now())
    last = driver.em.recordings()[-1]
    assert last.reason == "delayElapsed"
    assert last.ended_at == second_due
    # Thousands of stop/start cycles leave thousands of replaced deadlines behind (more than the
    # emulator keeps before it rebuilds its timers); the one delay still running fires once.
    driver.code("start", "stream2")
    for _ in range(1500):
        driver.clock.advance(0.05)  # 40 calls per second: under the flow-control limit
        assert driver.code("stop", "stream2") is None
        assert driver.code("restart", "stream2") is None
    driver.code("stop", "stream2")
    driver.code("start", "stream3")
    driver.code("stop", "stream3")
    driver.em.advance_clock(DELAY)
    reasons = [(r.key[2], r.reason) for r in driver.em.recordings()]
    assert reasons.count(("stream3", "delayElapsed")) == 1
    assert reasons.count(("stream2", "delayElapsed")) == 1
    assert driver.state("stream2") == driver.state("stream3") == LIFECYCLE.initial


_NAMES = st.sampled_from(["DomainName", "AppName", "StreamName", "Online", "Other"])
_OPTION = st.one_of(
    st.sampled_from(["$DomainName", "$AppName", "$StreamName", "$Missing", "", "x", "$"]),
    st.booleans(),
    st.integers(-2, 2),
)


@settings(max_examples=300, deadline=None)
@given(
    resource=st.sampled_from(["recordConfig", "stream", "recordingTask"]),
    match=st.dictionaries(_NAMES, st.lists(_OPTION, max_size=3).map(tuple), max_size=5),
    values=st.dictionaries(
        st.sampled_from(["DomainName", "AppName", "StreamName"]), st.text(max_size=3), max_size=3
    ),
    defaults=st.dictionaries(st.sampled_from(["AppName", "Missing"]), st.text(max_size=2)),
)
def test_an_exists_plan_resolves_and_keys_as_the_generic_match_does(
    resource: str,
    match: dict[str, tuple[object, ...]],
    values: dict[str, str],
    defaults: dict[str, str],
) -> None:
    """The precondition check's plan, worked out once per check, gives the same resolved match
    and the same keys to look up as resolving the match and asking the collection each call."""
    world = World(OP.product)
    plan = ExistsPlan(world.resource(resource), match)
    resolved = plan.resolve(values, defaults)
    assert resolved == resolve_match(match, values, defaults)
    assert plan.keys(resolved) == world._collection(resource).keys_for(resolved)
