"""`acscontract ram lint`: exit codes, formats, configuration, baselines, large trees."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from acscontract._resources import bundled_path
from acscontract.cli import main

GOOD = (bundled_path("ram_policies") / "recorder-least-privilege.json").read_text(encoding="utf-8")
SWEPT = GOOD.replace('"live:RealTimeRecordCommand"', '"live:*"')  # security finding
TYPO = GOOD.replace('"live:RealTimeRecordCommand"', '"live:RealTimeRecordComand"')  # error
DUPLICATE = GOOD.replace(
    '"live:RealTimeRecordCommand"', '["live:RealTimeRecordCommand", "live:RealTimeRecordCommand"]'
)  # suggestion only


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["ram", "lint", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of policies, as the current folder (no configuration above it)."""
    (tmp_path / "policies" / "team").mkdir(parents=True)
    (tmp_path / "policies" / "good.json").write_text(GOOD, encoding="utf-8")
    (tmp_path / "policies" / "team" / "swept.json").write_text(SWEPT, encoding="utf-8")
    (tmp_path / "policies" / "notes.txt").write_text("not a policy", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_example_policies_pass(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(bundled_path("ram_policies")))
    assert code == 0
    assert out.strip() == "No findings in 3 files. Passed: nothing at or above 'security'."


def test_folders_are_searched_for_json_and_findings_fail(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "policies")
    assert code == 1
    assert err == ""
    assert out.startswith("policies/team/swept.json\n")
    assert "billable-write-swept-in" in out
    assert "^" in out
    assert out.rstrip().endswith("Failed: there are findings at or above 'security'.")
    assert "in 1 of 2 files" in out  # notes.txt is not a policy


@pytest.mark.parametrize(
    ("text", "fail_on", "code"),
    [
        (SWEPT, None, 1),
        (SWEPT, "error", 0),
        (SWEPT, "never", 0),
        (TYPO, "error", 1),
        (DUPLICATE, None, 0),
        (DUPLICATE, "suggestion", 1),
    ],
)
def test_fail_on_gates_the_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, fail_on: str | None, code: int
) -> None:
    path = tmp_path / "p.json"
    path.write_text(text, encoding="utf-8")
    args = [str(path), "--format", "json"] + (["--fail-on", fail_on] if fail_on else [])
    got, out, _ = run(capsys, *args)
    assert got == code
    assert json.loads(out)["summary"]["failed"] is bool(code)


def test_invalid_json_is_a_finding_and_other_files_are_still_linted(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tree / "policies" / "broken.json").write_text('{"Version": "1",', encoding="utf-8")
    code, out, err = run(capsys, "policies", "--format", "json")
    assert code == 1
    assert err == ""
    data = json.loads(out)
    by_file = {(f["file"], f["check"]) for f in data["findings"]}
    assert ("policies/broken.json", "invalid-json") in by_file
    assert ("policies/team/swept.json", "billable-write-swept-in") in by_file
    assert data["summary"]["files"] == 3


def test_missing_path_is_one_line_and_exit_2(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "policies", "nope.json")
    assert code == 2
    assert out == ""
    assert err == "acscontract: nope.json: no such file or folder; check the path.\n"


def test_no_paths_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys)
    assert code == 2
    assert "Missing argument" in err


def test_sarif_to_a_file(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "policies", "--format", "sarif", "-o", "out.sarif")
    assert code == 1
    assert out == ""
    sarif = json.loads((tree / "out.sarif").read_text(encoding="utf-8"))
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in sarif["runs"][0]["results"]
    }
    assert uris == {"policies/team/swept.json"}


def test_unwritable_output_is_exit_2(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "policies", "-o", "missing-folder/out.txt")
    assert code == 2
    assert err.startswith("acscontract: missing-folder/out.txt: the report cannot be written")


def test_configuration_from_pyproject(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tree / "pyproject.toml").write_text(
        '[tool.acscontract.ram]\ndisable = ["billable-write-swept-in"]\n', encoding="utf-8"
    )
    code, out, _ = run(capsys, "policies", "--format", "json")
    assert code == 0
    assert json.loads(out)["findings"] == []


def test_fail_on_from_configuration_and_the_flag_wins(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tree / "lint.toml").write_text('fail-on = "never"\n', encoding="utf-8")
    assert run(capsys, "policies", "--config", "lint.toml")[0] == 0
    assert run(capsys, "policies", "--config", "lint.toml", "--fail-on", "security")[0] == 1


def test_bad_configuration_is_exit_2(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tree / "pyproject.toml").write_text(
        '[tool.acscontract.ram]\ndisable = ["billable-write-swept-inn"]\n', encoding="utf-8"
    )
    code, out, err = run(capsys, "policies")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "did you mean 'billable-write-swept-in'?" in err


