"""The effect interpreters: one function per kind of `x-effect`, over the world.

Each takes a call that passed its checks and the operation's declared effect, and returns the
fields of the success body (the envelope adds RequestId) or a refusal. Nothing here names an
operation, a parameter or an error code: all of it comes from the effect, the resource model and
the response schema. The registry verifies at import that it covers every kind the spec allows.

Records hold typed values (times as Unix seconds). Rendering a record into a response walks the
response schema: each field takes the record's field of the same name, unless the effect's
`response.fields` maps it to another field or a `{template}`; a field the record lacks is left
out, and values are converted to the schema's type (times to the protocol's UTC layout).
"""

from __future__ import annotations

import functools
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from acscontract.emulator._checks import Call, Refusal, parse_time, refuse
from acscontract.emulator._envelope import uuid4_text
from acscontract.emulator._world import RecordKey, resolve_match
from acscontract.spec import EFFECT_KINDS, Effect, Resource

__all__ = ["EFFECTS", "Outcome", "new_record", "render_record", "run_effect", "template_value"]

_TEMPLATE_FIELD = re.compile(r"\{([A-Za-z][A-Za-z0-9]*)(?::([a-z]+))?\}")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an effect did: the success body's fields, or a refusal; and whether state changed."""

    body: dict[str, Any] | None = None
    refusal: Refusal | None = None
    changed: bool = False


Interpreter = Callable[[Call, Effect], Outcome]
EFFECTS: dict[str, Interpreter] = {}
"""Effect kind -> its interpreter (the lifecycle kind is registered by the lifecycle engine)."""


def _kind(name: str) -> Callable[[Interpreter], Interpreter]:
    def register(function: Interpreter) -> Interpreter:
        if name in EFFECTS:
            raise RuntimeError(f"The effect kind {name!r} is registered twice.")
        EFFECTS[name] = function
        return function

    return register


def run_effect(call: Call, effect: Effect) -> Outcome:
    """Run the operation's effect (its requirements first)."""
    for requirement in effect.requires:
        if not call.world.exists(
            requirement.resource, call.account, call.resolved(requirement.match)
        ):
            detail = f"The {requirement.resource} named by this request is not found."
            return Outcome(refusal=refuse(call, requirement.code, detail))
    return EFFECTS[effect.kind](call, effect)


# --- records ---------------------------------------------------------------------------------


def _typed(prop_type: str, value: Any, layout: str) -> Any:
    """A parameter's value as a record stores a property of `prop_type`."""
    if prop_type == "time" and isinstance(value, str):
        parsed = parse_time(value, layout)
        return value if parsed is None else parsed
    return value


def new_record(call: Call, effect: Effect, resource: Resource) -> dict[str, Any]:
    """A record of `resource` from the call: identifiers, then the properties the call gives."""
    layout = call.op.protocol.timestamp_format
    values = {**effect.defaults, **call.values}
    record: dict[str, Any] = {name: str(values.get(name, "")) for name in resource.identifiers}
    for name, prop in resource.properties.items():
        if name in values and name not in resource.identifiers:
            record[name] = _typed(prop.type, values[name], layout)
    return record


def new_id() -> str:
    """A new random (version 4) UUID in its usual form."""
    return uuid4_text()


def stamp(record: dict[str, Any], resource: Resource, now: float, *, created: bool) -> None:
    """Fill the properties the emulator sets: creation time, update time, generated ids."""
    if created:
        for name in resource.properties_set("generated"):
            if not record.get(name):
                record[name] = new_id()
        for name in resource.properties_set("created"):
            record[name] = now
    for name in resource.properties_set("updated"):
        record[name] = now


def derive(record: dict[str, Any], resource: Resource, layout: str) -> None:
    """Fill the properties the resource derives from others with a template."""
    for name, template in resource.templated:
        record[name] = template_value(template, record, resource, layout)


def _key(call: Call, effect: Effect, resource: Resource) -> RecordKey:
    values = {**effect.defaults, **call.values}
    return tuple(str(values.get(name, "")) for name in resource.identifiers)


# --- rendering -------------------------------------------------------------------------------


_COMPACT = "%Y-%m-%d-%H-%M-%S"


def _format_time(value: float, layout: str) -> str:
    """A Unix time in the protocol's UTC layout (time.strftime: no timezone objects)."""
    return time.strftime(layout, time.gmtime(value))


def _display(value: Any, prop_type: str | None, layout: str, style: str | None = None) -> str:
    if prop_type == "time" and isinstance(value, int | float):
        return _format_time(value, _COMPACT if style == "compact" else layout)
    return str(value)


def template_value(
    template: str, record: Mapping[str, Any], resource: Resource | None, layout: str
) -> str:
    """A template with `{Field}` (and `{Field:compact}` for times) filled from the record."""
    out = []
    properties = resource.properties if resource is not None else {}
    for literal, name, style in _template_parts(template):
        out.append(literal)
        if name is not None:
            prop = properties.get(name)
            out.append(_display(record.get(name, ""), prop.type if prop else None, layout, style))
    return "".join(out)


