"""Which limit the contract suite paces each operation under. The schedules themselves are
`acscontract.client`'s (file lock by default, Redis with `--pacing-store`).

Every operation is paced under 80% of its own documented limit. An operation whose limit is not
documented is paced under the strictest limit its product documents (`lowest_documented`: for
Live, 10 calls per minute). The requests of all operations to one
endpoint and account share one schedule: each takes the next slot, its own operation's interval
after the previous one, so no operation ever gets more than its share, whatever runs beside it.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from acscontract.spec import FlowControl, Operation, Product

__all__ = ["lowest_documented", "paced_flow"]


def lowest_documented(product: Product) -> tuple[int, str]:
    """The strictest limit any operation of `product` documents, as (calls, per): for Live,
    (10, "minute"). An operation whose spec documents none is paced under it. A product that
    documents no limit at all gives 1 call per second."""
    return _lowest(product.name, product.version)


@functools.cache
def _lowest(name: str, version: str) -> tuple[int, str]:
    from acscontract.spec import operation_names, product, product_operation

    the_product = product(f"{name}/{version}")
    documented = []
    for op_name in operation_names(the_product):
        op = product_operation(the_product, op_name)
        limit = None if op is None else op.flow_control.limit
        if op is not None and limit is not None:
            flow = op.flow_control
            documented.append((limit / flow.per_seconds, limit, flow.per))
    if not documented:
        return 1, "second"
    _, lowest, per = min(documented)
    return lowest, per


def paced_flow(op: Operation) -> FlowControl:
    """The flow control the pacing follows for `op`: its spec's, or, where the spec documents
    no limit, the strictest one its product documents (`lowest_documented`)."""
    flow = op.flow_control
    if flow.limit is not None:
        return flow
    limit, per = lowest_documented(op.product)
    return dataclasses.replace(flow, limit=limit, per=per)
