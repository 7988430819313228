"""Import Alibaba's official `api-docs.json` metadata into spec files.

The metadata carries identity, parameters, the success response and error codes. It carries no RAM
facts: imported specs mark them as unknown (`undocumented`) instead of inventing them. Flow control
is read from the operation's description, where Alibaba's pages state it in one fixed sentence
("本接口的单用户QPS限制为50次/秒", "...无单用户QPS限制"); where the description says nothing, the
limit is unknown. The result of an import validates like a hand-written spec.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from acscontract._files import read_regular_bytes
from acscontract._signals import stop_signals_deferred
from acscontract.errors import InputError, UsageError
from acscontract.spec._loader import bundled_spec_dir, parameter_from_raw
from acscontract.spec._model import _value_problem

__all__ = ["ImportResult", "import_metadata", "operation_from_metadata"]

# Fields of a metadata operation that a spec carries unchanged.
_COPIED_FIELDS = (
    "title",
    "summary",
    "description",
    "methods",
    "schemes",
    "security",
    "systemTags",
    "deprecated",
    "operationType",
    "staticInfo",
    "extraInfo",
    "requestParamsDescription",
    "responseParamsDescription",
    "responseDemo",
)
_PARAMETER_SCHEMA_FIELDS = (
    "type",
    "format",
    "required",
    "docRequired",
    "description",
    "title",
    "example",
    "default",
    "enum",
    "items",
    "properties",
    "additionalProperties",
    "maxItems",
    "minItems",
    "maxLength",
    "minLength",
    "minimum",
    "maximum",
    "pattern",
)
_UNKNOWN_RAM = (
    "The official metadata carries no RAM facts (access level, resource types, condition keys); "
    "they are unknown until someone documents them in this spec."
)
_UNKNOWN_FLOW = (
    "The operation's documentation states no flow-control limit; it is unknown, and the emulator "
    "does not throttle the operation."
)
_NO_LIMIT = (
    "The documentation says the operation has no per-user QPS limit; the emulator does not "
    "throttle it."
)
# How Alibaba's operation pages state the per-user limit: "单用户QPS限制为50次/秒" (per second) or
# "...为1000次/分钟" (per minute); "无单用户QPS限制" says there is none.
_QPS_LIMIT = re.compile(r"单用户QPS限制为\s*([0-9]+)\s*次/(秒|分钟)")
_QPS_NONE = "无单用户QPS限制"
_QPS_UNITS = {"秒": "second", "分钟": "minute"}
_PROTOCOL_FILE = Path("protocols") / "rpc.yaml"


# The part of api-docs.json the importer reads, as JSON Schema. Names become file and folder
# names, so they are single path segments: letters, digits, `.`, `_`, `-`, not starting with `.`.
_NAME = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"}
_METADATA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["info", "apis"],
    "properties": {
        "info": {
            "type": "object",
            "required": ["style", "product", "version"],
            "properties": {"style": {"type": "string"}, "product": _NAME, "version": _NAME},
        },
        "apis": {
            "type": "object",
            "propertyNames": _NAME,
            "additionalProperties": {
                "type": "object",
                "properties": {
                    "description": {"type": "string"},
                    "parameters": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["name", "in", "schema"],
                            "properties": {
                                "name": {"type": "string"},
                                "in": {"type": "string"},
                                "schema": {"type": "object"},
                            },
                        },
                    },
                    "responses": {
                        "type": "object",
                        "properties": {
                            "200": {
                                "type": "object",
                                "properties": {"schema": {"type": "object"}},
                            }
                        },
                    },
                },
            },
        },
        "endpoints": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["regionId", "endpoint"],
                "properties": {"regionId": {"type": "string"}, "endpoint": {"type": "string"}},
            },
        },
    },
}


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import wrote."""

    product_file: Path
    operation_files: tuple[Path, ...]
    skipped_examples: tuple[str, ...]


