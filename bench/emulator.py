"""Benchmark: the emulator's real HTTP server against moto_server, and under attack and failure.

Part 1, CPU per request. Both servers run as subprocesses on loopback, and the same client loads
them: a few threads, each with one keep-alive `http.client` connection, sending requests
prepared before the clock starts.

- The emulator (`acscontract emulator serve`) gets RealTimeRecordCommand calls, each signed with
  V1 (HMAC-SHA1) and a unique nonce, so every one is verified. Each client thread owns its streams
  and cycles them through start -> stop -> cancel_delay, so every call is valid and answers 200;
  the seed lifts the account's flow-control limit so the emulator does not throttle the run. It
  runs twice: in memory, and with `--state-file` (the SQLite live store: every call's change and
  nonce committed before the answer). The goal is at least 10x less CPU than moto with SQLite.
- moto_server gets STS GetCallerIdentity, about the cheapest valid call it has.

Server CPU is the server process tree's user+system time (/proc/<pid>/stat) over the measured
window, divided by the number of requests. Part 1 runs in rounds (`--cpu-rounds`, 3 by default),
each measuring every server one after the other; the goal is judged on the median of the
rounds' ratios, and every round is printed (on a shared 2-core machine one server's figure moves
by 20% or more between runs). The script also measures the in-process `mock_live`
call rate through `requests`, next to a bare `responses` mock with a fixed answer.

Part 2, the audit's figures (issue 11), each against `acscontract emulator serve --state-file`:

- fuzz: N malformed, mis-signed and oversized requests as raw bytes on sockets; counts 5xx,
  hangs (no answer in 10 s) and whether the state (GET /_emulator/snapshot) is unchanged, also
  after a SIGTERM and a restart from the database.
- concurrent starts: K clients, each on its own open connection, start the same stream at once;
  exactly one must succeed.
- admitted per second: clients hammer one account at the spec's limit (50/s) for a few seconds
  through a real uvicorn server (`serve_in_thread`); the server side records when it admitted
  each call; the figure is the most calls admitted in any one-second window.
- durability: bursts of acknowledged writes interrupted by SIGTERM and by kill -9; counts the
  acknowledged writes missing from the database afterwards (goal 0), the exit code and how long
  SIGTERM took with a half-sent request and an idle keep-alive connection open.
- 1 MiB body: how long the server takes to refuse a 1 MiB form body, and a normal client's
  median latency with and without an attacker sending such bodies in a loop.

Run it as `.venv/bin/python bench/emulator.py` (about a minute; `--only cpu,fuzz,...` picks
parts). It needs the bench extra (moto_server) for part 1.

Anchors: the same run measures bare uvicorn answering a fixed JSON body with the emulator's
server options. On the reference machine (2 cores): moto_server about 1,600-1,800 us of CPU per
request (about 570 requests/s), bare uvicorn about 48 us. uvicorn picks httptools and uvloop when
they are installed (`uvicorn[standard]`) and falls back to the pure-Python h11 and asyncio, which
costs about 70 us more per request; the first output line says which stack ran. The audit before
issue 11 measured: 7,580 malformed requests with no 5xx; 1 success of K=200; at most 50 admitted
per second; 121 of 3,145 acknowledged writes lost to SIGTERM (exit 143) and 1,039 of 4,494 to
kill -9; a normal client's p50 latency going from 1.5 ms to 0.9 s under 1 MiB bodies.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import http.client
import importlib.util
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import responses

from acscontract.emulator import (
    THROTTLE_ALGORITHMS,
    Emulator,
    StateDatabase,
    ThrottleBucket,
    mock_live,
    serve_in_thread,
    signed_request,
)
from acscontract.signing import COMMON_PARAMETERS, Credentials, WireRequest, sign_v1
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


def bench_seed(streams: int, qps: int | None = QPS_LIMIT) -> dict[str, object]:
    return {
        "description": "bench/emulator.py",
        "accounts": [
            {
                "id": ACCOUNT_ID,
                **({"qps": qps} if qps is not None else {}),
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


def bench_emulator(
    count: int, threads: int, streams: int, seed_path: Path, state_file: Path | None = None
) -> Result:
    port = free_port()
    host = f"127.0.0.1:{port}"
    argv = [script("acscontract"), "emulator", "serve", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--seed", str(seed_path)]
    if state_file is not None:
        argv += ["--state-file", str(state_file)]
    process = start_server(argv, port)
    name = "emulator (uvicorn)" if state_file is None else "emulator + SQLite store"
    try:

        def batches(total: int) -> list[list[Prepared]]:
            return [
                signed_calls(host, t, threads, total // threads, streams) for t in range(threads)
            ]

        return measure(name, process, port, batches, warmup=400, count=count)
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


# --- part 2: the audit's figures ---------------------------------------------------------------

OP = operation()
LIFECYCLE = OP.lifecycle
assert LIFECYCLE is not None
RECORDING_STATE = LIFECYCLE.transition(LIFECYCLE.initial, "start").next_state  # type: ignore[union-attr]
PROTOCOL = OP.protocol
SERVER_STATUSES = {e.http_status for e in PROTOCOL.gateway_errors_in("server")}


class Served:
    """`acscontract emulator serve --state-file` as a subprocess, with its port."""

    def __init__(self, seed_path: Path, state: Path) -> None:
        self.seed_path, self.state = seed_path, state
        self.port = free_port()
        argv = [script("acscontract"), "emulator", "serve", "--host", "127.0.0.1"]
        argv += ["--port", str(self.port), "--seed", str(seed_path), "--state-file", str(state)]
        self.process = start_server(argv, self.port)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def admin(self, method: str, path: str) -> Any:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, f"/_emulator{path}", headers={"Host": self.host})
            response = connection.getresponse()
            return json.loads(response.read())
        finally:
            connection.close()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> tuple[int, float]:
        started = time.monotonic()
        self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        return code, time.monotonic() - started


def start_call(host: str, stream: str, command: str = "start") -> Prepared:
    request = signed_request(
        {"Command": command, "DomainName": DOMAIN, "AppName": APP, "StreamName": stream},
        KEY,
        host=host,
    )
    headers = {k: v for k, v in request.headers.items() if k != "host"}
    return Prepared("POST", f"/?{request.query}", {"Host": host, **headers}, b"")


def send_raw(port: int, data: bytes, timeout: float = 10.0) -> tuple[int | None, bytes]:
    """Raw bytes on a fresh connection; (status, body), or (None, b"") when no answer came."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(data)
            response = http.client.HTTPResponse(sock)
            response.begin()
            return response.status, response.read()
    except (OSError, http.client.HTTPException):
        return None, b""


