"""Pacing for the contract suite: the shared schedules of `acscontract.client` (file lock by
default, Redis with `--pacing-store`), re-exported where the contracts look for them.

Every operation is paced under 80% of its own documented limit. An operation whose limit is not
documented is paced as if it allowed `UNDOCUMENTED_LIMIT` calls per second, the lowest limit
any Live operation documents for a one-second window. The requests of all operations to one
endpoint and account share one schedule: each takes the next slot, its own operation's interval
after the previous one, so no operation ever gets more than its share, whatever runs beside it.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from acscontract.spec import FlowControl, Operation

__all__ = [
    "PACING_DIR_ENV",
    "PACING_SHARE",
    "PACING_STORE_ENV",
    "UNDOCUMENTED_LIMIT",
    "FileStore",
    "NoPacing",
    "Pacer",
    "PacingStore",
    "RedisStore",
    "SharedPacer",
    "paced_flow",
    "pacer_for",
    "pacing_budget",
    "pacing_dir",
    "pacing_interval",
    "pacing_store",
]

UNDOCUMENTED_LIMIT = 1
"""Calls per second an operation whose spec documents no limit is paced as allowing (at 80%, one
call per second)."""


def paced_flow(op: Operation) -> FlowControl:
    """The flow control the pacing follows for `op`: its spec's, or, where the spec documents
    no limit, `UNDOCUMENTED_LIMIT` calls per second."""
    flow = op.flow_control
    if flow.limit is not None:
        return flow
    return dataclasses.replace(flow, limit=UNDOCUMENTED_LIMIT, per="second")
