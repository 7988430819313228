"""The pytest plugin of the contract suite (registered as `acscontract` through `pytest11`).

It adds one option group, `acscontract`, the markers the contracts use, the fixtures `target`,
`client`, `contract_settings`, `exchanges` and `live_mock`, and a summary per contract area. It
imports nothing heavy at load time: installing acscontract does not slow unrelated test runs.
Options and fixtures only take effect for tests marked `acscontract_area`.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from hypothesis import settings as Settings

    from acscontract.contracts.selection import Selection
    from acscontract.contracts.targets import ContractTarget, TargetOptions
    from acscontract.emulator import Emulator

__all__ = [
    "AREA_MARKER",
    "PROFILES",
    "ExchangeLog",
    "live_mock",
    "profile_name",
    "profile_settings",
    "redact",
    "selection",
    "settings_of",
    "skip_line",
    "target_options",
]

AREA_MARKER = "acscontract_area"
PROFILES = ("quick", "ci", "thorough")
"""The hypothesis profiles of the suite (registered as `acscontract-<name>`)."""

_OPTIONS: tuple[tuple[str, str, str], ...] = (
    ("target", "emulator", "emulator (in process), emulator-http (loopback server) or a URL"),
    ("domain", "", "the streaming domain (an app of it has a record configuration)"),
    ("app", "", "the app of the domain with a record configuration"),
    ("stream", "", "an online stream the suite may start and stop recording on"),
    ("stream-offline", "", "a stream of the app that is offline (optional)"),
    ("app-without-config", "", "an app of the domain without a record configuration (optional)"),
    ("deny-access-key-id", "", "an AccessKey ID whose RAM policies deny the operation"),
    ("deny-access-key-secret", "", "its secret"),
    ("admin-token", "", "the emulator admin API's bearer token, when it was served with one"),
    ("pacing-store", "", "redis://HOST:PORT/DB shared by every machine (else the file lock store)"),
    ("max-recordings", "3", "successful recording-starting calls allowed on a real account"),
    (
        "operation",
        "",
        "the operations under contract: a name, names separated by commas, or all (default: "
        "the reference operation)",
    ),
    (
        "max-writes",
        "0",
        "requests that could change state, of operations the spec says write, allowed on a "
        "real account",
    ),
    ("run-id", "", "names the run whose workers share one recording budget (generated)"),
    ("profile", "quick", "hypothesis profile: quick, ci or thorough"),
    ("report", "", "write a JSON summary of the contract areas to this file"),
)
# Signature and STS token values as query parameters (plain, or percent-encoded inside a quoted
# string to sign), as headers, and as JSON members.
_SECRET_PATTERNS = (
    re.compile(r"(?<![A-Za-z])((?:Signature|SecurityToken)(?:=|%3D))((?:(?!%26)[^&\s\"'])+)"),
    re.compile(r"(?im)^(\s*x-acs-security-token\s*:\s*)(\S.*)$"),
    re.compile(r"(?i)(\"(?:SecurityToken|AccessKeySecret|access_key_secret)\"\s*:\s*\")([^\"]*)"),
)
_AUTHORIZATION = re.compile(r"(?i)(Signature=)[0-9a-f]{16,}")
_MASK = "***"


def _env_name(name: str) -> str:
    return "ACSCONTRACT_" + name.upper().replace("-", "_")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("acscontract", "acscontract contract suite")
    for name, default, text in _OPTIONS:
        group.addoption(
            f"--acscontract-{name}",
            dest=f"acscontract_{name.replace('-', '_')}",
            default=None,
            metavar=name.upper().replace("-", "_"),
            help=f"{text} (env {_env_name(name)}; default {default or 'none'}).",
        )
    group.addoption(
        "--acscontract-allow-throttling",
        dest="acscontract_allow_throttling",
        action="store_true",
        default=False,
        help="let contracts exceed the flow-control limit on a non-loopback target "
        "(env ACSCONTRACT_ALLOW_THROTTLING).",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{AREA_MARKER}(name): the contract area a contract belongs to (summary row)."
    )
    config.addinivalue_line(
        "markers", "needs_admin: the contract needs the emulator's admin API (/_emulator/)."
    )
    config.addinivalue_line(
        "markers",
        "needs_throttling: the contract exceeds the flow-control limit on purpose; it runs "
        "against emulators, or with --acscontract-allow-throttling.",
    )
    config.addinivalue_line(
        "markers",
        "mutates_state: the contract changes recording state; on a real account it uses only "
        "the stream the user named.",
    )
    config.addinivalue_line(
        "markers",
        "emulator_traffic(why): generated traffic that could start recordings or change the "
        "account; runs only against emulators.",
    )
    config.addinivalue_line(
        "markers",
        "starts_recordings: the contract takes recordings from the run's budget on a real "
        "account; such contracts run last, after every contract that only expects refusals.",
    )
    _STATE.config = config
    if not hasattr(config, "workerinput"):
        config.stash[_RUN_ID] = option(config, "run-id") or uuid.uuid4().hex
    else:
        config.stash[_RUN_ID] = str(config.workerinput.get("acscontract_run_id", ""))
    _check_options(config)
    summary = AreaSummary()
    config.stash[_SUMMARY] = summary
    config.pluginmanager.register(summary, "acscontract-summary")


def _check_options(config: pytest.Config) -> None:
    """Every acscontract option of the session read once, so that a bad value (an operation
    the product does not have, a count that is not a number, an unknown profile, a pacing
    store that is not Redis) ends the session with its one line before the contract modules,
    which read them at import, are collected."""
    from acscontract.client import check_pacing_url
    from acscontract.errors import UsageError

    try:
        if option(config, "operation"):
            selection(config)
        if option(config, "profile") or os.environ.get(_env_name("profile")):
            profile_settings(config)
        options = target_options(config)
        if options.pacing_store:
            check_pacing_url(options.pacing_store)
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None


def option(config: pytest.Config, name: str) -> str | None:
    """An option's value: the command line, else its ACSCONTRACT_ variable, else None."""
    value = config.getoption(f"acscontract_{name.replace('-', '_')}", default=None)
    if value:
        return str(value)
    env = os.environ.get(_env_name(name))
    return env or None


