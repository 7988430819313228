"""`mock_live`: the moto-style front door of the emulator, in-process, built on `responses`.

While a mock is active, every `requests` call to a Live endpoint (the spec's default endpoint and
regional endpoints, any scheme and port, plus the endpoints you add) is answered by an `Emulator`
instead of the network. The legacy SDK's vendored copy of requests
(`aliyunsdkcore.vendored.requests`) is intercepted the same way when it is installed.

How it hooks in, and why it does not clash with your own `responses` mocks: `responses` patches
`HTTPAdapter.send`, and two mocks that both patch it hide each other. `mock_live` works one layer
up instead. It patches `Session.get_adapter` so that a Live URL gets a private adapter whose
`send` runs a `responses.RequestsMock` registry (matching, response building and call recording
are those of `responses`), and every other URL gets the adapter it would have had. Your
`responses` mocks, started before or after `mock_live`, keep seeing all the non-Live traffic, and
Live calls reach the emulator whichever was started first.

The new SDK's async client sends with aiohttp, which `responses` cannot intercept: test async code
against the emulator's real server (`serve_in_thread`) instead.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import re
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final, TypeVar, cast, overload
from unittest import mock as std_mock
from urllib.parse import urlsplit

import pytest
import requests
import requests.adapters
import requests.exceptions
import requests.sessions
import responses

from acscontract.emulator._core import Emulator, SeedLike
from acscontract.emulator._types import EmulatorRequest, EmulatorResponse
from acscontract.spec import Operation, operation

__all__ = ["LiveMock", "live_mock", "mock_live"]

_F = TypeVar("_F", bound=Callable[..., Any])

Passthrough = bool | str | re.Pattern[str] | Sequence[str | re.Pattern[str]]

#: The methods a Live URL is answered for. The emulator decides what each one means (the spec
#: allows POST and GET; the rest get the gateway's method error), so every method is routed.
_HTTP_METHODS: Final = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_VENDORED_REQUESTS: Final = "aliyunsdkcore.vendored.requests"

#: `HTTPAdapter.send` as `requests` defines it: an adapter whose `send` is this function talks to
#: the network. `responses` keeps the same function before it patches anything.
_NETWORK_SEND: Final[object] = getattr(responses, "_real_send", requests.adapters.HTTPAdapter.send)


class LiveMockError(RuntimeError):
    """mock_live was used in a way it cannot honour (stopped without being started, ...)."""


# --- which URLs are Live ---------------------------------------------------------------------


def _endpoint_pattern(endpoint: str) -> str:
    """A regex for the URLs one endpoint stands for.

    A bare host (`live.aliyuncs.com`) matches every scheme and port; `host:port` only that port; a
    URL (`http://127.0.0.1:8080/base`) its scheme, port (the default one when none is written) and
    path prefix.
    """
    text = endpoint.strip()
    if not text:
        raise ValueError("mock_live was given an empty endpoint; pass a host name or a URL.")
    if "://" in text:
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ValueError(
                f"mock_live cannot intercept {endpoint!r}: an endpoint URL must be http:// or "
                "https:// with a host name."
            )
        scheme_pattern = re.escape(scheme)
        host, port = parts.hostname, parts.port
        path = parts.path.rstrip("/")
        default_port: int | None = _DEFAULT_PORTS[scheme]
    else:
        scheme_pattern = "https?"
        default_port = None
        probe = urlsplit("//" + text)
        if not probe.hostname or probe.path not in ("", "/"):
            raise ValueError(
                f"mock_live cannot intercept {endpoint!r}: give a host name (optionally with a "
                "port) or an http(s):// URL."
            )
        host, port, path = probe.hostname, probe.port, ""
    host_pattern = re.escape(f"[{host}]" if ":" in host else host)
    if port is None and default_port is None:
        port_pattern = r"(?::\d+)?"
    elif port is None or port == default_port:
        port_pattern = f"(?::{default_port})?"
    else:
        port_pattern = f":{port}"
    return (
        f"{scheme_pattern}://(?:[^/?#@]*@)?{host_pattern}{port_pattern}{re.escape(path)}(?:[/?#]|$)"
    )


def live_endpoints(spec: Operation | None = None) -> tuple[str, ...]:
    """The spec's endpoints of the operation's product: the default one and the regional ones."""
    product = (spec or operation()).product
    return tuple(dict.fromkeys([product.default_endpoint, *product.endpoints.values()]))


@dataclass(frozen=True, slots=True)
class _Routing:
    """Which URLs go to the emulator, and which other URLs may reach the network."""

    live: re.Pattern[str]
    passthrough: bool
    passthrough_prefixes: tuple[str | re.Pattern[str], ...]

    @classmethod
    def build(cls, endpoints: Iterable[str], passthrough: Passthrough) -> _Routing:
        patterns = [_endpoint_pattern(endpoint) for endpoint in dict.fromkeys(endpoints)]
        live = re.compile("^(?:" + "|".join(patterns) + ")", re.IGNORECASE)
        if isinstance(passthrough, bool):
            return cls(live, passthrough, ())
        if isinstance(passthrough, str | re.Pattern):
            prefixes: tuple[str | re.Pattern[str], ...] = (passthrough,)
        else:
            prefixes = tuple(passthrough)
        return cls(live, False, prefixes)

    def is_live(self, url: str) -> bool:
        return self.live.match(url) is not None

    def may_pass(self, url: str) -> bool:
        if self.passthrough:
            return True
        return any(
            p.match(url) is not None if isinstance(p, re.Pattern) else url.startswith(p)
            for p in self.passthrough_prefixes
        )


# --- PreparedRequest <-> EmulatorRequest ------------------------------------------------------


def _host_header(scheme: str, netloc: str) -> str:
    """The Host header http.client sends for a URL: the host, and the port unless the default."""
    parts = urlsplit(f"{scheme}://{netloc}")
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is None or parts.port == _DEFAULT_PORTS.get(scheme):
        return host
    return f"{host}:{parts.port}"


def _body_bytes(body: object) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, bytearray | memoryview):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    if hasattr(body, "read"):
        return _body_bytes(body.read())
    if isinstance(body, Iterable):
        return b"".join(_body_bytes(chunk) for chunk in body)
    raise TypeError(f"mock_live cannot read a request body of type {type(body).__name__}.")


def to_emulator_request(request: Any) -> EmulatorRequest:
    """The `EmulatorRequest` a real server would have seen for a (`requests`) PreparedRequest.

    The query stays raw, the Host header is the one the client set or else the one http.client
    derives from the URL, and an https URL counts as secure transport.
    """
    url = str(request.url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    headers = {str(k).lower(): str(v) for k, v in request.headers.items()}
    host = headers.get("host") or _host_header(scheme, parts.netloc)
    headers["host"] = host
    body = _body_bytes(request.body)
    if body and "content-length" not in headers and "transfer-encoding" not in headers:
        headers["content-length"] = str(len(body))
    return EmulatorRequest(
        method=str(request.method).upper(),
        host=host,
        path=parts.path or "/",
        query=parts.query,
        headers=headers,
        body=body,
        secure=scheme == "https",
    )


def _read_timeout(timeout: object) -> float | None:
    if isinstance(timeout, tuple) and len(timeout) == 2:
        timeout = timeout[1]
    if isinstance(timeout, int | float):
        return float(timeout)
    read = getattr(timeout, "read_timeout", None)
    return float(read) if isinstance(read, int | float) else None


@dataclass(frozen=True, slots=True)
class _Transport:
    """The exception classes of one copy of requests (the real one, or the legacy SDK's)."""

    connection_error: type[BaseException]
    read_timeout: type[BaseException]


def _answer(
    emulator: Emulator, transport: _Transport, on_call: Callable[[], None]
) -> Callable[[Any], Any]:
    """The `responses` callback: hand the request to the emulator and apply its faults."""

    def callback(request: Any) -> Any:
        on_call()
        response: EmulatorResponse = emulator.handle(to_emulator_request(request))
        if response.delay_s > 0:
            kwargs = getattr(request, "req_kwargs", None) or {}
            limit = _read_timeout(kwargs.get("timeout"))
            if limit is not None and response.delay_s > limit:
                time.sleep(limit)
                return transport.read_timeout(
                    f"The emulator delayed its answer by {response.delay_s} s (a configured "
                    f"fault), longer than the client's read timeout of {limit} s.",
                )
            time.sleep(response.delay_s)
        if response.drop_connection:
            return transport.connection_error(
                "The emulator dropped the connection without answering (a configured fault)."
            )
        return response.status, list(response.headers), response.body

    return callback


# --- adapters ---------------------------------------------------------------------------------

_Send = Callable[..., Any]


class _LiveAdapter(requests.adapters.HTTPAdapter):
    """The adapter a Live URL gets: its `send` is a `responses` registry over the emulator."""

    def __init__(self, send: _Send) -> None:
        super().__init__()
        self._live_send = send

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        return cast(requests.Response, self._live_send(self, request, *args, **kwargs))


class _BlockedAdapter(requests.adapters.BaseAdapter):
    """The adapter a URL gets when it would reach the network and passthrough forbids it."""

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        raise requests.exceptions.ConnectionError(_blocked_message(request), request=request)

    def close(self) -> None:
        """Nothing to close."""


def _blocked_message(request: Any) -> str:
    parts = urlsplit(str(request.url))
    return (
        f"mock_live refused {request.method} {parts.scheme}://{parts.netloc}{parts.path}: it is "
        "not a Live endpoint and passthrough does not allow it to reach the network. Pass "
        "passthrough=True, or a list of URL prefixes, to let it through; or add it to "
        "endpoints=... to send it to the emulator."
    )


@functools.cache
def _vendored_classes() -> tuple[type[Any], type[Any], _Transport, Any, object] | None:
    """The legacy SDK's adapter classes and exceptions, or None when it is not installed."""
    try:
        if importlib.util.find_spec("aliyunsdkcore") is None:
            return None
    except (ImportError, ValueError):
        return None
    adapters = importlib.import_module(f"{_VENDORED_REQUESTS}.adapters")
    exceptions = importlib.import_module(f"{_VENDORED_REQUESTS}.exceptions")
    sessions = importlib.import_module(f"{_VENDORED_REQUESTS}.sessions")

    def live_send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return self._live_send(self, request, *args, **kwargs)
        except requests.exceptions.ConnectionError as error:
            raise exceptions.ConnectionError(str(error), request=request) from error

    def live_init(self: Any, send: _Send) -> None:
        adapters.HTTPAdapter.__init__(self)
        self._live_send = send

    def blocked_send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        raise exceptions.ConnectionError(_blocked_message(request), request=request)

    live = type(
        "_VendoredLiveAdapter",
        (adapters.HTTPAdapter,),
        {"__init__": live_init, "send": live_send, "__module__": __name__},
    )
    blocked = type(
        "_VendoredBlockedAdapter",
        (adapters.BaseAdapter,),
        {"send": blocked_send, "close": lambda self: None, "__module__": __name__},
    )
    transport = _Transport(exceptions.ConnectionError, exceptions.ReadTimeout)
    return live, blocked, transport, sessions.Session, adapters.HTTPAdapter.send


# --- one activation ---------------------------------------------------------------------------


class _Activation:
    """One `with mock_live(...)`: the emulator, the registries and the patches that route to it."""

    def __init__(self, emulator: Emulator, routing: _Routing) -> None:
        self.emulator = emulator
        self.routing = routing
        self.mocks: list[responses.RequestsMock] = []
        self._patches: list[Any] = []
        self._lock = threading.Lock()
        self.live_calls = 0

    def _count(self) -> None:
        with self._lock:
            self.live_calls += 1

    def _registry(self, transport: _Transport) -> responses.RequestsMock:
        mock = responses.RequestsMock(assert_all_requests_are_fired=False)
        callback = _answer(self.emulator, transport, self._count)
        for method in _HTTP_METHODS:
            mock.add_callback(method, self.routing.live, callback=callback, content_type=None)
        self.mocks.append(mock)
        return mock

    def _route(
        self,
        session_class: type[Any],
        live_adapter: Any,
        blocked_adapter: Any,
        network_send: Any,
    ) -> None:
        """Patch `session_class.get_adapter` to send Live URLs to `live_adapter`."""
        previous = session_class.get_adapter
        routing = self.routing

        def get_adapter(session: Any, url: str) -> Any:
            if routing.is_live(url):
                return live_adapter
            adapter = previous(session, url)
            if getattr(type(adapter), "send", None) is network_send and not routing.may_pass(url):
                return blocked_adapter
            return adapter

        patcher = std_mock.patch.object(session_class, "get_adapter", get_adapter)
        patcher.start()
        self._patches.append(patcher)

    def start(self) -> None:
        try:
            real = _Transport(requests.exceptions.ConnectionError, requests.exceptions.ReadTimeout)
            registry = self._registry(real)
            self._route(
                requests.sessions.Session,
                _LiveAdapter(registry.unbound_on_send()),
                _BlockedAdapter(),
                _NETWORK_SEND,
            )
            vendored = _vendored_classes()
            if vendored is not None:
                live_class, blocked_class, transport, session_class, network_send = vendored
                registry = self._registry(transport)
                self._route(
                    session_class,
                    live_class(registry.unbound_on_send()),
                    blocked_class(),
                    network_send,
                )
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        while self._patches:
            self._patches.pop().stop()

    @property
    def calls(self) -> tuple[Any, ...]:
        return tuple(call for mock in self.mocks for call in mock.calls)


# --- the public mock --------------------------------------------------------------------------


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
        assert_all_requests_are_fired: bool = False,
        operation: Operation | None = None,
    ) -> None:
        if state is not None and seed is not None:
            raise ValueError(
                "mock_live was given both a seed and a state. The state emulator already holds "
                "its data: pass one or the other (load a seed into it with state.load_seed)."
            )
        if isinstance(endpoints, str):
            endpoints = (endpoints,)
        self._seed = seed
        self._state = state
        self._operation = operation
        self.endpoints = tuple(dict.fromkeys((*live_endpoints(operation), *endpoints)))
        self._routing = _Routing.build(self.endpoints, passthrough)
        self.assert_all_requests_are_fired = assert_all_requests_are_fired
        self._active: list[_Activation] = []
        self._last: _Activation | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        routing = self._routing
        passthrough = routing.passthrough or [
            p.pattern if isinstance(p, re.Pattern) else p for p in routing.passthrough_prefixes
        ]
        return (
            f"LiveMock(endpoints={list(self.endpoints)!r}, passthrough={passthrough!r}, "
            f"active={bool(self._active)})"
        )

    # moto-style start/stop, and the context manager over them.

    def start(self) -> Emulator:
        """Start intercepting and return the emulator that answers; pair it with `stop()`."""
        emulator = self._state or Emulator(self._seed, operation=self._operation)
        activation = _Activation(emulator, self._routing)
        activation.start()
        with self._lock:
            self._active.append(activation)
            self._last = activation
        return emulator

    def stop(self, *, check: bool = True) -> None:
        """Stop the most recent activation; check `assert_all_requests_are_fired` if `check`."""
        with self._lock:
            if not self._active:
                raise LiveMockError(
                    "mock_live.stop() was called, but this mock is not active. Call start() (or "
                    "enter it with `with`) first."
                )
            activation = self._active.pop()
        activation.stop()
        if check and self.assert_all_requests_are_fired and activation.live_calls == 0:
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
        """The emulator of the active activation, else of the last one."""
        activation = self._current()
        return activation.emulator

    @property
    def calls(self) -> tuple[Any, ...]:
        """The `responses` calls (request, response) the emulator answered in that activation."""
        return self._current().calls

    def _current(self) -> _Activation:
        with self._lock:
            activation = self._active[-1] if self._active else self._last
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
    assert_all_requests_are_fired: bool = False,
    operation: Operation | None = None,
) -> LiveMock: ...


