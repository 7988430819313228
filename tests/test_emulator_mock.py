"""mock_live: what it intercepts, how it converts requests, and how it lives with other mocks."""

from __future__ import annotations

import asyncio
import http.server
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses
from aliyunsdkcore.vendored import requests as vendored_requests

import acscontract
from acscontract.client import Client, TransportError
from acscontract.emulator import (
    Emulator,
    EmulatorRequest,
    EmulatorResponse,
    LiveMock,
    ManualClock,
    mock_live,
)
from acscontract.emulator._mock import LiveMockError, live_endpoints
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
DEFAULT = OP.product.default_endpoint

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


def params(command: str = "start", stream: str = "s0") -> dict[str, str]:
    return {COMMAND.name: command, DOMAIN_PARAM: DOMAIN, APP_PARAM: APP, STREAM_PARAM: stream}


def start(endpoint: str, stream: str = "s0", scheme: Scheme = Scheme.V3) -> Any:
    return Client(endpoint, ROOT, scheme=scheme).call(
        OP.name, OP.product.version, params("start", stream)
    )


def task_state(emulator: Emulator, stream: str = "s0") -> str:
    return emulator.state.task_state(DOMAIN, APP, stream)


class SeenEmulator(Emulator):
    """The real emulator, keeping the requests it was handed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[EmulatorRequest] = []

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        self.seen.append(request)
        return super().handle(request)


@pytest.fixture(scope="module")
def local_server() -> Iterator[str]:
    """A plain HTTP server on loopback: the 'network' that passthrough lets requests reach."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = f"real:{self.path}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

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


# --- what is intercepted ------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", live_endpoints())
@pytest.mark.parametrize("url_scheme", OP.schemes)
@pytest.mark.parametrize("port", ["", ":8443"])
def test_every_spec_endpoint_is_answered_by_the_emulator(
    endpoint: str, url_scheme: str, port: str
) -> None:
    with mock_live(SEED, passthrough=False) as emulator:
        response = start(f"{url_scheme}://{endpoint}{port}")
        assert response.status == 200, response.json
        assert task_state(emulator) == RECORDING.next_state


def test_the_endpoints_come_from_the_spec() -> None:
    product = OP.product
    assert set(live_endpoints()) == {product.default_endpoint, *product.endpoints.values()}


def test_extra_endpoints_are_answered_too(local_server: str) -> None:
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


# --- the request the emulator sees ------------------------------------------------------


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
def test_the_emulator_sees_what_a_server_would(url: str, host: str, secure: bool) -> None:
    emulator = SeenEmulator(SEED)
    with mock_live(state=emulator, endpoints=["[::1]:8080"]):
        response = requests.post(url + "?B=x+y%2Fz&A=%E4%B8%AD", data=b"k=v", timeout=5)
    (seen,) = emulator.seen
    assert response.status_code == OP.status_of(OP.protocol.gateway_errors_in("action")[0].code)
    assert (seen.method, seen.host, seen.path, seen.secure) == ("POST", host, "/", secure)
    assert seen.query == "B=x+y%2Fz&A=%E4%B8%AD"  # raw, undecoded
    assert seen.body == b"k=v"
    assert seen.headers["host"] == host
    assert seen.headers["content-length"] == "3"


def test_an_explicit_host_header_is_kept() -> None:
    emulator = SeenEmulator(SEED)
    with mock_live(state=emulator):
        requests.get(f"http://{DEFAULT}/", headers={"Host": "signed.example:1"}, timeout=5)
    assert emulator.seen[0].host == "signed.example:1"


def test_v3_signed_host_and_v1_both_verify_through_the_mock() -> None:
    with mock_live(SEED) as emulator:
        assert start(f"https://{DEFAULT}:8443", "s1", Scheme.V3).status == 200
        assert start(f"http://{DEFAULT}", "s2", Scheme.V1).status == 200
    assert task_state(emulator, "s1") == task_state(emulator, "s2") == RECORDING.next_state


