"""Response checks derived from the spec; each returns violations a person can act on.

A check never raises for a bad response; it reports. Each check is a function registered under a
stable kebab-case id (`@_registered("success-schema")`); `CHECK_IDS` is derived from the
registry, which checks itself at import. `ResponseChecks(op).check(response)` runs all of them,
in registration order; `only=` runs some (`SHAPE_CHECKS`, `OUTCOME_CHECKS`).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from jsonschema import Draft202012Validator

from acscontract.contracts.strategies import OK
from acscontract.spec import Operation, error_response_schema, success_response_schema

__all__ = [
    "CHECK_IDS",
    "OUTCOME_CHECKS",
    "SHAPE_CHECKS",
    "Observed",
    "ResponseChecks",
    "ResponseLike",
    "Violation",
    "check_description",
    "checks_for",
    "media_type",
    "outcome_of",
]


class ResponseLike(Protocol):
    """What a check needs of a response; `acscontract.client.ApiResponse` is one."""

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def text(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Observed:
    """A response from anywhere else (schemathesis, httpx, a test), in the shape checks read."""

    status: int
    headers: Mapping[str, str]
    text: str


@dataclass(frozen=True, slots=True)
class Violation:
    """One way a response breaks the spec: the check's id and what is wrong."""

    check: str
    message: str

    def __post_init__(self) -> None:
        if self.check not in _REGISTRY:
            raise ValueError(f"{self.check!r} is not a registered response check")

    def __str__(self) -> str:
        return f"[{self.check}] {self.message}"


@dataclass(frozen=True, slots=True)
class _Seen:
    """What every check reads of one response, parsed once."""

    response: ResponseLike
    status: int
    body: Mapping[str, Any] | None
    valid_request: bool
    accepted: Collection[str] | None


_Check = Callable[["ResponseChecks", _Seen], Iterable[Violation]]
_REGISTRY: dict[str, _Check] = {}
_KEBAB = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")


def _registered(check_id: str) -> Callable[[_Check], _Check]:
    """Register a check under `check_id`; checks run in the order they are registered."""

    def register(check: _Check) -> _Check:
        if not _KEBAB.fullmatch(check_id):
            raise ValueError(f"check id {check_id!r} is not kebab-case")
        if check_id in _REGISTRY:
            raise ValueError(f"check id {check_id!r} is registered twice")
        if not (check.__doc__ or "").strip():
            raise ValueError(f"check {check_id!r} has no docstring to describe it")
        _REGISTRY[check_id] = check
        return check

    return register


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lower = name.lower()
    for key, item in headers.items():
        if key.lower() == lower:
            return item
    return None


def media_type(content_type: str) -> tuple[str, dict[str, str]]:
    """`type/subtype` lower-cased, and the parameters (lower-cased names and values)."""
    head, *rest = content_type.split(";")
    params = {}
    for item in rest:
        key, _, value = item.partition("=")
        if key.strip():
            params[key.strip().lower()] = value.strip().strip('"').lower()
    return head.strip().lower(), params


def _body(response: ResponseLike) -> Any:
    parsed = getattr(response, "json", None)
    if isinstance(parsed, dict):
        return parsed
    try:
        return json.loads(response.text)
    except (ValueError, RecursionError):
        return None


def outcome_of(response: ResponseLike) -> str:
    """`ok` for a 200, the body's error `Code`, or `HTTP <status>` when there is none."""
    if response.status == 200:
        return OK
    body = _body(response)
    code = body.get("Code") if isinstance(body, dict) else None
    return code if isinstance(code, str) and code else f"HTTP {response.status}"


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


# Envelope errors that a more specific check reports with a clearer message.
_REPORTED_ELSEWHERE = frozenset({(("Code",), "enum"), (("RequestId",), "pattern")})


