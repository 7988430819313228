"""acscontract: contract testing, emulation and RAM policy validation for Alibaba Cloud OpenAPI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from acscontract.emulator import mock_live

__all__ = ["mock_live"]


def __getattr__(name: str) -> Any:
    # `import acscontract` stays light: the emulator (and requests, responses) load on first use.
    if name == "mock_live":
        from acscontract._resources import install_hint

        try:
            from acscontract.emulator import mock_live
        except ModuleNotFoundError as exc:
            if (exc.name or "").startswith("acscontract"):
                raise
            raise ModuleNotFoundError(
                f"mock_live needs {exc.name}, which comes with the 'emulator' extra: "
                f"{install_hint('emulator')}.",
                name=exc.name,
            ) from exc
        return mock_live
    raise AttributeError(f"module 'acscontract' has no attribute {name!r}")
