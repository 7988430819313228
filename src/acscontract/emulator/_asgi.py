"""The ASGI front door (starlette): every path goes to the emulator core, except `/_emulator/`.

`/_emulator/` is the admin API. Without an admin token it answers loopback clients only; with a
token, every admin call must carry `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from acscontract._resources import DOCS_URL
from acscontract.emulator._core import Emulator
from acscontract.emulator._types import EmulatorRequest
from acscontract.errors import AcsContractError

__all__ = ["ADMIN_PREFIX", "asgi_app"]

#: Where the admin API lives; nothing under it reaches the emulated endpoint.
ADMIN_PREFIX = "/_emulator"

_MAX_BODY = 1 << 20
# The server's own `send`, before any middleware wraps it: a dropped connection needs it.
_RAW_SEND = "acscontract.raw_send"


class _EndpointApp:
    """The raw ASGI app that hands every request to `Emulator.handle`."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # pragma: no cover - lifespan is off, websockets unused
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > _MAX_BODY:
                await _plain(send, 413, b"The request body is larger than 1 MiB.")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:
            name = raw_name.decode("latin-1").lower()
            value = raw_value.decode("latin-1")
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        client = scope.get("client")
        request = EmulatorRequest(
            method=scope["method"],
            host=headers.get("host", ""),
            path=scope.get("path") or "/",
            query=scope.get("query_string", b"").decode("utf-8", "surrogateescape"),
            headers=headers,
            body=b"".join(chunks),
            client_ip=client[0] if client else "127.0.0.1",
            secure=scope.get("scheme") == "https",
        )
        # The core is quick and CPU-bound: calling it inline beats a thread hop.
        response = self.emulator.handle(request)
        if response.delay_s > 0:
            await asyncio.sleep(response.delay_s)
        if response.drop_connection:
            await _drop(scope.get(_RAW_SEND, send))
            return
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [
                    *((k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers),
                    (b"content-length", str(len(response.body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": response.body})


async def _plain(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _drop(send: Send) -> None:
    """Close the connection without an answer.

    Under uvicorn the server's ASGI `send` is bound to the connection's request cycle, whose
    transport can be aborted; under any other server the app raises ConnectionError.
    """
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    abort = getattr(transport, "abort", None)
    if not callable(abort):
        raise ConnectionError("The emulator dropped the connection (a fault rule asked for it).")
    abort()
    await asyncio.sleep(0)  # let the server notice the disconnect before the app returns
    if cycle is not None and hasattr(cycle, "disconnected"):
        cycle.disconnected = True


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


Endpoint = Callable[[Request], Awaitable[Response]]


def _admin_routes(emulator: Emulator, admin_token: str | None) -> list[Route]:
    def guarded(endpoint: Endpoint) -> Endpoint:
        async def wrapper(request: Request) -> Response:
            if admin_token is not None:
                given = request.headers.get("authorization", "")
                scheme, _, token = given.partition(" ")
                if scheme.lower() != "bearer" or not hmac.compare_digest(
                    token.strip().encode(), admin_token.encode()
                ):
                    return _error(
                        401,
                        "The admin API needs 'Authorization: Bearer <token>' with the token "
                        "`acscontract emulator serve` printed.",
                    )
            elif not _is_loopback(request.client.host if request.client else None):
                return _error(
                    403,
                    "The admin API answers loopback clients only; start the server with "
                    "--admin-token to reach it from elsewhere.",
                )
            try:
                return await endpoint(request)
            except AcsContractError as exc:
                return _error(400, str(exc))

        return wrapper

    async def body_json(request: Request) -> Any:
        raw = await request.body()
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise _BadBody(f"The request body is not JSON ({exc}).") from None

    async def state(request: Request) -> Response:
        view = emulator.state
        streams = [
            {
                "domain": d,
                "app": a,
                "stream": s,
                "online": online,
                "task": view.task_state(d, a, s),
            }
            for (d, a, s), online in view.streams.items()
        ]
        tasks = [
            {
                "domain": t.domain,
                "app": t.app,
                "stream": t.stream,
                "state": t.state,
                "segment_started_at": t.segment_started_at,
                "timer": t.timer,
                "timer_due": t.timer_due,
            }
            for t in view.tasks.values()
        ]
        return JSONResponse(
            {
                "operation": emulator.operation.qualified_name,
                "throttle": emulator.throttle_algorithm,
                "now": emulator.clock.now(),
                "accounts": list(view.accounts),
                "streams": streams,
                "tasks": tasks,
                "recordings": [r.to_json() for r in view.recordings],
                "faults": [r.to_json() for r in emulator.faults()],
            }
        )

    async def reset(request: Request) -> Response:
        emulator.reset()
        return JSONResponse({"reset": True})

    async def seed(request: Request) -> Response:
        data = await body_json(request)
        if not isinstance(data, dict):
            return _error(400, "The body must be a seed: a JSON object with an accounts list.")
        emulator.load_seed(data, allow_files=False)
        return JSONResponse({"seeded": True, "accounts": list(emulator.state.accounts)})

    async def stream(request: Request) -> Response:
        data = await body_json(request)
        online = data.get("online") if isinstance(data, dict) else None
        if not isinstance(online, bool):
            return _error(400, 'The body must be {"online": true} or {"online": false}.')
        p = request.path_params
        emulator.set_stream_online(p["domain"], p["app"], p["stream"], online)
        view = emulator.state
        return JSONResponse(
            {
                "domain": p["domain"],
                "app": p["app"],
                "stream": p["stream"],
                "online": online,
                "task": view.task_state(p["domain"], p["app"], p["stream"]),
            }
        )

    async def faults(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(
                {
                    "faults": [r.to_json() for r in emulator.faults()],
                    "counters": emulator.fault_counters(),
                }
            )
        if request.method == "DELETE":
            emulator.clear_faults()
            return JSONResponse({"faults": []})
        rule = emulator.add_fault(await body_json(request))
        return JSONResponse(rule.to_json(), status_code=201)

    async def fault(request: Request) -> Response:
        rule_id = request.path_params["rule_id"]
        if not emulator.remove_fault(rule_id):
            return _error(404, f"There is no fault rule {rule_id!r}.")
        return JSONResponse({"removed": rule_id})

    async def advance(request: Request) -> Response:
        data = await body_json(request)
        seconds = data.get("seconds") if isinstance(data, dict) else None
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            return _error(400, 'The body must be {"seconds": <a number of seconds, 0 or more>}.')
        try:
            now = emulator.advance_clock(float(seconds))
        except AcsContractError as exc:
            return _error(409, str(exc))
        return JSONResponse({"now": now, "recordings": len(emulator.recordings())})

    async def recordings(request: Request) -> Response:
        return JSONResponse({"recordings": [r.to_json() for r in emulator.recordings()]})

    async def snapshot(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(emulator.snapshot())
        emulator.restore(await body_json(request), source="POST /_emulator/snapshot")
        return JSONResponse({"restored": True})

    async def qps(request: Request) -> Response:
        data = await body_json(request)
        value = data.get("qps", "missing") if isinstance(data, dict) else "missing"
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            return _error(400, 'The body must be {"qps": <a positive integer or null>}.')
        if value is not None and value < 1:
            return _error(400, "qps must be 1 or more (or null for the spec's limit).")
        emulator.set_account_qps(request.path_params["account"], value)
        return JSONResponse({"account": request.path_params["account"], "qps": value})

    async def not_found(request: Request) -> Response:
        return _error(
            404,
            f"There is no admin endpoint {request.method} {request.url.path}; see "
            f"{DOCS_URL}emulator.md for the admin API.",
        )

    def route(path: str, endpoint: Endpoint, methods: list[str]) -> Route:
        return Route(path, _with_body_errors(guarded(endpoint)), methods=methods)

    return [
        route("/state", state, ["GET"]),
        route("/reset", reset, ["POST"]),
        route("/seed", seed, ["POST"]),
        route("/streams/{domain}/{app}/{stream}", stream, ["POST"]),
        route("/faults", faults, ["GET", "POST", "DELETE"]),
        route("/faults/{rule_id}", fault, ["DELETE"]),
        route("/clock/advance", advance, ["POST"]),
        route("/recordings", recordings, ["GET"]),
        route("/snapshot", snapshot, ["GET", "POST"]),
        route("/accounts/{account}/qps", qps, ["POST"]),
        route(
            "/{rest:path}",
            not_found,
            ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"],
        ),
    ]


class _BadBody(AcsContractError):
    """The admin request's body is not what the endpoint needs."""


def _with_body_errors(endpoint: Endpoint) -> Endpoint:
    async def wrapper(request: Request) -> Response:
        try:
            return await endpoint(request)
        except _BadBody as exc:
            return _error(400, str(exc))

    return wrapper


class _EmulatorApp(Starlette):
    """Starlette for the admin API; calls to the endpoint skip its routing and middleware.

    The endpoint path is the hot one, and the core answers every error itself. The server's own
    `send` is kept in the scope for `_drop`.
    """

    def __init__(self, endpoint: _EndpointApp, routes: list[Mount]) -> None:
        super().__init__(routes=routes)
        self._endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[_RAW_SEND] = send
        if scope["type"] == "http" and not _is_admin_path(scope.get("path", "")):
            await self._endpoint(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _is_admin_path(path: str) -> bool:
    return path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")


def asgi_app(emulator: Emulator, *, admin_token: str | None = None) -> Starlette:
    """A starlette app over `emulator`: the endpoint at every path, the admin API under
    `/_emulator/`.

    Without `admin_token` the admin API answers loopback clients only; with one, it requires
    `Authorization: Bearer <admin_token>` on every admin call.
    """
    endpoint = _EndpointApp(emulator)
    app = _EmulatorApp(
        endpoint,
        routes=[
            Mount(ADMIN_PREFIX, routes=_admin_routes(emulator, admin_token)),
            Mount("/", app=endpoint),
        ],
    )
    app.state.emulator = emulator
    return app
