"""Pacing for the contract suite: the shared schedules of `acscontract.client` (file lock by
default, Redis with `--pacing-store`), re-exported where the contracts look for them."""

from __future__ import annotations

from acscontract.client import (
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
)

__all__ = [
    "PACING_DIR_ENV",
    "PACING_SHARE",
    "PACING_STORE_ENV",
    "FileStore",
    "NoPacing",
    "Pacer",
    "PacingStore",
    "RedisStore",
    "SharedPacer",
    "pacer_for",
    "pacing_budget",
    "pacing_dir",
    "pacing_interval",
    "pacing_store",
]
