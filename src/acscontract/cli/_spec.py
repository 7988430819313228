"""`acscontract spec ...`: validate, show, export and import operation specs."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from acscontract import spec as spec_api
from acscontract.cli._text import BOLD, Out, printable
from acscontract.errors import AcsContractError, InputError, UsageError

__all__ = ["spec"]


@click.group()
def spec() -> None:
    """Validate, show, export and import operation specs."""


@spec.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def validate(paths: tuple[Path, ...]) -> int:
    """Validate spec files (folders are searched recursively; default: the bundled spec).

    Exit 0 when every file is valid, 1 when any is not (one `file:pointer: message` line per
    problem), 2 when a path cannot be read.
    """
    targets = list(paths) or [spec_api.bundled_spec_dir()]
    files = spec_api.find_spec_files(targets)
    problems = spec_api.validate_paths(targets)
    for problem in problems:
        click.echo(printable(str(problem)))
    bad_files = len({p.file for p in problems})
    if problems:
        noun = "problem" if len(problems) == 1 else "problems"
        click.echo(f"{len(problems)} {noun} in {bad_files} of {len(files)} spec files.")
        return 2 if any(p.unreadable for p in problems) else 1
    if not files:
        raise InputError(", ".join(map(str, targets)), "no spec files (*.yaml) found there.")
    click.echo(f"{len(files)} spec files are valid.")
    return 0


def _jsonable(value: Any, root: Path) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _jsonable(getattr(value, f.name), root)
            for f in dataclasses.fields(value)
            if f.name != "raw" and not f.name.startswith("_")  # memos are not the spec
        }
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v, root) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v, root) for v in value]
    if isinstance(value, Path):
        return value.relative_to(root).as_posix() if value.is_relative_to(root) else str(value)
    return value


def normalized(op: spec_api.Operation) -> dict[str, Any]:
    """The operation as plain JSON data, with product and protocol resolved. Its files are
    named relative to the spec folder (the one holding `protocols/`), so that the data does not
    depend on where the spec is installed."""
    data: dict[str, Any] = _jsonable(op, op.protocol.path.parent.parent)
    data["qualifiedName"] = op.qualified_name
    data["requestSchema"] = spec_api.request_schema(op)
    return data


def _print_text(op: spec_api.Operation) -> None:
    out = Out()
    product = op.product
    summary = printable(op.summary) if op.summary else "(no documented summary)"
    out.line(f"{out.style(op.qualified_name, BOLD)}: {summary}")
    out.line(
        f"  {product.style} API, methods {', '.join(op.methods)}, schemes {', '.join(op.schemes)}, "
        f"endpoint {product.default_endpoint}, spec {op.path}"
    )
    out.line()
    rows = []
    for p in op.parameters:
        kind = p.type + (f" ({p.format})" if p.format else "")
        if p.enum:
            values = ", ".join(p.enum)
        elif p.example is not None:
            values = f"e.g. {p.example}"
        else:
            values = "(no documented example)"
        rows.append((p.name, kind, "yes" if p.required else "no", values))
    out.table("Parameters", ("name", "type", "required", "values / example"), rows)
    out.line()
    out.table(
        "Errors of the operation",
        ("HTTP", "code", "when"),
        [(str(e.http_status), e.code, e.when) for e in op.errors],
    )
    out.line()
    ram = op.ram
    resources = "; ".join(f"{r.type} {r.arn_template}" for r in ram.resource_types) or "unknown"
    effect = (
        f" (assessed: {'writes' if ram.writes else 'read-only'}"
        f"{', billable' if ram.billable else ''})"
        if ram.writes is not None
        else ""
    )
    out.line(
        f"{out.style('RAM', BOLD)} action {ram.action}, access level {ram.access_level}{effect}"
    )
    out.line(f"  resource: {resources}")
    own_keys = ", ".join(k.key for k in ram.condition_keys) or "none (global keys apply)"
    out.line(f"  condition keys: {own_keys}")
    flow = op.flow_control
    if not flow.limit:
        exceed = "undocumented (the emulator does not throttle it)"
    elif flow.throttle_code is not None:
        exceed = (
            f"{flow.limit} per {flow.per} per {flow.scope}; excess calls get "
            f"{flow.throttle_code} (HTTP {flow.throttle_status})"
        )
    else:  # the emulator answers the protocol's account throttling error then
        fallback = op.protocol.gateway_error_for("accountThrottled")
        exceed = (
            f"{flow.limit} per {flow.per} per {flow.scope}; the error for excess calls is "
            f"undocumented (the emulator answers {fallback.code}, HTTP {fallback.http_status})"
        )
    out.line(f"{out.style('Flow control', BOLD)} {exceed}")
    if op.lifecycle is not None:
        life = op.lifecycle
        rows = []
        for t in life.transitions:
            outcome = f"error {t.error}" if t.error else f"→ {t.target}"
            if t.start_timer:
                outcome += f", starts {t.start_timer} ({life.timers[t.start_timer]:g} s)"
            if t.produces_file:
                outcome += ", produces a file"
            rows.append((t.source, t.trigger, "yes" if t.documented else "undocumented", outcome))
        out.line()
        out.table(
            f"Lifecycle of a {life.entity} (initial state {life.initial})",
            ("state", "trigger", "documented", "outcome"),
            rows,
        )
    out.line()
    out.line(
        f"{out.style(f'{len(op.undocumented)} undocumented points', BOLD)} "
        "(`acscontract spec show --format json` lists them)."
    )


def coverage(product: spec_api.Product) -> dict[str, Any]:
    """What the emulator models of a product, and what it answers from the schema only."""
    modelled: list[dict[str, Any]] = []
    schema_only: list[str] = []
    for name in spec_api.operation_names(product):
        op = spec_api.product_operation(product, name)
        if op is None:  # pragma: no cover - the names come from the same folder
            continue
        if op.effect is None:
            schema_only.append(name)
        else:
            modelled.append(
                {
                    "operation": name,
                    "effect": op.effect.kind,
                    "resource": op.effect.resource,
                    "checks": [c.id for c in op.checks],
                }
            )
    return {
        "product": f"{product.name}/{product.version}",
        "operations": len(modelled) + len(schema_only),
        "modelled": modelled,
        "schemaOnly": schema_only,
    }


def _print_coverage(data: Mapping[str, Any]) -> None:
    import textwrap

    out = Out()
    modelled, schema_only = data["modelled"], data["schemaOnly"]
    out.line(
        f"{out.style(data['product'], BOLD)}: {data['operations']} operations, "
        f"{len(modelled)} modelled (their effect runs on the emulator's world), "
        f"{len(schema_only)} schema-only (answered from the response schema and examples)."
    )
    out.line()
    out.table(
        "Modelled",
        ("operation", "effect", "resource", "checks"),
        [(i["operation"], i["effect"], i["resource"], ", ".join(i["checks"])) for i in modelled],
    )
    out.line()
    out.line(out.style("Schema-only", BOLD))
    for line in textwrap.wrap(", ".join(schema_only), out.width - 2):
        out.line("  " + line)


def _product_named(name: str) -> spec_api.Product:
    """The bundled product `name` names: `live/2016-11-01`, `live` (its one bundled version), or
    an operation of it (`RealTimeRecordCommand`, `live/2016-11-01/RealTimeRecordCommand`)."""
    root = spec_api.bundled_spec_dir()
    found = sorted(p.parent.relative_to(root).as_posix() for p in root.glob("*/*/product.yaml"))
    parts = name.strip("/").split("/")
    if all(p and p not in (".", "..") for p in parts):
        versions = [f for f in found if f.partition("/")[0] == parts[0]]
        if len(parts) == 1 and len(versions) == 1:
            return spec_api.product(versions[0])
        if len(parts) >= 2 and "/".join(parts[:2]) in found:
            return spec_api.product("/".join(parts[:2]))
        if len(parts) == 1 and not versions:
            with contextlib.suppress(AcsContractError):  # not an operation either
                return spec_api.operation(name).product
    raise UsageError(
        f"{name!r} names no product: give a product ({', '.join(found)}), with or without its "
        "version, or one of its operations."
    )


@spec.command("show")
@click.argument("operation", default=spec_api.DEFAULT_OPERATION)
@click.option(
    "--format", "fmt", type=click.Choice(["json", "text"]), default="text", show_default=True
)
@click.option(
    "--coverage",
    "coverage_",
    is_flag=True,
    help="List the product's operations the emulator models and those it answers schema-only "
    "(OPERATION then names the product, live or live/2016-11-01, or one of its operations).",
)
def show(operation: str, fmt: str, coverage_: bool) -> int:
    """Show an operation's spec (OPERATION is product/version/Name or a plain Name)."""
    if coverage_:
        data = coverage(_product_named(operation))
        if fmt == "json":
            click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        else:
            _print_coverage(data)
        return 0
    op = spec_api.load_operation(spec_api.resolve_operation(operation))
    if fmt == "json":
        click.echo(json.dumps(normalized(op), indent=2, ensure_ascii=False))
    else:
        _print_text(op)
    return 0


