"""Pacing stores (file lock, Redis GCRA), the recording budget, and the shared budget across
processes: two runs naming one Redis store never exceed 80% of the limit in any second."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acscontract.client import (
    PACING_SHARE,
    FileStore,
    RedisStore,
    SharedPacer,
    _pacing,
    pacer_for,
    pacing_budget,
    pacing_interval,
    pacing_store,
)
from acscontract.contracts.budget import (
    RecordingBudget,
    RecordingBudgetSpent,
    recording_commands,
)
from acscontract.contracts.standin import real_account_standin
from acscontract.emulator import Emulator, serve_in_thread
from acscontract.errors import UsageError
from acscontract.signing import ENV_ACCESS_KEY_ID, ENV_ACCESS_KEY_SECRET
from acscontract.spec import operation

OP = operation()
FLOW = OP.flow_control
BUDGET = pacing_budget(FLOW)  # 40 calls per second: 80% of the spec's 50


class FakeTime:
    def __init__(self):
        self.now = 1000.0

    def clock(self):
        return self.now


def sliding_max(times, width):
    ordered = sorted(times)
    best = start = 0
    for end, moment in enumerate(ordered):
        while ordered[start] <= moment - width:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_the_budget_is_a_share_of_the_spec_limit():
    assert int(FLOW.limit * PACING_SHARE) == BUDGET
    # Spaced so that any window holds the budget even when a call leaves one interval late.
    interval = pacing_interval(FLOW)
    assert interval == pytest.approx(FLOW.per_seconds / (BUDGET - 1))
    assert (BUDGET + 1 - 1) * interval > FLOW.per_seconds  # budget + 1 slots never fit a window


def test_schedules_are_per_endpoint_and_account(tmp_path):
    store = FileStore(tmp_path)
    first = pacer_for("https://live.aliyuncs.com", FLOW, store=store, account="1")
    assert first.key == pacer_for("https://live.aliyuncs.com/", FLOW, store=store, account="1").key
    assert first.key != pacer_for("https://live.aliyuncs.com", FLOW, store=store, account="2").key
    assert first.key != pacer_for("https://other.example", FLOW, store=store, account="1").key


def test_two_pacers_on_one_file_share_one_schedule(tmp_path):
    fake = FakeTime()
    store = FileStore(tmp_path, clock=fake.clock)
    # Two workers (two processes in real life) with their own pacer over the same file.
    delays = [store.next_slot("k", 0.025) for _ in range(4)]
    assert delays == pytest.approx([0.0, 0.025, 0.05, 0.075])
    fake.now += 1.0  # idle: the schedule starts again at the present
    assert store.next_slot("k", 0.025) == 0.0


def test_file_store_counters_and_reservations(tmp_path):
    store = FileStore(tmp_path)
    assert store.reserve("r", 2, 3)
    assert not store.reserve("r", 2, 3)
    assert store.reserve("r", 1, 3)
    store.release("r", 5)
    assert store.get("r") == 0
    assert store.add("n", 4) == 4
    assert store.add("n", 3) == 7


def test_paced_threads_each_get_their_own_slot(tmp_path):
    interval = 0.002
    pacer = SharedPacer(FileStore(tmp_path), "t", interval)
    times: list[float] = []
    lock = threading.Lock()

    def worker():
        for _ in range(15):
            pacer.wait()
            with lock:
                times.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(times) == 60
    # Every call had its own slot: the whole run took at least 59 intervals.
    assert max(times) - min(times) >= interval * 59 * 0.9


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://redis.example:6379/0", "not a Redis URL"),
        ("memcached://x", "not a Redis URL"),
    ],
)
def test_a_bad_pacing_store_is_one_clear_line(url, message):
    with pytest.raises(UsageError, match=message):
        pacing_store(url)


def test_an_unreachable_redis_store_says_so_without_its_password():
    store = pacing_store("redis://:s3cret@127.0.0.1:1/0")
    with pytest.raises(UsageError, match="does not answer") as caught:
        store.check()
    assert "s3cret" not in str(caught.value)
    assert "s3cret" not in repr(store)


_TAKE_SLOTS = """
import sys, time
from acscontract.client import SharedPacer, pacing_store
count, interval = int(sys.argv[1]), float(sys.argv[2])
pacer = SharedPacer(pacing_store(), "two-processes", interval)
for _ in range(count):
    pacer.wait()
    print(time.monotonic(), flush=True)
