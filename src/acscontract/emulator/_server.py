"""Real HTTP servers over the emulator: a background thread for tests, the `serve` command's loop.

Both bind the listening socket themselves before uvicorn starts, so `port=0` yields the chosen
port at once and nothing races for it. The `serve` loop stops cleanly on SIGTERM and SIGINT:
within a few seconds even with idle or half-sent connections open, and without re-raising the
signal, so the caller closes its store and exits 0.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType

import uvicorn

from acscontract.emulator._asgi import asgi_app
from acscontract.emulator._core import Emulator
from acscontract.errors import UsageError

__all__ = ["SHUTDOWN_GRACE_S", "bind_socket", "run_server", "serve_in_thread", "url_for"]

#: How long a stopping server waits for requests in flight before it cancels them.
SHUTDOWN_GRACE_S = 2.0
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


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


class _CancelIsNoError(logging.Filter):
    """uvicorn logs the requests it cancels once the shutdown grace is over as an ERROR. At a stop
    asked for, that is what `SHUTDOWN_GRACE_S` promises (a latency fault can hold a request for
    minutes), so it is a warning saying so: CI log scanners flag the word ERROR."""

    CANCEL = "Cancel %s running task(s), timeout graceful shutdown exceeded"

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == self.CANCEL and isinstance(record.args, tuple) and record.args:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg = "Stopped %s request(s) still running after the %s s shutdown grace."
            record.args = (record.args[0], f"{SHUTDOWN_GRACE_S:g}")
        return True


def _config(
    emulator: Emulator, admin_token: str | None, log_level: str, host: str
) -> uvicorn.Config:
    config = uvicorn.Config(
        asgi_app(emulator, admin_token=admin_token, bound_hosts=[host]),
        lifespan="off",
        log_level=log_level,
        access_log=False,
        server_header=False,
        date_header=False,
        # acs:SourceIp is the peer's address: no client may rewrite it with X-Forwarded-For.
        proxy_headers=False,
        timeout_graceful_shutdown=int(SHUTDOWN_GRACE_S),
    )
    # uvicorn.Config sets up uvicorn's loggers: the filter goes on after it.
    uvicorn_log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _CancelIsNoError) for f in uvicorn_log.filters):
        uvicorn_log.addFilter(_CancelIsNoError())
    return config


class _Server(uvicorn.Server):
    """uvicorn's server, except that a stop signal ends `run` normally.

    uvicorn re-raises the signal it caught once it has shut down, which kills the process
    (exit 143 for SIGTERM) before the caller can close its store. Here the signal only asks the
    server to stop; a second SIGINT forces it, as in uvicorn.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {sig: signal.signal(sig, self._stop) for sig in _STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)

    def _stop(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        self.should_exit = True


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
    server = uvicorn.Server(_config(emulator, admin_token, log_level, host))
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
    emulator: Emulator,
    sock: socket.socket,
    *,
    admin_token: str | None,
    host: str,
    log_level: str = "info",
    announce: Callable[[], None] | None = None,
) -> None:
    """Serve `emulator` on `sock` in this thread until SIGTERM or SIGINT (Ctrl+C), then return.

    Connections still open when the signal comes get `SHUTDOWN_GRACE_S` to finish before they
    are cancelled, so the call returns within a few seconds whatever clients are doing.
    `announce` (a banner) runs once the signals are the server's: a Ctrl+C right after it, while
    uvicorn is still starting, stops the server as cleanly as one later.
    """
    server = _Server(_config(emulator, admin_token, log_level, host))
    with server.capture_signals():
        if announce is not None:
            announce()
        server.run(sockets=[sock])
