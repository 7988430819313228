"""The command-line convention every command shares (acscontract.cli.main).

A usage error is one line on standard error with exit 2; a closed pipe ends quietly with exit 0;
results go to standard output; a missing extra is named in one line; a bug is one line, exit 70.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from acscontract.cli import COMMANDS, EXIT_INTERNAL, _missing_extra, main

ROOT = Path(__file__).resolve().parents[1]
POLICY = str(ROOT / "ram_policies" / "recorder-least-privilege.json")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    assert err.endswith("\n"), err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    assert err.startswith("acscontract: ")
    return err


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["ram"],
        ["spec"],
        ["emulator"],
        ["probe"],
        ["no-such-command"],
        ["--no-such-option"],
        ["spec", "show", "--format", "xml"],
        ["spec", "validate", "--bogus"],
        ["ram", "lint"],
        ["ram", "lint", POLICY, "--fail-on", "sometimes"],
        ["ram", "simulate", POLICY],
        ["ram", "diff", POLICY],
        ["ram", "generate"],
        ["emulator", "serve", "--port", "99999"],
        ["probe", "rate-limit", "--bogus"],
        ["run", "--bogus"],
    ],
    ids=lambda a: " ".join(a) or "<none>",
)
def test_every_usage_error_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    code, out, err = run(capsys, *args)
    assert code == 2
    assert out == ""
    line = one_line(err)
    assert "--help" in line  # says where to look


def test_a_group_without_its_command_lists_the_commands(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(capsys, "ram")
    assert code == 2
    assert "'acscontract ram' needs a command (diff, generate, lint, simulate)" in one_line(err)


def test_help_and_version_are_results(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--help")
    assert (code, err) == (0, "")
    for name in COMMANDS:
        assert name in out
    code, out, err = run(capsys, "--version")
    assert (code, err) == (0, "")
    assert out.startswith("acscontract, version ")


def _closed_pipe(args: list[str]) -> subprocess.CompletedProcess[bytes]:
    """Run the command with its standard output a pipe nobody reads (the reader has exited,
    as `head -1` does)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [sys.executable, "-m", "acscontract", *args],
            stdout=write,
            stderr=subprocess.PIPE,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write)


@pytest.mark.parametrize(
    "args",
    [
        ["spec", "show", "RealTimeRecordCommand", "--format", "json"],
        ["spec", "show", "RealTimeRecordCommand"],
        ["spec", "openapi", "RealTimeRecordCommand"],
        ["ram", "lint", str(ROOT / "tests" / "data"), "--format", "sarif"],
        ["ram", "generate", "--account", "1234567890123456", "--domain", "a.example.com"],
        ["--help"],
        ["run", "--summary"],  # printed through rich, whose answer is SystemExit(1)
    ],
    ids=lambda a: " ".join(a[:3]),
)
def test_a_closed_pipe_ends_quietly_with_exit_0(args: list[str]) -> None:
    done = _closed_pipe(args)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stderr == b""


def test_a_closed_pipe_ends_the_probe_quietly_with_exit_0() -> None:
    # The probe prints its plan on standard error and its results through rich.
    done = _closed_pipe(["probe", "rate-limit", "--target", "emulator", "--seconds", "1"])
    assert done.returncode == 0, done.stderr.decode()
    assert done.stderr.startswith(b"Probe check of the in-process emulator")
    assert b"acscontract:" not in done.stderr
    assert b"Traceback" not in done.stderr


