"""`acscontract ram lint`: exit codes, formats, configuration, baselines, large trees."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


def test_a_baseline_matches_from_any_folder_and_path_form(
    tree: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A baseline at the repository root names files relative to itself: the same findings are
    accepted from a subfolder, with absolute paths, and the file written is the same bytes."""
    code, _, _ = run(capsys, "policies", "--write-baseline", "baseline.json")
    assert code == 0
    written = (tree / "baseline.json").read_bytes()
    assert json.loads(written)["findings"][0]["file"] == "policies/team/swept.json"
    for cwd, args in [
        (tree, ["policies"]),
        (tree, [str(tree / "policies")]),
        (tree / "policies", [".", "--baseline", "../baseline.json"]),
        (tree / "policies" / "team", ["swept.json", "--baseline", str(tree / "baseline.json")]),
    ]:
        monkeypatch.chdir(cwd)
        if "--baseline" not in args:
            args = [*args, "--baseline", "baseline.json"]
        code, out, _ = run(capsys, *args, "--format", "json")
        assert (code, json.loads(out)["summary"]["baselined"]) == (0, 1), (cwd, args)
        # Written from there, the baseline is the same file.
        code, _, _ = run(
            capsys, *args[: args.index("--baseline")], "--write-baseline", str(tree / "again.json")
        )
        assert (tree / "again.json").read_bytes() == written, (cwd, args)


def test_a_baseline_written_before_its_matching_rules_still_matches(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tree / "ci").mkdir()
    run(capsys, "policies", "--write-baseline", "ci/baseline.json")
    data = json.loads((tree / "ci" / "baseline.json").read_text(encoding="utf-8"))
    assert data["findings"][0]["file"] == "../policies/team/swept.json"
    # The older form: no "matching" member, its ids the JSON report's fingerprints (the file as
    # given on the command line, statement numbers included).
    old = {
        "version": 1,
        "tool": "acscontract ram lint",
        "findings": [
            {**e, "file": "policies/team/swept.json", "fingerprint": legacy}
            for e, legacy in zip(
                data["findings"],
                [
                    f["fingerprint"]
                    for f in json.loads(run(capsys, "policies", "--format", "json")[1])["findings"]
                ],
                strict=True,
            )
        ],
    }
    (tree / "ci" / "baseline.json").write_text(json.dumps(old), encoding="utf-8")
    code, out, _ = run(capsys, "policies", "--baseline", "ci/baseline.json", "--format", "json")
    assert (code, json.loads(out)["summary"]["baselined"]) == (0, 1)


