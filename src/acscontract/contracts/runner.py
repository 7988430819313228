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

__all__ = ["RunResult", "contracts_dir", "run_contracts"]

# Options passed to the plugin through the environment rather than the command line, so that
# they never show in a process list or an echoed argument vector.
_SECRET_OPTIONS = frozenset({"deny_access_key_secret", "admin_token"})


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
        with _environment(env):
            code = int(pytest.main(args, plugins=list(plugins)))
        summary: dict[str, Any] = {}
        if report.is_file():
            summary = json.loads(report.read_text(encoding="utf-8"))
    return RunResult(code, summary)
