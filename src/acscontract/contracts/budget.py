"""The budgets of a run on a real account: billable recordings, and writes.

Manual recording is billed. A target without the emulator's admin API (a real account, or
anything that cannot be told apart from one) gets at most `--max-recordings` successful
recording-starting calls per run: the commands whose successful transitions lead into a
recording state (`start` and `restart` for RealTimeRecordCommand, read from the spec's
lifecycle). The budget lives in the pacing store, so every pytest-xdist worker of a run (and,
with Redis, every machine) draws from the same one.

A slot is taken before a recording-starting request is sent and given back if the request did
not succeed, so the number of successful starts can never pass the budget. A contract that needs
several reserves them all at once (`reserve`), so it is either run whole or skipped.

The write budget works the same way for every other operation the spec says writes or bills
(`Operation.writes`): a request of such an operation that the spec's own rules accept (so it
could take effect) needs a slot of `--max-writes`, 0 unless the user opts in. Requests the spec
refuses before they can change anything (a missing or malformed parameter) need none.
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
    "DEFAULT_MAX_WRITES",
    "BudgetSpent",
    "CallBudget",
    "RecordingBudget",
    "RecordingBudgetSpent",
    "WriteBudget",
    "WriteBudgetSpent",
    "recording_commands",
]

DEFAULT_MAX_RECORDINGS = 3
"""Successful recording-starting calls a run may make on a real account unless told otherwise."""


DEFAULT_MAX_WRITES = 0
"""Requests that could change state (of operations the spec says write) a run may send to a real
account unless told otherwise: none."""


class BudgetSpent(AcsContractError):
    """A budget of the run cannot cover a request; it was not sent."""


class RecordingBudgetSpent(BudgetSpent):
    """The run's recording budget cannot cover a request; it was not sent."""


class WriteBudgetSpent(BudgetSpent):
    """The run's write budget cannot cover a request; it was not sent."""


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


class CallBudget:
    """At most `limit` successful calls of one kind for the run `key`, in `store`."""

    noun = "call"
    option = ""
    spent: type[BudgetSpent] = BudgetSpent
    why = ""

    def __init__(self, store: PacingStore, key: str, limit: int) -> None:
        if limit < 0:
            raise ValueError(f"the {self.noun} budget cannot be negative")
        self.store = store
        self.key = key
        self.limit = limit
        self._lock = threading.Lock()
        self._granted = 0
        self.started = 0
        """Successful calls of the budget's kind this process made."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(limit={self.limit}, started={self.started})"

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
            raise self.spent(
                f"{what} needs {count} {self.noun}(s) and the run's budget of {self.limit} "
                f"({self.option}) is spent; raise {self.option} to run it on a real "
                f"account ({self.why})"
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
        """A slot for one request that may succeed: from the reservation, else on its own."""
        with self._lock:
            if self._granted > 0:
                self._granted -= 1
                return Ticket(reserved=True)
        if self.store.reserve(self.key, 1, self.limit):
            return Ticket(reserved=False)
        raise self.spent(
            f"a request that may make a {self.noun} would pass the run's budget of "
            f"{self.limit} {self.noun}(s) ({self.option}), so it was not sent; raise "
            f"{self.option} to send it to a real account ({self.why})"
        )

    def settle(self, ticket: Ticket, started: bool) -> None:
        """After the answer: keep the slot if the call succeeded, else give it back."""
        if started:
            with self._lock:
                self.started += 1
            return
        if ticket.reserved:
            with self._lock:
                self._granted += 1
        else:
            self.store.release(self.key, 1)


class RecordingBudget(CallBudget):
    """At most `limit` successful recording-starting calls for the run `key`, in `store`."""

    noun = "recording"
    option = "--max-recordings"
    spent = RecordingBudgetSpent
    why = "each recording is billed"


class WriteBudget(CallBudget):
    """At most `limit` requests that could change state, of operations the spec says write,
    for the run `key`, in `store`."""

    noun = "write"
    option = "--max-writes"
    spent = WriteBudgetSpent
    why = "each could change the account's configuration or bill"
