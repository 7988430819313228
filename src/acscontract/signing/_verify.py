"""The server side: read a received request's signature envelope, then check it against a secret.

Two steps, in the order a gateway needs them: `parse` needs no secret and yields the AccessKey ID
to look the secret up by; `verify` recomputes the signature with that secret. Freshness and
replay policies (how old a timestamp may be, how long a nonce is remembered) are the caller's.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Literal

from acscontract.signing._canonical import (
    v1_signature,
    v1_string_to_sign,
    v3_canonical_request,
    v3_signature,
    v3_string_to_sign,
)
from acscontract.signing._names import (
    ALGORITHM_V3,
    COMMON_PARAMETERS,
    Header,
    Param,
    Reason,
    Scheme,
    signature_mismatch_message,
)
from acscontract.signing._wire import WireRequest, _octet_pairs, body_over_query, text_pair

__all__ = [
    "ParsedRequest",
    "Rejection",
    "Verified",
    "parse",
    "parse_timestamp",
    "string_to_sign",
    "verify",
]

_MASK = "***"
_SIGNATURE = Param.SIGNATURE.value.encode()
_TIMESTAMP = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z")
_V1_SIGNATURE_PARTS: tuple[str, ...] = tuple(
    p.value
    for p in (Param.SIGNATURE, Param.ACCESS_KEY_ID, Param.SIGNATURE_METHOD, Param.SIGNATURE_VERSION)
)
# The names `_parse_v1` reads, as plain strings: it runs once per request, and an enum member's
# attribute lookup costs more than the dictionary lookup it feeds.
_V1_SIGNATURE_METHOD, _V1_SIGNATURE_VERSION = (
    Param.SIGNATURE_METHOD.value,
    Param.SIGNATURE_VERSION.value,
)
_AUTHORIZATION, _SCHEME_V1 = Header.AUTHORIZATION.value, Scheme.V1
_V1_TIMESTAMP, _V1_NONCE = Param.TIMESTAMP.value, Param.SIGNATURE_NONCE.value
_V1_TOKEN, _V1_ACCESS_KEY_ID = Param.SECURITY_TOKEN.value, Param.ACCESS_KEY_ID.value
_V1_ACTION, _V1_VERSION, _V1_SIGNATURE = (
    Param.ACTION.value,
    Param.VERSION.value,
    Param.SIGNATURE.value,
)
# A V3 request must sign every header of this family it sends: the gateway reads its values.
_V3_SIGNED_FAMILY = "x-acs-"


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why the gateway refuses the request: a gateway error code and an explanation.

    `detail` is a sentence for humans and logs; it never holds a secret, token or signature.
    `string_to_sign` is the server's string to sign, set for SignatureDoesNotMatch; it is left
    out of the repr because under V1 it contains the STS token.
    """

    reason: Reason
    detail: str
    parameter: str | None = None
    string_to_sign: str | None = field(default=None, repr=False)

    @property
    def ok(self) -> Literal[False]:
        return False

    @property
    def code(self) -> str:
        """The gateway error code, e.g. `SignatureDoesNotMatch`."""
        return self.reason.code

    @property
    def gateway_message(self) -> str:
        """The `Message` a gateway returns; for SignatureDoesNotMatch, in the gateway's format."""
        if self.reason is Reason.SIGNATURE_DOES_NOT_MATCH and self.string_to_sign is not None:
            return signature_mismatch_message(self.string_to_sign)
        return self.detail


@dataclass(frozen=True, slots=True)
class Verified:
    """The signature matches: the request was signed with the secret of `access_key_id`."""

    scheme: Scheme
    access_key_id: str
    string_to_sign: str = field(repr=False)

    @property
    def ok(self) -> Literal[True]:
        return True