@spec.command("openapi")
@click.argument("operation", default=spec_api.DEFAULT_OPERATION)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
def openapi(operation: str, output: Path | None) -> int:
    """Write the OpenAPI 3.1 document of an operation (to stdout, or to FILE)."""
    op = spec_api.load_operation(spec_api.resolve_operation(operation))
    text = json.dumps(spec_api.openapi_document(op), indent=2, ensure_ascii=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InputError(str(output), f"cannot write the file: {exc.strerror}.") from None
        click.echo(f"Wrote {output}.")
    return 0


@spec.command("import")
@click.argument("metadata", type=click.Path(path_type=Path))
@click.option("--api", "apis", multiple=True, help="Import only this operation (repeatable).")
@click.option(
    "-o",
    "--output",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The folder to write the spec files into.",
)
def import_(metadata: Path, apis: tuple[str, ...], out_dir: Path) -> int:
    """Convert Alibaba's api-docs.json METADATA into spec files under a folder."""
    result = spec_api.import_metadata(metadata, out_dir, list(apis) or None)
    for note in result.skipped_examples:
        click.echo(f"note: {note}; kept as x-exampleAsPublished.", err=True)
    click.echo(
        f"Imported {len(result.operation_files)} operations into "
        f"{result.product_file.parent}. RAM facts and flow control are marked unknown."
    )
    return 0
