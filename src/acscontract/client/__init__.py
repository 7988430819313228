"""A small signed client for Alibaba Cloud RPC endpoints, built on `requests`.

`Client.call` signs (V1 or V3, see `acscontract.signing`) and sends; `Tamper` makes a request
wrong on purpose for contract tests; `AcsAuth` and `sign_prepared` sign requests that another
tool (schemathesis) prepared. `GatewayRefusals` reads which answers end a run, and the pacing
stores (`pacing_store`, `pacer_for`) keep traffic to an endpoint under a share of its limit,
across processes and, with Redis, across machines.
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
    transport_reason,
)
from acscontract.client._pacing import (
    PACING_DIR_ENV,
    PACING_SHARE,
    PACING_STORE_ENV,
    FileStore,
    NoPacing,
    Pacer,
    PacingStore,
    RedisStore,
    SharedPacer,
    pacer_for,
    pacing_budget,
    pacing_dir,
    pacing_interval,
    pacing_store,
    schedule_key,
)
from acscontract.client._refusal import GatewayRefusals, Refusal

__all__ = [
    "NO_TAMPER",
    "PACING_DIR_ENV",
    "PACING_SHARE",
    "PACING_STORE_ENV",
    "AcsAuth",
    "ApiResponse",
    "Client",
    "FileStore",
    "GatewayRefusals",
    "NoPacing",
    "Pacer",
    "PacingStore",
    "ParamValue",
    "Params",
    "Placement",
    "RedisStore",
    "Refusal",
    "SentRequest",
    "SharedPacer",
    "Tamper",
    "TransportError",
    "pacer_for",
    "pacing_budget",
    "pacing_dir",
    "pacing_interval",
    "pacing_store",
    "schedule_key",
    "sign_prepared",
    "transport_reason",
]
