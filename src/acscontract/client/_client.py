"""A small signed RPC client that can also send requests that are wrong on purpose."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote_plus, urlsplit

import requests

from acscontract.errors import AcsContractError, UsageError
from acscontract.signing import (
    FORM_CONTENT_TYPE,
    Credentials,
    Header,
    Param,
    Scheme,
    WireRequest,
    encode_pairs,
    format_timestamp,
    percent_encode,
    redact_headers,
    redact_query,
    sign,
)

__all__ = [
    "NO_TAMPER",
    "ApiResponse",
    "Client",
    "ParamValue",
    "Params",
    "Placement",
    "SentRequest",
    "Tamper",
    "TransportError",
    "transport_reason",
]

ParamValue = str | int | float | bool
Params = Mapping[str, ParamValue | None] | Iterable[tuple[str, ParamValue | None]]
"""Business parameters: a mapping, or pairs (which may repeat a key). None values are left out."""

_MASK = "***"
_V3_SIGNATURE = re.compile(r"(Signature=)([^,\s]*)")
_SECRET_IN_TEXT = re.compile(r"\b(Signature|SecurityToken)=[^&\s'\",)]*")


class Placement(StrEnum):
    """Where the business parameters travel."""

    QUERY = "query"
    """In the query string, as every official SDK sends them."""
    BODY = "body"
    """In an `application/x-www-form-urlencoded` body (POST only)."""


class TransportError(AcsContractError):
    """The request could not be sent or no response came back (connection, TLS, timeout).

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
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS failed"
    return type(exc).__name__


@dataclass(frozen=True, slots=True)
class Tamper:
    """How to make a request wrong on purpose; the default changes nothing.

    Fields that act before signing (the request is then correctly signed, but carries a bad
    value): `timestamp` (sent as is, so a stale time or a malformed string), `nonce` (reuse one)
    and `access_key_id` (claim a key the server does not know, signing with the real secret).
    Fields that act after signing: `corrupt_signature`, `drop` (parameters or headers removed by
    name, e.g. `Signature`, `Authorization`, `x-acs-date`) and `unsigned` (query parameters added
    that the signature does not cover). Missing, extra or malformed business parameters need no
    tampering: pass them as the call's parameters. Combine two tampers with `|`.
    """

    timestamp: datetime | str | None = None
    nonce: str | None = None
    access_key_id: str | None = None
    corrupt_signature: bool = False
    drop: frozenset[str] = frozenset()
    unsigned: tuple[tuple[str, str], ...] = ()

    def __or__(self, other: Tamper) -> Tamper:
        return Tamper(
            timestamp=other.timestamp if other.timestamp is not None else self.timestamp,
            nonce=other.nonce if other.nonce is not None else self.nonce,
            access_key_id=other.access_key_id or self.access_key_id,
            corrupt_signature=self.corrupt_signature or other.corrupt_signature,
            drop=self.drop | other.drop,
            unsigned=self.unsigned + other.unsigned,
        )

    @classmethod
    def stale_timestamp(
        cls, age: timedelta = timedelta(minutes=20), now: datetime | None = None
    ) -> Tamper:
        """A well-formed timestamp `age` in the past (the gateway allows 15 minutes)."""
        return cls(timestamp=format_timestamp((now or datetime.now(UTC)) - age))

    @classmethod
    def malformed_timestamp(cls, raw: str = "2024-13-45 25:61:61") -> Tamper:
        """A timestamp that is not `%Y-%m-%dT%H:%M:%SZ`."""
        return cls(timestamp=raw)

    @classmethod
    def reused_nonce(cls, nonce: str) -> Tamper:
        """Sign with this nonce; send twice to replay it."""
        return cls(nonce=nonce)

    @classmethod
    def unknown_access_key(cls, access_key_id: str = "LTAI0000000000000000UNKNOWN") -> Tamper:
        """Claim an AccessKey ID the server does not know."""
        return cls(access_key_id=access_key_id)

    @classmethod
    def bad_signature(cls) -> Tamper:
        """A signature with one character changed."""
        return cls(corrupt_signature=True)

    @classmethod
    def without(cls, *names: str) -> Tamper:
        """Remove these parameters or headers after signing."""
        return cls(drop=frozenset(names))


