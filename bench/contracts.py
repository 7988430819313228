"""Benchmark: the contract suite's speed and what it costs on a real account.

Measures, in one run:
1. the property-based phase (hypothesis strategies from the spec -> signed request -> emulator ->
   every response check) against the emulator in process, and over loopback HTTP; and, as the
   anchor, schemathesis over the same OpenAPI document with its default checks, in process
   (ASGI). Goal: the in-process property phase at least 5x the anchor.
2. `acscontract run` (the quick profile, the whole command) against a served emulator
   (`acscontract emulator serve`, started fresh) and against the emulator in process, both in
   this run, interleaved. Goal: the served run takes at most 2x the in-process one.
3. The real cost of each profile on a real account: `acscontract run` through the real-account
   stand-in (`acscontract.contracts.standin`: a proxy in front of a served emulator that hides
   its admin API and counts what it forwards). Prints requests, recordings (successful start and
   restart calls), writes (successful calls of operations the spec says write), wall time and
   the plan's bounds. Goals: within the plan, at most --max-recordings (3) recordings and
   --max-writes (0) writes, and the quick profile of the reference operation at most 2,000
   requests. `--operation all` costs every operation of the product instead.

Prints the figures; exits 1 if a goal is missed. `--parts 1,2` picks parts; part 3 paces at 80%
of the limit, so it takes minutes (`--profiles quick` keeps it to about one; with `--operation
all`, about half an hour, most of it the 62 operations whose limit is not documented).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from acscontract.contracts.checks import checks_for
from acscontract.contracts.plan import run_plan
from acscontract.contracts.plugin import PROFILES, settings_of
from acscontract.contracts.selection import select_operations
from acscontract.contracts.standin import real_account_standin
from acscontract.contracts.strategies import invalid_requests, sequences, valid_requests
from acscontract.contracts.suite import send
from acscontract.contracts.targets import ContractTarget, TargetOptions, open_target
from acscontract.spec import openapi_document, operation

OP = operation()
GOAL = 5.0
SERVED_GOAL = 2.0
QUICK_REQUESTS_GOAL = 2000
MAX_RECORDINGS = 3
ACSCONTRACT = [sys.executable, "-m", "acscontract"]
BENCH_SETTINGS = settings(
    database=None,
    deadline=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)


class _Done(Exception):
    """Raised once enough cases ran: stops hypothesis without a failure report."""


def property_phase(target: ContractTarget, cases: int) -> float:
    """Cases per second: generate a valid or invalid request, send it, run every check.

    Generated as the contracts generate them: sequences of requests (`strategies.sequences`).
    """
    checks = checks_for(OP)
    fixed = target.resource_parameters()
    strategy = sequences(st.one_of(valid_requests(OP, fixed), invalid_requests(OP, fixed)))
    count = 0

    @settings(BENCH_SETTINGS, max_examples=10**6)
    @given(strategy)
    def run(sequence):
        nonlocal count
        for case in sequence:
            response = send(target, case)
            accepted = case.accepted or None
            checks.check(response, valid_request=case.kind == "valid", accepted=accepted)
            count += 1
        if count >= cases:
            raise _Done

    start = time.perf_counter()
    with contextlib.suppress(_Done):
        run()
    return count / (time.perf_counter() - start)


def schemathesis_phase(target: ContractTarget, cases: int) -> float:
    """Cases per second of schemathesis' default checks over the spec's OpenAPI, in process."""
    import requests
    import schemathesis

    from acscontract.client import AcsAuth
    from acscontract.emulator import asgi_app

    schema = schemathesis.openapi.from_dict(openapi_document(OP))
    app = asgi_app(target.emulator)
    session = requests.Session()
    session.auth = AcsAuth(target.credentials, action=OP.name, version=OP.product.version)
    count = 0
    per_operation = max(1, cases // 2)
    start = time.perf_counter()
    for result in schema.get_all_operations():
        api_operation = result.ok()

        @settings(BENCH_SETTINGS, max_examples=per_operation)
        @given(api_operation.as_strategy())
        def run(case):
            nonlocal count
            # A case whose checks fail is a checked case too.
            with contextlib.suppress(Exception, BaseExceptionGroup):
                case.call_and_validate(session=session, app=app)
            count += 1

        run()
    return count / (time.perf_counter() - start)


def measure(name: str, action: Callable[[], float]) -> float:
    rate = action()
    print(f"{name:<48} {rate:8.0f} cases/s")
    return rate


def part_property_phase() -> bool:
    with open_target(OP, TargetOptions()) as in_process:
        measure("property phase, in process (warm-up)", lambda: property_phase(in_process, 300))
        inproc = measure("property phase, in process", lambda: property_phase(in_process, 6000))
        anchor = measure(
            "anchor: schemathesis default checks, ASGI",
            lambda: schemathesis_phase(in_process, 1000),
        )
    with open_target(OP, TargetOptions(target="emulator-http")) as loopback:
        measure("property phase, loopback HTTP", lambda: property_phase(loopback, 2000))
    ratio = inproc / anchor
    print(f"in-process property phase / schemathesis: {ratio:.1f}x (goal >= {GOAL:.0f}x)")
    return ratio >= GOAL


# --- a served emulator, and the real-account stand-in in front of one -------------------------


def _root_key() -> tuple[str, str]:
    from acscontract.emulator import Emulator

    account = Emulator().seed.accounts[0]
    root = next(k for k in account.access_keys if k.user is None and k.active)
    return root.id, root.secret


def _environment(pacing_dir: str) -> dict[str, str]:
    key_id, secret = _root_key()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACSCONTRACT_")}
    env.update(
        ALIBABA_CLOUD_ACCESS_KEY_ID=key_id,
        ALIBABA_CLOUD_ACCESS_KEY_SECRET=secret,
        ACSCONTRACT_PACING_DIR=pacing_dir,
    )
    env.pop("ALIBABA_CLOUD_SECURITY_TOKEN", None)
    return env


@contextlib.contextmanager
def served_emulator() -> Iterator[str]:
    """`acscontract emulator serve --port 0`, started fresh; yields its URL."""
    process = subprocess.Popen(
        [*ACSCONTRACT, "emulator", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        found = re.search(r"on (http://\S+)", first)
        if found is None:
            raise RuntimeError(f"acscontract emulator serve printed {first!r}")
        yield found.group(1)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _run(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(
        [*ACSCONTRACT, "run", *args], env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(
            f"acscontract run {' '.join(args)} exited {done.returncode}:\n{done.stdout[-3000:]}"
            f"\n{done.stderr[-2000:]}"
        )
    return elapsed, done.stdout


def part_served(rounds: int) -> bool:
    """The quick profile against a served emulator and in process, interleaved."""
    resources = ["--domain", "push.example.com", "--app", "live", "--stream", "stream1"]
    served_times: list[float] = []
    inproc_times: list[float] = []
    with tempfile.TemporaryDirectory() as pacing:
        env = _environment(pacing)
        for index in range(rounds):
            inproc, _ = _run(["--profile", "quick"], env)
            with served_emulator() as url:
                served, _ = _run(["--target", url, *resources, "--profile", "quick"], env)
            inproc_times.append(inproc)
            served_times.append(served)
            print(
                f"round {index + 1}: quick profile in process {inproc:6.1f} s, against a served "
                f"emulator {served:6.1f} s ({served / inproc:.2f}x)"
            )
    best_served, best_inproc = min(served_times), min(inproc_times)
    ratio = best_served / best_inproc
    print(
        f"served emulator / in process, best of {rounds}: {best_served:.1f} s / "
        f"{best_inproc:.1f} s = {ratio:.2f}x (goal <= {SERVED_GOAL:.0f}x)"
    )
    return ratio <= SERVED_GOAL


def part_real_account(profiles: list[str], operation_names: str | None = None) -> bool:
    """Each profile through the real-account stand-in: what a real account would be billed.

    `operation_names` is `--operation` (one name, a comma list, or all; the reference operation
    when None)."""
    ok = True
    chosen = select_operations(operation_names)
    resources = ["--domain", "push.example.com", "--app", "live", "--stream", "stream1"]
    picked = ["--operation", operation_names] if operation_names else []
    print(f"operations: {chosen.describe()}")
    print(
        f"{'profile':<9} {'requests':>9} {'plan max':>9} {'recordings':>11} {'plan max':>9} "
        f"{'writes':>7} {'plan max':>9} {'wall s':>7} {'plan s':>7}  by command"
    )
    with tempfile.TemporaryDirectory() as pacing:
        env = _environment(pacing)
        for profile in profiles:
            with served_emulator() as upstream, real_account_standin(upstream) as standin:
                elapsed, out = _run(
                    ["--target", standin.url, *resources, *picked, "--profile", profile], env
                )
                counts = standin.counts
                options = TargetOptions(
                    target=standin.url,
                    domain="push.example.com",
                    app="live",
                    stream="stream1",
                    operation=operation_names,
                )
                with open_target(None, options) as target:
                    plan = run_plan(
                        chosen.operations,
                        profile,
                        settings_of(profile),
                        resources=target.resources,
                        deny_keys=len(target.deny_credentials),
                        allow_throttling=False,
                        max_recordings=MAX_RECORDINGS,
                        max_writes=options.write_limit,
                    )
            said = re.search(r"Sent (\d+) requests; (\d+) billable.*?; (\d+) writes", out)
            print(
                f"{profile:<9} {counts.requests:>9} {plan.requests:>9} {counts.recordings:>11} "
                f"{plan.recordings:>9} {counts.writes:>7} {plan.writes:>9} {elapsed:>7.1f} "
                f"{plan.seconds:>7.0f}  {dict(sorted(counts.by_command.items()))}"
            )
            if said is None or (int(said[1]), int(said[2]), int(said[3])) != (
                counts.requests,
                counts.recordings,
                counts.writes,
            ):
                print(f"  the run's summary ({said and said[0]}) differs from the proxy's counts")
                ok = False
            if (
                counts.requests > plan.requests
                or counts.recordings > MAX_RECORDINGS
                or counts.writes > options.write_limit
            ):
                print("  OVER the plan, the recording budget or the write budget")
                ok = False
            if (
                profile == "quick"
                and operation_names is None
                and counts.requests > QUICK_REQUESTS_GOAL
            ):
                print(f"  the quick profile sent more than {QUICK_REQUESTS_GOAL} requests")
                ok = False
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="1,2,3", help="which parts to run (1,2,3)")
    parser.add_argument("--rounds", type=int, default=2, help="served/in-process rounds")
    parser.add_argument("--profiles", default=",".join(PROFILES), help="profiles to cost in part 3")
    parser.add_argument(
        "--operation", default=None, help="part 3's --operation (a name, a comma list, or all)"
    )
    args = parser.parse_args(argv)
    parts = {p.strip() for p in args.parts.split(",")}
    print(f"acscontract contract-suite benchmark ({OP.qualified_name})")
    results = []
    if "1" in parts:
        print("\n1. property phase")
        results.append(part_property_phase())
    if "2" in parts:
        print("\n2. acscontract run, quick profile: served emulator vs in process")
        results.append(part_served(args.rounds))
    if "3" in parts:
        print("\n3. real cost per profile (real-account stand-in, --max-recordings 3)")
        profiles = [p for p in args.profiles.split(",") if p]
        results.append(part_real_account(profiles, args.operation))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
