"""Which answers mean "stop, nothing useful can follow", and why, read from the spec's codes.

The rate-limit probe stops on such an answer, and the contract suite's preflight ends the run on
one. Both read answers by the body's `Code`, never by the HTTP status alone, and never quote the
body's `Message`, which can hold the string to sign.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from acscontract.spec import GatewayError, Operation

__all__ = ["GatewayRefusals", "Refusal"]

_ADVICE: Mapping[str, str] = MappingProxyType(
    {
        "signature": (
            "Check the AccessKey secret, and that the endpoint verifies signatures the way "
            "Alibaba Cloud does."
        ),
        "credential": (
            "Check ALIBABA_CLOUD_ACCESS_KEY_ID (and ALIBABA_CLOUD_SECURITY_TOKEN for an STS key)."
        ),
        "permission": "Grant the AccessKey {action} on the domain, or name a domain it may call.",
        "freshness": "Check this machine's clock; it must be within minutes of the server's.",
        "server": "The endpoint failed; try again later.",
    }
)
_DEFAULT_ADVICE = "The request does not fit this endpoint; check --target."


@dataclass(frozen=True, slots=True)
class Refusal:
    """An answer that ends a run: its category (a gateway category, `transport`, `status` or
    `body`), the status and code, and a sentence that says what to check."""

    category: str
    reason: str
    status: int | None = None
    code: str | None = None


@dataclass(frozen=True, slots=True)
class GatewayRefusals:
    """The spec's reading of gateway answers: throttled, or a refusal that ends a run.

    Throttled: the code is one of the protocol's `throttling` gateway errors (or the operation's
    flow-control code). A refusal: any other gateway error (signature, credential, permission,
    clock, action, method, parameter, server), any 403 or 5xx, a non-2xx answer without an error
    body, or no answer at all. Everything else (the operation's own refusals included) got past
    the gateway.
    """

    throttle_codes: frozenset[str]
    errors: Mapping[str, GatewayError]
    ram_action: str

    @classmethod
    def for_operation(cls, operation: Operation) -> GatewayRefusals:
        """The reading the spec of `operation` defines."""
        throttling = {e.code for e in operation.protocol.gateway_errors_in("throttling")}
        if operation.flow_control.throttle_code is not None:
            throttling.add(operation.flow_control.throttle_code)
        errors = {e.code: e for e in operation.protocol.gateway_errors if e.code not in throttling}
        return cls(frozenset(throttling), MappingProxyType(errors), operation.ram.action)

    def throttled(self, code: str | None) -> bool:
        """Whether `code` is a throttling code."""
        return code is not None and code in self.throttle_codes

    def refusal(
        self, status: int | None, code: str | None, transport_error: str | None = None
    ) -> Refusal | None:
        """Why this answer must end a run, or None when it need not."""
        if transport_error is not None:
            return Refusal("transport", f"no answer from the endpoint ({transport_error})")
        if self.throttled(code):
            return None
        error = self.errors.get(code) if code is not None else None
        if error is not None:
            advice = _ADVICE.get(error.category, _DEFAULT_ADVICE).format(action=self.ram_action)
            when = error.when.rstrip(".")
            return Refusal(error.category, f"HTTP {status} {code}: {when}. {advice}", status, code)
        if status is None:
            return Refusal("status", "the endpoint gave no HTTP status")
        if status == 403 or status >= 500:
            label = code or "without an error code"
            category = "permission" if status == 403 else "server"
            advice = _ADVICE[category].format(action=self.ram_action)
            return Refusal(category, f"HTTP {status} {label}. {advice}", status, code)
        if not 200 <= status < 300 and code is None:
            return Refusal(
                "body",
                f"HTTP {status} without an Alibaba Cloud error body; the target does not look "
                "like an Alibaba Cloud RPC endpoint",
                status,
                None,
            )
        return None
