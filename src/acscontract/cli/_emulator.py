"""`acscontract emulator ...`: run the emulator as a real HTTP server."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import click

from acscontract._text import printable
from acscontract.errors import UsageError

__all__ = ["emulator"]


@click.group()
def emulator() -> None:
    """Run the emulator of the Live product (every operation) as an HTTP server."""


@emulator.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8765,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on; 0 picks a free one (printed).",
)
@click.option(
    "--seed",
    "seed_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Seed file (YAML or JSON); the embedded demo seed when not given.",
)
@click.option(
    "--state-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Keep the state in this SQLite database: restored at start, every change written "
    "before it is answered.",
)
@click.option(
    "--throttle",
    default=None,
    help="Flow-control algorithm: fixed-window, sliding-log or token-bucket (default: the spec's).",
)
@click.option(
    "--admin-token",
    default=None,
    help="Require 'Authorization: Bearer TOKEN' on the /_emulator/ admin API (not empty). "
    "Generated when the host is not loopback.",
)
@click.option(
    "--unmodelled",
    type=click.Choice(["answer", "refuse"]),
    default="answer",
    show_default=True,
    help="Operations whose spec declares no effect: answer them from their response schema "
    "(schema-only), or refuse them with the documented NotImplemented error.",
)
@click.option(
    "--log-level",
    default="warning",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
def serve(
    host: str,
    port: int,
    seed_path: Path | None,
    state_file: Path | None,
    throttle: str | None,
    admin_token: str | None,
    unmodelled: str,
    log_level: str,
) -> int:
    """Serve the emulator over HTTP until interrupted (Ctrl+C or SIGTERM; exit 0).

    Prints the URL and the credentials of the seed: they are fake keys that work only here.
    """
    from acscontract._loopback import is_loopback_host
    from acscontract.emulator import (
        Emulator,
        OffsetClock,
        StateDatabase,
        bind_socket,
        run_server,
        url_for,
    )

    if admin_token is not None and not admin_token.strip():
        raise UsageError(
            "--admin-token is empty; an empty token would let anyone use the admin API. Give a "
            "real token, or leave the option out to keep the admin API loopback-only."
        )
    if throttle is not None:
        from acscontract.emulator import THROTTLE_ALGORITHMS

        if throttle not in THROTTLE_ALGORITHMS:
            raise UsageError(
                f"--throttle {throttle!r} is not an algorithm the emulator knows; use one of "
                f"{', '.join(THROTTLE_ALGORITHMS)}."
            )
    instance = Emulator(seed_path, clock=OffsetClock(), throttle=throttle, unmodelled=unmodelled)
    database = None
    restored = False
    if state_file is not None:
        given = instance.seed
        database = StateDatabase(state_file)
        try:
            restored = instance.attach(database)
            if restored and seed_path is not None and instance.seed.to_json() != given.to_json():
                instance.detach()
                raise UsageError(
                    f"--seed {seed_path} is not the seed of the state kept in {state_file}, and "
                    "a kept state goes on with its own seed: leave --seed out to continue it, "
                    "or pick a new --state-file (or delete this one) to start from the seed."
                )
        except BaseException:
            database.close()
            raise
    token = admin_token
    if token is None and not is_loopback_host(host):
        token = secrets.token_urlsafe(24)
    try:
        sock = bind_socket(host, port)
    except BaseException:
        if database is not None:
            database.close()
        raise
    url = url_for(sock)

    def announce() -> None:
        """The banner, printed once the server handles SIGINT and SIGTERM itself."""
        product = instance.product
        click.echo(f"acscontract emulator of {product.name}/{product.version} on {url}")
        click.echo(
            f"  seed: {printable(instance.seed.source)}"
            + (" (restored from the state file)" if restored else "")
        )
        click.echo(f"  throttle: {instance.throttle_algorithm}")
        click.echo(
            "  operations: every one of the product's; those the spec does not model are "
            + ("answered schema-only" if unmodelled == "answer" else "refused")
            + " (`acscontract spec show --coverage` lists them)"
        )
        if state_file is not None:
            click.echo(f"  state file: {printable(str(state_file))}")
        click.echo(f"  admin API: {url}/_emulator/state" + ("" if token else " (loopback only)"))
        if token:
            click.echo(f"  admin token: {token}")
        click.echo("  credentials (fake, for this emulator only):")
        for cred in instance.seed.credentials():
            line = f"    {cred['account']}  {cred['kind']:<24} {cred['id']}  {cred['secret']}"
            if "token" in cred:
                line += f"  token={cred['token']}"
            click.echo(printable(line))  # seed values may hold characters that drive a terminal
        click.echo("Press Ctrl+C to stop.", err=True)
        sys.stdout.flush()

    try:
        run_server(
            instance, sock, admin_token=token, host=host, log_level=log_level, announce=announce
        )
    finally:
        if database is not None:
            instance.detach()
            database.close()
        sock.close()
    click.echo("acscontract emulator stopped.", err=True)
    return 0
