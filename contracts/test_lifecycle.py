"""The recording lifecycle follows the spec's state machine.

A hypothesis state machine drives commands, stream interruption and resumption, and the clock
(when the target's admin API allows those), strictly on documented transitions and with the
spec's `accepts` on undocumented ones; what a target answers there is listed in the summary.
Every documented transition is also checked on its own, reached by documented steps. The state
machine runs against emulators only (on a real account every start it fires would be billed); the
documented transitions run everywhere, within the run's recording budget.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from acscontract.contracts.budget import recording_commands
from acscontract.contracts.lifecycle import (
    LifecycleReport,
    TargetStream,
    lifecycle_machine,
    path_to,
    stream_events,
)
from acscontract.contracts.plugin import selection
from acscontract.contracts.strategies import OK
from acscontract.contracts.suite import commands, verify

# The operations with a lifecycle among the run's (the reference operation by default).
OPERATIONS = selection().lifecycle

pytestmark = [pytest.mark.acscontract_area("lifecycle"), pytest.mark.mutates_state]


@pytest.mark.emulator_traffic
@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)
def test_lifecycle_state_machine(target, contract_settings, exchanges, record_property, op):
    """Random walks over the lifecycle agree with the spec at every step."""
    report = LifecycleReport()
    streams = itertools.cycle(target.resources.streams)

    def driver():
        stream = TargetStream(target, next(streams), op=op)
        stream.restore()
        return stream

    machine = lifecycle_machine(
        op, driver, report, on_exchange=lambda _trigger, response: exchanges.record(response)
    )
    try:
        run_state_machine_as_test(machine, settings=settings(contract_settings))
    finally:
        # An acscontract emulator answers undocumented points as its spec says; only another
        # target's answers there tell something new.
        if not target.is_emulator:
            for line in report.lines():
                record_property("acscontract_note", f"undocumented transition seen: {line}")


def _available(driver):
    lifecycle = driver.lifecycle
    triggers = list(commands(driver.op))
    if driver.controls_stream:
        triggers += list(stream_events(lifecycle))
    if driver.controls_clock:
        triggers += list(lifecycle.timer_events)
    return triggers


def _apply(driver, trigger, exchanges):
    """Fire `trigger`; the outcome for a command, `None` for an event."""
    lifecycle = driver.lifecycle
    interrupt, resume = stream_events(lifecycle)
    if trigger in commands(driver.op):
        response = driver.command(trigger)
        exchanges.record(response)
        return verify(driver.target, response, op=driver.op, valid_request=True, what=trigger)
    if trigger == interrupt:
        driver.set_online(False)
    elif trigger == resume:
        driver.set_online(True)
    else:
        timer = lifecycle.timer_events[trigger]
        driver.advance(lifecycle.timers[timer] + 1)
    return None


@pytest.mark.starts_recordings
@pytest.mark.parametrize(
    ("op", "transition"),
    [(op, t) for op in OPERATIONS for t in op.lifecycle.transitions if t.documented],
    ids=lambda value: value.name if hasattr(value, "name") else f"{value.source}-{value.trigger}",
)
def test_documented_transition(target, exchanges, op, transition):
    """Reach the transition's state by documented steps, fire it, and compare with the spec.

    On a real account the steps that may start a recording are reserved from the run's budget
    first: the contract runs whole, or is skipped saying how many recordings it needs.
    """
    lifecycle = op.lifecycle
    driver = TargetStream(target, op=op)
    triggers = _available(driver)
    if transition.trigger not in triggers:
        pytest.skip(
            f"{transition.trigger!r} is an event: it needs the emulator's admin API to "
            "interrupt a stream or move the clock"
        )
    path = path_to(lifecycle, lifecycle.initial, transition.source, triggers)
    assert path is not None, f"the spec gives no documented way to {transition.source!r}"
    starting = recording_commands(op)
    needed = sum(1 for step in (*path, transition.trigger) if step in starting)
    with target.recordings_for(needed, f"{transition.source} --{transition.trigger}-->"):
        _fire(driver, path, transition, exchanges)


def _fire(driver, path, transition, exchanges):
    lifecycle = driver.lifecycle
    interrupt, resume = stream_events(lifecycle)
    driver.restore()
    try:
        for step in path:
            outcome = _apply(driver, step, exchanges)
            assert outcome in (None, OK), (
                f"on the way to {transition.source!r}, {step} got {outcome}; the spec documents "
                "success"
            )
        if transition.trigger == resume and not driver.offline:
            interrupted = lifecycle.transition(transition.source, interrupt)
            if interrupted is None or interrupted.next_state != transition.source:
                pytest.skip(f"the spec has no way to interrupt {transition.source!r} in place")
            _apply(driver, interrupt, exchanges)
        files = driver.recordings()
        outcome = _apply(driver, transition.trigger, exchanges)
        expected = OK if transition.error is None else transition.error
        if outcome is not None:
            assert outcome == expected, (
                f"{transition.source} --{transition.trigger}--> {outcome}; the spec documents "
                f"{expected}"
            )
        state = driver.state()
        if state is not None:
            assert state == transition.next_state, (
                f"{transition.source} --{transition.trigger}--> the target says {state!r}; the "
                f"spec documents {transition.next_state!r}"
            )
        after = driver.recordings()
        if files is not None and after is not None:
            produced = after - files
            assert produced == (1 if transition.produces_file else 0), (
                f"{transition.source} --{transition.trigger}--> produced {produced} file(s); the "
                f"spec says {'one' if transition.produces_file else 'none'}"
            )
    finally:
        driver.restore()
