"""Reading spec files: YAML with strict keys, the meta-schema, references and semantic checks.

`validate_paths` reports every problem as data (`SpecProblem`: file, JSON Pointer, message);
`load_operation` builds the typed model and raises `SpecError` listing the problems.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry
from referencing import Resource as SchemaResource
from referencing.jsonschema import DRAFT202012

from acscontract._files import read_regular_text
from acscontract._resources import bundled_path
from acscontract.errors import InputError, UsageError
from acscontract.spec._model import (
    CHECK_KINDS,
    EFFECT_KINDS,
    Check,
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
    _value_problem,
)

__all__ = [
    "SpecError",
    "SpecProblem",
    "bundled_spec_dir",
    "find_spec_files",
    "load_document",
    "load_operation",
    "resolve_operation",
    "validate_paths",
]

SCHEMA_FILE = "operation.schema.json"
_SPEC_SUFFIXES = (".yaml", ".yml")
_LIFECYCLE_OK = "ok"


@dataclass(frozen=True, slots=True)
class SpecProblem:
    """One thing wrong with a spec file: where (file and JSON Pointer) and what.

    `unreadable` is True when the file could not be read at all (missing, a folder, a device,
    no permission), as opposed to read and found wrong.
    """

    file: str
    pointer: str
    message: str
    unreadable: bool = False

    def __str__(self) -> str:
        return f"{self.file}:{self.pointer or '/'}: {self.message}"


class SpecError(InputError):
    """A spec file is unreadable or invalid; `problems` lists every finding."""

    def __init__(self, problems: Sequence[SpecProblem]) -> None:
        self.problems = tuple(problems)
        first = self.problems[0]
        more = f" (and {len(self.problems) - 1} more problems)" if len(self.problems) > 1 else ""
        super().__init__(first.file, f"{first.pointer or '/'}: {first.message}{more}")


#: The most values a YAML document may expand to through its aliases (`*name`): far beyond any
#: spec or seed, and small enough that reading it stays quick. acscontract's own choice.
MAX_YAML_VALUES = 1_000_000


class SafeYamlLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader, with two differences, each a ConstructorError at its position:

    - a value YAML reads as a date but that names no real day (`0000-0-0`, `2020-13-01`), where
      PyYAML raises a bare ValueError; the message does not quote the value (a seed's values
      may be secrets);
    - a document whose aliases expand it to more than MAX_YAML_VALUES values, or into itself
      (a "billion laughs" file of a few lines would otherwise take minutes to check).
    """

    _aliased = False

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            self._aliased = True
        return super().compose_node(parent, index)

    def compose_document(self) -> yaml.Node | None:
        self._aliased = False
        node = super().compose_document()
        if self._aliased and node is not None:
            _check_expansion(node)
        return node


def _check_expansion(root: yaml.Node) -> None:
    """ConstructorError when the node graph, with every alias expanded, holds more than
    MAX_YAML_VALUES values or a cycle. Each node is sized once, so this is quick for any file."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            open_nodes.discard(key)
            sizes[key] = min(MAX_YAML_VALUES + 1, 1 + sum(sizes[id(c)] for c in children))
            if sizes[key] > MAX_YAML_VALUES:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"its aliases expand the document to more than {MAX_YAML_VALUES:,} values",
                    node.start_mark,
                )
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise yaml.constructor.ConstructorError(
                None, None, "an alias refers to a value that contains it", node.start_mark
            )
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


class _StrictLoader(SafeYamlLoader):
    """SafeYamlLoader that refuses duplicate keys and keys that are not strings."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[str, Any]:
    loader.flatten_mapping(node)
    result: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        mark = key_node.start_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}"
        if not isinstance(key, str):
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"the key {key!r} at {where} is not a string; quote it (YAML reads words like "
                "on, off, yes and no as booleans)",
                mark,
            )
        if key in result:
            raise yaml.constructor.ConstructorError(
                None, None, f"the key {key!r} at {where} appears twice in one mapping", mark
            )
        result[key] = loader.construct_object(value_node, deep=True)
    return result


def _construct_timestamp(loader: SafeYamlLoader, node: yaml.ScalarNode) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError as exc:
        raise yaml.constructor.ConstructorError(
            None,
            None,
            f"a value that reads as a date names no real day ({exc}); quote it to keep it as text",
            node.start_mark,
        ) from None


SafeYamlLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)
_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def bundled_spec_dir() -> Path:
    """The spec folder that ships with acscontract."""
    return bundled_path("spec")


