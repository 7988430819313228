"""Real HTTP servers over the emulator: a background thread for tests, the `serve` command's loop.

Both bind the listening socket themselves before uvicorn starts, so `port=0` yields the chosen
port at once and nothing races for it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn

from acscontract.emulator._asgi import asgi_app
from acscontract.emulator._core import Emulator
from acscontract.errors import UsageError

__all__ = ["bind_socket", "is_loopback_host", "serve_in_thread", "url_for"]


def is_loopback_host(host: str) -> bool:
    """Whether `host` is a loopback address (or `localhost`)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on `host:port` (`port=0`: a free port). UsageError if it fails."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(f"The host {host!r} cannot be resolved ({exc.strerror}).") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise UsageError(
            f"The emulator cannot listen on {host}:{port} ({exc.strerror or exc}); pick another "
            "port, or --port 0 for a free one."
        ) from None
    sock.setblocking(False)
    return sock


def url_for(sock: socket.socket) -> str:
    """The http URL of a bound socket."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _config(emulator: Emulator, admin_token: str | None, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        asgi_app(emulator, admin_token=admin_token),
        lifespan="off",
        log_level=log_level,
        access_log=False,
        server_header=False,
        date_header=False,
    )


@contextlib.contextmanager
def serve_in_thread(
    emulator: Emulator,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    admin_token: str | None = None,
    log_level: str = "warning",
    startup_timeout_s: float = 10.0,
) -> Iterator[str]:
    """Serve `emulator` over real HTTP in a background thread; yields the base URL.

    `port=0` picks a free port. The server has started when the block begins and is shut down
    (open connections closed) when it ends.
    """
    sock = bind_socket(host, port)
    url = url_for(sock)
    server = uvicorn.Server(_config(emulator, admin_token, log_level))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="acscontract-emulator", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + startup_timeout_s
    try:
        while not server.started:
            if not thread.is_alive():
                raise UsageError(f"The emulator server on {url} stopped while starting.")
            if time.monotonic() > deadline:
                raise UsageError(
                    f"The emulator server on {url} did not start within {startup_timeout_s} s."
                )
            time.sleep(0.005)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=startup_timeout_s)
        sock.close()


def run_server(
    emulator: Emulator, sock: socket.socket, *, admin_token: str | None, log_level: str = "info"
) -> None:
    """Serve `emulator` on `sock` in this thread until interrupted (Ctrl+C or SIGTERM)."""
    server = uvicorn.Server(_config(emulator, admin_token, log_level))
    server.run(sockets=[sock])
