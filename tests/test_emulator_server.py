"""The server-side front doors: the ASGI app and its admin API, the thread server, the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests

from acscontract.cli import main
from acscontract.emulator import (
    Emulator,
    ManualClock,
    StateFile,
    StatePersister,
    SystemClock,
    asgi_app,
    serve_in_thread,
    signed_request,
)
from acscontract.signing import Credentials
from acscontract.spec import operation

OP = operation()
ROOT = Credentials("LTAIemulatorRootKey0001", "emulator-root-secret-not-real-0001")
PARAMS = {
    "Command": "start",
    "DomainName": "push.example.com",
    "AppName": "live",
    "StreamName": "stream1",
}
TASK_ALREADY_STARTED = OP.lifecycle.transition("recording", "start").error  # type: ignore[union-attr]
HOST = OP.product.default_endpoint


def asgi(
    app: Any,
    method: str,
    path: str,
    *,
    client: tuple[str, int] = ("127.0.0.1", 40000),
    **kwargs: Any,
) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{HOST}") as c:
            return await c.request(method, path, **kwargs)

    return asyncio.run(go())


def asgi_call(app: Any, params: dict[str, str] = PARAMS, **kw: Any) -> httpx.Response:
    request = signed_request(params, ROOT, **kw)
    return asgi(
        app,
        request.method,
        f"/?{request.query}",
        headers={k: v for k, v in request.headers.items() if k != "host"},
        content=request.body,
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def em(clock: ManualClock) -> Emulator:
    return Emulator(clock=clock)


# -- ASGI: the endpoint --------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["v1", "v3"])
def test_the_asgi_app_serves_the_endpoint_at_any_path(em, scheme):
    app = asgi_app(em)
    response = asgi_call(app, scheme=scheme)
    assert response.status_code == 200
    assert response.headers["content-type"] == OP.protocol.error_content_type
    assert set(response.json()) == {"RequestId"}
    again = asgi_call(app, scheme=scheme)
    assert again.status_code == OP.status_of(TASK_ALREADY_STARTED)
    assert again.json()["Code"] == TASK_ALREADY_STARTED
    other = asgi(app, "POST", "/some/other/path?Action=Nope")
    assert other.json()["Code"] == OP.protocol.gateway_errors_in("action")[0].code


def test_the_asgi_app_passes_client_ip_and_scheme_to_ram(clock):
    seed = Emulator().seed.to_json()
    seed["accounts"][0]["access_keys"][0]["user"] = "recorder"
    seed["accounts"][0]["users"][0]["policies"] = [
        {
            "Version": "1",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": OP.ram.action,
                    "Resource": "*",
                    "Condition": {"IpAddress": {"acs:SourceIp": "10.1.0.0/16"}},
                }
            ],
        }
    ]
    app = asgi_app(Emulator(seed, clock=clock))
    request = signed_request(PARAMS, ROOT)
    headers = {k: v for k, v in request.headers.items() if k != "host"}
    refused = asgi(app, "POST", f"/?{request.query}", headers=headers)
    assert refused.status_code == 403
    request = signed_request(PARAMS, ROOT)
    headers = {k: v for k, v in request.headers.items() if k != "host"}
    allowed = asgi(app, "POST", f"/?{request.query}", headers=headers, client=("10.1.2.3", 5))
    assert allowed.status_code == 200


def test_a_dropped_connection_raises_connection_error_in_process(em):
    em.add_fault({"kind": "drop"})
    with pytest.raises(ConnectionError):
        asgi_call(asgi_app(em))


# -- ASGI: the admin API -------------------------------------------------------------------------


def test_admin_state_reset_and_recordings(em):
    app = asgi_app(em)
    asgi_call(app)
    state = asgi(app, "GET", "/_emulator/state").json()
    assert state["operation"] == OP.qualified_name
    assert state["throttle"] == OP.flow_control.default_algorithm
    stream = next(s for s in state["streams"] if s["stream"] == "stream1" and s["app"] == "live")
    assert stream == {
        "domain": "push.example.com",
        "app": "live",
        "stream": "stream1",
        "online": True,
        "task": "recording",
    }
    assert "secret" not in json.dumps(state)
    assert asgi(app, "POST", "/_emulator/reset").json() == {"reset": True}
    assert asgi(app, "GET", "/_emulator/recordings").json() == {"recordings": []}
    assert em.state.tasks == {}


def test_admin_streams_and_clock_drive_the_lifecycle(em):
    app = asgi_app(em)
    asgi_call(app)
    response = asgi(
        app, "POST", "/_emulator/streams/push.example.com/live/stream1", json={"online": False}
    )
    assert response.json()["task"] == "stopped"
    delay = OP.lifecycle.timers["interruptionDelay"]  # type: ignore[union-attr]
    advanced = asgi(app, "POST", "/_emulator/clock/advance", json={"seconds": delay})
    assert advanced.json()["recordings"] == 1
    (recording,) = asgi(app, "GET", "/_emulator/recordings").json()["recordings"]
    assert recording["reason"] == "delayElapsed"
    bad = asgi(
        app, "POST", "/_emulator/streams/push.example.com/live/stream1", json={"online": "no"}
    )
    assert bad.status_code == 400
    unknown = asgi(app, "POST", "/_emulator/streams/nope.example.com/live/s", json={"online": True})
    assert unknown.status_code == 400
    assert "no app" in unknown.json()["error"]


def test_admin_clock_advance_needs_a_movable_clock():
    app = asgi_app(Emulator(clock=SystemClock()))
    response = asgi(app, "POST", "/_emulator/clock/advance", json={"seconds": 5})
    assert response.status_code == 409
    assert "cannot be moved" in response.json()["error"]


def test_admin_faults(em):
    app = asgi_app(em)
    created = asgi(app, "POST", "/_emulator/faults", json={"kind": "error", "every_nth": 2})
    assert created.status_code == 201
    rule_id = created.json()["id"]
    statuses = [
        asgi_call(app, {**PARAMS, "StreamName": f"stream{i}"}).status_code for i in (1, 2, 3, 4)
    ]
    server_status = OP.protocol.gateway_errors_in("server")[0].http_status
    assert statuses == [200, server_status, 200, server_status]
    listed = asgi(app, "GET", "/_emulator/faults").json()
    assert listed["counters"] == [{"id": rule_id, "matched": 4, "fired": 2}]
    assert asgi(app, "DELETE", f"/_emulator/faults/{rule_id}").json() == {"removed": rule_id}
    assert asgi(app, "DELETE", f"/_emulator/faults/{rule_id}").status_code == 404
    bad = asgi(app, "POST", "/_emulator/faults", json={"kind": "meteor"})
    assert bad.status_code == 400
    assert "kind" in bad.json()["error"]
    asgi(app, "POST", "/_emulator/faults", json={"kind": "latency", "latency_s": 0.01})
    assert asgi(app, "DELETE", "/_emulator/faults").json() == {"faults": []}
    assert em.faults() == ()


def test_admin_seed_and_snapshot(em):
    app = asgi_app(em)
    seed = em.seed.to_json()
    seed["accounts"][0]["domains"][0]["apps"][0]["streams"].append(
        {"name": "extra", "online": True}
    )
    assert asgi(app, "POST", "/_emulator/seed", json=seed).status_code == 200
    assert asgi_call(app, {**PARAMS, "StreamName": "extra"}).status_code == 200
    snapshot = asgi(app, "GET", "/_emulator/snapshot").json()
    asgi(app, "POST", "/_emulator/reset")
    assert asgi(app, "POST", "/_emulator/snapshot", json=snapshot).json() == {"restored": True}
    assert em.state.task_state("push.example.com", "live", "extra") == "recording"

    bad = asgi(app, "POST", "/_emulator/seed", json={"accounts": [{"id": "12"}]})
    assert bad.status_code == 400
    assert bad.json()["error"].startswith("<seed>:/accounts/0/id: ")
    with_file = {
        "accounts": [
            {"id": "1234567890123456", "users": [{"name": "u", "policies": ["/etc/hosts"]}]}
        ]
    }
    assert asgi(app, "POST", "/_emulator/seed", json=with_file).status_code == 400
    not_json = asgi(app, "POST", "/_emulator/seed", content=b"{nope")
    assert not_json.status_code == 400
    assert "not JSON" in not_json.json()["error"]
    assert em.state.task_state("push.example.com", "live", "extra") == "recording"


def test_admin_account_qps(em):
    app = asgi_app(em)
    assert (
        asgi(app, "POST", "/_emulator/accounts/1234567890123456/qps", json={"qps": 1}).status_code
        == 200
    )
    assert asgi_call(app).status_code == 200
    throttled = asgi_call(app, {**PARAMS, "StreamName": "stream2"})
    assert throttled.json()["Code"] == OP.flow_control.throttle_code
    assert (
        asgi(app, "POST", "/_emulator/accounts/1234567890123456/qps", json={"qps": 0}).status_code
        == 400
    )


def test_unknown_admin_paths_are_404_and_never_reach_the_endpoint(em):
    response = asgi(asgi_app(em), "GET", "/_emulator/nothing-here")
    assert response.status_code == 404
    assert "admin endpoint" in response.json()["error"]


def test_the_admin_api_is_loopback_only_without_a_token(em):
    app = asgi_app(em)
    response = asgi(app, "POST", "/_emulator/reset", client=("192.0.2.10", 4000))
    assert response.status_code == 403
    assert "--admin-token" in response.json()["error"]
    # the endpoint itself answers anyone
    assert asgi(app, "POST", "/?Action=x", client=("192.0.2.10", 4000)).status_code == 404


def test_the_admin_api_requires_the_token_when_one_is_set(em):
    app = asgi_app(em, admin_token="s3cret-token")
    assert asgi(app, "GET", "/_emulator/state").status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert asgi(app, "GET", "/_emulator/state", headers=wrong).status_code == 401
    right = {"Authorization": "Bearer s3cret-token"}
    remote = ("192.0.2.10", 4000)
    assert asgi(app, "GET", "/_emulator/state", headers=right, client=remote).status_code == 200


# -- a real server in a thread ---------------------------------------------------------------------


def http_call(url: str, params: dict[str, str] = PARAMS, **kw: Any) -> requests.Response:
    host = url.removeprefix("http://")
    request = signed_request(params, ROOT, host=host, **kw)
    return requests.request(
        request.method,
        f"{url}/?{request.query}",
        headers=dict(request.headers),
        data=request.body,
        timeout=5,
    )


def test_serve_in_thread_serves_real_http_and_applies_faults(em):
    em.add_fault({"kind": "drop", "stream": "stream2"})
    em.add_fault({"kind": "latency", "latency_s": 0.05, "stream": "stream3"})
    with serve_in_thread(em) as url:
        assert url.startswith("http://127.0.0.1:")
        assert http_call(url, scheme="v3").status_code == 200
        assert http_call(url).json()["Code"] == TASK_ALREADY_STARTED
        with pytest.raises(requests.ConnectionError):
            http_call(url, {**PARAMS, "StreamName": "stream2"})
        started = time.perf_counter()
        assert http_call(url, {**PARAMS, "StreamName": "stream3"}).status_code == 200
        assert time.perf_counter() - started >= 0.05
        state = requests.get(f"{url}/_emulator/state", timeout=5).json()
        assert {t["stream"] for t in state["tasks"]} == {"stream1", "stream3"}
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/_emulator/state", timeout=1)


# -- persistence -----------------------------------------------------------------------------------


def test_a_state_file_survives_a_restart(tmp_path: Path, clock):
    path = tmp_path / "state" / "emulator.json"
    em = Emulator(clock=clock)
    with StatePersister(em, StateFile(path), debounce_s=0.0) as persister:
        assert em.handle(signed_request(PARAMS, ROOT)).status == 200
        em.set_stream_online("push.example.com", "live", "stream5", False)
        persister.flush()
    assert json.loads(path.read_text())["format"].startswith("acscontract-emulator-state/")
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)
    assert [p.name for p in path.parent.iterdir()] == ["emulator.json"]  # no temp files left

    again = Emulator(clock=clock)
    with StatePersister(again, StateFile(path)):
        assert again.state.task_state("push.example.com", "live", "stream1") == "recording"
        assert again.state.streams[("push.example.com", "live", "stream5")] is False
        response = again.handle(signed_request(PARAMS, ROOT))
        assert json.loads(response.body)["Code"] == TASK_ALREADY_STARTED


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    code = "import sys; from acscontract.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def _start_server(state: Path) -> tuple[subprocess.Popen[str], str, list[str]]:
    process = _cli("emulator", "serve", "--port", "0", "--state-file", str(state))
    assert process.stdout is not None
    lines = [process.stdout.readline()]
    url = lines[0].rsplit(" on ", 1)[1].strip()
    while True:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("    2234567890123456"):
            break
    return process, url, lines


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=10)
    return err


def test_the_serve_command_prints_its_url_and_credentials_and_persists_state(tmp_path: Path):
    state = tmp_path / "state.json"
    process, url, lines = _start_server(state)
    try:
        text = "".join(lines)
        assert url.startswith("http://127.0.0.1:")
        assert ROOT.access_key_id in text
        assert ROOT.access_key_secret in text
        assert "loopback only" in text
        assert http_call(url).status_code == 200
        deadline = time.monotonic() + 5
        while not state.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        err = _stop(process)
    assert "Traceback" not in err
    assert json.loads(state.read_text())["tasks"][0]["state"] == "recording"

    process, url, lines = _start_server(state)
    try:
        assert "restored from the state file" in "".join(lines)
        assert http_call(url).json()["Code"] == TASK_ALREADY_STARTED
    finally:
        _stop(process)


@pytest.mark.parametrize(
    ("content", "words"),
    [("accounts: [{id: 12}]", "/accounts/0/id"), ("accounts: [", "not valid YAML")],
)
def test_a_bad_seed_file_is_one_line_and_exit_2(tmp_path: Path, capsys, content, words):
    path = tmp_path / "seed.yaml"
    path.write_text(content)
    assert main(["emulator", "serve", "--seed", str(path), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert words in err
    assert str(path) in err
    assert "Traceback" not in err


def test_a_bad_state_file_is_one_line_and_exit_2(tmp_path: Path, capsys):
    path = tmp_path / "state.json"
    path.write_text('{"format": "something else"}')
    assert main(["emulator", "serve", "--state-file", str(path), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "not an emulator state snapshot" in err


def test_an_unknown_throttle_is_a_usage_error(capsys):
    assert main(["emulator", "serve", "--throttle", "leaky", "--port", "0"]) == 2
    assert "sliding-log" in capsys.readouterr().err
