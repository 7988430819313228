"""The scheduler: sends calls at absolute deadlines and records how each was answered.

Deadlines are absolute (`start + i / rate` on the probe clock, see `deadlines`), so sleep
overshoot never accumulates. Over a network the calls go through a small thread pool sized from
the preflight call's round trip, so latency does not cap the rate; a call is never dispatched
less than 90% of the interval after the previous one (half of it on a dithered schedule), so a
stall is caught up gently instead of in a burst. On a simulated clock calls go one at a time and
each is sent exactly at its deadline.
"""

from __future__ import annotations

import math
import random
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Protocol

from acscontract.probe._model import Attempt, Outcome, Phase, Stop

if TYPE_CHECKING:
    from acscontract.client import Pacer
    from acscontract.probe._caller import Caller, Params
    from acscontract.probe._classify import ResponseClassifier
    from acscontract.probe._clock import ProbeClock
    from acscontract.probe._plan import PhasePlan

__all__ = ["ProbeObserver", "Runner", "deadlines"]

#: A dispatch may follow the previous one after this share of the interval at the earliest.
_MIN_SPACING = 0.9
#: The thread pool never grows beyond this many calls in flight.
_MAX_WORKERS = 64
#: Dithered schedules move each call by up to this share of the interval.
_DITHER = 0.5
#: The dither is pseudo-random but fixed, so a simulated run is reproducible. (A low-discrepancy
#: sequence would not do: its differences at a fixed lag are nearly constant, and a limiter
#: accepting every g-th call would see the same gap every time.)
_DITHER_SEED = 20161101


def deadlines(plan: PhasePlan, start: float) -> list[float]:
    """When each call of a phase is due: `start + (i + offset_i) / rate`, where the offset is 0,
    or a fixed pseudo-random fraction of the interval (under one half) when the phase is
    dithered."""
    interval = 1.0 / plan.rate
    if not plan.dither:
        return [start + i * interval for i in range(plan.calls)]
    rng = random.Random(_DITHER_SEED)  # noqa: S311 - pacing jitter, not security
    return [start + (i + rng.random() * _DITHER) * interval for i in range(plan.calls)]


class ProbeObserver(Protocol):
    """Hears about a run as it happens (the command line draws its progress display from it).
    Called from worker threads; implementations must be thread-safe."""

    def phase_started(self, plan: PhasePlan) -> None:
        """A phase is about to send its first call."""
        ...

    def call_done(self, attempt: Attempt) -> None:
        """One call was answered."""
        ...

    def phase_finished(self, phase: Phase) -> None:
        """A phase sent its last call and every answer is in."""
        ...


