"""`mock_live`: the in-process front door of the emulator, on every HTTP library the SDKs use.

One interception core (`_core`) decides, for each request, whether an active `mock_live` block
answers it, refuses it, or lets it go on; one adapter per client library hooks that decision in at
a layer the user's own mocks of that library do not patch, so the two work together in either
order:

- requests, and the legacy SDK's vendored copy (`_requests`): hooked at `Session.get_adapter`;
  `responses` patches `HTTPAdapter.send`.
- aiohttp (`_aiohttp`): hooked at `ClientSession.request`, `.get`, `.post`, ... and
  `aiohttp.request`; aioresponses patches `ClientSession._request`.
- httpx, sync and async (`_httpx`): hooked at `Client._send_single_request` and
  `AsyncClient._send_single_request`; pytest-httpx patches `HTTPTransport.handle_request`, respx
  httpcore's connection pools (or `_transport_for_url`).

Each adapter module is imported only when its library is installed.
"""

from __future__ import annotations

from acscontract.emulator._mock._core import LiveCall
from acscontract.emulator._mock._live import LiveMock, LiveMockError, mock_live
from acscontract.emulator._mock._routing import live_endpoints, live_host_patterns

__all__ = [
    "LiveCall",
    "LiveMock",
    "LiveMockError",
    "live_endpoints",
    "live_host_patterns",
    "mock_live",
]
