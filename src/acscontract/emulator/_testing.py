"""Build signed `EmulatorRequest`s in a few words: for tests, the contract suite and benchmarks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from acscontract.emulator._types import EmulatorRequest
from acscontract.signing import (
    FORM_CONTENT_TYPE,
    Credentials,
    Scheme,
    WireRequest,
    encode_pairs,
    sign,
)
from acscontract.spec import Operation
from acscontract.spec import operation as bundled_operation

__all__ = ["signed_request"]


def signed_request(
    params: Mapping[str, str] | Iterable[tuple[str, str]],
    credentials: Credentials,
    *,
    scheme: Scheme | str = Scheme.V1,
    operation: Operation | None = None,
    action: str | None = None,
    version: str | None = None,
    method: str = "POST",
    host: str | None = None,
    timestamp: datetime | float | str | None = None,
    nonce: str | None = None,
    form: bool = False,
    client_ip: str = "127.0.0.1",
    secure: bool = False,
) -> EmulatorRequest:
    """A request with these business `params`, signed with `credentials`, as a server receives it.

    Action and Version are `operation`'s (the bundled RealTimeRecordCommand when None), or
    `action` and `version` when given: any operation of the product, or wrong ones on purpose.
    `timestamp` may be a datetime, Unix seconds or a raw string (sent as is). With `form=True`
    the parameters travel in a form-encoded body instead of the query.
    """
    op = operation if operation is not None else bundled_operation()
    pairs = list(params.items()) if isinstance(params, Mapping) else list(params)
    encoded = encode_pairs(pairs)
    the_host = host if host is not None else op.product.default_endpoint
    headers = {"host": the_host}
    if form:
        headers["content-type"] = FORM_CONTENT_TYPE
    wire = WireRequest(
        method,
        "/",
        "" if form else encoded,
        headers,
        encoded.encode("utf-8") if form else b"",
    )
    stamp: datetime | str | None
    if isinstance(timestamp, datetime | str) or timestamp is None:
        stamp = timestamp
    else:
        stamp = datetime.fromtimestamp(float(timestamp), UTC)
    signed = sign(
        wire,
        credentials,
        scheme=Scheme(scheme),
        action=op.name if action is None else action,
        version=op.product.version if version is None else version,
        timestamp=stamp,
        nonce=nonce,
    )
    return EmulatorRequest.from_wire(signed, client_ip=client_ip, secure=secure)