class ResponseChecks:
    """The response checks of one operation, with its schemas compiled once."""

    def __init__(self, op: Operation) -> None:
        self.op = op
        protocol = op.protocol
        self._envelope = Draft202012Validator(error_response_schema(op))
        self._success = Draft202012Validator(success_response_schema(op))
        self._codes = frozenset(op.all_error_codes)
        self._request_id = (
            re.compile(protocol.request_id_pattern) if protocol.request_id_pattern else None
        )
        self._error_media, self._error_params = media_type(protocol.error_content_type)

    def check(
        self,
        response: ResponseLike,
        *,
        valid_request: bool = False,
        accepted: Collection[str] | None = None,
        only: Collection[str] | None = None,
    ) -> list[Violation]:
        """Every violation of `response`, check by check in `CHECK_IDS` order.

        `valid_request` says the request was valid, so a server error is a violation.
        `accepted` lists the outcomes (`ok` or codes) the spec allows for the request sent.
        `only` limits the run to these check ids (`SHAPE_CHECKS`, `OUTCOME_CHECKS`).
        """
        if only is not None:
            unknown = sorted(set(only) - set(_REGISTRY))
            if unknown:
                raise ValueError(f"no response check is called {', '.join(unknown)}")
        body = _body(response)
        seen = _Seen(
            response,
            response.status,
            body if isinstance(body, dict) else None,
            valid_request,
            accepted,
        )
        found: list[Violation] = []
        for check_id, check in _REGISTRY.items():
            if only is None or check_id in only:
                found.extend(check(self, seen))
        return found


@_registered("json-body")
def _json_body(checks: ResponseChecks, seen: _Seen) -> Iterable[Violation]:
    """The body is a JSON object."""
    if seen.body is None:
        text = _short(seen.response.text)
        yield Violation(
            "json-body", f"HTTP {seen.status}: the body is not a JSON object: {text!r}."
        )


@_registered("success-schema")
def _success_schema(checks: ResponseChecks, seen: _Seen) -> Iterable[Violation]:
    """A 200 body validates against the operation's response schema."""
    if seen.body is None or seen.status != 200:
        return
    for error in checks._success.iter_errors(seen.body):
        yield Violation(
            "success-schema", f"The 200 body breaks the success schema: {error.message}."
        )


@_registered("error-envelope")
def _error_envelope(checks: ResponseChecks, seen: _Seen) -> Iterable[Violation]:
    """An error body has the protocol's envelope (Code, Message, RequestId, HostId, ...)."""
    if seen.body is None or seen.status == 200:
        return
    for error in checks._envelope.iter_errors(seen.body):
        path = tuple(error.absolute_path)
        if (path, error.validator) in _REPORTED_ELSEWHERE:
            continue
        where = "/".join(str(p) for p in error.absolute_path) or "body"
        yield Violation(
            "error-envelope",
            f"HTTP {seen.status}: the error envelope is wrong at {where}: {error.message}.",
        )


def _error_code(seen: _Seen) -> str | None:
    code = None if seen.body is None or seen.status == 200 else seen.body.get("Code")
    return code if isinstance(code, str) and code else None


@_registered("documented-code")
def _documented_code(checks: ResponseChecks, seen: _Seen) -> Iterable[Violation]:
    """An error's code is documented for the operation, its product or its gateway."""
    code = _error_code(seen)
    if code is not None and code not in checks._codes:
        yield Violation(
            "documented-code",
            f"HTTP {seen.status}: the error code {code!r} is not documented for "
            f"{checks.op.name} or its gateway.",
        )


@_registered("status-matches-code")
def _status_matches_code(checks: ResponseChecks, seen: _Seen) -> Iterable[Violation]:
    """A documented error code comes with the HTTP status the spec maps it to."""
    code = _error_code(seen)
    if code is None or code not in checks._codes:
        return
    statuses = checks.op.documented_statuses(code)
    if seen.status not in statuses:
        yield Violation(
            "status-matches-code",
            f"{code} came with HTTP {seen.status}; the spec maps it to "
            f"{' or '.join(str(s) for s in statuses)}.",
        )


