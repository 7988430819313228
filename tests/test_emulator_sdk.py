"""The official SDKs, unchanged, against the emulator: every client mode, every documented error.

Five client modes: the new SDK (alibabacloud-live20161101) signing V3 and V1
(`signature_algorithm='v2'`), each sync (requests) and async (aiohttp), and the legacy SDK
(aliyunsdkcore + aliyunsdklive, on its vendored requests). Each talks to the emulator's real HTTP
server (`serve_in_thread`) and to `mock_live`, addressed as the real service (`live.aliyuncs.com`).
The matrix at the end runs every mode through the three front doors (`mock_live`, the `live_mock`
fixture, the served emulator) for a start, a second start, a throttled call, a RAM denial and a
recording produced by advancing the clock. No test here opens a socket to anything but loopback:
a guard refuses it.

The errors come from the spec (`op.errors` and the protocol's gateway errors) and are each reached
through a real condition: a missing or bad parameter, an app without record configuration, an
offline stream, a second start, a wrong secret, an unknown or disabled key, an expired STS token,
a server clock 20 minutes ahead, an account over its flow-control limit, a RAM deny, and fault
injection for the server errors. Conditions an SDK cannot produce (a wrong Action, a reused nonce,
a malformed timestamp...) are sent with acscontract's own client.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import pytest
import requests
from alibabacloud_live20161101.client import Client as LiveClient
from alibabacloud_live20161101.models import (
    DescribeLiveDomainDetailRequest,
    RealTimeRecordCommandRequest,
)
from alibabacloud_tea_openapi.exceptions import (
    AlibabaCloudException,
    ClientException,
    ServerException,
    ThrottlingException,
)
from alibabacloud_tea_openapi.models import Config
from aliyunsdkcore.acs_exception.exceptions import ClientException as LegacyClientException
from aliyunsdkcore.acs_exception.exceptions import ServerException as LegacyServerException
from aliyunsdkcore.auth.credentials import AccessKeyCredential, StsTokenCredential
from aliyunsdkcore.client import AcsClient
from aliyunsdklive.request.v20161101.DescribeLiveDomainDetailRequest import (
    DescribeLiveDomainDetailRequest as LegacyDomainDetailRequest,
)
from aliyunsdklive.request.v20161101.RealTimeRecordCommandRequest import (
    RealTimeRecordCommandRequest as LegacyRequest,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acscontract._loopback import is_loopback_host
from acscontract.client import Client, Placement, Tamper
from acscontract.emulator import (
    Emulator,
    EmulatorRequest,
    EmulatorResponse,
    ManualClock,
    mock_live,
    serve_in_thread,
)
from acscontract.signing import Credentials, Scheme
from acscontract.spec import operation

OP = operation()
LIFECYCLE = OP.lifecycle
assert LIFECYCLE is not None
COMMAND = OP.command_parameter
assert COMMAND is not None
DOMAIN_PARAM, APP_PARAM, STREAM_PARAM = LIFECYCLE.key
REGION = OP.parameter("RegionId").example
REQUEST_ID = re.compile(OP.protocol.request_id_pattern or ".+")
SERVER_ERRORS = OP.protocol.gateway_errors_in("server")
THROTTLE_CODE = OP.flow_control.throttle_code

ACCOUNT, OTHER_ACCOUNT = "1234567890123456", "2234567890123456"
DOMAIN, APP, NO_RECORD_APP = "push.example.com", "live", "norecord"
ROOT = Credentials("LTAItestRoot000000001", "test-root-secret-not-real-000001")
DENIED = Credentials("LTAItestDenied0000001", "test-denied-secret-not-real-00001")
NO_POLICY = Credentials("LTAItestNoPolicy00001", "test-nopolicy-secret-not-real-001")
INACTIVE = Credentials("LTAItestInactive00001", "test-inactive-secret-not-real-001")
LIMITED = Credentials("LTAItestLimited000001", "test-limited-secret-not-real-0001")
EXPIRED_STS = Credentials(
    "STS.testExpired00001", "test-sts-secret-not-real-0000001", "test-sts-token-not-real-01"
)
UNKNOWN = Credentials("LTAItestUnknown000001", "test-unknown-secret-not-real-0001")
WRONG_SECRET = replace(ROOT, access_key_secret="not-the-right-secret")

STREAMS = [f"s{i}" for i in range(16)]
SEED: dict[str, Any] = {
    "accounts": [
        {
            "id": ACCOUNT,
            # The server runs on a frozen ManualClock: lift the limit so tests never throttle.
            "qps": 1_000_000,
            "access_keys": [
                {"id": ROOT.access_key_id, "secret": ROOT.access_key_secret},
                {"id": DENIED.access_key_id, "secret": DENIED.access_key_secret, "user": "denied"},
                {
                    "id": NO_POLICY.access_key_id,
                    "secret": NO_POLICY.access_key_secret,
                    "user": "nopolicy",
                },
                {
                    "id": INACTIVE.access_key_id,
                    "secret": INACTIVE.access_key_secret,
                    "status": "inactive",
                },
            ],
            "users": [
                {
                    "name": "denied",
                    "policies": [
                        {
                            "Version": "1",
                            "Statement": [
                                {"Effect": "Allow", "Action": "live:*", "Resource": "*"},
                                {"Effect": "Deny", "Action": OP.ram.action, "Resource": "*"},
                            ],
                        }
                    ],
                },
                {"name": "nopolicy"},
            ],
            "roles": [{"name": "recorder"}],
            "sts_tokens": [
                {
                    "access_key_id": EXPIRED_STS.access_key_id,
                    "secret": EXPIRED_STS.access_key_secret,
                    "token": EXPIRED_STS.security_token,
                    "role": "recorder",
                    "expires_at": "2001-01-01T00:00:00Z",
                }
            ],
            "domains": [
                {
                    "name": DOMAIN,
                    "apps": [
                        {
                            "name": APP,
                            "record_config": True,
                            "streams": [
                                *({"name": s, "online": True} for s in STREAMS),
                                {"name": "offline", "online": False},
                            ],
                        },
                        {
                            "name": NO_RECORD_APP,
                            "record_config": False,
                            "streams": [{"name": "s0", "online": True}],
                        },
                    ],
                }
            ],
        },
        {
            # One call per window, and the window never passes on the frozen clock.
            "id": OTHER_ACCOUNT,
            "qps": 1,
            "access_keys": [{"id": LIMITED.access_key_id, "secret": LIMITED.access_key_secret}],
            "domains": [
                {
                    "name": "limited.example.com",
                    "apps": [
                        {
                            "name": APP,
                            "record_config": True,
                            "streams": [{"name": "s0", "online": True}],
                        }
                    ],
                }
            ],
        },
    ]
}


def params(command: str = "start", stream: str = "s0", **changes: str | None) -> dict[str, str]:
    """Business parameters by their spec names; a change to None leaves that parameter out."""
    out: dict[str, str | None] = {
        COMMAND.name: command,
        DOMAIN_PARAM: DOMAIN,
        APP_PARAM: APP,
        STREAM_PARAM: stream,
    }
    out.update(changes)
    return {k: v for k, v in out.items() if v is not None}


class RecordingEmulator(Emulator):
    """The real emulator, keeping every response so tests can compare request ids."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.responses: list[EmulatorResponse] = []
        self._responses_lock = threading.Lock()

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        response = super().handle(request)
        with self._responses_lock:
            self.responses.append(response)
        return response

    def last_body(self) -> dict[str, Any]:
        with self._responses_lock:
            return dict(json.loads(self.responses[-1].body))

    def last_header(self, name: str) -> str | None:
        with self._responses_lock:
            return self.responses[-1].header(name)


