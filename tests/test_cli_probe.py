"""`acscontract probe rate-limit` through the command line, as a user runs it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import responses
import yaml

from acscontract.cli import main
from acscontract.emulator import load_seed
from acscontract.spec import operation

OP = operation()
LIMIT = OP.flow_control.limit or 0
REMOTE = "https://" + OP.product.default_endpoint
ANY_REMOTE_CALL = re.compile(re.escape(REMOTE) + r"/.*")
SECRET = "remote-secret-that-must-never-be-printed"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["probe", "rate-limit", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _private_pacing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Calls to a remote target are paced through a file store: this test's own."""
    monkeypatch.setenv("ACSCONTRACT_PACING_DIR", str(tmp_path / "pacing"))
    monkeypatch.delenv("ACSCONTRACT_PACING_STORE", raising=False)


@pytest.fixture
def remote_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIremoteKeyForTests01")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    monkeypatch.delenv("ALIBABA_CLOUD_SECURITY_TOKEN", raising=False)
    for name in ("ACSCONTRACT_DOMAIN", "ACSCONTRACT_APP", "ACSCONTRACT_STREAM"):
        monkeypatch.delenv(name, raising=False)


def seed_with_qps(tmp_path: Path, qps: int) -> Path:
    """The default seed, with the demo account limited to `qps` calls per window."""
    data = load_seed(None).to_json()
    data["accounts"][0]["qps"] = qps
    path = tmp_path / "seed.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_check_on_the_emulator_passes_and_prints_the_cost_first(capsys):
    code, out, err = run(capsys, "--target", "emulator")
    assert code == 0
    assert err.startswith(
        "Probe check of the in-process emulator (simulated time): up to 401 calls"
    )
    assert "no throttled calls expected" in err
    assert "Each call: RealTimeRecordCommand: Command=stop, DomainName=push.example.com" in err
    assert "Enforcement is not checked without --allow-throttling" in err
    assert "━" not in err  # no progress bar when stderr is not a terminal
    assert "capacity" in out
    assert "The endpoint behaves as documented." in out


def test_check_fails_on_an_endpoint_that_throttles_below_the_limit(capsys, tmp_path):
    code, out, _ = run(capsys, "--target", "emulator", "--seed", str(seed_with_qps(tmp_path, 30)))
    assert code == 1
    assert "FAIL capacity" in out
    assert "does not behave as documented (capacity failed)" in out


def test_check_with_allow_throttling_fails_on_an_endpoint_that_never_throttles(capsys, tmp_path):
    seed = str(seed_with_qps(tmp_path, 100_000))
    code, out, _ = run(capsys, "--target", "emulator", "--seed", seed, "--allow-throttling")
    assert code == 1
    assert "FAIL enforcement-throttles" in out
    assert run(capsys, "--target", "emulator", "--seed", seed)[0] == 0


@pytest.mark.parametrize("throttle", ["fixed-window", "sliding-log", "token-bucket"])
def test_measure_writes_json_and_plot(capsys, tmp_path, throttle):
    report, plot = tmp_path / "probe.json", tmp_path / "probe.png"
    code, out, err = run(
        capsys,
        "--target",
        "emulator",
        "--mode",
        "measure",
        "--throttle",
        throttle,
        "--json",
        str(report),
        "--plot",
        str(plot),
    )
    assert code == 0, err
    assert f"this agrees with the expected limit of {LIMIT}" in out
    assert "throttled calls expected" in err
    data = json.loads(report.read_text())
    assert data["limiter_kind"] == throttle
    assert abs(data["estimated_limit"] - LIMIT) <= 0.02 * LIMIT
    assert data["burst"] == LIMIT
    assert data["requests"] == data["accepted"] + data["throttled"]
    assert data["throttled"] > 0
    assert data["duration_s"] < 20
    assert {"windows", "bins_100ms", "phases", "estimate", "call"} <= data.keys()
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_limit_override_changes_what_measure_expects(capsys, tmp_path):
    seed = str(seed_with_qps(tmp_path, 200))
    code, out, _ = run(capsys, "--target", "emulator", "--mode", "measure", "--seed", seed)
    assert code == 1
    assert "Measured 200 calls per 1 s" in out
    assert f"does not agree with the expected limit of {LIMIT}" in out
    code, out, _ = run(
        capsys, "--target", "emulator", "--mode", "measure", "--seed", seed, "--limit", "200"
    )
    assert code == 0
    assert "agrees with the expected limit of 200" in out


