"""`acscontract run`: the contract suite against the emulator or a real endpoint."""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich.panel import Panel
from rich.table import Table

from acscontract._text import printable
from acscontract.cli._console import Console, safe_text
from acscontract.contracts.budget import DEFAULT_MAX_RECORDINGS, DEFAULT_MAX_WRITES
from acscontract.errors import UsageError

RUN_ID_ENV = "ACSCONTRACT_RUN_ID"

__all__ = ["run"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

# What each contract area checks, shown with --summary.
AREAS = {
    "response-schema": "every response matches the spec: status per code, envelope, RequestId, "
    "content type, only documented codes",
    "valid-requests": "valid requests (both methods, V1 and V3) get 200 or a state error the "
    "lifecycle explains",
    "invalid-requests": "missing, empty, malformed and oversized values, unknown Action or "
    "Version are refused with the documented code",
    "gateway": "bad or missing signature, stale or malformed timestamp, reused nonce, unknown "
    "or inactive AccessKey are refused",
    "lifecycle": "the recording state machine: documented transitions strictly, undocumented "
    "ones within the spec's accepts",
    "throttling": "80% of the limit is served; a burst over it is throttled, no window exceeds it",
    "ram": "a key whose policies deny the operation gets 403 with AccessDeniedDetail",
    "schemathesis": "schemathesis over the spec's OpenAPI 3.1 document, with signed requests",
    "workflow": "configure, record, find the files: the recording family's operations together "
    "(emulators)",
}


def _target_problem(options: Any) -> str | None:
    """Why the options cannot run at all (bad target, no credentials, no resources), or None."""
    from acscontract.client import endpoint_problem
    from acscontract.contracts.targets import EMULATOR_TARGETS
    from acscontract.signing import Credentials

    if options.target in EMULATOR_TARGETS:
        return None
    if not options.target.lower().startswith(("http://", "https://")):
        return (
            f"The target {options.target!r} is neither 'emulator', 'emulator-http' nor an "
            "http(s) URL; use --target emulator, or a URL such as https://live.aliyuncs.com."
        )
    problem = endpoint_problem(options.target)
    if problem is not None:
        return (
            f"The target {options.target!r} is not a usable URL: {problem}; give one such as "
            "https://live.aliyuncs.com or http://127.0.0.1:8765."
        )
    try:
        Credentials.from_env()
    except Exception as exc:  # noqa: BLE001 - the credential error is the message
        return f"The target {options.target} needs credentials. {exc}"
    absent = [name for name in options.resource_names if not getattr(options, name)]
    if absent:
        names = ", ".join(f"--{n}" for n in absent)
        what = (
            "an online stream of a domain and app with a record configuration, which the "
            "contracts may start and stop recording on"
            if len(options.resource_names) > 1
            else "a domain of the account, which the operations' requests name"
        )
        return f"The target {options.target} needs {names} (or the ACSCONTRACT_ variables): {what}."
    return None


def _parallel_problem(options: Any, pytest_args: tuple[str, ...]) -> str | None:
    """Why pytest-xdist workers cannot share this target, or None."""
    from acscontract.contracts.targets import EMULATOR_TARGETS

    if options.target in EMULATOR_TARGETS:
        return None  # each worker runs an emulator of its own
    flags = [
        a
        for a in pytest_args
        if a in ("-n", "--numprocesses") or a.startswith(("-n", "--numprocesses="))
    ]
    if not flags:
        return None
    return (
        f"{flags[0]} runs contracts in parallel workers, and against {options.target} they "
        "would drive the same stream and share one account limit, so each would see the others' "
        "traffic. Leave -n out: a URL target runs in one process (a real account's pace is set "
        "by its limit, not by CPU)."
    )


def _overview(console: Console, options: Any) -> None:
    from acscontract.contracts.selection import select_operations

    chosen = select_operations(options.operation)
    op = chosen.primary
    table = Table(title=f"{chosen.describe()}: what the contract suite checks", expand=False)
    table.add_column("area", style="bold")
    table.add_column("checks")
    from acscontract.contracts.workflow import recording_families

    families = recording_families(chosen.operations)
    for name, text in AREAS.items():
        if name == "workflow" and not any(f.covered_by(chosen.operations) for f in families):
            continue  # the workflow runs only when its whole family is selected
        table.add_row(name, text)
    flow = op.flow_control
    limit = "no documented limit" if flow.limit is None else f"limit {flow.limit} per {flow.per}"
    text = (
        f"{op.qualified_name}: {op.title}. {len(op.parameters)} parameters "
        f"({', '.join(p.name for p in op.required_parameters) or 'none'} required); "
        f"{len(op.all_error_codes)} documented error codes; {limit} per {flow.scope}."
    )
    if len(chosen.operations) > 1:
        text = (
            f"{chosen.describe()}: {len(chosen.lifecycle)} with a lifecycle, "
            f"{len(chosen.modelled)} more modelled, {len(chosen.lean) - len(chosen.modelled)} "
            f"schema-only; {sum(1 for o in chosen.operations if o.writes)} the spec says write."
            f"\nGateway, RAM and throttling against {text}"
        )
    console.print(Panel(safe_text(f"{text}\nTarget: {options.target}"), title="acscontract run"))
    console.print(table)


def _result_table(console: Console, summary: Mapping[str, Any]) -> None:
    from acscontract.contracts.plugin import skip_line

    areas: Mapping[str, Mapping[str, Any]] = summary.get("areas", {})
    target = summary.get("target") or "?"
    table = Table(title=f"Contract areas against {target}")
    table.add_column("area", style="bold")
    table.add_column("passed", justify="right", style="green")
    table.add_column("failed", justify="right", style="red")
    table.add_column("skipped", justify="right", style="yellow")
    table.add_column("requests", justify="right")
    table.add_column("recordings", justify="right")
    table.add_column("result")
    for name, result in areas.items():
        failed = int(result.get("failed", 0))
        passed = int(result.get("passed", 0))
        skipped = int(result.get("skipped", 0))
        verdict = "FAIL" if failed else ("holds" if passed else "not run")
        table.add_row(
            name,
            str(passed),
            str(failed),
            str(skipped),
            str(result.get("requests", 0)),
            str(result.get("recordings", 0)),
            verdict,
        )
    console.print(table)
    details = Table(title="Skipped contracts and notes", show_lines=False)
    details.add_column("area", style="bold")
    details.add_column("what")
    for name, result in areas.items():
        reasons: Mapping[str, int] = result.get("skip_reasons", {})
        skipped_operations = result.get("skipped_operations", {})
        for reason, count in reasons.items():
            line = skip_line(reason, skipped_operations)
            details.add_row(name, safe_text(f"skipped {count}: {line}", "yellow"))
        for note in result.get("notes", []):
            details.add_row(name, safe_text(str(note)))
    if details.row_count:
        console.print(details)
    for name, result in areas.items():
        failure = result.get("first_failure")
        if not failure:
            continue
        body = safe_text(f"{failure.get('test', '')}\n\n{failure.get('message', '')}")
        exchange = failure.get("exchange")
        if exchange:
            body.append(printable(f"\n\nlast exchange:\n{exchange}"))
        console.print(Panel(body, title=f"{name}: first failure", border_style="red"))


@click.command(
    "run",
    context_settings={"ignore_unknown_options": False, "allow_interspersed_args": False},
)
@click.option(
    "--target",
    envvar="ACSCONTRACT_TARGET",
    default="emulator",
    show_default=True,
    help="emulator (in process), emulator-http (a loopback server) or an endpoint URL.",
)
@click.option(
    "--profile",
    type=click.Choice(["quick", "ci", "thorough"]),
    envvar="ACSCONTRACT_PROFILE",
    default="quick",
    show_default=True,
    help="How hard hypothesis tries: quick, ci (deterministic) or thorough (nightly).",
)
@click.option("--junitxml", type=click.Path(dir_okay=False), help="Write a JUnit XML report.")
@click.option("--summary", is_flag=True, help="Also show the operation and what each area checks.")
@click.option("--domain", envvar="ACSCONTRACT_DOMAIN", help="Streaming domain (URL targets).")
@click.option("--app", envvar="ACSCONTRACT_APP", help="App with a record configuration.")
@click.option("--stream", envvar="ACSCONTRACT_STREAM", help="Online stream to record on.")
@click.option("--stream-offline", envvar="ACSCONTRACT_STREAM_OFFLINE", help="An offline stream.")
@click.option(
    "--app-without-config",
    envvar="ACSCONTRACT_APP_WITHOUT_CONFIG",
    help="An app of the domain without a record configuration.",
)
@click.option(
    "--deny-access-key-id",
    envvar="ACSCONTRACT_DENY_ACCESS_KEY_ID",
    help="An AccessKey whose RAM policies deny the operation.",
)
@click.option(
    "--deny-access-key-secret",
    envvar="ACSCONTRACT_DENY_ACCESS_KEY_SECRET",
    help="Its secret (prefer the environment variable).",
)
@click.option(
    "--admin-token", envvar="ACSCONTRACT_ADMIN_TOKEN", help="A served emulator's admin token."
)
@click.option(
    "--allow-throttling",
    is_flag=True,
    envvar="ACSCONTRACT_ALLOW_THROTTLING",
    help="Let contracts exceed the flow-control limit of a target without an admin API.",
)
@click.option(
    "--max-recordings",
    type=click.IntRange(min=0),
    envvar="ACSCONTRACT_MAX_RECORDINGS",
    default=DEFAULT_MAX_RECORDINGS,
    show_default=True,
    help="Successful recording-starting calls (billable) allowed on a real account.",
)
@click.option(
    "--operation",
    envvar="ACSCONTRACT_OPERATION",
    default=None,
    help="The operations under contract: a name (RealTimeRecordCommand, the default), names "
    "separated by commas, or all.",
)
@click.option(
    "--max-writes",
    type=click.IntRange(min=0),
    envvar="ACSCONTRACT_MAX_WRITES",
    default=DEFAULT_MAX_WRITES,
    show_default=True,
    help="Requests that could change state, of operations the spec says write, allowed on a "
    "real account.",
)
@click.option(
    "--pacing-store",
    envvar="ACSCONTRACT_PACING_STORE",
    help="redis://HOST:PORT/DB: share the pacing budget with every machine naming it "
    "(default: a file lock, this machine only).",
)
@click.option(
    "--probe",
    "with_probe",
    is_flag=True,
    help="Also run the rate-limit probe's polite check against the same emulator or URL.",
)
@click.option(
    "--lint",
    "lint_paths",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Also lint these RAM policy files or folders (repeatable).",
)
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
def run(
    target: str,
    profile: str,
    junitxml: str | None,
    summary: bool,
    domain: str | None,
    app: str | None,
    stream: str | None,
    stream_offline: str | None,
    app_without_config: str | None,
    deny_access_key_id: str | None,
    deny_access_key_secret: str | None,
    admin_token: str | None,
    allow_throttling: bool,
    max_recordings: int,
    operation: str | None,
    max_writes: int,
    pacing_store: str | None,
    with_probe: bool,
    lint_paths: tuple[Path, ...],
    pytest_args: tuple[str, ...],
) -> int:
    """Run the contract suite; extra arguments after `--` go to pytest (e.g. `-- -n 2 -k ram`).

    Before any contract, a preflight checks the target, the credentials and the named resources,
    and the run prints its plan: the most requests and recordings each profile can cost.

    Exit 0 when every contract holds, 1 when any fails, 2 on bad usage or a failed preflight.
    """
    from acscontract.contracts.preflight import check_output_path
    from acscontract.contracts.runner import run_contracts
    from acscontract.contracts.selection import select_operations
    from acscontract.contracts.targets import TargetOptions

    select_operations(operation)  # an unknown name ends the run here, with one line
    if pacing_store:  # checked whatever the target, so a typo shows before a real run
        from acscontract.client import check_pacing_url

        check_pacing_url(pacing_store)
    options = TargetOptions(
        target=target,
        domain=domain,
        app=app,
        stream=stream,
        stream_offline=stream_offline,
        app_without_config=app_without_config,
        deny_access_key_id=deny_access_key_id,
        deny_access_key_secret=deny_access_key_secret,
        admin_token=admin_token,
        allow_throttling=allow_throttling,
        pacing_store=pacing_store,
        max_recordings=max_recordings,
        operation=operation,
        max_writes=max_writes,
        # ACSCONTRACT_RUN_ID names the run (a CI run's id): runs of one name, such as a job
        # retried after an interruption, share one recording and write budget.
        run_id=os.environ.get(RUN_ID_ENV, "").strip() or uuid.uuid4().hex,
    )
    problem = _target_problem(options) or _parallel_problem(options, pytest_args)
    if problem is not None:
        raise UsageError(problem)
    if junitxml:
        check_output_path(junitxml, "--junitxml")
    collect_only = any(arg in ("--co", "--collect-only") for arg in pytest_args)
    console = Console()
    if summary:
        _overview(console, options)
    if lint_paths:
        # Read the policies before the suite runs, so an unreadable path fails fast (exit 2).
        from acscontract.ram import lint_paths as lint_policies

        lint_result = lint_policies(lint_paths)
    before = 0
    if not collect_only:
        before = _preflight_and_plan(console, options, profile)
    result = run_contracts(options, profile=profile, pytest_args=pytest_args, junitxml=junitxml)
    stopped = result.summary.get("stopped")
    if stopped:
        # What was sent before the store failed still counts (a real account bills it).
        console.print(_cost_line(result.summary, before, options), soft_wrap=True)
        raise UsageError(
            f"{str(stopped).rstrip('.')}. The run stopped there, sending nothing more: without "
            "the store no request can be paced or counted against the budgets."
        )
    if result.exit_code == 5:
        raise UsageError(
            "No contract was selected; check the pytest arguments after '--' (for example -k)."
        )
    if result.exit_code not in (0, 1):
        if result.summary.get("areas"):
            # An interrupted run still says what it sent and started (a real account bills it).
            console.print(_cost_line(result.summary, before, options), soft_wrap=True)
        raise UsageError(
            f"pytest stopped with exit code {result.exit_code} (interrupted, or bad pytest "
            "arguments); see its message above."
        )
    if collect_only:
        collected = int(result.summary.get("collected", 0))
        console.print(f"Collected {collected} contracts; none was run (--collect-only).")
        return EXIT_OK if result.exit_code == 0 else EXIT_FAILED
    if result.areas:
        _result_table(console, result.summary)
    console.print(_cost_line(result.summary, before, options), soft_wrap=True)
    jobs = [
        _Job(
            "contract suite",
            result.exit_code == 0,
            f"{result.passed} contracts hold, {result.failed} failed"
            + (f", {result.skipped} skipped" if result.skipped else ""),
        )
    ]
    if with_probe:
        jobs.append(_probe_job(options))
    if lint_paths:
        from acscontract.ram import Severity, render_text

        gate = Severity.parse("security")
        if lint_result.findings:
            console.print(render_text(lint_result, fail_on=gate), end="")
        counts = lint_result.by_severity()
        jobs.append(
            _Job(
                f"RAM policy lint ({', '.join(map(str, lint_paths))})",
                not lint_result.failed(gate),
                f"{len(lint_result.files)} policies, "
                + ", ".join(f"{n} {name}" for name, n in counts.items()),
            )
        )
    if len(jobs) == 1:
        if jobs[0].ok:
            console.print(safe_text(f"All {result.passed} contracts hold.", "green"))
            return EXIT_OK
        console.print(safe_text(f"{result.failed} contracts failed.", "red"))
        return EXIT_FAILED
    table = Table(title="Main job", title_justify="left")
    for column in ("job", "result", "details"):
        table.add_column(column)
    for job in jobs:
        verdict = safe_text("ok", "green") if job.ok else safe_text("FAILED", "red")
        table.add_row(job.name, verdict, job.details)
    console.print(table)
    return EXIT_OK if all(job.ok for job in jobs) else EXIT_FAILED


def _preflight_and_plan(console: Console, options: Any, profile: str) -> int:
    """Check the target (URL targets), then print the plan; return the requests sent."""
    from acscontract.contracts.preflight import preflight
    from acscontract.contracts.selection import select_operations
    from acscontract.contracts.targets import EMULATOR_TARGETS, open_target

    chosen = select_operations(options.operation)
    with open_target(chosen.primary, options) as opened:
        sent = 0
        if options.target not in EMULATOR_TARGETS:
            sent = preflight(opened).requests
        _plan_table(console, chosen, opened, options, profile)
    return sent


def _plan_table(console: Console, chosen: Any, target: Any, options: Any, profile: str) -> None:
    """The plan: against an emulator one line; against a real account, per profile, the most
    requests, recordings and writes a run can cost, and the least time its pacing needs."""
    from acscontract.client import pacing_budget
    from acscontract.contracts.pacing import paced_flow
    from acscontract.contracts.plan import run_plan
    from acscontract.contracts.plugin import PROFILES, settings_of

    if target.is_emulator or target.store is None:
        console.print(
            f"Plan against {target.description}: an emulator, so nothing is billed and nothing "
            f"is paced; {chosen.describe()}, profile {profile}.",
            soft_wrap=True,
        )
        return
    if len(chosen.operations) == 1:
        flow = paced_flow(chosen.primary)
        paced = f"paced at most {pacing_budget(flow)} calls per {flow.per}"
    else:
        paced = "each operation paced under 80% of its own limit"
    console.print(
        f"Plan against {target.description} (no admin API: a real account); {chosen.describe()}, "
        f"{paced} ({target.store.description}); at most {options.recording_limit} billable "
        f"recordings (--max-recordings) and {options.write_limit} writes (--max-writes).",
        soft_wrap=True,
    )
    table = Table()
    for column in ("profile", "max requests", "max recordings", "max writes", "min time"):
        table.add_column(column)
    for name in PROFILES:
        plan = run_plan(
            chosen.operations,
            name,
            settings_of(name),
            resources=target.resources,
            deny_keys=len(target.deny_credentials),
            allow_throttling=options.allow_throttling,
            max_recordings=options.recording_limit,
            max_writes=options.write_limit,
        )
        mark = " (this run)" if name == profile else ""
        table.add_row(
            f"{name}{mark}",
            f"{plan.requests:,}",
            f"{plan.recordings} (want {plan.recordings_wanted})",
            f"{plan.writes} (want {plan.writes_wanted})",
            f"{plan.seconds:,.0f} s",
        )
    console.print(table)


def _cost_line(summary: Mapping[str, Any], preflight: int, options: Any) -> str:
    from acscontract.contracts.selection import select_operations

    requests = int(summary.get("requests", 0)) + preflight
    recordings = int(summary.get("recordings", 0))
    writes = int(summary.get("writes", 0))
    # Against an emulator, writes are shown where the run has operations that write.
    count_writes = bool(select_operations(options.operation).writing)
    if options.target in ("emulator", "emulator-http") or "emulator at" in str(
        summary.get("target") or ""
    ):
        also = f" and {writes} writes" if count_writes else ""
        return f"Sent {requests} requests; {recordings} recordings started{also} on the emulator."
    return (
        f"Sent {requests} requests; {recordings} billable recording-starting calls "
        f"(--max-recordings {options.recording_limit}); {writes} writes (--max-writes "
        f"{options.write_limit})."
    )


@dataclass(frozen=True, slots=True)
class _Job:
    name: str
    ok: bool
    details: str


def _probe_job(options: Any) -> _Job:
    """The probe's polite check of the run's primary operation against the run's target (an
    in-process emulator by default)."""
    from acscontract import probe as probe_api
    from acscontract.contracts.selection import select_operations

    op = select_operations(options.operation).primary
    if op.flow_control.limit is None:
        return _Job(
            "rate-limit probe (check)", True, f"not run: {op.name} documents no limit to check"
        )
    if options.target in ("emulator", "emulator-http"):
        the_target = probe_api.emulator_target(operation=op)
    else:
        from acscontract.client import pacing_store

        store = pacing_store(options.pacing_store) if options.pacing_store else None
        the_target = probe_api.http_target(options.target, store=store, operation=op)
    settings = probe_api.ProbeSettings(mode=probe_api.Mode.CHECK)
    resources = probe_api.Resources(
        domain=options.domain or the_target.domain,
        app=probe_api.PROBE_APP,
        stream=probe_api.PROBE_STREAM,
    )
    result = probe_api.run_probe(the_target, settings, resources=resources, operation=op)
    limit = op.flow_control.limit
    if result.stop is not None:
        return _Job("rate-limit probe (check)", False, f"stopped: {result.stop.reason}")
    return _Job(
        "rate-limit probe (check)",
        result.passed,
        f"{result.requests} calls at 80% of {limit}/s, {result.throttled} throttled "
        f"({'simulated' if result.simulated else 'real'} time)",
    )