# --- how the tests reach the emulator -----------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where a client sends: the emulator's server, or `mock_live` as the real endpoint."""

    emulator: RecordingEmulator
    endpoint: str  # the new SDK's Config.endpoint
    protocol: str  # the new SDK's Config.protocol
    legacy_endpoint: str | None  # request.set_endpoint(...) for the legacy SDK; None: resolve


@dataclass(frozen=True)
class Outcome:
    """What a client saw, whatever the SDK: the exception class (None on success) and fields."""

    exception: type[BaseException] | None
    status: int
    code: str | None
    request_id: str | None
    access_denied_detail: Mapping[str, Any] | None = None


def new_sdk(
    target: Target, creds: Credentials, business: Mapping[str, str], *, v2: bool, use_async: bool
) -> Outcome:
    config = Config(
        access_key_id=creds.access_key_id,
        access_key_secret=creds.access_key_secret,
        security_token=creds.security_token,
        endpoint=target.endpoint,
        protocol=target.protocol,
        signature_algorithm="v2" if v2 else None,
    )
    client = LiveClient(config)
    request = RealTimeRecordCommandRequest().from_map(dict(business))
    try:
        if use_async:
            response = asyncio.run(client.real_time_record_command_async(request))
        else:
            response = client.real_time_record_command(request)
    except AlibabaCloudException as error:
        return Outcome(
            type(error),
            error.status_code,
            error.code,
            error.request_id,
            getattr(error, "accessDeniedDetail", None),
        )
    return Outcome(None, response.status_code, None, response.body.request_id)


def legacy_sdk(target: Target, creds: Credentials, business: Mapping[str, str]) -> Outcome:
    credential: Any
    if creds.security_token:
        credential = StsTokenCredential(
            creds.access_key_id, creds.access_key_secret, creds.security_token
        )
    else:
        credential = AccessKeyCredential(creds.access_key_id, creds.access_key_secret)
    client = AcsClient(region_id=REGION, credential=credential)
    request = LegacyRequest()
    for name, value in business.items():
        request.add_query_param(name, value)
    if target.legacy_endpoint is not None:
        request.set_endpoint(target.legacy_endpoint)
    try:
        body = client.do_action_with_exception(request)
    except LegacyServerException as error:
        return Outcome(
            type(error), error.get_http_status(), error.get_error_code(), error.get_request_id()
        )
    return Outcome(None, 200, None, json.loads(body)["RequestId"])


