"""The aiohttp adapter (the new SDK's async client sends with aiohttp).

`aioresponses` patches `ClientSession._request`, and every way into a session (`request`, `get`,
`post`, ..., and the module's `aiohttp.request`) calls `_request`. This adapter patches that layer
of entry points instead: a Live request never reaches `_request` (so the user's aioresponses,
started before or after, does not see it), a refused one raises `aiohttp.ClientOSError`, and any
other request goes on to `_request`, where the user's mock, if any, answers it.

The answer is a real `aiohttp.ClientResponse`, built without a connection the way aiohttp's own
`start()` fills one in, so `status`, `headers`, `read()`, `json()`, `raise_for_status()` and
`async with` behave as they do on the network.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import urlencode

import aiohttp
import aiohttp.client
from aiohttp.base_protocol import BaseProtocol
from aiohttp.client_reqrep import ClientResponse, RequestInfo
from aiohttp.helpers import TimerNoop
from aiohttp.http import HttpVersion11
from aiohttp.streams import StreamReader
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from acscontract.emulator._mock._core import (
    DROP_MESSAGE,
    INTERCEPTOR,
    ClassPatch,
    FaultPlan,
    PatchedTransport,
    Route,
    TransportAdapter,
    emulator_request,
    is_library_function,
)
from acscontract.emulator._types import EmulatorResponse

__all__ = ["adapters"]

_NAME: Final = "aiohttp"
#: The session's one-method helpers, and the method each sends.
_HELPERS: Final = {
    "get": "GET",
    "options": "OPTIONS",
    "head": "HEAD",
    "post": "POST",
    "put": "PUT",
    "patch": "PATCH",
    "delete": "DELETE",
}
_RESPONSE_PARAMETERS: Final = frozenset(inspect.signature(ClientResponse.__init__).parameters)
_READ_TIMEOUT_ERROR: Final[type[Exception]] = getattr(
    aiohttp, "SocketTimeoutError", aiohttp.ServerTimeoutError
)


def _reaches_network() -> bool:
    """Whether `ClientSession._request` is aiohttp's own (not a mock such as aioresponses)."""
    return is_library_function(
        aiohttp.ClientSession._request, "aiohttp.client", "ClientSession._request"
    )


def _url(session: aiohttp.ClientSession | None, str_or_url: Any, params: Any) -> URL:
    build = getattr(session, "_build_url", None)
    url: URL = build(str_or_url) if callable(build) else URL(str_or_url)
    return url.extend_query(params) if params else url


def _route(session: aiohttp.ClientSession | None, str_or_url: Any, params: Any) -> Route:
    try:
        url = _url(session, str_or_url, params)
    except (TypeError, ValueError):
        return Route()  # not a URL: aiohttp raises its own error
    return INTERCEPTOR.route(str(url), _reaches_network)


async def _body(session: aiohttp.ClientSession, kwargs: Mapping[str, Any]) -> tuple[bytes, str]:
    """The request body as aiohttp would send it, and its default content type."""
    if kwargs.get("json") is not None:
        return session.json_serialize(kwargs["json"]).encode("utf-8"), "application/json"
    data = kwargs.get("data")
    if data is None:
        return b"", ""
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data), "application/octet-stream"
    if isinstance(data, str):
        return data.encode("utf-8"), "text/plain; charset=utf-8"
    if isinstance(data, Mapping) or (
        isinstance(data, list | tuple) and all(isinstance(p, tuple) for p in data)
    ):
        pairs = list(data.items()) if isinstance(data, Mapping) else list(data)
        return urlencode(pairs).encode("ascii"), "application/x-www-form-urlencoded"
    if hasattr(data, "__aiter__"):
        return b"".join([bytes(chunk) async for chunk in data]), "application/octet-stream"
    read = getattr(data, "read", None)
    if callable(read):
        chunk = read()
        return (chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk)), ""
    raise TypeError(f"mock_live cannot read an aiohttp request body of type {type(data).__name__}.")


def _headers(session: aiohttp.ClientSession, kwargs: Mapping[str, Any]) -> CIMultiDict[str]:
    prepare = getattr(session, "_prepare_headers", None)
    if callable(prepare):
        headers: CIMultiDict[str] = prepare(kwargs.get("headers"))
    else:
        headers = CIMultiDict(session.headers)
        headers.update(CIMultiDict(kwargs.get("headers") or {}))
    auth = kwargs.get("auth") or session.auth
    if auth is not None and "Authorization" not in headers:
        headers["Authorization"] = auth.encode()
    return headers


def _read_timeout(session: aiohttp.ClientSession, kwargs: Mapping[str, Any]) -> float | None:
    timeout = kwargs.get("timeout")
    if not isinstance(timeout, aiohttp.ClientTimeout):
        timeout = session.timeout
    limits = [t for t in (timeout.sock_read, timeout.total) if t is not None]
    return float(min(limits)) if limits else None


class _SentRequest:
    """What aiohttp 3.14+ asks of the writer of a request that was already sent."""

    def __init__(self, size: int) -> None:
        self.output_size = size


