"""The machine-readable spec of an operation, and what derives from it.

Load a spec with `operation("RealTimeRecordCommand")` (the bundled one) or `load_operation(path)`;
validate files with `validate_paths`. Everything else in acscontract reads its facts from here.
"""

from __future__ import annotations

import functools

from acscontract.spec._catalog import ActionCatalog, CatalogEntry, action_catalog, catalog_for
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

#: The reference operation acscontract is built around.
DEFAULT_OPERATION = "live/2016-11-01/RealTimeRecordCommand"


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
