"""Benchmark: generated-and-checked cases per second of the contract suite's property phase.

Measures, in one run:
- the property-based phase (hypothesis strategies from the spec -> signed request -> emulator ->
  every response check) against the emulator in process, and over loopback HTTP;
- schemathesis over the same OpenAPI document with its default checks, in process (ASGI), as
  the anchor.

The goal is at least 5x the schemathesis figure for the in-process property phase. Prints the
figures; exits 1 if the goal is missed. Runs in well under two minutes.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from acscontract.contracts.checks import checks_for
from acscontract.contracts.strategies import invalid_requests, sequences, valid_requests
from acscontract.contracts.suite import send
from acscontract.contracts.targets import ContractTarget, TargetOptions, open_target
from acscontract.spec import openapi_document, operation

OP = operation()
GOAL = 5.0
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


def main() -> int:
    print(f"acscontract contract-suite benchmark ({OP.qualified_name})")
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
    return 0 if ratio >= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
