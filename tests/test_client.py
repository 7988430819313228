"""acscontract.client: signed calls, deliberately wrong calls, and the requests auth."""

from __future__ import annotations

import importlib.util
import json
import re
import socket
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest
import requests
import responses

from acscontract.client import (
    AcsAuth,
    ApiResponse,
    Client,
    Placement,
    Tamper,
    TransportError,
    sign_prepared,
)
from acscontract.errors import AcsContractError, UsageError
from acscontract.signing import (
    Credentials,
    ParsedRequest,
    Rejection,
    Scheme,
    Verified,
    WireRequest,
    parse,
    percent_encode,
    verify,
)

ENDPOINT = "https://live.aliyuncs.com"
ACTION, VERSION = "RealTimeRecordCommand", "2016-11-01"
CREDS = Credentials("FAKE-AK-client", "fake-secret-client")
STS = Credentials("STS.FAKE-AK-client", "fake-sts-secret-client", "FAKE+sts/token==client")
PARAMS = {
    "Command": "start",
    "DomainName": "live.example.com",
    "AppName": "app name+1",
    "StreamName": "s*~/:直播",
    "RegionId": "",
}


@dataclass
class Gateway:
    """A `responses` callback that checks signatures the way the emulator will."""

    keys: dict[str, str]
    seen: list[WireRequest] = field(default_factory=list)
    parsed: list[ParsedRequest] = field(default_factory=list)

    def __call__(self, prepared: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        body = prepared.body or b""
        wire = WireRequest.from_url(
            prepared.method or "GET",
            prepared.url or "",
            prepared.headers.items(),
            body.encode() if isinstance(body, str) else body,
        )
        self.seen.append(wire)
        parsed = parse(wire)
        if isinstance(parsed, Rejection):
            return self._error(400, parsed.code, parsed.gateway_message)
        self.parsed.append(parsed)
        secret = self.keys.get(parsed.access_key_id)
        if secret is None:
            return self._error(
                404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."
            )
        result = verify(parsed, secret)
        if isinstance(result, Rejection):
            return self._error(400, result.code, result.gateway_message)
        request_id = str(uuid.uuid4()).upper()
        return 200, {"Content-Type": "application/json"}, json.dumps({"RequestId": request_id})

    @staticmethod
    def _error(status: int, code: str, message: str) -> tuple[int, dict[str, str], str]:
        body = {"RequestId": "R", "HostId": "live.aliyuncs.com", "Code": code, "Message": message}
        return status, {"Content-Type": "application/json"}, json.dumps(body)


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    gw = Gateway(
        {CREDS.access_key_id: CREDS.access_key_secret, STS.access_key_id: STS.access_key_secret}
    )
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for method in (responses.GET, responses.POST):
            mock.add_callback(method, re.compile(r"https://live\.aliyuncs\.com/.*"), callback=gw)
        yield gw


def _client(scheme: Scheme = Scheme.V3, credentials: Credentials = CREDS) -> Client:
    return Client(ENDPOINT, credentials, scheme=scheme, session=requests.Session())


# --- Signed calls ------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", list(Scheme))
@pytest.mark.parametrize(
    ("method", "placement"),
    [("POST", Placement.QUERY), ("GET", Placement.QUERY), ("POST", Placement.BODY)],
)
def test_call_is_accepted_by_a_verifying_gateway(
    gateway: Gateway, scheme: Scheme, method: str, placement: Placement
) -> None:
    response = _client(scheme, STS).call(
        ACTION, VERSION, PARAMS, method=method, placement=placement
    )
    assert (response.status, response.code) == (200, None)
    assert response.request_id is not None
    assert response.elapsed > 0
    assert response.request.method == method
    parsed = gateway.parsed[-1]
    assert (parsed.scheme, parsed.action, parsed.version) == (scheme, ACTION, VERSION)
    assert dict(parsed.business) == PARAMS
    assert parsed.security_token == STS.security_token


def test_call_reaches_a_real_loopback_server_byte_for_byte() -> None:
    capture = _load_capture()
    with capture.CaptureServer() as server:
        for scheme in Scheme:
            client = Client(f"http://127.0.0.1:{server.port}", STS, scheme=scheme)
            assert client.call(ACTION, VERSION, PARAMS).status == 200
    for captured, scheme in zip(server.requests, Scheme, strict=True):
        path, _, query = captured.target.partition("?")
        wire = WireRequest(captured.method, path, query, captured.headers, captured.body)
        parsed = parse(wire)
        assert isinstance(parsed, ParsedRequest)
        assert parsed.scheme is scheme
        assert dict(parsed.business) == PARAMS
        assert isinstance(verify(parsed, STS.access_key_secret), Verified)


def test_credentials_come_from_the_environment(gateway: Gateway) -> None:
    env = {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": STS.access_key_id,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": STS.access_key_secret,
        "ALIBABA_CLOUD_SECURITY_TOKEN": str(STS.security_token),
    }
    client = Client(ENDPOINT, environ=env, session=requests.Session())
    assert client.credentials == STS
    assert client.call(ACTION, VERSION, PARAMS).status == 200
    assert gateway.parsed[-1].security_token == STS.security_token


def test_missing_credentials_are_a_clear_error() -> None:
    with pytest.raises(AcsContractError, match="ALIBABA_CLOUD_ACCESS_KEY_ID"):
        Client(ENDPOINT, environ={})


def test_missing_extra_and_malformed_parameters_are_sent_as_given(gateway: Gateway) -> None:
    params: list[tuple[str, str | int]] = [
        ("Command", "not-a-command"),
        ("Extra", "1"),
        ("Extra", "2"),
        ("OwnerId", 12),
    ]
    assert _client().call(ACTION, VERSION, params).status == 200
    assert gateway.parsed[-1].params == (
        ("Command", "not-a-command"),
        ("Extra", "1"),
        ("Extra", "2"),
        ("OwnerId", "12"),
    )


@pytest.mark.parametrize("scheme", list(Scheme))
def test_missing_action_and_version_are_left_out_but_signed(
    gateway: Gateway, scheme: Scheme
) -> None:
    assert _client(scheme).call(None, None, PARAMS).status == 200
    assert (gateway.parsed[-1].action, gateway.parsed[-1].version) == (None, None)


# --- Tampering ---------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", list(Scheme))
def test_stale_timestamp_is_sent_correctly_signed(gateway: Gateway, scheme: Scheme) -> None:
    now = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    tamper = Tamper.stale_timestamp(timedelta(minutes=20), now=now)
    assert _client(scheme).call(ACTION, VERSION, PARAMS, tamper=tamper).status == 200
    assert gateway.parsed[-1].timestamp == now - timedelta(minutes=20)


@pytest.mark.parametrize("scheme", list(Scheme))
def test_malformed_timestamp_is_refused(gateway: Gateway, scheme: Scheme) -> None:
    response = _client(scheme).call(ACTION, VERSION, PARAMS, tamper=Tamper.malformed_timestamp())
    assert (response.status, response.code) == (400, "InvalidTimeStamp.Format")


@pytest.mark.parametrize("scheme", list(Scheme))
def test_a_nonce_can_be_reused(gateway: Gateway, scheme: Scheme) -> None:
    client = _client(scheme)
    for _ in range(2):
        assert client.call(ACTION, VERSION, PARAMS, tamper=Tamper.reused_nonce("n-1")).ok
    assert [p.nonce for p in gateway.parsed] == ["n-1", "n-1"]
    fresh = [client.build(ACTION, VERSION, PARAMS) for _ in range(2)]
    assert len({parse_ok(r).nonce for r in fresh}) == 2


def parse_ok(request: WireRequest) -> ParsedRequest:
    parsed = parse(request)
    assert isinstance(parsed, ParsedRequest)
    return parsed


@pytest.mark.parametrize("scheme", list(Scheme))
def test_unknown_access_key_is_claimed(gateway: Gateway, scheme: Scheme) -> None:
    tamper = Tamper.unknown_access_key("LTAI-not-a-key")
    response = _client(scheme).call(ACTION, VERSION, PARAMS, tamper=tamper)
    assert (response.status, response.code) == (404, "InvalidAccessKeyId.NotFound")
    assert gateway.parsed[-1].access_key_id == "LTAI-not-a-key"


@pytest.mark.parametrize("scheme", list(Scheme))
@pytest.mark.parametrize(
    "tamper",
    [Tamper.bad_signature(), Tamper(unsigned=(("AppName", "other"),))],
    ids=["corrupt", "unsigned-param"],
)
def test_signature_tampering_is_refused(gateway: Gateway, scheme: Scheme, tamper: Tamper) -> None:
    response = _client(scheme).call(ACTION, VERSION, PARAMS, tamper=tamper)
    assert (response.status, response.code) == (400, "SignatureDoesNotMatch")
    assert response.message is not None
    assert response.message.startswith("Specified signature is not matched with our calculation")


@pytest.mark.parametrize(
    ("scheme", "name", "code"),
    [
        (Scheme.V1, "Signature", "IncompleteSignature"),
        (Scheme.V1, "AccessKeyId", "IncompleteSignature"),
        (Scheme.V1, "Timestamp", "MissingParameter"),
        (Scheme.V3, "Authorization", "IncompleteSignature"),
        (Scheme.V3, "x-acs-date", "MissingParameter"),
        (Scheme.V3, "X-Acs-Signature-Nonce", "MissingParameter"),
    ],
)
def test_dropping_part_of_the_envelope_is_refused(
    gateway: Gateway, scheme: Scheme, name: str, code: str
) -> None:
    response = _client(scheme).call(ACTION, VERSION, PARAMS, tamper=Tamper.without(name))
    assert (response.status, response.code) == (400, code)


def test_tampers_combine() -> None:
    combined = Tamper.bad_signature() | Tamper.reused_nonce("n") | Tamper.without("a")
    assert combined == Tamper(nonce="n", corrupt_signature=True, drop=frozenset({"a"}))
    request = _client(Scheme.V1).build(ACTION, VERSION, PARAMS, tamper=combined)
    parsed = parse_ok(request)
    assert parsed.nonce == "n"
    assert isinstance(verify(parsed, CREDS.access_key_secret), Rejection)


# --- Responses and secrecy ---------------------------------------------------------------------


@responses.activate
def test_response_exposes_status_headers_json_and_text() -> None:
    responses.add(responses.POST, re.compile(r".*"), body="<html>busy</html>", status=503)
    response = _client().call(ACTION, VERSION, PARAMS)
    assert (response.status, response.json, response.text) == (503, None, "<html>busy</html>")
    assert response.code is None
    assert not response.ok
    body = {"RequestId": "R1", "Code": "InternalError", "Message": "boom"}
    responses.replace(
        responses.POST, re.compile(r".*"), json=body, status=500, headers={"X-A": "b"}
    )
    response = _client().call(ACTION, VERSION, PARAMS)
    assert (response.code, response.message, response.request_id) == ("InternalError", "boom", "R1")
    assert response.headers["x-a"] == "b"
    assert isinstance(response.started_at, datetime)


@responses.activate
def test_a_response_nested_past_pythons_parser_is_text_not_a_crash() -> None:
    # A hostile or broken endpoint: json.loads raises RecursionError, not ValueError.
    deep = "[" * 100_000 + "]" * 100_000
    responses.add(responses.POST, re.compile(r".*"), body=deep, status=200)
    response = _client().call(ACTION, VERSION, PARAMS)
    assert (response.status, response.json, response.text) == (200, None, deep)


@pytest.mark.parametrize("scheme", list(Scheme))
def test_reprs_never_show_secret_token_or_signature(gateway: Gateway, scheme: Scheme) -> None:
    client = _client(scheme, STS)
    response = client.call(ACTION, VERSION, PARAMS, tamper=Tamper.bad_signature())
    sent = gateway.seen[-1]
    if scheme is Scheme.V1:
        signature = dict(sent.query_pairs())["Signature"]
    else:
        signature = sent.headers["authorization"].rsplit("Signature=", 1)[1]
    assert isinstance(response, ApiResponse)
    for text in (repr(response), repr(response.request), repr(client), repr(sent)):
        for secret in (STS.access_key_secret, str(STS.security_token), signature):
            assert secret not in text
            assert percent_encode(secret) not in text
    assert "SecurityToken" in repr(response.request) or "x-acs-security-token" in repr(
        response.request
    )


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("scheme", list(Scheme))
def test_no_response_is_a_transport_error_without_secrets(scheme: Scheme) -> None:
    client = Client(f"http://127.0.0.1:{_closed_port()}", STS, scheme=scheme, timeout=2)
    request = client.build(ACTION, VERSION, PARAMS)
    with pytest.raises(TransportError, match=r"No response from http://127\.0\.0\.1") as info:
        client.send(request)
    message = str(info.value)
    signature = dict(request.query_pairs()).get("Signature", "")
    for secret in (STS.access_key_secret, str(STS.security_token), signature):
        if secret:
            assert secret not in message
            assert percent_encode(secret) not in message


def test_endpoints_and_usage_errors() -> None:
    assert Client("live.aliyuncs.com", CREDS).endpoint == "https://live.aliyuncs.com"
    assert Client("http://127.0.0.1:9", CREDS).endpoint == "http://127.0.0.1:9"
    for bad in ("ftp://live.aliyuncs.com", "http://h/?a=1", "http://"):
        with pytest.raises(UsageError, match="endpoint"):
            Client(bad, CREDS)
    with pytest.raises(UsageError, match="GET request has no body"):
        _client().build(ACTION, VERSION, PARAMS, method="GET", placement=Placement.BODY)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("http://[::1", "cannot be read as a URL"),  # an unbalanced bracket
        ("http://127.0.0.1:99999", "port"),
        ("http://127.0.0.1:abc", "port"),
        ("http://exa mple.com", "space or a control character"),
        ("http://127.0.0.1:8765/\x1b[31m", "space or a control character"),
    ],
)
def test_an_endpoint_that_is_no_url_is_a_usage_error_naming_why(bad: str, reason: str) -> None:
    with pytest.raises(UsageError, match="endpoint") as caught:
        Client(bad, CREDS)
    message = str(caught.value)
    assert reason in message
    assert "\x1b" not in message  # quoted, never sent to the terminal as it is


