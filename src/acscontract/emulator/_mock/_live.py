"""`mock_live` and `LiveMock`: the moto-style front door of the emulator."""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable, Coroutine, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar, cast, overload

from acscontract.emulator._core import UNMODELLED_MODES, Emulator, SeedLike
from acscontract.emulator._mock._core import INTERCEPTOR, Activation, LiveCall
from acscontract.emulator._mock._routing import Passthrough, Routing, live_endpoints
from acscontract.emulator._types import Clock
from acscontract.spec import Operation

__all__ = ["LiveMock", "LiveMockError", "mock_live"]

_F = TypeVar("_F", bound=Callable[..., Any])


class LiveMockError(RuntimeError):
    """mock_live was used in a way it cannot honour (stopped without being started, ...)."""


class LiveMock:
    """An in-process Live endpoint: a context manager, a decorator, and moto-style start/stop.

    Each activation starts from a fresh `Emulator(seed)`, unless `state` is given: then every
    activation uses (and changes) that emulator. See `mock_live` for the parameters.
    """

    def __init__(
        self,
        seed: SeedLike = None,
        *,
        state: Emulator | None = None,
        endpoints: Iterable[str] = (),
        passthrough: Passthrough = True,
        alibaba_passthrough: Iterable[str] = (),
        assert_all_requests_are_fired: bool = False,
        operation: Operation | None = None,
        clock: Clock | None = None,
        wall_clock: Clock | None = None,
        unmodelled: str = "answer",
    ) -> None:
        if state is not None and seed is not None:
            raise ValueError(
                "mock_live was given both a seed and a state. The state emulator already holds "
                "its data: pass one or the other (load a seed into it with state.load_seed)."
            )
        if state is not None and (clock is not None or wall_clock is not None):
            raise ValueError(
                "mock_live was given both a state and a clock. The state emulator already has its "
                "clocks: create it with Emulator(clock=..., wall_clock=...) instead."
            )
        if unmodelled not in UNMODELLED_MODES:
            raise ValueError(
                f"mock_live was given unmodelled={unmodelled!r}; it is one of "
                f"{', '.join(UNMODELLED_MODES)}."
            )
        if state is not None and unmodelled != UNMODELLED_MODES[0]:
            raise ValueError(
                "mock_live was given both a state and unmodelled. The state emulator already "
                "decides: create it with Emulator(unmodelled=...) instead."
            )
        endpoints = (endpoints,) if isinstance(endpoints, str) else tuple(endpoints)
        self._seed = seed
        self._state = state
        self._operation = operation
        self._clock = clock
        self._wall_clock = wall_clock
        self._unmodelled = unmodelled
        self.endpoints = tuple(dict.fromkeys((*live_endpoints(operation), *endpoints)))
        self._routing = Routing.build(operation, endpoints, passthrough, alibaba_passthrough)
        self.assert_all_requests_are_fired = assert_all_requests_are_fired
        self._active: list[Activation] = []
        self._last: Activation | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"LiveMock(endpoints={list(self.endpoints)!r}, "
            f"passthrough={self._routing.describe_passthrough()!r}, "
            f"alibaba_passthrough={sorted(self._routing.provider_passthrough)!r}, "
            f"active={bool(self._active)})"
        )

    # moto-style start/stop, and the context manager over them.

    def start(self) -> Emulator:
        """Start answering the calling thread's (or task's) Live calls; pair it with `stop()`.

        Returns the emulator that answers.
        """
        emulator = self._state or Emulator(
            self._seed,
            operation=self._operation,
            clock=self._clock,
            wall_clock=self._wall_clock,
            unmodelled=self._unmodelled,
        )
        activation = Activation(self, emulator, self._routing)
        INTERCEPTOR.activate(activation)
        with self._lock:
            self._active.append(activation)
            self._last = activation
        return emulator

    def stop(self, *, check: bool = True) -> None:
        """Stop this mock's innermost activation in the calling thread or task (else its most
        recent one); check `assert_all_requests_are_fired` if `check`."""
        here = [a for a in INTERCEPTOR.in_context() if a.owner is self]
        with self._lock:
            candidates = [a for a in here if a in self._active] or self._active
            if not candidates:
                raise LiveMockError(
                    "mock_live.stop() was called, but this mock is not active. Call start() (or "
                    "enter it with `with`) first."
                )
            activation = candidates[-1]
            self._active.remove(activation)
        INTERCEPTOR.deactivate(activation)
        if check and self.assert_all_requests_are_fired and not activation.calls:
            raise AssertionError(
                "mock_live was created with assert_all_requests_are_fired=True, but no request "
                "reached the Live emulator while it was active."
            )

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop(check=exc_type is None)

    # What the active (or last) activation saw.

    @property
    def emulator(self) -> Emulator:
        """The emulator of this mock's activation in the calling thread or task, else of its most
        recent active one, else of its last one."""
        return self._current().emulator

    @property
    def calls(self) -> tuple[LiveCall, ...]:
        """The calls (transport, request, response) the emulator of that activation answered."""
        activation = self._current()
        with activation.lock:
            return tuple(activation.calls)

    def _current(self) -> Activation:
        here = [a for a in INTERCEPTOR.in_context() if a.owner is self]
        with self._lock:
            activation = here[-1] if here else (self._active[-1] if self._active else self._last)
        if activation is None:
            raise LiveMockError(
                "This mock_live has not been started yet, so it has no emulator. Enter it with "
                "`with`, decorate a function with it, or call start()."
            )
        return activation

    # Decorator.

    def __call__(self, func: _F) -> _F:
        """Decorate a sync or async function: each call runs inside a fresh activation."""
        if inspect.isclass(func):
            raise TypeError(
                "mock_live decorates functions (sync or async), not classes. Decorate the test "
                "methods, or use the live_mock pytest fixture."
            )
        if not callable(func):
            raise TypeError(f"mock_live cannot decorate {func!r}: it is not callable.")
        if inspect.iscoroutinefunction(func):
            coroutine = cast(Callable[..., Coroutine[Any, Any, Any]], func)

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with self:
                    return await coroutine(*args, **kwargs)

            return cast(_F, async_wrapper)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return func(*args, **kwargs)

        return cast(_F, wrapper)


