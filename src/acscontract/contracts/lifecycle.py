"""The recording lifecycle contract: the spec's state machine, driven against a target.

`LifecycleModel` tracks which lifecycle states a stream may be in, given what the target
answered so far. On a documented transition only the documented outcome is accepted; on an
undocumented one any outcome in the spec's `accepts`, and such an outcome is recorded in the
report. A target starts in a known state when its admin API says so, and in "any state" on a real
account, where the model narrows as answers come in.

`lifecycle_machine` builds a hypothesis `RuleBasedStateMachine` over a `StreamDriver`: commands
always, and stream interruption, resumption and timer expiry when the target's admin API allows
them.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from acscontract._signals import stop_signals_deferred
from acscontract.contracts.checks import ResponseLike, Violation, checks_for, outcome_of
from acscontract.contracts.strategies import OK
from acscontract.spec import Lifecycle, Operation, Transition

if TYPE_CHECKING:
    from acscontract.contracts.targets import ContractTarget

__all__ = [
    "Judgement",
    "LifecycleError",
    "LifecycleModel",
    "LifecycleReport",
    "StreamDriver",
    "TargetStream",
    "homing_sequence",
    "lifecycle_machine",
    "path_to",
    "stream_events",
]


class LifecycleError(AssertionError):
    """The target broke the spec's lifecycle; the message says where and how."""


@dataclass(frozen=True, slots=True)
class Judgement:
    """How one observed outcome compares with the spec from the states the stream may be in."""

    trigger: str
    states: frozenset[str]
    outcome: str
    acceptable: bool
    documented: bool
    expected: frozenset[str]
    """The outcomes the spec allows here (from any of `states`)."""
    offline: bool = False
    """Whether the stream was offline (interrupted by the contract) at the time."""

    def describe(self) -> str:
        """One line: from which states, the trigger, what came back and what the spec allows."""
        where = "/".join(sorted(self.states)) + (" (offline)" if self.offline else "")
        allowed = ", ".join(sorted(self.expected))
        kind = "documented" if self.documented else "undocumented"
        return f"{where} --{self.trigger}--> {self.outcome} ({kind}; spec allows {allowed})"


@dataclass(slots=True)
class LifecycleReport:
    """Outcomes seen on undocumented transitions, and how often; shared across examples."""

    seen: dict[tuple[str, str, str, bool], int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, judgement: Judgement) -> None:
        """Count a judgement made on an undocumented transition."""
        if judgement.documented:
            return
        key = (
            "/".join(sorted(judgement.states)) + (" (offline)" if judgement.offline else ""),
            judgement.trigger,
            judgement.outcome,
            judgement.acceptable,
        )
        with self._lock:
            self.seen[key] = self.seen.get(key, 0) + 1

    def lines(self) -> list[str]:
        """A readable line per distinct undocumented outcome."""
        return [
            f"{states} --{trigger}--> {outcome}: {count}x"
            + ("" if acceptable else " (NOT accepted)")
            for (states, trigger, outcome, acceptable), count in sorted(self.seen.items())
        ]


def _spec_outcome(transition: Transition) -> str:
    return OK if transition.error is None else transition.error


