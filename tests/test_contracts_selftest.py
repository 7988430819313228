"""The contract suite catches drift: it fails against deliberately broken emulators.

Each deviation patches the emulator in this process (its `handle`, or one of its parts), runs the
whole bundled suite in process with the small `selftest` profile, and expects it to fail; the
faithful emulator must pass. The mutation score (deviations caught / deviations) is printed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace

import pytest

from acscontract.contracts.runner import run_contracts
from acscontract.contracts.targets import TargetOptions
from acscontract.emulator import Emulator, EmulatorRequest, EmulatorResponse
from acscontract.signing import Verified, decode_pairs
from acscontract.spec import operation

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


def _run():
    return run_contracts(
        TargetOptions(), profile="selftest", quiet=False, pytest_args=["-p", "no:terminal"]
    )


def test_suite_passes_against_the_faithful_emulator():
    result = _run()
    failures = {
        name: area["first_failure"] for name, area in result.areas.items() if area["failed"]
    }
    assert result.exit_code == 0, f"the suite fails against the faithful emulator: {failures}"
    assert result.passed > 0
    assert set(result.areas) >= {
        "response-schema",
        "valid-requests",
        "invalid-requests",
        "gateway",
        "lifecycle",
        "throttling",
        "ram",
        "schemathesis",
    }
    assert not any(area["skipped"] for area in result.areas.values()), result.areas


def test_suite_catches_every_deviation(monkeypatch, capsys):
    caught: dict[str, list[str]] = {}
    missed: list[str] = []
    start = time.perf_counter()
    for name, apply in DEVIATIONS.items():
        with monkeypatch.context() as patch:
            apply(patch)
            result = _run()
        if result.exit_code == 1 and result.failed:
            caught[name] = sorted(area for area, r in result.areas.items() if r["failed"])
        else:
            missed.append(name)
    score = f"mutation score: {len(caught)}/{len(DEVIATIONS)}"
    with capsys.disabled():
        print(f"\n{score} in {time.perf_counter() - start:.1f}s")
        for name, areas in caught.items():
            print(f"  caught {name}: by {', '.join(areas)}")
        for name in missed:
            print(f"  MISSED {name}")
    assert not missed, f"{score}; the suite did not catch: {', '.join(missed)}"
