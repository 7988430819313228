"""Linter configuration (pyproject.toml or --config) and baselines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from acscontract.errors import InputError, UsageError
from acscontract.ram import (
    Baseline,
    ConfigError,
    Finding,
    LintConfig,
    Linter,
    Severity,
    default_registry,
    find_config,
    load_config,
)
from acscontract.ram._baseline import fingerprint

IDS = default_registry().ids
BAD = json.dumps(
    {
        "Version": "1",
        "Sid": "top",
        "Statement": [
            {
                "Effect": "Allow",
                "Sid": "Recorder",
                "Action": ["live:*", "live:RealTimeRecordCommand"],
                "Resource": "acs:cdn:*:1234567890123456:domain/live.example.com",
            }
        ],
    },
    indent=2,
)


def checks(findings: list[Finding]) -> set[str]:
    return {f.check for f in findings}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_config_in_pyproject_is_found_from_a_subfolder(tmp_path: Path) -> None:
    write(
        tmp_path / "pyproject.toml",
        '[project]\nname = "x"\n\n[tool.acscontract.ram]\ndisable = ["sid-undocumented"]\n'
        'fail-on = "warning"\n',
    )
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    config = find_config(nested, known_checks=IDS)
    assert config is not None
    assert config.disable == {"sid-undocumented"}
    assert config.fail_on == "warning"
    assert config.root == tmp_path.resolve()


def test_a_pyproject_without_the_table_is_skipped(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.acscontract.ram]\nfail-on = "error"\n')
    write(tmp_path / "inner" / "pyproject.toml", '[project]\nname = "inner"\n')
    config = find_config(tmp_path / "inner", known_checks=IDS)
    assert config is not None
    assert config.fail_on == "error"


def test_no_config_anywhere(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n')
    assert find_config(tmp_path, known_checks=IDS) is None


def test_plain_toml_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "lint.toml",
        'disable = ["statement-subsumed"]\n'
        '[severity]\n"action-subsumed" = "error"\n'
        '[per-path-ignores]\n"legacy/*.json" = ["action-unknown"]\n',
    )
    config = load_config(path, known_checks=IDS)
    assert config.disable == {"statement-subsumed"}
    assert config.severity == {"action-subsumed": Severity.ERROR}
    assert config.per_path_ignores == (("legacy/*.json", frozenset({"action-unknown"})),)
    assert config.source == str(path)


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('disabel = ["x"]\n', "unknown key 'disabel' (did you mean 'disable'?)"),
        ('disable = ["sid-undocumentd"]\n', "(did you mean 'sid-undocumented'?)"),
        ('disable = "sid-undocumented"\n', "disable must be a list of check ids"),
        ('[severity]\n"action-unknown" = "fatal"\n', "severity of 'action-unknown' is 'fatal'"),
        ('[severity]\n"no-such-check" = "error"\n', "unknown check id 'no-such-check'"),
        ('fail-on = "sometimes"\n', "fail-on is 'sometimes'"),
        ('[per-path-ignores]\n"*.json" = ["nope"]\n', "per-path-ignores['*.json'] names"),
        ('docs-url = "docs/checks"\n', "give an absolute URL"),
    ],
)
def test_config_problems_are_one_clear_error(tmp_path: Path, toml: str, expected: str) -> None:
    path = write(tmp_path / "lint.toml", toml)
    with pytest.raises(ConfigError) as info:
        load_config(path, known_checks=IDS)
    message = str(info.value)
    assert expected in message
    assert message.startswith(str(path))
    assert "\n" not in message
    assert isinstance(info.value, UsageError)


def test_every_problem_is_named_at_once(tmp_path: Path) -> None:
    path = write(tmp_path / "lint.toml", 'colour = 1\ndisable = ["a-b"]\n')
    with pytest.raises(ConfigError, match=r"unknown key 'colour'.*unknown check id 'a-b'"):
        load_config(path, known_checks=IDS)


def test_invalid_toml_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path / "bad.toml", "disable = [\n"), known_checks=IDS)
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path / "missing.toml", known_checks=IDS)
    with pytest.raises(ConfigError, match=r"no \[tool.acscontract.ram\] table"):
        load_config(write(tmp_path / "pyproject.toml", "[tool.ruff]\n"), known_checks=IDS)


def test_disable_and_severity_overrides_apply() -> None:
    plain = Linter().check_source(BAD, name="p.json")
    assert {"sid-undocumented", "action-subsumed", "unknown-element"} <= checks(plain)
    config = LintConfig.from_mapping(
        {"disable": ["sid-undocumented"], "severity": {"action-subsumed": "security"}},
        known_checks=IDS,
    )
    configured = Linter(config=config).check_source(BAD, name="p.json")
    assert "sid-undocumented" not in checks(configured)
    (subsumed,) = [f for f in configured if f.check == "action-subsumed"]
    assert subsumed.severity is Severity.SECURITY


@pytest.mark.parametrize(
    ("glob", "file", "ignored"),
    [
        ("legacy/*.json", "legacy/old.json", True),
        ("legacy/*.json", "current/old.json", False),
        ("old.json", "deep/folder/old.json", True),  # no "/": matches the file name
        ("**/old.json", "old.json", True),
        ("legacy/**", "legacy/a/b.json", True),
    ],
)
def test_per_path_ignores(glob: str, file: str, ignored: bool) -> None:
    config = LintConfig.from_mapping(
        {"per-path-ignores": {glob: ["sid-undocumented"]}}, known_checks=IDS
    )
    assert config.ignored("sid-undocumented", file) is ignored
    assert not config.ignored("action-unknown", file)
    found = Linter(config=config).check_source(BAD, name=file)
    assert ("sid-undocumented" in checks(found)) is not ignored


def test_per_path_globs_are_relative_to_the_config_folder(tmp_path: Path) -> None:
    write(
        tmp_path / "pyproject.toml",
        '[tool.acscontract.ram.per-path-ignores]\n"p/*.json" = ["sid-undocumented"]\n',
    )
    config = find_config(tmp_path, known_checks=IDS)
    assert config is not None
    policy = write(tmp_path / "p" / "x.json", BAD)
    assert config.ignored("sid-undocumented", str(policy))  # an absolute path, resolved


# ---------------------------------------------------------------------------------------------
# Baselines


def test_baseline_accepts_existing_findings_and_reports_new_ones(tmp_path: Path) -> None:
    linter = Linter()
    old = linter.check_source(BAD, name="p.json")
    path = tmp_path / "baseline.json"
    Baseline.write(path, old)
    baseline = Baseline.load(path)
    assert len(baseline) == len(old)
    new, known = baseline.split(old)
    assert new == []
    assert known == old

    worse = BAD.replace('"Version": "1"', '"Version": "2"')
    new, known = baseline.split(linter.check_source(worse, name="p.json"))
    assert [f.check for f in new] == ["version-invalid"]
    assert len(known) == len(old)


def test_baseline_survives_lines_moving(tmp_path: Path) -> None:
    linter = Linter()
    old = linter.check_source(BAD, name="p.json")
    baseline = Baseline.of(old)
    moved = linter.check_source("\n\n" + BAD, name="p.json")
    assert [f.line for f in moved] != [f.line for f in old]
    new, _ = baseline.split(moved)
    assert new == []


def test_baseline_counts_each_finding_once() -> None:
    f = Finding("action-duplicate", Severity.SUGGESTION, "p.json", 3, 4, "/S/0", "Twice.", "")
    new, known = Baseline.of([f]).split([f, f])
    assert known == [f]
    assert new == [f]


def test_fingerprint_ignores_positions_in_the_message_only() -> None:
    a = Finding("duplicate-key", Severity.ERROR, "./p.json", 3, 1, "/x", "At line 3, column 1.", "")
    b = Finding("duplicate-key", Severity.ERROR, "p.json", 9, 5, "/x", "At line 9, column 5.", "")
    c = Finding("duplicate-key", Severity.ERROR, "p.json", 9, 5, "/y", "At line 9, column 5.", "")
    assert fingerprint(a) == fingerprint(b) != fingerprint(c)


def test_baseline_file_is_readable_and_sorted(tmp_path: Path) -> None:
    findings = Linter().check_source(BAD, name="p.json")
    path = tmp_path / "b.json"
    Baseline.write(path, reversed(findings))
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["version"] == 1
    assert [e["check"] for e in data["findings"]] == [f.check for f in findings]
    assert set(data["findings"][0]) == {"check", "file", "pointer", "message", "fingerprint"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{", "not valid JSON"),
        ('{"version": 2, "findings": []}', "is not an acscontract baseline"),
        ('{"version": 1, "findings": [{"check": "x"}]}', "is not an acscontract baseline"),
    ],
)
def test_bad_baselines_are_input_errors(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(InputError, match=expected):
        Baseline.load(write(tmp_path / "b.json", text))
    with pytest.raises(InputError, match="no such baseline file"):
        Baseline.load(tmp_path / "missing.json")
