"""Benchmark: how exactly and how cheaply `probe rate-limit --mode measure` reads a limiter.

For each limiter the emulator offers (fixed window, sliding log, token bucket), plus a
zero-tolerance GCRA (a token bucket of one token, given to the emulator as a bucket factory), and
for limits of 10, 50 and 200 calls per second, the script runs `measure` with its defaults (a
dense, dithered run at 10x the documented limit of 50/s, for 4 s) and prints the estimated limit
against the true one, whether the kind was recognised, the burst, the wall time, the calls sent
and the refusals caused.

1. In-process emulator, simulated time: the emulator's `ManualClock` is driven by the probe, so
   a run costs only the emulator's own work.
2. The real HTTP server (`serve_in_thread`, uvicorn on loopback), real time: the same runs over
   the network, for limits 10 and 50 (a 200/s limit against 500 calls/s also works, but it is the
   same picture at twice the time).

Anchor, measured in the same run: the naive reading, pacing 10% over the true limit and taking
the average accepted rate after the first refusal (the aliasing trap), on the same emulators.
Run it as `.venv/bin/python bench/probe.py` (about a minute; `--no-http` skips part 2).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from acscontract.emulator import Emulator, ThrottleBucket, TokenBucket, serve_in_thread
from acscontract.probe import (
    Attempt,
    Mode,
    Outcome,
    ProbeResult,
    ProbeSettings,
    Resources,
    Target,
    emulator_target,
    http_target,
    run_probe,
)
from acscontract.signing import Credentials
from acscontract.spec import operation

ACCOUNT = "1234567890123456"
ROOT = Credentials("LTAIemulatorRootKey0001", "emulator-root-secret-not-real-0001")
DOMAIN = "push.example.com"
LIMITS = (10, 50, 200)


def gcra(limit: int, window: float) -> ThrottleBucket:
    """A zero-tolerance limiter: one token, refilled at the limit's rate."""
    return TokenBucket(limit, window, burst=1)


Throttle = str | Callable[[int, float], ThrottleBucket]
KINDS: dict[str, tuple[Throttle, str]] = {
    "fixed-window": ("fixed-window", "fixed-window"),
    "sliding-log": ("sliding-log", "sliding-log"),
    "token-bucket": ("token-bucket", "token-bucket"),
    "gcra (1 token)": (gcra, "token-bucket"),
}


@dataclass(frozen=True, slots=True)
class Row:
    limiter: str
    limit: int
    estimated: float | None
    kind_ok: bool
    burst: int | None
    wall_s: float
    calls: int
    refusals: int
    naive: float | None = None

    @property
    def error(self) -> float | None:
        return None if self.estimated is None else (self.estimated - self.limit) / self.limit


def steady_average(attempts: tuple[Attempt, ...]) -> float | None:
    """The naive estimate: accepted calls per second after the first refusal."""
    paced = [a for a in attempts if a.phase == "measure"]
    first = next((a.index for a in paced if a.outcome is Outcome.THROTTLED), None)
    if first is None:
        return None
    steady = [a for a in paced if a.index > first and a.outcome is Outcome.ACCEPTED]
    if len(steady) < 2:
        return None
    return (len(steady) - 1) / (steady[-1].sent_at - steady[0].sent_at)


def row(name: str, limit: int, expected_kind: str, result: ProbeResult, naive: float | None) -> Row:
    estimate = result.estimate
    return Row(
        limiter=name,
        limit=limit,
        estimated=None if estimate is None else estimate.limit,
        kind_ok=estimate is not None and estimate.kind.value == expected_kind,
        burst=None if estimate is None else estimate.burst,
        wall_s=result.duration_s,
        calls=result.requests,
        refusals=result.throttled,
        naive=naive,
    )


def simulated(name: str, throttle: Throttle, limit: int) -> Target:
    target = emulator_target(throttle=throttle)
    target.emulator.set_account_qps(ACCOUNT, limit)
    return target


def run_simulated() -> list[Row]:
    rows = []
    for name, (throttle, kind) in KINDS.items():
        for limit in LIMITS:
            result = run_probe(simulated(name, throttle, limit), ProbeSettings(mode=Mode.MEASURE))
            naive_run = run_probe(
                simulated(name, throttle, limit),
                ProbeSettings(mode=Mode.MEASURE, max_rate=1.1 * limit),
            )
            rows.append(row(name, limit, kind, result, steady_average(naive_run.attempts)))
    return rows


def run_http(limits: tuple[int, ...]) -> list[Row]:
    rows = []
    for name, (throttle, kind) in KINDS.items():
        for limit in limits:
            emulator = Emulator(throttle=throttle)
            emulator.set_account_qps(ACCOUNT, limit)
            with serve_in_thread(emulator) as url:
                result = run_probe(
                    http_target(url, ROOT),
                    ProbeSettings(mode=Mode.MEASURE),
                    resources=Resources(DOMAIN),
                )
            rows.append(row(name, limit, kind, result, None))
    return rows


def show(title: str, rows: list[Row], *, naive: bool) -> None:
    print(f"\n{title}")
    header = (
        f"{'limiter':<15} {'true':>5} {'estimated':>10} {'error':>7} {'kind':>5} {'burst':>6} "
        f"{'wall s':>7} {'calls':>6} {'refused':>8}"
    )
    if naive:
        header += f" {'naive (1.1x)':>13} {'naive err':>10}"
    print(header)
    for r in rows:
        estimated = "-" if r.estimated is None else f"{r.estimated:.2f}"
        error = "-" if r.error is None else f"{r.error:+.2%}"
        line = (
            f"{r.limiter:<15} {r.limit:>5} {estimated:>10} {error:>7} "
            f"{'ok' if r.kind_ok else 'WRONG':>5} {r.burst if r.burst is not None else '-':>6} "
            f"{r.wall_s:>7.2f} {r.calls:>6} {r.refusals:>8}"
        )
        if naive:
            value = "-" if r.naive is None else f"{r.naive:.2f}"
            err = "-" if r.naive is None else f"{(r.naive - r.limit) / r.limit:+.2%}"
            line += f" {value:>13} {err:>10}"
        print(line)
    if naive and any(r.naive is None for r in rows):
        print(
            "naive '-': no call was refused within 4 s at 1.1x the limit (a full bucket's burst "
            "outlasts the run), so the naive reading sees no limit at all"
        )
    worst = max((abs(r.error) for r in rows if r.error is not None), default=float("nan"))
    kinds = sum(r.kind_ok for r in rows)
    print(
        f"worst error {worst:.3%}; kind right in {kinds}/{len(rows)}; "
        f"wall time {sum(r.wall_s for r in rows):.1f} s for {sum(r.calls for r in rows)} calls"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-http", action="store_true", help="skip the real-time HTTP part")
    args = parser.parse_args(argv)
    flow = operation().flow_control
    print(
        f"probe measure: documented limit {flow.limit}/{flow.per}; default measuring rate "
        f"{10 * (flow.limit or 0)}/s for 4 s, dithered, after 2 s idle"
    )
    started = time.perf_counter()
    show(
        "1. in-process emulator, simulated time (anchor: naive average at 1.1x the true limit)",
        run_simulated(),
        naive=True,
    )
    if not args.no_http:
        show("2. real HTTP server on loopback, real time", run_http((10, 50)), naive=False)
    print(f"\ntotal {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
