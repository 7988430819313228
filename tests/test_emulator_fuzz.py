"""Fuzzing the emulator: no input yields an unplanned 500, and a refused call changes nothing."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from acscontract.contracts.strategies import invalid_requests
from acscontract.emulator import (
    Emulator,
    EmulatorRequest,
    ManualClock,
    StateDatabase,
    serve_in_thread,
    signed_request,
)
from acscontract.signing import Credentials, encode_pairs
from acscontract.spec import example_parameters, operation

OP = operation()
ROOT = Credentials("LTAIemulatorRootKey0001", "emulator-root-secret-not-real-0001")
CLOCK = ManualClock()
EM = Emulator(clock=CLOCK)
EM.set_account_qps("1234567890123456", 10**9)  # the clock never moves: no throttling here
# A running task, a stopped one and an offline stream, so refusals meet non-trivial state.
for command, stream in (("start", "stream1"), ("start", "stream2"), ("stop", "stream2")):
    EM.handle(
        signed_request(
            {
                "Command": command,
                "DomainName": "push.example.com",
                "AppName": "live",
                "StreamName": stream,
            },
            ROOT,
        )
    )
EM.set_stream_online("push.example.com", "live", "stream3", False)

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
COMMON = [
    "Action",
    "Version",
    "AccessKeyId",
    "Signature",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "Timestamp",
    "SecurityToken",
    "SignatureType",
    "Format",
]
BUSINESS = [p.name for p in OP.parameters]
HEADERS = [
    "authorization",
    "x-acs-action",
    "x-acs-version",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-content-sha256",
    "x-acs-security-token",
    "x-acs-accesskey-id",
    "content-type",
    "host",
]
SERVER_STATUSES = {e.http_status for e in OP.protocol.gateway_errors_in("server")}

text = st.text(max_size=40)
keys = st.one_of(st.sampled_from(COMMON + BUSINESS), text)
pairs = st.lists(st.tuples(keys, text), max_size=12)
raw_query = st.one_of(pairs.map(encode_pairs), st.text(max_size=120))
header_values = st.one_of(
    text,
    st.just("ACS3-HMAC-SHA256 Credential=LTAIemulatorRootKey0001,SignedHeaders=host,Signature=00"),
    st.just("application/x-www-form-urlencoded"),
    st.just(OP.name),
    st.just(OP.product.version),
)
headers = st.dictionaries(st.one_of(st.sampled_from(HEADERS), text), header_values, max_size=8)
bodies = st.one_of(st.binary(max_size=200), pairs.map(lambda p: encode_pairs(p).encode()))
methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "get", "OPTIONS", "BREW"])


def assert_refusal_changed_nothing(request: EmulatorRequest) -> int:
    before = EM.snapshot()
    response = EM.handle(request)
    assert EM.unplanned_errors == 0
    assert response.status not in SERVER_STATUSES
    document = json.loads(response.body)
    assert "RequestId" in document
    if response.status != 200:
        assert EM.snapshot() == before
    return response.status


@SETTINGS
@given(method=methods, query=raw_query, headers=headers, body=bodies, path=st.text(max_size=20))
def test_arbitrary_requests_never_fail_unplanned_and_never_change_state(
    method, query, headers, body, path
):
    request = EmulatorRequest(method, "live.aliyuncs.com", "/" + path, query, headers, body)
    assert assert_refusal_changed_nothing(request) != 200


@SETTINGS
@given(
    params=st.lists(st.tuples(keys, text), max_size=10),
    scheme=st.sampled_from(["v1", "v3"]),
    form=st.booleans(),
    method=st.sampled_from(["GET", "POST"]),
)
def test_signed_requests_with_arbitrary_parameters_never_fail_unplanned(
    params, scheme, form, method
):
    try:
        request = signed_request(params, ROOT, scheme=scheme, form=form, method=method)
    except Exception:  # noqa: BLE001 - the signer refuses text it cannot send (lone surrogates)
        return
    before = EM.snapshot()
    response = EM.handle(request)
    assert EM.unplanned_errors == 0
    assert response.status not in SERVER_STATUSES
    if response.status != 200:
        assert EM.snapshot() == before
    else:  # put the shared state back as the other examples expect it
        EM.restore(before)


@SETTINGS
@given(case=invalid_requests(OP))
def test_invalid_requests_get_the_code_the_spec_names_and_change_nothing(case):
    request = signed_request(
        case.params,
        ROOT,
        scheme=case.scheme,
        method=case.method,
        action=case.action if case.action is not None else "",
        version=case.version if case.version is not None else "",
    )
    before = EM.snapshot()
    response = EM.handle(request)
    document = json.loads(response.body)
    if case.expected is not None:
        assert document.get("Code") == case.expected, case.describe()
    else:
        assert document.get("Code") in case.accepted, case.describe()
    assert EM.snapshot() == before


# -- over real HTTP, with the live store ----------------------------------------------------------

TOKEN_CHARS = st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=":")
header_names = st.one_of(st.sampled_from(HEADERS), st.text(TOKEN_CHARS, min_size=1, max_size=12))
printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)
http_headers = st.dictionaries(
    header_names.filter(lambda n: n.lower() not in ("content-length", "transfer-encoding")),
    st.one_of(
        printable,
        st.sampled_from(
            [
                "ACS3-HMAC-SHA256 Credential=LTAIemulatorRootKey0001,SignedHeaders=host,"
                "Signature=00",
                "application/x-www-form-urlencoded",
                OP.name,
                OP.product.version,
            ]
        ),
    ),
    max_size=6,
)
http_queries = st.one_of(raw_query, st.text(TOKEN_CHARS, max_size=200)).map(
    lambda q: q.encode("utf-8", "surrogatepass").decode("latin-1", "replace")
)


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[Emulator, StateDatabase, int]]:
    emulator = Emulator(clock=ManualClock())
    emulator.set_account_qps("1234567890123456", 10**9)
    database = StateDatabase(tmp_path_factory.mktemp("fuzz") / "state.db")
    emulator.attach(database)
    start = dict(zip(("Command", *(OP.lifecycle.key)), ("start", *STREAM1), strict=True))
    assert emulator.handle(signed_request(start, ROOT)).status == 200
    with serve_in_thread(emulator) as url:
        yield emulator, database, int(url.rsplit(":", 1)[1])
    emulator.detach()
    database.close()


STREAM1 = ("push.example.com", "live", "stream1")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
    path=st.text(TOKEN_CHARS.filter(lambda c: c not in "?#"), max_size=20),
    query=http_queries,
    headers=http_headers,
    body=bodies,
)
def test_fuzzed_http_requests_never_fail_unplanned_or_hang_and_keep_the_store_intact(
    served, method, path, query, headers, body
):
    """Raw bytes on a socket, so nothing a client library would refuse is left out."""
    emulator, database, port = served
    if ("/" + path).startswith("/_emulator"):
        path = "x" + path
    before = emulator.snapshot()
    head = f"{method} /{path}?{query} HTTP/1.1\r\nHost: live.aliyuncs.com\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode("latin-1", "replace") + body)
        response = http.client.HTTPResponse(sock)
        response.begin()  # a hang would time out here
        payload = response.read()
    assert response.status < 500, payload[:300]
    if (response.getheader("content-type") or "").startswith("application/json"):
        assert "RequestId" in json.loads(payload)
        event("answered by the emulator")
    else:  # uvicorn's HTTP parser refused it before any application code ran
        assert response.status == 400, payload[:300]
        event("refused by the HTTP parser")
    assert emulator.unplanned_errors == 0
    assert emulator.snapshot() == before
    stored = database.load()
    assert stored is not None
    tasks = next(iter(emulator.state.lifecycles))
    assert sorted(
        json.dumps(r.value, sort_keys=True) for r in stored.records if r.kind == tasks
    ) == sorted(json.dumps(t["record"], sort_keys=True) for t in before["world"].get(tasks, []))


@pytest.mark.parametrize("style", ["json", "repeatList"])
def test_a_parameter_nested_past_pythons_recursion_limit_is_malformed_not_a_crash(style):
    # Python's JSON parser and the repeatList reader both recurse: a 2-3 KB value nested about
    # 1,000 levels deep (within the emulator's length limits) used to answer 500 InternalError.
    name = next(
        path.stem
        for path in sorted(operation().path.parent.glob("*.yaml"))
        if f"style: {style}" in path.read_text(encoding="utf-8")
    )
    op = operation(name)
    parameter = next(p for p in op.parameters if p.style == style)
    params = {
        k: v
        for k, v in example_parameters(op)
        if k != parameter.name and not k.startswith(parameter.name + ".")
    }
    if style == "json":
        params[parameter.name] = "[" * 1_000 + "]" * 1_000
    else:
        params[parameter.name + ".1" * 1_200] = "x"
    response = EM.handle(signed_request(params, ROOT, operation=op))
    assert EM.unplanned_errors == 0
    assert response.status == 400
    document = json.loads(response.body)
    assert document["Code"] == next(c.code for c in op.checks if c.check == "malformedParameter")
    assert "nested too deeply to read" in document["Message"]