def target_options(config: pytest.Config | None = None) -> TargetOptions:
    """The target options of this run: the command line, else `ACSCONTRACT_*` variables.

    Without `config`, the configuration of the running pytest session is used (contract modules
    call it at import time, before fixtures exist).
    """
    from acscontract.contracts.targets import TargetOptions

    config = config if config is not None else _STATE.config
    if config is None:
        return TargetOptions.resolve({})
    given: dict[str, Any] = {
        name.replace("-", "_"): option(config, name)
        for name, _, _ in _OPTIONS
        if name not in ("profile", "report")
    }
    given["allow_throttling"] = bool(config.getoption("acscontract_allow_throttling", False))
    given["run_id"] = config.stash.get(_RUN_ID, None) or given.get("run_id")
    return TargetOptions.resolve(given)


_RUN_ID = pytest.StashKey[str]()


def selection(config: pytest.Config | None = None) -> Selection:
    """The operations of this run (`--acscontract-operation`, else ACSCONTRACT_OPERATION, else
    the reference operation). Without `config`, the running session's (contract modules call it
    at import time to parametrize their contracts)."""
    from acscontract.contracts.selection import select_operations

    config = config if config is not None else _STATE.config
    value = option(config, "operation") if config is not None else None
    return select_operations(value or os.environ.get(_env_name("operation")))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist: every worker of the run shares the controller's run id (one budget)."""
    node.workerinput["acscontract_run_id"] = node.config.stash.get(_RUN_ID, "")


@dataclass(slots=True)
class _SessionState:
    config: pytest.Config | None = None
    profiles_registered: bool = False
    finishing: bool = False
    """Whether the session is finishing (an interrupted run's last teardown happens then)."""


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    _STATE.finishing = True


_STATE = _SessionState()


def pytest_unconfigure(config: pytest.Config) -> None:
    _STATE.finishing = False
    if _STATE.config is config:
        _STATE.config = None


