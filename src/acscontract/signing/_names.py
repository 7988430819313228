"""Wire names and gateway error codes that signing deals in, written down once.

The error code strings mirror `gatewayErrors` in `spec/protocols/rpc.yaml`. They live here, and
nowhere else in this package, until the spec model is wired in.
"""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from acscontract.spec import Protocol

__all__ = [
    "ALGORITHM_V3",
    "COMMON_PARAMETERS",
    "Header",
    "Param",
    "Reason",
    "Scheme",
    "signature_mismatch_message",
    "timestamp_format",
]


class Scheme(StrEnum):
    """The two signature schemes of Alibaba Cloud RPC APIs."""

    V1 = "v1"
    """HMAC-SHA1, SignatureVersion 1.0: everything travels as request parameters."""
    V3 = "v3"
    """ACS3-HMAC-SHA256: the signature and the common values travel as headers."""


class Reason(Enum):
    """Why the gateway refuses a request before the operation runs, as far as signing can tell.

    Each value is the `condition` id of a gateway error in the protocol spec (rpc.yaml); the
    error code comes from there.
    """

    INCOMPLETE_SIGNATURE = "incompleteSignature"
    SIGNATURE_DOES_NOT_MATCH = "signatureMismatch"
    INVALID_TIMESTAMP_FORMAT = "badTimestamp"
    MISSING_PARAMETER = "missingCommonParameter"
    PARAMETER_IN_QUERY_AND_BODY = "parameterInQueryAndBody"

    @property
    def code(self) -> str:
        """The gateway error code, as it appears in the response body's `Code`."""
        return _protocol().gateway_error_for(self.value).code


def _protocol() -> Protocol:
    from acscontract.spec import protocol

    return protocol()


def signature_mismatch_message(string_to_sign: str) -> str:
    """The gateway's message for a signature mismatch (the legacy SDK needs its colon)."""
    template = _protocol().gateway_error_for(Reason.SIGNATURE_DOES_NOT_MATCH.value).message_format
    if template is None:
        raise LookupError("the protocol spec gives no messageFormat for a signature mismatch")
    return template.format(stringToSign=string_to_sign)


def timestamp_format() -> str:
    """The strftime format of a V1 `Timestamp`, from the protocol spec."""
    return _protocol().timestamp_format


ALGORITHM_V3 = "ACS3-HMAC-SHA256"


class Param(StrEnum):
    """Common RPC request parameters (V1 carries all of them; V3 only business parameters)."""

    ACTION = "Action"
    VERSION = "Version"
    FORMAT = "Format"
    ACCESS_KEY_ID = "AccessKeyId"
    SIGNATURE = "Signature"
    SIGNATURE_METHOD = "SignatureMethod"
    SIGNATURE_VERSION = "SignatureVersion"
    SIGNATURE_NONCE = "SignatureNonce"
    SIGNATURE_TYPE = "SignatureType"
    TIMESTAMP = "Timestamp"
    SECURITY_TOKEN = "SecurityToken"  # noqa: S105 - a parameter name


COMMON_PARAMETERS = frozenset(p.value for p in Param)


class Header(StrEnum):
    """Request headers of the V3 scheme, lower-cased as signing compares them."""

    AUTHORIZATION = "authorization"
    HOST = "host"
    CONTENT_TYPE = "content-type"
    ACTION = "x-acs-action"
    VERSION = "x-acs-version"
    DATE = "x-acs-date"
    NONCE = "x-acs-signature-nonce"
    CONTENT_SHA256 = "x-acs-content-sha256"
    SECURITY_TOKEN = "x-acs-security-token"  # noqa: S105 - a header name
    ACCESS_KEY_ID = "x-acs-accesskey-id"
