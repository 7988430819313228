"""The machine-readable spec of an operation, and what derives from it.

Load a spec with `operation("RealTimeRecordCommand")` (the bundled one) or `load_operation(path)`;
validate files with `validate_paths`. Everything else in acscontract reads its facts from here.
"""

from __future__ import annotations

import functools
from pathlib import Path

from acscontract.spec._catalog import ActionCatalog, CatalogEntry, action_catalog, catalog_for
from acscontract.spec._derive import (
    error_response_schema,
    example_parameters,
    example_value,
    openapi_document,
    request_schema,
    response_schema,
    success_response_schema,
)
from acscontract.spec._loader import (
    SpecError,
    SpecProblem,
    bundled_spec_dir,
    find_spec_files,
    load_document,
    load_operation,
    resolve_operation,
    validate_paths,
)
from acscontract.spec._model import (
    CHECK_KINDS,
    EFFECT_KINDS,
    Check,
    CheckKind,
    ConditionKey,
    Effect,
    EndpointRules,
    ErrorCode,
    Filter,
    FlowControl,
    GatewayError,
    Lifecycle,
    Match,
    Operation,
    Paging,
    Parameter,
    ParameterProblem,
    Produces,
    Product,
    Protocol,
    RamAction,
    RequestLimit,
    RequestLimits,
    Requirement,
    Resource,
    ResourceEvent,
    ResourceProperty,
    ResourceType,
    SeedBinding,
    SignatureMethod,
    TimerSource,
    Transition,
    Undocumented,
)

__all__ = [
    "CHECK_KINDS",
    "DEFAULT_OPERATION",
    "DEFAULT_PRODUCT",
    "EFFECT_KINDS",
    "ActionCatalog",
    "CatalogEntry",
    "Check",
    "CheckKind",
    "ConditionKey",
    "Effect",
    "EndpointRules",
    "ErrorCode",
    "Filter",
    "FlowControl",
    "GatewayError",
    "Lifecycle",
    "Match",
    "Operation",
    "Paging",
    "Parameter",
    "ParameterProblem",
    "Produces",
    "Product",
    "Protocol",
    "RamAction",
    "RequestLimit",
    "RequestLimits",
    "Requirement",
    "Resource",
    "ResourceEvent",
    "ResourceProperty",
    "ResourceType",
    "SeedBinding",
    "SignatureMethod",
    "SpecError",
    "SpecProblem",
    "TimerSource",
    "Transition",
    "Undocumented",
    "action_catalog",
    "bundled_spec_dir",
    "catalog_for",
    "error_response_schema",
    "example_parameters",
    "example_value",
    "find_spec_files",
    "load_document",
    "load_operation",
    "openapi_document",
    "operation",
    "operation_names",
    "product",
    "product_operation",
    "protocol",
    "request_schema",
    "resolve_operation",
    "response_schema",
    "success_response_schema",
    "validate_paths",
]

#: The reference operation acscontract is built around.
DEFAULT_OPERATION = "live/2016-11-01/RealTimeRecordCommand"

#: The product (and API version) the reference operation belongs to.
DEFAULT_PRODUCT = "live/2016-11-01"


@functools.cache
def protocol(name: str = "rpc") -> Protocol:
    """The bundled protocol spec (`spec/protocols/<name>.yaml`)."""
    from acscontract.spec._loader import _load_protocol

    path = bundled_spec_dir() / "protocols" / f"{name}.yaml"
    if not path.is_file():
        raise SpecError([SpecProblem(str(path), "", f"there is no protocol named {name!r}")])
    return _load_protocol(path)


@functools.cache
def operation(name: str = DEFAULT_OPERATION) -> Operation:
    """The bundled spec of an operation, by `product/version/Name` or plain `Name`."""
    return load_operation(resolve_operation(name))


@functools.cache
def product(name: str = DEFAULT_PRODUCT) -> Product:
    """The bundled spec of a product, by `product/version` (`live/2016-11-01`)."""
    from acscontract.spec._loader import _load_product

    path = bundled_spec_dir() / name.strip("/") / "product.yaml"
    if not path.is_file():
        from acscontract.errors import UsageError

        raise UsageError(f"there is no product {name!r} in {bundled_spec_dir()}.")
    return _load_product(path)


def operation_names(the_product: Product) -> tuple[str, ...]:
    """The names of the operations whose spec files sit beside the product's file, sorted."""
    return _names_in(the_product.path.parent)


@functools.cache
def _names_in(folder: Path) -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in folder.glob("*.yaml") if p.stem != "product"))


def product_operation(the_product: Product, name: str) -> Operation | None:
    """The spec of the product's operation called `name` (exactly), or None when it has none."""
    if name not in operation_names(the_product):
        return None
    return load_operation(the_product.path.parent / f"{name}.yaml")
