"""The emulator of an Alibaba Cloud RPC product (ApsaraVideo Live first): every operation.

`Emulator` is the transport-independent core: `handle(EmulatorRequest) -> EmulatorResponse` for
every Action of the product, over explicit state you can create, seed, snapshot, restore and
throw away, and keep in a live store (`StateDatabase`, SQLite) that every change is written to
before it is answered. The front doors are thin layers over it: `mock_live` (in process, on
requests, aiohttp and httpx), `asgi_app` (starlette, with the `/_emulator/` admin API),
`serve_in_thread` (a real uvicorn server for tests) and `acscontract emulator serve` on the
command line. `EmulatorTransport` is the `acscontract.client` transport that calls an emulator
in process; it loads the client (and `requests`) on first use. The `live_mock` pytest fixture
comes from acscontract's pytest plugin, not from here: the emulator does not import pytest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from acscontract.emulator._asgi import ADMIN_PREFIX, asgi_app
from acscontract.emulator._authz import Authorizer, Denial, PolicyAuthorizer
from acscontract.emulator._core import (
    UNMODELLED_MODES,
    Emulator,
    LiveStore,
    SeedLike,
    StateStoreError,
)
from acscontract.emulator._envelope import EMULATION_HEADER
from acscontract.emulator._faults import FAULT_KINDS, FaultRule
from acscontract.emulator._mock import LiveCall, LiveMock, LiveMockError, mock_live
from acscontract.emulator._persist import StateDatabase, StateFile, StateStore
from acscontract.emulator._seed import Seed, load_seed, seed_schema
from acscontract.emulator._server import bind_socket, run_server, serve_in_thread, url_for
from acscontract.emulator._state import Identity, StateView
from acscontract.emulator._testing import signed_request
from acscontract.emulator._throttle import (
    THROTTLE_ALGORITHMS,
    BucketFactory,
    FixedWindowBucket,
    SlidingLogBucket,
    ThrottleBucket,
    TokenBucket,
)
from acscontract.emulator._types import (
    Clock,
    EmulatorRequest,
    EmulatorResponse,
    ManualClock,
    OffsetClock,
    Recording,
    SystemClock,
)

if TYPE_CHECKING:
    from acscontract.emulator._transport import EmulatorTransport, RequestHandler

__all__ = [
    "ADMIN_PREFIX",
    "EMULATION_HEADER",
    "FAULT_KINDS",
    "THROTTLE_ALGORITHMS",
    "UNMODELLED_MODES",
    "Authorizer",
    "BucketFactory",
    "Clock",
    "Denial",
    "Emulator",
    "EmulatorRequest",
    "EmulatorResponse",
    "EmulatorTransport",
    "FaultRule",
    "FixedWindowBucket",
    "Identity",
    "LiveCall",
    "LiveMock",
    "LiveMockError",
    "LiveStore",
    "ManualClock",
    "OffsetClock",
    "PolicyAuthorizer",
    "Recording",
    "RequestHandler",
    "Seed",
    "SeedLike",
    "SlidingLogBucket",
    "StateDatabase",
    "StateFile",
    "StateStore",
    "StateStoreError",
    "StateView",
    "SystemClock",
    "ThrottleBucket",
    "TokenBucket",
    "asgi_app",
    "bind_socket",
    "load_seed",
    "mock_live",
    "run_server",
    "seed_schema",
    "serve_in_thread",
    "signed_request",
    "url_for",
]

_LAZY = frozenset({"EmulatorTransport", "RequestHandler"})


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'acscontract.emulator' has no attribute {name!r}")
    from acscontract.emulator import _transport

    value = getattr(_transport, name)
    globals()[name] = value
    return value