Caller = Callable[[Target, Credentials, Mapping[str, str]], Outcome]
CALLERS: dict[str, Caller] = {
    "v3-sync": lambda t, c, p: new_sdk(t, c, p, v2=False, use_async=False),
    "v3-async": lambda t, c, p: new_sdk(t, c, p, v2=False, use_async=True),
    "v2-sync": lambda t, c, p: new_sdk(t, c, p, v2=True, use_async=False),
    "v2-async": lambda t, c, p: new_sdk(t, c, p, v2=True, use_async=True),
    "legacy": legacy_sdk,
}
CASES = [
    pytest.param(mode, transport, id=f"{mode}-{transport}")
    for transport in ("server", "mock")
    for mode in CALLERS
]


def expected_class(mode: str, status: int, retry_after: str | None) -> type[BaseException]:
    """The exception class an SDK raises for an error status (FACTS: errors as SDKs see them)."""
    if mode == "legacy":
        return LegacyServerException
    if retry_after is not None:
        return ThrottlingException
    return ClientException if 400 <= status < 500 else ServerException


# --- nothing but loopback ------------------------------------------------------------------


class NonLoopbackConnection(OSError):
    """A test tried to resolve or connect to something other than loopback."""


def _is_loopback(host: object) -> bool:
    if host is None:  # a passive lookup: this machine's own addresses
        return True
    return is_loopback_host(host.decode() if isinstance(host, bytes) else str(host))


@pytest.fixture(scope="module", autouse=True)
def loopback_only() -> Iterator[None]:
    """Refuse, for this whole module, any name lookup or connection that is not loopback."""
    real_getaddrinfo = socket.getaddrinfo
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_loopback(host):
            raise NonLoopbackConnection(f"loopback guard: a test looked up {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    def checked(address: Any) -> None:
        if isinstance(address, tuple) and not _is_loopback(address[0]):
            raise NonLoopbackConnection(f"loopback guard: a test connected to {address!r}")

    def connect(sock: socket.socket, address: Any) -> None:
        checked(address)
        real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        checked(address)
        return real_connect_ex(sock, address)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "getaddrinfo", getaddrinfo)
        patch.setattr(socket.socket, "connect", connect)
        patch.setattr(socket.socket, "connect_ex", connect_ex)
        yield


def test_the_loopback_guard_catches_anything_else(server_url: str) -> None:
    with pytest.raises(NonLoopbackConnection, match="looked up"):
        socket.create_connection(("192.0.2.1", 80), timeout=0.1)
    with socket.socket() as sock, pytest.raises(NonLoopbackConnection, match="connected to"):
        sock.connect(("192.0.2.1", 80))
    with pytest.raises(requests.ConnectionError, match="loopback guard"):
        requests.get("http://example.com/", timeout=1)
    # Loopback still works.
    assert requests.get(f"{server_url}/", timeout=5).status_code == OP.status_of(
        OP.protocol.gateway_errors_in("action")[0].code
    )


@pytest.fixture(scope="module")
def emulator() -> RecordingEmulator:
    return RecordingEmulator(SEED, clock=ManualClock())


@pytest.fixture(scope="module")
def server_url(emulator: RecordingEmulator) -> Iterator[str]:
    with serve_in_thread(emulator) as url:
        yield url


@pytest.fixture
def target(
    request: pytest.FixtureRequest, emulator: RecordingEmulator, server_url: str
) -> Iterator[Target]:
    emulator.reset()
    emulator.responses.clear()
    transport = request.node.callspec.params["transport"]
    if transport == "server":
        netloc = server_url.split("://", 1)[1]
        yield Target(emulator, netloc, "http", netloc)
    else:
        with mock_live(state=emulator):
            yield Target(emulator, OP.product.default_endpoint, "https", None)


def check_error(
    mode: str, target: Target, outcome: Outcome, code: str, *, sdk_code: str | None = None
) -> None:
    """The SDK raised the right class with the emulator's code, status and request id."""
    check_answer(mode, target.emulator.responses[-1], outcome, code, sdk_code=sdk_code)


def check_answer(
    mode: str,
    answer: EmulatorResponse,
    outcome: Outcome,
    code: str,
    *,
    sdk_code: str | None = None,
) -> None:
    """The SDK raised the right class with the code, status and request id of `answer`."""
    body = json.loads(answer.body)
    status = OP.status_of(code)
    assert body["Code"] == code
    assert answer.status == status
    assert outcome.exception is expected_class(mode, status, answer.header("x-acs-retry-after")), (
        outcome
    )
    assert outcome.status == status
    assert outcome.code == (sdk_code or code)
    assert outcome.request_id == body["RequestId"]
    assert REQUEST_ID.fullmatch(outcome.request_id)


# --- success and the lifecycle ------------------------------------------------------------


