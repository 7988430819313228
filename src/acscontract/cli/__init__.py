"""The `acscontract` command line: thin argument parsing and output over the library.

One convention for every command, kept here in `main` so that no command has to repeat it:

- exit 0 on success, 1 on findings or contract failures, 2 on bad usage or unreadable input;
- a usage error or an unreadable input is one line on standard error, never a traceback;
- results go to standard output, diagnostics to standard error; output that the terminal's
  encoding cannot show (or a lone surrogate from a policy) is written as backslash escapes;
- a closed pipe (`acscontract ... | head -1`) ends the command quietly, with exit 0;
- a command whose optional dependencies are not installed names, in one line, the extra to
  install (the `emulator` extra);
- an unexpected error (a bug) is one line too, with exit 70 (EX_SOFTWARE); `ACSCONTRACT_DEBUG=1`
  shows the traceback.

Subcommands are imported only when they run, so `acscontract ram lint` loads neither the
emulator nor the contract suite.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from typing import Any

import click

from acscontract._resources import install_hint
from acscontract.errors import AcsContractError

__all__ = ["COMMANDS", "EXIT_FINDINGS", "EXIT_INTERNAL", "EXIT_OK", "EXIT_USAGE", "cli", "main"]

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70  # EX_SOFTWARE of sysexits.h: the probe's 3 means "inconclusive"

COMMANDS: dict[str, tuple[str, str | None]] = {
    "spec": ("acscontract.cli._spec:spec", None),
    "ram": ("acscontract.cli._ram:ram", None),
    "emulator": ("acscontract.cli._emulator:emulator", "emulator"),
    "probe": ("acscontract.cli._probe:probe", "emulator"),
    "run": ("acscontract.cli._run:run", "contracts"),
}
"""Each command: where it is defined, and the extra (pyproject optional dependencies) it needs
beyond the base install, if any."""

# The third-party modules of the extras, for naming the extra when an import fails.
_MODULE_EXTRAS = {
    "matplotlib": "plot",
    "starlette": "emulator",
    "uvicorn": "emulator",
    "responses": "emulator",
    "requests": "emulator",
    "redis": "emulator",
    "orjson": "emulator",
    "rich": "emulator",
    "pytest": "contracts",
    "_pytest": "contracts",
    "hypothesis": "contracts",
    "schemathesis": "contracts",
}


class MissingExtraError(AcsContractError):
    """A command needs a module of an extra that is not installed."""

    def __init__(self, command: str | None, module: str, extra: str) -> None:
        what = f"`acscontract {command}`" if command else "This command"
        super().__init__(
            f"{what} needs {module}, which comes with the {extra!r} extra ('all' has every "
            f"extra); install it: {install_hint(extra)}."
        )
        self.extra = extra


def _missing_extra(exc: ImportError, command: str | None) -> MissingExtraError | None:
    """The extra to name for a failed import of a third-party module, or None (a bug)."""
    name = (exc.name or "").partition(".")[0]
    if not name or name == "acscontract":
        return None
    extra = _MODULE_EXTRAS.get(name)
    if extra != "plot":  # plotting is its own extra whatever the command
        extra = (COMMANDS.get(command or "", ("", None))[1]) or extra
    return MissingExtraError(command, name, extra) if extra is not None else None


class _LazyGroup(click.Group):
    """The top-level group: subcommands are imported when used (see `COMMANDS`)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None or cmd_name not in COMMANDS:
            return command
        module_name, _, attr = COMMANDS[cmd_name][0].partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            missing = _missing_extra(exc, cmd_name)
            if missing is None:
                raise
            raise missing from None
        command = getattr(module, attr)
        assert isinstance(command, click.Command)
        self.add_command(command, cmd_name)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            try:
                command = self.get_command(ctx, name)
            except MissingExtraError as exc:
                rows.append((name, f"(needs the {exc.extra!r} extra)"))
                continue
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=formatter.width - 6 - 10)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="acscontract")
def cli() -> None:
    """Contract testing, emulation and RAM policy checks for Alibaba Cloud OpenAPI operations."""


def _prepare_streams() -> None:
    """Write what an output encoding cannot represent as backslash escapes, never fail on it."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):  # a closed or detached stream
                reconfigure(errors="backslashreplace")


def _say(text: str) -> None:
    """One line on standard error (which may itself be closed)."""
    with contextlib.suppress(OSError):  # nowhere left to report to
        click.echo(f"acscontract: {' '.join(text.split())}", err=True)


def _quiet_stdout() -> None:
    """After the reader closed the pipe: send what is left to /dev/null, so that the flush at
    exit does not fail again (the recipe of the `signal` module's documentation)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # pragma: no cover - stdout is not a file
        pass


def _command_of(argv: list[str] | None) -> str | None:
    args = sys.argv[1:] if argv is None else argv
    return next((a for a in args if not a.startswith("-")), None)


def _usage_line(exc: click.UsageError) -> str:
    ctx = exc.ctx
    if isinstance(exc, click.exceptions.NoArgsIsHelpError) and ctx is not None:
        group = ctx.command
        names = group.list_commands(ctx) if isinstance(group, click.Group) else []
        listed = ", ".join(names)
        return f"'{ctx.command_path}' needs a command ({listed}); see '{ctx.command_path} --help'."
    message = exc.format_message().rstrip()
    if ctx is not None:
        message = f"{message.rstrip('.')}; see '{ctx.command_path} --help'."
    return message


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code instead of raising."""
    _prepare_streams()
    command = _command_of(argv)
    try:
        try:
            result: Any = cli.main(args=argv, prog_name="acscontract", standalone_mode=False)
        finally:
            sys.stdout.flush()  # a closed pipe shows up here, not at interpreter exit
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_OK
    except SystemExit as exc:
        # click answers a broken pipe itself: it pacifies the streams and exits with 1.
        if type(sys.stdout).__name__ == "_PacifyFlushWrapper":
            _quiet_stdout()
            return EXIT_OK
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.Abort:
        _say("interrupted.")
        return EXIT_USAGE
    except click.UsageError as exc:
        _say(_usage_line(exc))
        return EXIT_USAGE
    except click.ClickException as exc:
        _say(exc.format_message())
        return EXIT_USAGE
    except AcsContractError as exc:
        _say(str(exc))
        return EXIT_USAGE
    except ImportError as exc:
        missing = _missing_extra(exc, command)
        if missing is None:
            return _internal_error(exc)
        _say(str(missing))
        return EXIT_USAGE
    except OSError as exc:  # an output or input the command could not handle itself
        where = f"{exc.filename}: " if exc.filename else ""
        _say(f"{where}{exc.strerror or exc}.")
        return EXIT_USAGE
    except RecursionError as exc:
        return _internal_error(exc)
    except MemoryError:
        _say("out of memory; the input is too large for this machine.")
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - the last resort: one line instead of a traceback
        return _internal_error(exc)
    if isinstance(result, int):
        return result
    return EXIT_OK


def _internal_error(exc: BaseException) -> int:
    if os.environ.get("ACSCONTRACT_DEBUG"):
        raise exc
    _say(
        f"internal error ({type(exc).__name__}: {exc}). This is a bug in acscontract; please "
        "report it with the command that caused it (ACSCONTRACT_DEBUG=1 shows the traceback)."
    )
    return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
