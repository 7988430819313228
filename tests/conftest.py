"""What the project's own tests share: a real `redis-server` for the pacing store tests.

Tests that need Redis ask for the `redis_url` fixture, which starts a private `redis-server` on
a free loopback port (no persistence) and stops it afterwards. Where `redis-server` is not
installed those tests cannot run: they are skipped, and the end of the run says so in a line of
its own, naming them. With `ACSCONTRACT_REQUIRE_REDIS=1` (CI sets it) they fail instead.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

REQUIRE_REDIS_ENV = "ACSCONTRACT_REQUIRE_REDIS"
_NO_REDIS = "redis-server is not installed (apt-get install redis-server)"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _redis_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get(REQUIRE_REDIS_ENV, "") not in ("", "0"):
            pytest.fail(f"{_NO_REDIS}, and {REQUIRE_REDIS_ENV} is set: the Redis tests must run.")
        pytest.skip(_NO_REDIS)
    return binary


@contextlib.contextmanager
def _started_redis(binary: str, folder: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {port}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}", process
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`redis://127.0.0.1:PORT`: a redis-server this test session started and will stop."""
    binary = _redis_binary()
    with _started_redis(binary, tmp_path_factory.mktemp("redis")) as (url, _):
        yield url


@pytest.fixture
def doomed_redis(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A redis-server of one test's own, with its process, for the test to kill mid-run."""
    binary = _redis_binary()
    with _started_redis(binary, tmp_path) as started:
        yield started


@pytest.fixture
def redis_url(redis_server: str, request: pytest.FixtureRequest) -> str:
    """A Redis database of its own for one test (redis://127.0.0.1:PORT/N), emptied first."""
    import redis

    database = 1 + zlib.crc32(request.node.nodeid.encode()) % 15
    url = f"{redis_server}/{database}"
    redis.Redis.from_url(url).flushdb()
    return url


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say loudly which tests did not run for want of redis-server."""
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if _NO_REDIS in str(getattr(report, "longrepr", ""))
    ]
    if not skipped:
        return
    terminalreporter.section("NOT RUN: Redis tests", sep="!", red=True, bold=True)
    terminalreporter.write_line(
        f"{len(skipped)} test(s) did not run because {_NO_REDIS}; set "
        f"{REQUIRE_REDIS_ENV}=1 to make that a failure:",
        red=True,
        bold=True,
    )
    for report in skipped:
        terminalreporter.write_line(f"  {report.nodeid}", red=True)
