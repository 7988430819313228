"""Pacing shared through a file, target options from the environment, and redaction."""

from __future__ import annotations

import sys

import pytest

from acscontract.contracts.plugin import ExchangeLog, redact
from acscontract.contracts.targets import (
    ENV_PREFIX,
    TargetOptions,
    open_target,
    planned_resources,
)
from acscontract.errors import UsageError
from acscontract.spec import operation

OP = operation()


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


def test_a_url_target_without_credentials_says_what_is_missing(monkeypatch):
    for name in ("ACCESS_KEY_ID", "ACCESS_KEY_SECRET", "SECURITY_TOKEN"):
        monkeypatch.delenv(f"ALIBABA_CLOUD_{name}", raising=False)
    options = TargetOptions(target="http://127.0.0.1:9")  # nothing listens there
    with open_target(OP, options) as target:
        assert not target.usable
        assert target.admin is None
        assert any("ALIBABA_CLOUD_ACCESS_KEY_ID" in reason for reason in target.missing)
        assert any("--domain" in reason for reason in target.missing)
        # No admin API: treated as a real account, even on this machine (it may be a tunnel).
        assert not target.is_emulator
        assert not target.throttling_allowed
        assert target.store is not None


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


@pytest.mark.parametrize("kind", ["emulator", "emulator-http"])
def test_the_targets_own_client_reaches_its_emulator(kind):
    # The `client` fixture hands this client to contracts; in process it must not need sockets.
    with open_target(OP, TargetOptions(target=kind)) as target:
        params = target.params("start")
        response = target.client().call(OP.name, OP.product.version, params)
        assert (response.status, response.code) == (200, None)
        assert target.admin.task_state(*target.resource_parameters().values()) != (
            OP.lifecycle.initial
        )
        assert target.in_process is (kind == "emulator")


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


def test_hypothesis_home_is_the_cache_folder_only_while_the_suite_runs(tmp_path):
    from hypothesis import configuration

    from acscontract.contracts.runner import hypothesis_home

    before = configuration.storage_directory("x", intent_to_write=False).path
    with hypothesis_home(tmp_path / "h"):
        inside = configuration.storage_directory("x", intent_to_write=False).path
    after = configuration.storage_directory("x", intent_to_write=False).path
    assert inside == tmp_path / "h" / "x"
    assert after == before


@pytest.mark.skipif(
    sys.platform in ("win32", "darwin"), reason="XDG_CACHE_HOME is the Linux convention"
)
def test_the_cache_folder_follows_the_platform_conventions(monkeypatch, tmp_path):
    from acscontract.contracts.runner import CACHE_DIR_ENV, cache_dir

    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    monkeypatch.delenv(CACHE_DIR_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "acscontract"
