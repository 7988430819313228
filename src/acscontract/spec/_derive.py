"""Artefacts derived from an operation's spec: JSON Schemas and an OpenAPI 3.1 document.

All of them describe the operation as it looks on the wire, where every parameter is a string.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator

from acscontract.spec._model import Operation, Parameter
from acscontract.spec._values import coerce, encode, json_schema

__all__ = [
    "error_response_schema",
    "example_parameters",
    "example_value",
    "openapi_document",
    "request_schema",
    "response_schema",
    "success_response_schema",
]

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
# Patterns end in `(?![\s\S])`, not `$`: in Python's `re` (which jsonschema uses) `$` also
# matches before a final newline, so "x\n" would pass.
_END = "(?![\\s\\S])"
# A wire value without control characters: the spec's malformed-parameter check refuses them.
_NO_CONTROL = "^[^\\x00-\\x1f\\x7f]*" + _END
# Decimal integers short enough to be inside the int64 range whatever their digits (the rules
# accept 19-digit values inside the range too; the schema is the stricter of the two).
_INT_PATTERNS = {
    "int64": "^-?[0-9]{1,18}" + _END,
    "int32": "^-?[0-9]{1,9}" + _END,
    None: "^-?[0-9]{1,18}" + _END,
}


def _wire_schema(parameter: Parameter, booleans: Mapping[str, bool]) -> dict[str, Any]:
    """The JSON Schema of a parameter's wire value (a string); `booleans` are the protocol's
    spellings of a boolean."""
    schema: dict[str, Any] = {"type": "string"}
    if parameter.description:
        schema["description"] = parameter.description
    if parameter.enum is not None:
        schema["enum"] = list(parameter.enum)
    elif parameter.type == "integer":
        schema["pattern"] = _INT_PATTERNS.get(parameter.format, _INT_PATTERNS[None])
        schema["x-acs-type"] = f"integer ({parameter.format or 'int'}) as a decimal string"
    elif parameter.type == "boolean":
        schema["enum"] = list(booleans)
    else:
        schema["pattern"] = parameter.pattern or _NO_CONTROL
        if parameter.pattern:
            schema["allOf"] = [{"pattern": _NO_CONTROL}]
    if parameter.required:
        schema["minLength"] = max(1, parameter.min_length or 0)
    elif parameter.min_length is not None:
        schema["minLength"] = parameter.min_length
    if parameter.max_length is not None:
        schema["maxLength"] = parameter.max_length
    if parameter.example is not None:
        example = parameter.example
        schema["examples"] = [str(example).lower() if isinstance(example, bool) else str(example)]
    return schema


def request_schema(op: Operation) -> dict[str, Any]:
    """The JSON Schema of the operation's business parameters, as decoded wire strings.

    Required parameters must be present and non-empty; unknown parameters are not allowed.
    """
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": f"{op.name} request parameters",
        "type": "object",
        "properties": {p.name: _wire_schema(p, op.protocol.boolean_values) for p in op.parameters},
        "required": [p.name for p in op.required_parameters],
        "additionalProperties": False,
    }


def success_response_schema(op: Operation) -> dict[str, Any]:
    """The JSON Schema of the operation's 200 response body."""
    schema = copy.deepcopy(dict(op.success_schema))
    schema["$schema"] = JSON_SCHEMA_DIALECT
    schema.setdefault("title", f"{op.name} success response")
    return schema


def _codes_by_status(op: Operation) -> dict[int, list[str]]:
    by_status: dict[int, list[str]] = {}
    for error in op.errors:
        by_status.setdefault(error.http_status, []).append(error.code)
    for gateway in op.protocol.gateway_errors:
        for status in gateway.statuses:
            codes = by_status.setdefault(status, [])
            if gateway.code not in codes:
                codes.append(gateway.code)
    return dict(sorted(by_status.items()))


def error_response_schema(op: Operation, status: int | None = None) -> dict[str, Any]:
    """The JSON Schema of an error body: the protocol's envelope, with `Code` limited to the codes
    the spec documents (for `status`, or for any status when `status` is None)."""
    by_status = _codes_by_status(op)
    codes = list(op.all_error_codes) if status is None else by_status.get(status, [])
    schema = copy.deepcopy(dict(op.protocol.error_schema))
    schema["$schema"] = JSON_SCHEMA_DIALECT
    schema["title"] = f"{op.name} error response" + (f" (HTTP {status})" if status else "")
    properties = schema.setdefault("properties", {})
    properties["Code"] = {**properties.get("Code", {"type": "string"}), "enum": codes}
    if op.protocol.request_id_pattern:
        properties["RequestId"] = {
            **properties.get("RequestId", {"type": "string"}),
            "pattern": op.protocol.request_id_pattern,
        }
    return schema


