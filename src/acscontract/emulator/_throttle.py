"""Per-account flow control: three interchangeable bucket algorithms behind one Protocol.

Each operation whose spec documents a limit has its own `AccountThrottle`; the limit and window
come from that operation's `x-flowControl` (for RealTimeRecordCommand, 50 calls per second per
account); a seed (`qps`) or the admin API overrides an account's limit for every operation. The
real limiter's algorithm is not published, so the emulator offers three and defaults to the one
the spec names (`x-flowControl.algorithm.emulatorDefault`). Only accepted calls count against
the limit.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping
from typing import Protocol, runtime_checkable

from acscontract.errors import UsageError

__all__ = [
    "THROTTLE_ALGORITHMS",
    "AccountThrottle",
    "BucketFactory",
    "FixedWindowBucket",
    "SlidingLogBucket",
    "ThrottleBucket",
    "TokenBucket",
    "bucket_factory",
]


@runtime_checkable
class ThrottleBucket(Protocol):
    """One account's flow-control state. `try_acquire` admits a call at time `now`, or not."""

    def try_acquire(self, now: float) -> bool:
        """Whether a call at `now` (seconds) is within the limit; an admitted call is counted."""
        ...


class FixedWindowBucket:
    """At most `limit` calls in each window aligned to multiples of `window` seconds.

    Cheap and predictable, but allows up to twice the limit across a window boundary.
    """

    __slots__ = ("_count", "_start", "limit", "window")

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._start = -math.inf
        self._count = 0

    def try_acquire(self, now: float) -> bool:
        start = math.floor(now / self.window) * self.window
        if start != self._start:
            self._start = start
            self._count = 0
        if self._count >= self.limit:
            return False
        self._count += 1
        return True

    def __repr__(self) -> str:
        return f"FixedWindowBucket(limit={self.limit}, window={self.window})"


class SlidingLogBucket:
    """At most `limit` calls in any `window`-second interval: the exact rule, memory O(limit)."""

    __slots__ = ("_log", "limit", "window")

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._log: deque[float] = deque()

    def try_acquire(self, now: float) -> bool:
        log = self._log
        horizon = now - self.window
        while log and log[0] <= horizon:
            log.popleft()
        if len(log) >= self.limit:
            return False
        log.append(now)
        return True

    def __repr__(self) -> str:
        return f"SlidingLogBucket(limit={self.limit}, window={self.window})"


class TokenBucket:
    """Tokens refill at `limit / window` per second up to `burst` (the limit unless given).

    A full bucket admits a burst of `burst` calls at once, then the steady rate.
    """

    __slots__ = ("_last", "_tokens", "burst", "limit", "rate", "window")

    def __init__(self, limit: int, window: float, burst: int | None = None) -> None:
        self.limit = limit
        self.window = window
        self.burst = limit if burst is None else burst
        self.rate = limit / window
        self._tokens = float(self.burst)
        self._last: float | None = None

    def try_acquire(self, now: float) -> bool:
        if self._last is not None and now > self._last:
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.rate)
        if self._last is None or now > self._last:
            self._last = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True

    def __repr__(self) -> str:
        return f"TokenBucket(limit={self.limit}, window={self.window}, burst={self.burst})"


#: The selectable algorithms, by the name `Emulator(throttle=...)` and `--throttle` take.
THROTTLE_ALGORITHMS: Mapping[str, Callable[[int, float], ThrottleBucket]] = {
    "fixed-window": FixedWindowBucket,
    "sliding-log": SlidingLogBucket,
    "token-bucket": TokenBucket,
}


BucketFactory = Callable[[int, float], ThrottleBucket]
"""Makes a bucket for a limit and a window in seconds (an algorithm of THROTTLE_ALGORITHMS)."""


def bucket_factory(algorithm: str | BucketFactory) -> BucketFactory:
    """The factory for an algorithm name, or `algorithm` itself when it is already a factory."""
    if not isinstance(algorithm, str):
        return algorithm
    factory = THROTTLE_ALGORITHMS.get(algorithm)
    if factory is None:
        names = ", ".join(THROTTLE_ALGORITHMS)
        raise UsageError(
            f"{algorithm!r} is not a throttle algorithm the emulator knows; use one of {names}."
        )
    return factory


class AccountThrottle:
    """One bucket per account, created on first use with the account's limit.

    Not thread-safe on its own: the emulator calls it under its state lock.
    """

    __slots__ = ("_buckets", "_limits", "default_limit", "factory", "window")

    def __init__(self, factory: BucketFactory, default_limit: int | None, window: float) -> None:
        self.factory = factory
        self.default_limit = default_limit
        self.window = window
        self._limits: dict[str, int | None] = {}
        self._buckets: dict[str, ThrottleBucket | None] = {}

    def set_limit(self, account: str, limit: int | None) -> None:
        """Override one account's limit (None: the default) and forget its bucket."""
        self._limits[account] = limit
        self._buckets.pop(account, None)

    def limit_of(self, account: str) -> int | None:
        """The limit that applies to `account` (None: unlimited)."""
        limit = self._limits.get(account)
        return self.default_limit if limit is None else limit

    def try_acquire(self, account: str, now: float) -> bool:
        """Whether `account` may make a call at `now`."""
        try:
            bucket = self._buckets[account]
        except KeyError:
            limit = self.limit_of(account)
            bucket = None if limit is None else self.factory(limit, self.window)
            self._buckets[account] = bucket
        return True if bucket is None else bucket.try_acquire(now)

    def reset(self) -> None:
        """Forget every bucket (limits stay)."""
        self._buckets.clear()