class LifecycleModel:
    """The set of lifecycle states a stream may be in, narrowed by every answer.

    `offline` tracks the stream's online flag when the contract itself interrupted it; every
    command on an offline stream must then get the spec's stream-online error (or, where the spec
    marks that check undocumented, any outcome the transition allows).
    """

    def __init__(self, op: Operation, state: str | None = None) -> None:
        if op.lifecycle is None:
            raise LookupError(f"The spec of {op.name} has no x-lifecycle, so there is no model.")
        self.op = op
        self.lifecycle: Lifecycle = op.lifecycle
        every = frozenset(self.lifecycle.states)
        self.possible: frozenset[str] = every if state is None else frozenset({state})
        self.offline = False
        check = next((c for c in op.checks if c.id == "streamOnline"), None)
        self._offline_code = check.code if check is not None else None
        self._offline_lenient = check is not None and check.undocumented is not None

    def _after_unexpected_ok(self, trigger: str) -> frozenset[str]:
        # An undocumented success: the stream is where that command leads when it succeeds.
        targets = {
            t.target
            for t in self.lifecycle.transitions
            if t.trigger == trigger and t.target is not None and t.error is None
        }
        return frozenset(targets) if targets else frozenset(self.lifecycle.states)

    def allowed(self, state: str, trigger: str) -> tuple[frozenset[str], bool]:
        """The outcomes the spec allows for `trigger` in `state`, and whether that is documented."""
        transition = self.lifecycle.transition(state, trigger)
        if self.offline and self._offline_code is not None:
            outcomes = {self._offline_code}
            if self._offline_lenient and transition is not None:
                outcomes |= {_spec_outcome(transition), *transition.accepts}
            return frozenset(outcomes), not self._offline_lenient
        if transition is None:
            # The spec has no row: any documented outcome that is not a server error.
            codes = {e.code for e in self.op.errors if e.http_status < 500}
            return frozenset({OK, *codes}), False
        outcomes = {_spec_outcome(transition)}
        if not transition.documented:
            outcomes |= set(transition.accepts)
        return frozenset(outcomes), transition.documented

    def observe(self, trigger: str, outcome: str) -> Judgement:
        """Judge `outcome` of command `trigger` and move the model on."""
        before = self.possible
        allowed: set[str] = set()
        documented = True
        after: set[str] = set()
        acceptable = False
        for state in sorted(before):
            outcomes, is_documented = self.allowed(state, trigger)
            allowed |= outcomes
            documented = documented and is_documented
            if outcome not in outcomes:
                continue
            acceptable = True
            transition = self.lifecycle.transition(state, trigger)
            if self.offline or transition is None:
                if outcome == OK:
                    after |= self._after_unexpected_ok(trigger)
                else:
                    after.add(state)
            elif outcome == _spec_outcome(transition):
                after.add(transition.next_state)
            elif outcome == OK:
                after |= self._after_unexpected_ok(trigger)
            else:
                after.add(state)
        self.possible = frozenset(after) if after else frozenset(self.lifecycle.states)
        return Judgement(
            trigger, before, outcome, acceptable, documented, frozenset(allowed), self.offline
        )

    def event(self, event: str) -> None:
        """Apply a lifecycle event (`interrupt`, `resume`, a timer's event) to the model."""
        after = set()
        for state in self.possible:
            transition = self.lifecycle.transition(state, event)
            after.add(state if transition is None else transition.next_state)
        self.possible = frozenset(after)

    def timer_events(self) -> tuple[str, ...]:
        """The events that fire when every running timer runs out."""
        return tuple(dict.fromkeys(self.lifecycle.timer_events))


class StreamDriver(Protocol):
    """What the lifecycle contract needs from a target, for one stream."""

    def command(self, trigger: str) -> ResponseLike:
        """Send the operation with its command parameter set to `trigger`."""
        ...

    @property
    def controls_stream(self) -> bool:
        """Whether the driver can take the stream offline and back (an admin API)."""
        ...

    @property
    def controls_clock(self) -> bool:
        """Whether the driver can move the target's clock (an admin API)."""
        ...

    def state(self) -> str | None:
        """The stream's lifecycle state, when the target can tell (an admin API)."""
        ...

    def set_online(self, online: bool) -> None:
        """Take the stream offline or bring it back."""
        ...

    def advance(self, seconds: float) -> None:
        """Move the target's clock forward."""
        ...

    def recordings(self) -> int | None:
        """How many recording files the stream has, when the target can tell."""
        ...

    def restore(self) -> None:
        """Leave the stream online and not recording (called after every example)."""
        ...


