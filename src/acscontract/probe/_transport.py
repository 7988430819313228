"""How a probe's calls reach an endpoint: over HTTP, or straight into an in-process emulator."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from acscontract.client import Client, TransportError
from acscontract.probe._model import Reply

if TYPE_CHECKING:
    from acscontract.emulator import EmulatorRequest, EmulatorResponse
    from acscontract.signing import Credentials
    from acscontract.spec import Operation

__all__ = ["EmulatorTransport", "HttpTransport", "RequestHandler", "Transport"]

Params = Sequence[tuple[str, str]]


@runtime_checkable
class Transport(Protocol):
    """Sends one signed call of the probed operation and reports the answer."""

    @property
    def concurrent(self) -> bool:
        """Whether `send` may run on several threads at once (network transports)."""
        ...

    def send(self, params: Params) -> Reply:
        """Send one call with these business parameters; never raises for an error answer."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def _code_of(body: bytes) -> tuple[str | None, bool]:
    try:
        data = json.loads(body)
    except ValueError:
        return None, False
    if isinstance(data, dict):
        code = data.get("Code")
        return (code if isinstance(code, str) else None), True
    return None, True


class HttpTransport:
    """Signed calls over HTTP with `acscontract.client`, one client (and connection pool) per
    thread so that a thread pool can keep several calls in flight."""

    __slots__ = ("_clients", "_credentials", "_endpoint", "_local", "_operation", "_timeout")

    def __init__(
        self,
        endpoint: str,
        credentials: Credentials,
        operation: Operation,
        *,
        timeout: float = 10.0,
    ) -> None:
        self._endpoint = endpoint
        self._credentials = credentials
        self._operation = operation
        self._timeout = timeout
        self._local = threading.local()
        self._clients: list[Client] = []

    @property
    def concurrent(self) -> bool:
        return True

    def _client(self) -> Client:
        client: Client | None = getattr(self._local, "client", None)
        if client is None:
            client = Client(self._endpoint, self._credentials, timeout=self._timeout)
            self._local.client = client
            self._clients.append(client)
        return client

    def send(self, params: Params) -> Reply:
        operation = self._operation
        try:
            response = self._client().call(operation.name, operation.product.version, params)
        except TransportError as exc:
            return Reply(None, None, json_body=False, transport_error=exc.reason)
        return Reply(response.status, response.code, json_body=response.json is not None)

    def close(self) -> None:
        for client in self._clients:
            client.session.close()
        self._clients.clear()

    def __repr__(self) -> str:
        return f"HttpTransport({self._endpoint!r}, {self._credentials!r})"


class RequestHandler(Protocol):
    """What the in-process transport needs of an emulator: its transport-neutral core."""

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        """Answer one request."""
        ...


class EmulatorTransport:
    """Calls signed exactly as over HTTP, handed straight to `Emulator.handle` (no sockets).

    Not concurrent: with a simulated clock the calls must go one at a time, in schedule order.
    """

    __slots__ = ("_client", "_handler", "_operation")

    #: The host the requests claim; V3 signs it, and the emulator verifies it as received.
    HOST = "http://127.0.0.1"

    def __init__(
        self, handler: RequestHandler, credentials: Credentials, operation: Operation
    ) -> None:
        self._handler = handler
        self._operation = operation
        self._client = Client(self.HOST, credentials)

    @property
    def concurrent(self) -> bool:
        return False

    def send(self, params: Params) -> Reply:
        from acscontract.emulator import EmulatorRequest

        operation = self._operation
        wire = self._client.build(operation.name, operation.product.version, params)
        request = EmulatorRequest(
            method=wire.method,
            host=wire.headers.get("host", ""),
            path=wire.path,
            query=wire.query,
            headers=wire.headers,
            body=wire.body,
        )
        response = self._handler.handle(request)
        if response.drop_connection:
            return Reply(None, None, json_body=False, transport_error="the connection was dropped")
        code, is_json = _code_of(response.body)
        return Reply(response.status, code, json_body=is_json)

    def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"EmulatorTransport({self._handler!r})"