def test_a_baseline_keeps_accepting_findings_when_statements_are_added_above(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The promise of docs/ram-lint.md: adding statements (or list entries) above an accepted
    finding keeps it accepted, although its statement number and JSON Pointer change."""
    listed = tree / "policies" / "listed.json"
    listed.write_text(SWEPT.replace('"live:*"', '["live:*"]'), encoding="utf-8")
    code, _, _ = run(capsys, "policies", "--write-baseline", "baseline.json")
    assert code == 0

    def swept_in(report: dict[str, Any]) -> list[str]:
        return [
            f"{f['file']}{f['pointer']}"
            for f in report["findings"]
            if f["check"] == "billable-write-swept-in"
        ]

    swept = tree / "policies" / "team" / "swept.json"
    document = json.loads(swept.read_text(encoding="utf-8"))
    statement = document["Statement"][0]
    above = [
        {**statement, "Action": "live:DescribeLiveStreamsOnlineList"},
        {**statement, "Action": "live:AddLiveAppRecordConfig", "Effect": "Deny"},
    ]
    swept.write_text(json.dumps({**document, "Statement": [*above, statement]}), encoding="utf-8")
    listed_document = json.loads(listed.read_text(encoding="utf-8"))
    listed_document["Statement"][0]["Action"] = ["live:DescribeLiveStreamsOnlineList", "live:*"]
    listed.write_text(json.dumps(listed_document), encoding="utf-8")
    code, out, _ = run(capsys, "policies", "--baseline", "baseline.json", "--format", "json")
    report = json.loads(out)
    # Both accepted findings moved (to statement 2, and to entry 1 of the list): still accepted.
    assert report["summary"]["baselined"] == 2
    assert swept_in(report) == []
    # A second finding of the same kind in the same file is new: each entry accepts one.
    document["Statement"] = [*above, statement, statement]
    swept.write_text(json.dumps(document), encoding="utf-8")
    code, out, _ = run(capsys, "policies", "--baseline", "baseline.json", "--format", "json")
    report = json.loads(out)
    assert code == 1
    assert swept_in(report) == ["policies/team/swept.json/Statement/3/Action"]


def test_overlapping_paths_lint_each_file_once(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder and a file in it, `./x` and an absolute path, a pattern and a folder: each
    file is linted once, under the first spelling, and counted once."""
    code, alone, _ = run(capsys, "policies", "--format", "json")
    assert code == 1
    swept = "policies/team/swept.json"
    for args in [
        ["policies", swept, f"./{swept}", str(tree / swept)],
        ["policies/**/*.json", "policies"],
    ]:
        code, out, _ = run(capsys, *args, "--format", "json")
        assert (code, out) == (1, alone), args
        assert json.loads(out)["summary"]["files"] == 2


def test_a_baseline_saved_on_windows_still_matches(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A baseline saved by a Windows editor, with CRLF line ends and a byte order mark."""
    run(capsys, "policies", "--write-baseline", "baseline.json")
    text = (tree / "baseline.json").read_text(encoding="utf-8")
    (tree / "baseline.json").write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    code, out, err = run(capsys, "policies", "--baseline", "baseline.json", "--format", "json")
    assert (code, err) == (0, "")
    assert json.loads(out)["summary"]["baselined"] == 1


def test_missing_baseline_is_exit_2(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "policies", "--baseline", "nope.json")
    assert code == 2
    assert "no such baseline file" in err


def test_a_baseline_nested_too_deeply_is_exit_2(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Python's parser raised RecursionError: an internal error (exit 70) before.
    Path("deep.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    code, out, err = run(capsys, "policies", "--baseline", "deep.json")
    assert (code, out) == (2, "")
    assert err == "acscontract: deep.json: the baseline is JSON nested too deeply to read.\n"


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


# ---------------------------------------------------------------------------------------------
# Never a silent pass: nothing to lint, or something unreadable, is exit 2 with one line


def one_line(err: str, *fragments: str) -> None:
    assert err.count("\n") == 1, err
    assert err.startswith("acscontract: ")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err


def test_an_empty_folder_is_not_a_pass(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tree / "empty").mkdir()
    code, out, err = run(capsys, "empty")
    assert (code, out) == (2, "")
    one_line(err, "empty: the folder holds no *.json file, so nothing would be linted")


def test_a_folder_without_policies_among_others_is_not_a_pass(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tree / "docs").mkdir()
    (tree / "docs" / "readme.txt").write_text("x", encoding="utf-8")
    code, out, err = run(capsys, "policies", "docs")
    assert (code, out) == (2, "")
    one_line(err, "docs: the folder holds no *.json file")


def test_a_missing_path_is_not_a_pass(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "polices")
    assert (code, out) == (2, "")
    one_line(err, "polices: no such file or folder")


def test_a_pattern_is_expanded_and_one_matching_nothing_is_not_a_pass(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "policies/**/*.json", "--format", "json")
    assert code == 1
    assert json.loads(out)["summary"]["files"] == 2  # the shell did not expand it; we did
    code, out, err = run(capsys, "policies/*.yaml")
    assert (code, out) == (2, "")
    one_line(err, "policies/*.yaml: the pattern matches no file or folder")


def test_a_broken_link_or_a_pipe_is_named(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tree / "policies" / "gone.json").symlink_to(tree / "nowhere.json")
    code, out, err = run(capsys, "policies")
    assert (code, out) == (2, "")
    one_line(err, "gone.json: is a broken symbolic link")
    (tree / "policies" / "gone.json").unlink()
    os.mkfifo(tree / "policies" / "fifo.json")
    code, out, err = run(capsys, "policies")
    assert (code, out) == (2, "")
    one_line(err, "fifo.json: is not a regular file")


def test_an_unreadable_folder_is_named(
    tree: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Permissions do not stop root (the test may run as root), so the listing fails instead.
    real = os.scandir
    locked = str(tree / "policies" / "team")

    def scandir(path: Any = ".") -> Any:
        if os.path.abspath(os.fspath(path)) == locked:
            raise PermissionError(13, "Permission denied", locked)
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    code, out, err = run(capsys, "policies")
    assert (code, out) == (2, "")
    one_line(err, "policies/team: the folder cannot be listed (Permission denied)")


def test_an_unreadable_file_is_named(
    tree: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The tests run as root, which reads any file: opening good.json is made to fail instead
    # (at the level the linter opens files: the system call, and Python's open for the rest).
    real, real_os = open, os.open

    def locked_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if str(file).endswith("good.json"):
            raise PermissionError(13, "Permission denied", str(file))
        return real(file, *args, **kwargs)

    def locked_os_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if str(file).endswith("good.json"):
            raise PermissionError(13, "Permission denied", str(file))
        return real_os(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", locked_open)
    monkeypatch.setattr("os.open", locked_os_open)
    code, out, err = run(capsys, "policies")
    assert (code, out) == (2, "")
    one_line(err, "policies/good.json: cannot be read (Permission denied)")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"fail-on = 'warning'\n\xff\xfe\n", "is not UTF-8 text (byte 20)"),
        (b"", "the configuration is empty, so it changes nothing"),
        (b"# only a comment\n", "the configuration is empty"),
        (b"fail-on = \n", "is not valid TOML"),
        (b"fail_on = 'warning'\n", "unknown key 'fail_on' (did you mean 'fail-on'?)"),
        (b"[tool.acscontract.ram]\n", "the configuration is empty"),
        (b"[tool.other]\nx = 1\n", "there is no [tool.acscontract.ram] table"),
    ],
    ids=[
        "encoding",
        "empty",
        "comment-only",
        "invalid-toml",
        "unknown-key",
        "empty-table",
        "no-table",
    ],
)
def test_a_bad_configuration_is_one_line_and_exit_2(
    tree: Path, capsys: pytest.CaptureFixture[str], content: bytes, fragment: str
) -> None:
    (tree / "lint.toml").write_bytes(content)
    code, out, err = run(capsys, "policies", "--config", "lint.toml")
    assert (code, out) == (2, "")
    one_line(err, "lint.toml", fragment)


def test_an_empty_table_in_pyproject_is_not_silently_accepted(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tree / "pyproject.toml").write_text("[tool.acscontract.ram]\n", encoding="utf-8")
    code, out, err = run(capsys, "policies")
    assert (code, out) == (2, "")
    one_line(err, "pyproject.toml [tool.acscontract.ram]: the configuration is empty")


# ---------------------------------------------------------------------------------------------
# Output: bounded excerpts, and text that any encoding can write


def test_a_long_line_is_quoted_as_a_bounded_excerpt(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    members = ",".join('"Version":"1"' for _ in range(3000))  # 3,000 duplicate keys, one line
    (tree / "long.json").write_text("{" + members + ',"Statement":[]}', encoding="utf-8")
    code, out, _ = run(capsys, "long.json", "--fail-on", "never")
    assert code == 0
    assert out.count("duplicate-key") == 2999
    for line in out.splitlines():
        assert len(line) < 400, line[:80]
    assert "…" in out


def test_lone_surrogates_are_escaped_in_every_format(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tree / "s.json").write_text(
        '{"Version": "1", "Statement": [{"Sid": "x", "Effect": "\\ud800", '
        '"Action": "live:\\udfff", "Resource": "*"}]}',
        encoding="utf-8",
    )
    for fmt in ("text", "json", "sarif"):
        code, out, err = run(capsys, "s.json", "--format", fmt, "-o", f"out.{fmt}")
        assert code == 1, err
        text = (tree / f"out.{fmt}").read_text(encoding="utf-8")  # valid UTF-8
        assert "\\ud800" in text
        if fmt != "text":
            json.loads(text)
    code, _, err = run(capsys, "s.json", "--write-baseline", "b.json")
    assert code == 0, err
    code, out, _ = run(capsys, "s.json", "--baseline", "b.json")
    assert code == 0
    assert "accepted by the baseline" in out


# ---------------------------------------------------------------------------------------------
# Fuzz: hostile documents give findings or one line, never a traceback


_names = st.sampled_from(
    ["Version", "Statement", "Effect", "Action", "NotAction", "Resource", "NotResource",
     "Condition", "Principal", "Sid", "StringLike", "IpAddress", "Bool", "DateLessThan",
     "acs:SourceIp", "acs:CurrentTime", "version", "\ud800", "\x00", "é"]
)  # fmt: skip
_hostile_strings = st.one_of(
    st.sampled_from(
        [
            "Allow",
            "Deny",
            "1",
            "*",
            "live:*",
            "live:RealTimeRecordCommand",
            "\ud800",
            "\udfff",
            "acs:cdn:*:1234567890123456:domain/*.example.com",
            "203.0.113.0/24",
            "10.0.0.0/8",
            "2020-01-01T00:00:00Z",
            "true",
            "\x1b[31m",
            "x" * 5000,
            "?" * 30,
            "*a" * 20 + "b",
            "live:" + "?" * 12 + "*",
            "acs:cdn:*:*:domain/" + "*?" * 15,
        ]
    ),
    st.text(max_size=30),
    st.text(alphabet="*?ab:/", max_size=40),
)
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), _hostile_strings
)
_json = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=6), st.dictionaries(_names | st.text(max_size=8), children)
    ),
    max_leaves=40,
)
_statement = st.fixed_dictionaries(
    {},
    optional={
        "Effect": st.sampled_from(["Allow", "Deny"]) | _json,
        "Action": st.lists(_hostile_strings, max_size=40) | _hostile_strings | _json,
        "Resource": st.lists(_hostile_strings, max_size=40) | _hostile_strings,
        "NotAction": st.lists(_hostile_strings, max_size=5),
        "Condition": st.dictionaries(
            _names, st.dictionaries(_names, st.lists(_hostile_strings, max_size=5) | _json)
        ),
        "Sid": _hostile_strings,
        "Principal": _json,
    },
)
_policy = st.fixed_dictionaries(
    {"Version": st.sampled_from(["1", 1, "2", None]), "Statement": st.lists(_statement, max_size=8)}
)


def _serialise(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["policy", "json", "mutated", "bytes"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    value = draw(_policy if kind != "json" else _json)
    text = json.dumps(
        value, ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 1]))
    )
    if kind == "mutated":  # broken JSON, duplicate keys, constants, deep nesting, a BOM
        edit = draw(st.sampled_from(["cut", "dup", "nan", "deep", "bom", "lone"]))
        if edit == "cut":
            text = text[: draw(st.integers(0, len(text)))]
        elif edit == "dup":
            text = text.replace('"Version"', '"Version": "1", "Version"', 1)
        elif edit == "nan":
            text = text.replace('"1"', "NaN", 1)
        elif edit == "deep":
            text = "[" * 5000 + "]" * 5000
        elif edit == "bom":
            text = "\ufeff" + text
        else:
            text = text.replace('"Allow"', '"\\ud83d"', 1)
    return text.encode("utf-8", "surrogatepass")


@st.composite
def hostile_documents(draw: st.DrawFn) -> bytes:
    return _serialise(draw)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    documents=st.lists(hostile_documents(), min_size=1, max_size=3),
    fmt=st.sampled_from(["text", "json", "sarif"]),
    baseline=st.booleans(),
)
def test_fuzz_hostile_documents_never_crash_the_command(
    tmp_path_factory: pytest.TempPathFactory, documents: list[bytes], fmt: str, baseline: bool
) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    for i, data in enumerate(documents):
        (folder / f"p{i}.json").write_bytes(data)
    args = ["ram", "lint", str(folder), "--format", fmt]
    if baseline:
        args += ["--write-baseline", str(folder / "baseline.out")]
    raw_out, raw_err = io.BytesIO(), io.BytesIO()
    out = io.TextIOWrapper(raw_out, encoding="utf-8")  # strict: a surrogate would fail
    err = io.TextIOWrapper(raw_err, encoding="utf-8")
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
        out.flush()
        err.flush()
    stderr = raw_err.getvalue().decode("utf-8")
    stdout = raw_out.getvalue().decode("utf-8")
    assert code in (0, 1, 2), stderr
    assert "Traceback" not in stderr + stdout
    if code == 2:
        assert stderr.count("\n") == 1, stderr
    else:
        assert stderr == "" or baseline
        if fmt != "text":
            json.loads(stdout)


# ---------------------------------------------------------------------------------------------
# The pre-commit hook: conventional policy files, never other tools' JSON


def _hook() -> dict[str, Any]:
    import yaml

    root = Path(__file__).resolve().parents[1]
    (hook,) = yaml.safe_load((root / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert hook["id"] == "acscontract-ram-lint"
    assert hook["entry"] == "acscontract ram lint"
    return dict(hook)


def _picked(hook: dict[str, Any], path: str) -> bool:
    # pre-commit applies `files` and `exclude` with re.search to paths relative to the root.
    return bool(re.search(hook["files"], path)) and not re.search(hook["exclude"], path)


@pytest.mark.parametrize(
    "path",
    [
        "ram_policies/recorder.json",
        "ram-policies/recorder.json",
        "infra/policies/prod/recorder.json",
        "ram/guardrail.json",
        "policy.json",
        "policies.json",
        "recorder-policy.json",
        "recorder_policy.json",
        "deploy/recorder.policy.json",
        "policy-deny-outside-office.json",
        "recorder.ram.json",
    ],
)
def test_the_hook_picks_policy_files_by_place_and_name(path: str) -> None:
    assert _picked(_hook(), path)


@pytest.mark.parametrize(
    "path",
    [
        "package.json",
        "web/package.json",
        "policies/package.json",
        "package-lock.json",
        "ram_policies/tsconfig.json",
        "tsconfig.base.json",
        "composer.json",
        ".eslintrc.json",
        "data/users.json",
        "src/config.json",
        "ram_policies/notes.txt",
        "diagram.json",
    ],
)
def test_the_hook_never_picks_other_tools_json(path: str) -> None:
    assert not _picked(_hook(), path)


def test_the_docs_show_how_to_point_the_hook_elsewhere() -> None:
    root = Path(__file__).resolve().parents[1]
    guide = (root / "docs" / "ram-lint.md").read_text(encoding="utf-8")
    config = re.search(r"```yaml\n# \.pre-commit-config\.yaml\n(.*?)```", guide, re.DOTALL)
    assert config is not None, "docs/ram-lint.md has no .pre-commit-config.yaml example"
    import yaml

    example = yaml.safe_load(config.group(1))
    (hook,) = example["repos"][0]["hooks"]
    assert hook["id"] == _hook()["id"]
    assert re.search(hook["files"], "security/iam-docs/recorder.json")
    # Pinned as the workflows pin acscontract: a reviewed commit (a placeholder to set), never
    # a tag, which can be moved to other code.
    assert example["repos"][0]["rev"] == "set-me-to-a-reviewed-40-hex-commit"


# ---------------------------------------------------------------------------------------------
# Determinism: a budget-exhausting document gives the same report under every hash seed


def _exhausting_policy() -> str:
    """32 statements of 50 wildcard actions each: comparing every pair for subsumption runs
    out of the document's search budget, so what gets compared first decides the findings."""
    pool = [f"live:Describe{c}*" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
    pool += [f"live:Describe{c}{d}*" for c in "ABCDEFGH" for d in "abcdefgh"]
    statements = [
        {
            "Effect": "Allow",
            "Action": [pool[(s * 7 + k * 11) % len(pool)] for k in range(50)],
            "Resource": "*",
        }
        for s in range(32)
    ]
    return json.dumps({"Version": "1", "Statement": statements}, separators=(",", ":"))


def test_budget_exhausting_report_is_the_same_under_every_hash_seed(tmp_path: Path) -> None:
    path = tmp_path / "wide.json"
    path.write_text(_exhausting_policy(), encoding="utf-8")
    reports = []
    for seed in ("0", "1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-m", "acscontract", "ram", "lint", str(path), "--format", "json"],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            check=False,
        )
        assert done.returncode in (0, 1), done.stderr
        reports.append(done.stdout)
    checks = {f["check"] for f in json.loads(reports[0])["findings"]}
    assert "analysis-undecided" in checks  # the document really exhausts the budget
    assert reports[1] == reports[0]
    assert reports[2] == reports[0]