def _client_response(
    session: aiohttp.ClientSession,
    method: str,
    url: URL,
    request_headers: CIMultiDict[str],
    answer: EmulatorResponse,
    sent: int,
) -> ClientResponse:
    """A `ClientResponse` holding the emulator's answer, as `start()` would have filled it in."""
    loop = asyncio.get_running_loop()
    options: dict[str, Any] = {
        "writer": None,
        "continue100": None,
        "timer": TimerNoop(),
        "request_info": RequestInfo(url, method, CIMultiDictProxy(request_headers), url),
        "traces": [],
        "loop": loop,
        "session": session,
    }
    if "stream_writer" in _RESPONSE_PARAMETERS:
        options["stream_writer"] = _SentRequest(sent)
    response_class = getattr(session, "_response_class", ClientResponse)
    response: ClientResponse = response_class(method, url, **options)
    headers: CIMultiDict[str] = CIMultiDict(answer.headers)
    response.version = HttpVersion11
    response.status = answer.status
    try:
        response.reason = HTTPStatus(answer.status).phrase
    except ValueError:
        response.reason = ""
    response._headers = CIMultiDictProxy(headers)
    response._raw_headers = tuple(
        (k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()
    )
    content = StreamReader(BaseProtocol(loop), 2**16, loop=loop)
    content.feed_data(answer.body)
    content.feed_eof()
    response.content = content
    return response


async def _respond(
    session: aiohttp.ClientSession,
    route: Route,
    method: str,
    str_or_url: Any,
    kwargs: Mapping[str, Any],
) -> ClientResponse:
    """Answer a request from the route's emulator, or raise its refusal, as aiohttp would."""
    method = method.upper()
    if route.refused:
        raise aiohttp.ClientOSError(route.refusal(method))
    if session.closed:
        raise RuntimeError("Session is closed")
    activation = route.activation
    assert activation is not None
    url = _url(session, str_or_url, kwargs.get("params"))
    headers = _headers(session, kwargs)
    body, content_type = await _body(session, kwargs)
    if content_type and body and "Content-Type" not in headers:
        headers["Content-Type"] = content_type
    request = emulator_request(method, str(url), headers.items(), body)
    answer = activation.answer(request, _NAME)
    plan = FaultPlan.of(answer, _read_timeout(session, kwargs))
    if plan.sleep_s > 0:
        await asyncio.sleep(plan.sleep_s)
    if plan.timed_out:
        raise _READ_TIMEOUT_ERROR(plan.timeout_message)
    if plan.dropped:
        raise aiohttp.ServerDisconnectedError(DROP_MESSAGE)
    response = _client_response(session, method, url, headers, answer, len(body))
    raise_for_status = kwargs.get("raise_for_status")
    if raise_for_status is None:
        raise_for_status = getattr(session, "_raise_for_status", False)
    if callable(raise_for_status):
        await raise_for_status(response)
    elif raise_for_status:
        response.raise_for_status()
    return response


def _session_method(http_method: str | None) -> Callable[[Any], Any]:
    """The patch of `ClientSession.request` (http_method None) or of one of its helpers."""

    def make(previous: Any) -> Any:
        if http_method is None:

            def request(session: Any, method: str, url: Any, **kwargs: Any) -> Any:
                route = _route(session, url, kwargs.get("params"))
                if route.activation is None:
                    return previous(session, method, url, **kwargs)
                return aiohttp.client._RequestContextManager(
                    _respond(session, route, method, url, kwargs)
                )

            return functools.wraps(previous, assigned=("__name__", "__doc__"))(request)

        def helper(session: Any, url: Any, **kwargs: Any) -> Any:
            route = _route(session, url, kwargs.get("params"))
            if route.activation is None:
                return previous(session, url, **kwargs)
            return aiohttp.client._RequestContextManager(
                _respond(session, route, http_method, url, kwargs)
            )

        return functools.wraps(previous, assigned=("__name__", "__doc__"))(helper)

    return make


def _module_request(previous: Any) -> Any:
    """The patch of `aiohttp.request`: one request in a session of its own."""

    def request(method: str, url: Any, **kwargs: Any) -> Any:
        route = _route(None, url, kwargs.get("params"))
        if route.activation is None:
            return previous(method, url, **kwargs)
        options: dict[str, Any] = {"cookies": kwargs.pop("cookies", None)}
        for name in ("version", "timeout"):
            if name in kwargs:
                options[name] = kwargs.pop(name)
        kwargs.pop("connector", None)
        kwargs.pop("loop", None)
        session = aiohttp.ClientSession(**options)
        return aiohttp.client._SessionRequestContextManager(
            _respond(session, route, method, url, kwargs), session
        )

    return functools.wraps(previous, assigned=("__name__", "__doc__"))(request)


def adapters() -> list[TransportAdapter]:
    """The aiohttp adapter."""
    session = aiohttp.ClientSession
    patches = [
        ClassPatch(session, "request", _session_method(None)),
        *(ClassPatch(session, name, _session_method(m)) for name, m in _HELPERS.items()),
        ClassPatch(aiohttp.client, "request", _module_request),
        ClassPatch(aiohttp, "request", _module_request),
    ]
    return [PatchedTransport(_NAME, patches)]