def lifecycle_machine(
    op: Operation,
    driver_factory: Callable[[], StreamDriver],
    report: LifecycleReport,
    *,
    on_exchange: Callable[[str, ResponseLike], None] | None = None,
) -> type[RuleBasedStateMachine]:
    """A state machine class that drives `op`'s lifecycle on streams from `driver_factory`.

    Every response is also run through the response checks. `on_exchange` sees each command and
    its response (the plugin keeps the last one for the failure report).
    """
    if op.lifecycle is None or op.command_parameter is None:
        raise LookupError(f"The spec of {op.name} has no lifecycle with a command parameter.")
    lifecycle = op.lifecycle
    commands = list(op.command_parameter.enum or ())
    interrupt, resume = stream_events(lifecycle)
    longest_timer = max(lifecycle.timers.values(), default=0.0)
    checks = checks_for(op)

    class RecordingLifecycle(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.driver = driver_factory()
            self.model = LifecycleModel(op, self.driver.state())
            self.files = self.driver.recordings()
            self.trace: list[str] = []

        def _fail(self, message: str) -> None:
            trace = "\n  ".join(self.trace[-12:])
            raise LifecycleError(f"{message}\nSteps so far (latest last):\n  {trace}")

        @rule(trigger=st.sampled_from(commands))
        def command(self, trigger: str) -> None:
            response = self.driver.command(trigger)
            if on_exchange is not None:
                on_exchange(trigger, response)
            outcome = outcome_of(response)
            before = self.model.possible
            produces = {
                state
                for state in before
                if (t := lifecycle.transition(state, trigger)) is not None
                and t.produces_file
                and _spec_outcome(t) == outcome
            }
            judgement = self.model.observe(trigger, outcome)
            report.record(judgement)
            self.trace.append(judgement.describe())
            violations: list[Violation] = checks.check(response)
            if violations:
                self._fail(
                    f"{trigger}: the response breaks the spec: "
                    + "; ".join(str(v) for v in violations)
                )
            if not judgement.acceptable:
                self._fail(f"Lifecycle broken: {judgement.describe()}.")
            # One new file when every possible state produces one, none when none does.
            expected = 1 if produces == before else 0 if not produces else None
            self._check_files(expected, trigger)

        def _check_files(self, expected: int | None, trigger: str) -> None:
            files, before = self.driver.recordings(), self.files
            self.files = files
            if files is None or before is None or expected is None:
                return
            if files - before != expected:
                self._fail(
                    f"{trigger}: the spec says this produces {expected} recording file(s); the "
                    f"target has {files - before} new."
                )

        @precondition(lambda self: self.driver.controls_stream and not self.model.offline)
        @rule()
        def interrupt_stream(self) -> None:
            self.driver.set_online(False)
            self.model.offline = True
            self.model.event(interrupt)
            self.trace.append(f"event {interrupt} -> {'/'.join(sorted(self.model.possible))}")

        @precondition(lambda self: self.driver.controls_stream and self.model.offline)
        @rule()
        def resume_stream(self) -> None:
            self.driver.set_online(True)
            self.model.offline = False
            self.model.event(resume)
            self.trace.append(f"event {resume} -> {'/'.join(sorted(self.model.possible))}")

        @precondition(lambda self: self.driver.controls_clock)
        @rule()
        def timers_run_out(self) -> None:
            before = self.model.possible
            self.driver.advance(longest_timer + 1)
            events = self.model.timer_events()
            produced = any(
                (t := lifecycle.transition(state, event)) is not None and t.produces_file
                for state in before
                for event in events
            )
            for event in events:
                self.model.event(event)
            self.trace.append(f"timers run out -> {'/'.join(sorted(self.model.possible))}")
            self._check_files(int(produced) if len(before) == 1 else None, "timers run out")

        @invariant()
        def target_agrees(self) -> None:
            state = self.driver.state()
            if state is not None and state not in self.model.possible:
                self._fail(
                    f"The target says the stream is {state!r}; by the spec it must be "
                    f"{' or '.join(sorted(self.model.possible))}."
                )

        def teardown(self) -> None:
            self.driver.restore()

    RecordingLifecycle.__name__ = f"{op.name}Lifecycle"
    RecordingLifecycle.__qualname__ = RecordingLifecycle.__name__
    return RecordingLifecycle


def stream_events(lifecycle: Lifecycle) -> tuple[str, str]:
    """The events that take a stream offline and back: the non-timer events, in spec order."""
    plain = [e for e in lifecycle.events if e not in lifecycle.timer_events]
    if len(plain) < 2:
        raise LookupError(
            "The spec's lifecycle needs two stream events (interruption and resumption) for the "
            f"lifecycle contract; it has {', '.join(plain) or 'none'}."
        )
    return plain[0], plain[1]


def homing_sequence(
    lifecycle: Lifecycle, commands: Sequence[str], possible: frozenset[str], goal: str
) -> tuple[str, ...] | None:
    """The shortest list of commands that brings a stream from any of `possible` to `goal`,
    by the spec's transitions (an error leaves the state as it was); None when there is none."""
    start = frozenset(possible)
    seen = {start}
    queue: deque[tuple[frozenset[str], tuple[str, ...]]] = deque([(start, ())])
    while queue:
        states, path = queue.popleft()
        if states == {goal}:
            return path
        if len(path) >= len(lifecycle.states) * 2:
            continue
        for command in commands:
            after = set()
            for state in states:
                transition = lifecycle.transition(state, command)
                after.add(state if transition is None else transition.next_state)
            frozen = frozenset(after)
            if frozen not in seen:
                seen.add(frozen)
                queue.append((frozen, (*path, command)))
    return None


def path_to(
    lifecycle: Lifecycle, source: str, goal: str, triggers: Sequence[str]
) -> tuple[str, ...] | None:
    """The shortest list of `triggers` whose documented successful transitions lead from `source`
    to `goal`; None when the documented transitions do not connect them."""
    queue: deque[tuple[str, tuple[str, ...]]] = deque([(source, ())])
    seen = {source}
    while queue:
        state, path = queue.popleft()
        if state == goal:
            return path
        for transition in lifecycle.transitions:
            if (
                transition.source == state
                and transition.documented
                and transition.error is None
                and transition.trigger in triggers
                and transition.next_state not in seen
            ):
                seen.add(transition.next_state)
                queue.append((transition.next_state, (*path, transition.trigger)))
    return None


class TargetStream:
    """A `StreamDriver` over one stream of a contract target.

    Commands go through `target.call`; events and the clock through the target's admin API when
    it has one. `restore` brings the stream back online and, by the spec's transitions, to the
    lifecycle's initial state, so no recording is left running on a real account.
    """

    def __init__(
        self, target: ContractTarget, stream: str | None = None, *, op: Operation | None = None
    ) -> None:
        if target.resources is None:
            raise LookupError("The target has no resources to drive a stream on.")
        self.target = target
        self.op = op or target.op
        """The lifecycle operation whose commands drive the stream."""
        self.stream = stream or target.resources.stream
        self.domain = target.resources.domain
        self.app = target.resources.app
        self.offline = False
        self.last: ResponseLike | None = None
        lifecycle = self.op.lifecycle
        command = self.op.command_parameter
        if lifecycle is None or command is None:
            raise LookupError(f"The spec of {self.op.name} has no lifecycle commands.")
        self.lifecycle = lifecycle
        self.commands = tuple(command.enum or ())

    def command(self, trigger: str) -> ResponseLike:
        params = self.target.params(trigger, self.stream, op=self.op)
        response = self.target.call(params, operation=self.op)
        self.last = response
        return response

    @property
    def controls_stream(self) -> bool:
        return self.target.admin is not None

    @property
    def controls_clock(self) -> bool:
        return self.target.admin is not None and self.target.admin.can_advance_clock

    def state(self) -> str | None:
        admin = self.target.admin
        return None if admin is None else admin.task_state(self.domain, self.app, self.stream)

    def set_online(self, online: bool) -> None:
        if self.target.admin is None:
            raise LookupError("The target has no admin API to interrupt a stream with.")
        self.target.admin.set_stream_online(self.domain, self.app, self.stream, online)
        self.offline = not online

    def advance(self, seconds: float) -> None:
        if self.target.admin is None:
            raise LookupError("The target has no admin API to move its clock with.")
        self.target.admin.advance_clock(seconds)

    def recordings(self) -> int | None:
        admin = self.target.admin
        return None if admin is None else admin.recordings(self.domain, self.app, self.stream)

    def restore(self) -> None:
        # On a real account a recording left running is billed until someone stops it, so a
        # first Ctrl+C (or the SIGINT or SIGTERM a CI system sends when a job is cancelled) waits
        # for the stream to be brought back; a second Ctrl+C stops at once.
        with contextlib.nullcontext() if self.target.is_emulator else stop_signals_deferred():
            if self.offline:
                self.set_online(True)
            known = self.state()
            possible = frozenset(self.lifecycle.states) if known is None else frozenset({known})
            sequence = homing_sequence(
                self.lifecycle, self.commands, possible, self.lifecycle.initial
            )
            for trigger in sequence or ():
                self.command(trigger)