def _register_profiles() -> None:
    from hypothesis import HealthCheck, Phase, Verbosity, settings

    common: dict[str, Any] = {
        "deadline": None,
        "suppress_health_check": [
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
        "print_blob": True,
        "verbosity": Verbosity.normal,
    }
    profiles: dict[str, dict[str, Any]] = {
        # Against the emulator in seconds; no example database written in the user's folder.
        "quick": {"max_examples": 100, "stateful_step_count": 25, "database": None},
        # Deterministic: the same examples on every run, nothing remembered between runs.
        "ci": {"max_examples": 100, "derandomize": True, "database": None},
        # Nightly: many examples, longer lifecycles, the shrinker given time.
        "thorough": {"max_examples": 1000, "stateful_step_count": 50},
        # For acscontract's own self-test: a few examples, no shrinking.
        "selftest": {
            "max_examples": 12,
            "stateful_step_count": 10,
            "database": None,
            "derandomize": True,
            "phases": [Phase.explicit, Phase.reuse, Phase.generate],
        },
    }
    for name, values in profiles.items():
        settings.register_profile(f"acscontract-{name}", **common, **values)
    _STATE.profiles_registered = True


def settings_of(name: str) -> Settings:
    """The hypothesis settings of the profile `name` (one of PROFILES, or `selftest`)."""
    from hypothesis import settings

    if not _STATE.profiles_registered:
        _register_profiles()
    return settings.get_profile(f"acscontract-{name}")


def profile_name(config: pytest.Config | None = None) -> str:
    """The chosen profile (`--acscontract-profile`, else ACSCONTRACT_PROFILE, else quick)."""
    config = config if config is not None else _STATE.config
    name = (option(config, "profile") if config is not None else None) or os.environ.get(
        _env_name("profile")
    )
    return name or "quick"


def profile_settings(config: pytest.Config | None = None) -> Settings:
    """The hypothesis settings of the chosen profile (see `profile_name`)."""
    from hypothesis import settings

    from acscontract.errors import UsageError

    if not _STATE.profiles_registered:
        _register_profiles()
    name = profile_name(config)
    try:
        return settings.get_profile(f"acscontract-{name}")
    except Exception:  # noqa: BLE001 - hypothesis raises InvalidArgument
        raise UsageError(
            f"There is no contract profile {name!r}; use one of {', '.join(PROFILES)}."
        ) from None


@pytest.fixture(scope="session")
def contract_settings(pytestconfig: pytest.Config, target: ContractTarget) -> Settings:
    """The hypothesis settings of the chosen profile (`--acscontract-profile`, default quick),
    with fewer examples and no shrinking against a real account (see contracts.plan)."""
    from acscontract.contracts.plan import settings_for

    return settings_for(
        profile_settings(pytestconfig),
        emulator=target.is_emulator,
        profile=profile_name(pytestconfig),
    )


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Iterator[ContractTarget]:
    """The endpoint under contract, from the `acscontract` options (the emulator by default)."""
    from acscontract.contracts.targets import open_target

    with open_target(None, target_options(pytestconfig)) as opened:
        summary = pytestconfig.stash.get(_SUMMARY, None)
        if summary is not None:
            summary.target = opened.description
        yield opened


@pytest.fixture(scope="session")
def client(target: ContractTarget) -> Any:
    """A signed `acscontract.client.Client` for the target, with its credentials."""
    if not target.usable:
        pytest.skip("; ".join(target.missing))
    return target.client()


@pytest.fixture
def live_mock(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """A fresh in-process Live emulator for one test: `with mock_live(**options)` around it.

    Live calls through requests, the legacy SDK, aiohttp or httpx reach it for the test's whole
    duration. Parametrize it indirectly to pass `mock_live` options:
    `@pytest.mark.parametrize("live_mock", [{"passthrough": False}], indirect=True)`. The emulator
    is imported only when a test asks for the fixture.
    """
    from acscontract.emulator import LiveMock

    options = getattr(request, "param", None) or {}
    with LiveMock(**options) as emulator:
        yield emulator


# --- exchanges and redaction -------------------------------------------------------------


def redact(text: str, secrets: tuple[str | None, ...] = ()) -> str:
    """`text` with signatures, tokens and the given secrets masked."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, _MASK)
            from urllib.parse import quote

            text = text.replace(quote(secret, safe=""), _MASK)
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(rf"\g<1>{_MASK}", text)
    return _AUTHORIZATION.sub(rf"\g<1>{_MASK}", text)


@dataclass(slots=True)
class ExchangeLog:
    """The last request and response of a contract, for the failure report."""

    last: str | None = None
    secrets: tuple[str | None, ...] = ()

    def record(self, response: Any) -> None:
        """Keep `response` (an `ApiResponse`, or anything with a useful repr) as the last one."""
        request = getattr(response, "request", None)
        lines = []
        if request is not None and hasattr(request, "url"):
            lines.append(f"{request.method} {request.url}")
            for name, value in dict(request.headers).items():
                lines.append(f"  {name}: {value}")
        status = getattr(response, "status", None) or getattr(response, "status_code", "?")
        lines.append(f"-> HTTP {status}")
        headers = getattr(response, "headers", {}) or {}
        content_type = None
        for name, value in dict(headers).items():
            if str(name).lower() == "content-type":
                content_type = value if isinstance(value, str) else ",".join(value)
        if content_type is not None:
            lines.append(f"  content-type: {content_type}")
        text = getattr(response, "text", "")
        lines.append(f"  {text[:600]}")
        self.last = redact("\n".join(lines), self.secrets)


@pytest.fixture
def exchanges(request: pytest.FixtureRequest) -> ExchangeLog:
    """Where a contract records its exchanges; the last one is shown when it fails."""
    log = ExchangeLog()
    target_obj = None
    if "target" in request.fixturenames:
        target_obj = request.getfixturevalue("target")
    if target_obj is not None:
        secrets = [target_obj.credentials, *target_obj.deny_credentials]
        log.secrets = tuple(
            value
            for creds in secrets
            if creds is not None
            for value in (creds.access_key_secret, creds.security_token)
        )
    request.node.stash[_EXCHANGES] = log
    return log


_EXCHANGES = pytest.StashKey[ExchangeLog]()


# --- gating by marker ----------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _acscontract_gate(request: pytest.FixtureRequest) -> Iterator[None]:
    """Skip a contract, with its reason, when the target cannot give what it needs; afterwards,
    note the requests it sent and the recordings it started (the summary adds them up)."""
    marker = request.node.get_closest_marker(AREA_MARKER)
    if marker is None:
        yield
        return
    contract_target = request.getfixturevalue("target")
    request.node.user_properties.append(("acscontract_target", contract_target.description))
    if not contract_target.usable:
        pytest.skip("; ".join(contract_target.missing))
    if hasattr(request.config, "workerinput") and not contract_target.own_emulator:
        pytest.skip(
            "pytest-xdist workers would drive the same stream and share one account limit of "
            f"{contract_target.description}; run it without -n"
        )
    if request.node.get_closest_marker("needs_admin") and contract_target.admin is None:
        pytest.skip(
            "needs the emulator's admin API (GET /_emulator/state did not answer): a real "
            "endpoint cannot be told to interrupt a stream or move its clock"
        )
    traffic = request.node.get_closest_marker("emulator_traffic")
    if traffic is not None and not contract_target.is_emulator:
        pytest.skip(
            "runs only against an emulator: "
            + (
                str(traffic.args[0])
                if traffic.args
                else "its generated commands on the named stream would start billable "
                "recordings on a real account (the documented transitions and the "
                "unknown-stream properties cover the real account)"
            )
        )
    if (
        request.node.get_closest_marker("needs_throttling")
        and not contract_target.throttling_allowed
    ):
        pytest.skip(
            "exceeds the flow-control limit on purpose: runs against emulators, or with "
            "--allow-throttling (ACSCONTRACT_ALLOW_THROTTLING=1)"
        )
    requests_before = contract_target.requests_sent
    recordings_before = contract_target.recordings_started
    writes_before = contract_target.writes_made
    yield
    spent = {
        "acscontract_requests": contract_target.requests_sent - requests_before,
        "acscontract_recordings": contract_target.recordings_started - recordings_before,
        "acscontract_writes": contract_target.writes_made - writes_before,
    }
    request.node.user_properties.extend(spent.items())
    summary = request.config.stash.get(_SUMMARY, None)
    if _STATE.finishing and summary is not None:
        # An interrupted run tears its last contract down at the session's end, and no report
        # carries these figures there: the summary counts them itself (a real account bills
        # the recordings all the same).
        summary.count(str(marker.args[0]) if marker.args else "", spent)


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, object, object]:
    """A contract that the run's recording or write budget cannot cover is skipped, with the
    reason."""
    from acscontract.contracts.budget import BudgetSpent

    try:
        return (yield)
    except BudgetSpent as exc:
        pytest.skip(str(exc))


def _not_applicable(item: pytest.Item) -> bool:
    """Whether a contract was parametrized over no operation of the run (for example the
    lifecycle contracts of a run whose operations have none): it is left out, not skipped."""
    return any(
        str(mark.kwargs.get("reason", "")).startswith("got empty parameter set")
        for mark in item.iter_markers("skip")
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # These contracts do not exist for this run's operations. They are reported as deselected,
    # so that pytest's own count ("70 collected / 6 deselected / 64 selected") agrees with ours.
    gone = [i for i in items if i.get_closest_marker(AREA_MARKER) and _not_applicable(i)]
    if gone:
        dropped = {id(i) for i in gone}
        items[:] = [i for i in items if id(i) not in dropped]
        config.hook.pytest_deselected(items=gone)
    for item in items:
        marker = item.get_closest_marker(AREA_MARKER)
        if marker is not None and marker.args:
            item.user_properties.append((AREA_MARKER, str(marker.args[0])))
    # Contracts that spend the recording budget go last, so that the calls of the others (which
    # may briefly hold a slot each, and give it back when refused) always find one.
    items.sort(key=lambda item: item.get_closest_marker("starts_recordings") is not None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if item.get_closest_marker(AREA_MARKER) is not None and report.skipped:
        # The operation a skipped contract was parametrized with: the summary lists them under
        # one reason instead of repeating it per operation.
        params = getattr(getattr(item, "callspec", None), "params", {})
        name = getattr(params.get("op"), "name", None)
        if isinstance(name, str):
            report.user_properties.append(("acscontract_operation", name))
    if item.get_closest_marker(AREA_MARKER) is not None and report.failed:
        log = item.stash.get(_EXCHANGES, None)
        if log is not None and log.last:
            report.user_properties.append(("acscontract_exchange", log.last))
    failure = _store_failure(call.excinfo.value) if call.excinfo is not None else None
    if failure is not None:
        # Nothing more can be paced or counted against the budgets: the run stops here (every
        # xdist worker too), with this one reason, instead of failing contract after contract.
        report.user_properties.append((_STOPPED, str(failure)))
        item.session.shouldstop = str(failure)
    return report


_STOPPED = "acscontract_stopped"


def _store_failure(error: BaseException | None, depth: int = 0) -> BaseException | None:
    """The pacing store's failure behind `error` (raised, chained or grouped), if any."""
    from acscontract.client import PacingStoreError

    if error is None or depth > 20:
        return None
    if isinstance(error, PacingStoreError):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            found = _store_failure(inner, depth + 1)
            if found is not None:
                return found
    return _store_failure(error.__cause__ or error.__context__, depth + 1)


# --- the summary ---------------------------------------------------------------------------


@dataclass(slots=True)
class AreaResult:
    """Outcomes of the contracts of one area."""

    passed: int = 0
    failed: int = 0
    skipped: int = 0
    skip_reasons: dict[str, int] = field(default_factory=dict)
    skipped_operations: dict[str, list[str]] = field(default_factory=dict)
    """Per skip reason, the operations of the contracts skipped for it (when parametrized by
    operation)."""
    first_failure: dict[str, str] | None = None
    notes: list[str] = field(default_factory=list)
    requests: int = 0
    """Requests the area's contracts sent to the target."""
    recordings: int = 0
    """Successful recording-starting calls they made (billable on a real account)."""
    writes: int = 0
    """Successful requests of operations the spec says write, outside a lifecycle."""

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "failed": self.failed,
            "skipped": self.skipped,
            "skip_reasons": dict(self.skip_reasons),
            "skipped_operations": {k: list(v) for k, v in self.skipped_operations.items()},
            "first_failure": self.first_failure,
            "notes": list(self.notes),
            "requests": self.requests,
            "recordings": self.recordings,
            "writes": self.writes,
        }


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        reason = str(longrepr[2])
    else:
        reason = str(longrepr)
    return reason.removeprefix("Skipped: ")


def _failure_message(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        message = str(crash.message)
    else:
        message = report.longreprtext.strip().splitlines()[-1] if report.longreprtext else ""
    return redact(message[:2000])


def skip_line(reason: str, operations: Mapping[str, Sequence[str]], shown: int = 6) -> str:
    """`reason`, followed by the operations skipped for it (the first `shown` of them) when
    the contracts were parametrized by operation."""
    names = list(operations.get(reason, ()))
    if not names:
        return reason
    listed = ", ".join(names[:shown])
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return f"{reason}: {listed}{more}"


class AreaSummary:
    """Collects test reports per contract area (on the xdist controller, too) and prints them."""

    def __init__(self) -> None:
        self.areas: dict[str, AreaResult] = {}
        self.target: str | None = None
        self.collected = 0
        self.stopped: str | None = None
        """Why the run stopped before its end (the pacing store failed), if it did."""

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.collected = sum(1 for i in session.items if i.get_closest_marker(AREA_MARKER))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = {k: v for k, v in report.user_properties if isinstance(k, str)}
        area = props.get(AREA_MARKER)
        if area is None:
            return
        result = self.areas.setdefault(str(area), AreaResult())
        for key, value in report.user_properties:
            if key == "acscontract_note" and str(value) not in result.notes:
                result.notes.append(str(value))
            if key == "acscontract_target" and self.target is None:
                self.target = str(value)
            if key == _STOPPED and self.stopped is None:
                self.stopped = str(value)
            if report.when == "teardown" and key == "acscontract_requests":
                result.requests += int(str(value))
            if report.when == "teardown" and key == "acscontract_recordings":
                result.recordings += int(str(value))
            if report.when == "teardown" and key == "acscontract_writes":
                result.writes += int(str(value))
        if report.when == "call" and report.passed:
            result.passed += 1
        elif report.skipped:
            result.skipped += 1
            reason = _skip_reason(report)
            result.skip_reasons[reason] = result.skip_reasons.get(reason, 0) + 1
            name = props.get("acscontract_operation")
            if name is not None:
                names = result.skipped_operations.setdefault(reason, [])
                if str(name) not in names:
                    names.append(str(name))
        elif report.failed:
            result.failed += 1
            if result.first_failure is None:
                result.first_failure = {
                    "test": report.nodeid,
                    "message": _failure_message(report),
                    "exchange": str(props.get("acscontract_exchange", "")),
                }

    def count(self, area: str, spent: Mapping[str, int]) -> None:
        """Add what a contract spent that no report carries."""
        result = self.areas.setdefault(area, AreaResult())
        result.requests += spent["acscontract_requests"]
        result.recordings += spent["acscontract_recordings"]
        result.writes += spent["acscontract_writes"]

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "collected": self.collected,
            "requests": sum(r.requests for r in self.areas.values()),
            "recordings": sum(r.recordings for r in self.areas.values()),
            "writes": sum(r.writes for r in self.areas.values()),
            "stopped": self.stopped,
            "areas": {name: result.to_json() for name, result in sorted(self.areas.items())},
        }

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        config = session.config
        path = option(config, "report")
        if path and not hasattr(config, "workerinput"):  # the xdist controller, or no xdist
            Path(path).write_text(json.dumps(self.to_json(), indent=2), encoding="utf-8")

    def pytest_terminal_summary(self, terminalreporter: Any, config: pytest.Config) -> None:
        if not self.areas:
            return
        if option(config, "report"):
            return  # whoever asked for the file (`acscontract run`) shows the summary itself
        write = terminalreporter.write_line
        terminalreporter.section("acscontract contract areas")
        if self.target:
            write(f"target: {self.target}")
        write(
            f"requests sent: {sum(r.requests for r in self.areas.values())}; recordings "
            f"started: {sum(r.recordings for r in self.areas.values())}; writes: "
            f"{sum(r.writes for r in self.areas.values())}"
        )
        for name, result in sorted(self.areas.items()):
            write(
                f"{name:<18} passed {result.passed:>3}  failed {result.failed:>3}  "
                f"skipped {result.skipped:>3}"
            )
            for reason, count in result.skip_reasons.items():
                write(f"    skipped ({count}): {skip_line(reason, result.skipped_operations)}")
            for note in result.notes:
                write(f"    note: {note}")
            if result.first_failure is not None:
                write(f"    first failure: {result.first_failure['test']}")
                for line in result.first_failure["message"].splitlines()[:6]:
                    write(f"      {line}")


_SUMMARY = pytest.StashKey[AreaSummary]()
