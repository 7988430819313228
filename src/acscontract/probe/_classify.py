"""Sorting answers into accepted, throttled and fatal, by the spec's codes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from acscontract.client import GatewayRefusals
from acscontract.probe._model import Outcome, Reply, Stop

if TYPE_CHECKING:
    from acscontract.spec import Operation

__all__ = ["ResponseClassifier"]


@dataclass(frozen=True, slots=True)
class ResponseClassifier:
    """Classifies one answer the way a probe must: by the body's `Code`, never by HTTP status.

    Throttled: the code is one of the protocol's `throttling` gateway errors (or the operation's
    flow-control code). Fatal, stopping the probe at once: any other gateway error (signature,
    credential, permission, clock, action, method, parameter, server), any 403 or 5xx, a non-2xx
    answer without an error body, an answer whose body is not the API's JSON, or no answer at all
    (see `acscontract.client.GatewayRefusals`).
    Everything else (the operation's own refusals included) got past the gateway's meter and
    counts as accepted.
    """

    refusals: GatewayRefusals
    expected: frozenset[str] = frozenset()
    """Codes the probe's call is built to get (a missing parameter's, for an operation that
    writes): they passed the gateway's meter, and count as accepted."""

    @classmethod
    def for_operation(
        cls, operation: Operation, expected: frozenset[str] = frozenset()
    ) -> ResponseClassifier:
        """The classifier the spec of `operation` defines, for a call built to get `expected`."""
        return cls(GatewayRefusals.for_operation(operation), expected)

    @property
    def throttle_codes(self) -> frozenset[str]:
        """The codes counted as throttled."""
        return self.refusals.throttle_codes

    def classify(self, reply: Reply) -> Outcome:
        """The outcome of `reply`."""
        if self.fatal_reason(reply) is not None:
            return Outcome.FATAL
        if self.refusals.throttled(reply.code):
            return Outcome.THROTTLED
        return Outcome.ACCEPTED

    def fatal_reason(self, reply: Reply) -> Stop | None:
        """Why `reply` must stop the probe, or None when it need not. Never quotes the body's
        `Message`, which can hold the string to sign."""
        if reply.code is not None and reply.code in self.expected:
            return None
        if reply.transport_error is None and reply.status is not None and not reply.api_body:
            return Stop(
                "fatal",
                f"HTTP {reply.status} with a body that is not the API's JSON (no RequestId); the "
                "target does not look like an Alibaba Cloud RPC endpoint",
                reply.status,
                None,
            )
        refusal = self.refusals.refusal(reply.status, reply.code, reply.transport_error)
        if refusal is None:
            return None
        return Stop("fatal", refusal.reason, refusal.status, refusal.code)