@dataclass(frozen=True, slots=True, repr=False)
class ParsedRequest:
    """A received request's signature envelope and business parameters, not yet verified.

    `params` are the business parameters (query, then form body), decoded, repeated keys kept in
    wire order. `common` holds the envelope as received: the V1 common parameters, or the V3
    `x-acs-*` headers. `signed_pairs` are the octet pairs the signature covers.
    """

    request: WireRequest
    scheme: Scheme
    access_key_id: str
    security_token: str | None
    action: str | None
    version: str | None
    timestamp_raw: str
    timestamp: datetime
    nonce: str
    signature: str
    params: tuple[tuple[str, str], ...]
    common: Mapping[str, str]
    signed_pairs: tuple[tuple[bytes, bytes], ...]
    signed_headers: tuple[str, ...] = ()
    body_start: int = 0
    """Index in `params` of the first form-body parameter (`len(params)` when none)."""

    def __repr__(self) -> str:
        token = None if self.security_token is None else _MASK
        return (
            f"ParsedRequest(scheme={self.scheme.value!r}, access_key_id={self.access_key_id!r}, "
            f"security_token={token!r}, action={self.action!r}, version={self.version!r}, "
            f"timestamp_raw={self.timestamp_raw!r}, nonce={self.nonce!r}, params={self.params!r})"
        )

    @property
    def business(self) -> Mapping[str, str]:
        """The business parameters by name.

        A name in the form body takes its body value, as in the signed set; otherwise a
        repeated name takes its first value.
        """
        params = self.params
        every = dict(params)
        if len(every) == len(params):  # no name repeated: nothing to choose between
            return MappingProxyType(every)
        query: dict[str, str] = {}
        body: dict[str, str] = {}
        for i, (key, value) in enumerate(params):
            (body if i >= self.body_start else query).setdefault(key, value)
        return MappingProxyType(query | body)

    @property
    def repeated_params(self) -> frozenset[str]:
        """Business parameter names that appear more than once."""
        names = [key for key, _ in self.params]
        if len(set(names)) == len(names):
            return frozenset()
        seen: set[str] = set()
        repeated: set[str] = set()
        for key in names:
            (repeated if key in seen else seen).add(key)
        return frozenset(repeated)


def parse_timestamp(raw: str) -> datetime | None:
    """The UTC instant of a `%Y-%m-%dT%H:%M:%SZ` timestamp, or None when `raw` is not one."""
    if len(raw) != _TIMESTAMP_LENGTH:
        return None
    return _parse_timestamp(raw)


_TIMESTAMP_LENGTH = len("2006-01-02T15:04:05Z")


@functools.lru_cache(maxsize=256)  # the calls of one second share their timestamp
def _parse_timestamp(raw: str) -> datetime | None:
    match = _TIMESTAMP.fullmatch(raw)
    if match is None:
        return None
    try:
        year, month, day, hour, minute, second = (int(g) for g in match.groups())
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None


def _incomplete(detail: str, parameter: str | None = None) -> Rejection:
    return Rejection(Reason.INCOMPLETE_SIGNATURE, detail, parameter)


def _missing(name: str) -> Rejection:
    return Rejection(
        Reason.MISSING_PARAMETER,
        f"The input parameter {name!r} that is mandatory for processing this request is not "
        "supplied.",
        name,
    )


def _bad_timestamp(name: str, raw: str) -> Rejection:
    shown = raw if len(raw) <= 64 else raw[:61] + "..."
    return Rejection(
        Reason.INVALID_TIMESTAMP_FORMAT,
        f"The {name} {shown!r} is not a UTC time written as YYYY-MM-DDThh:mm:ssZ.",
        name,
    )


def parse(request: WireRequest) -> ParsedRequest | Rejection:
    """Read the signature envelope of a received request, without any secret.

    A request with an `Authorization` header is V3; any other is V1. Never raises on malformed
    input: every problem comes back as a Rejection carrying the gateway's error code. A
    parameter sent both in the query and in a form body is refused: the SDKs sign its body value
    only, so acting on either copy could mean acting on something unsigned.
    """
    query = _octet_pairs(request.query)
    body = _octet_pairs(request.body) if request.is_form else []
    if body:
        doubled = _in_both(query, body)
        if doubled is not None:
            return doubled
    if _AUTHORIZATION in request.headers:
        return _parse_v3(request, query, body)
    return _parse_v1(request, query, body)


def _in_both(query: list[tuple[bytes, bytes]], body: list[tuple[bytes, bytes]]) -> Rejection | None:
    body_keys = {key for key, _ in body}
    for key, _ in query:
        if key in body_keys:
            name = key.decode("utf-8", "replace")
            shown = name if len(name) <= 64 else name[:61] + "..."
            return Rejection(
                Reason.PARAMETER_IN_QUERY_AND_BODY,
                f"The parameter {shown!r} is sent both in the query string and in the form "
                "body; send each parameter once.",
                name,
            )
    return None


