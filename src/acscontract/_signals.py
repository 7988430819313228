"""Work that must not be cut in half by a stop signal: a few hundred files written as a set, a
billed recording stopped on a real account."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

__all__ = ["stop_signals_deferred"]


@contextlib.contextmanager
def stop_signals_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM inside the block wait until it is over, then act as they would have.
    A second SIGINT (Ctrl+C pressed again) raises KeyboardInterrupt at once. Outside the main
    thread signals cannot be handled: nothing changes there."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []

    def hold(number: int, _frame: FrameType | None) -> None:
        if number == signal.SIGINT and signal.SIGINT in held:
            raise KeyboardInterrupt
        held.append(number)

    stops = (signal.SIGINT, signal.SIGTERM)
    previous = {number: signal.signal(number, hold) for number in stops}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    for caught in dict.fromkeys(held):
        signal.raise_signal(caught)
