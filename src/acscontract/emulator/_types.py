"""The emulator's transport-neutral values and its clock.

Every front door (`mock_live`, the ASGI app under uvicorn, the in-process `EmulatorTransport`)
turns what it received into an `EmulatorRequest`, hands it to `Emulator.handle`, and turns the
`EmulatorResponse` back into its own kind of response. A wire request (`WireRequest`, what a
client signs and sends) becomes one through `EmulatorRequest.from_wire` only; the ASGI app reads
its scope directly. A front door applies `delay_s` (by
sleeping) and `drop_connection` (by closing the socket, or raising its connection error) itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from acscontract.signing import WireRequest

__all__ = [
    "LATEST_TIME",
    "LATEST_TIME_TEXT",
    "Clock",
    "EmulatorRequest",
    "EmulatorResponse",
    "ManualClock",
    "OffsetClock",
    "Recording",
    "SystemClock",
]

#: The latest time the protocol's timestamps (four-digit years) can write (Unix seconds):
#: clocks, clock positions and expiry times the emulator accepts stay within it.
_LATEST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
LATEST_TIME = _LATEST.timestamp()
#: LATEST_TIME as the emulator's messages write it.
LATEST_TIME_TEXT = _LATEST.strftime("%Y-%m-%dT%H:%M:%SZ")

_SECRET_HEADERS = frozenset({"authorization", "x-acs-security-token"})


@dataclass(frozen=True, slots=True, repr=False)
class EmulatorRequest:
    """One HTTP request as the emulator sees it, whatever transport carried it.

    `host` is the Host header exactly as received (V3 signs it verbatim), `query` the raw,
    undecoded query string without `?`, and `headers` are keyed by lower-cased name. `client_ip`
    feeds `acs:SourceIp` and `secure` (an https request) feeds `acs:SecureTransport`.
    """

    method: str
    host: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes
    client_ip: str = "127.0.0.1"
    secure: bool = False

    def __post_init__(self) -> None:
        # A read-only view whose names are all lower-case is kept (`str.islower` is a C-speed
        # test; a name it cannot vouch for, such as one without letters, is lowered again).
        if self.headers.__class__ is not MappingProxyType or not all(
            map(str.islower, self.headers)
        ):
            lowered = {str(k).lower(): str(v) for k, v in self.headers.items()}
            object.__setattr__(self, "headers", MappingProxyType(lowered))

    @classmethod
    def from_wire(
        cls, request: WireRequest, *, client_ip: str = "127.0.0.1", secure: bool = False
    ) -> EmulatorRequest:
        """The request a server receives when `request` travels to it: the one adapter from a
        wire request (what a client signs and sends) to the emulator's. `host` is the request's
        `host` header, as V3 signs it."""
        return cls(
            method=request.method,
            host=request.host,
            path=request.path,
            query=request.query,
            headers=request.headers,
            body=request.body,
            client_ip=client_ip,
            secure=secure,
        )

    def __repr__(self) -> str:
        headers = {k: ("***" if k in _SECRET_HEADERS else v) for k, v in self.headers.items()}
        return (
            f"EmulatorRequest(method={self.method!r}, host={self.host!r}, path={self.path!r}, "
            f"query=<{len(self.query)} chars>, headers={headers!r}, body=<{len(self.body)} bytes>, "
            f"client_ip={self.client_ip!r}, secure={self.secure!r})"
        )


@dataclass(frozen=True, slots=True)
class EmulatorResponse:
    """The emulator's answer: status, headers and body, plus the faults a front door applies."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    delay_s: float = 0.0
    drop_connection: bool = False

    def header(self, name: str) -> str | None:
        """The first header called `name` (case-insensitively), or None."""
        lower = name.lower()
        for key, value in self.headers:
            if key.lower() == lower:
                return value
        return None


@dataclass(frozen=True, slots=True)
class Recording:
    """A record a lifecycle produced (for Live, a record index file), as the world holds it.

    `fields` are the produced resource's fields (times in seconds on the emulator's virtual
    clock); `key` is the lifecycle's key (for Live: domain, app and stream names); `reason` the
    trigger that produced it (`cancel_delay`, `restart`, `delayElapsed`, ...).
    """

    account_id: str
    fields: Mapping[str, object]
    reason: str
    started_at: float
    ended_at: float
    key: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        """A JSON-able dict of this recording."""
        return {
            "account_id": self.account_id,
            "key": list(self.key),
            "reason": self.reason,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "fields": dict(self.fields),
        }


@runtime_checkable
class Clock(Protocol):
    """Where the emulator reads the time: seconds since the Unix epoch, as a float."""

    def now(self) -> float:
        """The current time in seconds since the epoch."""
        ...


class SystemClock:
    """The real wall clock (`time.time()`), the default."""

    __slots__ = ()

    def now(self) -> float:
        """The current Unix time."""
        return time.time()

    def __repr__(self) -> str:
        return "SystemClock()"


class OffsetClock:
    """The system clock plus an offset that `advance()` grows: real time that tests can skip.

    It is the emulator's default virtual clock (in `mock_live`, the served emulator and a bare
    `Emulator()`): time flows as it does on the wall, and `advance()` fast-forwards timers and
    throttle windows. The gateway checks request timestamps against the wall clock instead, so
    advancing never makes a fresh request stale. `reset()` drops the offset.
    """

    __slots__ = ("_lock", "_offset")

    def __init__(self, offset: float = 0.0) -> None:
        self._offset = float(offset)
        self._lock = threading.Lock()

    @property
    def offset(self) -> float:
        """How far ahead of the system clock this clock is, in seconds."""
        return self._offset

    def now(self) -> float:
        """The system time plus the offset."""
        return time.time() + self._offset

    def advance(self, seconds: float) -> float:
        """Skip `seconds` ahead (never back) and return the new time."""
        if seconds < 0:
            raise ValueError(
                f"An OffsetClock only moves forward; advance() was given {seconds} seconds."
            )
        with self._lock:
            self._offset += seconds
        return self.now()

    def reset(self) -> None:
        """Back to the system time (offset 0)."""
        with self._lock:
            self._offset = 0.0

    def set_offset(self, offset: float) -> None:
        """Put the clock `offset` seconds ahead of the system clock (restoring a saved state)."""
        with self._lock:
            self._offset = float(offset)

    def __repr__(self) -> str:
        return f"OffsetClock(offset={self._offset})"


@dataclass(slots=True)
class ManualClock:
    """A clock that only moves when told to: tests drive timers with it instead of sleeping.

    It starts at `start` (the current Unix time when not given, so signed requests made with real
    timestamps stay fresh).
    """

    start: float | None = None
    _now: float = field(init=False, default=0.0)
    _origin: float = field(init=False, default=0.0, repr=False)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._now = self._origin = time.time() if self.start is None else float(self.start)

    def now(self) -> float:
        """The clock's current time."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by `seconds` (never backwards) and return the new time."""
        if seconds < 0:
            raise ValueError(
                f"A ManualClock only moves forward; advance() was given {seconds} seconds. "
                "Pass a number of seconds that is zero or more."
            )
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, when: float) -> None:
        """Put the clock at `when` (Unix seconds); it may not go backwards."""
        with self._lock:
            if when < self._now:
                raise ValueError(
                    f"A ManualClock only moves forward; set({when}) is before its current time "
                    f"{self._now}."
                )
            self._now = float(when)

    def reset(self) -> None:
        """Back to the time the clock started at."""
        with self._lock:
            self._now = self._origin