"""


def _take_slots(temp, count, interval):
    """A process whose temp directory is `temp` that takes `count` slots of one schedule in the
    default pacing store and prints the monotonic time of each (the machine's one monotonic
    clock, so two processes' times compare)."""
    temp.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("ACSCONTRACT_PACING_DIR", "TMPDIR")}
    env["TMPDIR"] = str(temp)
    command = [sys.executable, "-c", _TAKE_SLOTS, str(count), repr(interval)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def _sent_times(processes):
    times = []
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err.decode()[-2000:]
        times += [float(line) for line in out.split()]
    return times


_SLOTS, _INTERVAL, _WINDOW_SLOTS = 12, 0.05, 5


def test_two_processes_on_one_file_store_share_the_budget(tmp_path):
    """Two processes pacing one schedule in one folder never put more than the budget in any
    window; the control, each in a folder of its own, does."""
    window = _INTERVAL * (_WINDOW_SLOTS - 1)
    shared = _sent_times([_take_slots(tmp_path / "one", _SLOTS, _INTERVAL) for _ in range(2)])
    apart = _sent_times([_take_slots(tmp_path / f"own{i}", _SLOTS, _INTERVAL) for i in range(2)])
    assert len(shared) == len(apart) == 2 * _SLOTS
    assert sliding_max(shared, window) <= _WINDOW_SLOTS
    assert sliding_max(apart, window) > _WINDOW_SLOTS


def _forked_slots(temp, count, interval, user):
    """A forked process that becomes the Unix user `user` (the interpreter under /root may not
    be runnable by it, so it is not started afresh) and takes `count` slots as `_take_slots`."""
    account = pwd.getpwnam(user)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        code = 1
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(account.pw_gid)
            os.setuid(account.pw_uid)
            os.environ.pop("ACSCONTRACT_PACING_DIR", None)
            tempfile.tempdir = str(temp)
            pacer = SharedPacer(pacing_store(), "two-processes", interval)
            lines = []
            for _ in range(count):
                pacer.wait()
                lines.append(repr(time.monotonic()))
            os.write(write, "\n".join(lines).encode())
            code = 0
        except BaseException as exc:  # noqa: BLE001 - the parent reports it
            os.write(write, f"{type(exc).__name__}: {exc}".encode())
        finally:
            os._exit(code)
    os.close(write)
    return pid, read


def _forked_times(pid, read):
    with os.fdopen(read, "rb") as pipe:
        out = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, out
    return [float(line) for line in out.split()]


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="needs root to run a process as a second user (nobody)",
)
def test_a_second_user_of_the_machine_shares_the_default_folder():
    """The default folder is shared by every user of the machine (like /tmp: 1777, sticky) and
    its files by whoever reaches it, so a second Unix user's run paces from the same schedule
    instead of failing on a folder the first user made 0755."""
    top = Path(tempfile.mkdtemp(prefix="acscontract-two-users-", dir="/tmp"))
    old_umask = os.umask(0o022)
    try:
        top.chmod(0o755)
        folder = top / "acscontract-pacing"
        first = _sent_times([_take_slots(top, _SLOTS, _INTERVAL)])  # root makes it all
        second = _forked_slots(top, _SLOTS, _INTERVAL, "nobody")
        third = _take_slots(top, _SLOTS, _INTERVAL)
        times = _forked_times(*second) + _sent_times([third])
        assert folder.stat().st_mode & 0o7777 == 0o1777
        assert {p.stat().st_mode & 0o777 for p in folder.iterdir()} == {0o666}
    finally:
        os.umask(old_umask)
        shutil.rmtree(top)
    assert len(first) + len(times) == 3 * _SLOTS
    assert sliding_max(times, _INTERVAL * (_WINDOW_SLOTS - 1)) <= _WINDOW_SLOTS