# --- other traffic ------------------------------------------------------------------------


def test_passthrough_true_lets_other_traffic_reach_the_network(local_server: str) -> None:
    with mock_live(SEED):
        assert requests.get(f"{local_server}/x", timeout=5).text == "real:/x"


def test_passthrough_false_refuses_other_traffic(local_server: str) -> None:
    with (
        mock_live(SEED, passthrough=False),
        pytest.raises(requests.ConnectionError, match="passthrough"),
    ):
        requests.get(f"{local_server}/x", timeout=5)
    # Once the mock is gone, the network is back.
    assert requests.get(f"{local_server}/x", timeout=5).text == "real:/x"


def test_passthrough_prefixes_let_only_those_through(local_server: str) -> None:
    prefixes = [f"{local_server}/ok", re.compile(re.escape(local_server) + r"/re\d")]
    with mock_live(SEED, passthrough=prefixes):
        assert requests.get(f"{local_server}/ok/1", timeout=5).text == "real:/ok/1"
        assert requests.get(f"{local_server}/re7", timeout=5).text == "real:/re7"
        with pytest.raises(requests.ConnectionError, match="not a Live endpoint"):
            requests.get(f"{local_server}/no", timeout=5)


# --- nesting with responses ---------------------------------------------------------------


def test_user_mock_outside_mock_live_inside() -> None:
    with responses.RequestsMock() as user:
        user.add(responses.GET, "https://hooks.example.com/x", json={"user": 1})
        with mock_live(SEED, passthrough=False) as emulator:
            assert requests.get("https://hooks.example.com/x", timeout=5).json() == {"user": 1}
            assert start(f"https://{DEFAULT}").status == 200
            assert task_state(emulator) == RECORDING.next_state
        # mock_live is gone: Live calls are the user mock's business again (it has no route).
        with pytest.raises(TransportError, match="Connection refused by Responses"):
            start(f"https://{DEFAULT}")
        assert requests.get("https://hooks.example.com/x", timeout=5).json() == {"user": 1}


def test_mock_live_outside_user_mock_inside() -> None:
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


def test_mock_live_nests_in_itself() -> None:
    with mock_live(SEED) as outer:
        with mock_live(SEED, endpoints=["inner.test"]) as inner:
            assert start(f"https://{DEFAULT}", "s1").status == 200
            assert start("https://inner.test", "s2").status == 200
        assert start(f"https://{DEFAULT}", "s3").status == 200
    assert task_state(inner, "s1") == task_state(inner, "s2") == RECORDING.next_state
    assert task_state(outer, "s1") == LIFECYCLE.initial
    assert task_state(outer, "s3") == RECORDING.next_state


# --- state ------------------------------------------------------------------------------


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


def test_seed_and_state_together_are_refused() -> None:
    with pytest.raises(ValueError, match="both a seed and a state"):
        mock_live(SEED, state=Emulator(SEED))


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


# --- decorator, start/stop, fixture ---------------------------------------------------------


def test_decorating_a_sync_function_gives_each_call_a_fresh_emulator() -> None:
    live = mock_live(SEED)

    @live
    def record() -> tuple[int, Emulator]:
        return start(f"https://{DEFAULT}").status, live.emulator

    first, second = record(), record()
    assert first[0] == second[0] == 200
    assert first[1] is not second[1]
    # Outside the calls nothing is intercepted: a bare responses mock sees the Live call.
    with (
        responses.RequestsMock(),
        pytest.raises(requests.ConnectionError, match="Connection refused by Responses"),
    ):
        requests.get(f"https://{DEFAULT}/", timeout=5)


def test_decorating_an_async_function() -> None:
    live = mock_live(SEED)

    @live
    async def record() -> int:
        await asyncio.sleep(0)
        return int(start(f"https://{DEFAULT}").status)

    assert asyncio.run(record()) == 200
    assert task_state(live.emulator) == RECORDING.next_state