# -- fuzz --


def _fuzz_requests(count: int, host: str, rng: random.Random) -> Iterator[bytes]:
    """Malformed, mis-signed and oversized requests; none of them may change the state."""
    names = sorted(COMMON_PARAMETERS) + [p.name for p in OP.parameters] + ["x", "", "Action "]
    values = ["", "start", OP.name, OP.product.version, DOMAIN, "%zz", "%00", "a+b", "\u00e9", "*"]
    headers = [
        "authorization",
        "x-acs-action",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-content-sha256",
        "x-acs-evil",
        "content-type",
    ]
    wrong = Credentials(KEY.access_key_id, "not-the-secret")

    def text(n: int) -> str:
        return "".join(rng.choice("abcXYZ019-_.~%+=&;:/ \u00e9") for _ in range(rng.randint(0, n)))

    for index in range(count):
        kind = index % 6
        method = rng.choice(["GET", "POST", "PUT", "DELETE", "POST"])
        body = b""
        extra: dict[str, str] = {}
        if kind == 0:  # random pairs, unsigned
            pairs = [(rng.choice(names), rng.choice([*values, text(20)])) for _ in range(8)]
            query = "&".join(f"{k}={v}" for k, v in pairs)
        elif kind == 1:  # random bytes as the query and body
            query = text(200)
            body = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 300)))
            extra["content-type"] = rng.choice([FORM, "text/plain", "application/json"])
        elif kind == 2:  # signed with the wrong secret, or for an unknown domain
            params = {"Command": "start", "DomainName": text(12) + ".x", "AppName": APP}
            params["StreamName"] = text(10)
            creds = KEY if rng.random() < 0.5 else wrong
            signed = signed_request(params, creds, host=host, scheme=rng.choice(["v1", "v3"]))
            query, body = signed.query, signed.body
            extra.update({k: v for k, v in signed.headers.items() if k != "host"})
            method = signed.method
        elif kind == 3:  # a valid signature, then something added outside it
            signed = signed_request(
                {"Command": "start", "DomainName": DOMAIN, "AppName": APP, "StreamName": "s0"},
                KEY,
                host=host,
                scheme=rng.choice(["v1", "v3"]),
                form=True,
            )
            query, body = signed.query, signed.body
            extra.update({k: v for k, v in signed.headers.items() if k != "host"})
            method = signed.method
            if rng.random() < 0.5:
                query += "&Action=" + OP.name + "&StreamName=s1"  # in both query and body
            else:
                extra["x-acs-evil"] = "1"
                query += "&StreamName=s1"
        elif kind == 4:  # over a limit
            limits = PROTOCOL.request_limits
            choice = rng.randrange(3)
            if choice == 0:
                query = "a=" + "x" * (limits.query_bytes.value + 1)
            elif choice == 1:
                query = "&".join(f"p{i}=1" for i in range(limits.parameters.value + 1))
            else:
                query = "v=" + "y" * (limits.parameter_bytes.value + 1)
        else:  # random headers
            query = "Action=" + OP.name + "&Version=" + OP.product.version
            for _ in range(rng.randint(1, 4)):
                extra[rng.choice(headers)] = text(40)
        head = f"{method} /{text(6).replace(' ', '')}?{query} HTTP/1.1\r\nHost: {host}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in extra.items() if "\n" not in v)
        head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        yield head.encode("utf-8", "replace") + body