def test_a_clock_set_back_does_not_delay_the_schedule_by_the_jump(tmp_path):
    """The schedule runs on the monotonic clock; should its reading ever go back (the file
    outlived a reboot), the next slot waits only for what was still scheduled, not the jump."""
    fake = FakeTime()
    store = FileStore(tmp_path, clock=fake.clock)
    for _ in range(3):
        store.next_slot("k", 0.5)  # slots at 1000, 1000.5 and 1001; the next is due at 1001.5
    fake.now -= 3600.0
    assert store.next_slot("k", 0.5) == pytest.approx(1.5)
    assert store.next_slot("k", 0.5) == pytest.approx(2.0)  # and the spacing holds on


def test_files_unused_for_a_day_are_pruned_and_others_kept(tmp_path):
    """Every run leaves its budget counters behind; on a long-lived runner the folder would
    grow forever, so files unused for a day go (as Redis keys expire), and nothing else does."""
    store = FileStore(tmp_path)
    old = [store.path(f"recordings:run{i}:x") for i in range(3)]
    for path in old:
        path.write_bytes(b"2.0")
        os.utime(path, (time.time() - 2 * 86400,) * 2)
    recent = store.path("recordings:current:x")
    recent.write_bytes(b"1.0")
    foreign = tmp_path / "notes.txt"
    foreign.write_bytes(b"kept")
    os.utime(foreign, (time.time() - 2 * 86400,) * 2)
    assert store.add("recordings:current:x", 1) == 2  # the first use of the store prunes
    assert sorted(tmp_path.iterdir()) == sorted([recent, foreign])


def test_a_file_in_use_while_pruning_keeps_its_value(tmp_path):
    """Pruning takes each file's lock and removes it only if it is still unused then, so an
    update that holds the lock meanwhile is not lost."""
    store = FileStore(tmp_path)
    store.add("busy", 1)
    path = store.path("busy")
    os.utime(path, (time.time() - 2 * 86400,) * 2)
    holding, release = threading.Event(), threading.Event()

    def use():
        with _pacing._locked(path) as handle:
            holding.set()
            release.wait(10)
            _pacing._write_number(handle, 5.0)

    user = threading.Thread(target=use)
    user.start()
    holding.wait(10)
    pruning = threading.Thread(target=store.prune)
    pruning.start()
    time.sleep(0.1)  # pruning now waits on the lock
    release.set()
    user.join()
    pruning.join()
    assert store.get("busy") == 5


@given(
    limit=st.integers(0, 6),
    steps=st.lists(st.tuples(st.integers(1, 3), st.booleans()), max_size=12),
)
@settings(max_examples=60, deadline=None)
def test_the_recording_budget_never_lets_more_starts_through(tmp_path_factory, limit, steps):
    """However reservations and single requests interleave, successes never pass the budget."""
    budget = RecordingBudget(FileStore(tmp_path_factory.mktemp("b")), "run", limit)
    started = 0
    for count, succeed in steps:
        try:
            with budget.reserve(count, "contract"):
                for _ in range(count):
                    ticket = budget.take()
                    budget.settle(ticket, succeed)
                    started += int(succeed)
        except RecordingBudgetSpent:
            pass
        try:
            ticket = budget.take()
        except RecordingBudgetSpent:
            continue
        budget.settle(ticket, succeed)
        started += int(succeed)
    assert started <= limit
    assert budget.started == started
    assert budget.used == started  # every unused reservation went back