def test_baseline_round_trip(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "policies", "--write-baseline", "baseline.json")
    assert code == 0
    # The text report and the note are results: standard output.
    assert out.endswith(
        "Wrote a baseline of 1 finding(s) to baseline.json; pass --baseline "
        "baseline.json to report only new findings.\n"
    )
    assert err == ""
    # With a JSON report on standard output, the note goes to standard error instead.
    code, out, err = run(
        capsys, "policies", "--write-baseline", "baseline.json", "--format", "json"
    )
    assert code == 0
    assert json.loads(out)["summary"]["findings"] == 1
    assert "Wrote a baseline of 1 finding(s)" in err
    code, out, _ = run(capsys, "policies", "--baseline", "baseline.json", "--format", "json")
    assert code == 0
    summary = json.loads(out)["summary"]
    assert summary["findings"] == 0
    assert summary["baselined"] == 1
    (tree / "policies" / "typo.json").write_text(TYPO, encoding="utf-8")
    code, out, _ = run(capsys, "policies", "--baseline", "baseline.json")
    assert code == 1
    assert "policies/typo.json" in out
    assert "policies/team/swept.json" not in out
    assert "(1 more accepted by the baseline)" in out


def test_missing_baseline_is_exit_2(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "policies", "--baseline", "nope.json")
    assert code == 2
    assert "no such baseline file" in err


def test_kind_trust(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trust = {
        "Version": "1",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"Service": ["ecs.aliyuncs.com"]},
            }
        ],
    }
    path = tmp_path / "trust.json"
    path.write_text(json.dumps(trust), encoding="utf-8")
    assert run(capsys, str(path), "--kind", "trust", "--fail-on", "error")[0] == 0
    code, out, _ = run(capsys, str(path), "--fail-on", "error")
    assert code == 1
    assert "principal-not-allowed" in out


def test_standard_input(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Stdin:
        buffer = io.BytesIO(TYPO.encode())

    monkeypatch.setattr("sys.stdin", Stdin())
    code, out, _ = run(capsys, "-", "--format", "json")
    assert code == 1
    assert {f["file"] for f in json.loads(out)["findings"]} == {"<stdin>"}


def test_a_large_tree_is_linted_in_parallel_with_the_same_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(205):  # more than PARALLEL_THRESHOLD
        text = (SWEPT, TYPO, GOOD, DUPLICATE, "{")[i % 5]
        (tmp_path / f"p{i:03}.json").write_text(text, encoding="utf-8")
    code, parallel, _ = run(capsys, str(tmp_path), "--format", "json", "-j", "2")
    code_serial, serial, _ = run(capsys, str(tmp_path), "--format", "json", "-j", "1")
    assert code == code_serial == 1
    assert json.loads(parallel) == json.loads(serial)
    assert json.loads(serial)["summary"]["files"] == 205
    assert json.loads(serial)["summary"]["by_severity"]["security"] == 41


def test_lint_is_listed_under_ram(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ram", "--help"]) == 0
    assert "lint" in capsys.readouterr().out
    assert main(["ram", "lint", "--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--format", "--fail-on", "--config", "--baseline", "--write-baseline", "--kind"):
        assert option in out


def test_fixture_folder_findings_positions_and_severities(
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = Path(__file__).parent / "data" / "ram"
    code, out, _ = run(capsys, str(folder), "--format", "json")
    assert code == 1
    found = [
        (Path(f["file"]).name, f["line"], f["column"], f["check"], f["severity"])
        for f in json.loads(out)["findings"]
    ]
    assert found == [
        ("invalid.json", 2, 1, "invalid-json", "error"),
        ("mixed-problems.json", 4, 5, "statement-subsumed", "suggestion"),
        ("mixed-problems.json", 6, 48, "action-unknown", "error"),
        ("mixed-problems.json", 8, 9, "resource-service-mismatch", "error"),
        ("mixed-problems.json", 9, 9, "resource-shape-mismatch", "error"),
        ("mixed-problems.json", 10, 9, "resource-wildcard-reach", "warning"),
        ("mixed-problems.json", 13, 9, "aws-only-operator", "error"),
        ("mixed-problems.json", 14, 40, "source-ip-private", "warning"),
        ("mixed-problems.json", 17, 5, "billable-write-unconditioned", "suggestion"),
        ("mixed-problems.json", 19, 17, "billable-write-swept-in", "security"),
        ("mixed-problems.json", 20, 19, "resource-wildcard-reach", "security"),
    ]


def test_an_unreadable_file_in_a_worker_is_one_clear_error(tmp_path: Path) -> None:
    from acscontract.errors import InputError
    from acscontract.ram import Linter, PolicyKind

    good = tmp_path / "good.json"
    good.write_text(GOOD, encoding="utf-8")
    linter = Linter()
    with pytest.raises(InputError) as info:
        linter._parallel([good, tmp_path / "vanished.json"], PolicyKind.IDENTITY, 2)
    assert (
        str(info.value)
        == f"{tmp_path / 'vanished.json'}: no such file; check the path of the policy."
    )
