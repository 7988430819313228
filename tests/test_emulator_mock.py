"""mock_live: what it intercepts on every transport, what it refuses, how it lives with other
mocks, threads, tasks and time travel."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import httpx
import pytest
import requests
import responses
import respx
import time_machine
from aiohttp.client_reqrep import ClientResponse
from aioresponses import aioresponses
from aliyunsdkcore.vendored import requests as vendored_requests
from freezegun import freeze_time
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest_httpx import HTTPXMock

import acscontract
from acscontract.client import Client, TransportError
from acscontract.emulator import (
    Emulator,
    EmulatorRequest,
    EmulatorResponse,
    LiveCall,
    LiveMock,
    LiveMockError,
    ManualClock,
    OffsetClock,
    mock_live,
)
from acscontract.emulator._mock import live_endpoints
from acscontract.emulator._mock._core import INTERCEPTOR
from acscontract.emulator._mock._routing import Routing
from acscontract.signing import Credentials, Scheme
from acscontract.spec import operation

OP = operation()
LIFECYCLE = OP.lifecycle
assert LIFECYCLE is not None
COMMAND = OP.command_parameter
assert COMMAND is not None
DOMAIN_PARAM, APP_PARAM, STREAM_PARAM = LIFECYCLE.key
RECORDING = LIFECYCLE.transition(LIFECYCLE.initial, "start")
assert RECORDING is not None
ALREADY_STARTED = LIFECYCLE.transition(RECORDING.next_state, "start")
assert ALREADY_STARTED is not None
assert ALREADY_STARTED.error is not None
ALREADY_STARTED_STATUS = OP.status_of(ALREADY_STARTED.error)
STOPPED = LIFECYCLE.transition(RECORDING.next_state, "stop")
assert STOPPED is not None
DELAY_S = max(LIFECYCLE.timers.values())
DELAY_EVENT = LIFECYCLE.event_for_timer(next(iter(LIFECYCLE.timers)))
DEFAULT = OP.product.default_endpoint
RULES = OP.product.protocol.endpoint_rules
assert RULES is not None
NO_ACTION = OP.protocol.gateway_errors_in("action")[0].code
NO_ACTION_STATUS = OP.status_of(NO_ACTION)

ROOT = Credentials("LTAImockRoot000000001", "mock-root-secret-not-real-0000001")
DOMAIN, APP = "push.example.com", "live"
STREAMS = [f"s{i}" for i in range(32)]
SEED: dict[str, Any] = {
    "accounts": [
        {
            "id": "1234567890123456",
            "qps": 1_000_000,
            "access_keys": [{"id": ROOT.access_key_id, "secret": ROOT.access_key_secret}],
            "domains": [
                {
                    "name": DOMAIN,
                    "apps": [
                        {
                            "name": APP,
                            "record_config": True,
                            "streams": [{"name": s, "online": True} for s in STREAMS],
                        }
                    ],
                }
            ],
        }
    ]
}

#: The functions a mock patches, as they are with no mock active.
ORIGINALS: dict[tuple[Any, str], Any] = {
    (owner, name): vars(owner)[name]
    for owner, name in (
        (requests.Session, "get_adapter"),
        (vendored_requests.Session, "get_adapter"),
        (aiohttp.ClientSession, "request"),
        (aiohttp.ClientSession, "post"),
        (aiohttp, "request"),
        (httpx.Client, "_send_single_request"),
        (httpx.AsyncClient, "_send_single_request"),
    )
}


def nothing_patched() -> bool:
    return INTERCEPTOR.installed == () and all(
        vars(owner)[name] is original for (owner, name), original in ORIGINALS.items()
    )


def params(command: str = "start", stream: str = "s0") -> dict[str, str]:
    return {COMMAND.name: command, DOMAIN_PARAM: DOMAIN, APP_PARAM: APP, STREAM_PARAM: stream}


def start(endpoint: str, stream: str = "s0", scheme: Scheme = Scheme.V3) -> Any:
    return Client(endpoint, ROOT, scheme=scheme).call(
        OP.name, OP.product.version, params("start", stream)
    )


def task_state(emulator: Emulator, stream: str = "s0") -> str:
    return emulator.state.task_state(DOMAIN, APP, stream)


def signed(base: str, command: str = "start", stream: str = "s0") -> tuple[str, dict[str, str]]:
    """A signed call's URL and headers, for any HTTP library to send."""
    client = Client(base, ROOT)
    wire = client.build(OP.name, OP.product.version, params(command, stream))
    return f"{client.endpoint}{wire.path}?{wire.query}", dict(wire.headers)


# --- the transports -----------------------------------------------------------------------


@dataclass(frozen=True)
class Transport:
    """One HTTP library: how to send with it, and its errors for a refusal, a drop, a timeout."""

    name: str
    send: Callable[[str, str, dict[str, str], float], tuple[int, bytes]]
    refused: type[BaseException]
    dropped: type[BaseException]
    timed_out: type[BaseException]


def _requests(method: str, url: str, headers: dict[str, str], timeout: float) -> tuple[int, bytes]:
    response = requests.request(method, url, headers=headers, timeout=timeout)
    return response.status_code, response.content


def _vendored(method: str, url: str, headers: dict[str, str], timeout: float) -> tuple[int, bytes]:
    response = vendored_requests.request(method, url, headers=headers, timeout=timeout)
    return response.status_code, response.content


def _aiohttp(method: str, url: str, headers: dict[str, str], timeout: float) -> tuple[int, bytes]:
    async def go() -> tuple[int, bytes]:
        client_timeout = aiohttp.ClientTimeout(sock_read=timeout)
        async with (
            aiohttp.ClientSession(timeout=client_timeout) as session,
            session.request(method, url, headers=headers) as response,
        ):
            return response.status, await response.read()

    return asyncio.run(go())


def _httpx(method: str, url: str, headers: dict[str, str], timeout: float) -> tuple[int, bytes]:
    with httpx.Client(timeout=timeout) as client:
        response = client.request(method, url, headers=headers)
        return response.status_code, response.content