def test_a_recording_start_whose_answer_is_lost_keeps_its_budget_slot(tmp_path):
    """A start that reached a real account (a stand-in) but whose answer never came back may
    have started a billed recording: it counts as started and keeps its slot, so a budget of 1
    refuses the next start instead of sending it."""
    from acscontract.client import TransportError
    from acscontract.contracts.targets import ContractTarget, Resources
    from acscontract.emulator import EmulatorTransport
    from acscontract.signing import Credentials

    emulator, root = _served_emulator_standin()
    inner = EmulatorTransport(emulator)

    class LostAnswer:
        def send(self, endpoint, request):
            inner.send(endpoint, request)
            raise TransportError("the connection dropped before the answer", "no answer")

    target = ContractTarget(
        OP,
        description="a real account whose answers get lost",
        endpoint="https://live.example.invalid",
        resources=Resources("push.example.com", "live", "stream1"),
        credentials=Credentials(root.id, root.secret),
        transport=LostAnswer(),
        store=FileStore(tmp_path),
        max_recordings=1,
        run_id="lost-answers",
    )
    with pytest.raises(TransportError):
        target.call(target.params("start"))
    assert [t["record"]["state"] for t in emulator.snapshot()["world"]["recordingTask"]] == [
        "recording"
    ]
    assert target.recordings_started == 1
    with pytest.raises(RecordingBudgetSpent):
        target.call(target.params("restart"))


def test_recording_commands_come_from_the_lifecycle():
    assert recording_commands(OP) == {"start", "restart"}


# --- Redis ----------------------------------------------------------------------------------


def test_redis_gcra_spaces_slots_across_clients(redis_url):
    """Three clients take slots of one schedule: whoever takes it, each slot comes one interval
    after the last, on Redis' clock (read here as the call's time plus the delay it returned)."""
    stores = [RedisStore(redis_url) for _ in range(3)]
    interval = 0.01
    slots, round_trips = [], []
    for i in range(30):
        before = time.monotonic()
        delay = stores[i % 3].next_slot("pace", interval)
        round_trips.append(time.monotonic() - before)
        slots.append(before + delay)
    slack = max(round_trips) + 0.002
    for i, slot in enumerate(slots):
        assert slot == pytest.approx(slots[0] + i * interval, abs=slack), (i, slots)


def test_redis_clock_set_back_does_not_delay_the_schedule_by_the_jump(redis_url):
    """Slots written before Redis' clock was set back an hour: the next caller waits for what
    was still scheduled then (half a second), not for the hour."""
    import redis

    raw = redis.Redis.from_url(redis_url)
    seconds, micros = raw.time()
    now = seconds + micros / 1e6
    raw.set("acscontract:pace-back", f"{now + 3600.5:.6f}")
    raw.set("acscontract:pace-back:at", f"{now + 3600:.6f}")
    delay = RedisStore(redis_url).next_slot("pace-back", 0.5)
    assert delay == pytest.approx(0.5, abs=0.2)


def test_redis_counters_and_reservations(redis_url):
    store = RedisStore(redis_url)
    store.check()
    assert store.reserve("r", 2, 3)
    assert not store.reserve("r", 2, 3)
    assert store.reserve("r", 1, 3)
    assert store.get("r") == 3
    store.release("r", 5)
    assert store.get("r") == 0
    assert store.add("n", 4) == 4
    assert store.add("n", 3) == 7


def _served_emulator_standin():
    emulator = Emulator()
    account = emulator.seed.accounts[0]
    root = next(k for k in account.access_keys if k.user is None and k.active)
    return emulator, root


def _run(url, store, extra=()):
    env = dict(os.environ)
    emulator_key = _served_emulator_standin()[1]
    env[ENV_ACCESS_KEY_ID] = emulator_key.id
    env[ENV_ACCESS_KEY_SECRET] = emulator_key.secret
    for name in ("ACSCONTRACT_PACING_STORE", "ACSCONTRACT_TARGET"):
        env.pop(name, None)
    command = [
        sys.executable,
        "-m",
        "acscontract",
        "run",
        "--target",
        url,
        "--domain",
        "push.example.com",
        "--app",
        "live",
        "--stream",
        "stream1",
        "--pacing-store",
        store,
        *extra,
        "--",
        "-k",
        "capacity",
    ]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


_ARRIVAL_JITTER_CALLS = 2