# --- requests auth -----------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", list(Scheme))
@pytest.mark.parametrize(
    ("method", "data"),
    [("GET", None), ("POST", None), ("POST", {"AppName": "a b", "StreamName": "é"})],
)
def test_acs_auth_signs_requests_prepared_by_requests(
    gateway: Gateway, scheme: Scheme, method: str, data: dict[str, str] | None
) -> None:
    session = requests.Session()
    session.auth = AcsAuth(STS, action=ACTION, version=VERSION, scheme=scheme)
    response = session.request(
        method, f"{ENDPOINT}/", params={"Command": "start", "DomainName": "d"}, data=data
    )
    assert response.status_code == 200, response.text
    parsed = gateway.parsed[-1]
    assert parsed.scheme is scheme
    assert dict(parsed.business) == {"Command": "start", "DomainName": "d", **(data or {})}
    assert "fake-sts-secret" not in repr(session.auth)


def test_sign_prepared_signs_in_place(gateway: Gateway) -> None:
    prepared = requests.Request(
        "POST",
        f"{ENDPOINT}/?Command=stop",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        data="AppName=x+y",
    ).prepare()
    returned = sign_prepared(prepared, CREDS, action=ACTION, version=VERSION, scheme=Scheme.V1)
    assert returned is prepared
    assert prepared.url is not None
    assert "Signature=" in prepared.url
    assert requests.Session().send(prepared).status_code == 200
    assert gateway.parsed[-1].params == (("Command", "stop"), ("AppName", "x y"))
    streamed = requests.Request("POST", ENDPOINT, data=iter([b"a"])).prepare()
    with pytest.raises(UsageError, match="stream"):
        sign_prepared(streamed, CREDS, action=ACTION, version=VERSION)


def _load_capture() -> ModuleType:
    name = "acscontract_signing_capture"
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).parent / "data" / "signing" / "capture.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