FORM = "application/x-www-form-urlencoded"


def bench_fuzz(count: int, seed_path: Path, tmp: Path) -> dict[str, Any]:
    served = Served(seed_path, tmp / "fuzz.db")
    statuses: collections.Counter[int | None] = collections.Counter()
    try:
        # Some state for the refusals to meet: a task recording and one stopped.
        for stream, command in (("s0", "start"), ("s1", "start"), ("s1", "stop")):
            call = start_call(served.host, stream, command)
            connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
            connection.request(call.method, call.target, call.body, call.headers)
            assert connection.getresponse().status == 200
            connection.close()
        before = served.admin("GET", "/snapshot")
        rng = random.Random(11)
        started = time.perf_counter()
        for data in _fuzz_requests(count, served.host, rng):
            status, _ = send_raw(served.port, data)
            statuses[status] += 1
        seconds = time.perf_counter() - started
        after = served.admin("GET", "/snapshot")
        code, _ = served.stop()
    finally:
        if served.process.poll() is None:
            served.stop(signal.SIGKILL)
    again = Served(seed_path, tmp / "fuzz.db")
    try:
        restored = again.admin("GET", "/snapshot")
    finally:
        again.stop()
    return {
        "requests": count,
        "seconds": seconds,
        "5xx": sum(n for s, n in statuses.items() if s is not None and s >= 500),
        "no_answer": statuses[None],
        "statuses": {str(k): v for k, v in sorted(statuses.items(), key=lambda kv: str(kv[0]))},
        "state_unchanged": after == before,
        "state_unchanged_after_restart": restored == before,
        "sigterm_exit": code,
    }


# -- K concurrent starts --


def bench_concurrent_starts(k: int, seed_path: Path, tmp: Path) -> dict[str, Any]:
    served = Served(seed_path, tmp / "race.db")
    barrier = threading.Barrier(k)
    results: list[int | None] = []
    lock = threading.Lock()
    calls = [start_call(served.host, "s0") for _ in range(k)]

    def worker(call: Prepared) -> None:
        status: int | None = None
        connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
        try:
            connection.connect()
            barrier.wait()
            connection.request(call.method, call.target, call.body, call.headers)
            response = connection.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException, threading.BrokenBarrierError):
            status = None
        finally:
            connection.close()
            with lock:
                results.append(status)

    try:
        workers = [threading.Thread(target=worker, args=(c,)) for c in calls]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        served.stop()
    counts = collections.Counter(results)
    return {"k": k, "successes": counts[200], "statuses": {str(s): n for s, n in counts.items()}}


