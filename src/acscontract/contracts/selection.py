"""Which operations a contract run covers, and which contracts each of them gets.

`--operation` (`ACSCONTRACT_OPERATION`) names them: one operation (`RealTimeRecordCommand`, or
`live/2016-11-01/RealTimeRecordCommand`), several separated by commas, or `all` for every
operation of the product. Without it a run covers the reference operation, as it always did.

The spec sorts the operations into the tiers the contract modules serve:

- an operation with a lifecycle (a state machine driven by a command parameter) gets the deep
  contracts: generated traffic judged by the lifecycle model, the state machine, each documented
  transition, schemathesis;
- every other operation gets the lean contracts: one valid request, each required parameter
  missing once, one malformed value, every response checked against the spec; a modelled one
  (its spec declares an effect) also gets generated traffic, against emulators;
- the gateway, RAM and throttling contracts do not depend on the operation: they run once per
  run, for the run's primary operation (`Selection.primary`);
- a workflow across a family of operations (see `acscontract.contracts.workflow`) runs when every
  operation of the family is selected.
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from acscontract._text import shorten
from acscontract.errors import UsageError

if TYPE_CHECKING:
    from acscontract.spec import Operation, Product

__all__ = ["ALL", "Selection", "domain_parameter", "select_operations"]

ALL = "all"
"""The `--operation` value that selects every operation of the product."""


@dataclass(frozen=True, slots=True)
class Selection:
    """The operations of one run, in the product's order (the reference operation first)."""

    operations: tuple[Operation, ...]
    spelled: str
    """How the user named them (`RealTimeRecordCommand`, `all`, ...), for messages."""

    def __post_init__(self) -> None:
        if not self.operations:
            raise ValueError("a selection holds at least one operation")

    @property
    def product(self) -> Product:
        """The product every selected operation belongs to."""
        return self.operations[0].product

    @property
    def names(self) -> tuple[str, ...]:
        """The selected operations' names."""
        return tuple(op.name for op in self.operations)

    @property
    def lifecycle(self) -> tuple[Operation, ...]:
        """The operations with a lifecycle driven by a command parameter: the deep contracts."""
        return tuple(op for op in self.operations if has_lifecycle(op))

    @property
    def lean(self) -> tuple[Operation, ...]:
        """The operations without one: the lean contracts."""
        return tuple(op for op in self.operations if not has_lifecycle(op))

    @property
    def modelled(self) -> tuple[Operation, ...]:
        """The lean operations whose spec declares an effect: they also get generated traffic."""
        return tuple(op for op in self.lean if op.modelled)

    @property
    def writing(self) -> tuple[Operation, ...]:
        """The lean operations the spec says write (`Operation.writes`): their valid requests
        spend the write budget (`--max-writes`) on a real account."""
        return tuple(op for op in self.lean if op.writes)

    @property
    def primary(self) -> Operation:
        """The operation the operation-agnostic contracts (gateway, RAM, throttling) and the
        preflight use: the first with a lifecycle, else the first selected."""
        return next(iter(self.lifecycle), self.operations[0])

    @property
    def needs_stream(self) -> bool:
        """Whether the run needs an app and an online stream (a lifecycle is selected), or only
        a domain."""
        return bool(self.lifecycle)

    def __contains__(self, op: object) -> bool:
        return any(op is mine or op == mine for mine in self.operations)

    def describe(self) -> str:
        """`RealTimeRecordCommand`, or `403 operations of live/2016-11-01`."""
        if len(self.operations) == 1:
            return self.operations[0].name
        product = self.product
        return f"{len(self.operations)} operations of {product.name}/{product.version}"


def has_lifecycle(op: Operation) -> bool:
    """Whether `op` has a lifecycle driven by a command parameter (the deep contracts need
    both)."""
    return op.lifecycle is not None and op.command_parameter is not None


def domain_parameter(product: Product) -> str | None:
    """The parameter that names the account's domain (`Product.domain_parameter`)."""
    return product.domain_parameter


@functools.cache
def select_operations(value: str | None = None) -> Selection:
    """The operations `value` names (see the module's docstring); UsageError, with one line that
    suggests close names, for a name the product does not have."""
    from acscontract.spec import DEFAULT_OPERATION, operation

    spelled = (value or "").strip()
    if not spelled:
        return Selection((operation(),), DEFAULT_OPERATION.rsplit("/", 1)[-1])
    names = [part.strip() for part in spelled.split(",") if part.strip()]
    if not names:
        raise UsageError(f"--operation {value!r} names no operation; give a name, or all.")
    chosen: list[Operation] = []
    for name in names:
        for op in _resolve(name):
            if op not in chosen:
                chosen.append(op)
    products = {(op.product.name, op.product.version) for op in chosen}
    if len(products) > 1:
        raise UsageError(
            f"--operation {shorten(spelled)!r} names operations of several products; a run covers "
            "one."
        )
    return Selection(tuple(chosen), spelled)


def _resolve(name: str) -> tuple[Operation, ...]:
    from acscontract.spec import DEFAULT_PRODUCT, operation_names, product, product_operation

    where = DEFAULT_PRODUCT
    plain = name
    parts = name.strip("/").split("/")
    if len(parts) == 3:
        where, plain = "/".join(parts[:2]), parts[2]
    elif len(parts) != 1:
        raise UsageError(
            f"--operation {shorten(name)!r} is not an operation name; write Name or "
            "product/version/Name (for example RealTimeRecordCommand), or all."
        )
    the_product = product(where)
    if plain.lower() == ALL:
        return _all_operations(the_product)
    found = product_operation(the_product, plain)
    if found is not None:
        return (found,)
    known = operation_names(the_product)
    close = [n for n in known if n.lower() == plain.lower()]
    close += [n for n in difflib.get_close_matches(plain, known, n=3, cutoff=0.6) if n not in close]
    hint = f"; did you mean {', '.join(close)}?" if close else "."
    raise UsageError(
        f"There is no operation {shorten(plain)!r} in {the_product.title} {the_product.version} "
        f"({len(known)} operations; `acscontract spec show --coverage` lists them){hint}"
    )


def _all_operations(the_product: Product) -> tuple[Operation, ...]:
    """Every operation of the product, the reference operation first, then by name."""
    from acscontract.spec import DEFAULT_OPERATION, operation_names, product_operation

    reference = DEFAULT_OPERATION.rsplit("/", 1)[-1]
    names = sorted(operation_names(the_product), key=lambda n: (n != reference, n))
    found = [product_operation(the_product, n) for n in names]
    return tuple(op for op in found if op is not None)
