"""`acscontract ram lint`: check RAM policy files and gate CI on the findings."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

import click

from acscontract.cli._text import Out
from acscontract.errors import InputError
from acscontract.ram import (
    FAIL_ON_CHOICES,
    Baseline,
    LintConfig,
    Linter,
    LintResult,
    PolicyKind,
    default_registry,
    find_config,
    load_config,
    render_json,
    render_sarif,
    text_chunks,
)

__all__ = ["lint"]

DEFAULT_FAIL_ON = "security"


@click.command("lint")
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif"]),
    default="text",
    show_default=True,
    help="Report format.",
)
@click.option(
    "--fail-on",
    type=click.Choice(FAIL_ON_CHOICES),
    default=None,
    help=f"Exit 1 when a finding is at or above this severity [default: {DEFAULT_FAIL_ON}, "
    "or fail-on in the configuration].",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A TOML configuration file [default: [tool.acscontract.ram] of the nearest "
    "pyproject.toml].",
)
@click.option(
    "--baseline",
    "baseline_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Accept the findings recorded in this file; only new findings are reported.",
)
@click.option(
    "--write-baseline",
    "write_baseline_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Record every current finding in this file (then exit 0).",
)
@click.option(
    "--kind",
    type=click.Choice([k.value for k in PolicyKind]),
    default=PolicyKind.IDENTITY.value,
    show_default=True,
    help="What the policies are attached to (decides whether Principal belongs).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the report to this file instead of standard output.",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes for large trees [default: one per CPU; 1 stays in process].",
)
def lint(
    paths: tuple[str, ...],
    fmt: str,
    fail_on: str | None,
    config_path: Path | None,
    baseline_path: Path | None,
    write_baseline_path: Path | None,
    kind: str,
    output: Path | None,
    jobs: int | None,
) -> int:
    """Check RAM policy files (folders: every *.json below them; `-` reads standard input).

    Exit 0 when nothing reaches the --fail-on severity, 1 when something does, and 2 for bad
    usage, a path that holds no policy file, an unreadable file or folder, or a bad
    configuration.
    """
    registry = default_registry()
    config: LintConfig | None
    if config_path is not None:
        config = load_config(config_path, known_checks=registry.ids)
    else:
        config = find_config(known_checks=registry.ids)
    config = config or LintConfig()
    threshold = fail_on or config.fail_on or DEFAULT_FAIL_ON

    result = Linter(config=config).lint_paths(paths, kind=kind, jobs=jobs)
    baselined = 0
    note = None
    if write_baseline_path is not None:
        Baseline.write(write_baseline_path, result.findings)
        note = (
            f"Wrote a baseline of {len(result.findings)} finding(s) to {write_baseline_path}; "
            f"pass --baseline {write_baseline_path} to report only new findings."
        )
    if baseline_path is not None:
        new, known = Baseline.load(baseline_path).split(result.findings)
        result = LintResult(tuple(new), result.files)
        baselined = len(known)

    stream = sys.stdout
    pieces: Iterable[str]
    if fmt == "json":
        pieces = [render_json(result, fail_on=threshold, baselined=baselined)]
    elif fmt == "sarif":
        pieces = [render_sarif(result, registry=registry, docs_url=config.docs_url)]
    else:  # written as it is made: a report of many findings is never held whole
        color = output is None and Out(stream).color
        pieces = text_chunks(result, fail_on=threshold, color=color, baselined=baselined)
    if output is not None:
        try:
            with output.open("w", encoding="utf-8", errors="backslashreplace") as report:
                report.writelines(pieces)
        except OSError as exc:
            raise InputError(
                str(output), f"the report cannot be written ({exc.strerror or exc})."
            ) from None
    else:
        for piece in pieces:
            click.echo(piece, nl=False)
    if note is not None:
        # A result of the command: on standard output, unless that carries a JSON or SARIF
        # document, which must stay parseable.
        click.echo(note, err=output is None and fmt != "text")
        return 0
    return 1 if result.failed(threshold) else 0
