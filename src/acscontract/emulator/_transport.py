"""The in-process transport: `acscontract.client`'s `Transport`, answered by an emulator's core.

A signed request goes to `handle` exactly as a server would receive it, with no sockets and no
HTTP stack, which makes it the fastest way to call an emulator (the contract suite's `emulator`
target, the probe's in-process target). This module imports `acscontract.client` (and so
`requests`); the package loads it only when `EmulatorTransport` is first used.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from acscontract.client import ApiResponse, SentRequest, TransportError
from acscontract.emulator._types import EmulatorRequest, EmulatorResponse

if TYPE_CHECKING:
    from acscontract.signing import WireRequest

__all__ = ["EmulatorTransport", "RequestHandler"]


class RequestHandler(Protocol):
    """What the transport needs of an emulator: its transport-neutral core."""

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        """Answer one request."""
        ...


class EmulatorTransport:
    """Hands each request to `handler.handle` (an `Emulator`), in the calling thread.

    The request counts as secure transport when the endpoint is https, and as coming from
    `client_ip`. A dropped connection (a fault rule) raises `TransportError`, as over HTTP; a
    latency fault's delay is not slept, since in process the emulator's own clock is what moves.
    """

    __slots__ = ("client_ip", "handler")

    def __init__(self, handler: RequestHandler, *, client_ip: str = "127.0.0.1") -> None:
        self.handler = handler
        self.client_ip = client_ip

    def send(self, endpoint: str, request: WireRequest) -> ApiResponse:
        started_at = datetime.now(UTC)
        start = time.perf_counter()
        secure = urlsplit(endpoint).scheme.lower() == "https"
        answer = self.handler.handle(
            EmulatorRequest.from_wire(request, client_ip=self.client_ip, secure=secure)
        )
        if answer.drop_connection:
            raise TransportError(
                f"No response from {endpoint}: the emulator dropped the connection (a fault "
                "rule asked for it).",
                "the connection was dropped",
            )
        return ApiResponse.received(
            answer.status,
            answer.headers,
            answer.body,
            SentRequest.of(endpoint, request),
            elapsed=time.perf_counter() - start,
            started_at=started_at,
        )

    def close(self) -> None:
        """Nothing to release: the emulator belongs to the caller."""

    def __repr__(self) -> str:
        return f"EmulatorTransport({self.handler!r})"