def _load_metadata(path: Path) -> dict[str, Any]:
    try:
        raw = read_regular_bytes(path)
    except OSError as exc:
        raise InputError(str(path), f"cannot read the metadata file: {exc.strerror}.") from None
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(
            str(path), f"the metadata is not valid JSON ({exc}); give an api-docs.json file."
        ) from None
    except RecursionError:
        raise InputError(str(path), "the metadata is JSON nested too deeply to read.") from None
    if not isinstance(data, dict) or not isinstance(data.get("apis"), dict):
        raise InputError(
            str(path), "this is not Alibaba api-docs.json metadata: it has no `apis` mapping."
        )
    info = data.get("info")
    if not isinstance(info, dict) or not {"product", "version", "style"} <= info.keys():
        raise InputError(
            str(path), "the metadata's `info` must give `product`, `version` and `style`."
        )
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    error = best_match(Draft202012Validator(_METADATA_SCHEMA).iter_errors(data))
    if error is not None:
        pointer = "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in error.path)
        shown = error.message if len(error.message) <= 200 else error.message[:197] + "..."
        raise InputError(
            f"{path}:{pointer}", f"the metadata is not in the shape api-docs.json has ({shown})."
        )
    return data


def _parameter(raw: Mapping[str, Any], skipped: list[str], where: str) -> dict[str, Any]:
    schema = {k: raw["schema"][k] for k in _PARAMETER_SCHEMA_FIELDS if k in raw["schema"]}
    parameter: dict[str, Any] = {"name": raw["name"], "in": raw["in"], "schema": schema}
    example = schema.get("example")
    if example is not None and schema.get("type") in ("string", "integer", "boolean"):
        wire = str(example).lower() if isinstance(example, bool) else str(example)
        try:
            reason = _value_problem(parameter_from_raw(parameter), wire, forbid_control=False)
        except (TypeError, ValueError) as exc:
            reason = str(exc)
        if reason is not None:
            # Kept for the record under an extension key: a spec's example must be a valid value.
            skipped.append(f"{where}: the published example is not a valid value: {reason}")
            schema["x-exampleAsPublished"] = schema.pop("example")
    for key in ("style", "allowEmptyValue"):
        if key in raw:
            parameter[key] = raw[key]
    return parameter


def operation_from_metadata(
    name: str, api: Mapping[str, Any], prefix: str, skipped: list[str] | None = None
) -> dict[str, Any]:
    """Convert one metadata operation into a spec document (a dict ready to dump as YAML)."""
    skipped = skipped if skipped is not None else []
    document: dict[str, Any] = {
        "specVersion": "1",
        "kind": "operation",
        "product": "product.yaml",
        "name": name,
    }
    for key in _COPIED_FIELDS:
        if key in api:
            document[key] = api[key]
    document["parameters"] = [
        _parameter(p, skipped, f"{name}/parameters/{i}")
        for i, p in enumerate(api.get("parameters", []))
    ]
    document["responses"] = {
        "200": {"schema": api.get("responses", {}).get("200", {}).get("schema", {})}
    }
    if "errorCodes" in api:
        document["errorCodes"] = api["errorCodes"]
    document["x-ram"] = {"action": f"{prefix}:{name}", "undocumented": _UNKNOWN_RAM}
    document["x-flowControl"] = flow_control_from_description(str(api.get("description", "")))
    unknown = ["x-ram"]
    if document["x-flowControl"]["limit"] is None and _QPS_NONE not in api.get("description", ""):
        unknown.append("x-flowControl")
    document["x-imported"] = {"from": "Alibaba api-docs.json", "unknown": unknown}
    return document


def flow_control_from_description(description: str) -> dict[str, Any]:
    """The `x-flowControl` block an operation's documentation supports.

    A stated limit becomes a documented per-account limit, refused with the protocol's user flow
    control error; an explicit "no limit", or silence, becomes `limit: null` with the reason.
    """
    found = _QPS_LIMIT.search(description)
    if found is None:
        reason = _NO_LIMIT if _QPS_NONE in description else _UNKNOWN_FLOW
        return {"limit": None, "per": "second", "scope": "account", "undocumented": reason}
    return {
        "limit": int(found.group(1)),
        "per": _QPS_UNITS[found.group(2)],
        "scope": "account",
        "x-source": "doc",
        "sharedBy": "every AccessKey of the account",
    }


