"""Benchmark: the emulator's real HTTP server against moto_server, in server CPU per request.

Both servers run as subprocesses on loopback, and the same client loads them: a few threads, each
with one keep-alive `http.client` connection, sending requests prepared before the clock starts.

- The emulator (`acscontract emulator serve`) gets RealTimeRecordCommand calls, each signed with
  V1 (HMAC-SHA1) and a unique nonce, so every one is verified. Each client thread owns its streams
  and cycles them through start -> stop -> cancel_delay, so every call is valid and answers 200;
  the seed lifts the account's flow-control limit so the emulator does not throttle the run.
- moto_server gets STS GetCallerIdentity, about the cheapest valid call it has.

Server CPU is the server process tree's user+system time (/proc/<pid>/stat) over the measured
window, divided by the number of requests. The script also measures the in-process `mock_live`
call rate through `requests`, next to a bare `responses` mock with a fixed answer. Run it as
`.venv/bin/python bench/emulator.py`; it takes about 15 seconds.

Anchors: the same run measures bare uvicorn answering a fixed JSON body with the emulator's
server options. On the reference machine (2 cores): moto_server about 1,600-1,800 us of CPU per
request (about 570 requests/s), bare uvicorn about 48 us. uvicorn picks httptools and uvloop when
they are installed (`uvicorn[standard]`) and falls back to the pure-Python h11 and asyncio, which
costs about 70 us more per request; the first output line says which stack ran.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import requests
import responses

from acscontract.emulator import mock_live
from acscontract.signing import Credentials, WireRequest, sign_v1
from acscontract.spec import operation

ACCOUNT_ID = "1999999999999999"
KEY = Credentials("LTAIbenchmarkKey000001", "benchmark-secret-not-real-000001")
DOMAIN, APP = "bench.example.com", "live"
#: High enough that the emulator never throttles the benchmark.
QPS_LIMIT = 1_000_000_000
MOTO_AUTH = (
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240101/us-east-1/sts/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64
)
MOTO_BODY = b"Action=GetCallerIdentity&Version=2011-06-15"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Prepared:
    """One request, ready to write on a connection."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    requests: int
    seconds: float
    cpu_seconds: float
    statuses: dict[int, int]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_us(self) -> float:
        return self.cpu_seconds / self.requests * 1e6

    def line(self) -> str:
        mix = ", ".join(f"{status}: {count}" for status, count in sorted(self.statuses.items()))
        return (
            f"{self.name:<24} {self.requests:>6} requests  {self.rate:>8,.0f} req/s  "
            f"server CPU {self.cpu_us:>7,.0f} us/request  (status {mix})"
        )


# --- the seed and the requests ---------------------------------------------------------------


def bench_seed(streams: int) -> dict[str, object]:
    return {
        "description": "bench/emulator.py",
        "accounts": [
            {
                "id": ACCOUNT_ID,
                "qps": QPS_LIMIT,
                "access_keys": [{"id": KEY.access_key_id, "secret": KEY.access_key_secret}],
                "domains": [
                    {
                        "name": DOMAIN,
                        "apps": [
                            {
                                "name": APP,
                                "record_config": True,
                                "streams": [
                                    {"name": f"s{i}", "online": True} for i in range(streams)
                                ],
                            }
                        ],
                    }
                ],
            }
        ],
    }


def command_cycle() -> tuple[str, ...]:
    """start -> stop -> cancel_delay: the shortest all-valid cycle the spec's lifecycle allows."""
    lifecycle = operation().lifecycle
    assert lifecycle is not None
    state, cycle = lifecycle.initial, []
    for trigger in ("start", "stop", "cancel_delay"):
        transition = lifecycle.transition(state, trigger)
        assert transition is not None, (state, trigger)
        assert transition.error is None, (state, trigger)
        cycle.append(trigger)
        state = transition.next_state
    assert state == lifecycle.initial
    return tuple(cycle)


