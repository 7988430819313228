"""The probe's clocks: real time paced on the monotonic clock, or simulated time.

A probe schedules calls at absolute deadlines and records when each left. `RealClock` reads Unix
time through the monotonic clock (so a wall-clock step cannot bend the pacing) and sleeps until a
deadline. `SimulatedClock` drives an injectable clock (the emulator's `ManualClock`) forward
instead of sleeping, so a probe of the in-process emulator runs as fast as the emulator answers
and sees exactly the times it scheduled.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

__all__ = ["ProbeClock", "RealClock", "SettableClock", "SimulatedClock"]


@runtime_checkable
class ProbeClock(Protocol):
    """Where a probe reads the time (Unix seconds) and waits for its deadlines."""

    @property
    def simulated(self) -> bool:
        """Whether waiting costs no real time (calls must then be sent one at a time)."""
        ...

    def now(self) -> float:
        """The current time in Unix seconds."""
        ...

    def sleep_until(self, deadline: float) -> None:
        """Return at `deadline` (or at once if it has passed)."""
        ...


class RealClock:
    """Unix time read through `time.monotonic`, with sleeps to absolute deadlines.

    The offset between the two clocks is fixed when the clock is made, so aligned windows line up
    with the wall clock that a server's window limiter uses, while intervals stay monotonic.
    """

    __slots__ = ("_offset",)

    #: Sleep in slices no longer than this, so a long wait still ends on time.
    _SLICE = 0.05

    def __init__(self) -> None:
        self._offset = time.time() - time.monotonic()

    @property
    def simulated(self) -> bool:
        return False

    def now(self) -> float:
        return time.monotonic() + self._offset

    def sleep_until(self, deadline: float) -> None:
        while True:
            remaining = deadline - self.now()
            if remaining <= 0:
                return
            time.sleep(min(remaining, self._SLICE))

    def __repr__(self) -> str:
        return "RealClock()"


class SettableClock(Protocol):
    """A clock a test can move: the emulator's `ManualClock` is one."""

    def now(self) -> float:
        """The clock's current time (Unix seconds)."""
        ...

    def set(self, when: float) -> None:
        """Put the clock at `when`, which is not before its current time."""
        ...


class SimulatedClock:
    """Simulated time over a settable clock shared with the emulator: waiting moves the clock."""

    __slots__ = ("_clock",)

    def __init__(self, clock: SettableClock) -> None:
        self._clock = clock

    @property
    def simulated(self) -> bool:
        return True

    def now(self) -> float:
        return self._clock.now()

    def sleep_until(self, deadline: float) -> None:
        if deadline > self._clock.now():
            self._clock.set(deadline)

    def __repr__(self) -> str:
        return f"SimulatedClock({self._clock!r})"