@pytest.mark.parametrize(("mode", "transport"), CASES)
def test_every_mode_drives_the_recording_lifecycle(
    mode: str, transport: str, target: Target
) -> None:
    caller = CALLERS[mode]
    cycle = ("start", "stop", "cancel_delay")
    state = LIFECYCLE.initial
    for command in cycle:
        outcome = caller(target, ROOT, params(command, "s1"))
        assert outcome.exception is None, outcome
        assert outcome.status == 200
        assert outcome.request_id == target.emulator.last_body()["RequestId"]
        assert outcome.request_id is not None
        assert REQUEST_ID.fullmatch(outcome.request_id)
        transition = LIFECYCLE.transition(state, command)
        assert transition is not None
        state = transition.next_state
        assert target.emulator.state.task_state(DOMAIN, APP, "s1") == state
    # stop, then cancel_delay, produces the file at once.
    (recording,) = target.emulator.recordings()
    assert recording.key == (DOMAIN, APP, "s1")


# --- the operation's own errors -----------------------------------------------------------


def _bad_command() -> str:
    assert COMMAND.enum is not None
    return "x" + max(COMMAND.enum, key=len)


def _double_start(caller: Caller, target: Target) -> Outcome:
    first = caller(target, ROOT, params("start", "s2"))
    assert first.exception is None, first
    return caller(target, ROOT, params("start", "s2"))


def _server_fault(code: str) -> Callable[[Caller, Target], Outcome]:
    def run(caller: Caller, target: Target) -> Outcome:
        target.emulator.add_fault({"kind": "error", "code": code, "stream": "s3"})
        return caller(target, ROOT, params("start", "s3"))

    return run


OPERATION_RECIPES: dict[str, Callable[[Caller, Target], Outcome]] = {
    OP.check_code("missingParameter"): lambda c, t: c(t, ROOT, params(**{STREAM_PARAM: None})),
    OP.check_code("malformedParameter"): lambda c, t: c(t, ROOT, params(_bad_command())),
    OP.check_code("recordConfig"): lambda c, t: c(t, ROOT, params(**{APP_PARAM: NO_RECORD_APP})),
    OP.check_code("streamOnline"): lambda c, t: c(t, ROOT, params(stream="offline")),
    # The lifecycle's error for a second start.
    next(
        tr.error
        for tr in LIFECYCLE.transitions
        if tr.trigger == "start" and tr.source != LIFECYCLE.initial and tr.error and tr.documented
    ): _double_start,
    # The operation's own 500 is the server error; fault injection is the only way to get one.
    **{e.code: _server_fault(e.code) for e in OP.errors if e.http_status >= 500},
}


def test_every_operation_error_has_a_recipe() -> None:
    assert set(OPERATION_RECIPES) == {e.code for e in OP.errors}


@pytest.mark.parametrize("code", [e.code for e in OP.errors])
@pytest.mark.parametrize(("mode", "transport"), CASES)
def test_operation_errors_surface_as_sdk_exceptions(
    code: str, mode: str, transport: str, target: Target
) -> None:
    outcome = OPERATION_RECIPES[code](CALLERS[mode], target)
    check_error(mode, target, outcome, code)


# --- gateway errors an SDK can run into ---------------------------------------------------


def _throttled(caller: Caller, target: Target) -> Outcome:
    business = params(stream="s0", **{DOMAIN_PARAM: "limited.example.com"})
    first = caller(target, LIMITED, business)
    assert first.exception is None, first
    return caller(target, LIMITED, params("stop", "s0", **{DOMAIN_PARAM: "limited.example.com"}))


def _first_code(category: str) -> str:
    return OP.protocol.gateway_errors_in(category)[0].code


SDK_GATEWAY_RECIPES: dict[str, Callable[[Caller, Target], Outcome]] = {
    _first_code("permission"): lambda c, t: c(t, DENIED, params()),
    OP.protocol.gateway_errors_in("credential")[0].code: lambda c, t: c(t, UNKNOWN, params()),
    OP.protocol.gateway_errors_in("credential")[1].code: lambda c, t: c(t, INACTIVE, params()),
    OP.protocol.gateway_errors_in("credential")[2].code: lambda c, t: c(t, EXPIRED_STS, params()),
    OP.protocol.gateway_errors_in("signature")[1].code: lambda c, t: c(t, WRONG_SECRET, params()),
    **({THROTTLE_CODE: _throttled} if THROTTLE_CODE else {}),
    **{e.code: _server_fault(e.code) for e in SERVER_ERRORS},
}
#: The legacy SDK recognises a wrong secret when the server's string to sign, after the colon of
#: the SignatureDoesNotMatch message, equals its own, and reports its own code instead.
LEGACY_WRONG_SECRET_CODE = "InvalidAccessKeySecret"


@pytest.mark.parametrize("code", list(SDK_GATEWAY_RECIPES))
@pytest.mark.parametrize(("mode", "transport"), CASES)
def test_gateway_errors_surface_as_sdk_exceptions(
    code: str, mode: str, transport: str, target: Target
) -> None:
    outcome = SDK_GATEWAY_RECIPES[code](CALLERS[mode], target)
    sdk_code = None
    if mode == "legacy" and code == OP.protocol.gateway_errors_in("signature")[1].code:
        # No IndexError: the message has the colon the legacy SDK splits on.
        sdk_code = LEGACY_WRONG_SECRET_CODE
    check_error(mode, target, outcome, code, sdk_code=sdk_code)


