"""The contract suite catches drift: it fails against deliberately broken emulators.

Each deviation patches the emulator class in this process (its `handle`, or one of its parts),
runs the whole bundled suite with the small `selftest` profile, and expects it to fail; the
faithful emulator must pass. Both front doors are checked: the emulator in process, and an
emulator served over HTTP and named by URL (as `acscontract emulator serve` is), whose seed,
keys and resources the suite reads through the admin API. The faithful served emulator must also
pass with users' own seeds (tests/data/seeds). The mutation score (deviations caught /
deviations) is printed per front door.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from acscontract.contracts.runner import run_contracts
from acscontract.contracts.targets import TargetOptions
from acscontract.emulator import Emulator, EmulatorRequest, EmulatorResponse, serve_in_thread
from acscontract.signing import (
    ENV_ACCESS_KEY_ID,
    ENV_ACCESS_KEY_SECRET,
    ENV_SECURITY_TOKEN,
    Verified,
    decode_pairs,
)
from acscontract.spec import operation

SEEDS = Path(__file__).parent / "data" / "seeds"

OP = operation()
COMMAND = OP.command_parameter.name
MISSING = OP.check_code("missingParameter")
MALFORMED = OP.check_code("malformedParameter")
# The documented state error of the lifecycle (a second start while recording).
STATE_ERROR = next(t.error for t in OP.lifecycle.transitions if t.documented and t.error)
SERVER_ERROR = OP.protocol.gateway_errors_in("server")[0]
# A command whose success is common in every area: the documented way out of recording.
PAUSE = next(
    t.trigger
    for t in OP.lifecycle.transitions
    if t.documented
    and t.source != OP.lifecycle.initial
    and t.trigger in OP.command_parameter.enum
    and t.error is None
    and t.next_state not in (t.source, OP.lifecycle.initial)
)

Transform = Callable[[EmulatorRequest, EmulatorResponse], EmulatorResponse]


def _body(response: EmulatorResponse) -> dict:
    return json.loads(response.body) if response.body else {}


def _with_body(
    response: EmulatorResponse, body: dict, status: int | None = None
) -> EmulatorResponse:
    return replace(
        response,
        status=response.status if status is None else status,
        body=json.dumps(body).encode(),
    )


def _success(response: EmulatorResponse) -> EmulatorResponse:
    return _with_body(response, {"RequestId": _body(response)["RequestId"]}, status=200)


def _command(request: EmulatorRequest) -> str | None:
    pairs = dict(decode_pairs(request.query))
    return pairs.get(COMMAND)


def wrong_status(request, response):
    body = _body(response)
    if body.get("Code") == STATE_ERROR:
        statuses = {e.http_status for e in OP.errors} - set(OP.documented_statuses(STATE_ERROR))
        return replace(response, status=min(statuses))
    return response


def missing_request_id(request, response):
    body = _body(response)
    body.pop("RequestId", None)
    return _with_body(response, body)


def undocumented_code(request, response):
    body = _body(response)
    if body.get("Code") == MALFORMED:
        body["Code"] = MALFORMED + ".Undocumented"
        return _with_body(response, body)
    return response


def missing_parameter_accepted(request, response):
    return _success(response) if _body(response).get("Code") == MISSING else response


def double_start_accepted(request, response):
    return _success(response) if _body(response).get("Code") == STATE_ERROR else response


def wrong_error_content_type(request, response):
    if response.status == 200:
        return response
    headers = tuple(
        (k, "text/plain; charset=utf-8" if k.lower() == "content-type" else v)
        for k, v in response.headers
    )
    return replace(response, headers=headers)


def server_error_on_valid_input(request, response):
    if response.status == 200 and _command(request) == PAUSE:
        body = {**_body(response), "Code": SERVER_ERROR.code, "Message": "boom", "HostId": "x"}
        return _with_body(response, body, status=SERVER_ERROR.http_status)
    return response


def malformed_command_accepted(request, response):
    command = _command(request)
    if _body(response).get("Code") == MALFORMED and command not in OP.command_parameter.enum:
        return _success(response)
    return response


def _patch_handle(monkeypatch: pytest.MonkeyPatch, transform: Transform) -> None:
    original = Emulator.handle

    def handle(self: Emulator, request: EmulatorRequest) -> EmulatorResponse:
        return transform(request, original(self, request))

    monkeypatch.setattr(Emulator, "handle", handle)


def _accept_bad_signatures(monkeypatch: pytest.MonkeyPatch) -> None:
    import acscontract.emulator._core as core

    monkeypatch.setattr(
        core, "verify", lambda parsed, secret: Verified(parsed.scheme, parsed.access_key_id, "")
    )


def _never_throttle(monkeypatch: pytest.MonkeyPatch) -> None:
    from acscontract.emulator._throttle import AccountThrottle

    monkeypatch.setattr(AccountThrottle, "try_acquire", lambda self, account, now: True)


DEVIATIONS: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "wrong status for a documented code": lambda mp: _patch_handle(mp, wrong_status),
    "missing RequestId": lambda mp: _patch_handle(mp, missing_request_id),
    "an undocumented error code": lambda mp: _patch_handle(mp, undocumented_code),
    "a bad signature accepted": _accept_bad_signatures,
    "a missing parameter accepted": lambda mp: _patch_handle(mp, missing_parameter_accepted),
    "a double start accepted": lambda mp: _patch_handle(mp, double_start_accepted),
    "no throttling": _never_throttle,
    "the wrong content type on errors": lambda mp: _patch_handle(mp, wrong_error_content_type),
    "5xx on valid input": lambda mp: _patch_handle(mp, server_error_on_valid_input),
    "a malformed Command accepted": lambda mp: _patch_handle(mp, malformed_command_accepted),
}


@dataclass(frozen=True)
class Served:
    """A seed to serve, and what a user of it would pass to `acscontract run`."""

    seed: Path | None
    key: tuple[str, str, str | None]
    resources: tuple[str, str, str]


DEFAULT_SEED = Served(
    None,
    ("LTAIemulatorRootKey0001", "emulator-root-secret-not-real-0001", None),
    ("push.example.com", "live", "stream1"),
)
USER_SEEDS = {
    "minimal": Served(
        SEEDS / "minimal.yaml",
        ("LTAIminimalRoot000001", "minimal-root-secret-not-real", None),
        ("live.example.org", "rec", "cam-1"),
    ),
    "ram-user": Served(
        SEEDS / "ram-user.yaml",
        ("LTAIstudioRecorder001", "studio-recorder-secret-not-real", None),
        ("push.studio-café.example", "evening_news.v2", "desk.cam_1"),
    ),
    "sts-role": Served(
        SEEDS / "sts-role.yaml",
        (
            "STS.ciRecorderSession01",
            "ci-recorder-sts-secret-not-real",
            "ci-recorder-sts-token-not-real",
        ),
        ("ci.example.net", "app", "main"),
    ),
}


@contextlib.contextmanager
def _served(monkeypatch: pytest.MonkeyPatch, served: Served) -> Iterator[TargetOptions]:
    """A fresh emulator of `served.seed` behind a real HTTP server, and the options naming it."""
    emulator = Emulator(served.seed)
    key_id, secret, token = served.key
    monkeypatch.setenv(ENV_ACCESS_KEY_ID, key_id)
    monkeypatch.setenv(ENV_ACCESS_KEY_SECRET, secret)
    if token is None:
        monkeypatch.delenv(ENV_SECURITY_TOKEN, raising=False)
    else:
        monkeypatch.setenv(ENV_SECURITY_TOKEN, token)
    domain, app, stream = served.resources
    with serve_in_thread(emulator) as url:
        yield TargetOptions(target=url, domain=domain, app=app, stream=stream)
    assert _limits(emulator) == _limits(Emulator(served.seed)), "the accounts' limits came back"


def _limits(emulator: Emulator) -> list[int | None]:
    return [account.get("qps") for account in emulator.snapshot()["seed"]["accounts"]]


def _run(options: TargetOptions | None = None):
    return run_contracts(
        options or TargetOptions(),
        profile="selftest",
        quiet=False,
        pytest_args=["-p", "no:terminal"],
    )


AREAS = {
    "response-schema",
    "valid-requests",
    "invalid-requests",
    "gateway",
    "lifecycle",
    "throttling",
    "ram",
    "schemathesis",
}


def _failures(result):
    return {name: area["first_failure"] for name, area in result.areas.items() if area["failed"]}


def test_suite_passes_against_the_faithful_emulator():
    result = _run()
    assert result.exit_code == 0, (
        f"the suite fails against the faithful emulator: {_failures(result)}"
    )
    assert result.passed > 0
    assert set(result.areas) >= AREAS
    assert not any(area["skipped"] for area in result.areas.values()), result.areas


def test_suite_passes_against_the_faithful_served_emulator(monkeypatch):
    """`acscontract emulator serve` with its default seed: every contract runs, none fails."""
    with _served(monkeypatch, DEFAULT_SEED) as options:
        result = _run(options)
    assert result.exit_code == 0, (
        f"false positives against the served emulator: {_failures(result)}"
    )
    assert set(result.areas) >= AREAS
    assert not any(area["skipped"] for area in result.areas.values()), result.areas


@pytest.mark.parametrize("name", sorted(USER_SEEDS))
def test_suite_passes_against_a_served_emulator_with_a_user_seed(monkeypatch, name):
    """No false positive with a user's own seed; what a seed cannot give is skipped, saying why."""
    with _served(monkeypatch, USER_SEEDS[name]) as options:
        result = _run(options)
    assert result.exit_code == 0, f"false positives with the seed {name}: {_failures(result)}"
    assert set(result.areas) >= AREAS
    assert result.passed > 40
    for area in result.areas.values():
        assert all(reason.strip() for reason in area["skip_reasons"]), area


@pytest.mark.parametrize("front_door", ["in process", "served"])
def test_suite_catches_every_deviation(monkeypatch, capsys, front_door):
    caught: dict[str, list[str]] = {}
    missed: list[str] = []
    start = time.perf_counter()
    for name, apply in DEVIATIONS.items():
        with monkeypatch.context() as patch:
            apply(patch)
            if front_door == "served":
                with _served(patch, DEFAULT_SEED) as options:
                    result = _run(options)
            else:
                result = _run()
        if result.exit_code == 1 and result.failed:
            caught[name] = sorted(area for area, r in result.areas.items() if r["failed"])
        else:
            missed.append(name)
    score = f"mutation score ({front_door}): {len(caught)}/{len(DEVIATIONS)}"
    with capsys.disabled():
        print(f"\n{score} in {time.perf_counter() - start:.1f}s")
        for name, areas in caught.items():
            print(f"  caught {name}: by {', '.join(areas)}")
        for name in missed:
            print(f"  MISSED {name}")
    assert not missed, f"{score}; the suite did not catch: {', '.join(missed)}"
