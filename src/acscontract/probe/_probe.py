"""Running a probe: which call it sends, against which target, in which order, and the verdict.

The operation comes from the caller (`--operation` on the command line); the factories and
`run_probe` fall back to the reference operation when given none.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from acscontract._loopback import is_loopback_url
from acscontract.client import Pacer, PacingStore, pacer_for, pacing_store
from acscontract.errors import UsageError
from acscontract.probe._analysis import (
    MIN_STEADY,
    agrees,
    capacity_finding,
    enforcement_findings,
    estimate_limiter,
    sliding_max,
)
from acscontract.probe._caller import Caller
from acscontract.probe._classify import ResponseClassifier
from acscontract.probe._clock import ProbeClock, RealClock, SimulatedClock
from acscontract.probe._model import (
    Attempt,
    Estimate,
    Finding,
    LimiterKind,
    Outcome,
    ProbeResult,
)
from acscontract.probe._plan import Mode, ProbePlan, ProbeSettings, plan_probe
from acscontract.probe._runner import ProbeObserver, Runner

if TYPE_CHECKING:
    from acscontract.emulator import BucketFactory, Emulator
    from acscontract.signing import Credentials
    from acscontract.spec import Operation

__all__ = [
    "PROBE_APP",
    "PROBE_STREAM",
    "ProbeCall",
    "Resources",
    "Target",
    "emulator_target",
    "harmless_command",
    "http_target",
    "plan_for",
    "probe_call",
    "probe_request",
    "run_probe",
]

#: The phases whose calls stay under the shared pacing budget; the others draw throttling on
#: purpose (and need --allow-throttling off this machine).
POLITE_PHASES = frozenset({"preflight", "capacity"})
#: The app and stream the probe names unless told otherwise: names that have no record
#: configuration and no live stream, so the operation refuses the call cheaply, touching nothing.
PROBE_APP = "acscontract-rate-probe"
PROBE_STREAM = "acscontract-rate-probe"
#: The endpoint an in-process target's requests name (V3 signs its host; the emulator checks it).
_EMULATOR_HOST = "http://127.0.0.1"


@dataclass(frozen=True, slots=True)
class Resources:
    """The domain, app and stream the probe's call names. `domain` None: the target's default
    (the emulator's seed domain); a network target needs one."""

    domain: str | None = None
    app: str = PROBE_APP
    stream: str = PROBE_STREAM


@dataclass(frozen=True, slots=True)
class Target:
    """Where a probe sends its calls: the call, the clock it paces on, and what it is.

    `label` names the target without secrets; `loopback` says whether it runs on this machine
    (the safety rules are stricter for anything else); `domain` is a domain the target knows;
    `emulator` is the in-process emulator behind the target, if there is one (to seed or
    reconfigure it).
    """

    caller: Caller
    clock: ProbeClock
    label: str
    loopback: bool
    domain: str | None = None
    emulator: Emulator | None = None
    pacer: Pacer | None = None
    """Paces the polite calls (the preflight and check's capacity part), shared with every
    process that names the same pacing store; None: unpaced."""
    operation: Operation | None = None
    """The operation the transport calls (the reference operation when None)."""

    @property
    def simulated(self) -> bool:
        """Whether the run costs no real time."""
        return self.clock.simulated


def _the(operation: Operation | None) -> Operation:
    """`operation`, or the reference operation when None is given."""
    if operation is not None:
        return operation
    from acscontract.spec import operation as reference

    return reference()


def http_target(
    url: str,
    credentials: Credentials | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    timeout: float = 10.0,
    store: PacingStore | None = None,
    operation: Operation | None = None,
) -> Target:
    """A target over HTTP that calls `operation` (the reference operation by default), paced in
    real time. Credentials default to the standard variables.

    Its polite calls draw from the shared pacing budget (80% of the operation's limit per
    endpoint) of `store`; without one, a target off this machine uses the file lock store, and
    one on this machine is not paced.
    """
    from acscontract.client import Client, HttpTransport
    from acscontract.signing import Credentials

    creds = credentials or Credentials.from_env(environ)
    op = _the(operation)
    loopback = is_loopback_url(url)
    # A proxy from the environment has no business with this machine's own ports.
    transport = HttpTransport(timeout=timeout, trust_env=not loopback)
    client = Client(url, creds, transport=transport)
    parts = urlsplit(url if "://" in url else f"https://{url}")
    label = f"{parts.scheme}://{parts.netloc}{parts.path if parts.path != '/' else ''}"
    pacer = None
    if op.flow_control.limit is not None and (store is not None or not loopback):
        pacer = pacer_for(url, op.flow_control, store=store or pacing_store())
    return Target(
        Caller(client, op, concurrent=True), RealClock(), label, loopback, pacer=pacer, operation=op
    )


def emulator_target(
    *,
    seed: Mapping[str, Any] | str | Path | None = None,
    throttle: str | BucketFactory | None = None,
    simulated: bool = True,
    operation: Operation | None = None,
) -> Target:
    """A target in this process: a fresh emulator, called without sockets.

    `throttle` names the emulator's limiter (or is a bucket factory, as `Emulator` takes). It
    signs with the seed's first active root AccessKey and names its first domain. With
    `simulated` the emulator's clock is a `ManualClock` the probe drives: a run takes no real
    time and its timing is exact.
    """
    from acscontract.client import Client
    from acscontract.emulator import Emulator, EmulatorTransport, ManualClock, load_seed
    from acscontract.signing import Credentials

    loaded = load_seed(seed)
    key_id = secret = domain = None
    for account in loaded.accounts:
        for key in account.access_keys:
            if key.user is None and key.active:
                key_id, secret = key.id, key.secret
                domain = account.domains[0].name if account.domains else None
                break
        if key_id is not None:
            break
    if key_id is None or secret is None:
        raise UsageError(
            f"The emulator seed {loaded.source} has no active root AccessKey for the probe to "
            "sign with; add one (an access_keys entry without `user`)."
        )
    manual = ManualClock() if simulated else None
    op = _the(operation)
    emulator = Emulator(loaded, clock=manual, throttle=throttle, product=op.product)
    clock: ProbeClock = SimulatedClock(manual) if manual is not None else RealClock()
    credentials = Credentials(key_id, secret)
    client = Client(_EMULATOR_HOST, credentials, transport=EmulatorTransport(emulator))
    caller = Caller(client, op, concurrent=False)
    kind = "simulated time" if simulated else "real time"
    return Target(
        caller,
        clock,
        f"the in-process emulator ({kind})",
        True,
        domain=domain,
        emulator=emulator,
        operation=op,
    )


def harmless_command(operation: Operation) -> str:
    """The command the probe sends, chosen from the spec's lifecycle: the one that is refused on
    an idle stream, never leads into a recording state and never produces a file at once.

    For RealTimeRecordCommand that is `stop`. It is also refused for an unknown app or stream.
    """
    lifecycle = operation.lifecycle
    command = operation.command_parameter
    if lifecycle is None or command is None or command.enum is None:
        raise UsageError(
            f"The spec of {operation.name} has no lifecycle with a command parameter, so the "
            "probe cannot choose a call that changes nothing."
        )
    commands = command.enum
    initial = lifecycle.initial
    active = {
        t.target
        for t in lifecycle.transitions
        if t.source == initial and t.trigger in commands and t.error is None
    } - {initial, None}
    for candidate in commands:
        from_idle = lifecycle.transition(initial, candidate)
        if from_idle is None or from_idle.error is None:
            continue
        moves = [t for t in lifecycle.transitions if t.trigger == candidate]
        if any(t.target in active or t.produces_file for t in moves):
            continue
        return candidate
    raise UsageError(
        f"No command of {operation.name} is refused on an idle stream without ever starting a "
        "recording or producing a file, so the probe has no harmless call to send."
    )


@dataclass(frozen=True, slots=True)
class ProbeCall:
    """The call a probe repeats, and how to read its answers.

    `expected` holds the codes the call is built to get (they count as accepted even when the
    gateway answers them); `success_stops` says why a 2xx answer means the probe must stop, or is
    None when a success is harmless (an operation that only reads).
    """

    params: tuple[tuple[str, str], ...]
    expected: frozenset[str] = frozenset()
    success_stops: str | None = None
    what: str = "the probe's call"
    note: str = ""
    """Why this call changes nothing, when its parameters do not show it (printed with them)."""


def probe_request(operation: Operation, resources: Resources) -> ProbeCall:
    """The call the probe repeats for `operation`, chosen from its spec so that it changes
    nothing:

    - an operation with a lifecycle: its harmless command (`harmless_command`) on the named app
      and stream, which the operation refuses;
    - an operation the spec says only reads (`Operation.writes` is None): its example request
      (the metadata's examples) naming the domain;
    - any other operation: its example request without its first required parameter, which the
      spec's own checks refuse before it can change anything (and which the gateway meters as it
      meters any authenticated call). An operation without a required parameter has no such
      call: UsageError.
    """
    if not resources.domain:
        raise UsageError(
            "The probe needs the domain to name in its calls: pass --domain (or set "
            "ACSCONTRACT_DOMAIN) to a domain of the account the AccessKey belongs to."
        )
    lifecycle = operation.lifecycle
    command = operation.command_parameter
    if lifecycle is not None and command is not None:
        if len(lifecycle.key) != 3:
            raise UsageError(
                f"The spec of {operation.name} does not key its lifecycle by domain, app and "
                "stream, which the probe's call needs."
            )
        domain, app, stream = lifecycle.key
        harmless = harmless_command(operation)
        return ProbeCall(
            (
                (command.name, harmless),
                (domain, resources.domain),
                (app, resources.app),
                (stream, resources.stream),
            ),
            success_stops=(
                "it changed a stream's recording state (or this endpoint treats it as a no-op "
                "success). The probe stopped so as not to disturb a recording. Point --app and "
                "--stream at names with no record configuration and no live stream (the "
                "defaults are such names)."
            ),
            what=f"{command.name}={harmless}",
        )
    from acscontract.spec import example_parameters

    name = operation.product.domain_parameter
    pairs = tuple(
        (k, resources.domain if k == name else v) for k, v in example_parameters(operation)
    )
    if operation.writes is None:
        return ProbeCall(pairs, what="its example request", note="it only reads")
    required = operation.required_parameters
    if not required:
        raise UsageError(
            f"{operation.name} may change state ({operation.writes}) and has no required "
            "parameter to leave out, so the probe has no call its spec refuses before it changes "
            "anything; probe another operation."
        )
    left_out = required[0]
    prefix = left_out.name + "."
    refused = tuple((k, v) for k, v in pairs if k != left_out.name and not k.startswith(prefix))
    problem = operation.check_parameters(dict(refused))
    expected = frozenset({problem.code}) if problem is not None else frozenset()
    return ProbeCall(
        refused,
        expected=expected,
        success_stops=(
            f"the endpoint accepted a request of {operation.name} without its required "
            f"{left_out.name}, which may have changed something. The probe stopped."
        ),
        what=f"without {left_out.name}",
        note=f"without its required {left_out.name}: refused, so it changes nothing",
    )


def probe_call(operation: Operation, resources: Resources) -> tuple[tuple[str, str], ...]:
    """The business parameters of every probe call (see `probe_request`)."""
    return probe_request(operation, resources).params


def plan_for(
    target: Target, settings: ProbeSettings, operation: Operation | None = None
) -> ProbePlan:
    """The run `settings` asks for against `target`, checked against the safety rules.

    An operation whose spec documents no limit is refused (UsageError, before anything is sent):
    there is no limit to stay under or to judge against. `--limit` names one to expect instead,
    on this machine, or with `allow_throttling` anywhere else (a guessed limit may be too high).
    """
    op = operation or _the(target.operation)
    if op.flow_control.limit is None:
        if settings.limit is None:
            raise UsageError(
                f"The spec of {op.name} documents no flow-control limit, so the probe has no "
                "limit to stay under or to check; probe an operation whose limit is documented "
                "(or pass --limit with the limit you expect)."
            )
        if not target.loopback and not settings.allow_throttling:
            raise UsageError(
                f"The spec of {op.name} documents no flow-control limit, and --limit "
                f"{settings.limit} is a guess that could exceed the real one; against "
                f"{target.label} that needs --allow-throttling."
            )
    return plan_probe(
        settings,
        documented_limit=op.flow_control.limit,
        window_s=op.flow_control.per_seconds,
        loopback=target.loopback,
        operation=op.name,
    )


def run_probe(
    target: Target,
    settings: ProbeSettings | None = None,
    *,
    resources: Resources | None = None,
    operation: Operation | None = None,
    observer: ProbeObserver | None = None,
    plan: ProbePlan | None = None,
) -> ProbeResult:
    """Run one probe and return what it saw and concluded.

    `check` sends one preflight call, then paces at 80% of the limit for the capacity part
    (expecting no throttles), and with `allow_throttling` at twice the limit for the enforcement
    part (expecting throttles, and no window over the limit once they start). `measure` sends a
    preflight call, waits for the limiter to go idle, and sends one dense run at the ceiling rate
    starting mid-window; `estimate_limiter` reads the limit, burst and kind from it.
    """
    op = operation or _the(target.operation)
    settings = settings or ProbeSettings()
    plan = plan or plan_for(target, settings, op)
    chosen = resources or Resources()
    if chosen.domain is None and target.domain is not None:
        chosen = Resources(target.domain, chosen.app, chosen.stream)
    call = probe_request(op, chosen)
    params = call.params
    classifier = ResponseClassifier.for_operation(op, call.expected)
    runner = Runner(
        target.caller,
        target.clock,
        classifier,
        params,
        max_calls=plan.ceilings.max_calls,
        observer=observer,
        call_label=f"The probe's call ({call.what})",
        pacer=target.pacer,
        paced_phases=POLITE_PHASES,
        success_stops=call.success_stops,
    )
    window = plan.window_s
    started = time.perf_counter()
    clock_start = target.clock.now()
    phases = []
    try:
        runner.preflight()
        for phase_plan in plan.phases:
            if runner.stop is not None:
                break
            runner.idle(phase_plan.idle_before)
            if phase_plan.align is not None:
                runner.align(window, phase_plan.align)
            phases.append(runner.run(phase_plan))
    finally:
        target.caller.close()
    duration = time.perf_counter() - started
    probe_time = target.clock.now() - clock_start
    attempts = runner.attempts
    findings: list[Finding] = []
    estimate: Estimate | None = None
    limit = plan.expected_limit
    for phase in phases:
        in_phase = [a for a in attempts if a.phase == phase.name]
        if not in_phase:
            continue
        if phase.name == "capacity":
            findings.append(capacity_finding(in_phase, phase.rate, limit, window))
        elif phase.name == "enforcement":
            findings.extend(enforcement_findings(in_phase, phase.rate, limit, window))
        elif phase.name == "measure":
            estimate = estimate_limiter(in_phase, window)
    stop = runner.stop
    inconclusive = None
    if plan.mode is Mode.MEASURE:
        passed = (
            stop is None
            and estimate is not None
            and estimate.limit is not None
            and agrees(estimate.limit, limit)
        )
        if stop is None and not passed:
            inconclusive = _measure_inconclusive(attempts, estimate, limit, window)
    else:
        passed = stop is None and bool(findings) and all(f.passed for f in findings)
        if stop is None and not passed:
            inconclusive = _check_inconclusive(attempts, findings, limit, window)
    return ProbeResult(
        mode=plan.mode.value,
        operation=op.qualified_name,
        target=target.label,
        simulated=target.simulated,
        documented_limit=plan.documented_limit,
        expected_limit=limit,
        window_s=window,
        throttle_codes=tuple(sorted(classifier.throttle_codes)),
        call=params,
        phases=tuple(phases),
        attempts=attempts,
        findings=tuple(findings),
        estimate=estimate,
        stop=stop,
        passed=passed,
        duration_s=duration,
        probe_time_s=probe_time,
        inconclusive=inconclusive,
    )


def _densest(attempts: Sequence[Attempt], phase: str, window: float) -> int:
    """The most calls of `phase` sent within any window-long span."""
    return sliding_max([a.sent_at for a in attempts if a.phase == phase], window)


def _measure_inconclusive(
    attempts: Sequence[Attempt], estimate: Estimate | None, limit: int, window: float
) -> str | None:
    """Why a measurement that found no agreeing limit cannot be read as a failure, if it cannot:
    it never sent more than the limit within one window, or too few calls got through after
    the first refusal to read the limiter."""
    densest = _densest(attempts, "measure", window)
    if estimate is None or (estimate.kind is LimiterKind.NONE and densest <= limit):
        return (
            f"the run sent at most {densest} calls in any {window:g}-s span, not more than the "
            f"expected limit of {limit}, so it could not see the limit; raise --max-calls or "
            "--seconds"
        )
    measured = sorted((a for a in attempts if a.phase == "measure"), key=lambda a: a.index)
    refused = [a for a in measured if a.outcome is Outcome.THROTTLED]
    steady = [a for a in measured if refused and a.index > refused[0].index]
    if refused and sum(1 for a in steady if a.outcome is Outcome.ACCEPTED) < MIN_STEADY:
        return (
            "too few calls were accepted after the first refusal to read the limiter; raise "
            "--seconds"
        )
    return None


def _check_inconclusive(
    attempts: Sequence[Attempt], findings: Sequence[Finding], limit: int, window: float
) -> str | None:
    """Why a check that did not pass cannot be read as a failure, if it cannot: the only finding
    that failed is that enforcement saw no throttling, and its calls never exceeded the limit
    within one window."""
    failed = [f for f in findings if not f.passed]
    if [f.name for f in failed] != ["enforcement-throttles"]:
        return None
    densest = _densest(attempts, "enforcement", window)
    if densest > limit:
        return None
    return (
        f"the enforcement part sent at most {densest} calls in any {window:g}-s span, not more "
        f"than the limit of {limit}, so no throttling was due; raise --max-calls"
    )