@pytest.mark.parametrize(("mode", "transport"), CASES)
def test_ram_denial_carries_the_access_denied_detail(
    mode: str, transport: str, target: Target
) -> None:
    code = _first_code("permission")
    for creds, kind in ((DENIED, "ExplicitDeny"), (NO_POLICY, "ImplicitDeny")):
        outcome = CALLERS[mode](target, creds, params())
        check_error(mode, target, outcome, code)
        detail = target.emulator.last_body()["AccessDeniedDetail"]
        assert detail["NoPermissionType"] == kind
        assert detail["AuthAction"] == OP.ram.action
        assert detail["AuthPrincipalOwnerId"] == ACCOUNT
        if mode != "legacy":  # the legacy SDK reads only Code, Message and RequestId
            assert outcome.access_denied_detail == detail


STALE_CODE = OP.protocol.gateway_errors_in("freshness")[1].code


@pytest.fixture(scope="module")
def stale_server() -> Iterator[tuple[RecordingEmulator, str]]:
    """An emulator whose gateway clock runs 20 minutes ahead, past the spec's timestamp skew."""
    ahead = OP.protocol.timestamp_skew_seconds + 300
    emulator = RecordingEmulator(SEED)
    emulator.set_gateway_offset(ahead)
    with serve_in_thread(emulator) as url:
        yield emulator, url


@pytest.mark.parametrize("mode", list(CALLERS))
def test_a_stale_timestamp_surfaces_as_sdk_exception(
    mode: str, stale_server: tuple[RecordingEmulator, str]
) -> None:
    emulator, url = stale_server
    netloc = url.split("://", 1)[1]
    target = Target(emulator, netloc, "http", netloc)
    outcome = CALLERS[mode](target, ROOT, params())
    check_error(mode, target, outcome, STALE_CODE)


# --- gateway errors only a hand-made request can reach ------------------------------------

LIMITS = OP.protocol.request_limits


def _condition_code(condition: str) -> str:
    return OP.protocol.gateway_error_for(condition).code


def _client_recipes() -> dict[str, Callable[[Client], Any]]:
    action, version = OP.name, OP.product.version
    business = params(stream="s4")
    freshness = OP.protocol.gateway_errors_in("freshness")

    def reused_nonce(client: Client) -> Any:
        first = client.call(action, version, business, tamper=Tamper.reused_nonce("nonce-1"))
        assert first.status == 200, first
        return client.call(
            action, version, params("stop", "s4"), tamper=Tamper.reused_nonce("nonce-1")
        )

    return {
        _first_code("method"): lambda c: c.call(action, version, business, method="PUT"),
        _first_code("action"): lambda c: c.call("NoSuchAction", version, business),
        OP.protocol.gateway_errors_in("action")[1].code: lambda c: c.call(
            action, "1999-01-01", business
        ),
        _first_code("parameter"): lambda c: c.call(
            action,
            version,
            business,
            tamper=Tamper.without("SignatureNonce", "x-acs-signature-nonce"),
        ),
        _first_code("signature"): lambda c: c.call(
            action, version, business, tamper=Tamper.without("Signature", "x-acs-content-sha256")
        ),
        freshness[0].code: lambda c: c.call(
            action, version, business, tamper=Tamper.malformed_timestamp()
        ),
        freshness[2].code: reused_nonce,
        # The emulator's own refusals (rpc.yaml: a parameter in both places, requestLimits).
        _condition_code("parameterInQueryAndBody"): lambda c: c.call(
            action,
            version,
            business,
            placement=Placement.BODY,
            tamper=Tamper(unsigned=((APP_PARAM, APP),)),
        ),
        _condition_code(LIMITS.query_bytes.condition): lambda c: c.call(
            action, version, {**business, "Padding": "x" * LIMITS.query_bytes.value}
        ),
        _condition_code(LIMITS.parameters.condition): lambda c: c.call(
            action,
            version,
            {**business, **{f"P{i}": "1" for i in range(LIMITS.parameters.value)}},
        ),
        _condition_code(LIMITS.parameter_bytes.condition): lambda c: c.call(
            action, version, {**business, "Padding": "x" * LIMITS.parameter_bytes.value}
        ),
    }


CLIENT_RECIPES = _client_recipes()
NONCE_MEMORY_FULL = _condition_code(LIMITS.nonces_per_access_key.condition)
UNMODELLED = _condition_code("unmodelledOperation")
REACHED = {*SDK_GATEWAY_RECIPES, *CLIENT_RECIPES, STALE_CODE, NONCE_MEMORY_FULL, UNMODELLED}


