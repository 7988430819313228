"""A small signed client for Alibaba Cloud RPC endpoints, and the transports it sends through.

`Client.call` signs (V1 or V3, see `acscontract.signing`) and sends through a `Transport`: over
`requests` (`HttpTransport`, the default), a urllib3 pool (`PooledTransport`), or in process to
an emulator (`acscontract.emulator.EmulatorTransport`). `Tamper` makes a request wrong on purpose
for contract tests; `AcsAuth` and `sign_prepared` sign requests that another
tool (schemathesis) prepared. `GatewayRefusals` reads which answers end a run, and the pacing
stores (`pacing_store`, `pacer_for`) keep traffic to an endpoint under a share of its limit,
across processes and, with Redis, across machines.
"""

from __future__ import annotations

from acscontract.client._auth import AcsAuth, sign_prepared
from acscontract.client._client import (
    NO_TAMPER,
    Client,
    Params,
    ParamValue,
    Placement,
    Tamper,
    endpoint_problem,
)
from acscontract.client._pacing import (
    PACING_DIR_ENV,
    PACING_SHARE,
    PACING_STORE_ENV,
    FileStore,
    NoPacing,
    Pacer,
    PacingStore,
    PacingStoreError,
    RedisStore,
    SharedPacer,
    check_pacing_url,
    pacer_for,
    pacing_budget,
    pacing_dir,
    pacing_interval,
    pacing_store,
    schedule_key,
)
from acscontract.client._refusal import GatewayRefusals, Refusal
from acscontract.client._response import ApiResponse, SentRequest, TransportError, transport_reason
from acscontract.client._transport import HttpTransport, PooledTransport, Transport

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
    "HttpTransport",
    "NoPacing",
    "Pacer",
    "PacingStore",
    "PacingStoreError",
    "ParamValue",
    "Params",
    "Placement",
    "PooledTransport",
    "RedisStore",
    "Refusal",
    "SentRequest",
    "SharedPacer",
    "Tamper",
    "Transport",
    "TransportError",
    "check_pacing_url",
    "endpoint_problem",
    "pacer_for",
    "pacing_budget",
    "pacing_dir",
    "pacing_interval",
    "pacing_store",
    "schedule_key",
    "sign_prepared",
    "transport_reason",
]
