"""Sorting answers into accepted, throttled and fatal, by the spec's codes."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from acscontract.probe._model import Outcome, Reply, Stop

if TYPE_CHECKING:
    from collections.abc import Mapping

    from acscontract.spec import GatewayError, Operation

__all__ = ["ResponseClassifier"]

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
_DEFAULT_ADVICE = "The probe's request does not fit this endpoint; check --target."


@dataclass(frozen=True, slots=True)
class ResponseClassifier:
    """Classifies one answer the way a probe must: by the body's `Code`, never by HTTP status.

    Throttled: the code is one of the protocol's `throttling` gateway errors (or the operation's
    flow-control code). Fatal, stopping the probe at once: any other gateway error (signature,
    credential, permission, clock, action, method, parameter, server), any 403 or 5xx, a non-2xx
    answer without an error body, or no answer at all. Everything else (the operation's own
    refusals included) got past the gateway's meter and counts as accepted.
    """

    throttle_codes: frozenset[str]
    fatal_errors: Mapping[str, GatewayError]
    ram_action: str

    @classmethod
    def for_operation(cls, operation: Operation) -> ResponseClassifier:
        """The classifier the spec of `operation` defines."""
        throttling = {e.code for e in operation.protocol.gateway_errors_in("throttling")}
        if operation.flow_control.throttle_code is not None:
            throttling.add(operation.flow_control.throttle_code)
        fatal = {e.code: e for e in operation.protocol.gateway_errors if e.code not in throttling}
        return cls(frozenset(throttling), MappingProxyType(fatal), operation.ram.action)

    def classify(self, reply: Reply) -> Outcome:
        """The outcome of `reply`."""
        if self.fatal_reason(reply) is not None:
            return Outcome.FATAL
        if reply.code in self.throttle_codes:
            return Outcome.THROTTLED
        return Outcome.ACCEPTED

    def fatal_reason(self, reply: Reply) -> Stop | None:
        """Why `reply` must stop the probe, or None when it need not. Never quotes the body's
        `Message`, which can hold the string to sign."""
        if reply.transport_error is not None:
            return Stop("fatal", f"no answer from the endpoint ({reply.transport_error})")
        status, code = reply.status, reply.code
        if code is not None and code in self.throttle_codes:
            return None
        error = self.fatal_errors.get(code) if code is not None else None
        if error is not None:
            advice = _ADVICE.get(error.category, _DEFAULT_ADVICE).format(action=self.ram_action)
            when = error.when.rstrip(".")
            return Stop("fatal", f"HTTP {status} {code}: {when}. {advice}", status, code)
        if status is None:
            return Stop("fatal", "the endpoint gave no HTTP status")
        if status == 403 or status >= 500:
            label = code or "without an error code"
            advice = _ADVICE["permission" if status == 403 else "server"].format(
                action=self.ram_action
            )
            return Stop("fatal", f"HTTP {status} {label}. {advice}", status, code)
        if not 200 <= status < 300 and code is None:
            return Stop(
                "fatal",
                f"HTTP {status} without an Alibaba Cloud error body; --target does not look like "
                "an Alibaba Cloud RPC endpoint",
                status,
                None,
            )
        return None
