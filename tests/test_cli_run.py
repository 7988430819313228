"""`acscontract run`: exit codes 0/1/2 and what the summary shows."""

from __future__ import annotations

import json
from xml.etree import ElementTree

import pytest

from acscontract.cli import main
from acscontract.emulator import Emulator, serve_in_thread
from acscontract.signing import ENV_ACCESS_KEY_ID, ENV_ACCESS_KEY_SECRET, ENV_SECURITY_TOKEN


@pytest.fixture(autouse=True)
def _no_user_settings(monkeypatch):
    """The run must depend on its arguments alone, not on the developer's environment."""
    for name in (ENV_ACCESS_KEY_ID, ENV_ACCESS_KEY_SECRET, ENV_SECURITY_TOKEN):
        monkeypatch.delenv(name, raising=False)
    for name in ("TARGET", "PROFILE", "DOMAIN", "APP", "STREAM", "STREAM_OFFLINE"):
        monkeypatch.delenv(f"ACSCONTRACT_{name}", raising=False)


def test_all_contracts_hold_exits_0(capsys, tmp_path):
    junit = tmp_path / "contracts.xml"
    code = main(["run", "--summary", "--junitxml", str(junit), "--", "-k", "gateway or ram"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "what the contract suite checks" in out  # --summary's overview
    assert "Contract areas against emulator in process" in out
    assert "gateway" in out
    assert "ram" in out
    assert "holds" in out
    assert "contracts hold." in out
    suite = ElementTree.parse(junit).getroot()  # noqa: S314 - the file this run wrote
    assert int(suite.find("testsuite").get("tests")) > 0
    assert int(suite.find("testsuite").get("failures")) == 0


def test_a_failing_contract_exits_1_with_its_first_failure(monkeypatch, capsys):
    original = Emulator.handle

    def without_request_id(self, request):
        response = original(self, request)
        body = json.loads(response.body)
        body.pop("RequestId", None)
        return type(response)(response.status, response.headers, json.dumps(body).encode())

    monkeypatch.setattr(Emulator, "handle", without_request_id)
    code = main(["run", "--", "-k", "ram"])
    out = capsys.readouterr().out
    assert code == 1
    assert "ram: first failure" in out
    assert "request-id" in out
    assert "last exchange" in out
    assert "-> HTTP 403" in out
    # The exchange is shown with its signature masked and no secret anywhere.
    assert "Signature=***" in out or "Signature" not in out.split("last exchange")[1]
    assert "secret-not-real" not in out
    assert "contracts failed." in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "ftp://example.com"], "neither 'emulator'"),
        (["--profile", "fast"], "fast"),
        (["--target", "https://live.aliyuncs.com"], ENV_ACCESS_KEY_ID),
        (["--", "-k", "no_contract_has_this_name"], "No contract was selected"),
    ],
)
def test_bad_usage_exits_2_with_one_clear_line(capsys, args, message):
    code = main(["run", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_a_url_target_needs_its_resources(capsys, monkeypatch):
    monkeypatch.setenv(ENV_ACCESS_KEY_ID, "LTAIexample")
    monkeypatch.setenv(ENV_ACCESS_KEY_SECRET, "example-secret")
    code = main(["run", "--target", "https://live.aliyuncs.com", "--domain", "d.example"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--app, --stream" in err
    assert "example-secret" not in err


def test_a_served_emulator_shows_skips_with_their_reasons(capsys, monkeypatch):
    emulator = Emulator()
    seed = emulator.seed
    account = seed.accounts[0]
    root = next(k for k in account.access_keys if k.user is None and k.active)
    domain = account.domains[0]
    app = next(a for a in domain.apps if a.record_config)
    stream = next(s for s in app.streams if s.online)
    monkeypatch.setenv(ENV_ACCESS_KEY_ID, root.id)
    monkeypatch.setenv(ENV_ACCESS_KEY_SECRET, root.secret)
    with serve_in_thread(emulator) as url:
        code = main(
            [
                "run",
                "--target",
                url,
                "--domain",
                domain.name,
                "--app",
                app.name,
                "--stream",
                stream.name,
                "--",
                "-k",
                "offline or ram or without_record_config",
            ]
        )
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"emulator at {url}" in out
    assert "Skipped contracts and notes" in out
    assert "needs --stream-offline" in out
    assert "needs a key whose RAM policies deny" in out
    assert "needs --app-without-config" in out
    assert root.secret not in out


def test_main_job_adds_the_probe_and_the_policy_lint(capsys, tmp_path):
    """`make run`'s form: contracts, the probe's check and a lint, gated together."""
    code = main(["run", "--probe", "--lint", "ram_policies", "--", "-k", "ram"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Main job" in out
    assert "rate-limit probe (check)" in out
    assert "throttled" in out
    assert "FAILED" not in out
    assert "3 policies" in out

    bad = tmp_path / "wide.json"
    bad.write_text(
        '{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}',
        encoding="utf-8",
    )
    code = main(["run", "--lint", str(bad), "--", "-k", "ram"])
    out = capsys.readouterr().out
    assert code == 1
    assert "star-on-star" in out
    assert "FAILED" in out


def test_main_job_lint_of_a_missing_path_is_a_usage_error(capsys, tmp_path):
    code = main(["run", "--lint", str(tmp_path / "missing"), "--", "-k", "ram"])
    err = capsys.readouterr().err
    assert code == 2
    assert "missing" in err
    assert "Traceback" not in err
