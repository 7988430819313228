"""A small signed client for Alibaba Cloud RPC endpoints, built on `requests`.

`Client.call` signs (V1 or V3, see `acscontract.signing`) and sends; `Tamper` makes a request
wrong on purpose for contract tests; `AcsAuth` and `sign_prepared` sign requests that another
tool (schemathesis) prepared.
"""

from __future__ import annotations

from acscontract.client._auth import AcsAuth, sign_prepared
from acscontract.client._client import (
    NO_TAMPER,
    ApiResponse,
    Client,
    Params,
    ParamValue,
    Placement,
    SentRequest,
    Tamper,
    TransportError,
)

__all__ = [
    "NO_TAMPER",
    "AcsAuth",
    "ApiResponse",
    "Client",
    "ParamValue",
    "Params",
    "Placement",
    "SentRequest",
    "Tamper",
    "TransportError",
    "sign_prepared",
]
