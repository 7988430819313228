"""Signing a `requests.PreparedRequest` in place, and the `requests` auth built on it."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.auth import AuthBase

from acscontract.errors import UsageError
from acscontract.signing import Credentials, Header, Scheme, WireRequest, sign

__all__ = ["AcsAuth", "sign_prepared"]


def _body_bytes(prepared: requests.PreparedRequest) -> bytes:
    body = prepared.body
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        encoded = body.encode("utf-8")
        prepared.body = encoded
        return encoded
    raise UsageError(
        "Cannot sign a request whose body is a stream or file; the signature needs the whole "
        "body up front. Pass the body as bytes or str."
    )


def sign_prepared(
    prepared: requests.PreparedRequest,
    credentials: Credentials,
    *,
    action: str | None,
    version: str | None,
    scheme: Scheme = Scheme.V3,
    timestamp: datetime | str | None = None,
    nonce: str | None = None,
) -> requests.PreparedRequest:
    """Sign `prepared` in place and return it.

    V1 appends the common parameters and the signature to the URL's query (a form body's
    parameters are signed too); V3 adds the `x-acs-*`, `host` and `Authorization` headers. The
    `host` header is set explicitly under V3 so that the host sent is the host signed.
    """
    if not prepared.url:
        raise UsageError("Cannot sign a PreparedRequest that has no URL; prepare it first.")
    parts = urlsplit(prepared.url)
    headers = {name.lower(): value for name, value in prepared.headers.items()}
    headers.setdefault(Header.HOST.value, parts.netloc)
    wire = WireRequest(
        prepared.method or "GET", parts.path or "/", parts.query, headers, _body_bytes(prepared)
    )
    signed = sign(
        wire,
        credentials,
        scheme=scheme,
        action=action,
        version=version,
        timestamp=timestamp,
        nonce=nonce,
    )
    if scheme is Scheme.V1:
        prepared.url = urlunsplit(parts._replace(query=signed.query))
    else:
        for name, value in signed.headers.items():
            if headers.get(name) != value or name == Header.HOST:
                prepared.headers[name] = value
    return prepared


class AcsAuth(AuthBase):
    """A `requests` auth that signs every request for one operation (`session.auth = ...`)."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        action: str | None,
        version: str | None,
        scheme: Scheme = Scheme.V3,
    ) -> None:
        self.credentials = credentials
        self.action = action
        self.version = version
        self.scheme = scheme

    def __repr__(self) -> str:
        return (
            f"AcsAuth({self.credentials!r}, action={self.action!r}, version={self.version!r}, "
            f"scheme={self.scheme.value!r})"
        )

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        return sign_prepared(
            r, self.credentials, action=self.action, version=self.version, scheme=self.scheme
        )
