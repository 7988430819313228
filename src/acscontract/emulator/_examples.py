"""Success bodies built from an operation's response schema and the metadata's examples.

An operation whose spec declares no effect is answered "schema-only", the way Prism answers an
OpenAPI operation: the same body every time, built deterministically from the examples the
metadata gives each field (converted to the field's type), one item per array, every documented
field present. Only RequestId is new on every call. Where an example is missing or does not fit
its type, the builder takes the schema's first enum value, its minimum, or a neutral value of the
type.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from acscontract.spec import Operation
from acscontract.spec._values import coerce

__all__ = ["example_body", "example_value"]

#: How deep nested objects are followed; metadata schemas are shallow, this only stops a cycle.
_MAX_DEPTH = 12


def example_value(schema: Mapping[str, Any], depth: int = 0) -> Any:
    """A value of the schema, from its example where the example fits."""
    kind = schema.get("type")
    if kind == "object" or (kind is None and "properties" in schema):
        if depth >= _MAX_DEPTH:
            return {}
        properties = schema.get("properties", {})
        return {
            str(name): example_value(sub, depth + 1)
            for name, sub in properties.items()
            if isinstance(sub, Mapping)
        }
    if kind == "array":
        items = schema.get("items")
        if not isinstance(items, Mapping) or depth >= _MAX_DEPTH:
            return []
        return [example_value(items, depth + 1)]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return coerce(str(enum[0]), schema)
    example = schema.get("example")
    if example is not None:
        value = coerce(str(example).lower() if isinstance(example, bool) else str(example), schema)
        if _fits(value, kind):
            return value
    return _neutral(schema)


def _fits(value: Any, kind: Any) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    return True


def _neutral(schema: Mapping[str, Any]) -> Any:
    kind = schema.get("type")
    if kind in ("integer", "number"):
        minimum = schema.get("minimum")
        try:
            low = float(minimum) if minimum is not None else 0.0
        except (TypeError, ValueError):
            low = 0.0
        return int(low) if kind == "integer" else low
    if kind == "boolean":
        return False
    return ""


_TEMPLATES: dict[tuple[str, str], str] = {}


def _template(op: Operation) -> str:
    key = (str(op.path), op.qualified_name)
    found = _TEMPLATES.get(key)
    if found is None:
        found = _TEMPLATES[key] = _build(op)
    return found


def _build(op: Operation) -> str:
    body = example_value(op.success_schema)
    if not isinstance(body, dict):
        body = {}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def example_body(op: Operation, request_id: str, request_id_field: str = "RequestId") -> bytes:
    """The operation's schema-only success body, with this call's RequestId."""
    body = json.loads(_template(op))
    body[request_id_field] = request_id
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