def test_resources_come_from_the_environment(capsys, monkeypatch):
    monkeypatch.setenv("ACSCONTRACT_APP", "live")
    monkeypatch.setenv("ACSCONTRACT_STREAM", "stream1")
    code, _, err = run(capsys, "--target", "emulator", "--seconds", "1")
    assert code == 0
    assert "AppName=live, StreamName=stream1" in err


@pytest.mark.usefixtures("remote_credentials")
def test_measure_against_a_remote_target_is_refused_without_sending_anything(capsys):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, ANY_REMOTE_CALL, json={"RequestId": "x"})
        code, out, err = run(
            capsys, "--target", REMOTE, "--domain", "example.com", "--mode", "measure"
        )
        assert len(mock.calls) == 0
    assert code == 2
    assert "Pass --allow-throttling" in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert out == ""


@pytest.mark.usefixtures("remote_credentials")
@pytest.mark.parametrize(
    "args",
    [
        ["--max-rate", str(LIMIT * 2)],
        ["--max-calls", "100000"],
        ["--limit", str(LIMIT * 10)],
    ],
)
def test_ceilings_cannot_be_raised_against_a_remote_target(capsys, args):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, ANY_REMOTE_CALL, json={"RequestId": "x"})
        code, _, err = run(capsys, "--target", REMOTE, "--domain", "example.com", *args)
        assert len(mock.calls) == 0
    assert code == 2
    assert "--allow-throttling" in err


@pytest.mark.usefixtures("remote_credentials")
def test_a_permission_error_stops_the_probe_after_one_call(capsys):
    with responses.RequestsMock() as mock:
        mock.add(
            responses.POST,
            ANY_REMOTE_CALL,
            status=403,
            json={"Code": "Forbidden.RAM", "Message": "denied", "RequestId": "r"},
        )
        code, _, err = run(capsys, "--target", REMOTE, "--domain", "example.com")
        assert len(mock.calls) == 1
    assert code == 2
    assert "the probe stopped after 1 call: HTTP 403 Forbidden.RAM" in err
    assert OP.ram.action in err


@pytest.mark.usefixtures("remote_credentials")
def test_a_signature_error_stops_the_probe_and_never_prints_the_secret(capsys, tmp_path):
    report = tmp_path / "probe.json"
    message = (
        "Specified signature is not matched with our calculation. server string to sign is:"
        + SECRET
    )
    with responses.RequestsMock() as mock:
        mock.add(
            responses.POST,
            ANY_REMOTE_CALL,
            status=400,
            json={"Code": "SignatureDoesNotMatch", "Message": message, "RequestId": "r"},
        )
        code, out, err = run(
            capsys, "--target", REMOTE, "--domain", "example.com", "--json", str(report)
        )
        assert len(mock.calls) == 1
    assert code == 2
    assert "SignatureDoesNotMatch" in err
    for text in (out, err, report.read_text()):
        assert SECRET not in text
        assert "string to sign" not in text
    assert json.loads(report.read_text())["stopped"]["code"] == "SignatureDoesNotMatch"


@pytest.mark.usefixtures("remote_credentials")
def test_a_server_error_stops_the_probe_with_exit_1(capsys):
    with responses.RequestsMock() as mock:
        mock.add(
            responses.POST,
            ANY_REMOTE_CALL,
            status=503,
            json={"Code": "ServiceUnavailable", "Message": "busy", "RequestId": "r"},
        )
        code, _, err = run(capsys, "--target", REMOTE, "--domain", "example.com")
        assert len(mock.calls) == 1
    assert code == 1
    assert "HTTP 503 ServiceUnavailable" in err


@pytest.mark.usefixtures("remote_credentials")
@pytest.mark.parametrize(
    "body",
    ["<html><body>Welcome to nginx!</body></html>", '{"status": "ok"}', "[]"],
    ids=["web page", "other JSON", "a list"],
)
def test_a_2xx_answer_that_is_not_the_api_stops_the_probe_as_such(capsys, body):
    # It was counted as the operation succeeding ("... succeeded (HTTP 200), so ..."), a
    # misleading reason for a target that is not the API at all.
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, ANY_REMOTE_CALL, status=200, body=body)
        code, _, err = run(capsys, "--target", REMOTE, "--domain", "example.com")
        assert len(mock.calls) == 1
    assert code == 2  # stopped, as for any target that is not the operation's endpoint
    assert "the probe stopped after 1 call: HTTP 200 with a body that is not the API's JSON" in err
    assert "succeeded" not in err