@pytest.mark.parametrize("sdk", ["new", "legacy"])
def test_an_unmodelled_operation_refused_on_request_surfaces_as_sdk_exception(sdk: str) -> None:
    """`unmodelled="refuse"`: an operation the spec does not model gets the documented refusal."""
    emulator = RecordingEmulator(SEED, unmodelled="refuse")
    with serve_in_thread(emulator) as url:
        netloc = url.split("://", 1)[1]
        if sdk == "new":
            config = Config(
                access_key_id=ROOT.access_key_id,
                access_key_secret=ROOT.access_key_secret,
                endpoint=netloc,
                protocol="http",
            )
            with pytest.raises(ServerException) as raised:
                LiveClient(config).describe_live_domain_detail(
                    DescribeLiveDomainDetailRequest(domain_name=DOMAIN)
                )
            code, status = raised.value.code, raised.value.status_code
        else:
            client = AcsClient(
                region_id=REGION,
                credential=AccessKeyCredential(ROOT.access_key_id, ROOT.access_key_secret),
            )
            request = LegacyDomainDetailRequest()
            request.set_DomainName(DOMAIN)
            request.set_endpoint(netloc)
            with pytest.raises(LegacyServerException) as legacy_raised:
                client.do_action_with_exception(request)
            code, status = (
                legacy_raised.value.get_error_code(),
                legacy_raised.value.get_http_status(),
            )
    assert (code, status) == (UNMODELLED, OP.protocol.gateway_error(UNMODELLED).http_status)
    assert emulator.last_body()["Code"] == UNMODELLED


@pytest.mark.parametrize("mode", list(CALLERS))
def test_a_full_nonce_memory_surfaces_as_sdk_exception(mode: str) -> None:
    """One nonce of room per AccessKey: the second call of a key is refused, not evicting."""
    emulator = RecordingEmulator(SEED, clock=ManualClock(), nonce_cap=1)
    with serve_in_thread(emulator) as url:
        netloc = url.split("://", 1)[1]
        target = Target(emulator, netloc, "http", netloc)
        assert CALLERS[mode](target, ROOT, params()).exception is None
        outcome = CALLERS[mode](target, ROOT, params("stop"))
        check_error(mode, target, outcome, NONCE_MEMORY_FULL)


@pytest.mark.parametrize("code", list(CLIENT_RECIPES))
@pytest.mark.parametrize("scheme", [Scheme.V1, Scheme.V3])
def test_gateway_errors_only_a_hand_made_request_reaches(
    code: str, scheme: Scheme, emulator: RecordingEmulator, server_url: str
) -> None:
    emulator.reset()
    response = CLIENT_RECIPES[code](Client(server_url, ROOT, scheme=scheme))
    body = emulator.last_body()
    assert (response.status, response.code) == (OP.status_of(code), code)
    assert response.request_id == body["RequestId"]
    assert set(OP.protocol.error_schema["required"]) <= set(response.json)


def test_every_gateway_error_is_reached_or_is_an_alternative() -> None:
    """Each gateway code is reached above, or is another name the spec lists in a category
    whose reached code has the same HTTP status (so the SDKs map it the same way)."""
    reached = REACHED
    for error in OP.protocol.gateway_errors:
        if error.code in reached:
            continue
        siblings = [
            e
            for e in OP.protocol.gateway_errors_in(error.category)
            if e.code in reached and e.http_status == error.http_status
        ]
        assert siblings, f"{error.code} is neither reached nor an alternative of a reached code"


# --- the two clocks -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def wall_clock_server() -> Iterator[tuple[RecordingEmulator, str]]:
    """The served emulator as `acscontract emulator serve` runs it: on the default clocks."""
    emulator = RecordingEmulator(SEED)
    with serve_in_thread(emulator) as url:
        yield emulator, url


ADVANCES = st.one_of(
    st.sampled_from(
        [
            OP.protocol.timestamp_skew_seconds + 1,
            OP.protocol.nonce_window_seconds + 1,
            86_400 * 365 * 30,
        ]
    ),
    st.floats(min_value=0, max_value=1e9, allow_nan=False),
)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seconds=ADVANCES)
def test_advancing_the_virtual_clock_never_makes_a_fresh_sdk_call_stale(
    seconds: float, wall_clock_server: tuple[RecordingEmulator, str]
) -> None:
    """Audit defect 11: clock advances added up and, past 900 s, every SDK call was stale."""
    emulator, url = wall_clock_server
    admin = f"{url}/_emulator"
    assert requests.post(f"{admin}/reset", timeout=5).status_code == 200
    before = requests.get(f"{admin}/state", timeout=5).json()
    for _ in range(2):  # advances add up on the virtual clock, never on the gateway's
        moved = requests.post(f"{admin}/clock/advance", json={"seconds": seconds}, timeout=5)
        assert moved.status_code == 200, moved.text
    state = requests.get(f"{admin}/state", timeout=5).json()
    assert state["now"] >= before["now"] + 2 * seconds - 1
    assert abs(state["gateway_now"] - time.time()) < 60
    netloc = url.split("://", 1)[1]
    target = Target(emulator, netloc, "http", netloc)
    for index, (mode, caller) in enumerate(CALLERS.items()):
        outcome = caller(target, ROOT, params(stream=STREAMS[index]))
        assert outcome.exception is None, (mode, seconds, emulator.last_body())
    # reset puts the virtual clock back on the wall clock
    requests.post(f"{admin}/reset", timeout=5)
    assert abs(requests.get(f"{admin}/state", timeout=5).json()["now"] - time.time()) < 60