def _httpx_async(
    method: str, url: str, headers: dict[str, str], timeout: float
) -> tuple[int, bytes]:
    async def go() -> tuple[int, bytes]:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.request(method, url, headers=headers)
            return response.status_code, response.content

    return asyncio.run(go())


TRANSPORTS = [
    Transport(
        "requests", _requests, requests.ConnectionError, requests.ConnectionError, requests.Timeout
    ),
    Transport(
        "vendored",
        _vendored,
        vendored_requests.ConnectionError,
        vendored_requests.ConnectionError,
        vendored_requests.Timeout,
    ),
    Transport(
        "aiohttp",
        _aiohttp,
        aiohttp.ClientOSError,
        aiohttp.ServerDisconnectedError,
        asyncio.TimeoutError,
    ),
    Transport("httpx", _httpx, httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadTimeout),
    Transport(
        "httpx-async",
        _httpx_async,
        httpx.ConnectError,
        httpx.RemoteProtocolError,
        httpx.ReadTimeout,
    ),
]
BY_TRANSPORT = pytest.mark.parametrize("transport", TRANSPORTS, ids=lambda t: t.name)


def send(transport: Transport, url: str, headers: dict[str, str] | None = None) -> Any:
    """Send with a transport; the status and the JSON body (or the text when it is not JSON)."""
    status, body = transport.send("POST", url, headers or {}, 5.0)
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode()