@pytest.mark.usefixtures("remote_credentials")
def test_a_remote_target_needs_a_domain(capsys):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, ANY_REMOTE_CALL, json={"RequestId": "x"})
        code, _, err = run(capsys, "--target", REMOTE)
        assert len(mock.calls) == 0
    assert code == 2
    assert "--domain" in err


def test_names_are_shown_as_given_not_as_markup_or_terminal_codes(capsys):
    # rich read "[/x]" as a closing tag (internal error, exit 70) and "[bold]" as a style, so the
    # plan showed a name that was not the one sent; ESC reached the terminal as it was.
    app = "[bold]app[/x]\x1b[31m"
    code, out, err = run(capsys, "--target", "emulator", "--app", app, "--seconds", "1")
    assert code == 0, err
    assert "AppName=[bold]app[/x]\\x1b[31m," in err
    assert "\x1b" not in err + out


@pytest.mark.usefixtures("remote_credentials")
@pytest.mark.parametrize("target", ["http://[::1", "http://127.0.0.1:99999", "http://a b.example"])
def test_a_target_that_is_no_url_is_one_line_before_any_plan(capsys, target):
    code, out, err = run(capsys, "--target", target, "--domain", "example.com")
    assert code == 2, err
    assert err.count("\n") == 1
    assert err.startswith(f"acscontract: --target {target!r} is not a usable URL")
    assert out == ""


def test_missing_credentials_are_a_usage_error(capsys, monkeypatch):
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", raising=False)
    code, _, err = run(capsys, "--target", REMOTE, "--domain", "example.com")
    assert code == 2
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "live.aliyuncs.com"], "neither 'emulator' nor an http"),
        (["--target", REMOTE, "--throttle", "sliding-log"], "only with --target emulator"),
        (["--target", "emulator", "--throttle", "leaky"], "is not an algorithm"),
        (["--target", "emulator", "--seconds", "0"], "--seconds must be a finite number more"),
        (["--target", "emulator", "--mode", "guess"], "Invalid value for '--mode'"),
        # Each of these was an internal error, a silent pass or a run killed for its memory:
        (["--target", "emulator", "--seconds", "inf"], "--seconds must be a finite number"),
        (["--target", "emulator", "--max-rate", "nan"], "--max-rate must be a finite number"),
        (["--target", "emulator", "--seconds", "1e308"], "more than 1,000,000 calls"),
        (["--target", "emulator", "--limit", "99999999999999999999"], "more than 1,000,000 calls"),
        (
            ["--target", "emulator", "--max-calls", "99999999999", "--allow-throttling"],
            "the most the probe sends in one run",
        ),
    ],
)
def test_bad_usage_exits_2_with_one_clear_line(capsys, args, message):
    code, _, err = run(capsys, *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("name", "magic"), [("probe.svg", b"<?xml"), ("probe.pdf", b"%PDF-"), ("probe.PNG", b"\x89PNG")]
)
def test_the_plot_has_the_format_its_name_asks_for(capsys, tmp_path, name, magic):
    plot = tmp_path / name
    code, _, _ = run(capsys, "--target", "emulator", "--seconds", "1", "--plot", str(plot))
    assert code == 0
    assert plot.read_bytes().startswith(magic)


@pytest.mark.usefixtures("remote_credentials")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--plot", "probe.jpg"], ".jpg is not a plot format"),
        (["--plot", "probe"], "no suffix is not a plot format"),
        (["--json", "/nonexistent-folder/probe.json"], "does not exist"),
        (["--plot", "/nonexistent-folder/probe.png"], "does not exist"),
        (["--pacing-store", "http://127.0.0.1:1/0"], "not a Redis URL"),
        (["--pacing-store", "redis://127.0.0.1:1/0"], "does not answer"),
    ],
)
def test_outputs_and_the_pacing_store_are_checked_before_any_call(capsys, args, message):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, ANY_REMOTE_CALL, json={"Code": "CodeConfigNotFound"})
        code, out, err = run(capsys, "--target", REMOTE, "--domain", "example.com", *args)
        assert len(mock.calls) == 0
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert out == ""


def test_the_in_process_emulator_has_no_pacing_store(capsys):
    code, _, err = run(capsys, "--target", "emulator", "--pacing-store", "redis://x:1/0")
    assert code == 2
    assert "--pacing-store" in err


