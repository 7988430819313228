"""`acscontract ram simulate|diff|generate`: output, exit codes and one-line errors."""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import pytest

from acscontract.cli import main
from acscontract.ram import _parser
from acscontract.spec import action_catalog

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "ram_policies"
ACTION = "live:RealTimeRecordCommand"
(RESOURCE_TYPE,) = action_catalog().entries[ACTION.lower()].resource_types


def arn(domain: str = "live.example.com") -> str:
    return RESOURCE_TYPE.arn(accountId="1234567890123456", DomainName=domain)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: Path, name: str, statements: list[dict[str, object]]) -> str:
    path = tmp_path / name
    path.write_text(json.dumps({"Version": "1", "Statement": statements}), encoding="utf-8")
    return str(path)


def assert_one_clear_line(err: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("acscontract: ")
    assert "Traceback" not in err


# --- simulate ----------------------------------------------------------------------------------


def test_simulate_json_reports_the_decision_and_deciding_statements(
    capsys: pytest.CaptureFixture[str],
) -> None:
    recorder = str(POLICIES / "recorder-least-privilege.json")
    code, out, _ = run(
        capsys,
        "ram", "simulate", recorder,
        "--action", ACTION, "--resource", arn(),
        "--context", "acs:SecureTransport=true", "--format", "json",
    )  # fmt: skip
    assert code == 0
    data = json.loads(out)
    assert data["decision"] == "Allow"
    assert data["action"] == ACTION
    assert data["resource"] == arn()
    assert data["context"] == {"acs:SecureTransport": "true"}
    assert [(s["file"], s["index"]) for s in data["statements"]] == [(recorder, 0)]
    assert data["notes"] == []


def test_simulate_text_names_the_deny_and_the_notes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "ram", "simulate",
        str(POLICIES / "recorder-least-privilege.json"),
        str(POLICIES / "guardrail-deny-outside-office.json"),
        "-a", ACTION, "-r", arn(), "-c", "acs:SecureTransport=true",
    )  # fmt: skip
    assert code == 0
    assert out.startswith("ExplicitDeny")
    assert "denied by:" in out
    assert "guardrail-deny-outside-office.json:4:" in out
    assert "absent-key-negated" in out


def test_simulate_expect_turns_the_decision_into_an_exit_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ops = str(POLICIES / "operations-read-only.json")
    args = ["ram", "simulate", ops, "-a", ACTION, "-r", arn()]
    assert run(capsys, *args, "--expect", "ImplicitDeny")[0] == 0
    code, _, err = run(capsys, *args, "--expect", "Allow")
    assert code == 1
    assert "expected Allow, got ImplicitDeny" in err


def test_simulate_rejects_an_invalid_policy_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = write(tmp_path, "bad.json", [{"Effect": "Allow", "Action": ACTION}])
    code, out, err = run(capsys, "ram", "simulate", bad, "-a", ACTION, "-r", arn())
    assert code == 2
    assert out == ""
    assert_one_clear_line(err)
    assert "bad.json:1:" in err
    assert "[resource-missing]" in err
    assert "ram lint" in err


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["-c", "acs:SourceIp"], "not KEY=VALUE"),
        (["-c", "a=1", "-c", "A=2"], "given twice"),
    ],
)
def test_simulate_rejects_bad_context_with_one_line(
    capsys: pytest.CaptureFixture[str], args: list[str], fragment: str
) -> None:
    policy = str(POLICIES / "recorder-least-privilege.json")
    code, _, err = run(capsys, "ram", "simulate", policy, "-a", ACTION, "-r", arn(), *args)
    assert code == 2
    assert_one_clear_line(err)
    assert fragment in err


def test_simulate_reports_unreadable_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = str(tmp_path / "missing.json")
    code, _, err = run(capsys, "ram", "simulate", missing, "-a", ACTION, "-r", arn())
    assert code == 2
    assert_one_clear_line(err)
    assert "missing.json: no such file" in err
    code, _, err = run(capsys, "ram", "simulate", str(tmp_path), "-a", ACTION, "-r", arn())
    assert code == 2
    assert "is a directory" in err


