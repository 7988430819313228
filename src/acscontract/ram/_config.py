"""Linter configuration: `[tool.acscontract.ram]` in pyproject.toml, or a TOML file of its own.

```toml
[tool.acscontract.ram]
disable = ["statement-subsumed"]
fail-on = "warning"
severity = { "resource-wildcard-reach" = "error" }
per-path-ignores = { "legacy/**" = ["action-unknown"] }
docs-url = "https://example.org/acscontract/docs/checks/"
```

Unknown keys, unknown check ids and bad values are one `ConfigError` naming every problem, so a
typo never silently disables nothing.
"""

from __future__ import annotations

import contextlib
import fnmatch
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from acscontract._files import read_regular_bytes
from acscontract._resources import doc_reference
from acscontract.errors import UsageError
from acscontract.ram._findings import Severity

__all__ = [
    "CONFIG_KEYS",
    "FAIL_ON_CHOICES",
    "ConfigError",
    "LintConfig",
    "find_config",
    "load_config",
]

CONFIG_KEYS = ("disable", "severity", "per-path-ignores", "fail-on", "docs-url")
FAIL_ON_CHOICES = (*(s.value for s in Severity), "never")
_TABLE = ("tool", "acscontract", "ram")
_TABLE_NAME = "[tool.acscontract.ram]"


class ConfigError(UsageError):
    """The linter configuration cannot be used as written."""


@dataclass(frozen=True, slots=True)
class LintConfig:
    """What to check and how to gate, as configured.

    `fail_on` is a severity name or `never` (None: not configured). `root` is the folder the
    config came from; per-path-ignore globs match paths relative to it (and as given).
    """

    disable: frozenset[str] = frozenset()
    severity: Mapping[str, Severity] = field(default_factory=dict, hash=False)
    per_path_ignores: tuple[tuple[str, frozenset[str]], ...] = ()
    fail_on: str | None = None
    docs_url: str | None = None
    root: Path | None = None
    source: str | None = None

    @classmethod
    def from_mapping(
        cls,
        data: Mapping[str, Any],
        *,
        known_checks: Collection[str],
        source: str = "<config>",
        root: Path | None = None,
    ) -> LintConfig:
        """Read a config table; ConfigError naming every problem in it."""
        problems: list[str] = []
        for key in data:
            if key not in CONFIG_KEYS:
                problems.append(f"unknown key {key!r}{_did_you_mean(key, CONFIG_KEYS)}")

        def ids(value: Any, where: str) -> frozenset[str]:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                problems.append(f"{where} must be a list of check ids")
                return frozenset()
            for v in value:
                if v not in known_checks:
                    problems.append(
                        f"{where} names the unknown check id {v!r}" + _did_you_mean(v, known_checks)
                    )
            return frozenset(value)

        disable = ids(data.get("disable", []), "disable")
        severity: dict[str, Severity] = {}
        raw_severity = data.get("severity", {})
        if not isinstance(raw_severity, Mapping):
            problems.append("severity must be a table of check id = severity")
        else:
            for check, level in raw_severity.items():
                if check not in known_checks:
                    problems.append(
                        f"severity names the unknown check id {check!r}"
                        + _did_you_mean(check, known_checks)
                    )
                try:
                    if not isinstance(level, str):
                        raise ValueError(level)
                    severity[check] = Severity.parse(level)
                except ValueError:
                    problems.append(
                        f"severity of {check!r} is {level!r}; use one of "
                        + ", ".join(s.value for s in Severity)
                    )
        ignores: list[tuple[str, frozenset[str]]] = []
        raw_ignores = data.get("per-path-ignores", {})
        if not isinstance(raw_ignores, Mapping):
            problems.append("per-path-ignores must be a table of glob = [check ids]")
        else:
            for glob, checks in raw_ignores.items():
                ignores.append((glob, ids(checks, f"per-path-ignores[{glob!r}]")))
        fail_on = data.get("fail-on")
        if fail_on is not None and fail_on not in FAIL_ON_CHOICES:
            problems.append(f"fail-on is {fail_on!r}; use one of {', '.join(FAIL_ON_CHOICES)}")
        docs_url = data.get("docs-url")
        if docs_url is not None and (not isinstance(docs_url, str) or "://" not in docs_url):
            problems.append(f"docs-url is {docs_url!r}; give an absolute URL")
        if problems:
            raise ConfigError(
                f"{source}: {'; '.join(problems)}. Fix the linter configuration "
                f"({_TABLE_NAME}); `acscontract ram lint --help` lists the options and "
                f"{doc_reference('ram-lint.md')} the check ids."
            )
        return cls(
            disable=disable,
            severity=severity,
            per_path_ignores=tuple(ignores),
            fail_on=fail_on,
            docs_url=docs_url,
            root=root,
            source=source,
        )

    def ignored(self, check: str, file: str) -> bool:
        """Whether `check` is switched off for `file` (disabled, or by a per-path ignore)."""
        if check in self.disable:
            return True
        return any(check in checks for checks in self.ignored_for(file))

    def ignored_for(self, file: str) -> Iterable[frozenset[str]]:
        """The check-id sets of every per-path ignore whose glob matches `file`."""
        if not self.per_path_ignores:
            return ()
        candidates = _path_forms(file, self.root)
        return [
            checks
            for glob, checks in self.per_path_ignores
            if any(_glob_match(c, glob) for c in candidates)
        ]

    def severity_of(self, check: str, default: Severity) -> Severity:
        return self.severity.get(check, default)


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    import difflib  # only for a typo in the configuration

    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _path_forms(file: str, root: Path | None) -> list[str]:
    given = PurePath(file).as_posix()
    forms = [given.removeprefix("./")]
    if root is not None:
        with contextlib.suppress(ValueError, OSError):
            forms.append(Path(file).resolve().relative_to(root.resolve()).as_posix())
    return forms


