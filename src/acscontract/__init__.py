"""acscontract: contract testing, emulation and RAM policy validation for Alibaba Cloud OpenAPI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from acscontract.emulator import mock_live

__all__ = ["mock_live"]


def __getattr__(name: str) -> Any:
    # `import acscontract` stays light: the emulator (and requests, responses) load on first use.
    if name == "mock_live":
        from acscontract.emulator import mock_live

        return mock_live
    raise AttributeError(f"module 'acscontract' has no attribute {name!r}")
