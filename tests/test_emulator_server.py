"""The server-side front doors: the ASGI app and its admin API, the thread server, the CLI."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests

import acscontract.emulator
from acscontract.cli import main
from acscontract.emulator import (
    Emulator,
    ManualClock,
    StateDatabase,
    SystemClock,
    asgi_app,
    serve_in_thread,
    signed_request,
)
from acscontract.errors import InputError, UsageError
from acscontract.signing import Credentials
from acscontract.spec import operation

SEEDS = Path(__file__).parent / "data" / "seeds"
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


ADMIN_BASE = "http://127.0.0.1:8765"


def asgi(
    app: Any,
    method: str,
    path: str,
    *,
    client: tuple[str, int] = ("127.0.0.1", 40000),
    base_url: str | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """One request through the ASGI app: the endpoint as the real service, the admin API on
    loopback (its Host must name this server)."""
    if base_url is None:
        base_url = ADMIN_BASE if path.startswith("/_emulator") else f"http://{HOST}"

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as c:
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
    assert state["product"] == f"{OP.product.name}/{OP.product.version}"
    assert state["throttle"] == OP.flow_control.default_algorithm
    binding = OP.product.seed
    assert binding is not None
    domain, app_name, stream_name = OP.lifecycle.key  # type: ignore[union-attr]
    key = {domain: "push.example.com", app_name: "live", stream_name: "stream1"}
    (stream,) = [
        s for s in state["world"][binding.streams] if all(s[k] == v for k, v in key.items())
    ]
    assert stream[binding.online] is True
    assert stream["account"] == "1234567890123456"
    (task,) = state["world"][OP.lifecycle.resource]  # type: ignore[union-attr]
    assert task["state"] == "recording"
    assert {k: task[k] for k in key} == key
    narrowed = asgi(app, "GET", "/_emulator/state", params={stream_name: "stream2"}).json()
    assert {s[stream_name] for s in narrowed["world"][binding.streams]} == {"stream2"}
    assert narrowed["world"][OP.lifecycle.resource] == []  # type: ignore[union-attr]
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
    assert "no domain" in unknown.json()["error"]


def test_admin_clock_advance_needs_a_movable_clock():
    app = asgi_app(Emulator(clock=SystemClock()))
    response = asgi(app, "POST", "/_emulator/clock/advance", json={"seconds": 5})
    assert response.status_code == 409
    assert "cannot be moved" in response.json()["error"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/_emulator/clock/advance", b'{"seconds": 1' + b"0" * 400 + b"}"),
        ("/_emulator/clock/gateway-offset", b'{"seconds": 1' + b"0" * 400 + b"}"),
        ("/_emulator/faults", b'{"kind": "latency", "latency_s": 1' + b"0" * 400 + b"}"),
    ],
)
def test_admin_numbers_too_large_for_a_float_are_refused_not_a_500(em, path, body):
    response = asgi(
        asgi_app(em), "POST", path, content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code in (400, 409)  # 409: the clock cannot move that far
    assert len(response.json()["error"]) < 300


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
    not_json = asgi(
        app,
        "POST",
        "/_emulator/seed",
        content=b"{nope",
        headers={"content-type": "application/json"},
    )
    assert not_json.status_code == 400
    assert "not JSON" in not_json.json()["error"]
    for path in ("/_emulator/seed", "/_emulator/snapshot", "/_emulator/faults"):
        deep = asgi(
            app,
            "POST",
            path,
            content=b"[" * 100_000 + b"]" * 100_000,
            headers={"content-type": "application/json"},
        )
        assert deep.status_code == 400  # was a 500: Python's parser raised RecursionError
        assert deep.json()["error"] == "The request body is JSON nested too deeply to read."
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


# -- the admin API trusts no browser (audit defects 6, 7 and 8) ---------------------------------


@pytest.mark.parametrize("token", ["", "   "])
def test_an_empty_admin_token_is_refused(em, token):
    """Audit defect 6: `--admin-token ""` opened the admin API to any peer sending an empty
    bearer token, while the banner still said "loopback only"."""
    with pytest.raises(UsageError, match="empty"):
        asgi_app(em, admin_token=token)
    code, out, err = _run_cli("emulator", "serve", "--port", "0", "--admin-token", token)
    assert code == 2, (out, err)
    assert err.count("\n") == 1
    assert "admin-token" in err
    assert "Traceback" not in err
    assert out == ""


def _task_running(em: Emulator) -> None:
    assert em.handle(signed_request(PARAMS, ROOT)).status == 200
    assert em.state.tasks


@pytest.mark.parametrize(
    ("headers", "content", "status"),
    [
        ({"content-type": "text/plain", "origin": "http://evil.example"}, b"{}", 403),
        ({"content-type": "text/plain"}, b"{}", 415),
        ({"content-type": "application/x-www-form-urlencoded"}, b"a=1", 415),
        ({"content-type": "multipart/form-data; boundary=x"}, b"--x--", 415),
        ({"content-type": "text/plain"}, b"", 415),
        ({"origin": "null"}, b"", 403),
        ({"origin": "http://127.0.0.1:9999"}, b"", 403),
    ],
    ids=[
        "cross-site-text-plain",
        "text-plain",
        "form",
        "multipart",
        "empty-text-plain",
        "null-origin",
        "other-port",
    ],
)
def test_browser_shaped_admin_posts_change_nothing(em, headers, content, status):
    """Audit defect 8: a cross-origin `text/plain` POST installed faults or reset the state."""
    app = asgi_app(em)
    _task_running(em)
    for path in ("/_emulator/reset", "/_emulator/faults"):
        response = asgi(app, "POST", path, headers=headers, content=content)
        assert response.status_code == status, (path, response.text)
    assert em.state.tasks
    assert em.faults() == ()


@pytest.mark.parametrize(
    "host", ["evil.example:8765", "rebind.attacker.test", "127.0.0.1.nip.io:8765", "localhost.evil"]
)
def test_admin_requests_naming_another_host_are_refused(em, host):
    """Audit defect 8: any Host was served, so DNS rebinding read the snapshot and its secrets."""
    app = asgi_app(em)
    response = asgi(app, "GET", "/_emulator/snapshot", base_url=f"http://{host}")
    assert response.status_code == 403
    assert ROOT.access_key_secret not in response.text
    # The endpoint itself is addressed as the real service and answers any Host.
    assert asgi_call(app).status_code == 200


@pytest.mark.parametrize(
    "base_url",
    ["http://127.0.0.1:8765", "http://localhost:8765", "http://[::1]:8765", "http://127.9.9.9"],
)
def test_admin_requests_to_loopback_names_are_served(em, base_url):
    app = asgi_app(em)
    same_origin = {"origin": base_url}
    assert asgi(app, "GET", "/_emulator/state", base_url=base_url).status_code == 200
    posted = asgi(
        app,
        "POST",
        "/_emulator/faults",
        base_url=base_url,
        headers=same_origin,
        json={"kind": "error"},
    )
    assert posted.status_code == 201
    assert asgi(app, "POST", "/_emulator/reset", base_url=base_url).status_code == 200


def test_the_bound_address_is_an_allowed_admin_host(em):
    app = asgi_app(em, admin_token="t0ken", bound_hosts=["192.0.2.5"])
    auth = {"Authorization": "Bearer t0ken"}
    remote = ("192.0.2.99", 5000)
    ok = asgi(
        app,
        "GET",
        "/_emulator/state",
        base_url="http://192.0.2.5:8765",
        headers=auth,
        client=remote,
    )
    assert ok.status_code == 200
    other = asgi(
        app,
        "GET",
        "/_emulator/state",
        base_url="http://192.0.2.6:8765",
        headers=auth,
        client=remote,
    )
    assert other.status_code == 403
    # Bound to every interface: any IP literal names this server, a DNS name still does not.
    wild = asgi_app(em, admin_token="t0ken", bound_hosts=["0.0.0.0"])  # noqa: S104 - a name
    assert (
        asgi(
            wild,
            "GET",
            "/_emulator/state",
            base_url="http://198.51.100.7:8765",
            headers=auth,
            client=remote,
        ).status_code
        == 200
    )
    assert (
        asgi(
            wild,
            "GET",
            "/_emulator/state",
            base_url="http://my-box.example:8765",
            headers=auth,
            client=remote,
        ).status_code
        == 403
    )


def test_snapshot_restore_never_reads_the_servers_files(em, tmp_path: Path):
    """Audit defect 7: a restored seed naming a policy file was loaded from the server's disk
    and came back in GET /_emulator/snapshot; the error texts revealed which paths exist."""
    app = asgi_app(em)
    marker = "acscontract-private-policy-marker"
    private = tmp_path / "private-policy.json"
    private.write_text(
        json.dumps(
            {"Version": "1", "Statement": [{"Effect": "Allow", "Action": marker, "Resource": "*"}]}
        )
    )
    errors = []
    for path in (str(private), str(tmp_path / "no-such-file.json"), "relative/policy.json"):
        snapshot = em.snapshot()
        snapshot["seed"]["accounts"][0]["users"][0]["policies"] = [path]
        response = asgi(app, "POST", "/_emulator/snapshot", json=snapshot)
        assert response.status_code == 400
        assert path not in response.text
        assert str(tmp_path) not in response.text
        errors.append(response.json()["error"])
    assert len(set(errors)) == 1  # an existing file and a missing one look the same
    assert marker not in asgi(app, "GET", "/_emulator/snapshot").text
    with pytest.raises(InputError):
        em.restore(
            {
                **em.snapshot(),
                "seed": {
                    "accounts": [
                        {
                            "id": "1234567890123456",
                            "users": [{"name": "u", "policies": [str(private)]}],
                        }
                    ]
                },
            }
        )


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
        tasks = state["world"][OP.lifecycle.resource]  # type: ignore[union-attr]
        assert {t[OP.lifecycle.key[-1]] for t in tasks} == {"stream1", "stream3"}  # type: ignore[union-attr]
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/_emulator/state", timeout=1)


# -- persistence -----------------------------------------------------------------------------------


def test_a_state_database_survives_a_restart(tmp_path: Path, clock):
    path = tmp_path / "state" / "emulator.db"
    em = Emulator(clock=clock)
    with StateDatabase(path) as database:
        assert em.attach(database) is False  # a new database receives the emulator's state
        assert em.handle(signed_request(PARAMS, ROOT)).status == 200
        em.set_stream_online("push.example.com", "live", "stream5", False)
        em.add_fault({"kind": "latency", "latency_s": 0.5, "stream": "stream7"})
        em.detach()
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)
    assert oct(path.parent.stat().st_mode & 0o777) == oct(0o700)
    assert [p.name for p in path.parent.iterdir()] == ["emulator.db"]  # the WAL was folded in

    again = Emulator(clock=ManualClock(clock.now()))
    with StateDatabase(path) as database:
        assert again.attach(database) is True
        assert again.state.task_state("push.example.com", "live", "stream1") == "recording"
        assert again.state.streams[("push.example.com", "live", "stream5")] is False
        assert [r.stream for r in again.faults()] == ["stream7"]
        response = again.handle(signed_request(PARAMS, ROOT))
        assert json.loads(response.body)["Code"] == TASK_ALREADY_STARTED


def _run_cli(*args: str, timeout: float = 20.0) -> tuple[int | None, str, str]:
    """Run the CLI to completion; a code of None means it was still running after `timeout`."""
    process = _cli(*args)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        return None, out, err
    return process.returncode, out, err


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    code = "import sys; from acscontract.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def _start_server(state: Path, *more: str) -> tuple[subprocess.Popen[str], str, list[str]]:
    process = _cli("emulator", "serve", "--port", "0", "--state-file", str(state), *more)
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
    state = tmp_path / "state.db"
    process, url, lines = _start_server(state)
    try:
        text = "".join(lines)
        assert url.startswith("http://127.0.0.1:")
        assert ROOT.access_key_id in text
        assert ROOT.access_key_secret in text
        assert "loopback only" in text
        assert http_call(url).status_code == 200
    finally:
        err = _stop(process)
    assert "Traceback" not in err
    assert process.returncode == 0
    with StateDatabase(state) as database:
        restored = Emulator()
        assert restored.attach(database)
        assert restored.state.task_state("push.example.com", "live", "stream1") == "recording"

    # Naming the seed the state was made from is fine: the state goes on.
    default_seed = Path(acscontract.emulator.__file__).parent / "default_seed.yaml"
    process, url, lines = _start_server(state, "--seed", str(default_seed))
    try:
        assert "restored from the state file" in "".join(lines)
        assert http_call(url).json()["Code"] == TASK_ALREADY_STARTED
    finally:
        _stop(process)


def test_a_seed_other_than_the_state_files_is_refused_not_silently_ignored(tmp_path: Path):
    """The state file's seed wins at a restart, so a changed --seed would not be used."""
    state = tmp_path / "state.db"
    with StateDatabase(state) as database:
        Emulator(SEEDS / "minimal.yaml").attach(database)
    args = ["emulator", "serve", "--port", "0", "--state-file", str(state)]
    code, out, err = _run_cli(*args, "--seed", str(SEEDS / "ram-user.yaml"), timeout=10)
    assert code == 2, err  # None: it served, on the state file's seed
    assert out == ""
    assert err.count("\n") == 1
    assert "ram-user.yaml" in err
    assert str(state) in err
    with StateDatabase(state) as database:  # the state file is as it was
        restored = Emulator()
        assert restored.attach(database)
        assert restored.seed.to_json() == Emulator(SEEDS / "minimal.yaml").seed.to_json()


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


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b'{"format": "something else"}', "JSON snapshot"),
        (b"not a database at all", "not an emulator state database"),
        (b"SQLite format 3\x00" + b"\x00" * 200, "damaged"),
    ],
    ids=["json-snapshot", "text", "broken-sqlite"],
)
def test_a_bad_state_file_is_one_line_and_exit_2(tmp_path: Path, capsys, content, words):
    path = tmp_path / "state.db"
    path.write_bytes(content)
    assert main(["emulator", "serve", "--state-file", str(path), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert words in err
    assert path.read_bytes() == content  # nothing was overwritten


def test_an_unknown_throttle_is_a_usage_error(capsys):
    assert main(["emulator", "serve", "--throttle", "leaky", "--port", "0"]) == 2
    assert "sliding-log" in capsys.readouterr().err


# -- bounded cost over HTTP (audit defect 10) ------------------------------------------------------


def test_a_1_mib_body_is_refused_on_its_content_length_without_being_read(em):
    """The server answers as soon as it has the headers: if it waited for the body, which
    never comes, the read below would time out."""
    limit = OP.protocol.request_limits.body_bytes
    error = OP.protocol.gateway_error_for(limit.condition)
    with serve_in_thread(em) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                b"POST / HTTP/1.1\r\nHost: live.aliyuncs.com\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: 1048576\r\n\r\n" + b"a=1&" * 64
            )
            reply = http.client.HTTPResponse(sock)
            reply.begin()
            document = json.loads(reply.read())
        assert reply.status == error.http_status
        assert document["Code"] == error.code
        assert reply.getheader("connection") == "close"
        # A body that grows past the limit without announcing its length is cut off too.
        chunked = requests.post(
            url,
            data=iter([b"a=1&" * 4096] * 8),  # 128 KiB, sent chunked
            headers={"content-type": "application/x-www-form-urlencoded"},
            timeout=10,
        )
        assert chunked.json()["Code"] == error.code
    assert em.state.tasks == {}


def test_the_banner_shows_seed_values_with_control_characters_escaped(tmp_path: Path):
    # A seed's user names and secrets were printed as they are: an ESC sequence in one cleared
    # the user's terminal (or worse) when the server started.
    seed = Emulator().seed.to_json()
    account = seed["accounts"][0]
    user = account["users"][0]["name"]
    account["users"][0]["name"] = "rec\x1b[2Jorder"
    key = next(k for k in account["access_keys"] if k.get("user") == user)
    key["user"] = "rec\x1b[2Jorder"
    key["secret"] = "bell\x07secret-not-real-000001"
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps(seed), encoding="utf-8")
    process, url, lines = _start_server(tmp_path / "state.db", "--seed", str(seed_file))
    try:
        text = "".join(lines)
        assert http_call(url).status_code == 200  # serving: the stop below is a clean one
    finally:
        err = _stop(process)
    assert process.returncode == 0, err
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "RAM user rec\\x1b[2Jorder" in text
    assert "bell\\x07secret-not-real-000001" in text


@pytest.mark.parametrize("attempt", range(3))
def test_ctrl_c_right_after_the_banner_stops_the_server_cleanly(tmp_path: Path, attempt: int):
    # The banner was printed before the server took over SIGINT: a Ctrl+C while uvicorn was
    # still starting ended in KeyboardInterrupt (exit 2) with Python's "coroutine
    # 'Server.serve' was never awaited" warning.
    process, _url, _lines = _start_server(tmp_path / "state.db")
    err = _stop(process)
    assert process.returncode == 0, err
    assert "never awaited" not in err
    assert "Traceback" not in err
    assert err.rstrip().endswith("acscontract emulator stopped."), err
