"""Parameter values as they travel and as they mean: wire strings to typed values, and the JSON
Schema of Alibaba's metadata schemas.

Alibaba's metadata writes schemas in an OpenAPI-like dialect that JSON Schema tools cannot take
as is: `required` is a boolean on each property, and bounds and examples are often decimal strings.
`json_schema` turns one into Draft 2020-12. `decode` reads a parameter from the request's wire
pairs by its `style`: scalars as they are, `repeatList` arrays from `Name.1`, `Name.1.Field`,
`Name.1.Field.2`, ..., `json` from one JSON text and `simple` from comma-separated values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["coerce", "decode", "encode", "json_schema", "repeat_list_keys"]

_JSON_TYPES = frozenset({"string", "integer", "number", "boolean", "array", "object", "null"})
_INT_BOUNDS = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
_DECIMAL = re.compile(r"-?[0-9]+")
_NUMBER = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_SEGMENT = re.compile(r"[0-9]+|[A-Za-z_][A-Za-z0-9_]*")


def _number(value: Any) -> float | int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    text = str(value).strip()
    if _DECIMAL.fullmatch(text):
        return int(text)
    if _NUMBER.fullmatch(text):
        return float(text)
    return None


def json_schema(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The Draft 2020-12 JSON Schema of a metadata schema (a parameter's or a response's).

    Properties whose own `required` is true become the object's `required` list; bounds written
    as strings become numbers; integer formats become bounds; examples are dropped (they describe,
    they do not constrain).
    """
    out: dict[str, Any] = {}
    kind = meta.get("type")
    if kind in _JSON_TYPES:  # the metadata also writes `any`: no constraint
        out["type"] = kind
    if kind == "integer" and meta.get("format") in _INT_BOUNDS:
        low, high = _INT_BOUNDS[str(meta["format"])]
        out["minimum"], out["maximum"] = low, high
    for key in ("minimum", "maximum"):
        bound = _number(meta.get(key))
        if bound is not None:
            out[key] = bound
    for key in ("maxLength", "minLength", "maxItems", "minItems"):
        bound = _number(meta.get(key))
        if isinstance(bound, int) and bound >= 0:
            out[key] = bound
    if isinstance(meta.get("pattern"), str):
        out["pattern"] = meta["pattern"]
    enum = meta.get("enum")
    if isinstance(enum, list) and enum:
        out["enum"] = [coerce(str(v), meta) if isinstance(v, str) else v for v in enum]
    items = meta.get("items")
    if isinstance(items, Mapping):
        out["items"] = json_schema(items)
    properties = meta.get("properties")
    if isinstance(properties, Mapping):
        out["properties"] = {
            str(name): json_schema(schema)
            for name, schema in properties.items()
            if isinstance(schema, Mapping)
        }
        required = [
            str(name)
            for name, schema in properties.items()
            if isinstance(schema, Mapping) and schema.get("required") is True
        ]
        if required:
            out["required"] = required
    additional = meta.get("additionalProperties")
    if isinstance(additional, Mapping):
        out["additionalProperties"] = json_schema(additional)
    return out


JSON_BOOLEANS: Mapping[str, bool] = {json.dumps(value): value for value in (True, False)}
"""The spellings of JSON's booleans: how the spec's own examples write them. A request's are the
protocol's (`Protocol.boolean_values`), which the callers that check requests pass instead."""


def coerce(
    value: str, schema: Mapping[str, Any], booleans: Mapping[str, bool] = JSON_BOOLEANS
) -> Any:
    """A wire string as the value its schema means; left a string when it is not one.

    A string that is not a number stays a string, so that validating the result against the
    schema reports the type error with the value the client sent. `booleans` maps each wire
    spelling of a boolean to its value.
    """
    kind = schema.get("type")
    if kind == "integer" and _DECIMAL.fullmatch(value):
        return int(value)
    if kind == "number" and _NUMBER.fullmatch(value):
        return float(value)
    if kind == "boolean":
        return booleans.get(value, value)
    return value


def repeat_list_keys(name: str, params: Mapping[str, str]) -> dict[tuple[str, ...], str]:
    """The wire pairs of a repeatList parameter, keyed by the path after `Name.`."""
    prefix = name + "."
    found: dict[tuple[str, ...], str] = {}
    for key, value in params.items():
        if key.startswith(prefix):
            found[tuple(key[len(prefix) :].split("."))] = value
    return found


