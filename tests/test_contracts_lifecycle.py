"""The lifecycle model judges outcomes as the spec says, and its walks reach where they aim."""

from __future__ import annotations

import pytest

from acscontract.contracts.lifecycle import (
    LifecycleModel,
    LifecycleReport,
    homing_sequence,
    lifecycle_machine,
    path_to,
)
from acscontract.contracts.strategies import OK
from acscontract.spec import operation

OP = operation()
LC = OP.lifecycle
COMMANDS = tuple(OP.command_parameter.enum)
DOCUMENTED = [t for t in LC.transitions if t.documented and t.trigger in COMMANDS]
UNDOCUMENTED = [t for t in LC.transitions if not t.documented and t.trigger in COMMANDS]


def spec_outcome(t):
    return OK if t.error is None else t.error


@pytest.mark.parametrize("t", DOCUMENTED, ids=lambda t: f"{t.source}-{t.trigger}")
def test_documented_transitions_accept_only_the_documented_outcome(t):
    model = LifecycleModel(OP, t.source)
    judgement = model.observe(t.trigger, spec_outcome(t))
    assert judgement.acceptable
    assert judgement.documented
    assert model.possible == {t.next_state}
    for other in {OK, *(e.code for e in OP.errors)} - {spec_outcome(t)}:
        assert not LifecycleModel(OP, t.source).observe(t.trigger, other).acceptable


@pytest.mark.parametrize("t", UNDOCUMENTED, ids=lambda t: f"{t.source}-{t.trigger}")
def test_undocumented_transitions_accept_what_the_spec_accepts(t):
    for outcome in {spec_outcome(t), *t.accepts}:
        judgement = LifecycleModel(OP, t.source).observe(t.trigger, outcome)
        assert judgement.acceptable
        assert not judgement.documented
    server = OP.protocol.gateway_errors_in("server")[0].code
    assert not LifecycleModel(OP, t.source).observe(t.trigger, server).acceptable


def test_an_unknown_state_narrows_with_answers():
    model = LifecycleModel(OP)
    assert model.possible == set(LC.states)
    opening = next(t for t in DOCUMENTED if t.source == LC.initial and t.error is None)
    refused = next(t for t in DOCUMENTED if t.trigger == opening.trigger and t.error)
    judgement = model.observe(opening.trigger, refused.error)
    assert judgement.acceptable
    assert refused.source in model.possible
    assert LC.initial not in model.possible  # the initial state would have said ok


def test_offline_stream_expects_the_stream_online_error():
    model = LifecycleModel(OP, LC.initial)
    model.offline = True
    code = OP.check_code("streamOnline")
    for command in COMMANDS:
        assert model.observe(command, code).acceptable
    assert model.possible == {LC.initial}


@pytest.mark.parametrize("states", [frozenset({s}) for s in LC.states] + [frozenset(LC.states)])
def test_homing_reaches_the_initial_state_from_anywhere(states):
    sequence = homing_sequence(LC, COMMANDS, states, LC.initial)
    assert sequence is not None
    current = set(states)
    for command in sequence:
        current = {s if (t := LC.transition(s, command)) is None else t.next_state for s in current}
    assert current == {LC.initial}


def test_path_to_uses_documented_successful_steps():
    for state in LC.states:
        path = path_to(LC, LC.initial, state, COMMANDS)
        assert path is not None
        current = LC.initial
        for trigger in path:
            t = LC.transition(current, trigger)
            assert t.documented
            assert t.error is None
            current = t.next_state
        assert current == state


def test_report_counts_only_undocumented_outcomes():
    report = LifecycleReport()
    t = UNDOCUMENTED[0]
    report.record(LifecycleModel(OP, t.source).observe(t.trigger, spec_outcome(t)))
    report.record(LifecycleModel(OP, t.source).observe(t.trigger, spec_outcome(t)))
    d = DOCUMENTED[0]
    report.record(LifecycleModel(OP, d.source).observe(d.trigger, spec_outcome(d)))
    assert report.lines() == [f"{t.source} --{t.trigger}--> {spec_outcome(t)}: 2x"]


class FakeStream:
    """A driver over the spec itself: a faithful target, optionally with one broken row."""

    def __init__(self, broken=None):
        self.state_ = LC.initial
        self.broken = broken
        self.restored = 0

    def command(self, trigger):
        from acscontract.contracts.checks import Observed

        t = LC.transition(self.state_, trigger)
        outcome = spec_outcome(t)
        if self.broken == (self.state_, trigger):
            outcome = OK
        if outcome == OK:
            self.state_ = t.next_state
            return Observed(200, {"content-type": "application/json"}, '{"RequestId": "1"}')
        body = (
            '{"RequestId": "16A96B9A-F203-4EC5-8E43-CB92E68F4CD8", "HostId": "h", '
            f'"Code": "{outcome}", "Message": "m"}}'
        )
        content_type = OP.protocol.error_content_type
        return Observed(OP.status_of(outcome), {"content-type": content_type}, body)

    controls_stream = False
    controls_clock = False

    def state(self):
        return self.state_

    def recordings(self):
        return None

    def restore(self):
        self.restored += 1
        self.state_ = LC.initial


def _run(driver):
    from hypothesis import HealthCheck, settings
    from hypothesis.stateful import run_state_machine_as_test

    machine = lifecycle_machine(OP, lambda: driver, LifecycleReport())
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=40,
            stateful_step_count=12,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )


def test_state_machine_passes_a_faithful_target():
    driver = FakeStream()
    _run(driver)
    assert driver.restored > 0


def test_state_machine_catches_a_double_start():
    broken = next(t for t in DOCUMENTED if t.error is not None)
    with pytest.raises(AssertionError, match="Lifecycle broken"):
        _run(FakeStream(broken=(broken.source, broken.trigger)))