# -- admitted per second --


class AdmissionLog:
    """A throttle factory that notes, on the emulator's clock, every call its buckets admit.

    It wraps the spec's default algorithm, so the times are exactly the ones the limiter used.
    """

    def __init__(self) -> None:
        self.factory = THROTTLE_ALGORITHMS[OP.flow_control.default_algorithm or ""]
        self.admitted: list[float] = []

    def __call__(self, limit: int, window: float) -> ThrottleBucket:
        bucket = self.factory(limit, window)
        log = self.admitted

        class Logged:
            def try_acquire(self, now: float) -> bool:
                admitted = bucket.try_acquire(now)
                if admitted:
                    log.append(now)
                return admitted

        return Logged()


def max_in_window(times: Sequence[float], window: float = 1.0) -> int:
    ordered, best, start = sorted(times), 0, 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def bench_admitted(seconds: float, threads: int, streams: int) -> dict[str, Any]:
    log = AdmissionLog()
    emulator = Emulator(bench_seed(streams, qps=None), throttle=log)  # the spec's limit
    statuses: collections.Counter[int] = collections.Counter()
    lock = threading.Lock()
    client_times: list[float] = []
    with serve_in_thread(emulator) as url:
        host = url.removeprefix("http://")
        port = int(host.rsplit(":", 1)[1])
        stop_at = time.monotonic() + seconds

        def worker(thread: int) -> None:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            owned = [f"s{i}" for i in range(thread, streams, threads)]
            cycle = command_cycle()
            n = 0
            while time.monotonic() < stop_at:
                stream = owned[n % len(owned)]
                call = start_call(host, stream, cycle[(n // len(owned)) % len(cycle)])
                connection.request(call.method, call.target, call.body, call.headers)
                response = connection.getresponse()
                response.read()
                with lock:
                    statuses[response.status] += 1
                    if response.status == 200:
                        client_times.append(time.monotonic())
                        n += 1
            connection.close()

        workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    return {
        "limit": OP.flow_control.limit,
        "seconds": seconds,
        "calls": sum(statuses.values()),
        "admitted": len(log.admitted),
        "max_admitted_in_any_second_server": max_in_window(log.admitted),
        "max_admitted_in_any_second_client": max_in_window(client_times),
    }


# -- durability --


def _burst(served: Served, streams: int, writes: int, sig: int) -> tuple[set[str], int, float]:
    """Start recordings on `streams` streams from 8 keep-alive clients, with a half-sent request
    and an idle connection open, and send `sig` once `writes` were acknowledged.

    Returns the acknowledged streams, the server's exit code and how long it took to stop.
    """
    acknowledged: set[str] = set()
    lock = threading.Lock()
    threads = 8
    batches = [
        [(f"s{i}", start_call(served.host, f"s{i}")) for i in range(t, streams, threads)]
        for t in range(threads)
    ]

    def worker(batch: list[tuple[str, Prepared]]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
        try:
            for stream, call in batch:
                connection.request(call.method, call.target, call.body, call.headers)
                response = connection.getresponse()
                response.read()
                if response.status == 200:
                    with lock:
                        acknowledged.add(stream)
        except (OSError, http.client.HTTPException):
            return
        finally:
            connection.close()

    stuck = socket.create_connection(("127.0.0.1", served.port))
    stuck.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
    idle = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    idle.request("GET", "/_emulator/state", headers={"Host": served.host})
    idle.getresponse().read()
    workers = [threading.Thread(target=worker, args=(b,)) for b in batches]
    for w in workers:
        w.start()
    while True:
        with lock:
            if len(acknowledged) >= writes:
                break
        time.sleep(0.001)
    code, took = served.stop(sig)
    for w in workers:
        w.join()
    stuck.close()
    idle.close()
    with lock:
        return set(acknowledged), code, took


def bench_durability(sig: int, rounds: int, writes: int, tmp: Path) -> dict[str, Any]:
    streams = writes * 2
    seed = bench_seed(streams)
    seed_path = tmp / f"durability-{sig}.json"
    seed_path.write_text(json.dumps(seed))
    acknowledged_total = lost_total = 0
    codes, stop_times = [], []
    for round_ in range(rounds):
        state = tmp / f"durability-{sig}-{round_}.db"
        served = Served(seed_path, state)
        acknowledged, code, took = _burst(served, streams, writes, sig)
        emulator = Emulator(seed)
        with StateDatabase(state) as database:
            emulator.attach(database)
            view = emulator.state
        stored = {s for s in acknowledged if view.task_state(DOMAIN, APP, s) == RECORDING_STATE}
        acknowledged_total += len(acknowledged)
        lost_total += len(acknowledged - stored)
        codes.append(code)
        stop_times.append(took)
        leftovers = [p.name for p in tmp.iterdir() if p.name.endswith(".tmp")]
        assert not leftovers, leftovers
    return {
        "signal": signal.Signals(sig).name,
        "rounds": rounds,
        "acknowledged": acknowledged_total,
        "lost": lost_total,
        "exit_codes": codes,
        "max_stop_seconds": max(stop_times),
    }


# -- a 1 MiB body --


def send_big(
    port: int, head: bytes, body: bytes, timeout: float = 10.0
) -> tuple[int | None, float]:
    """Headers, then the body from another thread while the answer is read; (status, seconds).

    The server may answer and close before the body is sent, which makes the body's send fail:
    that is expected, the answer has been read by then.
    """
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except OSError:
        return None, 0.0
    with sock:
        started = time.perf_counter()
        sock.sendall(head)

        def rest() -> None:
            with contextlib.suppress(OSError):
                sock.sendall(body)

        sender = threading.Thread(target=rest)
        sender.start()
        try:
            response = http.client.HTTPResponse(sock)
            response.begin()
            response.read()
            status: int | None = response.status
        except (OSError, http.client.HTTPException):
            status = None
        took = time.perf_counter() - started
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sender.join()
    return status, took


def bench_big_body(seed_path: Path, tmp: Path, samples: int = 300) -> dict[str, Any]:
    served = Served(seed_path, tmp / "big.db")
    body = b"a=1&" * (1 << 18)
    head = (
        f"POST / HTTP/1.1\r\nHost: {served.host}\r\nContent-Type: {FORM}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    try:
        refusals = []
        expected = PROTOCOL.gateway_error_for("requestTooLarge").http_status
        for _ in range(20):
            status, took = send_big(served.port, head, body)
            assert status == expected, status
            refusals.append(took)
        cycle = command_cycle()

        def latencies(count: int) -> list[float]:
            connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
            out = []
            for n in range(count):
                call = start_call(served.host, f"s{n % 8}", cycle[(n // 8) % len(cycle)])
                started = time.perf_counter()
                connection.request(call.method, call.target, call.body, call.headers)
                connection.getresponse().read()
                out.append(time.perf_counter() - started)
            connection.close()
            return out

        quiet = latencies(samples)
        attacking = threading.Event()

        def attacker() -> None:
            while not attacking.is_set():
                send_big(served.port, head, body)

        thread = threading.Thread(target=attacker)
        thread.start()
        try:
            loaded = latencies(samples)
        finally:
            attacking.set()
            thread.join()
    finally:
        served.stop()
    return {
        "refusal_ms_median": statistics.median(refusals) * 1000,
        "refusal_ms_max": max(refusals) * 1000,
        "p50_ms_quiet": statistics.median(quiet) * 1000,
        "p50_ms_under_1mib_attack": statistics.median(loaded) * 1000,
    }


PARTS = ("cpu", "fuzz", "race", "admitted", "durability", "bigbody")


def run_cpu(args: argparse.Namespace, figures: dict[str, Any]) -> bool:
    """Part 1, in `--cpu-rounds` rounds: each round measures the four servers one after the
    other, so a change in the machine's speed (frequency, a noisy neighbour) hits one round's
    emulator and moto alike. The goal is judged on the median over rounds of each round's
    ratio, and every round is printed."""
    streams = args.threads * 16
    rounds: list[tuple[Result, Result, Result, Result]] = []
    with tempfile.TemporaryDirectory() as tmp:
        seed_path = Path(tmp) / "seed.json"
        seed_path.write_text(json.dumps(bench_seed(streams)))
        for number in range(1, args.cpu_rounds + 1):
            emulator = bench_emulator(args.requests, args.threads, streams, seed_path)
            stored = bench_emulator(
                args.requests,
                args.threads,
                streams,
                seed_path,
                state_file=Path(tmp) / f"cpu-{number}.db",
            )
            bare = bench_bare_uvicorn(args.requests, args.threads)
            moto = bench_moto(args.moto_requests, args.threads)
            rounds.append((emulator, stored, bare, moto))
    mock_rate, mock_anchor, mock_statuses = bench_mock(args.mock_requests, streams)

    print(
        f"{os.cpu_count()} CPUs, {args.threads} client threads with keep-alive connections, "
        f"{uvicorn_stack()}"
    )
    valid = True
    for number, results in enumerate(rounds, 1):
        emulator, stored, bare, moto = results
        print(f"round {number} of {len(rounds)}:")
        for result in results:
            print("  " + result.line())
        valid &= set(emulator.statuses) == {200} and set(stored.statuses) == {200}
        print(
            f"  moto's CPU per request over the emulator's: {moto.cpu_us / emulator.cpu_us:.1f}x "
            f"in memory, {moto.cpu_us / stored.cpu_us:.1f}x with SQLite; the ASGI app, the "
            f"signature check and the operation {emulator.cpu_us - bare.cpu_us:,.0f} us over "
            f"bare uvicorn; the SQLite store {stored.cpu_us - emulator.cpu_us:,.0f} us"
        )
    if not valid:
        print("WARNING: the emulator did not answer every call with 200; the mix is invalid.")

    def median(values: Sequence[float]) -> float:
        return statistics.median(values)

    memory_ratio = median([m.cpu_us / e.cpu_us for e, _, _, m in rounds])
    sqlite_ratio = median([m.cpu_us / s.cpu_us for _, s, _, m in rounds])
    ratios = ", ".join(f"{m.cpu_us / s.cpu_us:.1f}x" for _, s, _, m in rounds)
    print(
        f"median over {len(rounds)} rounds: moto_server uses {memory_ratio:.1f}x the emulator's "
        f"CPU per request in memory and {sqlite_ratio:.1f}x with the SQLite store (rounds: "
        f"{ratios}; goal: 10x or more with SQLite)"
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
    figures.update(
        {
            "rounds": [
                {
                    "emulator_cpu_us": e.cpu_us,
                    "emulator_rps": e.rate,
                    "emulator_sqlite_cpu_us": s.cpu_us,
                    "emulator_sqlite_rps": s.rate,
                    "bare_uvicorn_cpu_us": b.cpu_us,
                    "moto_cpu_us": m.cpu_us,
                    "moto_rps": m.rate,
                }
                for e, s, b, m in rounds
            ],
            "moto_over_emulator_median": memory_ratio,
            "moto_over_emulator_sqlite_median": sqlite_ratio,
            "mock_live_rps": mock_rate,
            "bare_responses_rps": mock_anchor,
        }
    )
    return valid and sqlite_ratio >= 10


def run_audit(args: argparse.Namespace, parts: set[str], figures: dict[str, Any]) -> bool:
    ok = True
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        seed_path = tmp / "seed.json"
        seed_path.write_text(json.dumps(bench_seed(64)))
        if "fuzz" in parts:
            fuzz = bench_fuzz(args.fuzz, seed_path, tmp)
            figures["fuzz"] = fuzz
            good = (
                fuzz["5xx"] == 0
                and fuzz["no_answer"] == 0
                and fuzz["state_unchanged"]
                and fuzz["state_unchanged_after_restart"]
            )
            ok &= good
            print(
                f"fuzz: {fuzz['requests']:,} requests in {fuzz['seconds']:.1f} s: "
                f"{fuzz['5xx']} 5xx, {fuzz['no_answer']} without an answer, state unchanged: "
                f"{fuzz['state_unchanged']} (after SIGTERM and a restart: "
                f"{fuzz['state_unchanged_after_restart']}); statuses {fuzz['statuses']}"
                + ("" if good else "  <-- FAILED")
            )
        if "race" in parts:
            race = bench_concurrent_starts(args.k, seed_path, tmp)
            figures["concurrent_starts"] = race
            ok &= race["successes"] == 1
            print(
                f"concurrent starts: K={race['k']} on one stream -> {race['successes']} success "
                f"(goal exactly 1); statuses {race['statuses']}"
            )
        if "admitted" in parts:
            admitted = bench_admitted(args.admitted_seconds, 8, 64)
            figures["admitted"] = admitted
            ok &= admitted["max_admitted_in_any_second_server"] <= admitted["limit"]
            print(
                f"flow control: {admitted['calls']:,} calls in {admitted['seconds']:.0f} s, "
                f"{admitted['admitted']} admitted; most admitted in any second: "
                f"{admitted['max_admitted_in_any_second_server']} on the server's clock "
                f"({admitted['max_admitted_in_any_second_client']} as the clients saw answers); "
                f"limit {admitted['limit']}"
            )
        if "durability" in parts:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                result = bench_durability(sig, args.rounds, args.writes, tmp)
                figures[f"durability_{result['signal']}"] = result
                ok &= result["lost"] == 0
                if sig == signal.SIGTERM:
                    ok &= set(result["exit_codes"]) == {0} and result["max_stop_seconds"] < 5
                print(
                    f"durability, {result['signal']} mid-burst x{result['rounds']}: "
                    f"{result['lost']} of {result['acknowledged']:,} acknowledged writes lost "
                    f"(goal 0); exit codes {sorted(set(result['exit_codes']))}; slowest stop "
                    f"{result['max_stop_seconds']:.2f} s"
                )
        if "bigbody" in parts:
            big = bench_big_body(seed_path, tmp)
            figures["big_body"] = big
            ok &= big["refusal_ms_median"] < 50
            print(
                f"1 MiB body: refused in {big['refusal_ms_median']:.1f} ms (median of 20; goal "
                f"< 50 ms; slowest {big['refusal_ms_max']:.1f} ms); a client's p50 latency "
                f"{big['p50_ms_quiet']:.2f} ms quiet, {big['p50_ms_under_1mib_attack']:.2f} ms "
                "with an attacker sending 1 MiB bodies in a loop"
            )
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=8000, help="emulator requests")
    parser.add_argument("--moto-requests", type=int, default=2000, help="moto_server requests")
    parser.add_argument("--mock-requests", type=int, default=2000, help="mock_live requests")
    parser.add_argument("--threads", type=int, default=4, help="client threads")
    parser.add_argument(
        "--cpu-rounds", type=int, default=3, help="rounds of part 1 (the median ratio is judged)"
    )
    parser.add_argument("--fuzz", type=int, default=10_000, help="fuzzed requests")
    parser.add_argument("--k", type=int, default=200, help="concurrent starts on one stream")
    parser.add_argument("--admitted-seconds", type=float, default=5.0, help="flow-control run")
    parser.add_argument("--writes", type=int, default=3000, help="writes before the signal")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per signal")
    parser.add_argument(
        "--only", default=",".join(PARTS), help=f"comma-separated parts: {', '.join(PARTS)}"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    unknown = parts - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}; pick from {', '.join(PARTS)}")
    figures: dict[str, Any] = {}
    ok = True
    if "cpu" in parts:
        ok &= run_cpu(args, figures)
    if parts - {"cpu"}:
        ok &= run_audit(args, parts, figures)
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2))
    print("all goals met" if ok else "SOME GOALS WERE NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
