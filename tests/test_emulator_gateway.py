"""The emulator's gateway: each refusal, its code, status and envelope, and their order."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from acscontract.emulator import Emulator, EmulatorRequest, ManualClock, signed_request
from acscontract.signing import (
    FORM_CONTENT_TYPE,
    Credentials,
    Scheme,
    WireRequest,
    encode_pairs,
    parse,
    sign,
    sign_v1,
    string_to_sign,
)
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
# The emulator's own refusals, by their spec condition ids (rpc.yaml).
IN_QUERY_AND_BODY = PROTOCOL.gateway_error_for("parameterInQueryAndBody").code
NONCE_MEMORY_FULL = PROTOCOL.gateway_error_for("nonceMemoryFull").code
LIMITS = PROTOCOL.request_limits
NOPOLICY = Credentials("LTAIemulatorNoPolicy001", "emulator-nopolicy-secret-not-real-01")


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
    assert send(em, action="DescribeLiveStreamsOnlineLists", scheme=scheme) == UNKNOWN_ACTION
    assert send(em, action="realtimerecordcommand", scheme=scheme) == UNKNOWN_ACTION
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


def test_a_full_nonce_memory_refuses_that_key_and_never_forgets_a_nonce(em, clock):
    """Audit defect 3: a user with no permission filled the account's nonce memory, and then a
    captured request of the root key replayed with 200."""
    cap = 5
    em = Emulator(clock=clock, wall_clock=clock, nonce_cap=cap)
    captured = signed_request(PARAMS, ROOT)
    assert code_of(em.handle(captured)) is None
    for i in range(cap):
        assert send(em, NOPOLICY, nonce=f"flood-{i}") == PERMISSION
    # The flooding key is refused, with the spec's error; nothing was evicted to make room.
    assert send(em, NOPOLICY, nonce="flood-more") == NONCE_MEMORY_FULL
    assert code_of(em.handle(captured)) == NONCE_USED
    # Other keys, of the same account or another, are untouched.
    stop = {**PARAMS, "Command": "stop"}
    assert send(em, params=stop) is None
    assert send(em, OTHER, params={**PARAMS, "DomainName": "other.example.com"}) is None
    # Once the window has passed, the key's old nonces expire and it may call again.
    clock.advance(max(PROTOCOL.nonce_window_seconds, SKEW) + 1)
    assert send(em, NOPOLICY, nonce="later", timestamp=clock.now()) == PERMISSION


def test_the_nonce_memory_is_per_access_key_not_per_account(clock):
    cap = 3
    em = Emulator(clock=clock, wall_clock=clock, nonce_cap=cap)
    for i in range(cap):
        assert (
            send(em, nonce=f"root-{i}", params={**PARAMS, "StreamName": f"stream{i + 1}"}) is None
        )
    assert send(em, nonce="root-full", params={**PARAMS, "StreamName": "stream5"}) == (
        NONCE_MEMORY_FULL
    )
    # A RAM user of the same account still has its own room.
    assert send(em, NOPOLICY, nonce="user-1") == PERMISSION
    assert send(em, NOPOLICY, nonce="user-1") == NONCE_USED


def test_the_nonce_memory_bound_comes_from_the_spec():
    assert Emulator().nonce_capacity == LIMITS.nonces_per_access_key.value


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
    # The emulator's own refusals: a parameter in both places, the limits, a full nonce memory.
    produced.add(code_of(em.handle(signed_request(PARAMS, ROOT, form=True, host="h"))))
    doubled = signed_request(PARAMS, ROOT, form=True)
    produced.add(code_of(em.handle(replace(doubled, query=doubled.query + "&AppName=x"))))
    for limit in LIMITS.all()[:-1]:
        produced.add(code_of(em.handle(raw(query="a=" + "x" * limit.value))))
        produced.add(code_of(em.handle(raw(query="a=1&" * limit.value))))
    tiny = Emulator(clock=clock, nonce_cap=1)
    produced.add(send(tiny, nonce="one"))
    produced.add(send(tiny, nonce="two", params={**PARAMS, "StreamName": "stream2"}))
    # Product-wide: another operation's malformed parameter, and an operation the spec does not
    # model when the emulator is told to refuse those.
    online = {"DomainName": "push.example.com", "PageSize": "many"}
    produced.add(send(em, action="DescribeLiveStreamsOnlineList", params=online))
    strict = Emulator(clock=clock, unmodelled="refuse")
    produced.add(send(strict, action="DescribeLiveDomainDetail", params={"DomainName": "a"}))
    # Alternatives the emulator never picks: the other codes of the throttling and permission
    # categories (the spec names one code for each outcome the emulator produces).
    alternatives = {
        e.code
        for category in ("throttling", "permission")
        for e in PROTOCOL.gateway_errors_in(category)
    } - {THROTTLED, PERMISSION, NONCE_MEMORY_FULL}
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


# -- everything the gateway acts on is signed (audit defects 1 and 2) -----------------------------


def test_an_action_outside_the_signature_is_refused_and_changes_nothing(em):
    """The body carries `Action=X` and is what the signature covers; the query adds the
    operation's Action. Before the fix the gateway acted on the query value and ran the call."""
    body = encode_pairs([("Action", "DescribeLiveStreamsOnlineList"), *PARAMS.items()]).encode()
    wire = WireRequest(
        "POST", "/", "", {"host": "live.aliyuncs.com", "content-type": FORM_CONTENT_TYPE}, body
    )
    signed = sign_v1(wire, ROOT, action=None, version=OP.product.version)
    attack = raw(query=f"{signed.query}&Action={OP.name}", headers=dict(signed.headers), body=body)
    before = em.snapshot()
    assert code_of(em.handle(attack)) == IN_QUERY_AND_BODY
    assert em.snapshot() == before


