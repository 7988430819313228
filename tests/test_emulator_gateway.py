"""The emulator's gateway: each refusal, its code, status and envelope, and their order."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from acscontract.emulator import Emulator, EmulatorRequest, ManualClock, signed_request
from acscontract.signing import Credentials, WireRequest, parse, string_to_sign
from acscontract.spec import operation

OP = operation()
PROTOCOL = OP.protocol
ROOT = Credentials("LTAIemulatorRootKey0001", "emulator-root-secret-not-real-0001")
OTHER = Credentials("LTAIemulatorOtherRoot01", "emulator-other-root-secret-not-real-1")
INACTIVE = Credentials("LTAIemulatorInactive001", "emulator-inactive-secret-not-real-01")
DENIED = Credentials("LTAIemulatorDenied00001", "emulator-denied-secret-not-real-0001")
STS = Credentials(
    "STS.emulatorRecorderRole01",
    "emulator-sts-secret-not-real-000001",
    "emulator-sts-token-not-real-000001",
)
EXPIRED_STS = Credentials(
    "STS.emulatorExpiredToken1",
    "emulator-sts-secret-not-real-000002",
    "emulator-sts-token-not-real-000002",
)
SKEW = PROTOCOL.timestamp_skew_seconds
PARAMS = {
    "Command": "start",
    "DomainName": "push.example.com",
    "AppName": "live",
    "StreamName": "stream1",
}


def gateway(category: str, position: int = 0) -> str:
    return PROTOCOL.gateway_errors_in(category)[position].code


UNSUPPORTED_METHOD = gateway("method")
UNKNOWN_ACTION, UNKNOWN_VERSION = gateway("action", 0), gateway("action", 1)
MISSING_COMMON = gateway("parameter")
INCOMPLETE, MISMATCH = gateway("signature", 0), gateway("signature", 1)
UNKNOWN_KEY, INACTIVE_KEY, BAD_TOKEN = (gateway("credential", i) for i in range(3))
BAD_TIMESTAMP, EXPIRED_TIMESTAMP, NONCE_USED = (gateway("freshness", i) for i in range(3))
PERMISSION = gateway("permission")
THROTTLED = OP.flow_control.throttle_code


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def em(clock: ManualClock) -> Emulator:
    """Both clocks on one manual clock: the gateway's checks are the subject here."""
    return Emulator(clock=clock, wall_clock=clock)


def code_of(response) -> str | None:
    if response.status == 200:
        return None
    document = json.loads(response.body)
    assert response.status == OP.status_of(document["Code"])
    assert response.header("content-type") == PROTOCOL.error_content_type
    assert set(PROTOCOL.error_schema["required"]) <= set(document)
    assert re.fullmatch(PROTOCOL.request_id_pattern or "", document["RequestId"])
    return document["Code"]


def send(em: Emulator, creds: Credentials = ROOT, params=PARAMS, **kw) -> str | None:
    return code_of(em.handle(signed_request(params, creds, **kw)))


def raw(method: str = "POST", query: str = "", headers=None, body: bytes = b"") -> EmulatorRequest:
    return EmulatorRequest(method, "live.aliyuncs.com", "/", query, headers or {}, body)