NO_TAMPER = Tamper()


@dataclass(frozen=True, slots=True, repr=False)
class SentRequest:
    """The request as it went on the wire. Its repr masks the signature and the STS token."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes

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


def _endpoint_parts(endpoint: str) -> tuple[str, str, str]:
    url = endpoint if "://" in endpoint else f"https://{endpoint}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise UsageError(
            f"The endpoint {endpoint!r} is not usable: give a host such as 'live.aliyuncs.com' "
            "or a URL such as 'http://127.0.0.1:8080', without a query or fragment."
        )
    return parts.scheme, parts.netloc, parts.path or "/"


def _pairs(params: Params) -> list[tuple[str, str]]:
    items = params.items() if isinstance(params, Mapping) else params
    out = []
    for key, value in items:
        if value is None:
            continue
        if isinstance(value, bool):
            out.append((key, "true" if value else "false"))
        else:
            out.append((key, str(value)))
    return out


def _corrupt(signature: str) -> str:
    if not signature:
        return "A"
    first = signature[0]
    return ("B" if first == "A" else "A") + signature[1:]


def _param_name(piece: str) -> str:
    return unquote_plus(piece.partition("=")[0])


def _apply_after_signing(request: WireRequest, tamper: Tamper) -> WireRequest:
    pieces = [p for p in request.query.split("&") if p]
    headers = dict(request.headers)
    if tamper.corrupt_signature:
        for i, piece in enumerate(pieces):
            if _param_name(piece) == Param.SIGNATURE:
                value = unquote_plus(piece.partition("=")[2])
                pieces[i] = f"{Param.SIGNATURE.value}={percent_encode(_corrupt(value))}"
        authorization = headers.get(Header.AUTHORIZATION)
        if authorization is not None:
            headers[Header.AUTHORIZATION.value] = _V3_SIGNATURE.sub(
                lambda m: m.group(1) + _corrupt(m.group(2)), authorization
            )
    if tamper.drop:
        pieces = [p for p in pieces if _param_name(p) not in tamper.drop]
        dropped = {name.lower() for name in tamper.drop}
        headers = {k: v for k, v in headers.items() if k not in dropped}
    if tamper.unsigned:
        pieces.append(encode_pairs(tamper.unsigned))
    return dataclasses.replace(request, query="&".join(pieces), headers=headers)


class Client:
    """Signed calls to one RPC endpoint.

    `endpoint` is a host (`live.aliyuncs.com`, meaning https) or a URL (`http://127.0.0.1:8080`).
    Credentials default to the `ALIBABA_CLOUD_*` environment variables. Pass a
    `requests.Session` to share connections or to let `responses` intercept the calls.
    """

    __slots__ = ("_base", "_host", "_path", "credentials", "method", "scheme", "session", "timeout")

    def __init__(
        self,
        endpoint: str,
        credentials: Credentials | None = None,
        *,
        scheme: Scheme = Scheme.V3,
        method: str = "POST",
        session: requests.Session | None = None,
        timeout: float = 10.0,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        url_scheme, netloc, path = _endpoint_parts(endpoint)
        self._base = f"{url_scheme}://{netloc}"
        self._host = netloc
        self._path = path
        self.credentials = credentials or Credentials.from_env(environ)
        self.scheme = scheme
        self.method = method
        self.session = session or requests.Session()
        self.timeout = timeout

    def __repr__(self) -> str:
        return (
            f"Client({self._base!r}, {self.credentials!r}, scheme={self.scheme.value!r}, "
            f"method={self.method!r})"
        )

    @property
    def endpoint(self) -> str:
        """The endpoint's base URL, e.g. `https://live.aliyuncs.com`."""
        return self._base

    def build(
        self,
        action: str | None,
        version: str | None,
        params: Params = (),
        *,
        method: str | None = None,
        scheme: Scheme | None = None,
        placement: Placement = Placement.QUERY,
        headers: Mapping[str, str] | None = None,
        tamper: Tamper = NO_TAMPER,
    ) -> WireRequest:
        """The signed (and possibly tampered) request `call` would send, without sending it.

        `action` or `version` None leaves that common parameter out, to test its absence.
        """
        http_method = (method or self.method).upper()
        pairs = _pairs(params)
        request_headers = {Header.HOST.value: self._host}
        request_headers.update({k.lower(): v for k, v in (headers or {}).items()})
        query, body = "", b""
        if placement is Placement.BODY:
            if http_method == "GET":
                raise UsageError("A GET request has no body; send the parameters in the query.")
            body = encode_pairs(pairs).encode("utf-8")
            request_headers[Header.CONTENT_TYPE.value] = FORM_CONTENT_TYPE
        else:
            query = encode_pairs(pairs)
        credentials = self.credentials
        if tamper.access_key_id is not None:
            credentials = dataclasses.replace(credentials, access_key_id=tamper.access_key_id)
        unsigned = WireRequest(http_method, self._path, query, request_headers, body)
        signed = sign(
            unsigned,
            credentials,
            scheme=scheme or self.scheme,
            action=action,
            version=version,
            timestamp=tamper.timestamp,
            nonce=tamper.nonce,
        )
        return _apply_after_signing(signed, tamper)

    def call(
        self,
        action: str | None,
        version: str | None,
        params: Params = (),
        *,
        method: str | None = None,
        scheme: Scheme | None = None,
        placement: Placement = Placement.QUERY,
        headers: Mapping[str, str] | None = None,
        tamper: Tamper = NO_TAMPER,
    ) -> ApiResponse:
        """Call `action` of API `version` with `params`, and return whatever comes back.

        Never raises for an HTTP error status: a 4xx or 5xx is an ApiResponse like any other.
        Raises TransportError when no response arrives.
        """
        request = self.build(
            action,
            version,
            params,
            method=method,
            scheme=scheme,
            placement=placement,
            headers=headers,
            tamper=tamper,
        )
        return self.send(request)

    def send(self, request: WireRequest) -> ApiResponse:
        """Send `request` to this endpoint: its path, query, headers and body exactly as given.

        The session adds its default headers (User-Agent, Accept, ...), which the signature
        does not cover.
        """
        url = f"{self._base}{request.path}"
        if request.query:
            url = f"{url}?{request.query}"
        prepared = self.session.prepare_request(
            requests.Request(request.method, url, headers=dict(request.headers), data=request.body)
        )
        # requests may re-quote a URL; send the exact query that was signed.
        prepared.url = url
        settings = self.session.merge_environment_settings(url, {}, None, None, None)
        started_at = datetime.now(UTC)
        start = time.perf_counter()
        try:
            response = self.session.send(
                prepared, timeout=self.timeout, allow_redirects=False, **settings
            )
            content = response.content
        except requests.RequestException as exc:
            raise TransportError(
                f"No response from {self._base}: {type(exc).__name__}: "
                f"{self._redact(str(exc), request)}",
                transport_reason(exc),
            ) from None
        elapsed = time.perf_counter() - start
        try:
            text = content.decode(response.encoding or "utf-8", "replace")
        except LookupError:  # a charset Python does not know
            text = content.decode("utf-8", "replace")
        try:
            body: Any = json.loads(text)
        except ValueError:
            body = None
        sent = SentRequest(
            prepared.method or request.method,
            prepared.url or url,
            MappingProxyType(dict(prepared.headers)),
            request.body,
        )
        return ApiResponse(
            status=response.status_code,
            headers=MappingProxyType({k.lower(): v for k, v in response.headers.items()}),
            json=body,
            text=text,
            request=sent,
            elapsed=elapsed,
            started_at=started_at,
        )

    def _redact(self, text: str, request: WireRequest) -> str:
        secrets = [self.credentials.access_key_secret, self.credentials.security_token]
        for name, value in request.query_pairs():
            if name in (Param.SIGNATURE, Param.SECURITY_TOKEN):
                secrets.append(value)
        authorization = request.headers.get(Header.AUTHORIZATION, "")
        secrets.extend(m.group(2) for m in _V3_SIGNATURE.finditer(authorization))
        for secret in secrets:
            if secret:
                text = text.replace(secret, _MASK).replace(percent_encode(secret), _MASK)
        return _SECRET_IN_TEXT.sub(rf"\1={_MASK}", text)