def _parse_v1(
    request: WireRequest, query: list[tuple[bytes, bytes]], body: list[tuple[bytes, bytes]]
) -> ParsedRequest | Rejection:
    common: dict[str, list[str]] = {}
    business: list[tuple[str, str]] = []
    common_names = COMMON_PARAMETERS
    body_start = 0
    for source in (query, body):
        body_start = len(business)
        for pair in source:
            key, value = text_pair(pair)
            if key in common_names:
                found = common.get(key)
                if found is None:
                    common[key] = [value]
                else:
                    found.append(value)
            else:
                business.append((key, value))
    signed = [p for p in body_over_query(query, body) if p[0] != _SIGNATURE]

    if common.keys().isdisjoint(_V1_SIGNATURE_PARTS):
        return _incomplete(
            "The request is not signed: it has neither an Authorization header (signature V3) "
            "nor a Signature parameter (signature V1)."
        )
    for name in _V1_SIGNATURE_PARTS:
        values = common.get(name)
        if not values or not values[0]:
            return _incomplete(f"The signature parameter {name} is missing or empty.", name)
        if len(values) > 1:
            return _incomplete(f"The signature parameter {name} is given more than once.", name)
    method = common[_V1_SIGNATURE_METHOD][0]
    if method != "HMAC-SHA1":
        return _incomplete(
            f"SignatureMethod {method!r} is not supported; signature V1 uses HMAC-SHA1.",
            _V1_SIGNATURE_METHOD,
        )
    version = common[_V1_SIGNATURE_VERSION][0]
    if version != "1.0":
        return _incomplete(
            f"SignatureVersion {version!r} is not supported; signature V1 uses 1.0.",
            _V1_SIGNATURE_VERSION,
        )

    timestamps = common.get(_V1_TIMESTAMP)
    if not timestamps:
        return _missing(_V1_TIMESTAMP)
    timestamp = parse_timestamp(timestamps[0]) if len(timestamps) == 1 else None
    if timestamp is None:
        return _bad_timestamp(_V1_TIMESTAMP, ",".join(timestamps))
    nonces = common.get(_V1_NONCE)
    if not nonces or not nonces[0]:
        return _missing(_V1_NONCE)
    if len(nonces) > 1:
        return _incomplete("SignatureNonce is given more than once.", _V1_NONCE)
    tokens = common.get(_V1_TOKEN)
    if tokens is not None and len(tokens) > 1:
        return _incomplete("SecurityToken is given more than once.", _V1_TOKEN)
    actions, versions = common.get(_V1_ACTION), common.get(_V1_VERSION)
    return ParsedRequest(
        request=request,
        scheme=Scheme.V1,
        access_key_id=common[_V1_ACCESS_KEY_ID][0],
        security_token=(tokens[0] or None) if tokens else None,
        action=actions[0] if actions else None,
        version=versions[0] if versions else None,
        timestamp_raw=timestamps[0],
        timestamp=timestamp,
        nonce=nonces[0],
        signature=common[_V1_SIGNATURE][0],
        params=tuple(business),
        common=MappingProxyType({k: v[0] for k, v in common.items()}),
        signed_pairs=tuple(signed),
        body_start=body_start,
    )


def _parse_authorization(value: str) -> dict[str, str] | Rejection:
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM_V3:
        shown = algorithm if len(algorithm) <= 40 else algorithm[:37] + "..."
        return _incomplete(
            f"The Authorization header's algorithm {shown!r} is not supported; signature V3 "
            f"uses {ALGORITHM_V3}.",
            "Authorization",
        )
    fields: dict[str, str] = {}
    for part in rest.split(","):
        key, eq, item = part.strip().partition("=")
        if not eq or key in fields:
            return _incomplete(
                "The Authorization header cannot be read; it must be "
                f"'{ALGORITHM_V3} Credential=<AccessKeyId>,SignedHeaders=<a;b>,Signature=<hex>'.",
                "Authorization",
            )
        fields[key] = item.strip()
    for key in ("Credential", "SignedHeaders", "Signature"):
        if not fields.get(key):
            return _incomplete(f"The Authorization header has no {key}.", "Authorization")
    return fields


