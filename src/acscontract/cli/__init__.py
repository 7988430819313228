"""The `acscontract` command line: thin argument parsing and output over the library.

Every command exits 0 on success, 1 on findings or contract failures, and 2 on bad usage or
unreadable input, with one clear line on stderr and no traceback.
"""

from __future__ import annotations

import importlib
import sys

import click

from acscontract.errors import AcsContractError

__all__ = ["cli", "main"]

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="acscontract")
def cli() -> None:
    """Contract testing, emulation and RAM policy checks for Alibaba Cloud OpenAPI operations."""


def _register() -> None:
    from acscontract.cli import _spec

    cli.add_command(_spec.spec)
    cli.add_command(importlib.import_module("acscontract.cli._ram").ram)
    cli.add_command(importlib.import_module("acscontract.cli._emulator").emulator)
    cli.add_command(importlib.import_module("acscontract.cli._probe").probe)
    cli.add_command(importlib.import_module("acscontract.cli._run").run)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code instead of raising."""
    _register()
    try:
        result = cli.main(args=argv, prog_name="acscontract", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("acscontract: interrupted.", err=True)
        return EXIT_USAGE
    except click.ClickException as exc:
        click.echo(f"acscontract: {exc.format_message()}", err=True)
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            click.echo(f"Try '{exc.ctx.command_path} --help'.", err=True)
        return EXIT_USAGE
    except AcsContractError as exc:
        click.echo(f"acscontract: {exc}", err=True)
        return EXIT_USAGE
    if isinstance(result, int):
        return result
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
