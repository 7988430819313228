"""The ASGI front door (starlette): every path goes to the emulator core, except `/_emulator/`.

`/_emulator/` is the admin API. It trusts no browser: a request whose `Host` is not the server's
own address, `localhost` or a loopback literal is refused (DNS rebinding), so is one whose
`Origin` is another site's, and a POST whose body is not `application/json` (a cross-site form
or `text/plain` fetch). Then, without an admin token it answers loopback clients only; with a
token, every admin call must carry `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import Message, Receive, Scope, Send

from acscontract._loopback import host_of, is_ip_literal, is_loopback_host
from acscontract._resources import DOCS_URL
from acscontract.emulator._core import Emulator, StateStoreError
from acscontract.emulator._types import EmulatorRequest, EmulatorResponse
from acscontract.errors import AcsContractError, UsageError

__all__ = ["ADMIN_PREFIX", "asgi_app"]

#: Where the admin API lives; nothing under it reaches the emulated endpoint.
ADMIN_PREFIX = "/_emulator"

_log = logging.getLogger("acscontract.emulator")
# The server's own `send`, before any middleware wraps it: a dropped connection needs it.
_RAW_SEND = "acscontract.raw_send"
_JSON = "application/json"
# Addresses that mean "every interface": a server bound there is reached by any of its IPs.
_WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - names, not a bind


class _GroupCommit:
    """Writes the live store once for all the calls handled while a write is due.

    The write runs two event-loop turns after the first call that waits for it, so calls whose
    bytes arrive in between join it. A call's answer waits for the write that contains its
    change (and every change it may have seen), so nothing is acknowledged before it is
    durable; a burst of calls from many connections costs one transaction instead of one each.
    """

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self._due: asyncio.Future[None] | None = None

    def due(self) -> asyncio.Future[None]:
        """The write the pending changes, this call's included, will be in: await it.

        The calls of one group await the same future. When one of them is cancelled (the
        server is stopping) the future is cancelled with it, and every call of the group gets
        CancelledError: the front door then writes at once instead.
        """
        done = self._due
        if done is None or done.cancelled():
            loop = asyncio.get_running_loop()
            done = self._due = loop.create_future()
            loop.call_soon(self._next_turn, loop)
        return done

    def _next_turn(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.call_soon(self._write)

    def _write(self) -> None:
        done, self._due = self._due, None
        try:
            self.emulator.write_pending()
        except StateStoreError:
            _log.exception("The emulator could not write a change to its live store.")
        finally:
            if done is not None and not done.done():  # done already when it was cancelled
                done.set_result(None)


class _EndpointApp:
    """The raw ASGI app that hands every request to the emulator core."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.commits = _GroupCommit(emulator)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # pragma: no cover - lifespan is off, websockets unused
            return
        raw_headers = scope["headers"]
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in raw_headers
        }
        if len(headers) != len(raw_headers):  # a repeated header: its values joined, in order
            headers = {}
            for raw_name, raw_value in raw_headers:
                name = raw_name.decode("latin-1").lower()
                value = raw_value.decode("latin-1")
                headers[name] = f"{headers[name]},{value}" if name in headers else value
        limit = self.emulator.body_limit
        announced = _content_length(headers)
        if announced is not None and announced > limit:
            # Refused on the header alone: the body is never read.
            await _respond(send, self.emulator.body_too_large(announced), close=True)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            try:
                message = await receive()
            except asyncio.CancelledError:
                # The server is stopping and this body never came: say so, and let it go.
                await _respond(send, self.emulator.stopping(), close=True)
                return
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _respond(send, self.emulator.body_too_large(size), close=True)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        client = scope.get("client")
        request = EmulatorRequest(
            method=scope["method"],
            host=headers.get("host", ""),
            path=scope.get("path") or "/",
            query=scope.get("query_string", b"").decode("utf-8", "surrogateescape"),
            headers=MappingProxyType(headers),
            body=chunks[0] if len(chunks) == 1 else b"".join(chunks),
            client_ip=client[0] if client else "127.0.0.1",
            secure=scope.get("scheme") == "https",
        )
        # The core is quick and CPU-bound: calling it inline beats a thread hop. Its change is
        # written by the group commit, before the answer leaves.
        emulator = self.emulator
        with emulator.deferred_writes() as ticket:
            response = emulator.handle(request)
        if emulator.pending_writes:
            try:
                await self.commits.due()
            except asyncio.CancelledError:  # stopping: write now rather than on the next turn
                with contextlib.suppress(StateStoreError):
                    emulator.write_pending()
        if not emulator.committed(ticket):
            response = emulator.internal_error()
        if response.delay_s > 0:
            with contextlib.suppress(asyncio.CancelledError):  # stopping: answer without delay
                await asyncio.sleep(response.delay_s)
        if response.drop_connection:
            await _drop(scope.get(_RAW_SEND, send))
            return
        await _respond(send, response, raw_send=scope.get(_RAW_SEND))