def signed_calls(host: str, thread: int, threads: int, count: int, streams: int) -> list[Prepared]:
    """`count` V1-signed calls for one client thread, over the streams that thread owns."""
    op = operation()
    names = {p.name for p in op.required_parameters}
    assert names == {"Command", "DomainName", "AppName", "StreamName"}, names
    owned = [f"s{i}" for i in range(thread, streams, threads)]
    cycle = command_cycle()
    out = []
    for n in range(count):
        # Round-robin over the owned streams; each stream advances one step of the cycle.
        stream = owned[n % len(owned)]
        command = cycle[(n // len(owned)) % len(cycle)]
        query = "&".join(
            f"{k}={v}"
            for k, v in (
                ("Command", command),
                ("DomainName", DOMAIN),
                ("AppName", APP),
                ("StreamName", stream),
            )
        )
        signed = sign_v1(
            WireRequest("POST", "/", query, {"host": host}),
            KEY,
            action=op.name,
            version=op.product.version,
        )
        out.append(
            Prepared("POST", f"/?{signed.query}", {"Host": host, "Content-Length": "0"}, b"")
        )
    return out


def moto_calls(host: str, count: int) -> list[Prepared]:
    headers = {
        "Host": host,
        "Content-Type": "application/x-www-form-urlencoded",
        "Content-Length": str(len(MOTO_BODY)),
        "X-Amz-Date": "20240101T000000Z",
        "Authorization": MOTO_AUTH,
    }
    return [Prepared("POST", "/", headers, MOTO_BODY) for _ in range(count)]


# --- servers ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode} at start-up")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the server did not listen on port {port} within {seconds} s")


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and all its descendants, in seconds."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
        except FileNotFoundError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
        for task in Path(f"/proc/{current}").glob("task/*/children"):
            todo.extend(int(child) for child in task.read_text().split())
    return total / CLOCK_TICKS


def start_server(argv: Sequence[str], port: int) -> subprocess.Popen[bytes]:
    # The servers log every request: send that to a file, as a pipe would fill up and stall them.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(argv, stdout=log, stderr=log, start_new_session=True)
        try:
            wait_for_port(port, process)
        except BaseException:
            stop_server(process)
            log.seek(0)
            sys.stderr.write(log.read()[-4000:].decode("utf-8", "replace"))
            raise
    return process


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def script(name: str) -> str:
    """A console script installed next to this interpreter."""
    candidate = Path(sys.executable).parent / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if found is None:
        raise SystemExit(f"bench/emulator.py needs `{name}`; install the bench extra first.")
    return found


# --- the client ------------------------------------------------------------------------------


def drive(port: int, batches: Sequence[Sequence[Prepared]]) -> tuple[float, dict[int, int]]:
    """Send each batch on its own thread and keep-alive connection; wall time and status mix."""
    statuses: collections.Counter[int] = collections.Counter()
    lock = threading.Lock()
    start_line = threading.Barrier(len(batches) + 1)
    errors: list[BaseException] = []

    def worker(batch: Sequence[Prepared]) -> None:
        seen: collections.Counter[int] = collections.Counter()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            start_line.wait()
            for item in batch:
                connection.request(item.method, item.target, item.body, item.headers)
                response = connection.getresponse()
                response.read()
                seen[response.status] += 1
        except (OSError, http.client.HTTPException) as error:  # reported after the run
            errors.append(error)
        finally:
            connection.close()
            with lock:
                statuses.update(seen)

    threads = [threading.Thread(target=worker, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    start_line.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"the client failed: {errors[0]!r}")
    return elapsed, dict(statuses)


def measure(
    name: str,
    process: subprocess.Popen[bytes],
    port: int,
    make_batches: Callable[[int], list[list[Prepared]]],
    warmup: int,
    count: int,
) -> Result:
    """Warm up, then time `count` requests. Each thread's sequence continues across the two."""
    threads = len(make_batches(0))
    per_warmup = warmup // threads
    sequences = make_batches(warmup + count)
    drive(port, [sequence[:per_warmup] for sequence in sequences])
    batches = [sequence[per_warmup:] for sequence in sequences]
    cpu_before = tree_cpu_seconds(process.pid)
    seconds, statuses = drive(port, batches)
    cpu = tree_cpu_seconds(process.pid) - cpu_before
    return Result(name, sum(len(b) for b in batches), seconds, cpu, statuses)


# --- the three measurements ------------------------------------------------------------------


def bench_emulator(count: int, threads: int, streams: int, seed_path: Path) -> Result:
    port = free_port()
    host = f"127.0.0.1:{port}"
    argv = [script("acscontract"), "emulator", "serve", "--host", "127.0.0.1"]
    process = start_server([*argv, "--port", str(port), "--seed", str(seed_path)], port)
    try:

        def batches(total: int) -> list[list[Prepared]]:
            return [
                signed_calls(host, t, threads, total // threads, streams) for t in range(threads)
            ]

        return measure("emulator (uvicorn)", process, port, batches, warmup=400, count=count)
    finally:
        stop_server(process)


#: The anchor: uvicorn answering a fixed JSON body, with the same server options as the emulator.
BARE_UVICORN = """
import sys, uvicorn
BODY = b'{"RequestId":"16A96B9A-F203-4EC5-8E43-CB92E68F4CD8"}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(BODY))]
async def app(scope, receive, send):
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            access_log=False, lifespan="off", server_header=False, date_header=False)
"""


def bench_bare_uvicorn(count: int, threads: int) -> Result:
    port = free_port()
    process = start_server([sys.executable, "-c", BARE_UVICORN, str(port)], port)
    try:
        host = f"127.0.0.1:{port}"

        def batches(total: int) -> list[list[Prepared]]:
            return [moto_calls(host, total // threads) for _ in range(threads)]

        return measure("bare uvicorn (anchor)", process, port, batches, warmup=400, count=count)
    finally:
        stop_server(process)


def uvicorn_stack() -> str:
    """Which HTTP parser and event loop uvicorn picks here (`auto` prefers the C ones)."""
    available = [m for m in ("httptools", "uvloop") if importlib.util.find_spec(m) is not None]
    http = "httptools" if "httptools" in available else "h11 (pure Python)"
    loop = "uvloop" if "uvloop" in available else "asyncio"
    return f"uvicorn on {http} + {loop}"


def bench_moto(count: int, threads: int) -> Result:
    port = free_port()
    process = start_server([script("moto_server"), "-H", "127.0.0.1", "-p", str(port)], port)
    try:
        host = f"127.0.0.1:{port}"

        def batches(total: int) -> list[list[Prepared]]:
            return [moto_calls(host, total // threads) for _ in range(threads)]

        return measure("moto_server (STS)", process, port, batches, warmup=100, count=count)
    finally:
        stop_server(process)


def bench_mock(count: int, streams: int) -> tuple[float, float, dict[int, int]]:
    """Calls per second through `requests` into `mock_live`, in this process; and the same
    calls answered by a bare `responses` mock with a fixed body (the anchor)."""
    endpoint = operation().product.default_endpoint
    statuses: collections.Counter[int] = collections.Counter()

    def run(calls: list[Prepared], tally: bool) -> float:
        with requests.Session() as session:
            started = time.perf_counter()
            for item in calls:
                status = session.post(f"https://{endpoint}{item.target}").status_code
                if tally:
                    statuses[status] += 1
            return count / (time.perf_counter() - started)

    with mock_live(bench_seed(streams)):
        rate = run(signed_calls(endpoint, 0, 1, count, streams), tally=True)
    with responses.RequestsMock() as bare:
        bare.add(responses.POST, re.compile(".*"), body=b'{"RequestId":"X"}', status=200)
        anchor = run(signed_calls(endpoint, 0, 1, count, streams), tally=False)
    return rate, anchor, dict(statuses)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=8000, help="emulator requests")
    parser.add_argument("--moto-requests", type=int, default=2000, help="moto_server requests")
    parser.add_argument("--mock-requests", type=int, default=2000, help="mock_live requests")
    parser.add_argument("--threads", type=int, default=4, help="client threads")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    streams = args.threads * 16

    with tempfile.TemporaryDirectory() as tmp:
        seed_path = Path(tmp) / "seed.json"
        seed_path.write_text(json.dumps(bench_seed(streams)))
        emulator = bench_emulator(args.requests, args.threads, streams, seed_path)
    bare = bench_bare_uvicorn(args.requests, args.threads)
    moto = bench_moto(args.moto_requests, args.threads)
    mock_rate, mock_anchor, mock_statuses = bench_mock(args.mock_requests, streams)

    print(
        f"{os.cpu_count()} CPUs, {args.threads} client threads with keep-alive connections, "
        f"{uvicorn_stack()}"
    )
    print(emulator.line())
    print(bare.line())
    print(moto.line())
    if set(emulator.statuses) != {200}:
        print("WARNING: the emulator did not answer every call with 200; the mix is invalid.")
    print(
        f"emulator / moto_server: {emulator.cpu_us / moto.cpu_us:.3f} of moto's CPU per request "
        f"({moto.cpu_us / emulator.cpu_us:.1f}x less; goal: 10x or more), "
        f"{emulator.rate / moto.rate:.1f}x the request rate"
    )
    print(
        f"emulator over bare uvicorn: {emulator.cpu_us - bare.cpu_us:,.0f} us/request for the "
        "ASGI app, the signature check and the operation"
    )
    mix = ", ".join(f"{s}: {n}" for s, n in sorted(mock_statuses.items()))
    print(
        f"mock_live in-process via requests: {mock_rate:,.0f} calls/s  (status {mix}); "
        f"a bare responses mock with a fixed body: {mock_anchor:,.0f} calls/s"
    )
    print(
        "anchors (reference machine): moto_server ~1,600-1,800 us CPU/request (~570 req/s); "
        "bare uvicorn fixed JSON ~48 us (with httptools + uvloop)"
    )
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "emulator_cpu_us": emulator.cpu_us,
                    "emulator_rps": emulator.rate,
                    "bare_uvicorn_cpu_us": bare.cpu_us,
                    "moto_cpu_us": moto.cpu_us,
                    "moto_rps": moto.rate,
                    "mock_live_rps": mock_rate,
                    "bare_responses_rps": mock_anchor,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
