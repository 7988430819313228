"""What a call gives back, whichever transport carried it: the answer, or why none came."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

import requests
import urllib3

from acscontract.errors import AcsContractError
from acscontract.signing import (
    Header,
    Param,
    WireRequest,
    percent_encode,
    redact_headers,
    redact_query,
)

__all__ = ["ApiResponse", "SentRequest", "TransportError", "redact_text", "transport_reason"]

_MASK = "***"
_V3_SIGNATURE = re.compile(r"(Signature=)([^,\s]*)")
_SECRET_IN_TEXT = re.compile(r"\b(Signature|SecurityToken)=[^&\s'\",)]*")


class TransportError(AcsContractError):
    """The request could not be sent or no response came back (connection, TLS, timeout, a
    dropped connection).

    `reason` says what happened in a few words (`connection refused`, `timed out`), for a
    one-line message.
    """

    def __init__(self, message: str, reason: str = "no answer") -> None:
        super().__init__(message)
        self.reason = reason


_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")


def transport_reason(exc: BaseException) -> str:
    """A few words on why no answer came: the OS error's text when there is one."""
    found = _ERRNO.findall(str(exc))
    if found:
        return str(found[-1]).strip().lower()
    if isinstance(exc, requests.Timeout | urllib3.exceptions.TimeoutError):
        return "timed out"
    if isinstance(exc, requests.exceptions.SSLError | urllib3.exceptions.SSLError):
        return "TLS failed"
    return type(exc).__name__


def redact_text(text: str, request: WireRequest, secrets: Iterable[str | None] = ()) -> str:
    """`text` (an error message) without the request's signature and STS token, nor `secrets`."""
    found = [s for s in secrets if s]
    for name, value in request.query_pairs():
        if name in (Param.SIGNATURE, Param.SECURITY_TOKEN):
            found.append(value)
    authorization = request.headers.get(Header.AUTHORIZATION, "")
    found.extend(m.group(2) for m in _V3_SIGNATURE.finditer(authorization))
    found.append(request.headers.get(Header.SECURITY_TOKEN, ""))
    for secret in found:
        if secret:
            text = text.replace(secret, _MASK).replace(percent_encode(secret), _MASK)
    return _SECRET_IN_TEXT.sub(rf"\1={_MASK}", text)


@dataclass(frozen=True, slots=True, repr=False)
class SentRequest:
    """The request as it went on the wire. Its repr masks the signature and the STS token."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes

    @classmethod
    def of(cls, endpoint: str, request: WireRequest) -> SentRequest:
        """`request` as sent to `endpoint` (a base URL such as `https://live.aliyuncs.com`)."""
        url = f"{endpoint}{request.path}" + (f"?{request.query}" if request.query else "")
        return cls(request.method, url, request.headers, request.body)

    def __repr__(self) -> str:
        base, question, query = self.url.partition("?")
        url = f"{base}{question}{redact_query(query)}"
        return (
            f"SentRequest(method={self.method!r}, url={url!r}, "
            f"headers={redact_headers(self.headers)!r}, body=<{len(self.body)} bytes>)"
        )


@dataclass(frozen=True, slots=True)
class ApiResponse:
    """What came back: status, headers, the JSON body (None if not JSON), and timings.

    The repr leaves out the body and headers: an error body can quote the string to sign, which
    under V1 holds the STS token.
    """

    status: int
    headers: Mapping[str, str] = field(repr=False)
    json: Any = field(repr=False)
    text: str = field(repr=False)
    request: SentRequest
    elapsed: float
    """Seconds from sending the request to receiving the whole response."""
    started_at: datetime = field(repr=False)

    @classmethod
    def received(
        cls,
        status: int,
        headers: Mapping[str, str] | Iterable[tuple[str, str]],
        body: bytes,
        request: SentRequest,
        *,
        elapsed: float,
        started_at: datetime,
        encoding: str | None = None,
    ) -> ApiResponse:
        """The response a transport received: its body decoded (as `encoding`, else UTF-8) and
        read as JSON when it is JSON; header names lower-cased."""
        try:
            text = body.decode(encoding or "utf-8", "replace")
        except LookupError:  # a charset Python does not know
            text = body.decode("utf-8", "replace")
        try:
            document: Any = json.loads(text)
        except (ValueError, RecursionError):  # not JSON, or nested past Python's parser
            document = None
        items = headers.items() if isinstance(headers, Mapping) else headers
        return cls(
            status=status,
            headers=MappingProxyType({k.lower(): v for k, v in items}),
            json=document,
            text=text,
            request=request,
            elapsed=elapsed,
            started_at=started_at,
        )

    @property
    def ok(self) -> bool:
        """Whether the status is 2xx."""
        return 200 <= self.status < 300

    def _field(self, name: str) -> str | None:
        if isinstance(self.json, dict):
            value = self.json.get(name)
            return value if isinstance(value, str) else None
        return None

    @property
    def api_body(self) -> bool:
        """Whether the body is the API's JSON: an object with a `RequestId`, as every answer of an
        Alibaba Cloud RPC endpoint is (a web page or another service's JSON is not)."""
        return self.request_id is not None

    @property
    def code(self) -> str | None:
        """The error `Code` of the body, if any."""
        return self._field("Code")

    @property
    def message(self) -> str | None:
        """The error `Message` of the body, if any."""
        return self._field("Message")

    @property
    def request_id(self) -> str | None:
        """The body's `RequestId`, if any."""
        return self._field("RequestId")