def _glob_match(path: str, glob: str) -> bool:
    if fnmatch.fnmatchcase(path, glob):
        return True
    if glob.startswith("**/") and fnmatch.fnmatchcase(path, glob[3:]):
        return True
    if "/" not in glob:
        return fnmatch.fnmatchcase(PurePath(path).name, glob)
    return False


def _table(data: Mapping[str, Any]) -> Mapping[str, Any] | None:
    node: Any = data
    for part in _TABLE:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    if not isinstance(node, Mapping):
        return None
    return node


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = read_regular_bytes(path)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file; check --config.") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder; give the configuration file.") from None
    except OSError as exc:
        raise ConfigError(
            f"{path}: the configuration cannot be read ({exc.strerror or exc})."
        ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: the configuration is not UTF-8 text (byte {exc.start}); TOML files are UTF-8."
        ) from None
    import tomllib  # only when there is a configuration to read

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: the configuration is not valid TOML ({exc}).") from None
    except RecursionError:
        raise ConfigError(f"{path}: the configuration is nested too deeply.") from None


def _require_settings(table: Mapping[str, Any], source: str) -> None:
    if not table:
        raise ConfigError(
            f"{source}: the configuration is empty, so it changes nothing; give at least one "
            f"of {', '.join(CONFIG_KEYS)}, or do not pass it."
        )


def load_config(path: str | Path, *, known_checks: Collection[str]) -> LintConfig:
    """Read `path`: a pyproject.toml (its `[tool.acscontract.ram]` table) or a plain TOML file
    whose top level is the configuration."""
    path = Path(path)
    data = _read_toml(path)
    table = _table(data)
    if table is None:
        if "tool" in data or path.name == "pyproject.toml":
            raise ConfigError(f"{path}: there is no {_TABLE_NAME} table in this file.")
        table = data
        source = str(path)
    else:
        source = f"{path} {_TABLE_NAME}"
    _require_settings(table, source)
    return LintConfig.from_mapping(
        table, known_checks=known_checks, source=source, root=path.resolve().parent
    )


def find_config(
    start: str | Path | None = None, *, known_checks: Collection[str]
) -> LintConfig | None:
    """The `[tool.acscontract.ram]` table of the nearest pyproject.toml that has one, searching
    from `start` (default: the current folder) upward; None if none has it."""
    here = Path(start) if start is not None else Path.cwd()
    here = here.resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if not candidate.is_file():
            continue
        table = _table(_read_toml(candidate))
        if table is not None:
            _require_settings(table, f"{candidate} {_TABLE_NAME}")
            return LintConfig.from_mapping(
                table,
                known_checks=known_checks,
                source=f"{candidate} {_TABLE_NAME}",
                root=folder,
            )
    return None