@_registered("request-id")
def _request_id(checks: ResponseChecks, seen: _Seen) -> Iterable[Violation]:
    """Every answer carries a RequestId string (an error's in the spec's pattern)."""
    if seen.body is None:
        return
    request_id = seen.body.get("RequestId")
    if not isinstance(request_id, str) or not request_id:
        where = "The 200 body has" if seen.status == 200 else f"HTTP {seen.status}: the error has"
        yield Violation("request-id", f"{where} no RequestId string (got {request_id!r}).")
    elif (
        seen.status != 200
        and checks._request_id is not None
        and not checks._request_id.search(request_id)
    ):
        yield Violation(
            "request-id",
            f"HTTP {seen.status}: RequestId {request_id!r} does not match the spec's pattern "
            f"{checks._request_id.pattern}.",
        )


@_registered("content-type")
def _content_type(checks: ResponseChecks, seen: _Seen) -> Iterable[Violation]:
    """The Content-Type is the protocol's (and, on errors, with its parameters)."""
    raw = _header(seen.response.headers, "content-type")
    if raw is None:
        yield Violation("content-type", f"HTTP {seen.status}: no Content-Type header.")
        return
    media, params = media_type(raw)
    if media != checks._error_media:
        yield Violation(
            "content-type",
            f"HTTP {seen.status}: Content-Type is {raw!r}; the spec's responses are "
            f"{checks._error_media}.",
        )
        return
    if seen.status != 200 and any(params.get(k) != v for k, v in checks._error_params.items()):
        yield Violation(
            "content-type",
            f"HTTP {seen.status}: Content-Type is {raw!r}; the spec's error content type is "
            f"{checks.op.protocol.error_content_type!r}.",
        )


@_registered("no-server-error")
def _no_server_error(checks: ResponseChecks, seen: _Seen) -> Iterable[Violation]:
    """A valid request never gets a server error (5xx)."""
    if seen.valid_request and seen.status >= 500:
        yield Violation(
            "no-server-error",
            f"A valid request got HTTP {seen.status} ({outcome_of(seen.response)}); the spec "
            "expects 200 or a documented client or state error.",
        )


@_registered("expected-outcome")
def _expected_outcome(checks: ResponseChecks, seen: _Seen) -> Iterable[Violation]:
    """The outcome (`ok` or the error code) is one the spec allows for the request sent."""
    if seen.accepted is None:
        return
    outcome = outcome_of(seen.response)
    if outcome not in seen.accepted:
        yield Violation(
            "expected-outcome",
            f"Got {outcome} (HTTP {seen.status}); the spec allows "
            f"{', '.join(sorted(seen.accepted))} for this request.",
        )


CHECK_IDS: tuple[str, ...] = tuple(_REGISTRY)
"""Every check id, in the order the checks run (derived from the registry)."""

OUTCOME_CHECKS: frozenset[str] = frozenset({"no-server-error", "expected-outcome"})
"""The checks that judge what a request got (the valid- and invalid-requests areas)."""

SHAPE_CHECKS: frozenset[str] = frozenset(CHECK_IDS) - OUTCOME_CHECKS
"""The checks that judge the shape of any answer (the response-schema area)."""


def check_description(check_id: str) -> str:
    """The first line of a check's docstring: what it requires of a response."""
    doc = _REGISTRY[check_id].__doc__ or ""
    return doc.strip().splitlines()[0]


def _verify_registry() -> None:
    """The registry checks itself at import (as hypothesis checks its `__all__` against its
    strategy registry): every id was checked when registered (kebab-case, once, described), and
    the families the areas use name registered checks only."""
    unknown = sorted(OUTCOME_CHECKS - set(_REGISTRY))
    if unknown:
        raise RuntimeError(f"OUTCOME_CHECKS names unregistered checks: {', '.join(unknown)}")
    if tuple(_REGISTRY) != CHECK_IDS or not CHECK_IDS:
        raise RuntimeError("CHECK_IDS is not the registry's id list")


_verify_registry()


_CACHE: dict[int, tuple[Operation, ResponseChecks]] = {}
_LOCK = threading.Lock()


def checks_for(op: Operation) -> ResponseChecks:
    """The compiled checks of `op`, built once per operation object."""
    with _LOCK:
        entry = _CACHE.get(id(op))
        if entry is None or entry[0] is not op:
            entry = (op, ResponseChecks(op))
            _CACHE[id(op)] = entry
        return entry[1]
