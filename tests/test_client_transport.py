"""The one transport abstraction: every way in answers a signed call alike.

`HttpTransport` (requests), `PooledTransport` (urllib3) and the emulator's in-process
`EmulatorTransport` are each a `acscontract.client.Transport`; a `Client` over any of them gets
the same answers from the same emulator, and none of them answers a dropped connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acscontract.client import (
    Client,
    HttpTransport,
    PooledTransport,
    Tamper,
    Transport,
    TransportError,
)
from acscontract.emulator import (
    Emulator,
    EmulatorRequest,
    EmulatorTransport,
    serve_in_thread,
)
from acscontract.errors import UsageError
from acscontract.signing import Credentials, Scheme, WireRequest, sign
from acscontract.spec import operation

OP = operation()
VERSION = OP.product.version
ROOT = Credentials("LTAIemulatorRootKey0001", "emulator-root-secret-not-real-0001")
START = {
    "Command": "start",
    "DomainName": "push.example.com",
    "AppName": "live",
    "StreamName": "stream1",
}
TASK_ALREADY_STARTED = OP.lifecycle.transition("recording", "start").error  # type: ignore[union-attr]


@contextmanager
def over_requests(emulator: Emulator) -> Iterator[tuple[str, Transport]]:
    with serve_in_thread(emulator) as url:
        transport = HttpTransport(timeout=5)
        yield url, transport
        transport.close()


@contextmanager
def over_a_pool(emulator: Emulator) -> Iterator[tuple[str, Transport]]:
    with serve_in_thread(emulator) as url:
        transport = PooledTransport()
        yield url, transport
        transport.close()


@contextmanager
def in_process(emulator: Emulator) -> Iterator[tuple[str, Transport]]:
    yield "http://emulator.invalid", EmulatorTransport(emulator)


WAYS = pytest.mark.parametrize("way", [over_requests, over_a_pool, in_process])


@WAYS
def test_every_transport_gets_the_same_answers(way):
    with way(Emulator()) as (endpoint, transport):
        assert isinstance(transport, Transport)
        client = Client(endpoint, ROOT, transport=transport)
        first = client.call(OP.name, VERSION, START)
        again = client.call(OP.name, VERSION, START)
        forged = client.call(OP.name, VERSION, START, tamper=Tamper.bad_signature())
        v1 = client.call(OP.name, VERSION, {**START, "Command": "stop"}, scheme=Scheme.V1)
    assert (first.status, first.code, set(first.json)) == (200, None, {"RequestId"})
    assert first.headers["x-acs-request-id"] == first.request_id
    assert again.code == TASK_ALREADY_STARTED
    assert again.status == OP.error(TASK_ALREADY_STARTED).http_status
    assert forged.code == "SignatureDoesNotMatch"
    assert (v1.status, v1.code) == (200, None)
    assert first.request.url.startswith(f"{endpoint}/?")
    assert first.elapsed >= 0


@WAYS
def test_a_dropped_connection_is_a_transport_error_on_every_transport(way):
    emulator = Emulator()
    rule = emulator.add_fault({"kind": "drop"})
    with way(emulator) as (endpoint, transport):
        client = Client(endpoint, ROOT, transport=transport)
        with pytest.raises(TransportError, match=f"No response from {endpoint}") as info:
            client.call(OP.name, VERSION, START)
        assert info.value.reason
        # The dropped start changed nothing: without the fault, the same start succeeds.
        emulator.remove_fault(rule.id)
        assert client.call(OP.name, VERSION, START).status == 200


def test_a_session_less_http_transport_serves_many_threads_at_once():
    with serve_in_thread(Emulator()) as url:
        transport = HttpTransport(timeout=5)
        client = Client(url, ROOT, transport=transport)
        streams = [f"stream{i}" for i in range(1, 4)]
        calls = [{**START, "Command": "stop", "StreamName": streams[i % 3]} for i in range(24)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda p: client.call(OP.name, VERSION, p), calls))
        transport.close()
    # `stop` on an idle task is refused by the lifecycle, never by the transport.
    stop_when_idle = OP.lifecycle.transition(OP.lifecycle.initial, "stop").error  # type: ignore[union-attr]
    assert {a.code for a in answers} == {stop_when_idle}
    assert len({a.request_id for a in answers}) == len(calls)


def test_a_client_takes_a_transport_or_a_session_not_both():
    import requests

    with pytest.raises(UsageError, match="transport or a requests session"):
        Client("http://127.0.0.1:9", ROOT, transport=PooledTransport(), session=requests.Session())


def test_clients_of_other_credentials_share_one_in_process_transport():
    emulator = Emulator()
    transport = EmulatorTransport(emulator)
    root = Client("http://emulator.invalid", ROOT, transport=transport)
    stranger = Client(
        "http://emulator.invalid", Credentials("LTAInobody", "x"), transport=transport
    )
    assert root.call(OP.name, VERSION, START).status == 200
    assert stranger.call(OP.name, VERSION, START).code == "InvalidAccessKeyId.NotFound"


def test_an_https_endpoint_is_secure_transport_in_process():
    seen: list[EmulatorRequest] = []

    class Recorder:
        def handle(self, request):
            seen.append(request)
            return Emulator().handle(request)

    for endpoint in ("https://live.aliyuncs.com", "http://127.0.0.1:1"):
        Client(endpoint, ROOT, transport=EmulatorTransport(Recorder())).call(OP.name, VERSION)
    assert [r.secure for r in seen] == [True, False]
    assert [r.host for r in seen] == ["live.aliyuncs.com", "127.0.0.1:1"]


@settings(max_examples=40, deadline=None)
@given(
    method=st.sampled_from(["GET", "POST"]),
    path=st.sampled_from(["/", "/a/b"]),
    pairs=st.lists(st.tuples(st.text(min_size=1), st.text()), max_size=4),
    form=st.booleans(),
    scheme=st.sampled_from(list(Scheme)),
)
def test_from_wire_keeps_the_request_exactly_as_it_travels(method, path, pairs, form, scheme):
    from acscontract.signing import FORM_CONTENT_TYPE, encode_pairs

    try:
        encoded = encode_pairs(pairs)
    except UsageError:
        return  # a lone surrogate: no client can send it
    headers = {"host": "Live.Example:8080"}
    if form and method == "POST":
        headers["Content-Type"] = FORM_CONTENT_TYPE
        wire = WireRequest(method, path, "", headers, encoded.encode())
    else:
        wire = WireRequest(method, path, encoded, headers)
    signed = sign(wire, ROOT, scheme=scheme, action=OP.name, version=VERSION)
    received = EmulatorRequest.from_wire(signed, client_ip="10.0.0.7", secure=True)
    assert (received.method, received.path, received.query, received.body) == (
        signed.method,
        signed.path,
        signed.query,
        signed.body,
    )
    assert dict(received.headers) == dict(signed.headers)
    assert received.host == "Live.Example:8080"
    assert (received.client_ip, received.secure) == ("10.0.0.7", True)