def response_schema(op: Operation, status: int) -> dict[str, Any] | None:
    """The schema of a response with this HTTP status, or None when the spec documents none."""
    if status == 200:
        return success_response_schema(op)
    if status in _codes_by_status(op):
        return error_response_schema(op, status)
    return None


def _strip_dialect(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k != "$schema"}


def openapi_document(op: Operation) -> dict[str, Any]:
    """An OpenAPI 3.1 document for the operation: one path `/`, GET and POST, for schemathesis.

    `Action` and `Version` are constants; business parameters travel in the query, as the
    official SDKs send them. The V1 and V3 signatures are described as security schemes; a client
    (for example schemathesis with acscontract's auth) adds them to each request.
    """
    parameters: list[dict[str, Any]] = [
        {
            "name": "Action",
            "in": "query",
            "required": True,
            "schema": {"type": "string", "const": op.name},
        },
        {
            "name": "Version",
            "in": "query",
            "required": True,
            "schema": {"type": "string", "const": op.product.version},
        },
    ]
    for parameter in op.parameters:
        schema = _wire_schema(parameter, op.protocol.boolean_values)
        description = schema.pop("description", "")
        entry: dict[str, Any] = {
            "name": parameter.name,
            "in": "query",
            "required": parameter.required,
            "schema": schema,
        }
        if description:
            entry["description"] = description
        parameters.append(entry)

    error_schemas = {
        f"Error{status}": _strip_dialect(error_response_schema(op, status))
        for status in _codes_by_status(op)
    }
    responses: dict[str, Any] = {
        "200": {
            "description": "The command was accepted.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Success"}}},
        }
    }
    for status, codes in _codes_by_status(op).items():
        responses[str(status)] = {
            "description": "One of: " + ", ".join(codes),
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/Error{status}"}}
            },
        }
    v1 = next(m for m in op.protocol.signature_methods if m.id == "v1")
    v3 = next(m for m in op.protocol.signature_methods if m.id == "v3")
    operation_object = {
        "operationId": op.name,
        "summary": op.summary or op.title,
        "parameters": parameters,
        "responses": responses,
        "security": [{"AcsSignatureV1": []}, {"AcsSignatureV3": []}],
    }
    methods = {m.lower() for m in op.methods}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{op.product.title} {op.name}",
            "version": op.product.version,
            "description": op.description,
        },
        "servers": [{"url": f"{scheme}://{op.product.default_endpoint}"} for scheme in op.schemes],
        "paths": {
            "/": {
                method: {**operation_object, "operationId": f"{op.name}{method.upper()}"}
                for method in ("get", "post")
                if method in methods
            }
        },
        "components": {
            "schemas": {"Success": _strip_dialect(success_response_schema(op)), **error_schemas},
            "securitySchemes": {
                "AcsSignatureV1": {
                    "type": "apiKey",
                    "in": "query",
                    "name": "Signature",
                    "description": f"RPC signature {v1.name}: AccessKeyId, SignatureMethod, "
                    "SignatureVersion, SignatureNonce, Timestamp and Signature in the query.",
                },
                "AcsSignatureV3": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": f"{v3.name}: an Authorization header and x-acs-* headers.",
                },
            },
        },
    }


def example_value(schema: Mapping[str, Any]) -> Any:
    """A valid value of a metadata schema, from its example where the example fits: the first
    enum value, else the example converted to the type, else a neutral value within bounds.
    Arrays get one item, objects every property."""
    kind = schema.get("type")
    if kind == "object" or (kind is None and "properties" in schema):
        return {
            str(name): example_value(sub)
            for name, sub in dict(schema.get("properties", {})).items()
            if isinstance(sub, Mapping)
        }
    if kind == "array":
        items = schema.get("items")
        return [example_value(items)] if isinstance(items, Mapping) else []
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return coerce(str(enum[0]), schema)
    example = schema.get("example")
    if example is not None:
        value = coerce(str(example).lower() if isinstance(example, bool) else str(example), schema)
        if Draft202012Validator(json_schema(schema)).is_valid(value):
            return value
    return _neutral(schema)


def _neutral(schema: Mapping[str, Any]) -> Any:
    bounds = json_schema(schema)
    kind = schema.get("type")
    if kind in ("integer", "number"):
        low = bounds.get("minimum", 1 if kind == "integer" else 1.0)
        high = bounds.get("maximum")
        value = max(low, 1) if high is None or high >= 1 else low
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return False
    return "x" * max(1, int(bounds.get("minLength", 1)))


def example_parameters(op: Operation) -> list[tuple[str, str]]:
    """Wire pairs of a valid request of `op` with its required parameters only: examples where
    the metadata gives valid ones (see `example_value`), repeatList and json values encoded as
    the SDKs send them."""
    pairs: list[tuple[str, str]] = []
    for parameter in op.required_parameters:
        value = example_value(parameter.schema)
        if parameter.type == "string" and value == "":
            value = "x"
        pairs.extend(encode(parameter.name, parameter.style, value))
    return pairs