def test_simulate_without_the_required_options_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(capsys, "ram", "simulate", str(POLICIES / "operations-read-only.json"))
    assert code == 2
    assert "--action" in err
    assert "Traceback" not in err


def test_simulate_output_escapes_markup_in_user_text(
    capsys: pytest.CaptureFixture[str],
) -> None:
    policy = str(POLICIES / "operations-read-only.json")
    code, out, _ = run(capsys, "ram", "simulate", policy, "-a", "[bold]x", "-r", "[red]y")
    assert code == 0
    assert "[bold]x on [red]y" in out


# --- diff --------------------------------------------------------------------------------------


def test_diff_exits_1_on_new_access_and_prints_a_witness(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    old = write(tmp_path, "old.json", [{"Effect": "Allow", "Action": ACTION, "Resource": arn()}])
    new = write(
        tmp_path,
        "new.json",
        [{"Effect": "Allow", "Action": ACTION, "Resource": "acs:cdn:*:*:domain/*"}],
    )
    code, out, _ = run(capsys, "ram", "diff", old, new)
    assert code == 1
    assert "NEW grants 1 kind(s) of access that OLD did not" in out
    assert f"- {ACTION} on acs:cdn:*:" in out
    code, out, _ = run(capsys, "ram", "diff", new, old, "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["grants_new_access"] is False
    assert len(data["removed"]) == 1


def test_diff_of_identical_policies_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    policy = str(POLICIES / "recorder-least-privilege.json")
    code, out, _ = run(capsys, "ram", "diff", policy, policy)
    assert code == 0
    assert "NEW grants nothing that OLD did not." in out


def test_diff_context_witness_is_printed_as_cli_options(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    narrow = {"IpAddress": {"acs:SourceIp": "203.0.113.0/25"}}
    wide = {"IpAddress": {"acs:SourceIp": "203.0.113.0/24"}}
    old = write(
        tmp_path,
        "o.json",
        [{"Effect": "Allow", "Action": ACTION, "Resource": arn(), "Condition": narrow}],
    )
    new = write(
        tmp_path,
        "n.json",
        [{"Effect": "Allow", "Action": ACTION, "Resource": arn(), "Condition": wide}],
    )
    code, out, _ = run(capsys, "ram", "diff", old, new)
    assert code == 1
    assert "--context acs:SourceIp=203.0.113." in out


def test_diff_context_witness_pastes_safely_into_a_shell(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The witness line is meant to be pasted into `ram simulate`: a value from a hostile
    policy ("x; rm -rf ~") stays one quoted argument, and the pasted command decides Allow."""
    import shlex

    hostile = "my vpc*; rm -rf ~"
    old = write(
        tmp_path,
        "o.json",
        [
            {
                "Effect": "Allow",
                "Action": ACTION,
                "Resource": arn(),
                "Condition": {"StringEquals": {"acs:SourceVpc": "vpc-1"}},
            }
        ],
    )
    new = write(
        tmp_path,
        "n.json",
        [
            {
                "Effect": "Allow",
                "Action": ACTION,
                "Resource": arn(),
                "Condition": {"StringEquals": {"acs:SourceVpc": ["vpc-1", hostile]}},
            }
        ],
    )
    code, out, _ = run(capsys, "ram", "diff", old, new)
    assert code == 1
    (line,) = [row.strip() for row in out.splitlines() if row.strip().startswith("with --")]
    words = shlex.split(line.removeprefix("with "))
    assert words == ["--context", f"acs:SourceVpc={hostile}"]
    code, out, _ = run(
        capsys, "ram", "simulate", new, "--action", ACTION, "--resource", arn(), *words
    )
    assert (code, out.split()[0]) == (0, "Allow")


def test_diff_rejects_an_invalid_policy(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    good = str(POLICIES / "recorder-least-privilege.json")
    code, _, err = run(capsys, "ram", "diff", good, str(bad))
    assert code == 2
    assert_one_clear_line(err)
    assert "[invalid-json]" in err
    assert "cannot be compared" in err


# --- generate ----------------------------------------------------------------------------------


def test_generate_prints_a_policy_that_simulates_as_allowed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run(
        capsys,
        "ram", "generate", "--account", "1234567890123456",
        "--domain", "live.example.com", "--source-ip", "203.0.113.0/24", "--require-tls",
    )  # fmt: skip
    assert code == 0
    policy = json.loads(out)
    assert policy["Statement"][0]["Resource"] == [arn()]
    path = tmp_path / "generated.json"
    path.write_text(out, encoding="utf-8")
    code, out, _ = run(
        capsys,
        "ram", "simulate", str(path), "-a", ACTION, "-r", arn(),
        "-c", "acs:SourceIp=203.0.113.4", "-c", "acs:SecureTransport=true", "--format", "json",
    )  # fmt: skip
    assert json.loads(out)["decision"] == "Allow"


def test_generate_writes_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "p.json"
    code, out, err = run(
        capsys, "ram", "generate", "--account", "1234567890123456",
        "--domain", "live.example.com", "-o", str(target),
    )  # fmt: skip
    assert code == 0
    assert out == f"Wrote the policy to {target}.\n"
    assert err == ""
    assert json.loads(target.read_text(encoding="utf-8"))["Version"] == "1"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--account", "42", "--domain", "live.example.com"], "16 digits"),
        (["--account", "1234567890123456", "--domain", "nodots"], "fully qualified"),
        (
            [
                "--account",
                "1234567890123456",
                "--domain",
                "a.example.com",
                "--source-ip",
                "10.1.0.0/16",
            ],
            "non-public",
        ),
    ],
)
def test_generate_rejects_bad_input_with_one_line(
    capsys: pytest.CaptureFixture[str], args: list[str], fragment: str
) -> None:
    code, out, err = run(capsys, "ram", "generate", *args)
    assert code == 2
    assert out == ""
    assert_one_clear_line(err)
    assert fragment in err


def test_ram_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ram", "--help")
    assert code == 0
    for command in ("simulate", "diff", "generate"):
        assert command in out


@pytest.mark.parametrize("command", ["simulate", "diff"])
@pytest.mark.parametrize("kind", ["device", "fifo"])
def test_simulate_and_diff_refuse_a_device_or_a_pipe_with_one_line(capsys, tmp_path, command, kind):
    # /dev/zero was read until memory ran out; a FIFO blocked at open. lint already refused them.
    if kind == "device":
        path = "/dev/zero"
    else:
        path = str(tmp_path / "policy.fifo")
        os.mkfifo(path)
    if command == "simulate":
        args = ["ram", "simulate", path, "-a", "live:RealTimeRecordCommand", "-r", "*"]
    else:
        args = ["ram", "diff", path, str(POLICIES / "recorder-least-privilege.json")]
    code, out, err = run(capsys, *args)
    assert (code, out) == (2, "")
    assert (
        err
        == f"acscontract: {path}: cannot be read (not a regular file (a pipe, socket or device)).\n"
    )


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_a_policy_source_over_the_size_limit_is_one_line(capsys, tmp_path, monkeypatch, source):
    monkeypatch.setattr(_parser, "MAX_POLICY_FILE_BYTES", 1_000)
    text = json.dumps({"Version": "1", "Statement": [], "Padding": "x" * 2_000})
    if source == "file":
        path = tmp_path / "big.json"
        path.write_text(text, encoding="utf-8")
        name = str(path)
    else:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
        name = "-"
    code, out, err = run(capsys, "ram", "lint", name)
    assert (code, out) == (2, "")
    shown = "<stdin>" if source == "stdin" else name
    assert err.startswith(f"acscontract: {shown}: holds more than ")
    assert err.count("\n") == 1