class Runner:
    """Sends one run's calls and keeps its timeline. Stops at the first fatal answer, and, when
    `success_stops` says why a success would be harmful, at the first success."""

    def __init__(
        self,
        caller: Caller,
        clock: ProbeClock,
        classifier: ResponseClassifier,
        params: Params,
        *,
        max_calls: int,
        observer: ProbeObserver | None = None,
        call_label: str = "the probe's call",
        pacer: Pacer | None = None,
        paced_phases: frozenset[str] = frozenset(),
        success_stops: str | None = None,
    ) -> None:
        self._caller = caller
        self._clock = clock
        self._classifier = classifier
        self._params = params
        self._max_calls = max_calls
        self._observer = observer
        self._call_label = call_label
        self._lock = threading.Lock()
        self._attempts: list[Attempt] = []
        self._next_index = 0
        self._stop: Stop | None = None
        self._latency = 0.05
        self._pacer = pacer
        self._paced_phases = paced_phases
        self._success_stops = success_stops

    @property
    def attempts(self) -> tuple[Attempt, ...]:
        """Every answered call so far, in schedule order."""
        with self._lock:
            return tuple(sorted(self._attempts, key=lambda a: a.index))

    @property
    def stop(self) -> Stop | None:
        """Why the run stopped early, if it did."""
        return self._stop

    @property
    def clock(self) -> ProbeClock:
        """The run's clock."""
        return self._clock

    def _record(self, index: int, phase: str, scheduled: float) -> Attempt:
        if self._pacer is not None and phase in self._paced_phases:
            # The polite calls share the pacing budget with every process naming the same store.
            self._pacer.wait()
        sent = self._clock.now()
        reply = self._caller.send(self._params)
        received = self._clock.now()
        outcome = self._classifier.classify(reply)
        attempt = Attempt(
            index, phase, scheduled, sent, received, outcome, reply.status, reply.code
        )
        stop = None
        if outcome is Outcome.FATAL:
            stop = self._classifier.fatal_reason(reply)
        elif (
            self._success_stops is not None
            and reply.status is not None
            and 200 <= reply.status < 300
        ):
            stop = Stop(
                "disturbing",
                f"{self._call_label} succeeded (HTTP {reply.status}), so {self._success_stops}",
                reply.status,
                reply.code,
            )
        with self._lock:
            self._attempts.append(attempt)
            if stop is not None and self._stop is None:
                self._stop = stop
        if self._observer is not None:
            self._observer.call_done(attempt)
        return attempt

    def _take_index(self) -> int | None:
        with self._lock:
            if self._stop is not None or self._next_index >= self._max_calls:
                return None
            index = self._next_index
            self._next_index += 1
            return index

    def preflight(self) -> Attempt | None:
        """One call alone, before any pacing: a wrong key or a forbidden domain stops the run
        after one call instead of a burst of them. Its round trip sizes the thread pool."""
        index = self._take_index()
        if index is None:
            return None
        attempt = self._record(index, "preflight", self._clock.now())
        self._latency = max(attempt.received_at - attempt.sent_at, 0.001)
        return attempt

    def idle(self, seconds: float) -> None:
        """Send nothing for `seconds`."""
        if seconds > 0 and self._stop is None:
            self._clock.sleep_until(self._clock.now() + seconds)

    def align(self, window: float, fraction: float) -> None:
        """Wait for the next moment that is `fraction` of the way into an aligned window."""
        now = self._clock.now()
        target = (math.floor(now / window) + fraction) * window
        if target <= now:
            target += window
        self._clock.sleep_until(target)

    def run(self, plan: PhasePlan) -> Phase:
        """Send one phase's calls at its rate; return the phase as it happened."""
        if self._observer is not None:
            self._observer.phase_started(plan)
        start = self._clock.now()
        interval = 1.0 / plan.rate
        sent = 0
        due = deadlines(plan, start)
        if self._caller.concurrent and not self._clock.simulated:
            sent = self._run_pooled(plan, due, interval)
        else:
            for i in range(plan.calls):
                index = self._take_index()
                if index is None:
                    break
                deadline = due[i]
                self._clock.sleep_until(deadline)
                self._record(index, plan.name, deadline)
                sent += 1
        end = self._clock.now()
        phase = Phase(plan.name, plan.rate, plan.calls, start, end, sent)
        if self._observer is not None:
            self._observer.phase_finished(phase)
        return phase

    def _run_pooled(self, plan: PhasePlan, due: list[float], interval: float) -> int:
        workers = min(_MAX_WORKERS, max(4, math.ceil(plan.rate * self._latency * 3) + 2))
        slots = threading.Semaphore(workers)
        futures: list[Future[Attempt]] = []

        def work(index: int, scheduled: float) -> Attempt:
            try:
                return self._record(index, plan.name, scheduled)
            finally:
                slots.release()

        sent = 0
        previous = -math.inf
        spacing = (1.0 - _DITHER if plan.dither else _MIN_SPACING) * interval
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="probe") as pool:
            for i in range(plan.calls):
                deadline = max(due[i], previous + spacing)
                self._clock.sleep_until(deadline)
                slots.acquire()
                index = self._take_index()
                if index is None:
                    slots.release()
                    break
                previous = self._clock.now()
                futures.append(pool.submit(work, index, deadline))
                sent += 1
            for future in futures:
                future.result()
        return sent