def test_bare_decorator() -> None:
    @mock_live
    def call() -> int:
        return requests.get(f"https://{DEFAULT}/", timeout=5).status_code

    assert call() == OP.status_of(OP.protocol.gateway_errors_in("action")[0].code)


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
    assert len(live.calls) == 1
    assert live.calls[0].response.status_code == 200
    with pytest.raises(LiveMockError, match="not active"):
        live.stop()


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
    assert response.json()["Code"] == OP.protocol.gateway_errors_in("action")[0].code


@pytest.mark.parametrize("live_mock", [{"seed": SEED, "passthrough": False}], indirect=True)
def test_the_fixture_takes_options(live_mock: Emulator, local_server: str) -> None:
    assert start(f"https://{DEFAULT}").status == 200
    assert task_state(live_mock) == RECORDING.next_state
    with pytest.raises(requests.ConnectionError, match="passthrough"):
        requests.get(local_server, timeout=5)


def test_mock_live_is_exported_lazily() -> None:
    assert acscontract.mock_live is mock_live
    assert isinstance(mock_live(), LiveMock)
    code = "import acscontract, sys; print('requests' in sys.modules or 'responses' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


# --- the legacy SDK's vendored requests -----------------------------------------------------


def test_vendored_requests_are_intercepted_and_refused_like_requests(local_server: str) -> None:
    with mock_live(SEED, passthrough=False):
        response = vendored_requests.get(f"http://{DEFAULT}/", timeout=5)
        assert response.status_code == OP.status_of(OP.protocol.gateway_errors_in("action")[0].code)
        assert response.json()["Code"] == OP.protocol.gateway_errors_in("action")[0].code
        with pytest.raises(vendored_requests.ConnectionError, match="passthrough"):
            vendored_requests.get(local_server, timeout=5)
    assert vendored_requests.get(local_server, timeout=5).text == "real:/"


# --- faults ---------------------------------------------------------------------------------


def test_a_latency_fault_delays_the_answer() -> None:
    with mock_live(SEED) as emulator:
        emulator.add_fault({"kind": "latency", "latency_s": 0.2, "stream": "s1"})
        started = time.monotonic()
        assert start(f"https://{DEFAULT}", "s1").status == 200
        assert time.monotonic() - started >= 0.2


def test_a_signed_slow_call_times_out_after_the_read_timeout() -> None:
    with mock_live(SEED) as emulator:
        emulator.add_fault({"kind": "latency", "latency_s": 5, "stream": "s1"})
        client = Client(DEFAULT, ROOT)
        request = client.build(OP.name, OP.product.version, params("start", "s1"))
        started = time.monotonic()
        with pytest.raises(requests.ReadTimeout, match="read timeout"):
            requests.post(
                f"https://{DEFAULT}/?{request.query}", headers=dict(request.headers), timeout=0.1
            )
        assert 0.1 <= time.monotonic() - started < 1


def test_a_drop_fault_is_a_connection_error() -> None:
    with mock_live(SEED) as emulator:
        emulator.add_fault({"kind": "drop", "stream": "s1"})
        with pytest.raises(TransportError, match="dropped the connection"):
            start(f"https://{DEFAULT}", "s1")
        assert task_state(emulator, "s1") == LIFECYCLE.initial


# --- concurrency ----------------------------------------------------------------------------


def test_concurrent_calls_from_threads() -> None:
    statuses: list[int] = []
    lock = threading.Lock()

    def worker(stream: str) -> None:
        session = requests.Session()
        client = Client(DEFAULT, ROOT, session=session)
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


def test_a_manual_clock_emulator_can_be_handed_in() -> None:
    emulator = Emulator(SEED, clock=ManualClock())
    with mock_live(state=emulator):
        assert start(f"https://{DEFAULT}", "s1").status == 200
        stop = Client(DEFAULT, ROOT).call(OP.name, OP.product.version, params("stop", "s1"))
        assert stop.status == 200
    emulator.advance_clock(max(LIFECYCLE.timers.values()) + 1)
    assert [r.stream for r in emulator.recordings()] == ["s1"]
