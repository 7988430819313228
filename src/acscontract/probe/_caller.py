"""The probe's call: one operation, signed by a `Client` over any `acscontract.client.Transport`.

A probe target is a `Caller`: over HTTP (`HttpTransport`, a session per thread so that a thread
pool keeps several calls in flight) or in process (`acscontract.emulator.EmulatorTransport`).
Only the status and the body's `Code` of an answer are kept (see `Reply`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from acscontract.client import TransportError
from acscontract.probe._model import Reply

if TYPE_CHECKING:
    from acscontract.client import Client
    from acscontract.spec import Operation

__all__ = ["Caller", "Params"]

Params = Sequence[tuple[str, str]]


class Caller:
    """Sends the probed operation with given business parameters and reports the answer.

    `concurrent` says whether `send` may run on several threads at once: worth it over a network,
    where latency would otherwise cap the rate; not in process, where a simulated clock needs the
    calls one at a time, in schedule order.
    """

    __slots__ = ("client", "concurrent", "operation")

    def __init__(self, client: Client, operation: Operation, *, concurrent: bool) -> None:
        self.client = client
        self.operation = operation
        self.concurrent = concurrent

    def send(self, params: Params) -> Reply:
        """Send one call with these business parameters; never raises for an error answer."""
        operation = self.operation
        try:
            response = self.client.call(operation.name, operation.product.version, params)
        except TransportError as exc:
            return Reply(None, None, transport_error=exc.reason)
        return Reply(response.status, response.code, api_body=response.api_body)

    def close(self) -> None:
        """Release the client's connections."""
        self.client.close()

    def __repr__(self) -> str:
        return f"Caller({self.client!r}, {self.operation.name!r}, concurrent={self.concurrent})"
