"""Success bodies built from an operation's response schema and the metadata's examples.

An operation whose spec declares no effect is answered "schema-only", the way Prism answers an
OpenAPI operation: the same body every time, built deterministically from the examples the
metadata gives each field (`acscontract.spec.example_value`: converted to the field's type, one
item per array, every documented field present). Only RequestId is new on every call.
"""

from __future__ import annotations

import json

from acscontract.spec import Operation, example_value

__all__ = ["example_body"]

_TEMPLATES: dict[tuple[str, str], str] = {}


def _template(op: Operation) -> str:
    key = (str(op.path), op.qualified_name)
    found = _TEMPLATES.get(key)
    if found is None:
        body = example_value(op.success_schema)
        found = json.dumps(body if isinstance(body, dict) else {}, ensure_ascii=False)
        _TEMPLATES[key] = found
    return found


def example_body(op: Operation, request_id: str, request_id_field: str = "RequestId") -> bytes:
    """The operation's schema-only success body, with this call's RequestId."""
    body = json.loads(_template(op))
    body[request_id_field] = request_id
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