class ShapeError(ValueError):
    """A repeatList, json or simple value whose shape cannot be read; the message says why."""


def _place(
    tree: Any,
    path: tuple[str, ...],
    value: str,
    schema: Mapping[str, Any],
    where: str,
    booleans: Mapping[str, bool],
) -> Any:
    """Put `value` at `path` in `tree` (a list for numbered segments, a dict for names)."""
    if not path:
        return coerce(value, schema, booleans)
    head, rest = path[0], path[1:]
    if not _SEGMENT.fullmatch(head):
        raise ShapeError(f"{where}.{head} is not an index (1, 2, ...) or a field name")
    if head.isdigit():
        index = int(head)
        if index < 1:
            raise ShapeError(f"{where}.{head}: repeatList indexes start at 1")
        if index > 10_000:
            raise ShapeError(f"{where}.{head}: the index is too large")
        items = tree if isinstance(tree, list) else []
        while len(items) < index:
            items.append(None)
        item_schema = schema.get("items", {}) if isinstance(schema.get("items"), Mapping) else {}
        items[index - 1] = _place(
            items[index - 1], rest, value, item_schema, f"{where}.{head}", booleans
        )
        return items
    fields = tree if isinstance(tree, dict) else {}
    properties = schema.get("properties", {})
    field_schema = properties.get(head, {}) if isinstance(properties, Mapping) else {}
    fields[head] = _place(fields.get(head), rest, value, field_schema, f"{where}.{head}", booleans)
    return fields


def decode(
    name: str,
    style: str | None,
    schema: Mapping[str, Any],
    params: Mapping[str, str],
    booleans: Mapping[str, bool] = JSON_BOOLEANS,
) -> tuple[bool, Any]:
    """(present, value) of one parameter in the request's business parameters.

    Raises ShapeError for a value whose shape cannot be read (JSON that does not parse, a
    repeatList key with a bad index).
    """
    kind = schema.get("type")
    if style == "repeatList" or (kind == "array" and style is None and name not in params):
        pairs = repeat_list_keys(name, params)
        if not pairs:
            return False, None
        tree: Any = None
        for path, value in sorted(pairs.items(), key=lambda kv: [_order(p) for p in kv[0]]):
            try:
                tree = _place(tree, path, value, schema, name, booleans)
            except RecursionError:
                raise ShapeError(f"{name}: a key is nested too deeply to read") from None
        return True, tree
    if name not in params:
        return False, None
    raw = params[name]
    if style == "json" or (kind in ("array", "object") and style != "simple"):
        try:
            return True, json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ShapeError(f"{name} is not valid JSON ({exc.msg})") from None
        except RecursionError:  # Python's parser stops at its recursion limit
            raise ShapeError(f"{name} is JSON nested too deeply to read") from None
        except ValueError:
            raise ShapeError(f"{name} is not valid JSON") from None
    if style == "simple" or kind == "array":
        items = schema.get("items", {}) if isinstance(schema.get("items"), Mapping) else {}
        return True, [coerce(part, items, booleans) for part in raw.split(",")] if raw else []
    return True, coerce(raw, schema, booleans)


def _order(segment: str) -> tuple[int, int | str]:
    return (0, int(segment)) if segment.isdigit() else (1, segment)


def encode(name: str, style: str | None, value: Any) -> list[tuple[str, str]]:
    """The wire pairs of a parameter's typed value, as the official SDKs send it (the inverse of
    `decode`): repeatList arrays flattened to `Name.1.Field`, json as JSON text, simple as
    comma-separated values, scalars as text (booleans as true/false)."""
    if style == "repeatList" or (
        isinstance(value, list | dict) and style not in ("json", "simple")
    ):
        return _flatten(name, value)
    if style == "json":
        return [(name, json.dumps(value, ensure_ascii=False, separators=(",", ":")))]
    if style == "simple" and isinstance(value, list):
        return [(name, ",".join(_text(v) for v in value))]
    return [(name, _text(value))]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _flatten(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, list):
        return [pair for i, item in enumerate(value, 1) for pair in _flatten(f"{prefix}.{i}", item)]
    if isinstance(value, dict):
        return [pair for k, item in value.items() for pair in _flatten(f"{prefix}.{k}", item)]
    return [(prefix, _text(value))]
