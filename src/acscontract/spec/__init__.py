"""The machine-readable spec of a product and its operations, and what derives from it.

Load a spec with `operation("RealTimeRecordCommand")` (the bundled one), `product()` and
`product_operation(product, name)`, or `load_operation(path)`; validate files with
`validate_paths`. Everything else in acscontract reads its facts from here.
"""

from __future__ import annotations

import functools
import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from acscontract.spec._catalog import (
        ActionCatalog,
        CatalogEntry,
        action_catalog,
        catalog_for,
    )
    from acscontract.spec._derive import (
        error_response_schema,
        example_parameters,
        example_value,
        openapi_document,
        request_schema,
        response_schema,
        success_response_schema,
    )
    from acscontract.spec._importer import ImportResult, import_metadata, operation_from_metadata
    from acscontract.spec._loader import (
        SafeYamlLoader,
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
    from acscontract.spec._values import encode, json_schema

# Where each public name lives. The modules load on first use, so that reading the action
# catalog from its cache (what `acscontract ram lint` needs) imports neither YAML nor the
# JSON Schema validator.
_LAZY = {
    "acscontract.spec._catalog": ("ActionCatalog", "CatalogEntry", "action_catalog", "catalog_for"),
    "acscontract.spec._derive": (
        "error_response_schema",
        "example_parameters",
        "example_value",
        "openapi_document",
        "request_schema",
        "response_schema",
        "success_response_schema",
    ),
    "acscontract.spec._importer": ("ImportResult", "import_metadata", "operation_from_metadata"),
    "acscontract.spec._loader": (
        "SafeYamlLoader",
        "SpecError",
        "SpecProblem",
        "bundled_spec_dir",
        "find_spec_files",
        "load_document",
        "load_operation",
        "resolve_operation",
        "validate_paths",
    ),
    "acscontract.spec._model": (
        "CHECK_KINDS",
        "EFFECT_KINDS",
        "Check",
        "CheckKind",
        "Effect",
        "Filter",
        "Match",
        "Paging",
        "Produces",
        "Requirement",
        "Resource",
        "ResourceEvent",
        "ResourceProperty",
        "SeedBinding",
        "TimerSource",
        "EndpointRules",
        "ErrorCode",
        "FlowControl",
        "GatewayError",
        "Lifecycle",
        "Operation",
        "Parameter",
        "ParameterProblem",
        "Product",
        "Protocol",
        "RamAction",
        "RequestLimit",
        "RequestLimits",
        "SignatureMethod",
        "Transition",
        "Undocumented",
    ),
    "acscontract.spec._terms": ("ConditionKey", "ResourceType"),
    "acscontract.spec._values": ("encode", "json_schema"),
}
_HOME = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'acscontract.spec' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


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
    "ImportResult",
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
    "SafeYamlLoader",
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
    "encode",
    "error_response_schema",
    "example_parameters",
    "example_value",
    "find_spec_files",
    "import_metadata",
    "json_schema",
    "load_document",
    "load_operation",
    "openapi_document",
    "operation",
    "operation_from_metadata",
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

_OWN = {
    "DEFAULT_OPERATION",
    "DEFAULT_PRODUCT",
    "operation",
    "operation_names",
    "product",
    "product_operation",
    "protocol",
}
assert set(__all__) == {*_HOME, *_OWN}, "stale __all__"

#: The reference operation acscontract is built around.
DEFAULT_OPERATION = "live/2016-11-01/RealTimeRecordCommand"

#: The product (and API version) the reference operation belongs to.
DEFAULT_PRODUCT = "live/2016-11-01"


@functools.cache
def protocol(name: str = "rpc") -> Protocol:
    """The bundled protocol spec (`spec/protocols/<name>.yaml`)."""
    from acscontract.spec._loader import SpecError, SpecProblem, _load_protocol, bundled_spec_dir

    path = bundled_spec_dir() / "protocols" / f"{name}.yaml"
    if not path.is_file():
        raise SpecError([SpecProblem(str(path), "", f"there is no protocol named {name!r}")])
    return _load_protocol(path)


@functools.cache
def operation(name: str = DEFAULT_OPERATION) -> Operation:
    """The bundled spec of an operation, by `product/version/Name` or plain `Name`.

    Read from the precompiled cache (`acscontract.spec._cache`) when no spec file changed.
    """
    from acscontract._resources import bundled_path
    from acscontract.spec._cache import cached

    def build() -> Operation:
        from acscontract.spec._loader import load_operation, resolve_operation

        return load_operation(resolve_operation(name))

    return cached(f"operation-{name}", bundled_path("spec"), build)


@functools.cache
def product(name: str = DEFAULT_PRODUCT) -> Product:
    """The bundled spec of a product, by `product/version` (`live/2016-11-01`)."""
    from acscontract.spec._loader import _load_product, bundled_spec_dir

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
    """The spec of the product's operation called `name` (exactly), or None when it has none.

    A bundled operation comes from the precompiled cache, as `operation()` does.
    """
    if name not in operation_names(the_product):
        return None
    from acscontract.spec._loader import bundled_spec_dir, load_operation

    folder = the_product.path.parent
    root = bundled_spec_dir()
    if folder.resolve().is_relative_to(root.resolve()):
        return operation(str(folder.relative_to(root) / name))
    return load_operation(folder / f"{name}.yaml")
