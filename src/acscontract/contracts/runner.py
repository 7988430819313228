"""Running the bundled contract suite with pytest, in this process, and reading its summary.

`run_contracts` is what `acscontract run`, the self-test and the benchmark use: it points pytest
at the bundled `contracts/` folder with its own configuration (so a project's pytest settings do
not leak in), passes the target options, and returns pytest's exit code with the per-area summary
the plugin wrote.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from acscontract._resources import bundled_path
from acscontract.contracts.targets import ENV_PREFIX, TargetOptions

__all__ = ["CACHE_DIR_ENV", "RunResult", "cache_dir", "contracts_dir", "run_contracts"]

# Options passed to the plugin through the environment rather than the command line, so that
# they never show in a process list or an echoed argument vector (a Redis URL may hold a
# password).
_SECRET_OPTIONS = frozenset({"deny_access_key_secret", "admin_token", "pacing_store"})

CACHE_DIR_ENV = "ACSCONTRACT_CACHE_DIR"
"""Where acscontract keeps what runs remember (hypothesis' example database)."""


def cache_dir() -> Path:
    """acscontract's cache folder: `ACSCONTRACT_CACHE_DIR`, else the platform's user cache
    folder (`$XDG_CACHE_HOME/acscontract`, `~/.cache/acscontract`, `~/Library/Caches/acscontract`,
    `%LOCALAPPDATA%\\acscontract\\Cache`). Never the current folder."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured)
    home = Path.home()
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        base = os.environ.get("LOCALAPPDATA")
        return (Path(base) if base else home / "AppData" / "Local") / "acscontract" / "Cache"
    if sys.platform == "darwin":  # pragma: no cover - exercised on macOS only
        return home / "Library" / "Caches" / "acscontract"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else home / ".cache") / "acscontract"


@contextlib.contextmanager
def hypothesis_home(folder: Path) -> Iterator[None]:
    """While inside, hypothesis keeps its files (example database, caches) in `folder`."""
    from hypothesis import configuration

    folder.mkdir(parents=True, exist_ok=True)
    # The folder hypothesis had been told to use (None: its default, resolved on first use).
    previous = getattr(configuration, "__hypothesis_home_directory", None)
    configuration.set_hypothesis_home_dir(folder)
    try:
        yield
    finally:
        configuration.set_hypothesis_home_dir(previous)


@dataclass(frozen=True, slots=True)
class RunResult:
    """pytest's exit code and the plugin's summary (`{"target", "areas": {name: {...}}}`)."""

    exit_code: int
    summary: Mapping[str, Any] = field(default_factory=dict)

    @property
    def areas(self) -> Mapping[str, Mapping[str, Any]]:
        """The per-area results."""
        areas = self.summary.get("areas", {})
        return areas if isinstance(areas, Mapping) else {}

    @property
    def failed(self) -> int:
        """How many contracts failed, over all areas."""
        return sum(int(a.get("failed", 0)) for a in self.areas.values())

    @property
    def skipped(self) -> int:
        """How many contracts were skipped (each with its reason in the summary)."""
        return sum(int(a.get("skipped", 0)) for a in self.areas.values())

    @property
    def passed(self) -> int:
        """How many contracts passed, over all areas."""
        return sum(int(a.get("passed", 0)) for a in self.areas.values())


def contracts_dir() -> Path:
    """The bundled contract suite (the repository's `contracts/`, or the wheel's copy)."""
    return bundled_path("contracts")


def _forget_contract_modules(folder: Path) -> None:
    """Drop contract modules an earlier run in this process imported, so options are re-read."""
    root = str(folder.resolve())
    for name, module in list(sys.modules.items()):
        location = getattr(module, "__file__", None)
        if location and str(Path(location).resolve()).startswith(root):
            del sys.modules[name]


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# What the contracts use from pytest plugins (schemathesis' OpenAPI support), and the plugins'
# own pytest modules. Imported before pytest starts, they are not assertion-rewritten module by
# module when collection imports them: seconds of compiling where no bytecode cache is written.
_PLUGIN_MODULES = (
    "schemathesis.specs.openapi.schemas",
    "schemathesis.specs.openapi.checks",
    "schemathesis.generation.hypothesis.builder",
    "schemathesis.pytest.plugin",
    "schemathesis.python.asgi",
    "schemathesis.transport.asgi",
    "schemathesis.transport.wsgi",
    "schemathesis.reporting.junitxml",
    "schemathesis.reporting.allure",
    "schemathesis.engine.events",
    "schemathesis.graphql.checks",
    "anyio.pytest_plugin",
    "anyio.from_thread",
    "xdist.plugin",
    "xdist.looponfail",
)


def _import_plugin_modules() -> None:
    import importlib

    for name in _PLUGIN_MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def run_contracts(
    options: TargetOptions,
    *,
    profile: str = "quick",
    pytest_args: Sequence[str] = (),
    junitxml: str | None = None,
    quiet: bool = True,
    plugins: Sequence[object] = (),
) -> RunResult:
    """Run the contract suite against the target `options` describe, in this process."""
    import pytest

    _import_plugin_modules()

    folder = contracts_dir()
    args = [str(folder), "-c", str(folder / "pytest.ini"), "--rootdir", str(folder)]
    # acscontract and hypothesis are imported before pytest starts here, so pytest cannot
    # rewrite their asserts; that is expected and not worth a warning.
    args += ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
    env: dict[str, str] = {}
    for item in fields(TargetOptions):
        value = getattr(options, item.name)
        if value is None or value is False:
            continue
        flag = "--acscontract-" + item.name.replace("_", "-")
        if item.name in _SECRET_OPTIONS:
            env[ENV_PREFIX + item.name.upper()] = str(value)
        elif value is True:
            args.append(flag)
        else:
            args.append(f"{flag}={value}")
    args.append(f"--acscontract-profile={profile}")
    if junitxml:
        args.append(f"--junitxml={junitxml}")
    if quiet:
        args += ["-q", "--no-header", "--tb=short", "-rN"]
    args += list(pytest_args)
    with tempfile.TemporaryDirectory(prefix="acscontract-run-") as scratch:
        report = Path(scratch) / "summary.json"
        args.append(f"--acscontract-report={report}")
        _forget_contract_modules(folder)
        with _environment(env), hypothesis_home(cache_dir() / "hypothesis"):
            code = int(pytest.main(args, plugins=list(plugins)))
        summary: dict[str, Any] = {}
        if report.is_file():
            summary = json.loads(report.read_text(encoding="utf-8"))
    return RunResult(code, summary)
