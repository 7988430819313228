"""The recording lifecycle of one stream, driven entirely by the spec's `x-lifecycle` table.

A `RecordingTask` holds a stream's state, the start of the segment being recorded and the running
timer. `apply` looks up the spec's transition for (state, trigger) and executes it exactly as the
spec says, documented or not: an `error` leaves the task unchanged; otherwise the task moves to
`to`, a file is produced when `producesFile` is set (from the segment start to now), and
`startTimer` (re)starts a timer. A timer survives only a transition that stays in the same state
without starting a timer; any state change cancels it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from acscontract.emulator._types import Recording
from acscontract.spec import Lifecycle, Transition

__all__ = ["NoTransition", "Outcome", "RecordingTask", "StreamKey", "apply"]

StreamKey = tuple[str, str, str]
"""(domain, app, stream): the lifecycle key of the spec, in the spec's order."""


class NoTransition(LookupError):
    """The spec has no transition for a state and trigger."""


@dataclass(slots=True)
class RecordingTask:
    """The manual recording task of one stream."""

    domain: str
    app: str
    stream: str
    state: str
    account_id: str = ""
    segment_started_at: float | None = None
    timer: str | None = None
    timer_due: float | None = None

    @property
    def key(self) -> StreamKey:
        """(domain, app, stream)."""
        return (self.domain, self.app, self.stream)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict of the task."""
        return {
            "domain": self.domain,
            "app": self.app,
            "stream": self.stream,
            "state": self.state,
            "account_id": self.account_id,
            "segment_started_at": self.segment_started_at,
            "timer": self.timer,
            "timer_due": self.timer_due,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RecordingTask:
        """The task `to_json` wrote."""

        def number(name: str) -> float | None:
            value = data.get(name)
            return None if value is None else float(value)

        return cls(
            domain=str(data["domain"]),
            app=str(data["app"]),
            stream=str(data["stream"]),
            state=str(data["state"]),
            account_id=str(data.get("account_id", "")),
            segment_started_at=number("segment_started_at"),
            timer=None if data.get("timer") is None else str(data["timer"]),
            timer_due=number("timer_due"),
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a trigger did: the spec's transition, its error (if any) and the file it produced."""

    transition: Transition
    error: str | None
    recording: Recording | None = None


def apply(lifecycle: Lifecycle, task: RecordingTask, trigger: str, now: float) -> Outcome:
    """Execute the spec's transition for `trigger` on `task` at time `now` (mutates `task`).

    Raises NoTransition when the spec has no row for the task's state and the trigger.
    """
    transition = lifecycle.transition(task.state, trigger)
    if transition is None:
        raise NoTransition(
            f"The spec's lifecycle has no transition from {task.state!r} on {trigger!r}."
        )
    if transition.error is not None:
        return Outcome(transition, transition.error)
    recording = None
    if transition.produces_file:
        recording = Recording(
            domain=task.domain,
            app=task.app,
            stream=task.stream,
            started_at=now if task.segment_started_at is None else task.segment_started_at,
            ended_at=now,
            reason=trigger,
            account_id=task.account_id,
        )
    target = transition.next_state
    leaving_initial = task.state == lifecycle.initial and target != lifecycle.initial
    if target == lifecycle.initial:
        task.segment_started_at = None
    elif leaving_initial or transition.produces_file:
        task.segment_started_at = now
    if transition.start_timer is not None:
        task.timer = transition.start_timer
        task.timer_due = now + lifecycle.timers[transition.start_timer]
    elif target != task.state:
        task.timer = None
        task.timer_due = None
    task.state = target
    return Outcome(transition, None, recording)