def _content_length(headers: dict[str, str]) -> int | None:
    value = headers.get("content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


async def _respond(
    send: Send, response: EmulatorResponse, *, close: bool = False, raw_send: Send | None = None
) -> None:
    headers = [
        *((k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers),
        (b"content-length", str(len(response.body)).encode()),
    ]
    if close:  # the client may still be sending a body nobody will read
        headers.append((b"connection", b"close"))
    start = {"type": "http.response.start", "status": response.status, "headers": headers}
    body = {"type": "http.response.body", "body": response.body}
    # Under uvicorn, the status line, headers and body leave in one write instead of two: the
    # server's transport is swapped for a buffer while uvicorn formats the response.
    cycle = getattr(raw_send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if (
        cycle is None
        or raw_send is not send
        or transport is None
        or not callable(getattr(transport, "write", None))
    ):
        await send(start)
        await send(body)
        return
    buffer = _CoalescedWrites(transport)
    cycle.transport = buffer
    try:
        await send(start)
        await send(body)
    finally:
        cycle.transport = transport
        buffer.flush()


class _CoalescedWrites:
    """A transport stand-in that keeps what is written until `flush` (or `close`)."""

    __slots__ = ("_chunks", "_transport")

    def __init__(self, transport: Any) -> None:
        self._transport = transport
        self._chunks: list[bytes] = []

    def write(self, data: bytes) -> None:
        self._chunks.append(data)

    def flush(self) -> None:
        if self._chunks:
            data = b"".join(self._chunks)
            self._chunks.clear()
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


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


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


Endpoint = Callable[[Request], Awaitable[Response]]


class AdminGuard:
    """Who may use the admin API: the checks every admin request passes, in order.

    1. `Host` names this server: `localhost`, a loopback literal, or the bound address (any IP
       literal when the server is bound to every interface). A DNS name that merely resolves
       here is refused: that is how DNS rebinding reaches a local server from a web page.
    2. `Origin`, when a browser sends one, is this server's own origin.
    3. A POST carries `Content-Type: application/json` (a POST without a body may omit it):
       browsers send cross-site forms and `text/plain` without asking first.
    4. The token, when the server has one; otherwise the client is on loopback.
    """

    def __init__(self, admin_token: str | None, bound_hosts: Iterable[str]) -> None:
        if admin_token is not None and not admin_token.strip():
            raise UsageError(
                "The admin token is empty; give a real one (or none, to keep the admin API "
                "loopback-only)."
            )
        self.token = admin_token
        hosts = {host_of(h) for h in bound_hosts}
        self.any_ip = bool(hosts & _WILDCARD_HOSTS)
        self.hosts = frozenset(hosts - _WILDCARD_HOSTS)

    def host_allowed(self, netloc: str) -> bool:
        host = host_of(netloc)
        if is_loopback_host(host) or host in self.hosts:
            return True
        return self.any_ip and is_ip_literal(host)

    def refusal(self, request: Request) -> JSONResponse | None:
        """Why this admin request is refused, or None when it may go on."""
        netloc = request.headers.get("host", "")
        if not self.host_allowed(netloc):
            return _error(
                403,
                "The admin API answers requests addressed to this server's own address, "
                "localhost or a loopback address only; this one names another host.",
            )
        origin = request.headers.get("origin")
        if origin is not None and origin not in (f"http://{netloc}", f"https://{netloc}"):
            return _error(403, "The admin API refuses requests from web pages of other origins.")
        if request.method == "POST":
            content_type = request.headers.get("content-type")
            given = (content_type or "").split(";", 1)[0].strip().lower()
            has_body = (
                request.headers.get("content-length", "0") not in ("0", "")
                or "transfer-encoding" in request.headers
            )
            if given != _JSON and (content_type is not None or has_body):
                return _error(
                    415,
                    "An admin POST must send its body as JSON (Content-Type: application/json).",
                )
        if self.token is not None:
            given_auth = request.headers.get("authorization", "")
            scheme, _, token = given_auth.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                token.strip().encode("utf-8", "surrogateescape"), self.token.encode()
            ):
                return _error(
                    401,
                    "The admin API needs 'Authorization: Bearer <token>' with the token "
                    "`acscontract emulator serve` printed.",
                )
        elif not is_loopback_host(request.client.host if request.client else None):
            return _error(
                403,
                "The admin API answers loopback clients only; start the server with "
                "--admin-token to reach it from elsewhere.",
            )
        return None


def _admin_routes(emulator: Emulator, guard: AdminGuard) -> list[Route]:
    def guarded(endpoint: Endpoint) -> Endpoint:
        async def wrapper(request: Request) -> Response:
            refused = guard.refusal(request)
            if refused is not None:
                return refused
            try:
                return await endpoint(request)
            except StateStoreError as exc:
                return _error(503, str(exc))
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
        except RecursionError:
            raise _BadBody("The request body is JSON nested too deeply to read.") from None

    def picked(record: Mapping[str, Any], wanted: Mapping[str, str]) -> bool:
        return all(str(record.get(k)) == v for k, v in wanted.items() if k in record)

    async def state(request: Request) -> Response:
        view = emulator.state
        # ?Field=value (DomainName, AppName, StreamName, ...) narrows every list to the records
        # that have that field with that value.
        wanted = dict(request.query_params)
        world = {
            resource: [
                {"account": account, **record}
                for account, record in records
                if picked(record, wanted)
            ]
            for resource, records in view.records.items()
        }
        return JSONResponse(
            {
                "product": f"{emulator.product.name}/{emulator.product.version}",
                "operation": emulator.operation.qualified_name,
                "unmodelled": emulator.unmodelled,
                "throttle": emulator.throttle_algorithm,
                "now": emulator.clock.now(),
                "gateway_now": emulator.gateway_now(),
                "gateway_offset": emulator.gateway_offset,
                "accounts": list(view.accounts),
                "identifiers": {k: list(v) for k, v in view.identifiers.items()},
                "lifecycles": dict(view.lifecycles),
                "produces": emulator.produced_resources(),
                "seed": emulator.seed_binding(),
                "world": world,
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
        key = (p["domain"], p["app"], p["stream"])
        emulator.set_stream_online(*key, online)
        return JSONResponse(
            {"key": list(key), "online": online, "task": emulator.state.task_state(*key)}
        )

    async def record(request: Request) -> Response:
        data = await body_json(request)
        key = data.get("key") if isinstance(data, dict) else None
        fields = data.get("fields") if isinstance(data, dict) else None
        if (
            not isinstance(key, list)
            or not all(isinstance(k, str) for k in key)
            or not isinstance(fields, dict)
        ):
            return _error(400, 'The body must be {"key": [identifier values...], "fields": {...}}.')
        resource = request.path_params["resource"]
        emulator.set_record(resource, tuple(key), fields)
        return JSONResponse({"resource": resource, "key": key, "fields": fields})

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
            now = emulator.advance_clock(seconds)
        except AcsContractError as exc:
            return _error(409, str(exc))
        return JSONResponse({"now": now, "recordings": len(emulator.recordings())})

    async def gateway_offset(request: Request) -> Response:
        data = await body_json(request)
        seconds = data.get("seconds") if isinstance(data, dict) else None
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            return _error(400, 'The body must be {"seconds": <the gateway clock\'s offset>}.')
        emulator.set_gateway_offset(seconds)
        return JSONResponse(
            {"gateway_offset": emulator.gateway_offset, "gateway_now": emulator.gateway_now()}
        )

    async def recordings(request: Request) -> Response:
        return JSONResponse({"recordings": [r.to_json() for r in emulator.recordings()]})

    async def snapshot(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(emulator.snapshot())
        # Inline data only: restoring never reads the server's files, and no error names one.
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
        return Route(path, guarded(endpoint), methods=methods)

    return [
        route("/state", state, ["GET"]),
        route("/reset", reset, ["POST"]),
        route("/seed", seed, ["POST"]),
        route("/streams/{domain}/{app}/{stream}", stream, ["POST"]),
        route("/records/{resource}", record, ["POST"]),
        route("/faults", faults, ["GET", "POST", "DELETE"]),
        route("/faults/{rule_id}", fault, ["DELETE"]),
        route("/clock/advance", advance, ["POST"]),
        route("/clock/gateway-offset", gateway_offset, ["POST"]),
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


async def _bad_body(request: Request, exc: Exception) -> Response:
    """Starlette's handler for `_BadBody`, raised by any admin endpoint: a 400 naming it."""
    return _error(400, str(exc))


class _EmulatorApp(Starlette):
    """Starlette for the admin API; calls to the endpoint skip its routing and middleware.

    The endpoint path is the hot one, and the core answers every error itself. The server's own
    `send` is kept in the scope for `_drop`.
    """

    def __init__(self, endpoint: _EndpointApp, routes: list[Mount]) -> None:
        super().__init__(routes=routes, exception_handlers={_BadBody: _bad_body})
        self._endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[_RAW_SEND] = send
        if scope["type"] == "http" and not _is_admin_path(scope.get("path", "")):
            await self._endpoint(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await super().__call__(scope, receive, tracked)
        except asyncio.CancelledError:
            # The server is stopping while this admin call waits for its body.
            if not started:
                await _error(503, "The emulator is stopping.")(scope, receive, send)


def _is_admin_path(path: str) -> bool:
    return path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")


def asgi_app(
    emulator: Emulator, *, admin_token: str | None = None, bound_hosts: Iterable[str] = ()
) -> Starlette:
    """A starlette app over `emulator`: the endpoint at every path, the admin API under
    `/_emulator/`.

    Without `admin_token` the admin API answers loopback clients only; with one, it requires
    `Authorization: Bearer <admin_token>` on every admin call (an empty token is a UsageError).
    `bound_hosts` are the addresses the server listens on: admin requests may name them in
    `Host`, besides `localhost` and loopback literals (see AdminGuard).
    """
    guard = AdminGuard(admin_token, bound_hosts)
    endpoint = _EndpointApp(emulator)
    app = _EmulatorApp(
        endpoint,
        routes=[
            Mount(ADMIN_PREFIX, routes=_admin_routes(emulator, guard)),
            Mount("/", app=endpoint),
        ],
    )
    app.state.emulator = emulator
    return app