# --- codes the emulator never sends: the SDKs still map them by status ---------------------


class ForcedCode(Emulator):
    """Answers every call with one spec error, in the spec's envelope (for alternative codes)."""

    def __init__(self, code: str, status: int) -> None:
        super().__init__(SEED)
        self.code, self.status = code, status
        self.request_ids: list[str] = []

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        rid = f"{len(self.request_ids):08X}-0000-4000-8000-000000000000"
        self.request_ids.append(rid)
        body = {"RequestId": rid, "HostId": "h", "Code": self.code, "Message": "forced"}
        return EmulatorResponse(
            self.status,
            (("content-type", OP.protocol.error_content_type),),
            json.dumps(body).encode(),
        )


ALTERNATIVES = [e for e in OP.protocol.gateway_errors if e.code not in REACHED]


@pytest.mark.parametrize("error", ALTERNATIVES, ids=lambda e: e.code)
def test_alternative_codes_surface_as_sdk_exceptions(error: Any) -> None:
    forced = ForcedCode(error.code, error.http_status)
    with serve_in_thread(forced) as url:
        netloc = url.split("://", 1)[1]
        target = Target(forced, netloc, "http", netloc)  # type: ignore[arg-type]
        for mode, caller in CALLERS.items():
            outcome = caller(target, ROOT, params())
            assert outcome.exception is expected_class(mode, error.http_status, None), mode
            assert (outcome.status, outcome.code) == (error.http_status, error.code), mode
            assert outcome.request_id == forced.request_ids[-1], mode


# --- transport failures -------------------------------------------------------------------


def test_a_dropped_connection_is_an_sdk_http_error_through_mock_live() -> None:
    with mock_live(SEED) as emulator:
        emulator.add_fault({"kind": "drop", "stream": "s5"})
        client = AcsClient(
            region_id=REGION,
            credential=AccessKeyCredential(ROOT.access_key_id, ROOT.access_key_secret),
        )
        request = LegacyRequest()
        for name, value in params(stream="s5").items():
            request.add_query_param(name, value)
        started = time.monotonic()
        with pytest.raises(LegacyClientException) as raised:
            client.do_action_with_exception(request)
        assert raised.value.get_error_code() == "SDK.HttpError"
        assert time.monotonic() - started < 5
        assert emulator.state.task_state(DOMAIN, APP, "s5") == LIFECYCLE.initial


# --- the matrix: every mode, through every front door, for every user-visible scenario ---------

DELAY_S = max(LIFECYCLE.timers.values())
DELAY_EVENT = LIFECYCLE.event_for_timer(next(iter(LIFECYCLE.timers)))
RECORDING_STATE = LIFECYCLE.transition(LIFECYCLE.initial, "start")
assert RECORDING_STATE is not None
PERMISSION_CODE = _first_code("permission")


def record_answers(emulator: Emulator) -> list[EmulatorResponse]:
    """Keep every answer `emulator` gives from now on (whatever front door asks it)."""
    answers: list[EmulatorResponse] = []
    handle = emulator.handle

    def recording(request: EmulatorRequest) -> EmulatorResponse:
        response = handle(request)
        answers.append(response)
        return response

    emulator.handle = recording  # type: ignore[method-assign]
    return answers


def _ok(outcome: Outcome, answers: list[EmulatorResponse]) -> None:
    assert outcome.exception is None, outcome
    assert outcome.status == answers[-1].status == 200
    assert outcome.request_id == json.loads(answers[-1].body)["RequestId"]


def scenario_start(mode: str, target: Target, answers: list[EmulatorResponse]) -> None:
    _ok(CALLERS[mode](target, ROOT, params("start", "s1")), answers)
    assert target.emulator.state.task_state(DOMAIN, APP, "s1") == RECORDING_STATE.next_state


def scenario_second_start(mode: str, target: Target, answers: list[EmulatorResponse]) -> None:
    _ok(CALLERS[mode](target, ROOT, params("start", "s2")), answers)
    outcome = CALLERS[mode](target, ROOT, params("start", "s2"))
    assert ALREADY_STARTED_CODE is not None
    check_answer(mode, answers[-1], outcome, ALREADY_STARTED_CODE)


def scenario_throttled(mode: str, target: Target, answers: list[EmulatorResponse]) -> None:
    assert THROTTLE_CODE is not None
    outcome = _throttled(CALLERS[mode], target)
    check_answer(mode, answers[-1], outcome, THROTTLE_CODE)


def scenario_ram_denied(mode: str, target: Target, answers: list[EmulatorResponse]) -> None:
    outcome = CALLERS[mode](target, DENIED, params())
    check_answer(mode, answers[-1], outcome, PERMISSION_CODE)
    detail = json.loads(answers[-1].body)["AccessDeniedDetail"]
    assert (detail["NoPermissionType"], detail["AuthAction"]) == ("ExplicitDeny", OP.ram.action)
    if mode != "legacy":  # the legacy SDK reads only Code, Message and RequestId
        assert outcome.access_denied_detail == detail


