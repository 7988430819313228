"""`acscontract ram ...`: simulate, diff and generate RAM policies (and lint, from `_ram_lint`).

Subcommands that live in other modules are listed in `_LAZY_SUBCOMMANDS` as `name: "module:attr"`
and imported only when used, so adding one is a one-line change here.
"""

from __future__ import annotations

import importlib
import json
import shlex
from pathlib import Path
from typing import Any

import click

from acscontract.cli._text import DIM, GREEN, RED, YELLOW, Out, printable
from acscontract.errors import InputError

__all__ = ["ram"]

_LAZY_SUBCOMMANDS: dict[str, str] = {
    "lint": "acscontract.cli._ram_lint:lint",
}


class _RamGroup(click.Group):
    """A click group that also serves the subcommands of `_LAZY_SUBCOMMANDS`."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_LAZY_SUBCOMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in _LAZY_SUBCOMMANDS:
            module_name, _, attr = _LAZY_SUBCOMMANDS[cmd_name].partition(":")
            command = getattr(importlib.import_module(module_name), attr)
            assert isinstance(command, click.Command)
            self.add_command(command, cmd_name)
        return command


@click.group("ram", cls=_RamGroup)
def ram() -> None:
    """Lint, simulate, diff and generate RAM policies for the catalogued actions."""


def _safe(text: str) -> str:
    """Text that any terminal and any encoding can show (control characters escaped)."""
    return printable(text)


def _dump(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False))


_DECISION_STYLE = {"Allow": GREEN, "ExplicitDeny": RED, "ImplicitDeny": YELLOW}


@ram.command("simulate")
@click.argument("policies", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--action", "-a", required=True, help="The action, e.g. live:RealTimeRecordCommand.")
@click.option(
    "--resource",
    "-r",
    required=True,
    help="The resource ARN, e.g. acs:cdn:*:1234567890123456:domain/live.example.com.",
)
@click.option(
    "--context",
    "-c",
    "context_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="A request context value, e.g. acs:SourceIp=203.0.113.7 (repeatable).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)
@click.option(
    "--expect",
    type=click.Choice(["Allow", "ExplicitDeny", "ImplicitDeny"]),
    help="Exit 1 unless the decision is this one (for CI).",
)
def simulate(
    policies: tuple[Path, ...],
    action: str,
    resource: str,
    context_pairs: tuple[str, ...],
    output_format: str,
    expect: str | None,
) -> int:
    """Decide one request against identity POLICIES attached together.

    Prints Allow, ExplicitDeny or ImplicitDeny with the deciding statements and notes on every
    documented choice that applied. Exit 0 (or 1 when --expect is not met); 2 for unreadable or
    invalid policies.
    """
    from acscontract.ram import Evaluator, load_policy, parse_context

    context = parse_context(context_pairs)
    docs = [load_policy(p) for p in policies]
    decision = Evaluator(docs).evaluate(action, resource, context)
    if output_format == "json":
        _dump(decision.to_dict())
    else:
        out = Out()
        name = decision.decision.value
        out.line(f"{out.style(name, _DECISION_STYLE[name])}  {_safe(action)} on {_safe(resource)}")
        if context:
            shown = ", ".join(f"{k}={v}" for k, v in context.items())
            out.line(f"  context: {_safe(shown)}")
        if decision.statements:
            verb = "denied by" if name == "ExplicitDeny" else "allowed by"
            out.line(f"  {verb}:")
            for ref in decision.statements:
                sid = f" ({ref.sid})" if ref.sid else ""
                out.line(
                    f"    {_safe(ref.file)}:{ref.line}:{ref.column} statement {ref.index}"
                    f"{_safe(sid)} {_safe(ref.pointer)}"
                )
        else:
            out.line("  no statement allows this request (deny by default).")
        for note in decision.notes:
            out.line(f"  {out.style('note:', DIM)} {_safe(note)}")
    if expect is not None and decision.decision.value != expect:
        click.echo(f"acscontract: expected {expect}, got {decision.decision.value}.", err=True)
        return 1
    return 0


@ram.command("diff")
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)
def diff_command(old: Path, new: Path, output_format: str) -> int:
    """Show exactly what NEW allows that OLD did not, for the catalogued actions.

    Each difference comes with a concrete request (action, resource ARN, context). Exit 1 when
    NEW grants new access, 0 otherwise, 2 for unreadable or invalid policies.
    """
    from acscontract.ram import diff, load_policy

    result = diff(load_policy(old, purpose="compared"), load_policy(new, purpose="compared"))
    if output_format == "json":
        _dump(result.to_dict())
    else:
        out = Out()
        if result.added:
            out.line(
                out.style(
                    f"NEW grants {len(result.added)} kind(s) of access that OLD did not:", RED
                )
            )
        else:
            out.line(out.style("NEW grants nothing that OLD did not.", GREEN))
        for d in result.added:
            _print_difference(out, d)
        if result.removed:
            out.line(f"OLD granted {len(result.removed)} kind(s) of access NEW no longer does:")
            for d in result.removed:
                _print_difference(out, d)
        for note in result.notes:
            out.line(f"{out.style('note:', DIM)} {_safe(note)}")
    return 1 if result.grants_new_access else 0


def _print_difference(out: Out, d: Any) -> None:
    tag = "" if d.verified else " " + out.style("(possible, unconfirmed)", YELLOW)
    out.line(f"  - {_safe(d.action)} on {_safe(d.resource)}{tag}")
    if d.context:
        # Quoted for a POSIX shell: the values come from the policies, and this line is meant
        # to be pasted into `ram simulate` (a value like "x; rm -rf ~" must stay one argument).
        shown = " ".join(f"--context {shlex.quote(f'{k}={v}')}" for k, v in d.context.items())
        out.line(f"    with {_safe(shown)}")
    else:
        out.line("    with no request context")
    out.line(f"    {_safe(d.explanation)}")


@ram.command("generate")
@click.option("--account", required=True, help="The 16-digit account id that owns the domains.")
@click.option(
    "--domain",
    "domains",
    required=True,
    multiple=True,
    help="A streaming domain to allow (repeatable).",
)
@click.option(
    "--source-ip",
    "source_ips",
    multiple=True,
    metavar="CIDR",
    help="Allow calls only from this public address range (repeatable).",
)
@click.option("--require-tls", is_flag=True, help="Allow calls only over HTTPS.")
@click.option("--action", default=None, help="The catalogued action (default: the only one).")
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the policy to this file instead of standard output.",
)
def generate_command(
    account: str,
    domains: tuple[str, ...],
    source_ips: tuple[str, ...],
    require_tls: bool,
    action: str | None,
    output: Path | None,
) -> int:
    """Print the least-privilege identity policy for the action on the given domains."""
    from acscontract.ram import generate_json

    text = generate_json(
        account, domains, source_ips=source_ips, require_tls=require_tls, action=action
    )
    if output is None:
        click.echo(text, nl=False)
        return 0
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(str(output), f"cannot be written ({exc.strerror or exc}).") from None
    click.echo(f"Wrote the policy to {output}.")
    return 0