def stamp(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


# -- each refusal -----------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["v1", "v3"])
def test_a_well_signed_call_passes_the_gateway(em, scheme):
    assert send(em, scheme=scheme) is None


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_methods_other_than_the_spec_ones_are_refused_first(em, method):
    request = replace(signed_request(PARAMS, ROOT, action="Nope"), method=method)
    assert code_of(em.handle(request)) == UNSUPPORTED_METHOD
    assert method.lower() not in OP.methods
    assert method not in OP.methods


@pytest.mark.parametrize("scheme", ["v1", "v3"])
def test_unknown_and_missing_actions_and_wrong_versions(em, scheme):
    assert send(em, action="DescribeLiveStreamsOnlineList", scheme=scheme) == UNKNOWN_ACTION
    assert send(em, action="", scheme=scheme) == UNKNOWN_ACTION
    assert send(em, version="2014-01-01", scheme=scheme) == UNKNOWN_VERSION


def test_action_and_version_are_checked_before_the_signature(em):
    assert code_of(em.handle(raw(query="Action=Nope"))) == UNKNOWN_ACTION
    query = f"Action={OP.name}&Version=1999-01-01"
    assert code_of(em.handle(raw(query=query))) == UNKNOWN_VERSION
    query = f"Action={OP.name}&Version={OP.product.version}"
    assert code_of(em.handle(raw(query=query))) == INCOMPLETE


def test_a_broken_v3_authorization_header_is_an_incomplete_signature(em):
    headers = {
        "authorization": "ACS3-HMAC-SHA256 garbage",
        "x-acs-action": OP.name,
        "x-acs-version": OP.product.version,
    }
    assert code_of(em.handle(raw(headers=headers))) == INCOMPLETE


def test_missing_nonce_and_malformed_timestamp(em):
    request = signed_request(PARAMS, ROOT)
    without_nonce = "&".join(
        p for p in request.query.split("&") if not p.startswith("SignatureNonce=")
    )
    assert code_of(em.handle(replace(request, query=without_nonce))) == MISSING_COMMON
    assert send(em, timestamp="2024-13-45 25:61") == BAD_TIMESTAMP
    assert send(em, timestamp="yesterday", scheme="v3") == BAD_TIMESTAMP


@pytest.mark.parametrize("scheme", ["v1", "v3"])
def test_unknown_and_inactive_access_keys(em, scheme):
    unknown = Credentials("LTAInobodyHasThisKey01", "whatever")
    assert send(em, unknown, scheme=scheme) == UNKNOWN_KEY
    assert send(em, INACTIVE, scheme=scheme) == INACTIVE_KEY


@pytest.mark.parametrize("scheme", ["v1", "v3"])
def test_signature_mismatch_carries_the_server_string_to_sign_after_a_colon(em, scheme):
    wrong = Credentials(ROOT.access_key_id, "not-the-secret")
    request = signed_request(PARAMS, wrong, scheme=scheme)
    response = em.handle(request)
    document = json.loads(response.body)
    assert document["Code"] == MISMATCH
    assert response.status == PROTOCOL.gateway_error(MISMATCH).http_status
    wire = WireRequest(request.method, request.path, request.query, request.headers, request.body)
    expected = string_to_sign(parse(wire))  # type: ignore[arg-type]
    message_format = PROTOCOL.gateway_error(MISMATCH).message_format or ""
    assert document["Message"] == message_format.format(stringToSign=expected)
    # the legacy SDK splits the message on ':' and reads the part after it
    assert document["Message"].split(":", 1)[1] == expected
    assert document["Message"].endswith(f"server string to sign is:{expected}")


def test_a_tampered_parameter_breaks_the_signature(em):
    request = signed_request(PARAMS, ROOT)
    tampered = replace(request, query=request.query.replace("stream1", "stream2"))
    assert code_of(em.handle(tampered)) == MISMATCH
    assert em.state.tasks == {}


@pytest.mark.parametrize("scheme", ["v1", "v3"])
def test_sts_tokens(em, scheme):
    assert send(em, STS, scheme=scheme) is None
    wrong = Credentials(STS.access_key_id, STS.access_key_secret, "not-the-token")
    assert send(em, wrong, params={**PARAMS, "StreamName": "stream2"}, scheme=scheme) == BAD_TOKEN
    missing = Credentials(STS.access_key_id, STS.access_key_secret)
    assert send(em, missing, params={**PARAMS, "StreamName": "stream2"}, scheme=scheme) == BAD_TOKEN
    assert (
        send(em, EXPIRED_STS, params={**PARAMS, "StreamName": "stream2"}, scheme=scheme)
        == BAD_TOKEN
    )


def test_an_sts_token_expires_on_the_gateway_clock():
    clock = ManualClock()
    seed = Emulator().seed.to_json()
    token = seed["accounts"][0]["sts_tokens"][0]
    token["expires_at"] = clock.now() + 60
    em = Emulator(seed, clock=ManualClock(), wall_clock=clock)
    assert send(em, STS) is None
    clock.advance(61)
    assert send(em, STS, timestamp=clock.now(), params={**PARAMS, "Command": "stop"}) == BAD_TOKEN


def test_timestamps_must_be_within_the_spec_skew(em, clock):
    now = clock.now()
    assert send(em, timestamp=stamp(now - SKEW - 60)) == EXPIRED_TIMESTAMP
    assert send(em, timestamp=stamp(now + SKEW + 60), scheme="v3") == EXPIRED_TIMESTAMP
    assert send(em, timestamp=stamp(now - SKEW + 60)) is None


def test_a_reused_nonce_is_refused_within_the_window_and_accepted_after(em, clock):
    assert send(em, nonce="n-1") is None
    stop = {**PARAMS, "Command": "stop"}
    assert send(em, nonce="n-1", params=stop) == NONCE_USED
    assert (
        send(em, OTHER, nonce="n-1", params={**PARAMS, "DomainName": "other.example.com"}) is None
    )
    assert em.state.task_state("push.example.com", "live", "stream1") == "recording"
    clock.advance(max(PROTOCOL.nonce_window_seconds, SKEW) + 1)
    assert send(em, nonce="n-1", params=stop, timestamp=clock.now()) is None


def test_a_replayed_request_is_refused(em):
    request = signed_request(PARAMS, ROOT)
    assert code_of(em.handle(request)) is None
    assert code_of(em.handle(request)) == NONCE_USED


def test_the_nonce_cache_is_bounded():
    em = Emulator(nonce_cap=5)
    for i in range(20):
        assert (
            send(em, nonce=f"n{i}", params={**PARAMS, "Command": "restart" if i else "start"})
            is None
        )
    assert em._nonces.size() == 5


# -- order ------------------------------------------------------------------------------------

# Each case breaks two consecutive gateway steps at once; the earlier one must answer.
ORDER: list[tuple[str, Callable[[Emulator, ManualClock], str | None], str]] = [
    (
        "method before action",
        lambda em, c: code_of(
            em.handle(replace(signed_request(PARAMS, ROOT, action="X"), method="PUT"))
        ),
        UNSUPPORTED_METHOD,
    ),
    (
        "action before signature",
        lambda em, c: send(em, Credentials(ROOT.access_key_id, "bad"), action="X"),
        UNKNOWN_ACTION,
    ),
    (
        "unknown key before signature",
        lambda em, c: send(em, Credentials("LTAIunknown000000001", "bad")),
        UNKNOWN_KEY,
    ),
    (
        "inactive key before signature",
        lambda em, c: send(em, Credentials(INACTIVE.access_key_id, "bad")),
        INACTIVE_KEY,
    ),
    (
        "signature before token",
        lambda em, c: send(em, Credentials(STS.access_key_id, "bad", "bad-token")),
        MISMATCH,
    ),
    (
        "token before timestamp",
        lambda em, c: send(em, EXPIRED_STS, timestamp=stamp(c.now() - 2 * SKEW)),
        BAD_TOKEN,
    ),
    (
        "timestamp before nonce",
        lambda em, c: (
            send(em, nonce="dup", params={**PARAMS, "StreamName": "stream8"}),
            send(em, nonce="dup", timestamp=stamp(c.now() - 2 * SKEW)),
        )[1],
        EXPIRED_TIMESTAMP,
    ),
    (
        "nonce before throttle",
        lambda em, c: (
            em.set_account_qps("1234567890123456", 1),
            send(em, nonce="dup2"),
            send(em, nonce="dup2"),
        )[2],
        NONCE_USED,
    ),
    (
        "throttle before RAM",
        lambda em, c: (
            em.set_account_qps("1234567890123456", 1),
            send(em),
            send(em, DENIED),
        )[2],
        THROTTLED,
    ),
    (
        "RAM before the operation",
        lambda em, c: send(em, DENIED, params={"Command": "bogus"}),
        PERMISSION,
    ),
]


@pytest.mark.parametrize(("name", "scenario", "expected"), ORDER, ids=[o[0] for o in ORDER])
def test_gateway_order(name, scenario, expected, em, clock):
    assert scenario(em, clock) == expected


# -- coverage of the spec's errors ---------------------------------------------------------------


def test_every_gateway_error_of_the_spec_is_produced(clock):
    produced: set[str | None] = set()
    for _, scenario, _expected in ORDER:
        produced.add(scenario(Emulator(clock=clock), clock))
    em = Emulator(clock=clock)
    produced.add(code_of(em.handle(raw(query=f"Action={OP.name}&Version={OP.product.version}"))))
    request = signed_request(PARAMS, ROOT)
    bare = "&".join(p for p in request.query.split("&") if not p.startswith("SignatureNonce="))
    produced.add(code_of(em.handle(replace(request, query=bare))))
    produced.add(send(em, timestamp="nope"))
    produced.add(send(em, version="1"))
    for code in (e.code for e in PROTOCOL.gateway_errors_in("server")):
        em.add_fault({"kind": "error", "code": code, "times": 1})
        produced.add(send(em, params={**PARAMS, "StreamName": "stream7"}))
    # Alternatives the emulator never picks: the other codes of the throttling and permission
    # categories (the spec names one code for each outcome the emulator produces).
    alternatives = {
        e.code
        for category in ("throttling", "permission")
        for e in PROTOCOL.gateway_errors_in(category)
    } - {THROTTLED, PERMISSION}
    assert {e.code for e in PROTOCOL.gateway_errors} - produced == alternatives


def test_every_documented_operation_error_is_produced(clock):
    em = Emulator(clock=clock)
    produced = {
        send(em, params={**PARAMS, "Command": ""}),
        send(em, params={**PARAMS, "Command": "bogus"}),
        send(em, params={**PARAMS, "AppName": "norecord"}),
        send(em, params={**PARAMS, "StreamName": "offline1"}),
        send(em),
        send(em),
    }
    em.add_fault({"kind": "error", "times": 1})
    produced.add(send(em, params={**PARAMS, "StreamName": "stream2"}))
    assert {e.code for e in OP.errors} <= produced


def test_rejected_calls_change_no_state(em):
    before = em.snapshot()
    send(em, Credentials(ROOT.access_key_id, "bad"))
    send(em, INACTIVE)
    send(em, DENIED)
    send(em, action="X")
    assert em.snapshot() == before