def scenario_recording_by_advancing_the_clock(
    mode: str, target: Target, answers: list[EmulatorResponse]
) -> None:
    for command in ("start", "stop"):
        _ok(CALLERS[mode](target, ROOT, params(command, "s3")), answers)
    assert target.emulator.recordings() == ()
    target.emulator.advance_clock(DELAY_S + 1)
    assert [(r.key[-1], r.reason) for r in target.emulator.recordings()] == [("s3", DELAY_EVENT)]
    # The gateway checks timestamps on the wall clock: advancing never makes a call stale.
    _ok(CALLERS[mode](target, ROOT, params("start", "s3")), answers)


ALREADY_STARTED_CODE = next(
    tr.error
    for tr in LIFECYCLE.transitions
    if tr.trigger == "start" and tr.source != LIFECYCLE.initial and tr.error and tr.documented
)
SCENARIOS: dict[str, Callable[[str, Target, list[EmulatorResponse]], None]] = {
    "start": scenario_start,
    "second-start": scenario_second_start,
    "throttled": scenario_throttled,
    "ram-denied": scenario_ram_denied,
    "recording-by-advancing-clock": scenario_recording_by_advancing_the_clock,
}
BY_MODE_AND_SCENARIO = [
    pytest.mark.parametrize("scenario", list(SCENARIOS)),
    pytest.mark.parametrize("mode", list(CALLERS)),
]


def _as_real_service(emulator: Emulator) -> Target:
    return Target(emulator, OP.product.default_endpoint, "https", None)  # type: ignore[arg-type]


@BY_MODE_AND_SCENARIO[0]
@BY_MODE_AND_SCENARIO[1]
def test_matrix_through_mock_live(mode: str, scenario: str) -> None:
    with mock_live(SEED, clock=ManualClock(), passthrough=False) as emulator:
        answers = record_answers(emulator)
        SCENARIOS[scenario](mode, _as_real_service(emulator), answers)


@pytest.mark.parametrize(
    "live_mock", [{"seed": SEED, "clock": ManualClock(), "passthrough": False}], indirect=True
)
@BY_MODE_AND_SCENARIO[0]
@BY_MODE_AND_SCENARIO[1]
def test_matrix_through_the_live_mock_fixture(
    mode: str, scenario: str, live_mock: Emulator
) -> None:
    answers = record_answers(live_mock)
    SCENARIOS[scenario](mode, _as_real_service(live_mock), answers)


@BY_MODE_AND_SCENARIO[0]
@BY_MODE_AND_SCENARIO[1]
def test_matrix_through_the_served_emulator(
    mode: str, scenario: str, emulator: RecordingEmulator, server_url: str
) -> None:
    emulator.reset()
    emulator.responses.clear()
    netloc = server_url.split("://", 1)[1]
    SCENARIOS[scenario](mode, Target(emulator, netloc, "http", netloc), emulator.responses)


# --- the endpoints users write, and the ones the new SDK composes ------------------------------

RULES = OP.product.protocol.endpoint_rules
assert RULES is not None


def _regional(region: str, network: str = "") -> str:
    return f"{OP.product.name}{network}.{region}.{RULES.domain}"


@pytest.mark.parametrize("mode", list(CALLERS))
def test_every_mode_is_answered_at_regional_and_vpc_endpoints(mode: str) -> None:
    regions = sorted(OP.product.endpoints)
    endpoints = [_regional(regions[0]), _regional(regions[-1]), _regional(regions[0], "-vpc")]
    emulator = RecordingEmulator(SEED, clock=ManualClock())
    with mock_live(state=emulator, passthrough=False):
        for stream, endpoint in zip(STREAMS, endpoints, strict=False):
            target = Target(emulator, endpoint, "https", endpoint)
            outcome = CALLERS[mode](target, ROOT, params("start", stream))
            assert outcome.exception is None, (endpoint, outcome)
            assert emulator.state.task_state(DOMAIN, APP, stream) == RECORDING_STATE.next_state
            assert json.loads(emulator.responses[-1].body)["RequestId"] == outcome.request_id


@pytest.mark.parametrize("network", RULES.networks)
@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_endpoints_the_new_sdk_composes_are_answered(network: str, use_async: bool) -> None:
    """No endpoint given: the SDK composes one from the region (one its map does not list)
    and the network, by the rules the spec records."""
    config = Config(
        access_key_id=ROOT.access_key_id,
        access_key_secret=ROOT.access_key_secret,
        region_id="xx-unlisted-1",
        network=network.lstrip("-") or None,
    )
    client = LiveClient(config)
    request = RealTimeRecordCommandRequest().from_map(params("start", "s1"))
    live = mock_live(SEED, clock=ManualClock(), passthrough=False)
    with live as emulator:
        if use_async:
            response = asyncio.run(client.real_time_record_command_async(request))
        else:
            response = client.real_time_record_command(request)
    assert response.status_code == 200
    assert emulator.state.task_state(DOMAIN, APP, "s1") == RECORDING_STATE.next_state
    (call,) = live.calls
    assert call.request.host == _regional("xx-unlisted-1", network)
    assert call.transport == ("aiohttp" if use_async else "requests")