@functools.lru_cache(maxsize=512)
def _template_parts(template: str) -> tuple[tuple[str, str | None, str | None], ...]:
    """A template as (literal text, field or None, style or None) parts, parsed once."""
    parts: list[tuple[str, str | None, str | None]] = []
    position = 0
    for found in _TEMPLATE_FIELD.finditer(template):
        parts.append((template[position : found.start()], found.group(1), found.group(2)))
        position = found.end()
    parts.append((template[position:], None, None))
    return tuple(parts)


def _convert(value: Any, schema: Mapping[str, Any], prop_type: str | None, layout: str) -> Any:
    kind = schema.get("type")
    if kind == "string":
        if isinstance(value, bool):
            return "true" if value else "false"
        return _display(value, prop_type, layout)
    if kind == "integer":
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int | float) and math.isfinite(value):
            return int(value)
        return value if isinstance(value, int) else None
    if kind == "number":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return round(float(value), 3)
        return None
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    return value


def _render_value(value: Any, schema: Mapping[str, Any], prop_type: str | None, layout: str) -> Any:
    if schema.get("type") == "array":
        items = schema.get("items", {})
        if not isinstance(value, list):
            return None
        return [
            _render_node(item, items, {}, None, layout, "")
            if isinstance(item, Mapping)
            else _convert(item, items, None, layout)
            for item in value
        ]
    if schema.get("type") == "object" and isinstance(value, Mapping):
        return _render_node(value, schema, {}, None, layout, "")
    return _convert(value, schema, prop_type, layout)