def test_a_measurement_too_small_to_see_the_limit_is_inconclusive(capsys, tmp_path):
    report = tmp_path / "probe.json"
    code, out, err = run(
        capsys,
        "--target",
        "emulator",
        "--mode",
        "measure",
        "--max-calls",
        "10",
        "--json",
        str(report),
    )
    assert code == 3
    assert "it cannot see the limit, and the result will be inconclusive" in err  # the plan
    assert out.strip().splitlines()[-1].startswith("Inconclusive: the run sent at most 9 calls")
    data = json.loads(report.read_text())
    assert (data["verdict"], data["passed"]) == ("inconclusive", False)
    assert "raise --max-calls" in data["inconclusive"]


def test_a_limiter_that_never_throttles_is_a_failure_not_inconclusive(capsys, tmp_path):
    """A dense run that exceeds the limit and sees no throttling fails (exit 1)."""
    seed = seed_with_qps(tmp_path, 10_000)
    code, out, _ = run(capsys, "--target", "emulator", "--mode", "measure", "--seed", str(seed))
    assert code == 1
    assert "Inconclusive" not in out


def test_the_polite_calls_share_the_redis_pacing_budget(capsys, tmp_path, redis_url, monkeypatch):
    import redis

    from acscontract.emulator import Emulator, serve_in_thread

    emulator = Emulator()
    root = next(k for k in emulator.seed.accounts[0].access_keys if k.user is None)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", root.id)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", root.secret)
    report = tmp_path / "probe.json"
    with serve_in_thread(emulator) as url:
        code, out, err = run(
            capsys,
            "--target",
            url,
            "--domain",
            emulator.seed.accounts[0].domains[0].name,
            "--seconds",
            "1.5",
            "--pacing-store",
            redis_url,
            "--json",
            str(report),
        )
    assert code == 0, out + err
    keys = [k.decode() for k in redis.Redis.from_url(redis_url).keys("acscontract:pace:*")]
    # The schedule of this endpoint, and when it was last written (its companion key).
    schedules = [k for k in keys if not k.endswith(":at")]
    assert len(schedules) == 1
    assert sorted(keys) == [schedules[0], f"{schedules[0]}:at"]
    windows = json.loads(report.read_text())["windows"]
    assert max(w["accepted"] for w in windows) <= 40


def _an_operation(**wanted: object) -> str:
    """The first operation of the product whose spec matches `wanted` (by attribute test)."""
    from acscontract.contracts.selection import select_operations

    for op in select_operations("all").operations:
        flow = op.flow_control
        if wanted.get("limit") is None and flow.limit is not None:
            continue
        if wanted.get("limit") == "documented" and flow.limit is None:
            continue
        if "writes" in wanted and bool(op.writes) != wanted["writes"]:
            continue
        if "lifecycle" in wanted and (op.lifecycle is not None) != wanted["lifecycle"]:
            continue
        if wanted.get("required") and not op.required_parameters:
            continue
        return op.name
    raise LookupError(wanted)


@pytest.mark.usefixtures("remote_credentials")
def test_an_operation_without_a_documented_limit_is_refused_before_anything_is_sent(capsys):
    name = _an_operation(limit=None)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, ANY_REMOTE_CALL, json={"RequestId": "x"})
        code, out, err = run(
            capsys, "--target", REMOTE, "--domain", "example.com", "--operation", name
        )
        assert len(mock.calls) == 0
    assert code == 2
    assert f"The spec of {name} documents no flow-control limit" in err
    assert len(err.strip().splitlines()) == 1
    assert out == ""


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("RealTimeRecordComand", "did you mean RealTimeRecordCommand?"),
        ("all", "names 403 operations; the probe measures one"),
    ],
)
def test_the_probe_takes_one_known_operation(capsys, value, message):
    code, out, err = run(capsys, "--target", "emulator", "--operation", value)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert out == ""


def test_a_writing_operation_is_probed_with_a_request_its_spec_refuses(capsys):
    """The probe of an operation that writes leaves out a required parameter: every call is
    refused with a parameter error and changes nothing."""
    name = _an_operation(limit="documented", writes=True, lifecycle=False, required=True)
    from acscontract.spec import product_operation

    op = product_operation(OP.product, name)
    left_out = op.required_parameters[0].name
    code, out, err = run(capsys, "--target", "emulator", "--operation", name)
    assert code == 0, err
    assert f"Each call: {name} (without its required {left_out}: refused" in err
    assert f"{left_out}=" not in err.split("Each call:")[1].splitlines()[0]
    assert "The endpoint behaves as documented." in out + err
