"""The machine-readable spec of an operation, and what derives from it.

Load a spec with `operation("RealTimeRecordCommand")` (the bundled one) or `load_operation(path)`;
validate files with `validate_paths`. Everything else in acscontract reads its facts from here.
"""

from __future__ import annotations

import functools
import importlib
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
        Check,
        ConditionKey,
        EndpointRules,
        ErrorCode,
        FlowControl,
        GatewayError,
        Lifecycle,
        Operation,
        Parameter,
        ParameterProblem,
        Product,
        Protocol,
        RamAction,
        RequestLimit,
        RequestLimits,
        ResourceType,
        SignatureMethod,
        Transition,
        Undocumented,
    )

# Where each public name lives. The modules load on first use, so that reading the action
# catalog from its cache (what `acscontract ram lint` needs) imports neither YAML nor the
# JSON Schema validator.
_LAZY = {
    "acscontract.spec._catalog": ("ActionCatalog", "CatalogEntry", "action_catalog", "catalog_for"),
    "acscontract.spec._derive": (
        "error_response_schema",
        "openapi_document",
        "request_schema",
        "response_schema",
        "success_response_schema",
    ),
    "acscontract.spec._loader": (
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
        "Check",
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
    "DEFAULT_OPERATION",
    "ActionCatalog",
    "CatalogEntry",
    "Check",
    "ConditionKey",
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
    "ResourceType",
    "SignatureMethod",
    "SpecError",
    "SpecProblem",
    "Transition",
    "Undocumented",
    "action_catalog",
    "bundled_spec_dir",
    "catalog_for",
    "error_response_schema",
    "find_spec_files",
    "load_document",
    "load_operation",
    "openapi_document",
    "operation",
    "protocol",
    "request_schema",
    "resolve_operation",
    "response_schema",
    "success_response_schema",
    "validate_paths",
]

assert set(__all__) == {*_HOME, "DEFAULT_OPERATION", "operation", "protocol"}, "stale __all__"

#: The reference operation acscontract is built around.
DEFAULT_OPERATION = "live/2016-11-01/RealTimeRecordCommand"


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
