"""Response checks derived from the spec; each returns violations a person can act on.

A check never raises for a bad response; it reports. `ResponseChecks(op).check(response)` runs
all of them. The ids are stable and kebab-case; reports and the summary show them.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from jsonschema import Draft202012Validator

from acscontract.contracts.strategies import OK
from acscontract.spec import Operation, error_response_schema, success_response_schema

__all__ = [
    "CHECK_IDS",
    "Observed",
    "ResponseChecks",
    "ResponseLike",
    "Violation",
    "checks_for",
    "media_type",
    "outcome_of",
]

CHECK_IDS = (
    "json-body",
    "success-schema",
    "error-envelope",
    "documented-code",
    "status-matches-code",
    "request-id",
    "content-type",
    "no-server-error",
    "expected-outcome",
)
"""Every check id, in the order the checks run."""


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

    def __str__(self) -> str:
        return f"[{self.check}] {self.message}"


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
    except ValueError:
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
    ) -> list[Violation]:
        """Every violation of `response`.

        `valid_request` says the request was valid, so a server error is a violation.
        `accepted` lists the outcomes (`ok` or codes) the spec allows for the request sent.
        """
        found: list[Violation] = []
        status = response.status
        body = _body(response)
        if not isinstance(body, dict):
            found.append(
                Violation(
                    "json-body",
                    f"HTTP {status}: the body is not a JSON object: {_short(response.text)!r}.",
                )
            )
        elif status == 200:
            found.extend(self._success_checks(body))
        else:
            found.extend(self._error_checks(status, body))
        found.extend(self._content_type(response))
        if valid_request and status >= 500:
            found.append(
                Violation(
                    "no-server-error",
                    f"A valid request got HTTP {status} ({outcome_of(response)}); the spec "
                    "expects 200 or a documented client or state error.",
                )
            )
        if accepted is not None:
            outcome = outcome_of(response)
            if outcome not in accepted:
                found.append(
                    Violation(
                        "expected-outcome",
                        f"Got {outcome} (HTTP {status}); the spec allows "
                        f"{', '.join(sorted(accepted))} for this request.",
                    )
                )
        return found

    def _success_checks(self, body: Mapping[str, Any]) -> list[Violation]:
        found = [
            Violation("success-schema", f"The 200 body breaks the success schema: {error.message}.")
            for error in self._success.iter_errors(body)
        ]
        request_id = body.get("RequestId")
        if not isinstance(request_id, str) or not request_id:
            found.append(
                Violation(
                    "request-id",
                    f"The 200 body has no RequestId string (got {request_id!r}).",
                )
            )
        return found

    def _error_checks(self, status: int, body: Mapping[str, Any]) -> list[Violation]:
        found = []
        for error in self._envelope.iter_errors(body):
            path = tuple(error.absolute_path)
            if (path, error.validator) in _REPORTED_ELSEWHERE:
                continue
            where = "/".join(str(p) for p in error.absolute_path) or "body"
            found.append(
                Violation(
                    "error-envelope",
                    f"HTTP {status}: the error envelope is wrong at {where}: {error.message}.",
                )
            )
        request_id = body.get("RequestId")
        if not isinstance(request_id, str) or not request_id:
            found.append(
                Violation(
                    "request-id", f"HTTP {status}: the error has no RequestId (got {request_id!r})."
                )
            )
        elif self._request_id is not None and not self._request_id.search(request_id):
            found.append(
                Violation(
                    "request-id",
                    f"HTTP {status}: RequestId {request_id!r} does not match the spec's pattern "
                    f"{self._request_id.pattern}.",
                )
            )
        code = body.get("Code")
        if isinstance(code, str) and code:
            if code not in self._codes:
                found.append(
                    Violation(
                        "documented-code",
                        f"HTTP {status}: the error code {code!r} is not documented for "
                        f"{self.op.name} or its gateway.",
                    )
                )
            else:
                statuses = self.op.documented_statuses(code)
                if status not in statuses:
                    found.append(
                        Violation(
                            "status-matches-code",
                            f"{code} came with HTTP {status}; the spec maps it to "
                            f"{' or '.join(str(s) for s in statuses)}.",
                        )
                    )
        return found

    def _content_type(self, response: ResponseLike) -> list[Violation]:
        raw = _header(response.headers, "content-type")
        if raw is None:
            return [Violation("content-type", f"HTTP {response.status}: no Content-Type header.")]
        media, params = media_type(raw)
        if media != self._error_media:
            return [
                Violation(
                    "content-type",
                    f"HTTP {response.status}: Content-Type is {raw!r}; the spec's responses are "
                    f"{self._error_media}.",
                )
            ]
        if response.status != 200:
            for key, value in self._error_params.items():
                if params.get(key) != value:
                    return [
                        Violation(
                            "content-type",
                            f"HTTP {response.status}: Content-Type is {raw!r}; the spec's error "
                            f"content type is {self.op.protocol.error_content_type!r}.",
                        )
                    ]
        return []


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