def _parse_v3(
    request: WireRequest, query: list[tuple[bytes, bytes]], body: list[tuple[bytes, bytes]]
) -> ParsedRequest | Rejection:
    headers = request.headers
    fields = _parse_authorization(headers[Header.AUTHORIZATION])
    if isinstance(fields, Rejection):
        return fields
    signed_headers = tuple(fields["SignedHeaders"].split(";"))
    signed_lower = {name.strip().lower() for name in signed_headers}
    if "" in signed_lower:
        return _incomplete("SignedHeaders names an empty header.", "Authorization")
    for name in headers:
        if name.startswith(_V3_SIGNED_FAMILY) and name not in signed_lower:
            shown = name if len(name) <= 64 else name[:61] + "..."
            return _incomplete(f"The header {shown} is sent but not signed.", name)
    if Header.CONTENT_SHA256 not in headers:
        return _incomplete(
            f"The header {Header.CONTENT_SHA256.value} is missing.", Header.CONTENT_SHA256
        )
    access_key_id = fields["Credential"]
    claimed = headers.get(Header.ACCESS_KEY_ID)
    if claimed is not None and claimed != access_key_id:
        return _incomplete(
            f"The header {Header.ACCESS_KEY_ID.value} names another AccessKey than the "
            "Authorization header's Credential.",
            Header.ACCESS_KEY_ID,
        )
    date = headers.get(Header.DATE)
    if date is None:
        return _missing(Header.DATE)
    timestamp = parse_timestamp(date)
    if timestamp is None:
        return _bad_timestamp(Header.DATE, date)
    nonce = headers.get(Header.NONCE)
    if not nonce:
        return _missing(Header.NONCE)

    params = [
        (k.decode("utf-8", "replace"), v.decode("utf-8", "replace")) for k, v in (*query, *body)
    ]
    body_start = len(query)
    return ParsedRequest(
        request=request,
        scheme=Scheme.V3,
        access_key_id=access_key_id,
        security_token=headers.get(Header.SECURITY_TOKEN) or None,
        action=headers.get(Header.ACTION),
        version=headers.get(Header.VERSION),
        timestamp_raw=date,
        timestamp=timestamp,
        nonce=nonce,
        signature=fields["Signature"],
        params=tuple(params),
        common=MappingProxyType({k: v for k, v in headers.items() if k.startswith("x-acs-")}),
        signed_pairs=tuple(query),
        signed_headers=signed_headers,
        body_start=body_start,
    )


def string_to_sign(parsed: ParsedRequest) -> str:
    """The string the server signs for this request (no secret is needed to build it)."""
    request = parsed.request
    if parsed.scheme is _SCHEME_V1:
        return v1_string_to_sign(request.method, parsed.signed_pairs)
    canonical = v3_canonical_request(
        request.method,
        request.path,
        parsed.signed_pairs,
        request.headers,
        parsed.signed_headers,
        hashlib.sha256(request.body).hexdigest(),
    )
    return v3_string_to_sign(canonical)


def verify(parsed: ParsedRequest, secret: str) -> Verified | Rejection:
    """Recompute the signature with `secret` and compare it in constant time."""
    to_sign = string_to_sign(parsed)
    if parsed.scheme is _SCHEME_V1:
        expected = v1_signature(to_sign, secret)
    else:
        expected = v3_signature(to_sign, secret)
        claimed = parsed.request.headers.get(Header.CONTENT_SHA256, "")
        actual = hashlib.sha256(parsed.request.body).hexdigest()
        if not hmac.compare_digest(
            claimed.lower().encode("utf-8", "surrogatepass"), actual.encode()
        ):
            return Rejection(
                Reason.SIGNATURE_DOES_NOT_MATCH,
                f"The header {Header.CONTENT_SHA256.value} is not the SHA-256 of the body "
                "received.",
                Header.CONTENT_SHA256,
                to_sign,
            )
    if hmac.compare_digest(expected.encode(), parsed.signature.encode("utf-8", "surrogatepass")):
        return Verified(parsed.scheme, parsed.access_key_id, to_sign)
    return Rejection(
        Reason.SIGNATURE_DOES_NOT_MATCH,
        "The signature does not match the server's calculation with this AccessKey's secret.",
        None,
        to_sign,
    )
