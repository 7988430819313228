"""The recording budget: how many billable recordings a run may start on a real account.

Manual recording is billed. A target without the emulator's admin API (a real account, or
anything that cannot be told apart from one) gets at most `--max-recordings` successful
recording-starting calls per run: the commands whose successful transitions lead into a
recording state (`start` and `restart` for RealTimeRecordCommand, read from the spec's
lifecycle). The budget lives in the pacing store, so every pytest-xdist worker of a run (and,
with Redis, every machine) draws from the same one.

A slot is taken before a recording-starting request is sent and given back if the request did
not succeed, so the number of successful starts can never pass the budget. A contract that needs
several reserves them all at once (`reserve`), so it is either run whole or skipped.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from acscontract.errors import AcsContractError

if TYPE_CHECKING:
    from acscontract.client import PacingStore
    from acscontract.spec import Operation

__all__ = [
    "DEFAULT_MAX_RECORDINGS",
    "RecordingBudget",
    "RecordingBudgetSpent",
    "recording_commands",
]

DEFAULT_MAX_RECORDINGS = 3
"""Successful recording-starting calls a run may make on a real account unless told otherwise."""


class RecordingBudgetSpent(AcsContractError):
    """The run's recording budget cannot cover a request; it was not sent."""


def recording_states(op: Operation) -> frozenset[str]:
    """The lifecycle states a command leads into from the initial state, when it succeeds."""
    lifecycle = op.lifecycle
    command = op.command_parameter
    if lifecycle is None or command is None or not command.enum:
        return frozenset()
    return frozenset(
        t.target
        for t in lifecycle.transitions
        if t.source == lifecycle.initial
        and t.trigger in command.enum
        and t.error is None
        and t.target is not None
        and t.target != lifecycle.initial
    )


def recording_commands(op: Operation) -> frozenset[str]:
    """The commands that can start a recording: any successful transition of theirs, documented
    or not, leads into a recording state."""
    lifecycle = op.lifecycle
    command = op.command_parameter
    states = recording_states(op)
    if lifecycle is None or command is None or not command.enum:
        return frozenset()
    return frozenset(
        t.trigger
        for t in lifecycle.transitions
        if t.trigger in command.enum and t.error is None and t.target in states
    )


@dataclass(frozen=True, slots=True)
class Ticket:
    """One slot taken for one request: from a contract's reservation, or on its own."""

    reserved: bool


class RecordingBudget:
    """At most `limit` successful recording-starting calls for the run `key`, in `store`."""

    def __init__(self, store: PacingStore, key: str, limit: int) -> None:
        if limit < 0:
            raise ValueError("the recording budget cannot be negative")
        self.store = store
        self.key = key
        self.limit = limit
        self._lock = threading.Lock()
        self._granted = 0
        self.started = 0
        """Successful recording-starting calls this process made."""

    def __repr__(self) -> str:
        return f"RecordingBudget(limit={self.limit}, started={self.started})"

    @property
    def used(self) -> int:
        """Slots taken by the whole run so far (successful starts and open reservations)."""
        return self.store.get(self.key)

    @contextmanager
    def reserve(self, count: int, what: str = "this contract") -> Iterator[None]:
        """Hold `count` slots for the calls made inside; the unused ones go back at the end.

        Raises RecordingBudgetSpent, sending nothing, when the run cannot spare them.
        """
        if count <= 0:
            yield
            return
        if not self.store.reserve(self.key, count, self.limit):
            raise RecordingBudgetSpent(
                f"{what} needs {count} recording(s) and the run's budget of {self.limit} "
                f"(--max-recordings) is spent; raise --max-recordings to run it on a real "
                "account (each recording is billed)"
            )
        with self._lock:
            self._granted += count
        try:
            yield
        finally:
            with self._lock:
                left, self._granted = self._granted, 0
            if left:
                self.store.release(self.key, left)

    def take(self) -> Ticket:
        """A slot for one recording-starting request: from the reservation, else on its own."""
        with self._lock:
            if self._granted > 0:
                self._granted -= 1
                return Ticket(reserved=True)
        if self.store.reserve(self.key, 1, self.limit):
            return Ticket(reserved=False)
        raise RecordingBudgetSpent(
            f"a recording-starting request would pass the run's budget of {self.limit} "
            "recording(s) (--max-recordings), so it was not sent"
        )

    def settle(self, ticket: Ticket, started: bool) -> None:
        """After the answer: keep the slot if a recording started, else give it back."""
        if started:
            with self._lock:
                self.started += 1
            return
        if ticket.reserved:
            with self._lock:
                self._granted += 1
        else:
            self.store.release(self.key, 1)
