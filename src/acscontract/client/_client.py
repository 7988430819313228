"""A small signed RPC client that can also send requests that are wrong on purpose."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from urllib.parse import unquote_plus, urlsplit

import requests

from acscontract.client._response import ApiResponse, TransportError, redact_text
from acscontract.client._transport import HttpTransport, Transport
from acscontract.errors import UsageError
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
    sign,
)

__all__ = [
    "NO_TAMPER",
    "Client",
    "ParamValue",
    "Params",
    "Placement",
    "Tamper",
    "endpoint_problem",
]

ParamValue = str | int | float | bool
Params = Mapping[str, ParamValue | None] | Iterable[tuple[str, ParamValue | None]]
"""Business parameters: a mapping, or pairs (which may repeat a key). None values are left out."""

_V3_SIGNATURE = re.compile(r"(Signature=)([^,\s]*)")


class Placement(StrEnum):
    """Where the business parameters travel."""

    QUERY = "query"
    """In the query string, as every official SDK sends them."""
    BODY = "body"
    """In an `application/x-www-form-urlencoded` body (POST only)."""


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


def endpoint_problem(endpoint: str) -> str | None:
    """Why `endpoint` (a host, or an http(s) URL) cannot be called, or None when it can."""
    if any(c.isspace() or not c.isprintable() for c in endpoint):
        return "it contains a space or a control character"
    try:
        parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
    except ValueError as exc:  # an unbalanced IPv6 bracket
        return f"it cannot be read as a URL ({exc})"
    try:
        parts.port  # noqa: B018 - reading it checks it
    except ValueError:
        return "its port is not a number from 0 to 65535"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "it is neither a host nor an http:// or https:// URL"
    if parts.query or parts.fragment:
        return "it has a query or a fragment"
    return None


def _endpoint_parts(endpoint: str) -> tuple[str, str, str]:
    problem = endpoint_problem(endpoint)
    if problem is not None:
        raise UsageError(
            f"The endpoint {endpoint!r} is not usable: {problem}; give a host such as "
            "'live.aliyuncs.com' or a URL such as 'http://127.0.0.1:8080', without a query or "
            "fragment."
        )
    parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
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
    """Signed calls to one RPC endpoint, sent through a `Transport`.

    `endpoint` is a host (`live.aliyuncs.com`, meaning https) or a URL (`http://127.0.0.1:8080`).
    Credentials default to the `ALIBABA_CLOUD_*` environment variables. The transport defaults to
    an `HttpTransport` over `session` (a `requests.Session` to share connections; one per thread
    when None) with `timeout`; pass another transport instead (`PooledTransport`, or
    `acscontract.emulator.EmulatorTransport` to call an emulator in process). Several clients
    (one per credential, say) may share one transport.
    """

    __slots__ = ("_base", "_host", "_path", "credentials", "method", "scheme", "transport")

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
        transport: Transport | None = None,
    ) -> None:
        url_scheme, netloc, path = _endpoint_parts(endpoint)
        if transport is not None and session is not None:
            raise UsageError(
                "Pass a Client either a transport or a requests session, not both; a session "
                "belongs in the transport: transport=HttpTransport(session)."
            )
        self._base = f"{url_scheme}://{netloc}"
        self._host = netloc
        self._path = path
        self.credentials = credentials or Credentials.from_env(environ)
        self.scheme = scheme
        self.method = method
        self.transport: Transport = (
            transport if transport is not None else HttpTransport(session, timeout=timeout)
        )

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
        """Send `request` to this endpoint through the transport: its path, query, headers and
        body exactly as given. Raises TransportError, with no secret in its message, when no
        answer comes."""
        try:
            return self.transport.send(self._base, request)
        except TransportError as exc:
            secrets = (self.credentials.access_key_secret, self.credentials.security_token)
            raise TransportError(redact_text(str(exc), request, secrets), exc.reason) from None

    def close(self) -> None:
        """Close the transport (for a transport shared by several clients, close it once)."""
        self.transport.close()
