"""Alibaba Cloud RPC request signing, V1 (HMAC-SHA1) and V3 (ACS3-HMAC-SHA256), both directions.

Pure functions over `WireRequest`, a transport-neutral request value. The client side signs
(`sign`, `sign_v1`, `sign_v3`); the server side parses the envelope without a secret (`parse`)
and then checks it (`verify`). Byte-compatible with the official Python SDKs; see
docs/signing.md.
"""

from __future__ import annotations

from acscontract.signing._canonical import (
    v1_signature,
    v1_string_to_sign,
    v3_canonical_request,
    v3_signature,
    v3_string_to_sign,
)
from acscontract.signing._credentials import (
    ENV_ACCESS_KEY_ID,
    ENV_ACCESS_KEY_SECRET,
    ENV_SECURITY_TOKEN,
    Credentials,
)
from acscontract.signing._names import (
    ALGORITHM_V3,
    COMMON_PARAMETERS,
    Header,
    Param,
    Reason,
    Scheme,
)
from acscontract.signing._sign import format_timestamp, new_nonce, sign, sign_v1, sign_v3
from acscontract.signing._verify import (
    ParsedRequest,
    Rejection,
    Verified,
    parse,
    parse_timestamp,
    string_to_sign,
    verify,
)
from acscontract.signing._wire import (
    FORM_CONTENT_TYPE,
    WireRequest,
    decode_pairs,
    encode_pairs,
    percent_encode,
    redact_headers,
    redact_query,
)

__all__ = [
    "ALGORITHM_V3",
    "COMMON_PARAMETERS",
    "ENV_ACCESS_KEY_ID",
    "ENV_ACCESS_KEY_SECRET",
    "ENV_SECURITY_TOKEN",
    "FORM_CONTENT_TYPE",
    "Credentials",
    "Header",
    "Param",
    "ParsedRequest",
    "Reason",
    "Rejection",
    "Scheme",
    "Verified",
    "WireRequest",
    "decode_pairs",
    "encode_pairs",
    "format_timestamp",
    "new_nonce",
    "parse",
    "parse_timestamp",
    "percent_encode",
    "redact_headers",
    "redact_query",
    "sign",
    "sign_v1",
    "sign_v3",
    "string_to_sign",
    "v1_signature",
    "v1_string_to_sign",
    "v3_canonical_request",
    "v3_signature",
    "v3_string_to_sign",
    "verify",
]
