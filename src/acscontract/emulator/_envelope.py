"""The response envelope and the gateway errors the emulator answers with, read from the spec.

Each condition the emulator's gateway detects is tied to the `condition` id of a gateway error in
`spec/protocols/rpc.yaml`. `GatewayCodes` resolves them once, at start-up, and fails loudly if
the spec no longer has them; no error code is written in this package.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from acscontract.emulator._types import EmulatorResponse
from acscontract.spec import GatewayError, Product, Protocol

__all__ = [
    "EMULATION_HEADER",
    "GATEWAY_CONDITIONS",
    "Envelope",
    "GatewayCodes",
    "GatewayCondition",
    "uuid4_text",
]

EMULATION_HEADER = "x-acscontract-emulation"
"""The response header that says how the emulator answered a success: `modelled` (the
operation's declared effect ran on the world) or `schema-only` (built from its response schema)."""

_ids = random.Random()  # noqa: S311 - request ids are unique, not secret
# The version (4) and variant (RFC 4122) bits of a random UUID.
_V4_CLEAR = ~((0xF << 76) | (0x3 << 62))
_V4_SET = (0x4 << 76) | (0x2 << 62)

# The spec's gateway-error conditions (rpc.yaml) that the emulator's gateway detects; each must be
# in the spec, which `GatewayCodes.from_protocol` checks when an emulator is built (mypy checks the
# literals the gateway passes).
GatewayCondition = Literal[
    "unsupportedMethod",
    "unknownAction",
    "unknownVersion",
    "missingCommonParameter",
    "incompleteSignature",
    "signatureMismatch",
    "unknownAccessKey",
    "inactiveAccessKey",
    "badSecurityToken",
    "badTimestamp",
    "expiredTimestamp",
    "nonceReused",
    "nonceMemoryFull",
    "accountThrottled",
    "unmodelledOperation",
    "permissionDenied",
    "internalError",
    "serviceUnavailable",
]
GATEWAY_CONDITIONS: tuple[GatewayCondition, ...] = get_args(GatewayCondition)


@dataclass(frozen=True, slots=True)
class GatewayCodes:
    """The spec's gateway error for each condition the emulator's gateway detects."""

    by_condition: Mapping[GatewayCondition, GatewayError]

    @classmethod
    def from_protocol(cls, protocol: Protocol) -> GatewayCodes:
        """Resolve every condition against the protocol; LookupError if one is missing."""
        resolved: dict[GatewayCondition, GatewayError] = {}
        for condition in GATEWAY_CONDITIONS:
            try:
                resolved[condition] = protocol.gateway_error_for(condition)
            except KeyError:
                raise LookupError(
                    f"{protocol.path}: the emulator needs a gateway error with "
                    f"condition {condition!r}, and the spec has none."
                ) from None
        return cls(resolved)

    def __getitem__(self, condition: GatewayCondition) -> GatewayError:
        return self.by_condition[condition]


def uuid4_text() -> str:
    """A random (version 4) UUID in its usual lower-case form, as `str(uuid.uuid4())` writes it.

    Drawn from a PRNG seeded once from the OS (ids must be unique, not secret), and formatted
    without building a `uuid.UUID`, which costs more than the rest of a record's creation.
    """
    digits = f"{_ids.getrandbits(128) & _V4_CLEAR | _V4_SET:032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


class Envelope:
    """Builds the emulator's responses in the spec's envelope and content type."""

    __slots__ = ("_headers_base", "content_type", "host_id", "product", "success_status")

    def __init__(self, product: Product, success_status: int) -> None:
        self.success_status = success_status
        self.content_type = product.protocol.error_content_type
        self.host_id = product.default_endpoint
        self.product = product.name
        self._headers_base = (("content-type", self.content_type),)

    @staticmethod
    def request_id() -> str:
        """A new RequestId: an upper-case random (version 4) UUID, as the service writes them.

        Drawn from a PRNG seeded once from the OS: ids must be unique, not secret, and a system
        call per answer is a measurable part of the server's time.
        """
        return uuid4_text().upper()

    def success(
        self,
        fields: Mapping[str, Any] | None = None,
        *,
        delay_s: float = 0.0,
        emulation: str = "modelled",
        body: bytes | None = None,
        request_id: str | None = None,
    ) -> EmulatorResponse:
        """The spec's success status with `{"RequestId": ..., **fields}`, or a ready `body`
        with its `request_id`; marked with how it was answered (EMULATION_HEADER)."""
        rid = request_id or self.request_id()
        if body is None:
            if fields:
                document = {"RequestId": rid, **fields}
                body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
            else:
                body = b'{"RequestId":"' + rid.encode() + b'"}'
        return EmulatorResponse(
            self.success_status,
            (
                *self._headers_base,
                ("x-acs-request-id", rid),
                (EMULATION_HEADER, emulation),
            ),
            body,
            delay_s=delay_s,
        )

    def error(
        self,
        code: str,
        status: int,
        message: str,
        *,
        extra: Mapping[str, Any] | None = None,
        delay_s: float = 0.0,
    ) -> EmulatorResponse:
        """An error response: RequestId, HostId, Code, Message, Recommend (and `extra`)."""
        rid = self.request_id()
        document: dict[str, Any] = {
            "RequestId": rid,
            "HostId": self.host_id,
            "Code": code,
            "Message": message,
            "Recommend": (
                f"https://api.aliyun.com/troubleshoot?q={code}&product={self.product}"
                f"&requestId={rid}"
            ),
        }
        if extra:
            document.update(extra)
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return EmulatorResponse(
            status, (*self._headers_base, ("x-acs-request-id", rid)), body, delay_s=delay_s
        )
