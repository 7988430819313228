"""Wire names and gateway error codes that signing deals in, written down once.

The error code strings mirror `gatewayErrors` in `spec/protocols/rpc.yaml`. They live here, and
nowhere else in this package, until the spec model is wired in.
"""

from __future__ import annotations

from enum import Enum, StrEnum

__all__ = [
    "ALGORITHM_V3",
    "COMMON_PARAMETERS",
    "SIGNATURE_DOES_NOT_MATCH_FORMAT",
    "TIMESTAMP_FORMAT",
    "Header",
    "Param",
    "Reason",
    "Scheme",
]


class Scheme(StrEnum):
    """The two signature schemes of Alibaba Cloud RPC APIs."""

    V1 = "v1"
    """HMAC-SHA1, SignatureVersion 1.0: everything travels as request parameters."""
    V3 = "v3"
    """ACS3-HMAC-SHA256: the signature and the common values travel as headers."""


class Reason(Enum):
    """Why the gateway refuses a request before the operation runs, as far as signing can tell."""

    INCOMPLETE_SIGNATURE = "IncompleteSignature"
    SIGNATURE_DOES_NOT_MATCH = "SignatureDoesNotMatch"
    INVALID_TIMESTAMP_FORMAT = "InvalidTimeStamp.Format"
    MISSING_PARAMETER = "MissingParameter"

    @property
    def code(self) -> str:
        """The gateway error code, as it appears in the response body's `Code`."""
        return self.value


SIGNATURE_DOES_NOT_MATCH_FORMAT = (
    "Specified signature is not matched with our calculation. "
    "server string to sign is:{string_to_sign}"
)
"""The gateway's message for SignatureDoesNotMatch. The legacy SDK needs the colon in it."""

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
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
