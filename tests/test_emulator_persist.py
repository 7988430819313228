"""Acknowledged means durable: the served emulator's SQLite store under SIGTERM, kill -9 and bad
folders, and the live store's write-through in process.

The server tests run `acscontract emulator serve --state-file` as a subprocess, send a burst of
state-changing calls on keep-alive connections, stop the server in the middle of the burst, and
then check that every call the client saw answered with 200 is in the database.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acscontract.emulator import (
    Emulator,
    ManualClock,
    OffsetClock,
    StateDatabase,
    StateStoreError,
    signed_request,
)
from acscontract.emulator._state import ChangeBatch, StoredState
from acscontract.signing import Credentials
from acscontract.spec import operation, product_operation

OP = operation()
ACCOUNT = "1999999999999999"
KEY = Credentials("LTAIpersistTest000001", "persist-test-secret-not-real-001")
DOMAIN, APP = "persist.example.com", "live"
STREAMS = [f"s{i}" for i in range(1200)]


def seed_with(streams: list[str]) -> dict[str, Any]:
    return {
        "accounts": [
            {
                "id": ACCOUNT,
                "qps": 1_000_000_000,
                "access_keys": [{"id": KEY.access_key_id, "secret": KEY.access_key_secret}],
                "domains": [
                    {
                        "name": DOMAIN,
                        "apps": [
                            {
                                "name": APP,
                                "record_config": True,
                                "streams": [{"name": s, "online": True} for s in streams],
                            }
                        ],
                    }
                ],
            }
        ]
    }


#: The served emulator gets enough streams for a long burst; in-process tests need a few.
SERVED_SEED = seed_with(STREAMS)
SEED = seed_with(STREAMS[:40])
RECORDING = OP.lifecycle.transition(OP.lifecycle.initial, "start").next_state  # type: ignore[union-attr]


def start_params(stream: str) -> dict[str, str]:
    return {"Command": "start", "DomainName": DOMAIN, "AppName": APP, "StreamName": stream}


def serve(tmp_path: Path, state: Path) -> tuple[subprocess.Popen[str], int]:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(SERVED_SEED))
    code = "import sys; from acscontract.cli import main; sys.exit(main(sys.argv[1:]))"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            code,
            "emulator",
            "serve",
            "--port",
            "0",
            "--seed",
            str(seed),
            "--state-file",
            str(state),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    assert " on http://" in first, (first, process.stderr.read() if process.stderr else "")
    port = int(first.rsplit(":", 1)[1])
    return process, port


class Burst:
    """Client threads, each on one keep-alive connection, starting recordings on their streams.

    `acknowledged` holds every stream whose start the client saw answered with 200.
    """

    def __init__(self, port: int, threads: int = 4) -> None:
        self.port = port
        self.acknowledged: set[str] = set()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, args=(STREAMS[i::threads],), daemon=True)
            for i in range(threads)
        ]

    def start(self) -> Burst:
        for thread in self._threads:
            thread.start()
        return self

    def join(self) -> None:
        for thread in self._threads:
            thread.join(timeout=30)

    def count(self) -> int:
        with self._lock:
            return len(self.acknowledged)

    def _run(self, streams: list[str]) -> None:
        host = f"127.0.0.1:{self.port}"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            for stream in streams:
                request = signed_request(start_params(stream), KEY, host=host)
                headers = {k: v for k, v in request.headers.items() if k != "host"}
                connection.request("POST", f"/?{request.query}", b"", {"Host": host, **headers})
                response = connection.getresponse()
                response.read()
                if response.status == 200:
                    with self._lock:
                        self.acknowledged.add(stream)
        except (OSError, http.client.HTTPException):
            return  # the server went away: later calls were never acknowledged
        finally:
            connection.close()


def stored_recording_streams(state: Path) -> set[str]:
    emulator = Emulator(SERVED_SEED)
    with StateDatabase(state) as database:
        assert emulator.attach(database)
        view = emulator.state
    return {key[2] for key, task in view.tasks.items() if task["state"] == RECORDING}


def wait_for(predicate: Any, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.005)


def test_sigterm_mid_burst_exits_0_within_5_s_and_loses_no_acknowledged_write(tmp_path: Path):
    """Audit defect 4: uvicorn re-raised SIGTERM (exit 143, the final save never ran, 121 of
    3,145 acknowledged writes lost), and a half-sent request kept the server from stopping."""
    state = tmp_path / "state.db"
    process, port = serve(tmp_path, state)
    stuck = socket.create_connection(("127.0.0.1", port))
    try:
        # A request whose body never comes, and an idle keep-alive connection.
        stuck.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        idle = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        idle.request("GET", "/_emulator/state")
        idle.getresponse().read()
        burst = Burst(port).start()
        wait_for(lambda: burst.count() >= 150)
        stopped_at = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=15)
        took = time.monotonic() - stopped_at
        burst.join()
    finally:
        stuck.close()
        if process.poll() is None:
            process.kill()
    _, err = process.communicate()
    assert code == 0, err
    assert took < 5, took
    assert "Traceback" not in err
    assert burst.acknowledged <= stored_recording_streams(state)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seed.json", "state.db"]


def test_a_stop_that_cancels_slow_requests_logs_no_error(tmp_path: Path) -> None:
    """A SIGTERM while a latency fault holds a request past the shutdown grace is a clean stop:
    exit 0, the held request is named in one warning, and nothing is logged as an ERROR (CI log
    scanners flag that word; uvicorn logged its cancel at ERROR)."""
    process, port = serve(tmp_path, tmp_path / "state.db")
    try:
        admin = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        fault = json.dumps({"kind": "latency", "latency_s": 60})
        admin.request("POST", "/_emulator/faults", fault, {"Content-Type": "application/json"})
        assert admin.getresponse().status in (200, 201)
        admin.close()
        held = Burst(port, threads=1)
        held.start()
        time.sleep(0.5)  # the first call is now held by the fault
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
    _, err = process.communicate()
    assert code == 0, err
    assert "ERROR" not in err, err
    assert "Traceback" not in err, err
    assert re.search(r"WARNING: .*1 request\(s\) still running", err), err


def test_kill_9_mid_burst_loses_no_acknowledged_write_and_leaves_only_private_files(
    tmp_path: Path,
):
    """Audit defect 5: after kill -9 in a burst, 1,039 of 4,494 acknowledged writes were
    missing, and temporary snapshot files holding secrets were left beside the state file."""
    folder = tmp_path / "state"
    state = folder / "emulator.db"
    process, port = serve(tmp_path, state)
    try:
        burst = Burst(port).start()
        wait_for(lambda: burst.count() >= 300)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        burst.join()
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
    assert process.returncode == -signal.SIGKILL
    assert len(burst.acknowledged) >= 300
    files = {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}
    assert not [name for name in files if name.endswith(".tmp")]
    assert set(files) <= {"emulator.db", "emulator.db-wal"}
    assert all(mode == 0o600 for mode in files.values()), files
    assert burst.acknowledged <= stored_recording_streams(state)


def test_an_unusable_state_folder_is_refused_at_startup_in_one_line(tmp_path: Path):
    """Audit defect 12: an unwritable --state-file folder was found only at the first save,
    with a traceback. /proc accepts no new files, even from root."""
    code = "import sys; from acscontract.cli import main; sys.exit(main(sys.argv[1:]))"
    for path in ("/proc/acscontract-test/state.db", "/proc/acscontract-test.db"):
        process = subprocess.Popen(
            [sys.executable, "-c", code, "emulator", "serve", "--port", "0", "--state-file", path],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            out, err = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
            pytest.fail(f"the server started with the unusable state file {path}: {out[:200]}")
        assert process.returncode == 2, (out, err)
        assert err.count("\n") == 1
        assert path in err
        assert "Traceback" not in err
        assert out == ""


def test_a_state_file_in_use_by_another_server_is_refused(tmp_path: Path):
    state = tmp_path / "state.db"
    with StateDatabase(state), pytest.raises(Exception, match="another process"):
        StateDatabase(state)


# -- the write-through, in process ------------------------------------------------------------


class FailingStore:
    """A live store over a real database whose writes can be made to fail."""

    def __init__(self, database: StateDatabase) -> None:
        self.database = database
        self.fail = False

    def load(self) -> StoredState | None:
        return self.database.load()

    def write(self, batch: ChangeBatch) -> None:
        if self.fail:
            raise StateStoreError("the disk is full (simulated)")
        self.database.write(batch)


def test_a_change_the_store_cannot_write_is_undone_and_not_acknowledged(tmp_path: Path):
    with StateDatabase(tmp_path / "state.db") as database:
        store = FailingStore(database)
        emulator = Emulator(SEED, clock=ManualClock())
        emulator.attach(store)
        assert emulator.handle(signed_request(start_params("s1"), KEY)).status == 200
        store.fail = True
        refused = emulator.handle(signed_request(start_params("s2"), KEY))
        assert refused.status == OP.protocol.gateway_error_for("internalError").http_status
        assert emulator.state.task_state(DOMAIN, APP, "s2") == OP.lifecycle.initial  # type: ignore[union-attr]
        assert emulator.unplanned_errors == 0
        store.fail = False
        # The refused call's nonce was not kept either: the client may send it again.
        assert emulator.handle(signed_request(start_params("s2"), KEY)).status == 200
        assert stored_tasks(database) == {"s1", "s2"}


def stored_tasks(database: StateDatabase) -> set[str]:
    stored = database.load()
    assert stored is not None
    tasks = OP.lifecycle.resource  # type: ignore[union-attr]
    return {json.loads(r.key)[-1] for r in stored.records if r.kind == tasks}


def test_every_acknowledged_change_is_in_the_database_before_the_answer(tmp_path: Path):
    with StateDatabase(tmp_path / "state.db") as database:
        emulator = Emulator(SEED, clock=ManualClock())
        emulator.attach(database)
        for stream in STREAMS[:20]:
            assert emulator.handle(signed_request(start_params(stream), KEY)).status == 200
            assert stream in stored_tasks(database)  # before the next call, not later


def test_nonces_survive_a_restart(tmp_path: Path):
    """A nonce is never forgotten inside its window, not even across a restart."""
    path = tmp_path / "state.db"
    captured = signed_request(start_params("s1"), KEY)
    with StateDatabase(path) as database:
        first = Emulator(SEED, clock=ManualClock())
        first.attach(database)
        assert first.handle(captured).status == 200
        first.handle(signed_request({**start_params("s1"), "Command": "stop"}, KEY))
    with StateDatabase(path) as database:
        second = Emulator(SEED, clock=ManualClock())
        assert second.attach(database)
        replay = second.handle(captured)
    code = json.loads(replay.body)["Code"]
    assert code == OP.protocol.gateway_error_for("nonceReused").code


def test_the_virtual_clock_position_survives_a_restart(tmp_path: Path):
    """Timers keep their place on the virtual clock: an advance is not undone by a restart."""
    path = tmp_path / "state.db"
    delay = OP.lifecycle.timers["interruptionDelay"]  # type: ignore[union-attr]
    with StateDatabase(path) as database:
        first = Emulator(SEED, clock=OffsetClock())
        first.attach(database)
        first.handle(signed_request(start_params("s1"), KEY))
        first.handle(signed_request({**start_params("s1"), "Command": "stop"}, KEY))
        first.advance_clock(10_000)
        assert len(first.recordings()) == 1
        first.handle(signed_request(start_params("s2"), KEY))
        first.handle(signed_request({**start_params("s2"), "Command": "stop"}, KEY))
    with StateDatabase(path) as database:
        clock = OffsetClock()
        second = Emulator(SEED, clock=clock)
        second.attach(database)
        assert clock.offset == pytest.approx(10_000)
        assert len(second.recordings()) == 1  # s2's delay has not run out on the virtual clock
        second.advance_clock(delay)
        assert len(second.recordings()) == 2
    with StateDatabase(path) as database:
        third = Emulator(SEED, clock=OffsetClock())
        third.attach(database)
        third.reset()  # reset rewinds the clock, and that is stored too
    with StateDatabase(path) as database:
        clock = OffsetClock()
        Emulator(SEED, clock=clock).attach(database)
        assert clock.offset == 0


def test_a_restored_snapshot_keeps_its_timers_on_the_virtual_clock():
    first = Emulator(SEED, clock=OffsetClock())
    first.advance_clock(5_000)
    first.handle(signed_request(start_params("s1"), KEY))
    first.handle(signed_request({**start_params("s1"), "Command": "stop"}, KEY))
    snapshot = json.loads(json.dumps(first.snapshot()))
    clock = OffsetClock()
    second = Emulator(SEED, clock=clock)
    second.restore(snapshot)
    assert clock.offset == pytest.approx(5_000)
    assert second.recordings() == ()  # the timer is not due: the clock did not jump back
    second.advance_clock(OP.lifecycle.timers["interruptionDelay"])  # type: ignore[union-attr]
    assert len(second.recordings()) == 1


def test_the_store_files_are_private(tmp_path: Path):
    old = os.umask(0o022)
    try:
        with StateDatabase(tmp_path / "new" / "state.db") as database:
            Emulator(SEED).attach(database)
            assert stat.S_IMODE((tmp_path / "new" / "state.db").stat().st_mode) == 0o600
            assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700
            wal = tmp_path / "new" / "state.db-wal"
            assert not wal.exists() or stat.S_IMODE(wal.stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_the_http_front_door_answers_only_after_the_group_write(tmp_path: Path):
    """Calls handled in one event-loop turn share one transaction, and none is answered before
    it; when the write fails, every call of the group is answered with the internal error."""
    import asyncio

    import httpx

    from acscontract.emulator import asgi_app

    class Counting(FailingStore):
        writes = 0

        def write(self, batch: ChangeBatch) -> None:
            super().write(batch)
            self.writes += 1

    with StateDatabase(tmp_path / "state.db") as database:
        store = Counting(database)
        emulator = Emulator(SEED, clock=ManualClock())
        emulator.attach(store)
        app = asgi_app(emulator)

        async def calls(streams: list[str]) -> list[int]:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://h") as client:

                async def one(stream: str) -> int:
                    request = signed_request(start_params(stream), KEY)
                    response = await client.post(
                        f"/?{request.query}",
                        headers={k: v for k, v in request.headers.items() if k != "host"},
                    )
                    return response.status_code

                return list(await asyncio.gather(*(one(s) for s in streams)))

        before = store.writes
        assert asyncio.run(calls(["s1", "s2", "s3", "s4"])) == [200] * 4
        assert store.writes - before < 4  # grouped
        assert stored_tasks(database) == {"s1", "s2", "s3", "s4"}
        store.fail = True
        error = OP.protocol.gateway_error_for("internalError").http_status
        assert asyncio.run(calls(["s5", "s6"])) == [error, error]
        assert {key[2] for key in emulator.state.tasks} == {"s1", "s2", "s3", "s4"}


def test_any_store_failure_undoes_the_change_and_is_not_acknowledged(tmp_path: Path):
    """A store that breaks in an unplanned way (not a StateStoreError) is a failed write too."""

    class Broken(FailingStore):
        def write(self, batch: ChangeBatch) -> None:
            if self.fail:
                raise RuntimeError("a bug in a store")
            super().write(batch)

    with StateDatabase(tmp_path / "state.db") as database:
        store = Broken(database)
        emulator = Emulator(SEED, clock=ManualClock())
        emulator.attach(store)
        store.fail = True
        refused = emulator.handle(signed_request(start_params("s1"), KEY))
        assert refused.status == OP.protocol.gateway_error_for("internalError").http_status
        assert emulator.state.tasks == {}
        assert emulator.unplanned_errors == 0


def _config_order(emulator: Emulator) -> list[str]:
    return [str(r["AppName"]) for r in emulator.state.find("recordConfig", DomainName=DOMAIN)]


def _add_config(emulator: Emulator, app: str) -> int:
    op = product_operation(OP.product, "AddLiveAppRecordConfig")
    assert op is not None
    params = {
        "DomainName": DOMAIN,
        "AppName": app,
        "OssEndpoint": "oss-cn-shanghai.aliyuncs.com",
        "OssBucket": "bucket",
        "RecordFormat.1.Format": "m3u8",
        "RecordFormat.1.OssObjectPrefix": "r/{AppName}/{StreamName}/{EscapedStartTime}",
    }
    return emulator.handle(signed_request(params, KEY, action=op.name, operation=op)).status


def _delete_config(emulator: Emulator, app: str) -> int:
    op = product_operation(OP.product, "DeleteLiveAppRecordConfig")
    assert op is not None
    params = {"DomainName": DOMAIN, "AppName": app}
    return emulator.handle(signed_request(params, KEY, action=op.name, operation=op)).status


@pytest.mark.parametrize("fold_every", [1, 3, 512])
def test_the_worlds_order_survives_a_restart(tmp_path: Path, fold_every: int):
    """Lists answer oldest first, so a restart keeps every record's place: not the store's key
    order ("s10" before "s2"), and a record deleted and created again goes to the end, whether
    the change log was folded in between or not."""
    path = tmp_path / "state.db"
    apps = ["zeta", "s2", "s10", "alpha", "s1"]
    with StateDatabase(path, fold_every=fold_every) as database:
        first = Emulator(SEED, clock=ManualClock())
        first.attach(database)
        for app in apps:
            assert _add_config(first, app) == 200
        assert _delete_config(first, "s2") == 200
        assert _add_config(first, "s2") == 200  # created again: now the newest
        assert _add_config(first, "zeta") != 200  # a conflict changes nothing
        before = first.snapshot()
        order = _config_order(first)
    assert order[-5:] == ["zeta", "s10", "alpha", "s1", "s2"]
    with StateDatabase(path, fold_every=fold_every) as database:
        second = Emulator(SEED, clock=ManualClock())
        assert second.attach(database)
        assert _config_order(second) == order
        assert second.snapshot()["world"] == before["world"]


def test_a_state_file_from_before_the_order_was_kept_still_opens(tmp_path: Path):
    path = tmp_path / "state.db"
    with StateDatabase(path) as database:
        first = Emulator(SEED, clock=ManualClock())
        first.attach(database)
        assert first.handle(signed_request(start_params("s3"), KEY)).status == 200
    # Rebuild the record table as the earlier format wrote it: no `seq` column.
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE old (kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, "
        "PRIMARY KEY (kind, key)) WITHOUT ROWID;"
        "INSERT INTO old SELECT kind, key, value FROM record; DROP TABLE record;"
        "ALTER TABLE old RENAME TO record;"
    )
    db.close()
    with StateDatabase(path) as database:
        second = Emulator(SEED, clock=ManualClock())
        assert second.attach(database)
        assert second.state.task_state(DOMAIN, APP, "s3") == RECORDING
        assert _add_config(second, "later") == 200
    with StateDatabase(path) as database:
        third = Emulator(SEED, clock=ManualClock())
        assert third.attach(database)
        assert _config_order(third)[-1] == "later"


_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(value=_JSON_VALUES)
def test_store_encoding_is_the_json_modules(value: object) -> None:
    """The store's reused C encoder writes exactly what json.dumps writes with its options."""
    from acscontract.emulator._persist import _dumps

    expected = json.dumps(
        value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, check_circular=False
    )
    assert _dumps(value) == expected
    assert json.loads(_dumps(value)) == json.loads(expected)