@pytest.mark.parametrize("scheme", ["v1", "v3"])
def test_a_business_parameter_in_query_and_body_is_refused(em, scheme):
    wire = WireRequest(
        "POST",
        "/",
        "StreamName=stream2",
        {"host": "live.aliyuncs.com", "content-type": FORM_CONTENT_TYPE},
        encode_pairs(PARAMS.items()).encode(),
    )
    signed = sign(wire, ROOT, scheme=Scheme(scheme), action=OP.name, version=OP.product.version)
    request = raw(query=signed.query, headers=dict(signed.headers), body=signed.body)
    assert code_of(em.handle(request)) == IN_QUERY_AND_BODY
    assert em.state.tasks == {}


def test_an_unsigned_x_acs_header_is_an_incomplete_signature(em):
    request = signed_request(PARAMS, ROOT, scheme="v3")
    extra = replace(request, headers={**request.headers, "x-acs-caller-uid": "1"})
    assert code_of(em.handle(extra)) == INCOMPLETE
    assert em.state.tasks == {}


# -- bounded cost (audit defect 10) ------------------------------------------------------------


def _limit_code(name: str) -> str:
    limit = next(item for item in LIMITS.all() if item.name == name)
    return PROTOCOL.gateway_error_for(limit.condition).code


def test_a_one_mib_form_body_is_refused_before_it_is_parsed(em, monkeypatch):
    """Audit defect 10: a 1 MiB body of tiny pairs cost up to 0.94 s of the event loop."""
    import acscontract.emulator._core as core

    def parse_must_not_run(*args, **kwargs):
        raise AssertionError("the body was parsed before the size limit was applied")

    monkeypatch.setattr(core, "parse", parse_must_not_run)
    monkeypatch.setattr(core, "decode_pairs", parse_must_not_run)
    body = b"a=1&" * (1 << 18)  # 1 MiB of tiny pairs
    request = raw(headers={"content-type": FORM_CONTENT_TYPE}, body=body)
    response = em.handle(request)
    assert code_of(response) == _limit_code("bodyBytes")
    assert em.unplanned_errors == 0


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("queryBytes", lambda n: raw(query="a=" + "x" * n)),
        ("parameters", lambda n: raw(query="&".join(f"p{i}=1" for i in range(n + 1)))),
        ("parameterBytes", lambda n: raw(query="Action=x&Name=" + "y" * n)),
        (
            "parameters",
            lambda n: raw(
                query="a=1", headers={"content-type": FORM_CONTENT_TYPE}, body=b"b=1&" * n
            ),
        ),
    ],
    ids=["query-bytes", "parameters-in-query", "parameter-bytes", "parameters-in-body"],
)
def test_every_request_limit_is_refused_with_its_spec_error(em, monkeypatch, name, make):
    import acscontract.emulator._core as core

    def parse_must_not_run(*args, **kwargs):
        raise AssertionError("the request was parsed before its limits were applied")

    monkeypatch.setattr(core, "parse", parse_must_not_run)
    limit = next(item for item in LIMITS.all() if item.name == name)
    assert code_of(em.handle(make(limit.value))) == _limit_code(name)


def test_requests_within_every_limit_are_served(em):
    stream = "s" * 100
    em.set_stream_online("push.example.com", "live", stream, True)
    assert send(em, params={**PARAMS, "StreamName": stream}) is None
    assert send(em, params={**PARAMS, "StreamName": stream, "Command": "stop"}, form=True) is None