def mock_live(
    seed: Any = None,
    *,
    state: Emulator | None = None,
    endpoints: Iterable[str] = (),
    passthrough: Passthrough = True,
    assert_all_requests_are_fired: bool = False,
    operation: Operation | None = None,
) -> Any:
    """Answer Live calls made through `requests` from an in-process emulator.

    Use it as `@mock_live`, `@mock_live(seed)`, or `with mock_live(seed) as emulator:`.

    - `seed`: the emulator's data (a mapping, or a YAML/JSON file); None for the built-in demo
      account.
    - `state`: an `Emulator` to use instead of a fresh one, to keep state across activations.
    - `endpoints`: more hosts (`host`, `host:port`) or URLs (`http://host:port/prefix`) to answer,
      besides the spec's Live endpoints.
    - `passthrough`: what happens to requests that are not Live and that no other mock handles:
      True lets them reach the network, False refuses them with `ConnectionError`, and a list of
      URL prefixes (strings or compiled regexes) lets only those through.
    - `assert_all_requests_are_fired`: fail on exit when no request reached the emulator.
    - `operation`: the spec the emulator serves; the bundled RealTimeRecordCommand by default.
    """
    if callable(seed) and not isinstance(seed, Mapping | str | Path):
        return LiveMock()(seed)
    return LiveMock(
        seed,
        state=state,
        endpoints=endpoints,
        passthrough=passthrough,
        assert_all_requests_are_fired=assert_all_requests_are_fired,
        operation=operation,
    )


@pytest.fixture
def live_mock(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """A fresh in-process Live emulator for one test; Live calls through `requests` reach it.

    Parametrize it indirectly to pass `mock_live` options:
    `@pytest.mark.parametrize("live_mock", [{"passthrough": False}], indirect=True)`.
    """
    options: Mapping[str, Any] = getattr(request, "param", None) or {}
    with LiveMock(**options) as emulator:
        yield emulator
