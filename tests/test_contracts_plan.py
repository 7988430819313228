"""A run's cost: the plan's bounds hold, and a real account (the stand-in: a served emulator
behind a proxy that hides the admin API) gets at most --max-recordings recordings, paced traffic,
and a summary that counts what the proxy counted."""

from __future__ import annotations

import pytest

from acscontract.cli import main
from acscontract.contracts.plan import ACCOUNT_EXAMPLES, run_plan
from acscontract.contracts.plugin import PROFILES, settings_of
from acscontract.contracts.runner import run_contracts
from acscontract.contracts.selection import select_operations
from acscontract.contracts.standin import real_account_standin
from acscontract.contracts.targets import TargetOptions, open_target
from acscontract.emulator import Emulator, serve_in_thread
from acscontract.signing import ENV_ACCESS_KEY_ID, ENV_ACCESS_KEY_SECRET, ENV_SECURITY_TOKEN
from acscontract.spec import operation

OP = operation()
RESOURCES = ("push.example.com", "live", "stream1")


@pytest.fixture
def standin(monkeypatch, tmp_path):
    """A real account's stand-in in front of a fresh served emulator, and its root key set."""
    emulator = Emulator()
    root = next(k for k in emulator.seed.accounts[0].access_keys if k.user is None)
    monkeypatch.setenv(ENV_ACCESS_KEY_ID, root.id)
    monkeypatch.setenv(ENV_ACCESS_KEY_SECRET, root.secret)
    monkeypatch.delenv(ENV_SECURITY_TOKEN, raising=False)
    monkeypatch.setenv("ACSCONTRACT_PACING_DIR", str(tmp_path / "pacing"))
    for name in ("PACING_STORE", "MAX_RECORDINGS", "TARGET", "PROFILE"):
        monkeypatch.delenv(f"ACSCONTRACT_{name}", raising=False)
    with serve_in_thread(emulator) as upstream, real_account_standin(upstream) as proxy:
        yield proxy


def _plan(target, profile, max_recordings):
    return run_plan(
        OP,
        profile,
        settings_of(profile),
        resources=target.resources,
        deny_keys=len(target.deny_credentials),
        allow_throttling=False,
        max_recordings=max_recordings,
    )


def test_a_real_account_run_is_within_its_plan_and_budget(standin):
    domain, app, stream = RESOURCES
    options = TargetOptions(
        target=standin.url, domain=domain, app=app, stream=stream, max_recordings=2
    )
    with open_target(OP, options) as target:
        assert not target.is_emulator  # the proxy hides the admin API
        plan = _plan(target, "selftest", 2)
    result = run_contracts(
        options, profile="selftest", quiet=False, pytest_args=["-p", "no:terminal"]
    )
    counts = standin.counts
    assert result.exit_code == 0, result.areas
    assert result.summary["target"] == f"endpoint at {standin.url}"
    # The billable calls: never past the budget, and the summary says what the proxy saw.
    assert counts.recordings == result.summary["recordings"] == 2
    assert counts.requests == result.summary["requests"]
    assert counts.hidden > 0  # the suite asked for the admin API, and was refused
    skipped = {r for area in result.areas.values() for r in area["skip_reasons"]}
    assert any("--max-recordings" in reason for reason in skipped), skipped
    for name, area in result.areas.items():
        assert area["requests"] <= plan.areas[name].requests, (name, area, plan.areas[name])
    assert counts.requests <= plan.requests


@pytest.mark.parametrize("profile", PROFILES)
def test_real_account_profiles_stay_small(profile):
    options = TargetOptions(target="https://live.aliyuncs.com", domain="d", app="a", stream="s")
    with open_target(OP, options) as target:
        plan = _plan(target, profile, 3)
    assert plan.recordings <= 3
    assert ACCOUNT_EXAMPLES[profile] < settings_of(profile).max_examples
    if profile == "quick":
        assert plan.requests <= 2000


def test_the_cli_prints_the_plan_first_and_the_cost_last(standin, capsys):
    domain, app, stream = RESOURCES
    code = main(
        [
            "run",
            "--target",
            standin.url,
            "--domain",
            domain,
            "--app",
            app,
            "--stream",
            stream,
            "--max-recordings",
            "1",
            "--",
            "-k",
            "gateway or idle-start",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    plan_at = out.index("Plan against endpoint at")
    assert "no admin API: a real account" in out
    assert "paced at most 40 calls per second" in out
    assert "quick (this run)" in out
    assert plan_at < out.index("Contract areas against")
    cost = out.strip().splitlines()[-2]
    requests = standin.counts.requests
    assert cost == (
        f"Sent {requests} requests; 1 billable recording-starting calls (--max-recordings 1); "
        "0 writes (--max-writes 0)."
    )
    assert standin.counts.recordings == 1


WRITING = ("AddLiveAppRecordConfig", "DescribeLiveRecordConfig", "DeleteLiveAppRecordConfig")


@pytest.mark.parametrize("max_writes", [0, 1])
def test_writing_operations_on_a_real_account_stay_within_max_writes(standin, max_writes):
    """On a real account the valid request of an operation the spec says writes is sent only
    within --max-writes; its refused requests name a domain that does not exist. The plan states
    the writes, and the proxy sees no more."""
    names = ",".join(WRITING)
    chosen = select_operations(names)
    assert [op.name for op in chosen.writing] == [
        "AddLiveAppRecordConfig",
        "DeleteLiveAppRecordConfig",
    ]
    options = TargetOptions(
        target=standin.url,
        domain=RESOURCES[0],
        operation=names,
        max_writes=max_writes,
    )
    with open_target(None, options) as target:
        assert not target.is_emulator
        plan = run_plan(
            chosen.operations,
            "selftest",
            settings_of("selftest"),
            resources=target.resources,
            deny_keys=len(target.deny_credentials),
            allow_throttling=False,
            max_recordings=3,
            max_writes=max_writes,
        )
    assert plan.writes_wanted == 2
    assert plan.writes == max_writes
    result = run_contracts(
        options, profile="selftest", quiet=False, pytest_args=["-p", "no:terminal"]
    )
    counts = standin.counts
    assert result.exit_code == 0, result.areas
    assert counts.writes == result.summary["writes"] <= max_writes
    assert counts.recordings == 0
    assert counts.requests == result.summary["requests"] <= plan.requests
    # What the budget did not cover is skipped, naming the option.
    skipped = {r for area in result.areas.values() for r in area["skip_reasons"]}
    assert any("--max-writes" in reason for reason in skipped), skipped
    # The writes that were sent are the operations' valid requests, nothing else.
    assert sum(counts.writes_by_operation.values()) == counts.writes
    assert set(counts.writes_by_operation) <= {op.name for op in chosen.writing}
