"""acscontract.signing: known answers, the server-side rules, refusals, and signing properties."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acscontract.errors import AcsContractError, UsageError
from acscontract.signing import (
    COMMON_PARAMETERS,
    FORM_CONTENT_TYPE,
    Credentials,
    ParsedRequest,
    Reason,
    Rejection,
    Scheme,
    Verified,
    WireRequest,
    decode_pairs,
    encode_pairs,
    parse,
    percent_encode,
    sign,
    sign_v1,
    sign_v3,
    string_to_sign,
    v1_signature,
    verify,
)

CREDS = Credentials("FAKE-AK-test", "fake-secret-test")
STS = Credentials("STS.FAKE-AK-test", "fake-sts-secret", "FAKE+sts/token==")
WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
ACTION, VERSION = "RealTimeRecordCommand", "2016-11-01"
PARAMS = [
    ("Command", "start"),
    ("DomainName", "live.example.com"),
    ("AppName", "live"),
    ("StreamName", "stream-1"),
]


def _request(
    method: str = "POST",
    pairs: list[tuple[str, str]] = PARAMS,
    *,
    in_body: bool = False,
    host: str = "live.aliyuncs.com",
) -> WireRequest:
    headers = {"host": host}
    if in_body:
        headers["content-type"] = FORM_CONTENT_TYPE
        return WireRequest(method, "/", "", headers, encode_pairs(pairs).encode())
    return WireRequest(method, "/", encode_pairs(pairs), headers)


def _signed(scheme: Scheme, credentials: Credentials = CREDS, **kwargs: object) -> WireRequest:
    return sign(
        _request(**kwargs),  # type: ignore[arg-type]
        credentials,
        scheme=scheme,
        action=ACTION,
        version=VERSION,
        timestamp=WHEN,
        nonce="nonce-1",
    )


def _parsed(request: WireRequest) -> ParsedRequest:
    parsed = parse(request)
    assert isinstance(parsed, ParsedRequest), parsed
    return parsed


def _check(request: WireRequest, secret: str) -> Verified | Rejection:
    parsed = parse(request)
    return parsed if isinstance(parsed, Rejection) else verify(parsed, secret)


def _with_query(request: WireRequest, query: str) -> WireRequest:
    return dataclasses.replace(request, query=query)


def _with_header(request: WireRequest, name: str, value: str | None) -> WireRequest:
    headers = dict(request.headers)
    if value is None:
        headers.pop(name, None)
    else:
        headers[name] = value
    return dataclasses.replace(request, headers=headers)


# --- Credentials -------------------------------------------------------------------------------


def test_credentials_repr_and_str_mask_the_secret_and_token() -> None:
    for text in (repr(STS), str(STS), repr([STS]), f"{STS}"):
        assert "fake-sts-secret" not in text
        assert "FAKE+sts/token==" not in text
        assert "STS.FAKE-AK-test" in text
    assert "security_token=None" in repr(CREDS)


def test_credentials_from_env_reads_the_standard_variables() -> None:
    env = {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": "ak",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "sk",
        "ALIBABA_CLOUD_SECURITY_TOKEN": "tok",
    }
    assert Credentials.from_env(env) == Credentials("ak", "sk", "tok")
    del env["ALIBABA_CLOUD_SECURITY_TOKEN"]
    assert Credentials.from_env(env).security_token is None


def test_credentials_from_env_names_what_is_missing_without_echoing_values() -> None:
    with pytest.raises(AcsContractError, match="ALIBABA_CLOUD_ACCESS_KEY_SECRET is not set"):
        Credentials.from_env({"ALIBABA_CLOUD_ACCESS_KEY_ID": "visible-ak"})
    with pytest.raises(AcsContractError, match="ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET"):
        Credentials.from_env({})
    with pytest.raises(UsageError):
        Credentials("", "secret")


# --- Encoding rules ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoded"),
    [
        ("AZaz09-_.~", "AZaz09-_.~"),
        ("a b", "a%20b"),
        ("*", "%2A"),
        ("/:+=&", "%2F%3A%2B%3D%26"),
        ("é直", "%C3%A9%E7%9B%B4"),
        ("", ""),
    ],
)
def test_percent_encode_is_rfc3986(text: str, encoded: str) -> None:
    assert percent_encode(text) == encoded


def test_decode_pairs_reads_queries_the_way_servers_receive_them() -> None:
    raw = "a=x+y&b=x%20y&c=*~/:&d&&e=&f=%C3%A9&f=%ff&g=a%3Db%26c"
    assert decode_pairs(raw) == [
        ("a", "x y"),
        ("b", "x y"),
        ("c", "*~/:"),
        ("d", ""),
        ("e", ""),
        ("f", "é"),
        ("f", "\ufffd"),
        ("g", "a=b&c"),
    ]


def test_wire_request_is_a_value() -> None:
    a = WireRequest("POST", "/", "a=1", {"Host": "h", "X-A": "1"}, b"x")
    b = WireRequest("POST", "/", "a=1", {"x-a": "1", "host": "h"}, b"x")
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b, dataclasses.replace(a, body=b"y")}) == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.method = "GET"  # type: ignore[misc]


def test_wire_request_from_url_takes_host_from_the_url_unless_given() -> None:
    request = WireRequest.from_url("GET", "http://127.0.0.1:8080/?a=1", {"X-Y": "z"})
    assert (request.path, request.query, request.host) == ("/", "a=1", "127.0.0.1:8080")
    assert request.headers["x-y"] == "z"
    override = WireRequest.from_url("GET", "http://127.0.0.1:1/", [("Host", "http://127.0.0.1:1")])
    assert override.host == "http://127.0.0.1:1"


# --- Known answers -----------------------------------------------------------------------------


def test_v1_matches_the_worked_example_of_alibabas_signature_documentation() -> None:
    """The DescribeRegions example of Alibaba Cloud's RPC V1 signature guide."""
    query = encode_pairs(
        [
            ("AccessKeyId", "testid"),
            ("Action", "DescribeRegions"),
            ("Format", "XML"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
            ("SignatureVersion", "1.0"),
            ("Timestamp", "2016-02-23T12:46:24Z"),
            ("Version", "2014-05-26"),
            ("Signature", "OLeaidS1JvxuMvnyHOwuJ+uX5qY="),
        ]
    )
    parsed = _parsed(WireRequest("GET", "/", query, {"host": "ecs.aliyuncs.com"}))
    expected = (
        "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML"
        "%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"
        "%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z"
        "%26Version%3D2014-05-26"
    )
    assert string_to_sign(parsed) == expected
    assert v1_signature(expected, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    assert isinstance(verify(parsed, "testsecret"), Verified)


def test_v1_sign_adds_the_documented_common_parameters() -> None:
    parsed = _parsed(_signed(Scheme.V1, STS))
    assert dict(parsed.common) == {
        "Action": ACTION,
        "Version": VERSION,
        "Format": "json",
        "Timestamp": "2024-05-06T07:08:09Z",
        "SignatureNonce": "nonce-1",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "AccessKeyId": "STS.FAKE-AK-test",
        "SecurityToken": "FAKE+sts/token==",
        "Signature": parsed.signature,
    }
    assert parsed.params == tuple(PARAMS)
    assert parsed.timestamp == WHEN
    assert parsed.security_token == "FAKE+sts/token=="


def test_v3_sign_adds_the_documented_headers() -> None:
    request = _signed(Scheme.V3, STS)
    headers = request.headers
    assert headers["x-acs-action"] == ACTION
    assert headers["x-acs-version"] == VERSION
    assert headers["x-acs-date"] == "2024-05-06T07:08:09Z"
    assert headers["x-acs-signature-nonce"] == "nonce-1"
    assert headers["x-acs-content-sha256"] == hashlib.sha256(b"").hexdigest()
    assert headers["x-acs-accesskey-id"] == "STS.FAKE-AK-test"
    assert headers["x-acs-security-token"] == "FAKE+sts/token=="
    assert headers["authorization"].startswith(
        "ACS3-HMAC-SHA256 Credential=STS.FAKE-AK-test,SignedHeaders=host;x-acs-accesskey-id;"
        "x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-security-token;"
        "x-acs-signature-nonce;x-acs-version,Signature="
    )
    assert request.query == encode_pairs(PARAMS)
    parsed = _parsed(request)
    assert (parsed.scheme, parsed.action, parsed.version) == (Scheme.V3, ACTION, VERSION)
    assert parsed.security_token == "FAKE+sts/token=="


# --- Server-side canonicalisation ----------------------------------------------------------------


@pytest.mark.parametrize("scheme", list(Scheme))
def test_any_wire_encoding_of_the_same_parameters_verifies(scheme: Scheme) -> None:
    pairs = [("AppName", "a b*~/:+é")]
    request = _signed(scheme, pairs=pairs)
    canonical = "AppName=a%20b%2A~%2F%3A%2B%C3%A9"
    assert canonical in request.query
    for variant in (
        "AppName=a+b*~/:%2B%C3%A9",  # the sync SDK's space, the async SDK's raw characters
        "AppName=a%20b%2a%7e%2f%3a%2b%c3%a9",  # lower-case escapes, escaped tilde
    ):
        rewritten = _with_query(request, request.query.replace(canonical, variant))
        assert isinstance(_check(rewritten, CREDS.access_key_secret), Verified), variant


def test_v3_signs_the_host_exactly_as_received() -> None:
    request = _signed(Scheme.V3, host="http://127.0.0.1:1")
    assert isinstance(_check(request, CREDS.access_key_secret), Verified)
    moved = _with_header(request, "host", "127.0.0.1:1")
    assert isinstance(_check(moved, CREDS.access_key_secret), Rejection)


def test_v3_ignores_headers_outside_signedheaders() -> None:
    request = _signed(Scheme.V3)
    for name, value in (("content-type", "application/octet-stream"), ("accept", "*/*")):
        request = _with_header(request, name, value)
    assert isinstance(_check(request, CREDS.access_key_secret), Verified)


def test_v1_signs_form_body_parameters() -> None:
    request = _signed(Scheme.V1, in_body=True)
    parsed = _parsed(request)
    assert parsed.params == tuple(PARAMS)
    assert isinstance(verify(parsed, CREDS.access_key_secret), Verified)
    changed = dataclasses.replace(request, body=request.body.replace(b"live", b"evil", 1))
    assert isinstance(_check(changed, CREDS.access_key_secret), Rejection)


def test_a_parameter_in_both_the_query_and_the_body_is_refused() -> None:
    """Both SDKs sign such a key with its body value only; a gateway must not act on the other.

    The legacy SDK sends RegionId in both places when a caller adds it to the body; the real
    gateway's answer is not published, so the request is refused as ambiguous (rpc.yaml).
    """
    request = WireRequest(
        "POST",
        "/",
        "RegionId=cn-shanghai",
        {"host": "h", "content-type": FORM_CONTENT_TYPE},
        b"RegionId=&AppName=live",
    )
    for scheme in Scheme:
        signed = sign(request, CREDS, scheme=scheme, action=ACTION, version=VERSION, timestamp=WHEN)
        result = parse(signed)
        assert isinstance(result, Rejection), scheme
        assert (result.reason, result.parameter) == (
            Reason.PARAMETER_IN_QUERY_AND_BODY,
            "RegionId",
        )
        assert result.code == Reason.PARAMETER_IN_QUERY_AND_BODY.code


def test_an_action_appended_to_the_query_of_a_body_signed_request_is_refused() -> None:
    """The audit's attack: the signature covers `Action=X` in the body; the query adds another."""
    body = encode_pairs([("Action", "DescribeSomething"), *PARAMS]).encode()
    request = WireRequest("POST", "/", "", {"host": "h", "content-type": FORM_CONTENT_TYPE}, body)
    signed = sign_v1(request, CREDS, action=None, version=VERSION, timestamp=WHEN, nonce="n")
    assert isinstance(_check(signed, CREDS.access_key_secret), Verified)  # as the attacker sent it
    attack = dataclasses.replace(signed, query=f"{signed.query}&Action={ACTION}")
    result = parse(attack)
    assert isinstance(result, Rejection)
    assert (result.reason, result.parameter) == (Reason.PARAMETER_IN_QUERY_AND_BODY, "Action")


@settings(max_examples=60, deadline=None)
@given(
    key=st.sampled_from(sorted(COMMON_PARAMETERS) + [name for name, _ in PARAMS]),
    query_value=st.text(max_size=8),
    body_value=st.text(max_size=8),
    scheme=st.sampled_from(list(Scheme)),
)
def test_any_key_in_both_places_is_refused_whatever_the_values(
    key: str, query_value: str, body_value: str, scheme: Scheme
) -> None:
    try:
        query = encode_pairs([*PARAMS, (key, query_value)])
        body = encode_pairs([(key, body_value)]).encode()
    except UsageError:  # lone surrogates cannot be sent
        return
    headers = {"host": "h", "content-type": FORM_CONTENT_TYPE}
    signed = sign(
        WireRequest("POST", "/", query, headers, body),
        CREDS,
        scheme=scheme,
        action=ACTION,
        version=VERSION,
        timestamp=WHEN,
    )
    result = parse(signed)
    assert isinstance(result, Rejection)
    assert (result.reason, result.parameter) == (Reason.PARAMETER_IN_QUERY_AND_BODY, key)


def test_v3_refuses_any_unsigned_x_acs_header() -> None:
    """docs/signing.md: an `x-acs-*` header the request sends but does not sign is refused."""
    request = _signed(Scheme.V3)
    for name in ("x-acs-evil", "x-acs-resource-group", "X-Acs-Caller-Uid"):
        result = parse(_with_header(request, name, "1"))
        assert isinstance(result, Rejection), name
        assert (result.reason, result.parameter) == (Reason.INCOMPLETE_SIGNATURE, name.lower())
    # Headers outside the x-acs- family may stay unsigned (the async SDK adds some).
    other = _with_header(request, "x-sdk-client", "1")
    assert isinstance(_check(other, CREDS.access_key_secret), Verified)


def test_repeated_and_empty_parameters_are_signed() -> None:
    pairs = [("A", "2"), ("A", "1"), ("Empty", ""), ("B", "x")]
    for scheme in Scheme:
        parsed = _parsed(_signed(scheme, pairs=pairs))
        assert parsed.params == tuple(pairs)
        assert parsed.repeated_params == {"A"}
        assert parsed.business["A"] == "2"
        assert isinstance(verify(parsed, CREDS.access_key_secret), Verified)


def test_v1_sign_keeps_other_query_parameters_byte_for_byte() -> None:
    """The legacy SDK's empty SignatureType= is kept and signed."""
    request = WireRequest("POST", "/", "SignatureType=&AppName=a+b", {"host": "h"})
    signed = sign_v1(request, CREDS, action=ACTION, version=VERSION, timestamp=WHEN, nonce="n")
    assert signed.query.startswith("SignatureType=&AppName=a+b&Action=")
    parsed = _parsed(signed)
    assert (b"SignatureType", b"") in parsed.signed_pairs
    assert isinstance(verify(parsed, CREDS.access_key_secret), Verified)


def test_sign_refuses_text_that_cannot_be_utf8() -> None:
    with pytest.raises(UsageError, match="surrogate"):
        sign_v1(_request(), CREDS, action=ACTION, version=VERSION, nonce="\ud800")
    with pytest.raises(UsageError, match="surrogate"):
        encode_pairs([("A", "\udfff")])


def test_v3_sign_needs_a_host_and_a_key_id_the_header_can_carry() -> None:
    with pytest.raises(UsageError, match="host"):
        sign_v3(WireRequest("POST"), CREDS, action=ACTION, version=VERSION)
    with pytest.raises(UsageError, match="comma"):
        sign_v3(_request(), Credentials("a,b", "s"), action=ACTION, version=VERSION)


# --- Refusals ----------------------------------------------------------------------------------


def _v1_without(*names: str, **replace: str) -> WireRequest:
    request = _signed(Scheme.V1)
    pairs = [(k, replace.get(k, v)) for k, v in request.query_pairs() if k not in names]
    return _with_query(request, encode_pairs(pairs))


@pytest.mark.parametrize(
    ("request_", "reason", "parameter"),
    [
        (WireRequest("POST", "/", "AppName=x"), Reason.INCOMPLETE_SIGNATURE, None),
        (_v1_without("Signature"), Reason.INCOMPLETE_SIGNATURE, "Signature"),
        (_v1_without("AccessKeyId"), Reason.INCOMPLETE_SIGNATURE, "AccessKeyId"),
        (_v1_without("SignatureMethod"), Reason.INCOMPLETE_SIGNATURE, "SignatureMethod"),
        (
            _v1_without(SignatureMethod="HMAC-SHA256"),
            Reason.INCOMPLETE_SIGNATURE,
            "SignatureMethod",
        ),
        (_v1_without(SignatureVersion="2.0"), Reason.INCOMPLETE_SIGNATURE, "SignatureVersion"),
        (_v1_without("Timestamp"), Reason.MISSING_PARAMETER, "Timestamp"),
        (_v1_without(Timestamp="yesterday"), Reason.INVALID_TIMESTAMP_FORMAT, "Timestamp"),
        (
            _v1_without(Timestamp="2024-02-30T00:00:00Z"),
            Reason.INVALID_TIMESTAMP_FORMAT,
            "Timestamp",
        ),
        (
            _v1_without(Timestamp="2024-05-06T07:08:09+00:00"),
            Reason.INVALID_TIMESTAMP_FORMAT,
            "Timestamp",
        ),
        (_v1_without("SignatureNonce"), Reason.MISSING_PARAMETER, "SignatureNonce"),
        (
            _with_query(_signed(Scheme.V1), _signed(Scheme.V1).query + "&Signature=again"),
            Reason.INCOMPLETE_SIGNATURE,
            "Signature",
        ),
    ],
    ids=[
        "unsigned",
        "no-signature",
        "no-accesskeyid",
        "no-signaturemethod",
        "sha256-method",
        "signatureversion-2",
        "no-timestamp",
        "timestamp-word",
        "timestamp-feb-30",
        "timestamp-offset",
        "no-nonce",
        "two-signatures",
    ],
)
def test_v1_envelope_problems_are_named(
    request_: WireRequest, reason: Reason, parameter: str | None
) -> None:
    result = parse(request_)
    assert isinstance(result, Rejection)
    assert (result.reason, result.parameter) == (reason, parameter)
    assert result.code == reason.code
    assert result.detail.endswith(".")


INCOMPLETE = Reason.INCOMPLETE_SIGNATURE
BAD_TIME = Reason.INVALID_TIMESTAMP_FORMAT


def _v3_with(name: str, value: str | None) -> WireRequest:
    return _with_header(_signed(Scheme.V3, STS), name, value)


def _authorization(value: str) -> WireRequest:
    return _v3_with("authorization", value)


@pytest.mark.parametrize(
    ("request_", "reason", "parameter"),
    [
        (_authorization("Bearer abc"), Reason.INCOMPLETE_SIGNATURE, "Authorization"),
        (
            _authorization("ACS3-HMAC-SM3 Credential=a"),
            Reason.INCOMPLETE_SIGNATURE,
            "Authorization",
        ),
        (_authorization("ACS3-HMAC-SHA256 garbage"), Reason.INCOMPLETE_SIGNATURE, "Authorization"),
        (
            _authorization("ACS3-HMAC-SHA256 Credential=a,Signature=b"),
            Reason.INCOMPLETE_SIGNATURE,
            "Authorization",
        ),
        (
            _authorization("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature=b"),
            Reason.INCOMPLETE_SIGNATURE,
            "x-acs-action",
        ),
        (
            _v3_with("x-acs-content-sha256", None),
            Reason.INCOMPLETE_SIGNATURE,
            "x-acs-content-sha256",
        ),
        (
            _v3_with("x-acs-accesskey-id", "other"),
            Reason.INCOMPLETE_SIGNATURE,
            "x-acs-accesskey-id",
        ),
        (_v3_with("x-acs-date", None), Reason.MISSING_PARAMETER, "x-acs-date"),
        (_v3_with("x-acs-date", "Mon, 06 May 2024"), Reason.INVALID_TIMESTAMP_FORMAT, "x-acs-date"),
        (
            _v3_with("x-acs-signature-nonce", None),
            Reason.MISSING_PARAMETER,
            "x-acs-signature-nonce",
        ),
    ],
    ids=[
        "bearer",
        "sm3",
        "unparsable",
        "no-signedheaders",
        "x-acs-unsigned",
        "no-content-sha256",
        "accesskey-mismatch",
        "no-date",
        "bad-date",
        "no-nonce",
    ],
)
def test_v3_envelope_problems_are_named(
    request_: WireRequest, reason: Reason, parameter: str | None
) -> None:
    result = parse(request_)
    assert isinstance(result, Rejection)
    assert (result.reason, result.parameter) == (reason, parameter)


@pytest.mark.parametrize("scheme", list(Scheme))
def test_wrong_secret_gives_the_servers_string_to_sign(scheme: Scheme) -> None:
    parsed = _parsed(_signed(scheme, STS))
    result = verify(parsed, "not-the-secret")
    assert isinstance(result, Rejection)
    assert result.reason is Reason.SIGNATURE_DOES_NOT_MATCH
    assert result.string_to_sign == string_to_sign(parsed)
    # The legacy SDK splits this message on ':' and crashes without one.
    prefix = "Specified signature is not matched with our calculation. server string to sign is:"
    assert result.gateway_message == prefix + string_to_sign(parsed)


def test_v3_body_must_match_its_declared_hash() -> None:
    request = _signed(Scheme.V3, in_body=True)
    assert isinstance(_check(request, CREDS.access_key_secret), Verified)
    tampered = dataclasses.replace(request, body=request.body + b"&x=1")
    result = _check(tampered, CREDS.access_key_secret)
    assert isinstance(result, Rejection)
    assert (result.reason, result.parameter) == (
        Reason.SIGNATURE_DOES_NOT_MATCH,
        "x-acs-content-sha256",
    )


def test_reprs_never_show_the_secret_token_or_signature() -> None:
    for scheme in Scheme:
        request = _signed(scheme, STS)
        parsed = _parsed(request)
        rejection = verify(parsed, "wrong")
        assert isinstance(rejection, Rejection)
        for text in (repr(request), repr(parsed), repr(rejection), repr(verify(parsed, "x"))):
            assert "FAKE+sts/token==" not in text
            assert "FAKE%2Bsts%2Ftoken%3D%3D" not in text
            assert parsed.signature not in text
            assert percent_encode(parsed.signature) not in text
            assert "fake-sts-secret" not in text


# --- Properties --------------------------------------------------------------------------------

# Strategies for this module only; the shared ones belong in acscontract.contracts.strategies.
names = st.text(min_size=1, max_size=12).filter(lambda k: k not in COMMON_PARAMETERS)
values = st.text(max_size=16)
param_lists = st.lists(st.tuples(names, values), max_size=6)
methods = st.sampled_from(["GET", "POST"])
schemes = st.sampled_from(list(Scheme))
secrets = st.text(min_size=1, max_size=20)
key_ids = st.from_regex(r"[A-Za-z0-9._-]{1,24}", fullmatch=True)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def signed_requests(draw: st.DrawFn) -> tuple[WireRequest, Credentials, list[tuple[str, str]]]:
    pairs = draw(param_lists)
    method = draw(methods)
    in_body = method == "POST" and draw(st.booleans())
    token = draw(st.none() | st.text(min_size=1, max_size=10))
    credentials = Credentials(draw(key_ids), draw(secrets), token)
    request = sign(
        _request(method, pairs, in_body=in_body),
        credentials,
        scheme=draw(schemes),
        action=ACTION,
        version=VERSION,
        timestamp=WHEN,
        nonce=draw(st.text(min_size=1, max_size=10)),
    )
    return request, credentials, pairs


@FAST
@given(signed_requests())
def test_sign_then_verify_round_trips(
    case: tuple[WireRequest, Credentials, list[tuple[str, str]]],
) -> None:
    request, credentials, pairs = case
    parsed = _parsed(request)
    assert parsed.params == tuple(pairs)
    assert parsed.access_key_id == credentials.access_key_id
    assert parsed.security_token == credentials.security_token
    result = verify(parsed, credentials.access_key_secret)
    assert isinstance(result, Verified)


def _replace_pair(
    request: WireRequest, index: int, key: str | None, value: str | None
) -> WireRequest:
    if request.is_form:
        pairs = decode_pairs(request.body)
        k, v = pairs[index]
        pairs[index] = (key if key is not None else k, value if value is not None else v)
        return dataclasses.replace(request, body=encode_pairs(pairs).encode())
    pairs = decode_pairs(request.query)
    k, v = pairs[index]
    pairs[index] = (key if key is not None else k, value if value is not None else v)
    return _with_query(request, encode_pairs(pairs))


@FAST
@given(signed_requests(), st.data())
def test_changing_any_signed_component_breaks_verification(
    case: tuple[WireRequest, Credentials, list[tuple[str, str]]], data: st.DataObject
) -> None:
    request, credentials, pairs = case
    secret = credentials.access_key_secret
    parsed = _parsed(request)
    mutations: list[tuple[str, WireRequest, str]] = [
        ("method", dataclasses.replace(request, method="PUT"), secret),
        ("secret", request, secret + "x"),
    ]
    if pairs:
        i = data.draw(st.integers(0, len(pairs) - 1))
        old_key, old_value = pairs[i]
        new_value = data.draw(values.filter(lambda v: v != old_value))
        new_key = data.draw(names.filter(lambda k: k != old_key))
        mutations.append(("value", _replace_pair(request, i, None, new_value), secret))
        mutations.append(("key", _replace_pair(request, i, new_key, None), secret))
    if parsed.scheme is Scheme.V3:
        header = data.draw(st.sampled_from(parsed.signed_headers))
        changed = _with_header(request, header, request.headers[header] + "0")
        mutations.append((f"header {header}", changed, secret))
    if parsed.scheme is Scheme.V3 or request.is_form:
        mutations.append(
            ("body", dataclasses.replace(request, body=request.body + b"&z=1"), secret)
        )
    for what, mutated, key in mutations:
        assert isinstance(_check(mutated, key), Rejection), what


garbage_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
header_names = st.sampled_from(
    [
        "authorization",
        "host",
        "content-type",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-content-sha256",
        "x-acs-accesskey-id",
        "x-acs-security-token",
        "x-acs-action",
    ]
) | st.text(max_size=10)
authorizations = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from(["", "ACS3-HMAC-SHA256 ", "ACS3-HMAC-SHA256 Credential=a,SignedHeaders="]),
    garbage_text,
)
queries = st.lists(
    st.sampled_from(
        [
            "Signature=abc",
            "AccessKeyId=ak",
            "SignatureMethod=HMAC-SHA1",
            "SignatureVersion=1.0",
            "Timestamp=2024-05-06T07:08:09Z",
            "SignatureNonce=n",
            "%",
            "=",
            "&",
            "+",
            "%ff",
        ]
    )
    | garbage_text,
    max_size=8,
).map("&".join)


@settings(max_examples=200, deadline=None)
@given(
    method=garbage_text,
    path=garbage_text,
    query=queries,
    headers=st.dictionaries(header_names, garbage_text | authorizations, max_size=6),
    body=st.binary(max_size=40),
    secret=garbage_text,
)
def test_parse_and_verify_never_raise_on_garbage(
    method: str, path: str, query: str, headers: dict[str, str], body: bytes, secret: str
) -> None:
    if "authorization" in headers and not headers["authorization"]:
        headers["authorization"] = "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature=b"
    request = WireRequest(method, path, query, headers, body)
    parsed = parse(request)
    assert isinstance(parsed, ParsedRequest | Rejection)
    if isinstance(parsed, ParsedRequest):
        assert isinstance(verify(parsed, secret), Verified | Rejection)
    else:
        assert parsed.detail
        assert isinstance(parsed.reason, Reason)


@settings(max_examples=150, deadline=None)
@given(signed_requests(), st.data())
def test_parse_and_verify_never_raise_on_damaged_signed_requests(
    case: tuple[WireRequest, Credentials, list[tuple[str, str]]], data: st.DataObject
) -> None:
    request, credentials, _ = case
    query = request.query
    cut = data.draw(st.integers(0, len(query)))
    query = query[:cut] + data.draw(garbage_text) + query[cut + data.draw(st.integers(0, 5)) :]
    headers = dict(request.headers)
    damage_header: bool = data.draw(st.booleans())
    if headers and damage_header:
        name = data.draw(st.sampled_from(sorted(headers)))
        value = headers[name]
        at = data.draw(st.integers(0, len(value)))
        headers[name] = value[:at] + data.draw(garbage_text) + value[at + 1 :]
    damaged = WireRequest(request.method, request.path, query, headers, request.body)
    result = _check(damaged, credentials.access_key_secret)
    assert isinstance(result, Verified | Rejection)
    if isinstance(result, Verified):
        # Only a no-op edit (or one canonicalisation undoes) can still verify.
        assert string_to_sign(_parsed(damaged)) == string_to_sign(_parsed(request))


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=40),
        st.lists(
            st.sampled_from([b"%", b"%2", b"%2B", b"%zz", b"%e9", b"+", b"a", b"%%", b"=", b"&"]),
            max_size=12,
        ).map(b"".join),
    )
)
def test_percent_decoding_agrees_with_the_standard_library(raw: bytes) -> None:
    """The server-side decoder is a fast path; urllib's `unquote_to_bytes` is the reference."""
    from urllib.parse import unquote_to_bytes

    from acscontract.signing._wire import _unquote_plus

    assert _unquote_plus(raw) == unquote_to_bytes(raw.replace(b"+", b" "))