@functools.cache
def _meta_validator() -> Draft202012Validator:
    schema_path = bundled_spec_dir() / SCHEMA_FILE
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    # The kinds of check and effect are registries in code; the meta-schema takes them from there.
    defs = schema["$defs"]
    defs["check"]["properties"]["check"] = {"enum": list(CHECK_KINDS)}
    defs["effect"]["properties"]["kind"] = {"enum": list(EFFECT_KINDS)}
    resource = SchemaResource.from_contents(schema, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(schema["$id"], resource)
    return Draft202012Validator(schema, registry=registry, format_checker=FormatChecker())


def load_document(path: Path) -> Any:
    """Read one YAML or JSON file strictly; raise SpecError naming the file and the position."""
    try:
        text = read_regular_text(path)
    except FileNotFoundError:
        raise SpecError(
            [SpecProblem(str(path), "", "the file does not exist", unreadable=True)]
        ) from None
    except IsADirectoryError:
        raise SpecError(
            [SpecProblem(str(path), "", "this is a folder, not a file", unreadable=True)]
        ) from None
    except UnicodeDecodeError as exc:
        raise SpecError(
            [SpecProblem(str(path), "", f"the file is not UTF-8 text (byte {exc.start})")]
        ) from None
    except OSError as exc:
        raise SpecError(
            [
                SpecProblem(
                    str(path), "", f"the file cannot be read: {exc.strerror}", unreadable=True
                )
            ]
        ) from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise SpecError([SpecProblem(str(path), "", f"{where}{problem}")]) from None
    except yaml.YAMLError as exc:
        raise SpecError([SpecProblem(str(path), "", f"invalid YAML: {exc}")]) from None
    except RecursionError:
        raise SpecError([SpecProblem(str(path), "", "the YAML is nested too deeply")]) from None


def _pointer(parts: Iterable[Any]) -> str:
    escaped = (str(p).replace("~", "~0").replace("/", "~1") for p in parts)
    return "".join("/" + part for part in escaped)


def _schema_problems(path: Path, document: Any) -> list[SpecProblem]:
    validator = _meta_validator()
    problems = []
    for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
        best = error
        if error.context:
            best = min(error.context, key=lambda e: (len(e.absolute_path), str(e.message)))
        if best.validator == "additionalProperties" and isinstance(best.instance, dict):
            problems.extend(_unknown_keys(path, best.absolute_path, best.instance, best.schema))
            continue
        problems.append(SpecProblem(str(path), _pointer(best.absolute_path), best.message))
    return problems


def _unknown_keys(
    path: Path, where: Iterable[Any], instance: dict[str, Any], schema: Mapping[str, Any]
) -> list[SpecProblem]:
    known = list(schema.get("properties", {}))
    patterns = list(schema.get("patternProperties", {}))
    extra = [
        key for key in instance if key not in known and not any(re.search(p, key) for p in patterns)
    ]
    hint = f"; the keys allowed here are {', '.join(known)}" if known else ""
    if "^x-" in patterns:
        hint += " (extension keys must start with x-)"
    base = list(where)
    return [
        SpecProblem(str(path), _pointer([*base, key]), f"unknown key {key!r}{hint}")
        for key in extra
    ]


def find_spec_files(paths: Sequence[Path]) -> list[Path]:
    """Every spec file under `paths` (files as given; folders searched recursively)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(p for p in path.rglob("*") if p.suffix in _SPEC_SUFFIXES and p.is_file())
            )
        elif path.exists():
            found.append(path)
        else:
            raise UsageError(f"{path}: no such file or folder.")
    return found


def validate_paths(paths: Sequence[Path]) -> list[SpecProblem]:
    """Validate every spec file under `paths`: meta-schema, references and semantic checks.

    Unreadable files and bad YAML come back as problems too; nothing is raised for a bad file.
    Each problem comes back once, although every operation file that uses a broken product or
    protocol file meets the same problem.
    """
    problems: list[SpecProblem] = []
    for path in find_spec_files(paths):
        try:
            document = load_document(path)
        except SpecError as exc:
            problems.extend(exc.problems)
            continue
        if not isinstance(document, dict):
            problems.append(SpecProblem(str(path), "", "a spec file must hold a mapping"))
            continue
        found = _schema_problems(path, document)
        problems.extend(found)
        if found:
            continue
        kind = document.get("kind")
        try:
            if kind == "operation":
                _build_operation(path, document)
            elif kind == "product":
                _build_product(path, document)
            elif kind == "protocol":
                _build_protocol(path, document)
        except SpecError as exc:
            problems.extend(exc.problems)
    return list(dict.fromkeys(problems))


def _checked(path: Path, expected_kind: str) -> dict[str, Any]:
    document = load_document(path)
    if not isinstance(document, dict):
        raise SpecError([SpecProblem(str(path), "", "a spec file must hold a mapping")])
    problems = _schema_problems(path, document)
    if problems:
        raise SpecError(problems)
    if document["kind"] != expected_kind:
        raise SpecError(
            [
                SpecProblem(
                    str(path), "/kind", f"expected a {expected_kind} file, found {document['kind']}"
                )
            ]
        )
    return document


def _reference(path: Path, pointer: str, target: str) -> Path:
    resolved = (path.parent / target).resolve()
    if not resolved.is_file():
        raise SpecError(
            [SpecProblem(str(path), pointer, f"the referenced file {target!r} does not exist")]
        )
    return resolved


def _undocumented(document: Any, base: str = "") -> Iterator[Undocumented]:
    if isinstance(document, dict):
        for key, value in document.items():
            pointer = f"{base}/{key}"
            if key in ("undocumented", "x-checksUndocumented") and isinstance(value, str):
                yield Undocumented(pointer, " ".join(value.split()))
            else:
                yield from _undocumented(value, pointer)
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from _undocumented(value, f"{base}/{index}")


def _number(value: Any) -> float | None:
    """A bound from the spec; Alibaba's metadata writes some as decimal strings."""
    return None if value is None else float(value)


def parameter_from_raw(raw: Mapping[str, Any]) -> Parameter:
    schema = raw["schema"]
    enum = schema.get("enum")
    return Parameter(
        name=raw["name"],
        location=raw["in"],
        type=schema["type"],
        required=bool(schema.get("required", False)),
        format=schema.get("format"),
        enum=tuple(str(v) for v in enum) if enum is not None else None,
        example=schema.get("example"),
        description=" ".join(str(schema.get("description", "")).split()),
        style=raw.get("style"),
        max_length=schema.get("maxLength"),
        min_length=schema.get("minLength"),
        pattern=schema.get("pattern"),
        minimum=_number(schema.get("minimum")),
        maximum=_number(schema.get("maximum")),
        default=None if schema.get("default") is None else str(schema.get("default")),
        schema=schema,
    )


def _match(raw: Mapping[str, Any] | None) -> Match:
    """`{Field: value or [values]}` as field -> tuple of values."""
    if not raw:
        return {}
    return {
        str(name): tuple(value) if isinstance(value, list) else (value,)
        for name, value in raw.items()
    }


_CHECK_FIELDS = ("check", "name", "errorCode", "description", "undocumented")


def _check(raw: Mapping[str, Any]) -> Check:
    options = {
        key: (_match(value) if key in ("match", "where") else value)
        for key, value in raw.items()
        if key not in _CHECK_FIELDS and not key.startswith("x-")
    }
    return Check(
        raw["check"],
        raw.get("errorCode", ""),
        " ".join(str(raw.get("description", "")).split()),
        raw.get("undocumented"),
        name=raw.get("name", ""),
        options=options,
    )


def _resources(raw: Mapping[str, Any]) -> dict[str, Resource]:
    resources = {}
    for name, item in raw.get("x-resources", {}).items():
        resources[name] = Resource(
            name=name,
            identifiers=tuple(item["identifiers"]),
            origin=item.get("origin", "operations"),
            properties={
                prop: ResourceProperty(
                    prop,
                    spec["type"],
                    spec.get("set"),
                    spec.get("template"),
                    spec.get("undocumented"),
                )
                for prop, spec in item.get("properties", {}).items()
            },
            lifecycle=item.get("lifecycle"),
            events=tuple(
                ResourceEvent(e["property"], e["value"], e["role"]) for e in item.get("events", ())
            ),
            description=" ".join(str(item.get("description", "")).split()),
        )
    return resources


def _effect(raw: Mapping[str, Any] | None) -> Effect | None:
    if raw is None:
        return None
    filters = []
    for entry in raw.get("filter", ()):
        if isinstance(entry, str):
            filters.append(Filter(entry, entry))
        else:
            filters.append(
                Filter(
                    entry["property"],
                    entry.get("parameter", entry["property"]),
                    entry.get("modeParameter"),
                    dict(entry.get("modes", {})),
                    entry.get("defaultMode"),
                )
            )
    paging = raw.get("paging")
    window = raw.get("window")
    response = raw.get("response", {})
    return Effect(
        kind=raw["kind"],
        resource=raw["resource"],
        defaults=dict(raw.get("defaults", {})),
        requires=tuple(
            Requirement(r["resource"], _match(r["match"]), r["errorCode"], r.get("undocumented"))
            for r in raw.get("requires", ())
        ),
        conflict=raw.get("conflict"),
        not_found=raw.get("notFound"),
        match=_match(raw.get("match")),
        filters=tuple(filters),
        where=_match(raw.get("where")),
        window=None if window is None else (window["start"], window["end"]),
        paging=None
        if paging is None
        else Paging(
            paging["pageNum"],
            paging["pageSize"],
            paging.get("totalNum"),
            paging.get("totalPage"),
            paging.get("order"),
            paging.get("orderBy"),
        ),
        items=response.get("items"),
        item=response.get("item"),
        fields=dict(response.get("fields", {})),
        undocumented=raw.get("undocumented"),
    )


def _request_limits(raw: Mapping[str, Any]) -> RequestLimits:
    def limit(name: str) -> RequestLimit:
        item = raw[name]
        return RequestLimit(
            name, item["value"], item["unit"], item["condition"], item.get("description", "")
        )

    return RequestLimits(
        query_bytes=limit("queryBytes"),
        body_bytes=limit("bodyBytes"),
        parameters=limit("parameters"),
        parameter_bytes=limit("parameterBytes"),
        nonces_per_access_key=limit("noncesPerAccessKey"),
    )


@functools.cache
def _protocol_cached(path: Path, mtime: float) -> Protocol:
    return _build_protocol(path, _checked(path, "protocol"))


def _build_protocol(path: Path, raw: dict[str, Any]) -> Protocol:
    problems: list[SpecProblem] = []
    seen: dict[str, int] = {}
    for index, error in enumerate(raw["gatewayErrors"]):
        for field_name in ("errorCode", "condition"):
            key = f"{field_name}:{error[field_name]}"
            if key in seen:
                problems.append(
                    SpecProblem(
                        str(path),
                        f"/gatewayErrors/{index}/{field_name}",
                        f"{error[field_name]!r} is already used by gateway error {seen[key]}",
                    )
                )
            seen[key] = index
    conditions = {error["condition"] for error in raw["gatewayErrors"]}
    limits = raw["requestLimits"]
    for name, item in limits.items():
        if isinstance(item, Mapping) and item.get("condition") not in conditions:
            problems.append(
                SpecProblem(
                    str(path),
                    f"/requestLimits/{name}/condition",
                    f"{item.get('condition')!r} is not the condition of any gateway error",
                )
            )
    both = set(raw["booleanValues"]["true"]) & set(raw["booleanValues"]["false"])
    if both:
        problems.append(
            SpecProblem(
                str(path),
                "/booleanValues",
                f"{', '.join(sorted(both))} spells both true and false",
            )
        )
    rules = raw.get("endpointRules")
    if rules is not None:
        for index, template in enumerate(rules["templates"]):
            unknown = sorted(
                set(EndpointRules.template_fields(template)) - set(EndpointRules.FIELDS)
            )
            if unknown:
                problems.append(
                    SpecProblem(
                        str(path),
                        f"/endpointRules/templates/{index}",
                        f"unknown template field(s) {', '.join(unknown)}; the fields are "
                        f"{', '.join(EndpointRules.FIELDS)}",
                    )
                )
    if problems:
        raise SpecError(problems)
    freshness = raw["freshness"]
    envelope = raw["errorEnvelope"]
    return Protocol(
        name=raw["name"],
        path=path,
        common_parameters=tuple(parameter_from_raw(p) for p in raw["commonParameters"]),
        signature_methods=tuple(
            SignatureMethod(m["id"], m["name"], m["carriedIn"], m) for m in raw["signatureMethods"]
        ),
        timestamp_skew_seconds=freshness["timestampSkewSeconds"],
        timestamp_format=freshness["timestampFormat"],
        boolean_values={
            spelling: value
            for value in (True, False)
            for spelling in raw["booleanValues"][json.dumps(value)]
        },
        nonce_window_seconds=freshness["nonceReplayWindowSeconds"]["value"],
        error_content_type=envelope["contentType"],
        request_id_pattern=envelope.get("requestIdPattern"),
        error_schema=envelope["schema"],
        gateway_errors=tuple(
            GatewayError(
                code=e["errorCode"],
                http_status=e["httpStatus"],
                when=e["when"],
                category=e["category"],
                condition=e["condition"],
                alternatives=tuple(e.get("alternatives", ())),
                message_format=e.get("messageFormat"),
                undocumented=e.get("undocumented"),
            )
            for e in raw["gatewayErrors"]
        ),
        global_condition_keys=tuple(
            ConditionKey(k["key"], k["type"], k.get("prefix"))
            for k in raw["ram"]["globalConditionKeys"]
        ),
        request_limits=_request_limits(limits),
        raw=raw,
        endpoint_rules=None
        if rules is None
        else EndpointRules(rules["domain"], tuple(rules["templates"]), tuple(rules["networks"])),
    )


def _load_protocol(path: Path) -> Protocol:
    return _protocol_cached(path, path.stat().st_mtime)


@functools.cache
def _product_cached(path: Path, mtime: float) -> Product:
    return _build_product(path, _checked(path, "product"))


def _build_product(path: Path, raw: dict[str, Any]) -> Product:
    protocol = _load_protocol(_reference(path, "/protocol", raw["protocol"]))
    metadata = None
    if "metadata" in raw:
        metadata = _reference(path, "/metadata", raw["metadata"])
    info = raw["info"]
    binding = raw.get("x-seed")
    product = Product(
        seed=None
        if binding is None
        else SeedBinding(
            binding["domains"],
            binding["streams"],
            binding["online"],
            binding.get("recordConfigs"),
        ),
        resources=_resources(raw),
        errors=_errors({"errorCodes": raw.get("x-errorCodes", {})}),
        default_checks=tuple(_check(c) for c in raw.get("x-defaultChecks", ())),
        name=info["product"],
        version=info["version"],
        style=info["style"],
        title=raw.get("title", info["product"]),
        path=path,
        default_endpoint=raw["defaultEndpoint"],
        endpoints={e["regionId"]: e["endpoint"] for e in raw["endpoints"]},
        ram_action_prefix=raw["ram"]["actionPrefix"],
        metadata_path=metadata,
        protocol=protocol,
        raw=raw,
    )
    problems = _product_problems(path, product)
    if problems:
        raise SpecError(problems)
    return product


def _product_problems(path: Path, product: Product) -> list[SpecProblem]:
    """The product's resource model and seed binding name resources and properties it has."""
    file = str(path)
    problems: list[SpecProblem] = []
    binding = product.seed
    if binding is not None:
        for key, name in (
            ("domains", binding.domains),
            ("streams", binding.streams),
            ("recordConfigs", binding.record_configs),
        ):
            if name is not None and name not in product.resources:
                problems.append(SpecProblem(file, f"/x-seed/{key}", f"{name!r} is not a resource"))
        streams = product.resources.get(binding.streams)
        if streams is not None and binding.online not in streams.properties:
            problems.append(
                SpecProblem(
                    file,
                    "/x-seed/online",
                    f"{binding.online!r} is not a property of {streams.name}",
                )
            )
    for name, resource in product.resources.items():
        for index, event in enumerate(resource.events):
            if event.property not in resource.properties:
                problems.append(
                    SpecProblem(
                        file,
                        f"/x-resources/{name}/events/{index}/property",
                        f"{event.property!r} is not a property of {name}",
                    )
                )
    return problems


def _load_product(path: Path) -> Product:
    return _product_cached(path, path.stat().st_mtime)


def _errors(raw: Mapping[str, Any]) -> tuple[ErrorCode, ...]:
    errors = []
    for status, entries in raw.get("errorCodes", {}).items():
        for entry in entries:
            errors.append(
                ErrorCode(
                    code=entry["errorCode"],
                    http_status=int(status),
                    message=entry.get("errorMessage", ""),
                    when=" ".join(str(entry.get("x-when", "")).split()),
                )
            )
    return tuple(errors)


def _ram(raw: Mapping[str, Any]) -> RamAction:
    ram = raw["x-ram"]
    level = ram.get("accessLevel", {})
    assessed = level.get("assessed", {})
    return RamAction(
        action=ram["action"],
        access_level=level.get("documented", "unknown"),
        writes=assessed.get("writes"),
        billable=assessed.get("billable"),
        resource_types=tuple(
            ResourceType(r["type"], r["arn"]) for r in ram.get("resourceTypes", ())
        ),
        condition_keys=tuple(
            ConditionKey(k["key"], k["type"]) for k in ram.get("conditionKeys", ())
        ),
        associated_actions=tuple(ram.get("associatedActions", ())),
        known="undocumented" not in ram,
    )


def _flow(raw: Mapping[str, Any]) -> FlowControl:
    flow = raw["x-flowControl"]
    on_exceed = flow.get("onExceed", {})
    return FlowControl(
        limit=flow["limit"],
        per=flow["per"],
        scope=flow["scope"],
        throttle_code=on_exceed.get("errorCode"),
        throttle_status=on_exceed.get("httpStatus"),
        default_algorithm=flow.get("algorithm", {}).get("emulatorDefault"),
    )


def _lifecycle(raw: Mapping[str, Any], product: Product) -> Lifecycle | None:
    life = raw.get("x-lifecycle")
    if life is None:
        return None
    resource = product.resources.get(life["resource"])
    produces = life.get("produces")
    copy = produces.get("copy") if produces else None
    transitions = []
    for documented in (True, False):
        for t in life["transitions"]["documented" if documented else "undocumented"]:
            transitions.append(
                Transition(
                    source=t["from"],
                    trigger=t["trigger"],
                    target=t.get("to"),
                    error=t.get("error"),
                    documented=documented,
                    start_timer=t.get("startTimer"),
                    produces_file=bool(t.get("producesFile", False)),
                    accepts=tuple(t.get("accepts", ())),
                    note=t.get("note"),
                    undocumented=t.get("undocumented"),
                )
            )
    events = life.get("events", {})
    return Lifecycle(
        resource=life["resource"],
        key=resource.identifiers if resource is not None else (),
        roles={e["role"]: name for name, e in events.items() if "role" in e},
        timer_sources={
            name: TimerSource(t["from"]["resource"], t["from"]["property"])
            for name, t in life.get("timers", {}).items()
            if "from" in t
        },
        produces=None
        if produces is None
        else Produces(
            produces["resource"],
            None if copy is None else copy["resource"],
            _match(None if copy is None else copy["match"]),
            tuple(() if copy is None else copy["properties"]),
            None
            if "span" not in produces
            else (
                produces["span"]["start"],
                produces["span"]["end"],
                produces["span"].get("duration"),
            ),
        ),
        initial=life["initial"],
        states=tuple(life["states"]),
        timers={name: float(t["seconds"]) for name, t in life.get("timers", {}).items()},
        events=tuple(events),
        timer_events={name: e["timer"] for name, e in events.items() if "timer" in e},
        transitions=tuple(transitions),
    )


def _build_operation(path: Path, raw: dict[str, Any]) -> Operation:
    product = _load_product(_reference(path, "/product", raw["product"]))
    parameters = tuple(parameter_from_raw(p) for p in raw["parameters"])
    operation = Operation(
        name=raw["name"],
        path=path,
        product=product,
        title=raw.get("title", raw["name"]),
        summary=" ".join(str(raw.get("summary", "")).split()),
        description=" ".join(str(raw.get("description", "")).split()),
        methods=tuple(m.upper() for m in raw["methods"]),
        schemes=tuple(raw["schemes"]),
        operation_type=raw.get("systemTags", {}).get("operationType"),
        parameters=parameters,
        success_schema=raw["responses"]["200"]["schema"],
        errors=_errors(raw),
        checks=tuple(_check(c) for c in raw["x-checks"])
        if "x-checks" in raw
        else product.default_checks,
        ram=_ram(raw),
        flow_control=_flow(raw),
        lifecycle=_lifecycle(raw, product),
        effect=_effect(raw.get("x-effect")),
        undocumented=tuple(_undocumented(raw))
        + tuple(
            Undocumented(f"{product.protocol.path.name}#{u.pointer}", u.text)
            for u in _undocumented(product.protocol.raw)
        ),
        raw=raw,
    )
    used = {c for check in operation.checks for c in check.codes}
    if operation.effect is not None:
        used.update(operation.effect.codes)
    own = {e.code for e in operation.errors}
    operation = replace(
        operation,
        product_errors=tuple(e for e in product.errors if e.code in used and e.code not in own),
    )
    problems = _semantic_problems(path, operation)
    if problems:
        raise SpecError(problems)
    return operation


def _semantic_problems(path: Path, op: Operation) -> list[SpecProblem]:
    """Checks the meta-schema cannot express: cross-references between parts of the spec."""
    file = str(path)
    problems: list[SpecProblem] = []
    own_codes = {e.code for e in op.errors}
    all_codes = set(op.all_error_codes)

    names = [p.name for p in op.parameters]
    # Control characters are refused only where the spec says so (x-checks malformedParameter).
    forbid_control = op.refuses_control_characters
    for index, parameter in enumerate(op.parameters):
        pointer = f"/parameters/{index}/schema"
        if names.count(parameter.name) > 1:
            problems.append(
                SpecProblem(
                    file,
                    f"/parameters/{index}/name",
                    f"the parameter {parameter.name} is declared twice",
                )
            )
        if parameter.example is not None and parameter.type in ("string", "integer", "boolean"):
            example = parameter.example
            wire = str(example).lower() if isinstance(example, bool) else str(example)
            reason = _value_problem(parameter, wire, forbid_control=forbid_control)
            if reason is not None:
                problems.append(
                    SpecProblem(
                        file, f"{pointer}/example", f"the example is not a valid value: {reason}"
                    )
                )
        if parameter.enum is not None and parameter.type == "integer":
            for position, value in enumerate(parameter.enum):
                if not re.fullmatch(r"-?[0-9]+", value):
                    problems.append(
                        SpecProblem(
                            file, f"{pointer}/enum/{position}", f"{value!r} is not an integer"
                        )
                    )

    seen_codes: dict[str, int] = {}
    for error in op.errors:
        if error.code in seen_codes and seen_codes[error.code] != error.http_status:
            problems.append(
                SpecProblem(
                    file,
                    "/errorCodes",
                    f"the error code {error.code} is declared under two HTTP statuses",
                )
            )
        seen_codes[error.code] = error.http_status

    known_codes = own_codes | {e.code for e in op.product_errors}
    known_codes |= {e.code for e in op.protocol.gateway_errors}
    checks_from = (
        "/x-checks" if "x-checks" in op.raw else f"{op.product.path.name}#/x-defaultChecks"
    )
    problems.extend(_check_problems(file, op, checks_from, known_codes))
    if op.effect is not None:
        problems.extend(_effect_problems(file, op, known_codes))

    flow = op.flow_control
    if flow.throttle_code is not None:
        try:
            gateway = op.protocol.gateway_error(flow.throttle_code)
        except KeyError:
            problems.append(
                SpecProblem(
                    file,
                    "/x-flowControl/onExceed/errorCode",
                    f"{flow.throttle_code} is not a gateway error of protocol {op.protocol.name}",
                )
            )
        else:
            if flow.throttle_status not in gateway.statuses:
                problems.append(
                    SpecProblem(
                        file,
                        "/x-flowControl/onExceed/httpStatus",
                        f"the protocol gives {gateway.code} the status {gateway.http_status}, "
                        f"not {flow.throttle_status}",
                    )
                )

    prefix = op.product.ram_action_prefix
    if not op.ram.action.lower().startswith(prefix.lower() + ":"):
        problems.append(
            SpecProblem(file, "/x-ram/action", f"the RAM action must start with {prefix}:")
        )
    for index, resource in enumerate(op.ram.resource_types):
        for name in resource.placeholders:
            if name != "accountId" and name not in names:
                problems.append(
                    SpecProblem(
                        file,
                        f"/x-ram/resourceTypes/{index}/arn",
                        f"the placeholder {{#{name}}} names neither a parameter nor accountId",
                    )
                )
        if re.search(r"\{(?!#)[^}]*\}", resource.arn_template):
            problems.append(
                SpecProblem(
                    file,
                    f"/x-ram/resourceTypes/{index}/arn",
                    "placeholders are written {#Name}; this template has a brace without #",
                )
            )

    if op.lifecycle is not None:
        problems.extend(_lifecycle_problems(file, op, all_codes))
    return problems


def _match_problems(
    file: str, pointer: str, op: Operation, resource: str, match: Match, refs: set[str]
) -> list[SpecProblem]:
    """A match's fields must be the resource's, and its `$Name` values name known fields."""
    problems: list[SpecProblem] = []
    target = op.product.resources.get(resource)
    if target is None:
        return [SpecProblem(file, pointer, f"{resource!r} is not a resource of the product")]
    fields = set(target.fields)
    for name, values in match.items():
        if name not in fields:
            problems.append(
                SpecProblem(file, f"{pointer}/{name}", f"{name!r} is not a field of {resource}")
            )
        for value in values:
            if isinstance(value, str) and value.startswith("$") and value[1:] not in refs:
                problems.append(
                    SpecProblem(
                        file, f"{pointer}/{name}", f"{value!r} names no parameter of {op.name}"
                    )
                )
    return problems


def _check_problems(
    file: str, op: Operation, base: str, known_codes: set[str]
) -> list[SpecProblem]:
    problems: list[SpecProblem] = []
    names = {p.name for p in op.parameters}
    seen: set[str] = set()
    for index, check in enumerate(op.checks):
        pointer = f"{base}/{index}"
        kind = CHECK_KINDS.get(check.check)
        if kind is None:
            problems.append(
                SpecProblem(
                    file,
                    f"{pointer}/check",
                    f"{check.check!r} is not a kind of check; the kinds are "
                    f"{', '.join(sorted(CHECK_KINDS))}",
                )
            )
            continue
        if check.id in seen:
            problems.append(
                SpecProblem(file, pointer, f"a second check named {check.id!r}; give it a name")
            )
        seen.add(check.id)
        for option in kind.options:
            if option not in check.options:
                problems.append(
                    SpecProblem(file, pointer, f"a {check.check} check needs {option!r}")
                )
        allowed = set(kind.options) | set(kind.optional) | ({"errors"} if kind.errors else set())
        for option in check.options:
            if option not in allowed:
                problems.append(
                    SpecProblem(
                        file, f"{pointer}/{option}", f"a {check.check} check takes no {option!r}"
                    )
                )
        if kind.errors:
            errors = dict(check.options.get("errors", {}))
            if not errors and not check.code:
                problems.append(
                    SpecProblem(file, pointer, f"a {check.check} check needs errorCode or errors")
                )
            for key in errors:
                if key not in kind.errors:
                    problems.append(
                        SpecProblem(
                            file,
                            f"{pointer}/errors/{key}",
                            f"{key!r} is not one of {', '.join(kind.errors)}",
                        )
                    )
        elif not check.code:
            problems.append(SpecProblem(file, pointer, f"a {check.check} check needs errorCode"))
        for code in check.codes:
            if code not in known_codes:
                problems.append(
                    SpecProblem(
                        file,
                        pointer,
                        f"{code} is neither an error code of the operation, of the product nor of "
                        "the gateway",
                    )
                )
        for option in ("parameter", "start", "end"):
            value = check.options.get(option)
            if value is not None and value not in names:
                problems.append(
                    SpecProblem(file, f"{pointer}/{option}", f"{value!r} is not a parameter")
                )
        resource = check.options.get("resource")
        if isinstance(resource, str):
            for option in ("match", "where"):
                match = check.options.get(option)
                if match:
                    problems.extend(
                        _match_problems(file, f"{pointer}/{option}", op, resource, match, names)
                    )
    return problems


def _response_node(schema: Mapping[str, Any], path: str) -> Mapping[str, Any] | None:
    """The schema at a dotted path of object properties (`A.B`), or None."""
    node: Any = schema
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get("properties", {}).get(part)
    return node if isinstance(node, Mapping) else None


def _effect_problems(file: str, op: Operation, known_codes: set[str]) -> list[SpecProblem]:
    effect = op.effect
    assert effect is not None
    base = "/x-effect"
    problems: list[SpecProblem] = []
    names = {p.name for p in op.parameters}
    resource = op.product.resources.get(effect.resource)
    if resource is None:
        return [SpecProblem(file, f"{base}/resource", f"{effect.resource!r} is not a resource")]
    fields = set(resource.fields)
    for code in effect.codes:
        if code not in known_codes:
            problems.append(
                SpecProblem(
                    file,
                    base,
                    f"{code} is neither an error code of the operation, of "
                    "the product nor of the gateway",
                )
            )
    for index, requirement in enumerate(effect.requires):
        problems.extend(
            _match_problems(
                file,
                f"{base}/requires/{index}/match",
                op,
                requirement.resource,
                requirement.match,
                names,
            )
        )
    if effect.match:
        problems.extend(
            _match_problems(file, f"{base}/match", op, effect.resource, effect.match, names)
        )
    if effect.where:
        problems.extend(
            _match_problems(file, f"{base}/where", op, effect.resource, effect.where, names)
        )
    for name in effect.defaults:
        if name not in fields:
            problems.append(
                SpecProblem(
                    file, f"{base}/defaults/{name}", f"{name!r} is not a field of {effect.resource}"
                )
            )
    if effect.kind in ("create", "update", "delete", "lifecycle"):
        for identifier in resource.identifiers:
            if identifier not in names and identifier not in effect.defaults:
                problems.append(
                    SpecProblem(
                        file,
                        f"{base}/resource",
                        f"the identifier {identifier} of {effect.resource} is neither a "
                        "parameter nor in defaults",
                    )
                )
    if effect.kind == "read" and not effect.match:
        problems.append(SpecProblem(file, base, "a read effect needs a match"))
    if effect.kind == "lifecycle" and (
        op.lifecycle is None or op.lifecycle.resource != effect.resource
    ):
        problems.append(
            SpecProblem(file, base, "a lifecycle effect needs an x-lifecycle of the same resource")
        )
    if effect.kind == "list" and effect.items is None:
        problems.append(SpecProblem(file, f"{base}/response", "a list effect needs items"))
    for index, item in enumerate(effect.filters):
        if item.property not in fields:
            problems.append(
                SpecProblem(
                    file,
                    f"{base}/filter/{index}",
                    f"{item.property!r} is not a field of {effect.resource}",
                )
            )
        for parameter in (item.parameter, item.mode_parameter):
            if parameter is not None and parameter not in names:
                problems.append(
                    SpecProblem(file, f"{base}/filter/{index}", f"{parameter!r} is not a parameter")
                )
    if effect.window is not None:
        for parameter in effect.window:
            if parameter not in names:
                problems.append(
                    SpecProblem(file, f"{base}/window", f"{parameter!r} is not a parameter")
                )
    if effect.paging is not None:
        paging = effect.paging
        for parameter in (paging.page_num, paging.page_size, paging.order):
            if parameter is not None and parameter not in names:
                problems.append(
                    SpecProblem(file, f"{base}/paging", f"{parameter!r} is not a parameter")
                )
        if paging.order_by is not None and paging.order_by not in fields:
            problems.append(
                SpecProblem(
                    file,
                    f"{base}/paging/orderBy",
                    f"{paging.order_by!r} is not a field of {effect.resource}",
                )
            )
    for key in ("items", "item"):
        path = getattr(effect, key)
        if path is None:
            continue
        node = _response_node(op.success_schema, path)
        expected = "array" if key == "items" else "object"
        if node is None or node.get("type") != expected:
            problems.append(
                SpecProblem(
                    file,
                    f"{base}/response/{key}",
                    f"{path} is not an {expected} of the success response",
                )
            )
    return problems


def _lifecycle_problems(file: str, op: Operation, all_codes: set[str]) -> list[SpecProblem]:
    life = op.lifecycle
    assert life is not None
    problems: list[SpecProblem] = []
    names = {p.name for p in op.parameters}
    states = set(life.states)
    if life.initial not in states:
        problems.append(
            SpecProblem(file, "/x-lifecycle/initial", f"{life.initial!r} is not a state")
        )
    resource = op.product.resources.get(life.resource)
    if resource is None:
        problems.append(
            SpecProblem(file, "/x-lifecycle/resource", f"{life.resource!r} is not a resource")
        )
    elif resource.lifecycle != op.name:
        problems.append(
            SpecProblem(
                file,
                "/x-lifecycle/resource",
                f"the resource {life.resource} names {resource.lifecycle!r} as its lifecycle, "
                f"not {op.name}",
            )
        )
    for key in life.key:
        if key not in names:
            problems.append(
                SpecProblem(
                    file, "/x-lifecycle/resource", f"the identifier {key!r} is not a parameter"
                )
            )
    roles = {e.role for r in op.product.resources.values() for e in r.events}
    for role, event in life.roles.items():
        if role not in roles:
            problems.append(
                SpecProblem(
                    file,
                    f"/x-lifecycle/events/{event}/role",
                    f"no resource of the product declares the role {role!r}",
                )
            )
    if life.produces is not None:
        produced = life.produces
        if produced.resource not in op.product.resources:
            problems.append(
                SpecProblem(
                    file, "/x-lifecycle/produces", f"{produced.resource!r} is not a resource"
                )
            )
        target = op.product.resources.get(produced.resource)
        for name in produced.span or ():
            if name is not None and target is not None and name not in target.properties:
                problems.append(
                    SpecProblem(
                        file,
                        "/x-lifecycle/produces/span",
                        f"{name!r} is not a property of {produced.resource}",
                    )
                )
        if produced.copy_resource is not None:
            problems.extend(
                _match_problems(
                    file,
                    "/x-lifecycle/produces/copy/match",
                    op,
                    produced.copy_resource,
                    produced.copy_match,
                    set(life.key),
                )
            )
    for timer, source in life.timer_sources.items():
        target = op.product.resources.get(source.resource)
        if target is None or source.property not in target.properties:
            problems.append(
                SpecProblem(
                    file,
                    f"/x-lifecycle/timers/{timer}/from",
                    f"{source.resource}.{source.property} is not a resource property",
                )
            )
    for event, timer in life.timer_events.items():
        if timer not in life.timers:
            problems.append(
                SpecProblem(file, f"/x-lifecycle/events/{event}/timer", f"{timer!r} is not a timer")
            )
    command = op.command_parameter
    commands = set(command.enum or ()) if command is not None else set()
    if command is None:
        problems.append(
            SpecProblem(
                file,
                "/x-lifecycle/transitions",
                "no parameter's enum lists the lifecycle's commands (every trigger that is not "
                "an event must be a value of one enum parameter)",
            )
        )
    triggers = commands | set(life.events)
    counters = {"documented": 0, "undocumented": 0}
    seen: set[tuple[str, str]] = set()
    for transition in life.transitions:
        group = "documented" if transition.documented else "undocumented"
        pointer = f"/x-lifecycle/transitions/{group}/{counters[group]}"
        counters[group] += 1
        if transition.source not in states:
            problems.append(
                SpecProblem(file, f"{pointer}/from", f"{transition.source!r} is not a state")
            )
        if transition.target is not None and transition.target not in states:
            problems.append(
                SpecProblem(file, f"{pointer}/to", f"{transition.target!r} is not a state")
            )
        if transition.trigger not in triggers:
            problems.append(
                SpecProblem(
                    file,
                    f"{pointer}/trigger",
                    f"{transition.trigger!r} is neither a command ({', '.join(sorted(commands))}) "
                    "nor an event",
                )
            )
        if transition.error is not None and transition.error not in {e.code for e in op.errors}:
            problems.append(
                SpecProblem(
                    file, f"{pointer}/error", f"{transition.error} is not a declared error code"
                )
            )
        for position, outcome in enumerate(transition.accepts):
            if outcome != _LIFECYCLE_OK and outcome not in all_codes:
                problems.append(
                    SpecProblem(
                        file,
                        f"{pointer}/accepts/{position}",
                        f"{outcome!r} is neither {_LIFECYCLE_OK!r} nor a documented error code",
                    )
                )
        if transition.start_timer is not None and transition.start_timer not in life.timers:
            problems.append(
                SpecProblem(
                    file, f"{pointer}/startTimer", f"{transition.start_timer!r} is not a timer"
                )
            )
        pair = (transition.source, transition.trigger)
        if pair in seen:
            problems.append(
                SpecProblem(
                    file,
                    pointer,
                    f"a second transition for {transition.trigger} in state {transition.source}",
                )
            )
        seen.add(pair)
    for state in sorted(states):
        for cmd in sorted(commands):
            if (state, cmd) not in seen:
                problems.append(
                    SpecProblem(
                        file,
                        "/x-lifecycle/transitions",
                        f"no transition says what {cmd} does in state {state}; add it, under "
                        "undocumented if the documentation does not say",
                    )
                )
    return problems


@functools.cache
def _operation_cached(path: Path, mtime: float) -> Operation:
    return _build_operation(path, _checked(path, "operation"))


def load_operation(path: Path) -> Operation:
    """Load, validate and build one operation spec file; raise SpecError if it is invalid."""
    resolved = path.resolve()
    try:
        mtime = resolved.stat().st_mtime
    except OSError:
        raise SpecError([SpecProblem(str(path), "", "the file does not exist")]) from None
    return _operation_cached(resolved, mtime)


def resolve_operation(name: str, spec_dir: Path | None = None) -> Path:
    """Find an operation's spec file from `product/version/Name` or a plain unambiguous `Name`."""
    root = spec_dir if spec_dir is not None else bundled_spec_dir()
    candidate = Path(name)
    if candidate.suffix in _SPEC_SUFFIXES and candidate.is_file():
        return candidate
    parts = name.strip("/").split("/")
    if len(parts) == 3:
        matches = [root / parts[0] / parts[1] / f"{parts[2]}{suffix}" for suffix in _SPEC_SUFFIXES]
        matches = [m for m in matches if m.is_file()]
    elif len(parts) == 1 and re.fullmatch(r"[A-Za-z0-9]+", name):
        matches = sorted(p for p in root.glob(f"*/*/{name}.y*ml") if p.suffix in _SPEC_SUFFIXES)
    else:
        raise UsageError(
            f"{name!r} is not an operation name; write product/version/Name, for example "
            "live/2016-11-01/RealTimeRecordCommand, or a plain Name."
        )
    if not matches:
        known = sorted(
            {p.stem for p in root.glob("*/*/*.y*ml") if p.suffix in _SPEC_SUFFIXES} - {"product"}
        )
        plain = parts[-1]
        close = [n for n in known if n.lower() == plain.lower()]
        close += [n for n in difflib.get_close_matches(plain, known, n=3) if n not in close]
        hint = f"; did you mean {', '.join(close)}?" if close else "."
        raise UsageError(f"there is no operation {name!r} in {root}{hint}")
    if len(matches) > 1:
        options = ", ".join(str(m.relative_to(root).with_suffix("")) for m in matches)
        raise UsageError(f"{name!r} is ambiguous; write one of: {options}.")
    return matches[0]