class NetworkReached(OSError):
    """The request got as far as resolving a host: it would have reached the network."""


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record (and stop) every host a test tries to resolve, loopback aside."""
    seen: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name in ("127.0.0.1", "localhost", "::1"):
            return real(host, *args, **kwargs)
        seen.append(name)
        raise NetworkReached(f"test network guard: {name} would have been resolved")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return seen


@pytest.fixture(scope="module")
def local_server() -> Iterator[str]:
    """A plain HTTP server on loopback: the 'network' that passthrough lets requests reach."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            body = f"real:{self.path}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = answer

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class SeenEmulator(Emulator):
    """The real emulator, keeping the requests it was handed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[EmulatorRequest] = []

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        self.seen.append(request)
        return super().handle(request)


# --- every Live endpoint, on every transport ----------------------------------------------


@pytest.mark.parametrize("endpoint", live_endpoints())
@pytest.mark.parametrize("url_scheme", OP.schemes)
@pytest.mark.parametrize("port", ["", ":8443"])
def test_every_listed_endpoint_is_answered_by_the_emulator(
    endpoint: str, url_scheme: str, port: str
) -> None:
    with mock_live(SEED, passthrough=False) as emulator:
        response = start(f"{url_scheme}://{endpoint}{port}")
        assert response.status == 200, response.json
        assert task_state(emulator) == RECORDING.next_state


def test_the_endpoints_come_from_the_spec_and_the_official_metadata() -> None:
    product = OP.product
    assert set(live_endpoints()) == {product.default_endpoint, *product.endpoints.values()}
    assert product.metadata_path is not None
    metadata = json.loads(product.metadata_path.read_text(encoding="utf-8"))
    assert {e["endpoint"] for e in metadata["endpoints"]} <= set(live_endpoints())


def regional_hosts() -> list[str]:
    """Hosts the endpoint rules name: listed regions, and one the product list does not have."""
    regions = [*sorted(OP.product.endpoints)[:2], "xx-unlisted-9"]
    hosts = []
    for region in regions:
        for network in RULES.networks:
            hosts.append(f"{OP.product.name}{network}.{region}.{RULES.domain}")
    return hosts


@BY_TRANSPORT
def test_regional_and_vpc_endpoints_are_answered_on_every_transport(
    transport: Transport, network: list[str]
) -> None:
    hosts = regional_hosts()
    assert any("-vpc." in host for host in hosts)
    urls = [f"https://{host}" for host in hosts]
    # Any scheme and port, any case, and the trailing dot of a fully qualified name.
    urls += [f"http://{hosts[0]}:8080", f"https://{hosts[1].upper()}", f"https://{hosts[2]}."]
    with mock_live(SEED, passthrough=False) as emulator:
        for index, base in enumerate(urls):
            status, body = send(transport, *signed(base, stream=STREAMS[index]))
            assert status == 200, (base, body)
        states = {task_state(emulator, STREAMS[i]) for i in range(len(urls))}
    assert states == {RECORDING.next_state}
    assert network == []


@BY_TRANSPORT
def test_the_emulator_sees_the_request_a_server_would(transport: Transport) -> None:
    emulator = SeenEmulator(SEED)
    url, headers = signed(f"http://{DEFAULT}:8080")
    with mock_live(state=emulator) as used:
        status, _ = send(transport, url, headers)
    assert used is emulator
    assert status == 200
    (seen,) = emulator.seen
    assert (seen.method, seen.host, seen.path, seen.secure) == (
        "POST",
        f"{DEFAULT}:8080",
        "/",
        False,
    )
    assert seen.headers["host"] == f"{DEFAULT}:8080"
    # aiohttp leaves some characters raw that the others percent-encode; the pairs are the same.
    assert sorted(parse_qsl(seen.query)) == sorted(parse_qsl(url.split("?", 1)[1]))


def test_v3_signed_host_and_v1_both_verify_through_the_mock() -> None:
    with mock_live(SEED) as emulator:
        assert start(f"https://{DEFAULT}:8443", "s1", Scheme.V3).status == 200
        assert start(f"http://{DEFAULT}", "s2", Scheme.V1).status == 200
    assert task_state(emulator, "s1") == task_state(emulator, "s2") == RECORDING.next_state


def test_every_aiohttp_entry_point_is_hooked() -> None:
    async def calls() -> list[int]:
        statuses = []
        url, headers = signed(f"https://{DEFAULT}", stream="s1")
        async with aiohttp.ClientSession() as session:
            async with session.request(method="POST", url=url, headers=headers) as response:
                statuses.append(response.status)
            for helper in (session.get, session.post, session.put, session.delete):
                async with helper(f"https://{DEFAULT}/") as response:
                    statuses.append(response.status)
            response = await session.get(f"https://{DEFAULT}/")  # awaited, not entered
            statuses.append(response.status)
            response.release()
        url, headers = signed(f"https://{DEFAULT}", stream="s2")
        async with aiohttp.request("POST", url, headers=headers) as response:
            statuses.append(response.status)
            assert (await response.json())["RequestId"]
        return statuses

    with mock_live(SEED, passthrough=False) as emulator:
        statuses = asyncio.run(calls())
    method_error = OP.status_of(OP.protocol.gateway_errors_in("method")[0].code)
    assert statuses == [
        200,  # session.request, by keyword
        NO_ACTION_STATUS,  # get, post: unsigned, so no Action
        NO_ACTION_STATUS,
        method_error,  # put, delete: a method the spec does not allow
        method_error,
        NO_ACTION_STATUS,  # an awaited get
        200,  # aiohttp.request
    ]
    assert task_state(emulator, "s1") == task_state(emulator, "s2") == RECORDING.next_state


@pytest.mark.parametrize(
    ("url", "host", "secure"),
    [
        (f"https://{DEFAULT.upper()}/", DEFAULT, True),
        (f"https://{DEFAULT}:443/", DEFAULT, True),
        (f"http://{DEFAULT}:80/", DEFAULT, False),
        (f"http://{DEFAULT}:8080/", f"{DEFAULT}:8080", False),
        ("http://[::1]:8080/", "[::1]:8080", False),
    ],
)
def test_the_host_and_query_are_kept_as_sent(url: str, host: str, secure: bool) -> None:
    emulator = SeenEmulator(SEED)
    with mock_live(state=emulator, endpoints=["[::1]:8080"]):
        response = requests.post(url + "?B=x+y%2Fz&A=%E4%B8%AD", data=b"k=v", timeout=5)
    (seen,) = emulator.seen
    assert response.status_code == NO_ACTION_STATUS
    assert (seen.method, seen.host, seen.path, seen.secure) == ("POST", host, "/", secure)
    assert seen.query == "B=x+y%2Fz&A=%E4%B8%AD"  # raw, undecoded
    assert seen.body == b"k=v"
    assert seen.headers["content-length"] == "3"


def test_an_explicit_host_header_is_kept() -> None:
    emulator = SeenEmulator(SEED)
    with mock_live(state=emulator):
        requests.get(f"http://{DEFAULT}/", headers={"Host": "signed.example:1"}, timeout=5)
    assert emulator.seen[0].host == "signed.example:1"


def test_extra_endpoints_are_answered_too() -> None:
    extra = ("emulator.test", "127.0.0.1:9", "http://proxy.test:8080/live")
    with mock_live(SEED, endpoints=extra, passthrough=False) as emulator:
        assert start("https://emulator.test", "s1").status == 200
        assert start("http://127.0.0.1:9", "s2").status == 200
        assert start("http://proxy.test:8080/live", "s3").status == 200
        assert [task_state(emulator, s) for s in ("s1", "s2", "s3")] == [RECORDING.next_state] * 3
        # Another port, scheme or path is not the endpoint.
        for url in (
            "http://127.0.0.1:10/",
            "https://proxy.test:8080/live",
            "http://proxy.test:8080/",
        ):
            with pytest.raises(requests.ConnectionError, match="not a Live endpoint"):
                requests.get(url, timeout=5)


@pytest.mark.parametrize("bad", ["", "ftp://live.test", "live.test/path", "http://"])
def test_a_bad_endpoint_is_refused_with_a_clear_message(bad: str) -> None:
    with pytest.raises(ValueError, match="mock_live"):
        mock_live(endpoints=[bad])


def test_a_bad_passthrough_is_refused_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="host names only"):
        mock_live(alibaba_passthrough=["https://oss-cn-shanghai.aliyuncs.com"])
    for bad in (3, [b"http://x"], ["http://ok", None]):
        with pytest.raises(ValueError, match="pass True, False, or URL prefixes"):
            mock_live(passthrough=bad)  # type: ignore[arg-type]


REGION = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
PORT = st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}"))


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=40))
def test_any_endpoint_text_is_taken_or_refused_with_one_clear_error(text: str) -> None:
    try:
        Routing.build(OP, [text], True, ())
    except ValueError as error:
        outcome = str(error)
    else:
        outcome = "mock_live accepted it"
    assert outcome.startswith("mock_live ")
    assert "\n" not in outcome.strip()


@settings(max_examples=150, deadline=None)
@given(region=REGION, network=st.sampled_from(RULES.networks), port=PORT, upper=st.booleans())
def test_every_regional_and_vpc_host_is_live(
    region: str, network: str, port: str, upper: bool
) -> None:
    host = f"{OP.product.name}{network}.{region}.{RULES.domain}"
    routing = Routing.build(OP, (), False, ())
    for scheme in OP.schemes:
        url = f"{scheme}://{host.upper() if upper else host}{port}/?Action=x"
        assert routing.is_live(url), url


@settings(max_examples=150, deadline=None)
@given(
    label=st.from_regex(r"[a-z0-9][a-z0-9.-]{0,30}", fullmatch=True),
    userinfo=st.from_regex(r"[A-Za-z0-9]{4,12}", fullmatch=True),
    query=st.from_regex(r"[A-Za-z0-9]{8,16}", fullmatch=True),
    passthrough=st.booleans(),
)
def test_an_unserved_alibaba_host_is_always_refused_and_the_message_keeps_secrets(
    label: str, userinfo: str, query: str, passthrough: bool
) -> None:
    routing = Routing.build(OP, (), passthrough, ())
    url = f"https://{userinfo}:{userinfo}@{label}.{RULES.domain}/p?Signature={query}"
    if routing.is_live(url):
        return
    assert routing.refuses(url)
    message = routing.refusal("POST", url)
    assert f"{label}.{RULES.domain}".rstrip(".").lower() in message
    assert query not in message.replace(f"{label}.{RULES.domain}", "")
    assert f"{userinfo}:" not in message


# --- safe by default ------------------------------------------------------------------------


@BY_TRANSPORT
@pytest.mark.parametrize("passthrough", [True, False])
def test_an_alibaba_host_the_mock_does_not_serve_is_refused(
    transport: Transport, passthrough: bool, network: list[str]
) -> None:
    url = "https://key:secret-pw@sts.aliyuncs.com:8443/v1?AccessKeyId=LTAIx&Signature=s3cr3t"
    with mock_live(SEED, passthrough=passthrough), pytest.raises(transport.refused) as raised:
        send(transport, url)
    message = str(raised.value)
    assert "sts.aliyuncs.com" in message
    assert "alibaba_passthrough=['sts.aliyuncs.com']" in message
    assert "endpoints=['sts.aliyuncs.com']" in message
    for secret in ("secret-pw", "s3cr3t", "LTAIx"):
        assert secret not in message
    assert network == []  # never resolved, let alone sent


@BY_TRANSPORT
def test_alibaba_passthrough_lets_only_those_hosts_reach_the_network(
    transport: Transport, network: list[str]
) -> None:
    allowed = f"oss-cn-shanghai.{RULES.domain}"
    with mock_live(SEED, passthrough=False, alibaba_passthrough=[allowed.upper()]):
        with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the library makes of it
            send(transport, f"https://{allowed}/bucket")
        assert set(network) == {allowed}
        with pytest.raises(transport.refused, match="alibaba_passthrough"):
            send(transport, f"https://ecs.{RULES.domain}/")
    assert set(network) == {allowed}


@pytest.mark.parametrize(
    "url", [f"https://{DEFAULT}.evil.test/", f"https://not{RULES.domain}/", "https://evil.test/"]
)
def test_a_lookalike_host_follows_the_passthrough_rules(url: str) -> None:
    with (
        mock_live(SEED, passthrough=False),
        pytest.raises(requests.ConnectionError, match="not a Live endpoint"),
    ):
        requests.get(url, timeout=5)


@BY_TRANSPORT
def test_passthrough_true_lets_other_traffic_reach_the_network(
    transport: Transport, local_server: str
) -> None:
    with mock_live(SEED):
        assert send(transport, f"{local_server}/x") == (200, "real:/x")


@BY_TRANSPORT
def test_passthrough_false_refuses_other_traffic(transport: Transport, local_server: str) -> None:
    with (
        mock_live(SEED, passthrough=False),
        pytest.raises(transport.refused, match="passthrough"),
    ):
        send(transport, f"{local_server}/x")
    # Once the mock is gone, the network is back.
    assert send(transport, f"{local_server}/x") == (200, "real:/x")


@BY_TRANSPORT
def test_passthrough_prefixes_let_only_those_through(
    transport: Transport, local_server: str
) -> None:
    prefixes = [f"{local_server}/ok", re.compile(re.escape(local_server) + r"/re\d")]
    with mock_live(SEED, passthrough=prefixes):
        assert send(transport, f"{local_server}/ok/1") == (200, "real:/ok/1")
        assert send(transport, f"{local_server}/re7") == (200, "real:/re7")
        with pytest.raises(transport.refused, match="not a Live endpoint"):
            send(transport, f"{local_server}/no")


# --- together with the user's own mocks -----------------------------------------------------


def test_responses_outside_mock_live_inside() -> None:
    with responses.RequestsMock() as user:
        user.add(responses.GET, "https://hooks.example.com/x", json={"user": 1})
        user.add(responses.GET, f"https://sts.{RULES.domain}/", json={"user": "sts"})
        with mock_live(SEED, passthrough=False) as emulator:
            assert requests.get("https://hooks.example.com/x", timeout=5).json() == {"user": 1}
            # A host under the Alibaba domain that the user mocks is the user mock's business.
            assert requests.get(f"https://sts.{RULES.domain}/", timeout=5).json() == {"user": "sts"}
            assert start(f"https://{DEFAULT}").status == 200
            assert task_state(emulator) == RECORDING.next_state
        # mock_live is gone: Live calls are the user mock's business again (it has no route).
        with pytest.raises(TransportError, match="Connection refused by Responses"):
            start(f"https://{DEFAULT}")


def test_mock_live_outside_responses_inside() -> None:
    with mock_live(SEED, passthrough=False) as emulator:
        with responses.RequestsMock() as user:
            user.add(responses.GET, "https://hooks.example.com/x", json={"user": 2})
            assert requests.get("https://hooks.example.com/x", timeout=5).json() == {"user": 2}
            assert start(f"https://{DEFAULT}").status == 200
        assert task_state(emulator) == RECORDING.next_state
        # The user mock is gone: other traffic is refused again, Live calls still answered.
        with pytest.raises(requests.ConnectionError, match="not a Live endpoint"):
            requests.get("https://hooks.example.com/x", timeout=5)
        assert start(f"https://{DEFAULT}").status == ALREADY_STARTED_STATUS


@responses.activate
@mock_live(SEED, passthrough=False)
def test_stacked_decorators_responses_outside() -> None:
    responses.add(responses.GET, "https://hooks.example.com/y", body="from user")
    assert requests.get("https://hooks.example.com/y", timeout=5).text == "from user"
    assert start(f"https://{DEFAULT}").status == 200


@mock_live(SEED, passthrough=False)
@responses.activate
def test_stacked_decorators_mock_live_outside() -> None:
    responses.add(responses.GET, "https://hooks.example.com/y", body="from user")
    assert requests.get("https://hooks.example.com/y", timeout=5).text == "from user"
    assert start(f"https://{DEFAULT}").status == 200


class _StreamWriterCompat(ClientResponse):
    """aioresponses 0.7.9 does not pass the `stream_writer` aiohttp 3.14 requires
    (pnuckowski/aioresponses#289); its own `response_class` option is the workaround."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", type("Sent", (), {"output_size": 0})())
        super().__init__(*args, **kwargs)


def _user_and_live_calls_through_aiohttp(url: str, headers: dict[str, str]) -> tuple[str, int]:
    async def go() -> tuple[str, int]:
        async with aiohttp.ClientSession() as session:
            async with session.get("https://hooks.example.com/x") as user:
                text = await user.text()
            async with session.post(url, headers=headers) as live:
                return text, live.status

    return asyncio.run(go())


@pytest.mark.parametrize("mock_live_first", [False, True])
def test_aioresponses_and_mock_live_in_either_order(mock_live_first: bool) -> None:
    with contextlib.ExitStack() as stack:
        if mock_live_first:
            emulator = stack.enter_context(mock_live(SEED, passthrough=False))
        user = stack.enter_context(aioresponses())
        user.get(
            "https://hooks.example.com/x", body="from user", response_class=_StreamWriterCompat
        )
        if not mock_live_first:
            emulator = stack.enter_context(mock_live(SEED, passthrough=False))
        live = signed(f"https://{DEFAULT}")
        assert _user_and_live_calls_through_aiohttp(*live) == ("from user", 200)
        assert task_state(emulator) == RECORDING.next_state
    assert nothing_patched()


@pytest.mark.parametrize("using", ["httpcore", "httpx"])
@pytest.mark.parametrize("mock_live_first", [False, True])
def test_respx_and_mock_live_in_either_order(mock_live_first: bool, using: str) -> None:
    async def async_calls(url: str, headers: dict[str, str]) -> tuple[str, int]:
        async with httpx.AsyncClient() as client:
            user = await client.get("https://hooks.example.com/x")
            live = await client.post(url, headers=headers)
            return user.text, live.status_code

    with contextlib.ExitStack() as stack:
        if mock_live_first:
            emulator = stack.enter_context(mock_live(SEED, passthrough=False))
        user = stack.enter_context(respx.mock(using=using))
        user.get("https://hooks.example.com/x").respond(text="from user")
        if not mock_live_first:
            emulator = stack.enter_context(mock_live(SEED, passthrough=False))
        with httpx.Client() as client:
            assert client.get("https://hooks.example.com/x").text == "from user"
            url, headers = signed(f"https://{DEFAULT}", stream="s1")
            assert client.post(url, headers=headers).status_code == 200
        assert asyncio.run(async_calls(*signed(f"https://{DEFAULT}", stream="s2"))) == (
            "from user",
            200,
        )
        assert task_state(emulator, "s1") == task_state(emulator, "s2") == RECORDING.next_state
    assert nothing_patched()


def _httpx_user_and_live(live_stream: str) -> tuple[str, int]:
    with httpx.Client() as client:
        user = client.get("https://hooks.example.com/x").text
        url, headers = signed(f"https://{DEFAULT}", stream=live_stream)
        return user, client.post(url, headers=headers).status_code


def test_pytest_httpx_first_then_mock_live(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url="https://hooks.example.com/x", text="from user")
    with mock_live(SEED, passthrough=False) as emulator:
        assert _httpx_user_and_live("s1") == ("from user", 200)
    assert task_state(emulator, "s1") == RECORDING.next_state


@pytest.mark.parametrize("live_mock", [{"seed": SEED, "passthrough": False}], indirect=True)
def test_mock_live_first_then_pytest_httpx(live_mock: Emulator, httpx_mock: HTTPXMock) -> None:
    # Fixtures start in the order the test names them: the live_mock fixture first.
    httpx_mock.add_response(url="https://hooks.example.com/x", text="from user")
    assert _httpx_user_and_live("s1") == ("from user", 200)
    assert task_state(live_mock, "s1") == RECORDING.next_state


def test_mock_live_nests_in_itself() -> None:
    with mock_live(SEED) as outer:
        with mock_live(SEED, endpoints=["inner.test"]) as inner:
            assert start(f"https://{DEFAULT}", "s1").status == 200
            assert start("https://inner.test", "s2").status == 200
        assert start(f"https://{DEFAULT}", "s3").status == 200
    assert task_state(inner, "s1") == task_state(inner, "s2") == RECORDING.next_state
    assert task_state(outer, "s1") == LIFECYCLE.initial
    assert task_state(outer, "s3") == RECORDING.next_state


# --- threads, tasks, and blocks that stop in any order -------------------------------------


def test_eight_threads_in_their_own_blocks_land_in_eight_emulators() -> None:
    count = 8
    together = threading.Barrier(count)
    emulators: dict[int, Emulator] = {}
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            with mock_live(SEED, passthrough=False) as emulator:
                emulators[index] = emulator
                together.wait(timeout=10)  # every block is active at once
                for command in ("start", "stop", "cancel_delay", "start"):
                    url, headers = signed(f"https://{DEFAULT}", command, STREAMS[index])
                    assert (
                        TRANSPORTS[index % len(TRANSPORTS)].send("POST", url, headers, 5)[0] == 200
                    )
                together.wait(timeout=10)
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({id(e) for e in emulators.values()}) == count
    for index, emulator in emulators.items():
        busy = {s for s in STREAMS if task_state(emulator, s) != LIFECYCLE.initial}
        assert busy == {STREAMS[index]}, index
        assert [r.key[-1] for r in emulator.recordings()] == [STREAMS[index]]
    # After every block ended, nothing is intercepted.
    assert nothing_patched()
    with (
        responses.RequestsMock(),
        pytest.raises(requests.ConnectionError, match="Connection refused by Responses"),
    ):
        requests.get(f"https://{DEFAULT}/", timeout=5)


def test_threads_started_inside_a_block_are_answered_by_it() -> None:
    """A thread entered no block of its own: the most recently started block answers it."""
    statuses: list[int] = []
    lock = threading.Lock()

    def worker(stream: str) -> None:
        client = Client(DEFAULT, ROOT, session=requests.Session())
        for command in ("start", "stop", "cancel_delay"):
            status = client.call(OP.name, OP.product.version, params(command, stream)).status
            with lock:
                statuses.append(status)

    with mock_live(SEED, passthrough=False) as emulator:
        threads = [threading.Thread(target=worker, args=(s,)) for s in STREAMS[:8]]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert statuses == [200] * 24
    assert len(emulator.recordings()) == 8


def test_blocks_stopped_out_of_order_leave_nothing_patched() -> None:
    m1, m2 = mock_live(SEED), mock_live(SEED)
    e1 = m1.start()
    e2 = m2.start()
    assert start(f"https://{DEFAULT}", "s1").status == 200
    m1.stop()
    assert not nothing_patched()
    assert start(f"https://{DEFAULT}", "s2").status == 200
    m2.stop()
    assert nothing_patched()
    assert task_state(e1, "s1") == task_state(e1, "s2") == LIFECYCLE.initial
    assert task_state(e2, "s1") == task_state(e2, "s2") == RECORDING.next_state


def test_a_thread_in_no_block_gets_the_most_recently_started_block() -> None:
    started, release = threading.Event(), threading.Event()
    other: list[Emulator] = []

    def keep_a_block_open() -> None:
        with mock_live(SEED) as emulator:
            other.append(emulator)
            started.set()
            release.wait(timeout=10)

    with mock_live(SEED) as mine:
        holder = threading.Thread(target=keep_a_block_open)
        holder.start()
        assert started.wait(timeout=10)
        try:
            bystander = threading.Thread(target=lambda: start(f"https://{DEFAULT}", "s1"))
            bystander.start()
            bystander.join()
            assert start(f"https://{DEFAULT}", "s2").status == 200  # this thread's own block
        finally:
            release.set()
            holder.join()
    assert task_state(other[0], "s1") == RECORDING.next_state
    assert task_state(mine, "s1") == LIFECYCLE.initial
    assert task_state(mine, "s2") == RECORDING.next_state


def test_a_block_started_in_one_thread_can_stop_in_another() -> None:
    live = mock_live(SEED)
    emulator = live.start()
    stopper = threading.Thread(target=live.stop)
    stopper.start()
    stopper.join()
    assert nothing_patched()
    assert emulator.state.tasks == {}


def test_asyncio_tasks_in_their_own_blocks_land_in_their_own_emulators() -> None:
    async def task(stream: str, gate: asyncio.Barrier) -> Emulator:
        with mock_live(SEED, passthrough=False) as emulator:
            await gate.wait()
            url, headers = signed(f"https://{DEFAULT}", stream=stream)
            async with aiohttp.ClientSession() as session, session.post(url, headers=headers) as r:
                assert r.status == 200
            await gate.wait()
            return emulator

    async def main() -> list[Emulator]:
        gate = asyncio.Barrier(3)
        return list(await asyncio.gather(*(task(s, gate) for s in ("s1", "s2", "s3"))))

    emulators = asyncio.run(main())
    for emulator, stream in zip(emulators, ("s1", "s2", "s3"), strict=True):
        busy = {s for s in STREAMS if task_state(emulator, s) != LIFECYCLE.initial}
        assert busy == {stream}
    assert nothing_patched()


def test_a_task_created_inside_a_block_belongs_to_it() -> None:
    async def call(stream: str) -> int:
        url, headers = signed(f"https://{DEFAULT}", stream=stream)
        async with httpx.AsyncClient() as client:
            return (await client.post(url, headers=headers)).status_code

    async def main() -> tuple[Emulator, Emulator]:
        with mock_live(SEED) as mine:
            child = asyncio.create_task(call("s1"))  # copies the context: this block
            later = mock_live(SEED)
            newest = later.start()  # started after the child was created, in this task only
            try:
                assert await child == 200
                assert await call("s2") == 200  # this task is in the newer block now
            finally:
                later.stop()
        return mine, newest

    mine, newest = asyncio.run(main())
    assert task_state(mine, "s1") == RECORDING.next_state
    assert task_state(newest, "s1") == LIFECYCLE.initial
    assert task_state(newest, "s2") == RECORDING.next_state


# --- state, decorator, start/stop, fixture ----------------------------------------------------


def test_each_activation_starts_fresh() -> None:
    live = mock_live(SEED)
    for _ in range(2):
        with live as emulator:
            assert start(f"https://{DEFAULT}").status == 200
            assert task_state(emulator) == RECORDING.next_state


def test_a_state_object_is_kept_across_activations() -> None:
    emulator = Emulator(SEED)
    with mock_live(state=emulator) as used:
        assert used is emulator
        assert start(f"https://{DEFAULT}").status == 200
    with mock_live(state=emulator):
        response = start(f"https://{DEFAULT}")
    assert (response.status, response.code) == (ALREADY_STARTED_STATUS, ALREADY_STARTED.error)


def test_seed_or_clock_and_state_together_are_refused() -> None:
    with pytest.raises(ValueError, match="both a seed and a state"):
        mock_live(SEED, state=Emulator(SEED))
    with pytest.raises(ValueError, match="both a state and a clock"):
        mock_live(state=Emulator(SEED), clock=ManualClock())


def test_the_default_seed_works_with_its_demo_root_key() -> None:
    with mock_live() as emulator:
        account = emulator.seed.accounts[0]
        key = next(k for k in account.access_keys if k.user is None and k.active)
        app = next(a for d in account.domains for a in d.apps if a.record_config)
        domain = next(d.name for d in account.domains if app in d.apps)
        stream = next(s.name for s in app.streams if s.online)
        business = {COMMAND.name: "start", DOMAIN_PARAM: domain, APP_PARAM: app.name}
        business[STREAM_PARAM] = stream
        client = Client(DEFAULT, Credentials(key.id, key.secret))
        assert client.call(OP.name, OP.product.version, business).status == 200
        assert emulator.state.task_state(domain, app.name, stream) == RECORDING.next_state


def test_decorating_a_sync_function_gives_each_call_a_fresh_emulator() -> None:
    live = mock_live(SEED)

    @live
    def record() -> tuple[int, Emulator]:
        return start(f"https://{DEFAULT}").status, live.emulator

    first, second = record(), record()
    assert first[0] == second[0] == 200
    assert first[1] is not second[1]
    assert nothing_patched()


def test_decorating_an_async_function() -> None:
    live = mock_live(SEED)

    @live
    async def record() -> int:
        url, headers = signed(f"https://{DEFAULT}")
        async with aiohttp.ClientSession() as session, session.post(url, headers=headers) as r:
            return r.status

    assert asyncio.run(record()) == 200
    assert task_state(live.emulator) == RECORDING.next_state


def test_bare_decorator() -> None:
    @mock_live
    def call() -> int:
        return requests.get(f"https://{DEFAULT}/", timeout=5).status_code

    assert call() == NO_ACTION_STATUS


def test_decorating_a_class_is_refused() -> None:
    with pytest.raises(TypeError, match="not classes"):
        mock_live(SEED)(type("Tests", (), {}))


def test_start_and_stop() -> None:
    live = mock_live(SEED)
    with pytest.raises(LiveMockError, match="not been started"):
        _ = live.emulator
    emulator = live.start()
    try:
        assert start(f"https://{DEFAULT}").status == 200
    finally:
        live.stop()
    assert task_state(emulator) == RECORDING.next_state
    (call,) = live.calls
    assert isinstance(call, LiveCall)
    assert (call.transport, call.request.method, call.response.status) == ("requests", "POST", 200)
    with pytest.raises(LiveMockError, match="not active"):
        live.stop()
    assert "active=False" in repr(live)


def test_assert_all_requests_are_fired() -> None:
    with (
        pytest.raises(AssertionError, match="no request reached"),
        mock_live(SEED, assert_all_requests_are_fired=True),
    ):
        pass
    with mock_live(SEED, assert_all_requests_are_fired=True) as emulator:
        start(f"https://{DEFAULT}")
    assert task_state(emulator) == RECORDING.next_state


def test_the_fixture_is_a_fresh_intercepting_emulator(live_mock: Emulator) -> None:
    assert isinstance(live_mock, Emulator)
    assert live_mock.state.tasks == {}
    response = requests.get(f"https://{DEFAULT}/", timeout=5)
    assert response.json()["Code"] == NO_ACTION


@pytest.mark.parametrize("live_mock", [{"seed": SEED, "passthrough": False}], indirect=True)
def test_the_fixture_takes_options(live_mock: Emulator, local_server: str) -> None:
    assert start(f"https://{DEFAULT}").status == 200
    assert task_state(live_mock) == RECORDING.next_state
    with pytest.raises(requests.ConnectionError, match="passthrough"):
        requests.get(local_server, timeout=5)


def test_imports_stay_light() -> None:
    """`import acscontract` loads no HTTP library, and the emulator does not load pytest or the
    async libraries: the adapters load when a mock starts."""
    assert acscontract.mock_live is mock_live
    assert isinstance(mock_live(), LiveMock)
    code = (
        "import sys, acscontract; heavy = {'requests', 'responses'} & set(sys.modules); "
        "import acscontract.emulator; late = {'pytest', 'aiohttp', 'httpx'} & set(sys.modules); "
        "print(sorted(heavy), sorted(late))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[] []"


def test_without_aiohttp_and_httpx_the_other_adapters_still_work() -> None:
    """aiohttp and httpx are not acscontract dependencies: their adapters load only when they
    are installed (here they are hidden from the import system)."""
    code = f"""
import sys
sys.modules["aiohttp"] = sys.modules["httpx"] = None
import requests
from acscontract.emulator import mock_live
from acscontract.emulator._mock._core import INTERCEPTOR
with mock_live():
    print(INTERCEPTOR.installed)
    print(requests.get("https://{DEFAULT}/", timeout=5).status_code)
print(INTERCEPTOR.installed)
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split("\n")[:3] == [
        "('requests', 'aliyunsdkcore.vendored.requests')",
        str(NO_ACTION_STATUS),
        "()",
    ]


def test_an_installed_library_that_cannot_be_hooked_stops_the_mock_from_starting() -> None:
    code = """
import sys
sys.modules["responses"] = None
from acscontract.emulator import mock_live
from acscontract.emulator._mock._core import INTERCEPTOR
try:
    mock_live().start()
except ImportError as error:
    print(error)
print(INTERCEPTOR.installed, INTERCEPTOR.active)
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    message, state = result.stdout.strip().split("\n")
    assert message.startswith("mock_live cannot hook requests, which is installed: it needs ")
    assert "Install responses, or uninstall requests." in message
    assert state == "() ()"


# --- faults, on every transport -------------------------------------------------------------


@BY_TRANSPORT
def test_a_drop_fault_is_the_library_s_connection_error(transport: Transport) -> None:
    with mock_live(SEED) as emulator:
        emulator.add_fault({"kind": "drop", "stream": "s1"})
        with pytest.raises(transport.dropped, match="dropped the connection"):
            transport.send("POST", *signed(f"https://{DEFAULT}", stream="s1"), 5)
        assert task_state(emulator, "s1") == LIFECYCLE.initial


@BY_TRANSPORT
def test_a_latency_fault_delays_the_answer_or_times_out(transport: Transport) -> None:
    with mock_live(SEED) as emulator:
        emulator.add_fault({"kind": "latency", "latency_s": 0.2, "stream": "s1"})
        started = time.monotonic()
        assert transport.send("POST", *signed(f"https://{DEFAULT}", stream="s1"), 5)[0] == 200
        assert time.monotonic() - started >= 0.2
        emulator.add_fault({"kind": "latency", "latency_s": 5, "stream": "s2"})
        started = time.monotonic()
        with pytest.raises(transport.timed_out):
            transport.send("POST", *signed(f"https://{DEFAULT}", stream="s2"), 0.1)
        assert 0.1 <= time.monotonic() - started < 2


# --- time travel ----------------------------------------------------------------------------


def _start_and_stop(stream: str) -> None:
    for command in ("start", "stop"):
        url, headers = signed(f"https://{DEFAULT}", command, stream)
        assert requests.post(url, headers=headers, timeout=5).status_code == 200


def test_advance_clock_works_inside_mock_live() -> None:
    with mock_live(SEED) as emulator:
        assert isinstance(emulator.clock, OffsetClock)
        _start_and_stop("s1")
        assert emulator.recordings() == ()
        emulator.advance_clock(DELAY_S + 1)
        assert [(r.key[-1], r.reason) for r in emulator.recordings()] == [("s1", DELAY_EVENT)]
        # Far in the virtual future, a freshly signed call is still fresh.
        emulator.advance_clock(10 * OP.protocol.timestamp_skew_seconds)
        _start_and_stop("s2")


def test_mock_live_takes_a_clock() -> None:
    clock = ManualClock(start=1_000_000.0)
    with mock_live(SEED, clock=clock) as emulator:
        assert emulator.clock is clock
        _start_and_stop("s1")
        emulator.advance_clock(DELAY_S + 1)
        (recording,) = emulator.recordings()
        assert recording.ended_at == 1_000_000.0 + DELAY_S
        # Moving the virtual clock past the timestamp skew breaks no call.
        emulator.advance_clock(2 * OP.protocol.timestamp_skew_seconds)
        _start_and_stop("s2")


FROZEN = datetime(2020, 6, 1, 12, 0, tzinfo=UTC)


def test_under_freezegun_calls_stay_fresh_and_ticking_fires_timers() -> None:
    with freeze_time(FROZEN) as frozen, mock_live(SEED) as emulator:
        _start_and_stop("s1")
        assert emulator.gateway_now() == FROZEN.timestamp()
        frozen.tick(timedelta(seconds=DELAY_S + 1))
        (recording,) = emulator.recordings()
        assert recording.ended_at == FROZEN.timestamp() + DELAY_S
        _start_and_stop("s2")  # signed at the frozen time, checked against the frozen time
        emulator.advance_clock(DELAY_S + 1)  # advance_clock works under freezegun too
        assert [r.key[-1] for r in emulator.recordings()] == ["s1", "s2"]


def test_freezegun_freezes_the_event_loop_clock_unless_real_asyncio() -> None:
    """Why the docs say to use real_asyncio=True for async latency faults under freezegun."""

    async def loop_clock_moves() -> bool:
        loop = asyncio.get_running_loop()
        before = loop.time()
        time.sleep(0.02)
        return loop.time() > before

    with freeze_time(FROZEN):
        assert asyncio.run(loop_clock_moves()) is False
    with freeze_time(FROZEN, real_asyncio=True), mock_live(SEED) as emulator:
        assert asyncio.run(loop_clock_moves()) is True
        emulator.add_fault({"kind": "latency", "latency_s": 0.05, "stream": "s1"})
        assert _aiohttp("POST", *signed(f"https://{DEFAULT}", stream="s1"), 5)[0] == 200


def test_under_time_machine_calls_stay_fresh_and_shifting_fires_timers() -> None:
    with (
        time_machine.travel(FROZEN, tick=False) as traveller,
        mock_live(SEED) as emulator,
    ):
        _start_and_stop("s1")
        assert emulator.gateway_now() == FROZEN.timestamp()
        traveller.shift(DELAY_S + 1)
        (recording,) = emulator.recordings()
        assert recording.ended_at == FROZEN.timestamp() + DELAY_S
        emulator.add_fault({"kind": "latency", "latency_s": 0.05, "stream": "s2"})
        assert _aiohttp("POST", *signed(f"https://{DEFAULT}", stream="s2"), 5)[0] == 200


# --- async test frameworks ------------------------------------------------------------------

ASYNC_LIVE = mock_live(SEED, passthrough=False)


async def _record_async(stream: str) -> None:
    url, headers = signed(f"https://{DEFAULT}", stream=stream)
    async with aiohttp.ClientSession() as session, session.post(url, headers=headers) as r:
        assert r.status == 200
    async with httpx.AsyncClient() as client:
        url, headers = signed(f"https://{DEFAULT}", "stop", stream)
        assert (await client.post(url, headers=headers)).status_code == 200
    assert task_state(ASYNC_LIVE.emulator, stream) == STOPPED.next_state


@pytest.mark.asyncio
@ASYNC_LIVE
async def test_mock_live_decorates_a_pytest_asyncio_test() -> None:
    await _record_async("s1")


@pytest.mark.anyio
@ASYNC_LIVE
async def test_mock_live_decorates_an_anyio_test() -> None:
    await _record_async("s2")


# --- HEAD, as the served emulator answers it ---------------------------------------------------


def test_a_head_request_gets_the_status_and_headers_without_a_body():
    """The server (uvicorn) answers HEAD with the headers alone; the mock gave each library the
    body too, which requests refuses ('Response may not contain content')."""
    url = "https://live.aliyuncs.com/?Action=RealTimeRecordCommand"

    async def with_aiohttp() -> tuple[int, bytes]:
        async with aiohttp.ClientSession() as session, session.head(url) as answer:
            return answer.status, await answer.read()

    with mock_live():
        by_requests = requests.head(url, timeout=5)
        by_vendored = vendored_requests.head(url, timeout=5)
        by_httpx = httpx.head(url)
        by_aiohttp = asyncio.run(with_aiohttp())
    assert (by_requests.status_code, by_requests.content) == (405, b"")
    assert (by_vendored.status_code, by_vendored.content) == (405, b"")
    assert (by_httpx.status_code, by_httpx.content) == (405, b"")
    assert by_aiohttp == (405, b"")
