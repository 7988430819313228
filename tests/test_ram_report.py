"""Lint reports: the JSON shape is stable, SARIF validates against the official 2.1.0 schema."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acscontract._resources import DOCS_URL
from acscontract.ram import (
    Finding,
    LintResult,
    Severity,
    default_registry,
    lint,
    render_json,
    render_sarif,
    render_text,
)
from acscontract.ram._baseline import fingerprint
from acscontract.ram._report import SARIF_LEVELS, summary_line

DATA = Path(__file__).parent / "data"
SCHEMA = json.loads((DATA / "sarif-2.1.0.json").read_text(encoding="utf-8"))
NOW = datetime(2026, 6, 1, tzinfo=UTC)

BAD = """{
  "Version": "1",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["live:*", "live:RealTimeRecordComand"],
      "Resource": "acs:live:*:1234567890123456:domain/live.example.com"
    }
  ]
}
"""

ROOT = Path(__file__).resolve().parents[1]


def bad_result(tmp_path: Path, text: str = BAD) -> LintResult:
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    result = lint(text, name=str(path), now=NOW)
    assert result.findings
    return result


def test_json_report_shape_is_stable(tmp_path: Path) -> None:
    result = bad_result(tmp_path)
    data = json.loads(render_json(result, fail_on="security", baselined=2))
    assert list(data) == ["version", "tool", "findings", "summary"]
    assert data["version"] == 1
    assert data["tool"]["name"] == "acscontract"
    for item, finding in zip(data["findings"], result.findings, strict=True):
        assert list(item) == [
            "check",
            "severity",
            "file",
            "line",
            "column",
            "pointer",
            "message",
            "hint",
            "fingerprint",
        ]
        assert item["check"] == finding.check
        assert item["severity"] == finding.severity.value
        assert item["fingerprint"] == fingerprint(finding)
    summary = data["summary"]
    assert list(summary) == ["files", "findings", "by_severity", "baselined", "fail_on", "failed"]
    assert summary["files"] == 1
    assert summary["findings"] == len(result.findings)
    assert list(summary["by_severity"]) == ["error", "security", "warning", "suggestion"]
    assert sum(summary["by_severity"].values()) == len(result.findings)
    assert summary["baselined"] == 2
    assert summary["fail_on"] == "security"
    assert summary["failed"] is True


@pytest.mark.parametrize(
    ("fail_on", "failed"),
    [("error", True), ("security", True), ("suggestion", True), ("never", False), (None, False)],
)
def test_failed_follows_the_gate(tmp_path: Path, fail_on: str | None, failed: bool) -> None:
    data = json.loads(render_json(bad_result(tmp_path), fail_on=fail_on))
    assert data["summary"]["failed"] is failed


def test_gate_counts_only_findings_at_or_above_it() -> None:
    suggestion = Finding("action-duplicate", Severity.SUGGESTION, "f", 1, 1, "", "m.", "h")
    result = LintResult((suggestion,), ("f",))
    assert not result.failed("warning")
    assert result.failed("suggestion")
    assert result.failed(Severity.SUGGESTION)


def _validator() -> jsonschema.Draft4Validator:
    return jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.FormatChecker())


def test_sarif_validates_against_the_official_schema(tmp_path: Path) -> None:
    result = bad_result(tmp_path)
    sarif = json.loads(render_sarif(result, base_dir=tmp_path))
    errors = sorted(_validator().iter_errors(sarif), key=str)
    assert errors == []
    assert sarif["version"] == "2.1.0"


def test_sarif_has_what_github_code_scanning_needs(tmp_path: Path) -> None:
    result = bad_result(tmp_path)
    sarif = json.loads(render_sarif(result, base_dir=tmp_path))
    (run,) = sarif["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "acscontract"
    rules = driver["rules"]
    assert [r["id"] for r in rules] == list(default_registry().ids)
    for rule, check in zip(rules, default_registry(), strict=True):
        assert rule["shortDescription"]["text"] == check.description
        assert rule["defaultConfiguration"]["level"] == SARIF_LEVELS[check.severity]
        uri = urlparse(rule["helpUri"])
        # The page online (the SARIF file is read elsewhere), which this repository holds.
        assert uri.scheme == "https"
        assert rule["helpUri"] == f"{DOCS_URL}checks/{check.id}.md"
        assert (ROOT / "docs" / "checks" / f"{check.id}.md").is_file()
        assert rule["helpUri"] in rule["help"]["text"]
    assert len(run["results"]) == len(result.findings)
    for res, finding in zip(run["results"], result.findings, strict=True):
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"] == finding.check
        assert res["level"] in ("error", "warning", "note")
        assert finding.message in res["message"]["text"]
        location = res["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"] == "bad.json"  # relative, no scheme
        assert location["region"] == {"startLine": finding.line, "startColumn": finding.column}
        assert set(res["partialFingerprints"]) == {"acscontractFinding/v2"}
    ids = [r["partialFingerprints"]["acscontractFinding/v2"] for r in run["results"]]
    assert len(set(ids)) == len(ids)
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == tmp_path.resolve().as_uri() + "/"


def test_sarif_alerts_keep_their_ids_when_statements_are_added_above(tmp_path: Path) -> None:
    """GitHub tracks an alert (and its dismissal) by partialFingerprints: adding a statement
    above must not change them, and two alike findings in a file must stay two alerts."""
    first = json.loads(render_sarif(bad_result(tmp_path), base_dir=tmp_path))
    document = json.loads(BAD)
    statement = document["Statement"][0]
    above = {"Effect": "Allow", "Action": "live:DescribeLiveStreamsOnlineList", "Resource": "*"}
    document["Statement"] = [above, statement]
    moved = bad_result(tmp_path, json.dumps(document, indent=2))
    second = json.loads(render_sarif(moved, base_dir=tmp_path))

    def ids(sarif: dict[str, Any], statement: str) -> dict[tuple[str, str], str]:
        """Each result of one statement: (rule, pointer inside it) -> its id."""
        return {
            (r["ruleId"], r["properties"]["pointer"].removeprefix(statement)): r[
                "partialFingerprints"
            ]["acscontractFinding/v2"]
            for r in sarif["runs"][0]["results"]
            if r["properties"]["pointer"].startswith(statement + "/")
        }

    before = ids(first, "/Statement/0")
    assert len(before) == len(first["runs"][0]["results"])
    assert ids(second, "/Statement/1") == before
    # The same statement twice: two results of each kind, each with its own id.
    document["Statement"] = [statement, statement]
    twice = json.loads(render_sarif(bad_result(tmp_path, json.dumps(document)), base_dir=tmp_path))
    all_ids = [
        r["partialFingerprints"]["acscontractFinding/v2"] for r in twice["runs"][0]["results"]
    ]
    assert len(set(all_ids)) == len(all_ids)


def test_sarif_levels_map_the_four_severities() -> None:
    assert SARIF_LEVELS == {
        Severity.ERROR: "error",
        Severity.SECURITY: "error",
        Severity.WARNING: "warning",
        Severity.SUGGESTION: "note",
    }


def test_sarif_help_uri_uses_the_configured_docs_url(tmp_path: Path) -> None:
    sarif = json.loads(
        render_sarif(bad_result(tmp_path), docs_url="https://docs.example.org/checks/")
    )
    rule = sarif["runs"][0]["tool"]["driver"]["rules"][0]
    assert rule["helpUri"] == f"https://docs.example.org/checks/{rule['id']}.md"


def test_sarif_security_rules_carry_a_security_severity(tmp_path: Path) -> None:
    sarif = json.loads(render_sarif(bad_result(tmp_path)))
    rules = {r["id"]: r for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert rules["billable-write-swept-in"]["properties"]["security-severity"] == "7.5"
    assert "security-severity" not in rules["action-unknown"]["properties"]


def test_fingerprints_survive_lines_moving(tmp_path: Path) -> None:
    before = bad_result(tmp_path)
    shifted_text = "\n\n\n" + BAD.replace('"Version": "1",', '"Version": "1",\n\n')
    after = lint(shifted_text, name=before.files[0], now=NOW)
    assert [f.line for f in after.findings] != [f.line for f in before.findings]
    assert [fingerprint(f) for f in after.findings] == [fingerprint(f) for f in before.findings]


def test_an_empty_run_is_valid_sarif(tmp_path: Path) -> None:
    sarif = json.loads(render_sarif(LintResult((), ("a.json",)), base_dir=tmp_path))
    assert list(_validator().iter_errors(sarif)) == []
    assert sarif["runs"][0]["results"] == []


def test_text_report_shows_the_line_and_a_caret(tmp_path: Path) -> None:
    result = bad_result(tmp_path)
    text = render_text(result, fail_on="security")
    lines = text.splitlines()
    assert lines[0] == result.files[0]
    finding = next(f for f in result.findings if f.check == "action-unknown")
    header = next(i for i, line in enumerate(lines) if "action-unknown" in line)
    assert lines[header].split()[:2] == [f"{finding.line}:{finding.column}", "error"]
    source_line = lines[header + 2]
    caret_line = lines[header + 3]
    assert source_line.endswith(BAD.splitlines()[finding.line - 1])
    gutter = source_line.index("|") + 2
    assert caret_line.index("^") == gutter + finding.column - 1
    assert lines[header + 4] == "    hint: Did you mean 'live:RealTimeRecordCommand'?"
    assert lines[-1] == summary_line(result, fail_on="security")
    assert "\x1b[" not in text


def test_text_report_colours_only_when_asked(tmp_path: Path) -> None:
    text = render_text(bad_result(tmp_path), color=True)
    assert re.search(r"\x1b\[[0-9;]*m", text)


def test_text_report_without_the_source_file_still_lists_findings() -> None:
    result = lint(BAD, name="gone.json", now=NOW)
    text = render_text(result)
    assert "gone.json" in text
    assert "action-unknown" in text
    assert "^" not in text


@pytest.mark.parametrize(
    ("findings", "files", "fail_on", "expected"),
    [
        ((), ("a",), "security", "No findings in 1 file. Passed: nothing at or above 'security'."),
        ((), ("a", "b"), "never", "No findings in 2 files."),
        (
            (Finding("x", Severity.WARNING, "a", 1, 1, "", "m.", "h"),),
            ("a", "b"),
            "warning",
            "1 finding (1 warning) in 1 of 2 files. Failed: there are findings at or above "
            "'warning'.",
        ),
    ],
)
def test_summary_line(
    findings: tuple[Finding, ...], files: tuple[str, ...], fail_on: str, expected: str
) -> None:
    assert summary_line(LintResult(findings, files), fail_on=fail_on) == expected


_ANSI = re.compile("\x1b\\[[0-9;]*m")
_text_pieces = st.text(  # any character, lone surrogates and control characters included
    alphabet=st.characters(exclude_categories=()) | st.sampled_from("\x00\x1b\t\x7f\x9b\ud800")
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=4),
            st.integers(min_value=1, max_value=400),
            _text_pieces,
            _text_pieces,
            st.sampled_from(["", "/Statement/0", "/Statement/1/Action/0"]),
            st.sampled_from(list(Severity)),
        ),
        max_size=6,
    ),
    st.lists(_text_pieces | st.just("x" * 500 + "\t" + "y" * 300), min_size=1, max_size=3),
)
def test_plain_text_report_is_the_coloured_one_without_colour(
    rows: list[tuple[int, int, str, str, str, Severity]], lines: list[str]
) -> None:
    # The plain report is built in one piece; it must read exactly as the coloured one does.
    findings = tuple(
        Finding("value-type", severity, "p\x1b.json", line, column, pointer, message, hint)
        for line, column, message, hint, pointer, severity in sorted(rows, key=lambda r: r[:2])
    )
    result = LintResult(findings, ("p\x1b.json",))
    plain = render_text(result, color=False, read_lines=lambda _: lines)
    coloured = render_text(result, color=True, read_lines=lambda _: lines)
    assert plain == _ANSI.sub("", coloured)
    assert "\x1b" not in plain
