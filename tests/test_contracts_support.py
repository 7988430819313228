"""Pacing shared through a file, target options from the environment, and redaction."""

from __future__ import annotations

import itertools
import threading

import pytest

from acscontract.contracts.pacing import PACING_SHARE, SharedPacer, pacer_for
from acscontract.contracts.plugin import ExchangeLog, redact
from acscontract.contracts.targets import (
    ENV_PREFIX,
    TargetOptions,
    is_loopback,
    open_target,
    planned_resources,
)
from acscontract.errors import UsageError
from acscontract.spec import operation

OP = operation()


class FakeTime:
    def __init__(self):
        self.now = 1000.0
        self.slept = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_pacer_interval_is_a_share_of_the_spec_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("ACSCONTRACT_PACING_DIR", str(tmp_path))
    pacer = pacer_for("https://live.aliyuncs.com", OP.flow_control)
    flow = OP.flow_control
    assert pacer.interval == pytest.approx(flow.per_seconds / (flow.limit * PACING_SHARE))
    assert pacer.path.parent == tmp_path
    assert pacer_for("https://live.aliyuncs.com", flow).path == pacer.path
    assert pacer_for("https://other.example", flow).path != pacer.path


def test_two_pacers_on_one_file_share_one_schedule(tmp_path):
    fake = FakeTime()
    path = tmp_path / "target.next"
    # Two workers (two processes in real life) with their own pacer over the same file.
    first = SharedPacer(path, 0.025, clock=fake.clock, sleep=fake.sleep)
    second = SharedPacer(path, 0.025, clock=fake.clock, sleep=fake.sleep)
    slots = [p.reserve() for p in (first, second, first, second)]
    assert slots == pytest.approx([1000.0, 1000.025, 1000.05, 1000.075])


def test_paced_calls_never_exceed_the_share_in_any_window(tmp_path):
    interval = 0.002
    pacer = SharedPacer(tmp_path / "t.next", interval)
    times: list[float] = []
    lock = threading.Lock()

    def worker():
        for _ in range(15):
            pacer.wait()
            with lock:
                times.append(pacer.clock())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    times.sort()
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) == 60
    # Every call had its own slot: the whole run took at least 59 intervals.
    assert times[-1] - times[0] >= interval * 59 * 0.9
    assert min(gaps) >= 0


def test_options_fall_back_to_environment_variables():
    env = {
        ENV_PREFIX + "TARGET": "https://live.aliyuncs.com",
        ENV_PREFIX + "DOMAIN": "d.example",
        ENV_PREFIX + "STREAM": "s",
        ENV_PREFIX + "ALLOW_THROTTLING": "yes",
    }
    options = TargetOptions.resolve({"app": "a", "stream": "given"}, env)
    assert options.target == "https://live.aliyuncs.com"
    assert (options.domain, options.app, options.stream) == ("d.example", "a", "given")
    assert options.allow_throttling is True
    with pytest.raises(UsageError, match="yes/no"):
        TargetOptions.resolve({}, {ENV_PREFIX + "ALLOW_THROTTLING": "maybe"})


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8080", True),
        ("http://localhost", True),
        ("http://[::1]:9", True),
        ("https://live.aliyuncs.com", False),
        ("http://10.0.0.1", False),
    ],
)
def test_is_loopback(url, loopback):
    assert is_loopback(url) is loopback


def test_a_url_target_without_credentials_says_what_is_missing(monkeypatch):
    for name in ("ACCESS_KEY_ID", "ACCESS_KEY_SECRET", "SECURITY_TOKEN"):
        monkeypatch.delenv(f"ALIBABA_CLOUD_{name}", raising=False)
    options = TargetOptions(target="http://127.0.0.1:9")  # nothing listens there
    with open_target(OP, options) as target:
        assert not target.usable
        assert target.admin is None
        assert any("ALIBABA_CLOUD_ACCESS_KEY_ID" in reason for reason in target.missing)
        assert any("--domain" in reason for reason in target.missing)
        assert not target.loopback or target.throttling_allowed


def test_the_in_process_emulator_target_comes_from_the_seed():
    with open_target(OP, TargetOptions()) as target:
        assert target.usable
        assert target.own_emulator
        assert target.in_process
        assert target.resources == planned_resources(OP, TargetOptions())
        assert target.resources.stream_offline
        assert target.resources.app_without_config
        assert target.deny_credentials
        assert target.inactive_credentials is not None
        assert target.admin.task_state(*target.resource_parameters().values()) == (
            OP.lifecycle.initial
        )


def test_redaction_masks_signatures_tokens_and_given_secrets():
    text = (
        "GET http://x/?A=1&Signature=abc%2Bdef&SecurityToken=tok&B=2\n"
        "  authorization: ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host,"
        "Signature=0123456789abcdef0123\n"
        "  x-acs-security-token: tok\n"
        "string to sign is:POST&%2F&AccessKeyId%3DAK%26SecurityToken%3Dtok%26Timestamp%3D1\n"
        'and the secret "s3cr3t/value" leaked'
    )
    out = redact(text, ("s3cr3t/value",))
    assert "abc%2Bdef" not in out
    assert "0123456789abcdef0123" not in out
    assert "tok" not in out.replace("token", "")
    assert "s3cr3t" not in out
    assert "AccessKeyId%3DAK" in out  # identifiers stay readable
    assert redact("missing signature: [expected-outcome] Got X") == (
        "missing signature: [expected-outcome] Got X"
    )


def test_exchange_log_redacts_what_it_keeps():
    with open_target(OP, TargetOptions()) as target:
        response = target.call(target.params(OP.command_parameter.enum[0]))
    log = ExchangeLog(secrets=(target.credentials.access_key_secret,))
    log.record(response)
    assert log.last is not None
    assert "Signature=***" in log.last or "Signature=" not in log.last
    assert "-> HTTP 200" in log.last
    assert target.credentials.access_key_secret not in log.last