def test_two_processes_sharing_a_redis_store_stay_under_the_budget(redis_url, capsys):
    """Two `acscontract run`s against one real-account stand-in, both naming the same Redis
    store: no sliding second carries more than 80% of the spec's limit. Each run alone paces at
    that rate, so without the shared store the two would send twice as much."""
    emulator, _ = _served_emulator_standin()
    with serve_in_thread(emulator) as upstream, real_account_standin(upstream) as standin:
        runs = [_run(standin.url, redis_url) for _ in range(2)]
        outputs = [run.communicate(timeout=120) for run in runs]
        arrivals = list(standin.counts.arrivals)
    for run, (out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, (out.decode()[-2000:], err.decode()[-2000:])
    busiest = sliding_max(arrivals, FLOW.per_seconds)
    with capsys.disabled():
        print(
            f"\ntwo processes, one Redis store: {len(arrivals)} calls, at most {busiest} in any "
            f"sliding {FLOW.per_seconds:g} s (budget {BUDGET})"
        )
    assert len(arrivals) >= 2 * BUDGET  # both capacity contracts ran their calls
    # The shared schedule grants at most BUDGET slots in any second; arrivals at the proxy add
    # the jitter of two processes and a loaded machine (a call late by a few ms lands in its
    # successor's second), so a call or two over the schedule is measurement, not pacing. The
    # documented limit is never reached, and unshared pacers (the control below) take 2x BUDGET.
    assert FLOW.limit is not None
    assert busiest <= min(BUDGET + _ARRIVAL_JITTER_CALLS, FLOW.limit - 1)
    assert busiest >= BUDGET * 0.75  # the budget was used, not merely undershot


def test_a_pacing_store_that_goes_away_mid_run_stops_it_with_one_line(doomed_redis):
    """Redis dies while a run on a real-account stand-in is sending: the run stops (exit 2)
    with one line naming the store, sends nothing unpaced after it, and still says what it
    sent before."""
    url, redis_process = doomed_redis
    emulator, _ = _served_emulator_standin()
    with serve_in_thread(emulator) as upstream, real_account_standin(upstream) as standin:
        run = _run(standin.url, f"{url}/0")
        deadline = time.monotonic() + 60
        while standin.counts.requests < 10 and run.poll() is None:
            assert time.monotonic() < deadline, "the run sent nothing"
            time.sleep(0.01)
        redis_process.kill()
        redis_process.wait(timeout=10)
        killed_at = time.monotonic()
        out, err = run.communicate(timeout=120)
        arrivals = list(standin.counts.arrivals)
    lines = err.decode().strip().splitlines()
    assert run.returncode == 2, (out.decode()[-2000:], err.decode()[-2000:])
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"acscontract: The pacing store {url}/0 failed")
    assert "The run stopped there" in lines[0]
    assert "Sent " in out.decode()  # what the account may bill for is still reported
    # At most the calls already past their slot when the store went away.
    assert sum(1 for moment in arrivals if moment > killed_at) <= 2


def test_separate_stores_are_separate_budgets(redis_server):
    """The control: pacers on two databases of one Redis server do not share a schedule, so
    together they take twice the budget's slots in a second."""
    endpoint = f"http://standin-{uuid.uuid4().hex}"  # a schedule no other test uses
    first = pacer_for(endpoint, FLOW, store=RedisStore(f"{redis_server}/13"))
    second = pacer_for(endpoint, FLOW, store=RedisStore(f"{redis_server}/14"))
    shared = pacer_for(endpoint, FLOW, store=RedisStore(f"{redis_server}/12"))
    apart: list[float] = []
    together: list[float] = []
    lock = threading.Lock()

    def take(pacer, into):
        for _ in range(BUDGET):
            pacer.wait()
            with lock:
                into.append(time.monotonic())

    threads = [
        threading.Thread(target=take, args=(first, apart)),
        threading.Thread(target=take, args=(second, apart)),
        threading.Thread(target=take, args=(shared, together)),
        threading.Thread(target=take, args=(shared, together)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sliding_max(apart, FLOW.per_seconds) > BUDGET * 1.5
    assert sliding_max(together, FLOW.per_seconds) <= BUDGET