def test_output_an_encoding_cannot_show_is_escaped(tmp_path: Path) -> None:
    policy = tmp_path / "p.json"
    policy.write_text('{"Version": "1", "Statement": [{"Sid": "\\ud800", "Effect": "Allow"}]}')
    done = subprocess.run(
        [sys.executable, "-m", "acscontract", "ram", "lint", str(policy), "--format", "json"],
        capture_output=True,
        env={**os.environ, "PYTHONIOENCODING": "ascii"},
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr.decode()
    assert done.stderr == b""
    done.stdout.decode("ascii")  # every byte is ASCII: the rest was escaped


# --- Missing extras -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("blocked", "args", "extra"),
    [
        ("starlette", ["emulator", "serve", "--port", "0"], "emulator"),
        ("rich", ["run"], "contracts"),
        ("rich", ["probe", "rate-limit"], "emulator"),
    ],
)
def test_a_missing_extra_is_named_in_one_line(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    blocked: str,
    args: list[str],
    extra: str,
) -> None:
    # A None entry in sys.modules makes `import blocked` fail as if it were not installed.
    for name in [m for m in sys.modules if m == blocked or m.startswith(blocked + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, blocked, None)
    for name in [m for m in sys.modules if m.startswith(("acscontract.cli._", "acscontract.emu"))]:
        monkeypatch.delitem(sys.modules, name)
    from acscontract.cli import cli

    monkeypatch.setattr(cli, "commands", {})  # the subcommands are imported again
    code, out, err = run(capsys, *args)
    assert code == 2
    assert out == ""
    line = one_line(err)
    assert f"pip install 'acscontract[{extra}] @ git+https://github.com/" in line
    assert f"pip install '.[{extra}]'" in line
    assert blocked in line


def test_plotting_is_its_own_extra_whatever_the_command() -> None:
    missing = _missing_extra(ModuleNotFoundError("no", name="matplotlib.pyplot"), "probe")
    assert missing is not None
    assert missing.extra == "plot"
    # A module of acscontract itself, or one no extra provides, is a bug: no extra is named.
    assert _missing_extra(ModuleNotFoundError("no", name="acscontract.nope"), "ram") is None
    assert _missing_extra(ModuleNotFoundError("no", name="nonexistent"), "ram") is None


# --- Bugs ---------------------------------------------------------------------------------------


def _boom(*args: Any, **kwargs: Any) -> None:
    raise RuntimeError("an invariant broke")


def test_an_internal_error_is_one_line_and_exit_70(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import acscontract.spec

    monkeypatch.setattr(acscontract.spec, "openapi_document", _boom)
    monkeypatch.delenv("ACSCONTRACT_DEBUG", raising=False)
    code, out, err = run(capsys, "spec", "openapi", "RealTimeRecordCommand")
    assert code == EXIT_INTERNAL
    assert out == ""
    line = one_line(err)
    assert "internal error (RuntimeError: an invariant broke)" in line
    assert "ACSCONTRACT_DEBUG=1" in line
    monkeypatch.setenv("ACSCONTRACT_DEBUG", "1")
    with pytest.raises(RuntimeError, match="an invariant broke"):
        main(["spec", "openapi", "RealTimeRecordCommand"])


def test_streams_are_made_unable_to_fail_on_encoding(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii", errors="strict")
    monkeypatch.setattr(sys, "stdout", stream)
    assert main(["ram", "generate", "--account", "1234567890123456", "--domain", "ü.example"]) in (
        0,
        2,
    )
    stream.flush()
    raw.getvalue().decode("ascii")


def test_mock_live_without_its_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import acscontract

    for name in [m for m in sys.modules if m.startswith(("acscontract.emulator", "starlette"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "starlette", None)
    hint = r"pip install 'acscontract\[emulator\] @ git\+https:"
    with pytest.raises(ModuleNotFoundError, match=hint):
        acscontract.mock_live  # noqa: B018 - the attribute access is what is tested


_NOT_A_FILE = [
    ("emulator", "serve", "--port", "0", "--seed", "{path}"),
    ("probe", "rate-limit", "--target", "emulator", "--seed", "{path}"),
    ("spec", "import", "{path}", "-o", "{out}"),
    ("ram", "lint", "--config", "{path}", POLICY),
    ("ram", "lint", "--baseline", "{path}", POLICY),
]


@pytest.mark.parametrize("command", _NOT_A_FILE, ids=lambda c: " ".join(c[:3]))
@pytest.mark.parametrize("kind", ["device", "fifo"])
def test_a_device_or_a_pipe_named_as_an_input_file_is_one_line_not_a_read_without_end(
    capsys, tmp_path, command, kind
):
    # /dev/zero was read until the kernel killed the process (or, under a memory limit, "out of
    # memory"); opening a FIFO blocked for ever. ram lint's policy paths already refused both.
    if kind == "device":
        path = "/dev/zero"
    else:
        path = str(tmp_path / "input.fifo")
        os.mkfifo(path)
    args = [a.format(path=path, out=tmp_path / "out") for a in command]
    code, out, err = run(capsys, *args)
    assert code == 2
    assert out == ""
    one_line(err)
    assert "not a regular file (a pipe, socket or device)" in err
    assert path in err


def test_spec_validate_reports_a_device_as_a_file_it_cannot_read(capsys):
    # The command's help and docs/spec.md: exit 2 when a path cannot be read (it was 1, as if
    # the file had been read and found invalid).
    code, out, _ = run(capsys, "spec", "validate", "/dev/zero")
    assert code == 2
    assert "/dev/zero:/: the file cannot be read: not a regular file" in out
    assert out.endswith("1 problem in 1 of 1 spec files.\n")


def test_spec_validate_lists_every_problem_and_exits_2_when_one_file_cannot_be_read(
    capsys, tmp_path
):
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: operation\n")
    code, out, _ = run(capsys, "spec", "validate", str(broken), "/dev/zero")
    assert code == 2
    assert f"{broken}:" in out  # the readable file's problems are still listed
    assert "/dev/zero:/: the file cannot be read" in out


def test_the_guides_quote_every_wildcard_they_pass_to_a_command() -> None:
    """A command copied from the guides works in every shell: an unquoted `acs:cdn:*:...` is a
    glob, which zsh (macOS's shell) refuses with "no matches found" when no file matches, and
    which bash replaces with the names of matching files when some do."""
    import re
    import shlex

    guides = [ROOT / "README.md", ROOT / "ram_policies" / "README.md"]
    guides += sorted((ROOT / "docs").rglob("*.md"))
    commands = 0
    unquoted = []
    for guide in guides:
        text = guide.read_text(encoding="utf-8")
        for block in re.findall(r"```[^\n]*\n(.*?)```", text, re.DOTALL):
            for line in block.replace("\\\n", " ").splitlines():
                command = line.strip().removeprefix("$ ")
                if not command.startswith(("acscontract ", "pip install ")):
                    continue
                commands += 1
                lexer = shlex.shlex(command, posix=False)  # keeps the quotes in the tokens
                lexer.whitespace_split = True
                lexer.commenters = "#"
                # `[` is also a glob (`.[emulator]`), but synopses use it for options.
                globs = set("*?[") if command.startswith("pip ") else set("*?")
                for token in lexer:
                    if set(token) & globs and token[0] not in "'\"":
                        unquoted.append(f"{guide.relative_to(ROOT)}: {token}")
    assert commands > 20
    assert unquoted == []