def _render_node(
    record: Mapping[str, Any],
    schema: Mapping[str, Any],
    fields: Mapping[str, Any],
    resource: Resource | None,
    layout: str,
    prefix: str,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, sub in dict(schema.get("properties", {})).items():
        if not isinstance(sub, Mapping):
            continue
        path = f"{prefix}{name}"
        source = fields.get(path)
        nested = sub.get("type") == "object" and any(k.startswith(path + ".") for k in fields)
        if isinstance(source, Mapping):
            value: Any = template_value(str(source["template"]), record, resource, layout)
            rendered = _convert(value, sub, None, layout)
        elif isinstance(source, str) or (name in record and not nested):
            field_name = source if isinstance(source, str) else name
            if field_name not in record:
                continue
            prop = resource.properties.get(field_name) if resource is not None else None
            rendered = _render_value(record[field_name], sub, prop.type if prop else None, layout)
        elif nested:
            # The spec maps fields below this object (TranscodeTemplates.Templates): they win
            # over a record field of the object's own name.
            rendered = _render_node(record, sub, fields, resource, layout, path + ".") or None
        else:
            continue
        if rendered is not None:
            out[name] = rendered
    return out


def render_record(
    record: Mapping[str, Any],
    schema: Mapping[str, Any],
    fields: Mapping[str, Any],
    resource: Resource | None,
    layout: str,
) -> dict[str, Any]:
    """A record as the object `schema` describes (see the module docstring)."""
    return _render_node(record, schema, fields, resource, layout, "")


def _schema_at(schema: Mapping[str, Any], path: str) -> Mapping[str, Any]:
    node: Any = schema
    for part in path.split("."):
        node = node.get("properties", {}).get(part, {})
    return node if isinstance(node, Mapping) else {}


def _place(body: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node = body
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _top_level(call: Call, record: Mapping[str, Any], resource: Resource) -> dict[str, Any]:
    """The success body's own fields that the record has (an id a create answers with, ...)."""
    schema = call.op.success_schema
    top = {
        name: sub
        for name, sub in dict(schema.get("properties", {})).items()
        if isinstance(sub, Mapping) and sub.get("type") != "object" and sub.get("type") != "array"
    }
    layout = call.op.protocol.timestamp_format
    return render_record(record, {"properties": top}, {}, resource, layout)


# --- the interpreters ------------------------------------------------------------------------


@_kind("create")
def _create(call: Call, effect: Effect) -> Outcome:
    world = call.world
    resource = world.resource(effect.resource)
    key = _key(call, effect, resource)
    if world.get(effect.resource, call.account, key) is not None:
        code = effect.conflict or ""
        detail = f"The {effect.resource} {'/'.join(key)} already exists."
        return Outcome(refusal=refuse(call, code, detail))
    return _stored(call, effect, resource, new_record(call, effect, resource), created=True)


@_kind("update")
def _update(call: Call, effect: Effect) -> Outcome:
    world = call.world
    resource = world.resource(effect.resource)
    key = _key(call, effect, resource)
    current = world.get(effect.resource, call.account, key)
    if current is None:
        return (
            _create(call, effect) if effect.not_found == "create" else _not_found(call, effect, key)
        )
    current.update(new_record(call, effect, resource))
    return _stored(call, effect, resource, current, created=False)


def _stored(
    call: Call, effect: Effect, resource: Resource, record: dict[str, Any], *, created: bool
) -> Outcome:
    """Stamp and derive a created or updated record, keep it, and answer with it."""
    stamp(record, resource, call.now, created=created)
    derive(record, resource, call.op.protocol.timestamp_format)
    call.world.put(effect.resource, call.account, record, owned=True)
    return Outcome(body=_top_level(call, record, resource), changed=True)


def _not_found(call: Call, effect: Effect, key: RecordKey) -> Outcome:
    detail = f"The {effect.resource} {'/'.join(key)} is not found."
    return Outcome(refusal=refuse(call, effect.not_found or "", detail))


@_kind("delete")
def _delete(call: Call, effect: Effect) -> Outcome:
    world = call.world
    resource = world.resource(effect.resource)
    key = _key(call, effect, resource)
    if world.delete(effect.resource, call.account, key):
        return Outcome(body={}, changed=True)
    if effect.not_found == "ignore":
        return Outcome(body={})
    return _not_found(call, effect, key)


@_kind("read")
def _read(call: Call, effect: Effect) -> Outcome:
    world = call.world
    resource = world.resource(effect.resource)
    found = world.find(effect.resource, call.account, call.resolved(effect.match))
    if not found:
        if effect.not_found == "empty":
            return Outcome(body={})
        code = effect.not_found or ""
        detail = f"No {effect.resource} matches this request."
        return Outcome(refusal=refuse(call, code, detail))
    body: dict[str, Any] = {}
    if effect.item is not None:
        schema = _schema_at(call.op.success_schema, effect.item)
        layout = call.op.protocol.timestamp_format
        _place(body, effect.item, render_record(found[0], schema, effect.fields, resource, layout))
    return Outcome(body=body)


def _filtered(call: Call, effect: Effect, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    values = call.values
    for item in effect.filters:
        wanted = values.get(item.parameter)
        if wanted in (None, ""):
            continue
        mode = "equals"
        if item.mode_parameter is not None:
            chosen = values.get(item.mode_parameter, item.default_mode)
            mode = item.modes.get(str(chosen), "equals")
        if mode == "contains":
            records = [r for r in records if str(wanted) in str(r.get(item.property, ""))]
        else:
            records = [r for r in records if str(r.get(item.property, "")) == str(wanted)]
    if effect.window is not None:
        layout = call.op.protocol.timestamp_format
        start_name, end_name = effect.window
        start = parse_time(str(values.get(start_name, "")), layout)
        end = parse_time(str(values.get(end_name, "")), layout)
        # A record is in the window when its own span (same-named properties) overlaps it.
        if start is not None:
            records = [r for r in records if _time(r.get(end_name, r.get(start_name))) >= start]
        if end is not None:
            records = [r for r in records if _time(r.get(start_name)) <= end]
    return records


def _time(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _page_value(call: Call, name: str) -> int:
    value = call.values.get(name)
    if value in (None, ""):
        value = call.op.parameter(name).default
    try:
        return max(1, int(str(value)))
    except (TypeError, ValueError):
        return 1


@_kind("list")
def _list(call: Call, effect: Effect) -> Outcome:
    world = call.world
    resource = world.resource(effect.resource)
    where = resolve_match(effect.where, call.values) if effect.where else None
    records = _filtered(call, effect, world.find(effect.resource, call.account, where))
    body: dict[str, Any] = {}
    paging = effect.paging
    if paging is not None and paging.order_by is not None:
        descending = False
        if paging.order is not None:
            order = call.values.get(paging.order) or call.op.parameter(paging.order).default
            descending = str(order).lower() == "desc"
            body[paging.order] = "desc" if descending else "asc"
        records.sort(key=lambda r: _sort_key(r.get(paging.order_by or "")), reverse=descending)
    total = len(records)
    if paging is not None:
        number, size = _page_value(call, paging.page_num), _page_value(call, paging.page_size)
        records = records[(number - 1) * size : number * size]
        body[paging.page_num] = number
        body[paging.page_size] = size
        if paging.total_num is not None:
            body[paging.total_num] = total
        if paging.total_page is not None:
            body[paging.total_page] = (total + size - 1) // size
    if effect.items is not None:
        items_schema = _schema_at(call.op.success_schema, effect.items).get("items", {})
        layout = call.op.protocol.timestamp_format
        rendered = [
            render_record(r, items_schema, effect.fields, resource, layout) for r in records
        ]
        _place(body, effect.items, rendered)
    return Outcome(body=body)


def _sort_key(value: Any) -> tuple[int, float, str]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def verify_registry() -> None:
    """The registry holds exactly the effect kinds the spec allows (called once the lifecycle
    engine has registered its kind)."""
    missing = sorted(set(EFFECT_KINDS) - set(EFFECTS))
    extra = sorted(set(EFFECTS) - set(EFFECT_KINDS))
    if missing or extra:
        raise RuntimeError(
            "The emulator's effect interpreters and the spec's effect kinds disagree: "
            f"not implemented {missing}, not allowed by the spec {extra}."
        )