_ANY_TEXT = st.text(st.characters(codec=None, categories=None))  # lone surrogates too


@settings(max_examples=300, deadline=None)
@given(
    value=st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | _ANY_TEXT,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_ANY_TEXT, inner, max_size=4),
        max_leaves=20,
    )
)
def test_the_change_encoding_reads_back_as_the_json_modules(value: object) -> None:
    """What the live store writes for every change (orjson, or json for what orjson refuses:
    integers beyond 64 bits, lone surrogates) reads back as the json module's text does."""
    from acscontract.emulator._persist import _dumps
    from acscontract.emulator._state import store_json

    assert json.loads(store_json(value)) == json.loads(_dumps(value))


@settings(max_examples=300, deadline=None)
@given(names=st.lists(_ANY_TEXT, min_size=1, max_size=5))
def test_record_keys_are_the_same_text_as_before(names: list[str]) -> None:
    """A record's store key must stay the same text across versions: a key written otherwise
    would be a second record. Strings are written exactly as the json module writes them."""
    from acscontract.emulator._state import store_json

    expected = json.dumps(names, ensure_ascii=False, separators=(",", ":"))
    assert store_json(names) == expected


def test_deferred_calls_without_a_store_keep_no_journal_of_changes():
    """The served front door defers every write. With no live store attached nothing is ever
    written, and the journal of changes must not grow with every call for the life of the
    server (it did: one entry, holding the replaced record, per call)."""
    emulator = Emulator(SEED, clock=ManualClock())
    for stream in STREAMS[:20]:
        with emulator.deferred_writes():
            assert emulator.handle(signed_request(start_params(stream), KEY)).status == 200
    assert not emulator.pending_writes
    assert emulator._state.world.take_changes() == []


@pytest.mark.parametrize("bad", [float("nan"), {"a": [float("inf")]}, {"a": object()}])
def test_store_encoding_refuses_what_json_refuses(bad: object) -> None:
    from acscontract.emulator._persist import _dumps

    with pytest.raises((ValueError, TypeError)):
        _dumps(bad)
