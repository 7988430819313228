"""The client side: add the signature envelope to a request."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import replace
from datetime import UTC, datetime

from acscontract.errors import UsageError
from acscontract.signing._canonical import (
    v1_signature,
    v1_string_to_sign,
    v3_canonical_request,
    v3_signature,
    v3_string_to_sign,
)
from acscontract.signing._credentials import Credentials
from acscontract.signing._names import ALGORITHM_V3, Header, Param, Scheme, timestamp_format
from acscontract.signing._wire import (
    WireRequest,
    _octet_pairs,
    _unquote_plus,
    body_over_query,
    encode_pairs,
)

__all__ = ["format_timestamp", "new_nonce", "sign", "sign_v1", "sign_v3"]


def format_timestamp(moment: datetime) -> str:
    """`moment` as the gateway wants it: UTC, `%Y-%m-%dT%H:%M:%SZ`. Naive means UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime(timestamp_format())


def new_nonce() -> str:
    """A fresh random SignatureNonce."""
    return uuid.uuid4().hex


def _stamp(timestamp: datetime | str | None) -> str:
    if timestamp is None:
        return format_timestamp(datetime.now(UTC))
    if isinstance(timestamp, datetime):
        return format_timestamp(timestamp)
    return timestamp


def sign_v1(
    request: WireRequest,
    credentials: Credentials,
    *,
    action: str | None,
    version: str | None,
    timestamp: datetime | str | None = None,
    nonce: str | None = None,
    response_format: str | None = "json",
) -> WireRequest:
    """`request` with the V1 common parameters and `Signature` appended to its query.

    The signature covers every query parameter and, for a form body, every body parameter. Query
    parameters already present are kept byte for byte, except those this function sets, which it
    replaces. `None` for `action`, `version` or `response_format` leaves that parameter out (or as
    the request already has it). A `timestamp` given as a string is sent as is, even malformed.
    """
    added = [
        (Param.ACTION.value, action),
        (Param.VERSION.value, version),
        (Param.FORMAT.value, response_format),
        (Param.TIMESTAMP.value, _stamp(timestamp)),
        (Param.SIGNATURE_NONCE.value, new_nonce() if nonce is None else nonce),
        (Param.SIGNATURE_METHOD.value, "HMAC-SHA1"),
        (Param.SIGNATURE_VERSION.value, "1.0"),
        (Param.ACCESS_KEY_ID.value, credentials.access_key_id),
        (Param.SECURITY_TOKEN.value, credentials.security_token),
    ]
    present = [(k, v) for k, v in added if v is not None]
    replaced = {k for k, _ in present} | {Param.SIGNATURE.value}
    kept = [
        piece
        for piece in request.query.split("&")
        if piece
        and _unquote_plus(piece.partition("=")[0].encode("utf-8", "surrogatepass")).decode(
            "utf-8", "replace"
        )
        not in replaced
    ]
    envelope = encode_pairs(present)
    query = "&".join([*kept, envelope])
    body = _octet_pairs(request.body) if request.is_form else []
    signed = body_over_query(_octet_pairs(query), body)
    signature = v1_signature(
        v1_string_to_sign(request.method, signed), credentials.access_key_secret
    )
    query = f"{query}&{encode_pairs([(Param.SIGNATURE.value, signature)])}"
    return replace(request, query=query)


def sign_v3(
    request: WireRequest,
    credentials: Credentials,
    *,
    action: str | None,
    version: str | None,
    timestamp: datetime | str | None = None,
    nonce: str | None = None,
) -> WireRequest:
    """`request` with the V3 `x-acs-*` headers and an `Authorization` header added.

    Signs `host`, `content-type` when present, and every `x-acs-*` header. The query and body
    travel unchanged. `None` for `action` or `version` leaves that header out (or as the request
    already has it). A `timestamp` given as a string is sent as is, even malformed.
    """
    if not request.host:
        raise UsageError(
            "A V3 signature covers the host header, and this request has none; build it with "
            "WireRequest.from_url or give it a 'host' header."
        )
    key_id = credentials.access_key_id
    if any(c == "," or c.isspace() for c in key_id):
        raise UsageError(
            f"The AccessKey ID {key_id!r} holds a comma or white space, which the V3 "
            "Authorization header cannot carry."
        )
    headers = dict(request.headers)
    headers.pop(Header.AUTHORIZATION, None)
    payload = hashlib.sha256(request.body).hexdigest()
    updates = {
        Header.ACTION.value: action,
        Header.VERSION.value: version,
        Header.DATE.value: _stamp(timestamp),
        Header.NONCE.value: new_nonce() if nonce is None else nonce,
        Header.CONTENT_SHA256.value: payload,
    }
    if credentials.security_token is not None:
        updates[Header.ACCESS_KEY_ID.value] = credentials.access_key_id
        updates[Header.SECURITY_TOKEN.value] = credentials.security_token
    headers.update({k: v for k, v in updates.items() if v is not None})
    signed = sorted(
        name
        for name in headers
        if name in (Header.HOST, Header.CONTENT_TYPE) or name.startswith("x-acs-")
    )
    canonical = v3_canonical_request(
        request.method, request.path, _octet_pairs(request.query), headers, signed, payload
    )
    signature = v3_signature(v3_string_to_sign(canonical), credentials.access_key_secret)
    headers[Header.AUTHORIZATION.value] = (
        f"{ALGORITHM_V3} Credential={credentials.access_key_id},"
        f"SignedHeaders={';'.join(signed)},Signature={signature}"
    )
    return replace(request, headers=headers)


def sign(
    request: WireRequest,
    credentials: Credentials,
    *,
    scheme: Scheme,
    action: str | None,
    version: str | None,
    timestamp: datetime | str | None = None,
    nonce: str | None = None,
) -> WireRequest:
    """Sign `request` with `scheme` (see `sign_v1` and `sign_v3`)."""
    if scheme is Scheme.V1:
        return sign_v1(
            request, credentials, action=action, version=version, timestamp=timestamp, nonce=nonce
        )
    return sign_v3(
        request, credentials, action=action, version=version, timestamp=timestamp, nonce=nonce
    )