def _product_document(data: Mapping[str, Any], metadata_name: str) -> dict[str, Any]:
    info = data["info"]
    endpoints = data.get("endpoints") or []
    default = next((e["endpoint"] for e in endpoints), f"{info['product']}.aliyuncs.com")
    return {
        "specVersion": "1",
        "kind": "product",
        "protocol": "../../protocols/rpc.yaml",
        "info": {"style": info["style"], "product": info["product"], "version": info["version"]},
        "title": info["product"],
        "defaultEndpoint": default,
        "metadata": f"../../_meta/{metadata_name}",
        "ram": {"actionPrefix": info["product"]},
        "endpoints": [{"regionId": e["regionId"], "endpoint": e["endpoint"]} for e in endpoints]
        or [{"regionId": "default", "endpoint": default}],
    }


def _yaml(document: Any, header: str) -> str:
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, delete=False, suffix=".tmp"
    ) as handle:
        handle.write(text)
    os.replace(handle.name, path)


def import_metadata(
    metadata: Path, out_dir: Path, apis: Sequence[str] | None = None
) -> ImportResult:
    """Write spec files for the metadata's operations (all, or those named) under `out_dir`.

    Writes `<out>/<product>/<version>/product.yaml` and one file per operation, a copy of the
    protocol file at `<out>/protocols/rpc.yaml`, and the metadata itself under `<out>/_meta/`, so
    the result is self-contained and `acscontract spec validate <out>` works on it.
    """
    data = _load_metadata(metadata)
    info = data["info"]
    if info["style"] != "RPC":
        raise UsageError(
            f"{metadata}: only RPC products can be imported; this one is {info['style']}."
        )
    names = sorted(data["apis"])
    if apis:
        unknown = [a for a in apis if a not in data["apis"]]
        if unknown:
            raise UsageError(
                f"{metadata} has no operation named {', '.join(unknown)}; it has {len(names)} "
                "operations (see the keys of `apis`)."
            )
        names = list(dict.fromkeys(apis))
    product_dir = out_dir / info["product"] / info["version"]
    header = (
        f"# Imported from Alibaba's official metadata ({metadata.name}) by `acscontract spec "
        "import`.\n# RAM facts are not in the metadata: they are marked unknown. Flow control "
        "comes from the\n# operation's description where it states a limit.\n"
    )
    product_file = product_dir / "product.yaml"
    # Every file is converted before any is written: an operation that cannot be converted (or
    # an interruption while converting, the slow part) leaves the folder as it was.
    skipped: list[str] = []
    texts = [(product_file, _yaml(_product_document(data, metadata.name), header))]
    for name in names:
        try:
            document = operation_from_metadata(name, data["apis"][name], info["product"], skipped)
            texts.append((product_dir / f"{name}.yaml", _yaml(document, header)))
        except RecursionError:
            raise InputError(
                f"{metadata}:/apis/{name}", "the operation is nested too deeply to convert."
            ) from None
    protocol_target = out_dir / _PROTOCOL_FILE
    protocol_source = bundled_spec_dir() / _PROTOCOL_FILE
    meta_target = out_dir / "_meta" / metadata.name
    with stop_signals_deferred():  # a Ctrl+C now waits for the last file, then stops the import
        if protocol_target.resolve() != protocol_source.resolve():
            _write(protocol_target, protocol_source.read_text(encoding="utf-8"))
        if meta_target.resolve() != metadata.resolve():
            meta_target.parent.mkdir(parents=True, exist_ok=True)
            meta_target.write_bytes(metadata.read_bytes())
        for path, text in texts:
            _write(path, text)
    written = [path for path, _ in texts[1:]]
    return ImportResult(product_file, tuple(written), tuple(skipped))
