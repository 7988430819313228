"""How a signed request reaches an endpoint: one `Transport` protocol, one class per way in.

After httpx's `BaseTransport`: a transport takes a request exactly as it is to travel (a signed
`WireRequest`) and the endpoint's base URL, and returns what came back, or raises
`TransportError` when nothing did. It never signs, paces or retries; `Client` signs, and the
contract suite and the probe pace. The ways in:

- `HttpTransport`: over `requests` (the environment's proxy settings, `responses` and
  `mock_live` see its calls); thread-safe when it makes its own sessions.
- `PooledTransport`: straight to a urllib3 connection pool, thread-safe and a good deal cheaper
  per call, for a served emulator.
- `acscontract.emulator.EmulatorTransport`: in process, to an emulator's `handle`, no sockets.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Protocol, runtime_checkable

import requests
import urllib3

from acscontract.client._response import (
    ApiResponse,
    SentRequest,
    TransportError,
    redact_text,
    transport_reason,
)
from acscontract.signing import WireRequest

__all__ = ["HttpTransport", "PooledTransport", "Transport"]


@runtime_checkable
class Transport(Protocol):
    """Sends one signed request to an endpoint and returns the answer."""

    def send(self, endpoint: str, request: WireRequest) -> ApiResponse:
        """Send `request` (its path, query, headers and body exactly as given) to `endpoint`, a
        base URL such as `https://live.aliyuncs.com`.

        An HTTP error status is an answer like any other; TransportError means none came.
        """
        ...

    def close(self) -> None:
        """Release what the transport holds (connections); it may not be used afterwards."""
        ...


class HttpTransport:
    """Over `requests`. With a `session`, every call uses it (and the session's settings, such as
    `trust_env`); without one, each thread gets a session of its own, so that a thread pool can
    keep several calls in flight. `timeout` is the connect and read timeout, in seconds;
    `trust_env=False` gives those sessions no proxy or other settings from the environment (for
    an endpoint on this machine).

    The session adds its default headers (User-Agent, Accept, ...), which the signature does not
    cover.
    """

    __slots__ = ("_local", "_lock", "_owned", "_session", "timeout", "trust_env")

    def __init__(
        self,
        session: requests.Session | None = None,
        *,
        timeout: float = 10.0,
        trust_env: bool = True,
    ) -> None:
        self._session = session
        self.timeout = timeout
        self.trust_env = trust_env
        self._local = threading.local()
        self._owned: list[requests.Session] = []
        self._lock = threading.Lock()

    def _session_here(self) -> requests.Session:
        if self._session is not None:
            return self._session
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = self.trust_env
            self._local.session = session
            with self._lock:
                self._owned.append(session)
        return session

    def send(self, endpoint: str, request: WireRequest) -> ApiResponse:
        session = self._session_here()
        sent = SentRequest.of(endpoint, request)
        url = sent.url
        prepared = session.prepare_request(
            requests.Request(request.method, url, headers=dict(request.headers), data=request.body)
        )
        # requests may re-quote a URL; send the exact query that was signed.
        prepared.url = url
        settings = session.merge_environment_settings(url, {}, None, None, None)
        started_at = datetime.now(UTC)
        start = time.perf_counter()
        try:
            response = session.send(
                prepared, timeout=self.timeout, allow_redirects=False, **settings
            )
            content = response.content
        except requests.RequestException as exc:
            raise TransportError(
                f"No response from {endpoint}: {type(exc).__name__}: "
                f"{redact_text(str(exc), request)}",
                transport_reason(exc),
            ) from None
        elapsed = time.perf_counter() - start
        return ApiResponse.received(
            response.status_code,
            response.headers,
            content,
            SentRequest(
                prepared.method or request.method,
                prepared.url or url,
                MappingProxyType(dict(prepared.headers)),
                request.body,
            ),
            elapsed=elapsed,
            started_at=started_at,
            encoding=response.encoding,
        )

    def close(self) -> None:
        """Close the sessions this transport made (a session it was given stays open)."""
        with self._lock:
            owned, self._owned = self._owned, []
        for session in owned:
            session.close()

    def __repr__(self) -> str:
        return f"HttpTransport(timeout={self.timeout})"


class PooledTransport:
    """Straight to a urllib3 connection pool: thread-safe, no proxies, no retries, no redirects.

    `requests`' own work per call (preparing, merging settings, wrapping the answer) costs about
    as much as a served emulator on the same machine takes to answer. Without a `pool`, the
    transport makes one (16 connections per host; 5 s to connect, 30 s to read) and `close`
    clears it; a pool it was given is left to its owner.
    """

    __slots__ = ("_owned", "pool")

    def __init__(self, pool: urllib3.PoolManager | None = None) -> None:
        self._owned = pool is None
        self.pool = pool or urllib3.PoolManager(
            maxsize=16, timeout=urllib3.Timeout(connect=5, read=30)
        )

    def send(self, endpoint: str, request: WireRequest) -> ApiResponse:
        sent = SentRequest.of(endpoint, request)
        started_at = datetime.now(UTC)
        start = time.perf_counter()
        try:
            answer = self.pool.request(
                request.method,
                sent.url,
                body=request.body or None,
                headers=dict(request.headers),
                retries=False,
                redirect=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise TransportError(
                f"No response from {endpoint}: {type(exc).__name__}", transport_reason(exc)
            ) from None
        return ApiResponse.received(
            answer.status,
            answer.headers,
            answer.data,
            sent,
            elapsed=time.perf_counter() - start,
            started_at=started_at,
        )

    def close(self) -> None:
        """Clear the pool, if the transport made it."""
        if self._owned:
            self.pool.clear()

    def __repr__(self) -> str:
        return "PooledTransport()"
