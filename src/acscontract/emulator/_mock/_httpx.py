"""The httpx adapter, sync and async.

pytest-httpx patches `HTTPTransport.handle_request` (and the async one), respx patches httpcore's
connection pools (or, with `using="httpx"`, `Client._transport_for_url`). This adapter patches the
layer above all of them, `Client._send_single_request` and `AsyncClient._send_single_request`: a
Live request runs httpx's own `_send_single_request` with the emulator as its transport (an
`httpx.MockTransport`), so the user's mock, started before or after, never sees it; a refused one
raises `httpx.ConnectError`; any other request goes on unchanged, to the user's mock if there is
one.
"""

from __future__ import annotations

import time
from typing import Any, Final

import anyio
import httpx

from acscontract.emulator._mock._core import (
    DROP_MESSAGE,
    INTERCEPTOR,
    Activation,
    ClassPatch,
    FaultPlan,
    PatchedTransport,
    TransportAdapter,
    emulator_request,
    is_library_function,
)
from acscontract.emulator._types import EmulatorRequest, EmulatorResponse

__all__ = ["adapters"]

_NAME: Final = "httpx"


def _to_emulator(request: httpx.Request) -> EmulatorRequest:
    return emulator_request(
        request.method, str(request.url), request.headers.multi_items(), request.content
    )


def _read_timeout(request: httpx.Request) -> float | None:
    timeout = request.extensions.get("timeout") or {}
    read = timeout.get("read")
    return float(read) if isinstance(read, int | float) else None


def _response(answer: EmulatorResponse) -> httpx.Response:
    return httpx.Response(answer.status, headers=list(answer.headers), content=answer.body)


class _EmulatorTransport(httpx.MockTransport):
    """The transport a Live request gets: the activation's emulator, with its faults."""

    def __init__(self, activation: Activation) -> None:
        super().__init__(self._answer)
        self._activation = activation

    def _plan(self, request: httpx.Request) -> tuple[FaultPlan, EmulatorResponse]:
        answer = self._activation.answer(_to_emulator(request), _NAME)
        return FaultPlan.of(answer, _read_timeout(request)), answer

    def _answer(self, request: httpx.Request) -> httpx.Response:
        plan, answer = self._plan(request)
        if plan.sleep_s > 0:
            time.sleep(plan.sleep_s)
        return self._finish(request, plan, answer)

    async def _answer_async(self, request: httpx.Request) -> httpx.Response:
        plan, answer = self._plan(request)
        if plan.sleep_s > 0:
            await anyio.sleep(plan.sleep_s)
        return self._finish(request, plan, answer)

    @staticmethod
    def _finish(
        request: httpx.Request, plan: FaultPlan, answer: EmulatorResponse
    ) -> httpx.Response:
        if plan.timed_out:
            raise httpx.ReadTimeout(plan.timeout_message, request=request)
        if plan.dropped:
            raise httpx.RemoteProtocolError(DROP_MESSAGE, request=request)
        return _response(answer)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return await self._answer_async(request)


class _ClientView:
    """The client as httpx's `_send_single_request` sees it, with the emulator as its transport."""

    def __init__(self, client: Any, transport: httpx.MockTransport) -> None:
        self._client = client
        self._emulator_transport = transport

    def _transport_for_url(self, url: httpx.URL) -> httpx.MockTransport:
        return self._emulator_transport

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def _reaches_network(client: Any, url: httpx.URL, *, asynchronous: bool) -> bool:
    """Whether httpx would send this request to the network (its own transport and pool, with
    no mock patched in), rather than to a mock or a transport of the user's."""
    transport = client._transport_for_url(url)
    if asynchronous:
        cls: type[Any] = httpx.AsyncHTTPTransport
        method, pool_module, pool_method = (
            "handle_async_request",
            "httpcore._async.connection_pool",
            "AsyncConnectionPool.handle_async_request",
        )
    else:
        cls = httpx.HTTPTransport
        method, pool_module, pool_method = (
            "handle_request",
            "httpcore._sync.connection_pool",
            "ConnectionPool.handle_request",
        )
    if not isinstance(transport, cls):
        return False
    if not is_library_function(
        getattr(type(transport), method), "httpx._transports.default", f"{cls.__name__}.{method}"
    ):
        return False
    pool = getattr(transport, "_pool", None)
    return pool is None or is_library_function(
        getattr(type(pool), method, None), pool_module, pool_method
    )


def _send_single_request(previous: Any) -> Any:
    def send(client: Any, request: httpx.Request) -> httpx.Response:
        route = INTERCEPTOR.route(
            str(request.url), lambda: _reaches_network(client, request.url, asynchronous=False)
        )
        if route.refused:
            raise httpx.ConnectError(route.refusal(request.method), request=request)
        if route.activation is None:
            return previous(client, request)  # type: ignore[no-any-return]
        view = _ClientView(client, _EmulatorTransport(route.activation))
        return previous(view, request)  # type: ignore[no-any-return]

    return send


def _send_single_request_async(previous: Any) -> Any:
    async def send(client: Any, request: httpx.Request) -> httpx.Response:
        route = INTERCEPTOR.route(
            str(request.url), lambda: _reaches_network(client, request.url, asynchronous=True)
        )
        if route.refused:
            raise httpx.ConnectError(route.refusal(request.method), request=request)
        if route.activation is None:
            return await previous(client, request)  # type: ignore[no-any-return]
        view = _ClientView(client, _EmulatorTransport(route.activation))
        return await previous(view, request)  # type: ignore[no-any-return]

    return send


def adapters() -> list[TransportAdapter]:
    """The httpx adapter (sync and async clients)."""
    patches = [
        ClassPatch(httpx.Client, "_send_single_request", _send_single_request),
        ClassPatch(httpx.AsyncClient, "_send_single_request", _send_single_request_async),
    ]
    return [PatchedTransport(_NAME, patches)]
