"""The `requests` adapter, for `requests` itself and the legacy SDK's vendored copy.

`responses` (and so a user's own `responses` mock) patches `HTTPAdapter.send`; two mocks that both
patch it hide each other. This adapter patches one layer up instead, `Session.get_adapter`: a Live
URL gets a private adapter whose `send` runs a `responses.RequestsMock` registry that calls the
emulator (matching, response building and call recording are those of `responses`), a refused URL
gets an adapter that raises the copy's `ConnectionError`, and every other URL gets the adapter it
would have had, so it still reaches the user's `responses` mock, whichever started first.

The legacy SDK (`aliyunsdkcore`) sends through `aliyunsdkcore.vendored.requests`, a copy of
requests 2.18 with its own `Session` and `HTTPAdapter`, which a plain `responses` mock never sees;
the same adapter patches that copy's `Session.get_adapter` whenever the SDK is installed.
"""

from __future__ import annotations

import importlib
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Final

import requests.exceptions
import responses

from acscontract.emulator._mock._core import (
    DROP_MESSAGE,
    INTERCEPTOR,
    Activation,
    ClassPatch,
    FaultPlan,
    TransportAdapter,
    emulator_request,
    is_library_function,
    library_installed,
)
from acscontract.emulator._types import EmulatorRequest

__all__ = ["adapters", "to_emulator_request"]

#: Every method is routed: the emulator decides what each one means (the spec allows POST and GET,
#: the others get the gateway's method error).
_HTTP_METHODS: Final = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
_ANY_URL: Final = re.compile(".*")
_VENDORED: Final = "aliyunsdkcore.vendored.requests"


def _body_bytes(body: object) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, bytearray | memoryview):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    read = getattr(body, "read", None)
    if callable(read):
        return _body_bytes(read())
    if isinstance(body, Iterable):
        return b"".join(_body_bytes(chunk) for chunk in body)
    raise TypeError(f"mock_live cannot read a request body of type {type(body).__name__}.")


def to_emulator_request(request: Any) -> EmulatorRequest:
    """The `EmulatorRequest` a real server would have seen for a (`requests`) PreparedRequest."""
    return emulator_request(
        str(request.method),
        str(request.url),
        [(str(k), str(v)) for k, v in request.headers.items()],
        _body_bytes(request.body),
    )


def _read_timeout(timeout: object) -> float | None:
    if isinstance(timeout, tuple) and len(timeout) == 2:
        timeout = timeout[1]
    if isinstance(timeout, int | float):
        return float(timeout)
    read = getattr(timeout, "read_timeout", None)
    return float(read) if isinstance(read, int | float) else None


@dataclass(frozen=True, slots=True)
class _Flavour:
    """One copy of requests: the real one, or the legacy SDK's vendored one."""

    name: str
    module: str
    sessions: ModuleType
    adapters: ModuleType
    exceptions: ModuleType

    @property
    def http_adapter(self) -> type[Any]:
        return self.adapters.HTTPAdapter  # type: ignore[no-any-return]

    def reaches_network(self, adapter: object) -> bool:
        """Whether `adapter.send` is this copy's own network send (no mock patched it)."""
        http_adapter = self.http_adapter
        return isinstance(adapter, http_adapter) and is_library_function(
            type(adapter).send, f"{self.module}.adapters", "HTTPAdapter.send"
        )


def _flavour(name: str, module: str) -> _Flavour:
    return _Flavour(
        name,
        module,
        importlib.import_module(f"{module}.sessions"),
        importlib.import_module(f"{module}.adapters"),
        importlib.import_module(f"{module}.exceptions"),
    )


class _RequestsAdapter:
    """Routes one copy of requests through the core by patching its `Session.get_adapter`."""

    def __init__(self, flavour: _Flavour) -> None:
        self.name = flavour.name
        self._flavour = flavour
        self._patch = ClassPatch(flavour.sessions.Session, "get_adapter", self._get_adapter)
        self._refusing = self._refusing_adapter()

    def install(self) -> None:
        self._patch.install()

    def uninstall(self) -> None:
        self._patch.uninstall()

    def _get_adapter(self, previous: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
        flavour = self._flavour

        def get_adapter(session: Any, url: str) -> Any:
            found: list[Any] = []

            def reaches_network() -> bool:
                found.append(previous(session, url))
                return flavour.reaches_network(found[0])

            route = INTERCEPTOR.route(str(url), reaches_network)
            if route.refused:
                return self._refusing(route.refusal)
            if route.activation is not None:
                return route.activation.cached(self.name, lambda: self._live_adapter(route))
            return found[0] if found else previous(session, url)

        return get_adapter

    def _live_adapter(self, route: Any) -> Any:
        """The adapter that sends a Live request to this activation's emulator."""
        activation: Activation = route.activation
        flavour = self._flavour
        registry = responses.RequestsMock(assert_all_requests_are_fired=False)
        callback = self._callback(activation)
        for method in _HTTP_METHODS:
            registry.add_callback(method, _ANY_URL, callback=callback, content_type=None)
        send = registry.unbound_on_send()
        connection_error = flavour.exceptions.ConnectionError

        def live_send(adapter: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return send(adapter, request, *args, **kwargs)
            except requests.exceptions.ConnectionError as error:
                # `responses` raises the real requests' ConnectionError; the vendored copy's
                # callers catch only their own.
                if isinstance(error, connection_error):
                    raise
                raise connection_error(str(error), request=request) from error

        live_class = type(
            "_LiveAdapter", (flavour.http_adapter,), {"send": live_send, "__module__": __name__}
        )
        return live_class()

    def _callback(self, activation: Activation) -> Callable[[Any], Any]:
        """The `responses` callback: hand the request to the emulator and apply its faults."""
        exceptions = self._flavour.exceptions
        transport = self.name

        def callback(request: Any) -> Any:
            response = activation.answer(to_emulator_request(request), transport)
            kwargs = getattr(request, "req_kwargs", None) or {}
            plan = FaultPlan.of(response, _read_timeout(kwargs.get("timeout")))
            if plan.sleep_s > 0:
                time.sleep(plan.sleep_s)
            if plan.timed_out:
                return exceptions.ReadTimeout(plan.timeout_message)
            if plan.dropped:
                return exceptions.ConnectionError(DROP_MESSAGE)
            return response.status, list(response.headers), response.body

        return callback

    def _refusing_adapter(self) -> Callable[[Callable[[str], str]], Any]:
        """A factory of adapters that refuse every request with this copy's ConnectionError."""
        flavour = self._flavour

        def send(adapter: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            message = adapter.message(str(request.method).upper())
            raise flavour.exceptions.ConnectionError(message, request=request)

        def init(adapter: Any, message: Callable[[str], str]) -> None:
            flavour.adapters.BaseAdapter.__init__(adapter)
            adapter.message = message

        return type(
            "_RefusingAdapter",
            (flavour.adapters.BaseAdapter,),
            {"__init__": init, "send": send, "close": lambda self: None, "__module__": __name__},
        )


def adapters() -> list[TransportAdapter]:
    """The adapter of `requests`, and of the legacy SDK's copy when that SDK is installed."""
    found: list[TransportAdapter] = [_RequestsAdapter(_flavour("requests", "requests"))]
    if library_installed("aliyunsdkcore"):
        found.append(_RequestsAdapter(_flavour(_VENDORED, _VENDORED)))
    return found
