"""Pacing: traffic to a real endpoint stays under a share of the spec's flow-control limit.

The budget is one schedule per target, kept in a small file under the temp directory and updated
under an exclusive file lock, so every process that paces the same target (pytest-xdist workers,
two `acscontract run` at once) draws from the same budget. Each request takes the next free slot
`interval` seconds after the previous one, which bounds every window of the limit's length, not
just an average.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from acscontract.spec import FlowControl

__all__ = [
    "PACING_DIR_ENV",
    "PACING_SHARE",
    "NoPacing",
    "Pacer",
    "SharedPacer",
    "pacer_for",
]

PACING_SHARE = 0.8
"""The share of the spec's limit a paced target gets: comfortably under it, never at it."""

PACING_DIR_ENV = "ACSCONTRACT_PACING_DIR"
"""Where the schedules live; the system temp directory when unset."""


class Pacer(Protocol):
    """Decides when the next request may go; `wait` blocks until then."""

    def wait(self) -> float:
        """Block until this caller's slot; return the seconds waited."""
        ...


@dataclass(frozen=True, slots=True)
class NoPacing:
    """For loopback targets and for contracts that exceed the limit on purpose."""

    def wait(self) -> float:
        return 0.0


@contextmanager
def _locked(path: Path) -> Iterator[IO[bytes]]:
    """`path` opened for update under an exclusive lock that other processes respect."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as handle:
        if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
            import msvcrt

            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
            try:
                yield handle
            finally:
                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield handle
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@dataclass(frozen=True, slots=True)
class SharedPacer:
    """Spaces requests `interval` seconds apart across every process that shares `path`.

    The file holds the wall-clock time of the next free slot. Taking a slot moves it on by
    `interval`; a caller then sleeps until its slot outside the lock, so waiting callers do not
    block the schedule.
    """

    path: Path
    interval: float
    clock: Callable[[], float] = field(default=time.time, compare=False)
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def reserve(self) -> float:
        """Take the next slot and return its time (wall clock), without sleeping."""
        with _locked(self.path) as handle:
            handle.seek(0)
            raw = handle.read().decode("ascii", "replace").strip()
            try:
                next_free = float(raw) if raw else 0.0
            except ValueError:
                next_free = 0.0
            now = self.clock()
            slot = max(now, next_free)
            handle.seek(0)
            handle.truncate()
            handle.write(repr(slot + self.interval).encode("ascii"))
            handle.flush()
        return slot

    def wait(self) -> float:
        slot = self.reserve()
        delay = slot - self.clock()
        if delay > 0:
            self.sleep(delay)
            return delay
        return 0.0


def pacing_dir() -> Path:
    """The folder that holds the schedules."""
    configured = os.environ.get(PACING_DIR_ENV)
    return Path(configured) if configured else Path(tempfile.gettempdir()) / "acscontract-pacing"


def pacer_for(target_key: str, flow: FlowControl, share: float = PACING_SHARE) -> SharedPacer:
    """The shared pacer of one target (its URL): `share` of the spec's limit.

    The limit is per account and every key of an account shares it, so the schedule is keyed by
    the target alone, whatever credentials a contract uses.
    """
    if flow.limit is None:
        raise LookupError(
            "The spec gives this operation no flow-control limit, so acscontract cannot pace it; "
            "add x-flowControl.limit to the spec."
        )
    digest = hashlib.sha256(target_key.encode("utf-8")).hexdigest()[:16]
    interval = flow.per_seconds / (flow.limit * share)
    return SharedPacer(pacing_dir() / f"{digest}.next", interval)
