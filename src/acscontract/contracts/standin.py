"""A stand-in for a real account: a proxy in front of a served emulator that hides its admin API.

Through the proxy, the contract suite and the probe see what they would see on a real account:
an endpoint that answers the operation faithfully and has no `/_emulator/` admin API, so every
real-account rule applies (pacing, the recording budget, generated traffic on streams that cannot
record). The proxy counts what a real account would bill: the requests it forwarded and the
successful recording-starting calls (start and restart, read from the spec's lifecycle), and
keeps the arrival time of every request. `bench/contracts.py` measures each profile's real cost
with it, and the tests use it to prove the budgets.

Requests are forwarded byte for byte (method, path, raw query, headers with the original Host,
body), so signatures made for the proxy's address verify upstream.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import httpx
import uvicorn
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from acscontract.contracts.budget import recording_commands
from acscontract.emulator import ADMIN_PREFIX
from acscontract.signing import Param
from acscontract.spec import Operation, operation, product_operation

__all__ = ["StandIn", "StandInCounts", "real_account_standin"]

_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "content-length"}
)


@dataclass(slots=True)
class StandInCounts:
    """What went through the proxy. `arrivals` are `time.monotonic()` readings."""

    requests: int = 0
    recordings: int = 0
    writes: int = 0
    """Successful (200) calls of operations the spec says write that have no lifecycle: what
    could change the account's configuration or bill."""
    commands: int = 0
    """Successful (200) commands of operations with a lifecycle (start, stop, ...)."""
    hidden: int = 0
    """Requests to the admin API, refused as a real account would."""
    by_command: dict[str, int] = field(default_factory=dict)
    writes_by_operation: dict[str, int] = field(default_factory=dict)
    arrivals: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reset(self) -> None:
        """Start counting again from zero."""
        with self.lock:
            self.requests = self.recordings = self.writes = self.commands = self.hidden = 0
            self.by_command.clear()
            self.writes_by_operation.clear()
            self.arrivals.clear()


@dataclass(frozen=True, slots=True)
class StandIn:
    """A running stand-in: its URL and its counts."""

    url: str
    counts: StandInCounts


class _Proxy:
    def __init__(self, upstream: str, op: Operation, counts: StandInCounts) -> None:
        self.upstream = upstream.rstrip("/")
        self.counts = counts
        self.op = op
        self.product = op.product
        self.client = httpx.AsyncClient(timeout=30)

    def _call(
        self, query: str, body: bytes, headers: dict[str, str]
    ) -> tuple[Operation | None, str | None]:
        """The product's operation this request calls (None: none), and the lifecycle command it
        carries, if any."""
        pairs = parse_qsl(query, keep_blank_values=True)
        if body and "form" in headers.get("content-type", ""):
            pairs += parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        values = dict(pairs)
        action = values.get(Param.ACTION.value) or headers.get("x-acs-action")
        version = values.get(Param.VERSION.value) or headers.get("x-acs-version")
        if not action or version != self.product.version:
            return None, None
        op = self.op if action == self.op.name else product_operation(self.product, action)
        if op is None:
            return None, None
        command = op.command_parameter
        return op, (values.get(command.name) if command is not None else None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # pragma: no cover - lifespan is off
            return
        request = Request(scope, receive)
        path = scope.get("path") or "/"
        if path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
            with self.counts.lock:
                self.counts.hidden += 1
            await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)
            return
        arrived = time.monotonic()
        body = await request.body()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = scope.get("query_string", b"").decode("latin-1")
        raw_path = scope.get("raw_path") or path.encode()
        target = self.upstream.encode() + raw_path + (b"?" + query.encode() if query else b"")
        forwarded = {k: v for k, v in headers.items() if k not in _HOP_BY_HOP}
        upstream = await self.client.send(
            self.client.build_request(
                scope["method"],
                httpx.URL(target.decode("latin-1")),
                headers=forwarded,
                content=body,
            )
        )
        op, command = self._call(query, body, headers)
        succeeded = upstream.status_code == 200
        with self.counts.lock:
            self.counts.requests += 1
            self.counts.arrivals.append(arrived)
            if op is not None and succeeded and command is not None:
                self.counts.commands += 1
                if command in recording_commands(op):
                    self.counts.recordings += 1
                    self.counts.by_command[command] = self.counts.by_command.get(command, 0) + 1
            elif op is not None and succeeded and op.writes is not None:
                self.counts.writes += 1
                by_op = self.counts.writes_by_operation
                by_op[op.name] = by_op.get(op.name, 0) + 1
        response = Response(
            upstream.content,
            status_code=upstream.status_code,
            headers={k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP},
        )
        await response(scope, receive, send)


@contextlib.contextmanager
def real_account_standin(
    upstream: str, *, host: str = "127.0.0.1", port: int = 0, op: Operation | None = None
) -> Iterator[StandIn]:
    """Serve the stand-in proxy for `upstream` (a served emulator's URL) in a background thread.

    Yields a `StandIn` with its URL and counts; the server stops when the block ends.
    """
    counts = StandInCounts()
    app = _Proxy(upstream, op or operation(), counts)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    bound_host, bound_port = sock.getsockname()[:2]
    config = uvicorn.Config(
        app, lifespan="off", log_level="warning", access_log=False, server_header=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="acscontract-standin", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    try:
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the stand-in proxy did not start")
            time.sleep(0.005)
        yield StandIn(f"http://{bound_host}:{bound_port}", counts)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