@overload
def mock_live(seed: _F, /) -> _F: ...


@overload
def mock_live(
    seed: SeedLike = None,
    *,
    state: Emulator | None = None,
    endpoints: Iterable[str] = (),
    passthrough: Passthrough = True,
    alibaba_passthrough: Iterable[str] = (),
    assert_all_requests_are_fired: bool = False,
    operation: Operation | None = None,
    clock: Clock | None = None,
    wall_clock: Clock | None = None,
    unmodelled: str = "answer",
) -> LiveMock: ...


def mock_live(
    seed: Any = None,
    *,
    state: Emulator | None = None,
    endpoints: Iterable[str] = (),
    passthrough: Passthrough = True,
    alibaba_passthrough: Iterable[str] = (),
    assert_all_requests_are_fired: bool = False,
    operation: Operation | None = None,
    clock: Clock | None = None,
    wall_clock: Clock | None = None,
    unmodelled: str = "answer",
) -> Any:
    """Answer Live calls from an in-process emulator, whatever HTTP library makes them.

    Use it as `@mock_live`, `@mock_live(seed)`, or `with mock_live(seed) as emulator:`. It
    intercepts `requests`, the legacy SDK's vendored requests, aiohttp and httpx (sync and async),
    for the calling thread or asyncio task; see docs/mock.md.

    - `seed`: the emulator's data (a mapping, or a YAML/JSON file); None for the built-in demo
      account.
    - `state`: an `Emulator` to use instead of a fresh one, to keep state across activations.
    - `endpoints`: more hosts (`host`, `host:port`) or URLs (`http://host:port/prefix`) to answer,
      besides every Live endpoint.
    - `passthrough`: what happens to other requests that would reach the network: True lets them
      through, False refuses them with the library's connection error, and a list of URL prefixes
      (strings or compiled regexes) lets only those through. Alibaba Cloud hosts are never let
      through by it.
    - `alibaba_passthrough`: host names under the Alibaba Cloud API domain (`aliyuncs.com`) that
      may reach the real service while the mock is active; every other one is refused.
    - `assert_all_requests_are_fired`: fail on exit when no request reached the emulator.
    - `operation`: the reference operation, whose product's every operation the emulator answers
      (the bundled RealTimeRecordCommand, of Live, by default).
    - `clock`, `wall_clock`: the emulator's virtual clock (timers, throttle windows; an
      `OffsetClock` that `emulator.advance_clock` moves, by default) and the clock its gateway
      checks timestamps against (the system clock by default).
    - `unmodelled`: `answer` (the default) answers operations the spec does not model from their
      response schema; `refuse` answers them with the documented NotImplemented error.
    """
    if callable(seed) and not isinstance(seed, Mapping | str | Path):
        return LiveMock()(seed)
    return LiveMock(
        seed,
        state=state,
        endpoints=endpoints,
        passthrough=passthrough,
        alibaba_passthrough=alibaba_passthrough,
        assert_all_requests_are_fired=assert_all_requests_are_fired,
        operation=operation,
        clock=clock,
        wall_clock=wall_clock,
        unmodelled=unmodelled,
    )
