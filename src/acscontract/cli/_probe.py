"""`acscontract probe ...`: rate-limit probes of the operation's flow control."""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table
from rich.text import Text

from acscontract.cli._console import Console, safe_text
from acscontract.errors import UsageError

if TYPE_CHECKING:
    from acscontract.probe import Attempt, Phase, PhasePlan, ProbeResult, Target
    from acscontract.spec import Operation

__all__ = ["probe"]

EMULATOR_TARGET = "emulator"

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_STOPPED = 2
EXIT_INCONCLUSIVE = 3
"""The probe ran, but sent too few calls in any window to see the limit: neither pass nor fail."""


@click.group()
def probe() -> None:
    """Probe an operation's flow control (by default RealTimeRecordCommand: 50 calls/s per
    account)."""


class _ProgressDisplay:
    """A live progress bar per phase on stderr, drawn only when stderr is a terminal."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("{task.description:<12}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[green]{task.fields[accepted]} accepted[/] "),
            TextColumn("[red]{task.fields[throttled]} throttled[/]"),
            console=console,
            disable=not console.is_terminal,
            transient=False,
        )
        self._lock = threading.Lock()
        self._tasks: dict[str, TaskID] = {}
        self._counts: dict[str, list[int]] = {}

    def __enter__(self) -> _ProgressDisplay:
        self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def phase_started(self, plan: PhasePlan) -> None:
        with self._lock:
            self._counts[plan.name] = [0, 0]
            self._tasks[plan.name] = self._progress.add_task(
                f"{plan.name} {plan.rate:g}/s", total=plan.calls, accepted=0, throttled=0
            )

    def call_done(self, attempt: Attempt) -> None:
        from acscontract.probe import Outcome

        with self._lock:
            task = self._tasks.get(attempt.phase)
            if task is None:
                return
            counts = self._counts[attempt.phase]
            if attempt.outcome is Outcome.ACCEPTED:
                counts[0] += 1
            elif attempt.outcome is Outcome.THROTTLED:
                counts[1] += 1
            self._progress.update(task, advance=1, accepted=counts[0], throttled=counts[1])

    def phase_finished(self, phase: Phase) -> None:
        with self._lock:
            task = self._tasks.get(phase.name)
            if task is not None:
                self._progress.update(task, total=max(phase.sent, 1), completed=phase.sent)


def _target(
    target: str,
    *,
    seed: Path | None,
    throttle: str | None,
    real_time: bool,
    pacing_store: str | None = None,
    operation: Operation | None = None,
) -> Target:
    from acscontract.probe import emulator_target, http_target

    if target == EMULATOR_TARGET:
        if throttle is not None:
            from acscontract.emulator import THROTTLE_ALGORITHMS

            if throttle not in THROTTLE_ALGORITHMS:
                raise UsageError(
                    f"--throttle {throttle!r} is not an algorithm the emulator knows; use one of "
                    f"{', '.join(THROTTLE_ALGORITHMS)}."
                )
        if pacing_store:
            raise UsageError(
                "--pacing-store paces calls to an endpoint over HTTP; the in-process emulator "
                "has no budget to share. Leave it out, or give --target a URL."
            )
        return emulator_target(
            seed=seed, throttle=throttle, simulated=not real_time, operation=operation
        )
    if seed is not None or throttle is not None or real_time:
        raise UsageError(
            "--seed, --throttle and --real-time configure the in-process emulator; they apply "
            "only with --target emulator."
        )
    if not target.startswith(("http://", "https://")):
        raise UsageError(
            f"--target {target!r} is neither 'emulator' nor an http:// or https:// URL; give "
            "the endpoint's URL, such as http://127.0.0.1:8765 or https://live.aliyuncs.com."
        )
    from acscontract.client import endpoint_problem

    problem = endpoint_problem(target)
    if problem is not None:
        raise UsageError(
            f"--target {target!r} is not a usable URL: {problem}; give one such as "
            "http://127.0.0.1:8765 or https://live.aliyuncs.com."
        )
    from acscontract.client import pacing_store as store_for

    store = store_for(pacing_store) if pacing_store else None
    if store is not None:
        store.check()
    return http_target(target, store=store, operation=operation)


def _summary(result: ProbeResult, console: Console) -> None:
    table = Table(title="Rate-limit probe", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value")
    clock = "simulated" if result.simulated else "real"
    table.add_row("target", result.target)
    table.add_row("mode", result.mode)
    table.add_row(
        "limit",
        f"{result.expected_limit} per {result.window_s:g} s (documented {result.documented_limit})",
    )
    table.add_row(
        "calls", f"{result.requests} sent, {result.accepted} accepted, {result.throttled} throttled"
    )
    table.add_row(
        "time", f"{result.probe_time_s:.1f} s of {clock} time, {result.duration_s:.2f} s wall"
    )
    for phase in result.phases:
        in_phase = [a for a in result.attempts if a.phase == phase.name]
        throttled = sum(1 for a in in_phase if a.outcome.value == "throttled")
        table.add_row(
            f"  {phase.name}",
            f"{phase.sent} calls at {phase.rate:g}/s over {phase.end - phase.start:.1f} s, "
            f"{throttled} throttled",
        )
    estimate = result.estimate
    if estimate is not None:
        limit = "none seen" if estimate.limit is None else f"{estimate.limit:.4g}"
        table.add_row("estimated limit", f"{limit} per {result.window_s:g} s")
        table.add_row("burst", "-" if estimate.burst is None else str(estimate.burst))
        table.add_row("limiter", estimate.kind.value)
        table.add_row(
            "largest span",
            f"{estimate.sliding_max} accepted in one {result.window_s:g}-s span "
            f"({estimate.steady_sliding_max} after the burst)",
        )
        for note in estimate.notes:
            table.add_row("note", note)
    for finding in result.findings:
        mark = safe_text("pass", "green") if finding.passed else safe_text("FAIL", "red")
        table.add_row(Text.assemble(mark, " ", finding.name), finding.detail)
    console.print(table)


def _verdict(result: ProbeResult) -> str:
    if result.inconclusive is not None:
        return f"Inconclusive: {result.inconclusive}."
    if result.mode == "measure":
        estimate = result.estimate
        if estimate is None or estimate.limit is None:
            return (
                "No limit was measured: no call was throttled at the probe's rate."
                if estimate is not None and estimate.kind.value == "none"
                else "No limit could be measured."
            )
        agree = "agrees" if result.passed else "does not agree"
        return (
            f"Measured {estimate.limit:.4g} calls per {result.window_s:g} s "
            f"({estimate.kind.value}, burst {estimate.burst}); this {agree} with the expected "
            f"limit of {result.expected_limit}."
        )
    if result.passed:
        return "The endpoint behaves as documented."
    failed = ", ".join(f.name for f in result.findings if not f.passed)
    return f"The endpoint does not behave as documented ({failed} failed)."


@probe.command("rate-limit")
@click.option(
    "--target",
    required=True,
    metavar="URL|emulator",
    help="The endpoint's URL, or 'emulator' for an in-process emulator.",
)
@click.option(
    "--operation",
    envvar="ACSCONTRACT_OPERATION",
    default=None,
    help="The operation to probe (default RealTimeRecordCommand); its spec must document a "
    "limit [env ACSCONTRACT_OPERATION].",
)
@click.option(
    "--domain",
    envvar="ACSCONTRACT_DOMAIN",
    default=None,
    help="Streaming domain of the account to name in the calls [env ACSCONTRACT_DOMAIN; "
    "the seed's domain for the emulator].",
)
@click.option(
    "--app",
    envvar="ACSCONTRACT_APP",
    default=None,
    help="App to name: one with no record configuration [env ACSCONTRACT_APP; default "
    "acscontract-rate-probe].",
)
@click.option(
    "--stream",
    envvar="ACSCONTRACT_STREAM",
    default=None,
    help="Stream to name: one that is not recording [env ACSCONTRACT_STREAM; default "
    "acscontract-rate-probe].",
)
@click.option(
    "--mode",
    type=click.Choice(["check", "measure"]),
    default="check",
    show_default=True,
    help="check: behaves as documented? measure: estimate limit, burst and limiter kind.",
)
@click.option(
    "--allow-throttling",
    is_flag=True,
    help="Allow calls meant to be throttled (measure, and check's enforcement part) and "
    "ceilings above the defaults.",
)
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="Write a JSON report.")
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(path_type=Path),
    help="Write a plot: PNG, SVG or PDF, as the file name's suffix says.",
)
@click.option(
    "--pacing-store",
    envvar="ACSCONTRACT_PACING_STORE",
    default=None,
    help="redis://HOST:PORT/DB: the polite calls share one budget (80% of the limit) with every "
    "process on every machine naming it [env ACSCONTRACT_PACING_STORE].",
)
@click.option("--max-rate", type=float, default=None, help="Ceiling on calls per second.")
@click.option("--max-calls", type=int, default=None, help="Ceiling on calls in all.")
@click.option(
    "--seconds",
    type=float,
    default=None,
    help="Length of the paced part (check: 10, measure: 4).",
)
@click.option(
    "--limit", type=int, default=None, help="The limit to expect instead of the documented one."
)
@click.option(
    "--seed",
    type=click.Path(path_type=Path),
    default=None,
    help="Emulator seed file (with --target emulator).",
)
@click.option(
    "--throttle",
    default=None,
    help="Emulator limiter: fixed-window, sliding-log or token-bucket (with --target emulator).",
)
@click.option(
    "--real-time",
    is_flag=True,
    help="Pace the in-process emulator in real time instead of simulated time.",
)
def rate_limit(
    target: str,
    operation: str | None,
    domain: str | None,
    app: str | None,
    stream: str | None,
    mode: str,
    allow_throttling: bool,
    json_path: Path | None,
    plot_path: Path | None,
    pacing_store: str | None,
    max_rate: float | None,
    max_calls: int | None,
    seconds: float | None,
    limit: int | None,
    seed: Path | None,
    throttle: str | None,
    real_time: bool,
) -> int:
    """Probe the per-account rate limit of an operation of the endpoint.

    check (the default) is polite enough for a real account: it paces at 80% of the limit and
    expects no throttling; with --allow-throttling it also sends twice the limit for 2 s and
    expects throttling that holds the limit. measure (emulators, or a sacrificial account with
    --allow-throttling) estimates the limit, the burst and the kind of limiter.

    Every call changes nothing: the reference operation's harmless command on an app and stream
    that should not exist, an operation's example request when it only reads, or a request its
    spec refuses when it writes; see
    https://github.com/acscontract/acscontract/blob/main/docs/probe.md. An operation whose spec
    documents no limit is refused before anything is sent. Exit 0 when the
    endpoint behaves as documented (check) or the measured limit agrees with the expected one
    (measure), 1 when not, 2 on bad usage or when the probe had to stop (a permission, signature
    or credential error), 3 when the run was too small to tell (inconclusive).
    """
    from acscontract import probe as probe_api
    from acscontract.contracts.preflight import check_output_path
    from acscontract.contracts.selection import select_operations

    chosen = select_operations(operation)
    if len(chosen.operations) != 1:
        raise UsageError(
            f"--operation {operation!r} names {len(chosen.operations)} operations; the probe "
            "measures one operation's limit, so name one."
        )
    op = chosen.primary
    # The outputs first: a run never ends by losing its result.
    if json_path is not None:
        check_output_path(json_path, "--json")
    if plot_path is not None:
        probe_api.plot_format(plot_path)
        check_output_path(plot_path, "--plot")
    err = Console(stderr=True, highlight=False)
    out = Console(highlight=False)
    the_target = _target(
        target,
        seed=seed,
        throttle=throttle,
        real_time=real_time,
        pacing_store=pacing_store,
        operation=op,
    )
    settings = probe_api.ProbeSettings(
        mode=probe_api.Mode(mode),
        allow_throttling=allow_throttling,
        limit=limit,
        max_rate=max_rate,
        max_calls=max_calls,
        seconds=seconds,
    )
    plan = probe_api.plan_for(the_target, settings, op)
    resources = probe_api.Resources(
        domain=domain or the_target.domain,
        app=app or probe_api.PROBE_APP,
        stream=stream or probe_api.PROBE_STREAM,
    )
    call = probe_api.probe_request(op, resources)
    err.print(plan.describe(the_target.label), soft_wrap=True)
    err.print(
        f"Each call: {op.name}"
        + (f" ({call.note})" if call.note else "")
        + ": "
        + ", ".join(f"{k}={v}" for k, v in call.params)
        + ".",
        soft_wrap=True,
    )
    if mode == "check" and not allow_throttling:
        err.print(
            "Enforcement is not checked without --allow-throttling (it draws throttled calls).",
            soft_wrap=True,
        )
    for note in plan.notes:
        err.print(f"Note: {note}", soft_wrap=True)
    with _ProgressDisplay(err) as display:
        result = probe_api.run_probe(
            the_target, settings, resources=resources, operation=op, observer=display, plan=plan
        )
    if json_path is not None:
        probe_api.write_json(result, json_path)
    if plot_path is not None:
        probe_api.write_plot(result, plot_path)
    _summary(result, out)
    if result.stop is not None:
        status = result.stop.status
        click.echo(
            f"acscontract: the probe stopped after {result.requests} "
            f"{'call' if result.requests == 1 else 'calls'}: {result.stop.reason}",
            err=True,
        )
        return EXIT_FAILED if status is not None and status >= 500 else EXIT_STOPPED
    out.print(_verdict(result), soft_wrap=True)
    if result.passed:
        return EXIT_PASSED
    return EXIT_INCONCLUSIVE if result.inconclusive is not None else EXIT_FAILED
