"""`acscontract run`: exit codes 0/1/2 and what the summary shows."""

from __future__ import annotations

import json
import re
from pathlib import Path
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
    for name in (
        "TARGET",
        "PROFILE",
        "DOMAIN",
        "APP",
        "STREAM",
        "STREAM_OFFLINE",
        "PACING_STORE",
        "MAX_RECORDINGS",
    ):
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


@pytest.mark.parametrize("target", ["http://[::1", "http://127.0.0.1:99999", "http://a b.example"])
def test_a_target_that_is_no_url_is_one_line_naming_it(capsys, monkeypatch, target):
    monkeypatch.setenv(ENV_ACCESS_KEY_ID, "LTAIexample")
    monkeypatch.setenv(ENV_ACCESS_KEY_SECRET, "example-secret")
    code = main(["run", "--target", target, "--domain", "d", "--app", "a", "--stream", "s"])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert err.count("\n") == 1
    assert err.startswith(f"acscontract: The target {target!r} is not a usable URL")
    assert out == ""


SEEDS = Path(__file__).parent / "data" / "seeds"


def _serve_args(url, domain, app, stream):
    return ["run", "--target", url, "--domain", domain, "--app", app, "--stream", stream]


def test_a_served_emulator_gives_the_suite_its_seed(capsys, monkeypatch):
    """Named by URL, `acscontract emulator serve` supplies the inactive key, the denied keys,
    the offline stream and the app without record configuration: nothing is skipped."""
    emulator = Emulator()
    account = emulator.seed.accounts[0]
    root = next(k for k in account.access_keys if k.user is None and k.active)
    monkeypatch.setenv(ENV_ACCESS_KEY_ID, root.id)
    monkeypatch.setenv(ENV_ACCESS_KEY_SECRET, root.secret)
    with serve_in_thread(emulator) as url:
        args = _serve_args(url, "push.example.com", "live", "stream1")
        code = main([*args, "--", "-k", "offline or ram or without_record_config or inactive"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"emulator at {url}" in out
    assert "an emulator, so nothing is billed" in out  # the plan, before any contract
    assert "Skipped contracts and notes" not in out  # nothing skipped, nothing to note
    assert "recordings started on the emulator" in out
    assert root.secret not in out


def test_the_guides_served_emulator_recipe_runs_as_written(capsys, monkeypatch):
    """docs/contracts.md: serve, export the credentials it shows, run against the URL."""
    import shlex

    guide = (Path(__file__).parents[1] / "docs" / "contracts.md").read_text(encoding="utf-8")
    lines = [line.removeprefix("$ ") for line in guide.splitlines() if line.startswith("$ ")]
    serve = next(i for i, line in enumerate(lines) if line.startswith("acscontract emulator serve"))
    run_line = next(line for line in lines[serve:] if "--target http://127.0.0.1" in line)
    for line in lines[serve : lines.index(run_line)]:
        if line.startswith("export "):
            for pair in shlex.split(line)[1:]:
                name, _, value = pair.partition("=")
                monkeypatch.setenv(name, value)
    args = shlex.split(run_line.partition("#")[0])
    assert args[:2] == ["acscontract", "run"]
    with serve_in_thread(Emulator()) as url:
        args = [url if a.startswith("http://127.0.0.1") else a for a in args[1:]]
        code = main([*args, "--", "-k", "test_ram.py"])
    captured = capsys.readouterr()
    assert code == 0, captured.err or captured.out
    assert "All 1 contracts hold." in captured.out


@pytest.mark.parametrize("token", [None, "not-the-token"])
def test_a_served_emulator_whose_admin_api_wants_a_token_says_so(
    capsys, monkeypatch, tmp_path, token
):
    """Served with a token (as on a non-loopback --host), the emulator's admin API answers 401;
    the run named it 'a real account' and skipped what needs the admin API."""
    monkeypatch.setenv("ACSCONTRACT_PACING_DIR", str(tmp_path))
    emulator = Emulator()
    root = next(k for k in emulator.seed.accounts[0].access_keys if k.user is None and k.active)
    monkeypatch.setenv(ENV_ACCESS_KEY_ID, root.id)
    monkeypatch.setenv(ENV_ACCESS_KEY_SECRET, root.secret)
    with serve_in_thread(emulator, admin_token="the-printed-token") as url:
        args = _serve_args(url, "push.example.com", "live", "stream1")
        if token:
            args += ["--admin-token", token]
        code = main([*args, "--", "-k", "test_ram.py"])
    captured = capsys.readouterr()
    assert code == 2, captured.out
    (line,) = captured.err.strip().splitlines()
    assert "--admin-token" in line
    assert "the-printed-token" not in line
    assert emulator.recordings() == ()


def test_a_user_seed_skips_what_it_cannot_give_with_reasons(capsys, monkeypatch):
    emulator = Emulator(SEEDS / "minimal.yaml")
    monkeypatch.setenv(ENV_ACCESS_KEY_ID, "LTAIminimalRoot000001")
    monkeypatch.setenv(ENV_ACCESS_KEY_SECRET, "minimal-root-secret-not-real")
    with serve_in_thread(emulator) as url:
        args = _serve_args(url, "live.example.org", "rec", "cam-1")
        code = main([*args, "--", "-k", "offline or ram or without_record_config or inactive"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Skipped contracts and notes" in out
    assert "needs --stream-offline" in out
    assert "needs a key whose RAM policies deny" in out
    assert "needs --app-without-config" in out
    assert "needs an inactive AccessKey" in out
    assert "undocumented transition" not in out  # an emulator's answers are its spec's


@pytest.mark.parametrize(
    ("resources", "secret", "message"),
    [
        (("push.example.com", "live", "nope"), None, "has no stream 'nope'"),
        (("push.example.com", "live", "offline1"), None, "is offline"),
        (("push.example.com", "norecord", "stream1"), None, "no record configuration"),
        (("push.example.com", "live", "stream1"), "wrong-secret", "SignatureDoesNotMatch"),
    ],
)
def test_preflight_failures_exit_2_with_one_line_before_any_contract(
    capsys, monkeypatch, resources, secret, message
):
    emulator = Emulator()
    root = next(k for k in emulator.seed.accounts[0].access_keys if k.user is None)
    monkeypatch.setenv(ENV_ACCESS_KEY_ID, root.id)
    monkeypatch.setenv(ENV_ACCESS_KEY_SECRET, secret or root.secret)
    with serve_in_thread(emulator) as url:
        code = main(_serve_args(url, *resources))
        sent = list(emulator.recordings())
    captured = capsys.readouterr()
    assert code == 2
    assert message in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert "Traceback" not in captured.err
    assert "contracts" not in captured.out  # no contract ran, no plan was printed
    assert not sent


def test_an_unreachable_target_is_one_line(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_ACCESS_KEY_ID, "LTAIexample")
    monkeypatch.setenv(ENV_ACCESS_KEY_SECRET, "example-secret")
    monkeypatch.setenv("ACSCONTRACT_PACING_DIR", str(tmp_path))
    code = main(_serve_args("http://127.0.0.1:1", "d.example", "a", "s"))
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.strip().splitlines() == [
        "acscontract: The target http://127.0.0.1:1 does not answer (connection refused); "
        "check --target and that the endpoint is running."
    ]
    assert captured.out == ""


def test_a_target_whose_admin_api_answers_json_nested_too_deep_is_one_line(
    capsys, monkeypatch, tmp_path
):
    """The run asks every URL target whether it is a served emulator (GET /_emulator/state);
    an answer nested past Python's parser is no emulator's, not a crash."""

    import responses

    monkeypatch.setenv(ENV_ACCESS_KEY_ID, "LTAIexample")
    monkeypatch.setenv(ENV_ACCESS_KEY_SECRET, "example-secret")
    monkeypatch.setenv("ACSCONTRACT_PACING_DIR", str(tmp_path))
    deep = "[" * 100_000 + "]" * 100_000
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.add(responses.GET, re.compile(r"http://127\.0\.0\.1:1/_emulator/state.*"), body=deep)
        code = main(_serve_args("http://127.0.0.1:1", "d.example", "a", "s"))
    captured = capsys.readouterr()
    assert code == 2, captured.err
    (line,) = captured.err.strip().splitlines()
    assert line.startswith("acscontract: The target http://127.0.0.1:1 does not answer")


def test_a_target_answering_200_with_no_json_is_named_as_no_api_endpoint(
    capsys, monkeypatch, tmp_path
):
    """A web server that answers everything with a 200 page is not 'ok, but not StreamNotFound':
    the preflight says the answer is not the API's."""

    import responses

    monkeypatch.setenv(ENV_ACCESS_KEY_ID, "LTAIexample")
    monkeypatch.setenv(ENV_ACCESS_KEY_SECRET, "example-secret")
    monkeypatch.setenv("ACSCONTRACT_PACING_DIR", str(tmp_path))
    page = "<html><body>Welcome to nginx!</body></html>"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for method in (responses.GET, responses.POST):
            mock.add(method, re.compile(r"http://127\.0\.0\.1:1/.*"), body=page, status=200)
        code = main(_serve_args("http://127.0.0.1:1", "d.example", "a", "s"))
    captured = capsys.readouterr()
    assert code == 2, captured.err
    (line,) = captured.err.strip().splitlines()
    assert "HTTP 200 with a body that is not the API's JSON" in line
    assert "that --target is the operation's endpoint" in line


def test_an_unwritable_junit_path_is_refused_before_anything_runs(capsys, tmp_path):
    code = main(["run", "--junitxml", str(tmp_path / "missing" / "out.xml")])
    captured = capsys.readouterr()
    assert code == 2
    assert "--junitxml" in captured.err
    assert "does not exist" in captured.err
    assert captured.out == ""


def test_collect_only_reports_what_was_collected(capsys):
    code = main(["run", "--", "--co", "-k", "gateway"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Collected 29 contracts; none was run (--collect-only)." in out
    assert "contracts hold" not in out


def test_pytest_and_acscontract_count_the_same_contracts(capsys):
    # Contracts that do not exist for the run's operations were dropped silently: pytest said
    # "70 tests collected" next to "Collected 64 contracts". They are reported as deselected.
    code = main(["run", "--", "--co"])
    out = capsys.readouterr().out
    assert code == 0
    ours = re.search(r"Collected (\d+) contracts", out)
    theirs = re.search(r"(\d+)/(\d+) tests collected \((\d+) deselected\)", out)
    assert ours is not None, out
    assert theirs is not None, out
    selected, collected, deselected = map(int, theirs.groups())
    assert selected == int(ours.group(1))
    assert collected == selected + deselected


def test_every_contract_has_its_own_test_id(capsys):
    """JUnit XML, `--lf` and pytest-xdist tell contracts apart by test id: the schemathesis
    contract of each HTTP method has its own (pytest 9.2 leaves schemathesis' `[GET /]` out of
    the id, so one test over the whole document reported both methods under one id)."""
    code = main(["run", "--", "--co"])
    out = capsys.readouterr().out
    assert code == 0
    ids = [line for line in out.splitlines() if "::" in line]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    schemathesis_ids = [i for i in ids if i.startswith("test_schemathesis.py::")]
    assert len(schemathesis_ids) == 2, schemathesis_ids


def test_hypothesis_keeps_its_files_in_the_cache_folder(capsys, tmp_path, monkeypatch):
    work = tmp_path / "project"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("ACSCONTRACT_CACHE_DIR", raising=False)
    code = main(["run", "--", "-k", "unknown_stream"])
    assert code == 0, capsys.readouterr().out
    assert list(work.iterdir()) == []  # no .hypothesis in the user's folder
    # hypothesis was pointed there (what it writes, if anything, depends on what this process
    # already cached from earlier runs).
    assert (tmp_path / "cache" / "acscontract" / "hypothesis").is_dir()


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


def test_main_job_shows_policy_text_as_it_is_not_as_markup(capsys, tmp_path):
    # A Sid of "[/x]" in a linted policy ended the main job with an internal error (rich read
    # the finding's source line as markup).
    policy = tmp_path / "p.json"
    policy.write_text(
        '{"Version": "1", "Statement": [{"Sid": "[/x]", "Effect": "Allow", '
        '"Action": "live:RealTimeRecordCommand", "Resource": "*"}]}'
    )
    code = main(["run", "--lint", str(policy), "--", "-k", "test_ram.py"])
    captured = capsys.readouterr()
    assert code == 1, captured.err  # the lint fails its gate: live:RealTimeRecordCommand on *
    assert captured.err == ""
    assert '"Sid": "[/x]"' in captured.out


def test_main_job_lint_of_a_missing_path_is_a_usage_error(capsys, tmp_path):
    code = main(["run", "--lint", str(tmp_path / "missing"), "--", "-k", "ram"])
    err = capsys.readouterr().err
    assert code == 2
    assert "missing" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("flag", [["-n", "2"], ["-n2"], ["--numprocesses=2"]])
def test_parallel_workers_are_refused_for_a_url_target(capsys, monkeypatch, flag):
    """Workers would drive the same stream and share the account's limit."""
    monkeypatch.setenv(ENV_ACCESS_KEY_ID, "LTAIexample")
    monkeypatch.setenv(ENV_ACCESS_KEY_SECRET, "example-secret")
    code = main([*_serve_args("http://127.0.0.1:1", "d.example", "a", "s"), "--", *flag])
    captured = capsys.readouterr()
    assert code == 2
    assert "Leave -n out" in captured.err
    assert len(captured.err.strip().splitlines()) == 1


def _standin_run(standin, root, pacing_dir, *extra, env_extra=None):
    """`acscontract run` against a real-account stand-in, in a process of its own, with only
    the documented lifecycle transitions selected (the contracts that start recordings)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("ACSCONTRACT_")}
    env.update({ENV_ACCESS_KEY_ID: root.id, ENV_ACCESS_KEY_SECRET: root.secret})
    env["ACSCONTRACT_PACING_DIR"] = str(pacing_dir)
    env.update(env_extra or {})
    command = [sys.executable, "-m", "acscontract", "run", "--target", standin.url]
    command += ["--domain", "push.example.com", "--app", "live", "--stream", "stream1", *extra]
    command += ["--", "-k", "test_documented_transition"]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _root_key(emulator):
    account = emulator.seed.accounts[0]
    return next(k for k in account.access_keys if k.user is None and k.active)


def test_an_interrupted_run_on_a_real_account_stops_its_recording_and_says_so(tmp_path):
    """Ctrl+C (or a cancelled CI job's SIGINT) right after a contract started a recording on a
    real account (here a stand-in): the contract still brings the stream back to not recording
    (a recording left running is billed), and the run says how many it started."""
    import signal
    import time

    from acscontract.contracts.standin import real_account_standin

    emulator = Emulator()
    with serve_in_thread(emulator) as upstream, real_account_standin(upstream) as standin:
        run = _standin_run(standin, _root_key(emulator), tmp_path)
        deadline = time.monotonic() + 120
        while standin.counts.recordings < 1 and run.poll() is None:
            assert time.monotonic() < deadline, "no recording was started"
            time.sleep(0.002)
        run.send_signal(signal.SIGINT)  # the contract is bringing the stream back now
        out, err = run.communicate(timeout=120)
        started = standin.counts.recordings
        tasks = emulator.snapshot()["world"].get("recordingTask", [])
    assert run.returncode == 2, err.decode()[-2000:]
    assert [t for t in tasks if t["record"].get("state") != "stopped"] == []
    assert started >= 1
    assert f"{started} billable recording-starting calls" in out.decode()


def test_runs_that_share_a_run_id_share_one_recording_budget(tmp_path):
    """A CI job retried (or a run started again after an interruption) with the same
    ACSCONTRACT_RUN_ID draws from the budget the first attempt used: with --max-recordings 1,
    the two attempts together start one recording, not two."""
    from acscontract.contracts.standin import real_account_standin

    emulator = Emulator()
    same = {"ACSCONTRACT_RUN_ID": "ci-run-4242"}
    with serve_in_thread(emulator) as upstream, real_account_standin(upstream) as standin:
        outputs = []
        for _ in range(2):
            run = _standin_run(
                standin, _root_key(emulator), tmp_path, "--max-recordings", "1", env_extra=same
            )
            out, err = run.communicate(timeout=300)
            assert run.returncode in (0, 1), err.decode()[-2000:]
            outputs.append(out.decode())
        started = standin.counts.recordings
    assert started == 1
    assert "1 billable recording-starting calls" in outputs[0]
    assert "0 billable recording-starting calls" in outputs[1]
