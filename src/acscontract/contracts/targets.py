"""Where the contract suite sends its requests: a target, its credentials and its resources.

Three kinds of target:

- `emulator`: an `Emulator` in this process, called directly (no sockets; the fastest).
- `emulator-http`: the same emulator behind a real uvicorn server on loopback, started for the
  run (`serve_in_thread`), to exercise the HTTP front door.
- a URL: anything else, for example `https://live.aliyuncs.com` or a served emulator.

A target run by acscontract itself knows everything from the emulator's seed (keys, domain, app,
streams). A URL takes credentials from `ALIBABA_CLOUD_ACCESS_KEY_ID`/`_SECRET`/`_SECURITY_TOKEN`
and its resources from the options (`--domain --app --stream`, each also an `ACSCONTRACT_*`
variable). A URL is an emulator, with an admin API, when `GET /_emulator/state` answers; its
snapshot then supplies what its seed knows (the account of the key, an inactive key, denied keys,
an offline stream, an app without record configuration).

Every other target is treated as a real account, wherever it runs (a loopback URL may be a
tunnel to one): its traffic is paced under 80% of the spec's limit, its recordings are counted
against `--max-recordings`, and generated traffic names streams that cannot record.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, urlencode

import requests
import urllib3

from acscontract._loopback import is_loopback_url
from acscontract.client import (
    NO_TAMPER,
    ApiResponse,
    Client,
    HttpTransport,
    NoPacing,
    Pacer,
    PacingStore,
    PooledTransport,
    SharedPacer,
    Tamper,
    Transport,
    endpoint_problem,
    pacer_for,
    pacing_interval,
    pacing_store,
)
from acscontract.contracts.budget import (
    DEFAULT_MAX_RECORDINGS,
    DEFAULT_MAX_WRITES,
    RecordingBudget,
    Ticket,
    WriteBudget,
    recording_commands,
)
from acscontract.contracts.checks import outcome_of
from acscontract.contracts.pacing import paced_flow
from acscontract.contracts.selection import has_lifecycle, select_operations
from acscontract.emulator import ADMIN_PREFIX, EmulatorTransport
from acscontract.errors import UsageError
from acscontract.signing import Credentials, Scheme
from acscontract.spec import Operation

if TYPE_CHECKING:
    from acscontract.emulator import Emulator, Seed
    from acscontract.emulator._seed import AccountSeed

__all__ = [
    "DEFAULT",
    "EMULATOR_TARGETS",
    "ENV_PREFIX",
    "Admin",
    "ContractTarget",
    "EmulatorAdmin",
    "HttpAdmin",
    "Resources",
    "SteadyClock",
    "TargetOptions",
    "absent_stream_name",
    "open_target",
    "planned_resources",
    "target_is_emulator",
]

ENV_PREFIX = "ACSCONTRACT_"
"""Every option is also a variable: `--stream-offline` is ACSCONTRACT_STREAM_OFFLINE."""

EMULATOR_TARGETS = ("emulator", "emulator-http")
"""Target names that make acscontract start an emulator for the run."""

# An account's flow-control limit while contracts that are not about throttling run against an
# emulator (so that generated traffic is fast and never throttled); the throttling contracts put
# the spec's limit back, and a served emulator gets its own limit back when the run ends.
_UNTHROTTLED_QPS = 1_000_000
_ABSENT_SUFFIX = "-absent-acscontract"


class _Default(enum.Enum):
    MARKER = "default"


DEFAULT = _Default.MARKER
"""`ContractTarget.call`'s Action and Version default: the operation's own."""


@dataclass(frozen=True, slots=True)
class Resources:
    """The domain, app and stream the contracts use, and the optional extra resources.

    A run whose operations have no lifecycle needs the domain only; `app` and `stream` are then
    empty unless given.
    """

    domain: str
    app: str
    stream: str
    stream_offline: str | None = None
    app_without_config: str | None = None
    spare_streams: tuple[str, ...] = ()
    """More online streams with a record configuration (emulators only), for isolation."""

    @property
    def streams(self) -> tuple[str, ...]:
        """The named stream first, then the spare ones."""
        return (self.stream, *self.spare_streams)


class Admin(Protocol):
    """An emulator's admin API, as the contracts use it."""

    def task_state(self, domain: str, app: str, stream: str) -> str: ...

    def set_stream_online(self, domain: str, app: str, stream: str, online: bool) -> None: ...

    @property
    def can_advance_clock(self) -> bool: ...

    def advance_clock(self, seconds: float) -> None: ...

    def now(self) -> float: ...

    def gateway_now(self) -> float: ...

    def recordings(self, domain: str, app: str, stream: str) -> int: ...

    def set_account_qps(self, account: str, qps: int | None) -> None: ...

    def invalidate(self) -> None:
        """Forget what was read: a request or a change may have moved the state on."""
        ...


class EmulatorAdmin:
    """The admin API of an in-process `Emulator`: direct calls."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def task_state(self, domain: str, app: str, stream: str) -> str:
        return self.emulator.state.task_state(domain, app, stream)

    def set_stream_online(self, domain: str, app: str, stream: str, online: bool) -> None:
        self.emulator.set_stream_online(domain, app, stream, online)

    @property
    def can_advance_clock(self) -> bool:
        return callable(getattr(self.emulator.clock, "advance", None))

    def advance_clock(self, seconds: float) -> None:
        self.emulator.advance_clock(seconds)

    def now(self) -> float:
        return self.emulator.clock.now()

    def gateway_now(self) -> float:
        return self.emulator.gateway_now()

    def recordings(self, domain: str, app: str, stream: str) -> int:
        key = (domain, app, stream)
        return sum(1 for r in self.emulator.recordings() if r.key == key)

    def set_account_qps(self, account: str, qps: int | None) -> None:
        self.emulator.set_account_qps(account, qps)

    def invalidate(self) -> None:
        return None


class HttpAdmin:
    """The admin API of an emulator served over HTTP (`/_emulator/...`, see docs/emulator.md).

    A stream's task state and recordings come from one `GET /state?domain=&app=&stream=`, read
    at most once between two changes: every request the target sends, and every admin change,
    makes the next read fetch it again (`invalidate`).
    """

    def __init__(
        self,
        base_url: str,
        pool: urllib3.PoolManager,
        state: Mapping[str, Any],
        token: str | None = None,
        *,
        initial_state: str = "",
    ) -> None:
        self.base = base_url.rstrip("/") + ADMIN_PREFIX
        self.pool = pool
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._initial = initial_state
        now = state.get("now")
        self._offset = float(now) - time.time() if isinstance(now, int | float) else 0.0
        gateway = state.get("gateway_now")
        self._gateway_offset = (
            float(gateway) - time.time() if isinstance(gateway, int | float) else 0.0
        )
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._layout: dict[str, Any] | None = None
        # Advancing by zero tells whether the emulator's clock can move at all.
        self._can_advance = self._request("POST", "/clock/advance", {"seconds": 0}).status == 200

    def _request(
        self, method: str, path: str, payload: Any = None, params: Any = None
    ) -> urllib3.BaseHTTPResponse:
        url = f"{self.base}{path}"
        if params:
            url += "?" + urlencode(params)
        headers = dict(self._headers)
        body = None
        if payload is not None:
            body = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        try:
            return self.pool.request(
                method, url, body=body, headers=headers, retries=False, redirect=False
            )
        except urllib3.exceptions.HTTPError as exc:
            raise UsageError(
                f"The emulator's admin API at {self.base} did not answer ({type(exc).__name__})."
            ) from None

    def _call(self, method: str, path: str, payload: Any = None, params: Any = None) -> Any:
        response = self._request(method, path, payload, params)
        text = response.data.decode("utf-8", "replace")
        if response.status >= 400:
            raise UsageError(
                f"The emulator's admin API refused {method} {ADMIN_PREFIX}{path} with HTTP "
                f"{response.status}: {text[:300]}"
            )
        try:
            return json.loads(text) if text else None
        except (ValueError, RecursionError):  # not JSON, or nested past Python's parser
            raise UsageError(
                f"The emulator's admin API answered {method} {ADMIN_PREFIX}{path} with HTTP "
                f"{response.status} and a body that is not JSON; is --target a served emulator?"
            ) from None

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()

    def state(self) -> Mapping[str, Any]:
        """The emulator's whole state (`GET /_emulator/state`), read fresh."""
        data = self._call("GET", "/state")
        return data if isinstance(data, Mapping) else {}

    def _stream(self, domain: str, app: str, stream: str) -> dict[str, Any]:
        key = (domain, app, stream)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and cached.get("recordings") is not None:
            return cached
        shape = self._shape()
        fields = dict(zip(shape["key"], key, strict=True))
        data = self._call("GET", "/state", params=fields)
        data = data if isinstance(data, Mapping) else {}
        found = data.get("world")
        world: Mapping[str, Any] = found if isinstance(found, Mapping) else {}

        def mine(resource: str) -> list[Mapping[str, Any]]:
            # An emulator that ignores the filter sends everything: keep this stream's items.
            return [
                i
                for i in world.get(resource, ()) or ()
                if isinstance(i, Mapping) and all(i.get(k) == v for k, v in fields.items())
            ]

        tasks = mine(shape["tasks"])
        state = str(tasks[0].get("state")) if tasks else self._initial
        streams = [
            {"online": i.get(shape["online"]), "task": state} for i in mine(shape["streams"])
        ]
        fresh = {"streams": streams, "tasks": tasks, "recordings": mine(shape["recordings"])}
        with self._lock:
            self._cache[key] = fresh
        return fresh

    def _shape(self) -> dict[str, Any]:
        """Where the stream, its task and its recordings are in the emulator's world (read once
        from `GET /state`: the lifecycle's resource and key, the seed's streams, the produced
        resource)."""
        if self._layout is not None:
            return self._layout
        data = self.state()
        lifecycles = data.get("lifecycles") or {}
        tasks = next(iter(lifecycles), "")
        seed = data.get("seed") or {}
        shape = {
            "tasks": tasks,
            "key": list((data.get("identifiers") or {}).get(tasks, ())),
            "streams": seed.get("streams", ""),
            "online": seed.get("online", ""),
            "recordings": (data.get("produces") or {}).get(tasks, ""),
        }
        self._layout = shape
        return shape

    def snapshot(self) -> Mapping[str, Any] | None:
        """The emulator's snapshot (its world as a seed, with keys), or None if refused."""
        response = self._request("GET", "/snapshot")
        if response.status != 200:
            return None
        try:
            data = json.loads(response.data)
        except ValueError:
            return None
        return data if isinstance(data, Mapping) else None

    def streams(self) -> list[Mapping[str, Any]]:
        """The streams the emulator knows: each one's key (the lifecycle's identifiers, in order)
        and whether it is online."""
        shape = self._shape()
        world = self.state().get("world")
        items = world.get(shape["streams"], []) if isinstance(world, Mapping) else []
        return [
            {
                "key": tuple(str(item.get(name)) for name in shape["key"]),
                "online": bool(item.get(shape["online"])),
            }
            for item in items
            if isinstance(item, Mapping)
        ]

    def task_state(self, domain: str, app: str, stream: str) -> str:
        key = (domain, app, stream)
        with self._lock:
            cached = self._cache.get(key)
        view = cached if cached is not None else self._stream(*key)
        for task in view.get("tasks", []):
            return str(task.get("state"))
        for item in view.get("streams", []):
            return str(item.get("task"))
        return self._initial  # no task: a stream nobody recorded is in the initial state

    def set_stream_online(self, domain: str, app: str, stream: str, online: bool) -> None:
        path = "/".join(quote(part, safe="") for part in (domain, app, stream))
        self.invalidate()
        data = self._call("POST", f"/streams/{path}", {"online": online})
        task = data.get("task") if isinstance(data, Mapping) else None
        if isinstance(task, str):
            # The answer gives the stream's task state; its recordings are read when asked.
            entry = {"domain": domain, "app": app, "stream": stream, "online": online, "task": task}
            with self._lock:
                self._cache[(domain, app, stream)] = {
                    "streams": [entry],
                    "tasks": [],
                    "recordings": None,
                }

    @property
    def can_advance_clock(self) -> bool:
        return self._can_advance

    def advance_clock(self, seconds: float) -> None:
        self.invalidate()
        data = self._call("POST", "/clock/advance", {"seconds": seconds})
        now = data.get("now") if isinstance(data, Mapping) else None
        if isinstance(now, int | float):
            self._offset = float(now) - time.time()
        else:
            self._offset += seconds

    def now(self) -> float:
        return time.time() + self._offset

    def gateway_now(self) -> float:
        return time.time() + self._gateway_offset

    def recordings(self, domain: str, app: str, stream: str) -> int:
        return len(self._stream(domain, app, stream)["recordings"])

    def set_account_qps(self, account: str, qps: int | None) -> None:
        self.invalidate()
        self._call("POST", f"/accounts/{quote(account, safe='')}/qps", {"qps": qps})


@dataclass(frozen=True, slots=True)
class TargetOptions:
    """What the user asked for, from options or `ACSCONTRACT_*` variables (options win)."""

    target: str = "emulator"
    domain: str | None = None
    app: str | None = None
    stream: str | None = None
    stream_offline: str | None = None
    app_without_config: str | None = None
    deny_access_key_id: str | None = None
    deny_access_key_secret: str | None = field(default=None, repr=False)
    admin_token: str | None = field(default=None, repr=False)
    allow_throttling: bool = False
    pacing_store: str | None = field(default=None, repr=False)
    """A `redis://` URL shared by every machine (may hold a password), else the file store."""
    max_recordings: int | None = None
    """Successful recording-starting calls allowed on a real account (default 3)."""
    operation: str | None = None
    """The operations under contract: a name, names separated by commas, or `all` (default: the
    reference operation)."""
    max_writes: int | None = None
    """Requests that could change state, of operations the spec says write, allowed on a real
    account (default 0)."""
    run_id: str | None = None
    """Names the run whose workers share one recording budget (the plugin sets one)."""

    @classmethod
    def resolve(
        cls, given: Mapping[str, Any], environ: Mapping[str, str] | None = None
    ) -> TargetOptions:
        """Options from `given` (None means not given), else `ACSCONTRACT_<NAME>`, else defaults."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for item in dataclasses.fields(cls):
            value = given.get(item.name)
            if value is None or value is False:
                raw = env.get(ENV_PREFIX + item.name.upper())
                if raw is not None and raw != "":
                    value = _typed(raw, item.name, str(item.type))
            if value is not None:
                values[item.name] = _typed(value, item.name, str(item.type))
        return cls(**values)

    @property
    def recording_limit(self) -> int:
        """The recording budget of a real account."""
        return DEFAULT_MAX_RECORDINGS if self.max_recordings is None else self.max_recordings

    @property
    def write_limit(self) -> int:
        """The write budget of a real account."""
        return DEFAULT_MAX_WRITES if self.max_writes is None else self.max_writes

    @property
    def resource_names(self) -> tuple[str, ...]:
        """The resource options a URL target needs for the selected operations: the domain, and
        the app and stream when an operation with a lifecycle is selected."""
        needs_stream = select_operations(self.operation).needs_stream
        return ("domain", "app", "stream") if needs_stream else ("domain",)


def _typed(value: Any, name: str, kind: str) -> Any:
    if not isinstance(value, str):
        return value
    if kind == "bool":
        return _truthy(value, name)
    if kind.startswith("int"):
        try:
            number = int(value)
        except ValueError:
            number = -1
        if number < 0:
            raise UsageError(
                f"{name.replace('_', '-')} must be a whole number, 0 or more; {value!r} was given."
            )
        return number
    return value


def _truthy(raw: str, name: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise UsageError(
        f"{ENV_PREFIX}{name.upper()}={raw!r} is not a yes/no value; use 1 or 0, true or false."
    )


@dataclass(frozen=True, slots=True)
class Sending:
    """One request on its way: whether it may start a recording or write, and its budget slots."""

    starts_recording: bool
    ticket: Ticket | None
    writes: bool = False
    """Whether it is a request the spec accepts of an operation that writes (it may change
    state); the lifecycle's commands are the recording budget's."""
    write_ticket: Ticket | None = None


class ContractTarget:
    """A configured target: how to reach it, with which keys, on which resources.

    `call` signs and sends one request. On a target without the emulator's admin API (a real
    account) it is paced under 80% of the spec's limit, shared with every process that uses the
    same pacing store, and a request that may start a recording on the named stream needs a slot
    of the run's recording budget. A request the target throttles is retried after a pause unless
    the caller expects throttling, so contracts that are not about flow control do not fail
    because another client used the budget.
    """

    def __init__(
        self,
        op: Operation,
        *,
        description: str,
        endpoint: str,
        resources: Resources | None,
        credentials: Credentials | None,
        transport: Transport,
        admin: Admin | None = None,
        deny_credentials: Sequence[Credentials] = (),
        inactive_credentials: Credentials | None = None,
        account_id: str | None = None,
        allow_throttling: bool = False,
        own_emulator: bool = False,
        emulator: Emulator | None = None,
        missing: Sequence[str] = (),
        store: PacingStore | None = None,
        max_recordings: int = DEFAULT_MAX_RECORDINGS,
        run_id: str | None = None,
        controls_throttle: bool = False,
        operations: Sequence[Operation] = (),
        max_writes: int = DEFAULT_MAX_WRITES,
    ) -> None:
        self.op = op
        """The run's primary operation (see `Selection.primary`): the preflight's, the
        gateway's, and the default of `call`."""
        self.operations: tuple[Operation, ...] = tuple(operations) or (op,)
        """Every operation of the run."""
        self._by_action = {o.name: o for o in (op, *self.operations)}
        self.description = description
        self.endpoint = endpoint
        self.resources = resources
        self.credentials = credentials
        self.admin = admin
        self.deny_credentials = tuple(deny_credentials)
        self.inactive_credentials = inactive_credentials
        self.account_id = account_id
        self.in_process = isinstance(transport, EmulatorTransport)
        """Whether requests reach the emulator without any HTTP stack."""
        self.loopback = is_loopback_url(endpoint) or self.in_process
        self.allow_throttling = allow_throttling
        self.own_emulator = own_emulator
        self.emulator = emulator
        """The `Emulator` object when acscontract runs it in this process, else None."""
        self.missing = tuple(missing)
        """Why the target cannot be called at all (missing credentials or resources)."""
        self.controls_throttle = controls_throttle and admin is not None and account_id is not None
        """Whether the run sets the account's flow-control limit through the admin API."""
        self._transport = transport
        self._clients: dict[tuple[str, str | None], Client] = {}
        self.store: PacingStore | None = None if self.is_emulator else (store or pacing_store())
        self.pacer: Pacer = (
            NoPacing()
            if self.store is None
            else pacer_for(endpoint, paced_flow(op), store=self.store, account=account_id)
        )
        self._pacers: dict[str, Pacer] = {op.name: self.pacer}
        self.budget: RecordingBudget | None = None
        self.write_budget: WriteBudget | None = None
        if self.store is not None:
            where = f"{run_id or 'unnamed-run'}:{endpoint.rstrip('/').lower()}"
            self.budget = RecordingBudget(self.store, f"recordings:{where}", max_recordings)
            self.write_budget = WriteBudget(self.store, f"writes:{where}", max_writes)
        self._throttle_codes = frozenset(
            e.code for e in op.protocol.gateway_errors_in("throttling")
        )
        self._recording_commands = {
            o.name: recording_commands(o) for o in self._by_action.values() if has_lifecycle(o)
        }
        self._counter_lock = threading.Lock()
        self.requests_sent = 0
        """Requests this process sent to the target (admin calls not included)."""
        self.recordings_started = 0
        """Successful recording-starting calls this process made (billable on a real account)."""
        self.writes_made = 0
        """Successful requests this process sent of operations the spec says write, other than
        the lifecycle's commands (bounded by the write budget on a real account)."""

    def __repr__(self) -> str:
        return f"ContractTarget({self.description!r}, endpoint={self.endpoint!r})"

    @property
    def is_emulator(self) -> bool:
        """Whether the target has the emulator's admin API (in process, or served)."""
        return self.admin is not None

    @property
    def usable(self) -> bool:
        """Whether the target has credentials and resources to run contracts against."""
        return not self.missing

    @property
    def throttling_allowed(self) -> bool:
        """Whether contracts may exceed the flow-control limit on purpose: on an emulator, or
        with `--allow-throttling`."""
        return self.is_emulator or self.allow_throttling

    def client(self, credentials: Credentials | None = None) -> Client:
        """A client for `credentials` (the target's own by default) on the target's transport."""
        creds = credentials or self.credentials
        if creds is None:
            raise UsageError(self.missing[0] if self.missing else "The target has no credentials.")
        key = (creds.access_key_id, creds.security_token)
        client = self._clients.get(key)
        if client is None:
            client = Client(self.endpoint, creds, transport=self._transport)
            self._clients[key] = client
        return client

    def now(self) -> datetime:
        """The time requests are stamped with: the gateway's clock of an emulator with an admin
        API (the wall clock plus its offset), else the wall clock."""
        if self.admin is not None:
            return datetime.fromtimestamp(self.admin.gateway_now(), UTC)
        return datetime.now(UTC)

    # --- what a request may do -------------------------------------------------------------

    def absent_stream(self) -> str:
        """A stream name that no target has: the named stream with a suffix."""
        if self.resources is None:
            raise UsageError(self.missing[0] if self.missing else "The target has no resources.")
        return absent_stream_name(self.resources.stream)

    @property
    def traffic_stream(self) -> str:
        """The stream generated traffic names: the named stream on an emulator; on a real
        account a stream that does not exist, so that generated requests can never record."""
        if self.resources is None:
            raise UsageError(self.missing[0] if self.missing else "The target has no resources.")
        return self.resources.stream if self.is_emulator else self.absent_stream()

    def traffic_parameters(self, op: Operation | None = None) -> dict[str, str]:
        """The lifecycle key parameters generated traffic uses (see `traffic_stream`)."""
        return self.resource_parameters(self.traffic_stream, op=op)

    def operation_of(self, action: str | None, version: str | None) -> Operation | None:
        """The run's operation a request with this Action and Version calls, if any."""
        if action is None or version != self.op.product.version:
            return None
        return self._by_action.get(action)

    def starts_recording(
        self, action: str | None, version: str | None, pairs: Sequence[tuple[str, str]]
    ) -> bool:
        """Whether a request could start a recording: a lifecycle operation's own Action and
        Version, a recording-starting command, and the domain, app and one of the streams of the
        target."""
        op = self.operation_of(action, version)
        if op is None or op.name not in self._recording_commands or self.resources is None:
            return False
        command = op.command_parameter
        lifecycle = op.lifecycle
        if command is None or lifecycle is None or len(lifecycle.key) != 3:
            return False
        values: dict[str, list[str]] = {}
        for name, value in pairs:
            values.setdefault(name, []).append(value)
        starting = self._recording_commands[op.name]
        if not any(v in starting for v in values.get(command.name, [])):
            return False
        domain, app, stream = lifecycle.key
        return (
            self.resources.domain in values.get(domain, [])
            and self.resources.app in values.get(app, [])
            and any(s in self.resources.streams for s in values.get(stream, []))
        )

    def may_write(
        self, action: str | None, version: str | None, pairs: Sequence[tuple[str, str]]
    ) -> bool:
        """Whether a request could change state outside a lifecycle: it calls an operation the
        spec says writes (`Operation.writes`), that has no lifecycle, with parameters the spec's
        own rules accept. A request the spec refuses (a missing or malformed parameter) is
        refused before it can change anything."""
        op = self.operation_of(action, version)
        if op is None or op.writes is None or has_lifecycle(op):
            return False
        return op.check_parameters(dict(pairs)) is None

    def begin(
        self, action: str | None, version: str | None, pairs: Sequence[tuple[str, str]]
    ) -> Sending:
        """Before sending a request: on a real account, a recording budget slot when it could
        start a recording, and a write budget slot when it could change state (a BudgetSpent,
        with nothing sent, when none is left)."""
        starts = self.starts_recording(action, version, pairs)
        writes = self.may_write(action, version, pairs)
        ticket = self.budget.take() if starts and self.budget is not None else None
        write_ticket = None
        if writes and self.write_budget is not None:
            try:
                write_ticket = self.write_budget.take()
            except BaseException:
                if ticket is not None and self.budget is not None:
                    self.budget.settle(ticket, False)
                raise
        return Sending(starts, ticket, writes, write_ticket)

    def finish(self, sending: Sending, status: int | None, *, unanswered: bool = False) -> None:
        """After the answer (None: none came): count it, and settle the budget slots.

        A request that left but got no answer (`unanswered`: interrupted, or the connection
        failed) may have taken effect: it counts as a success, keeping its budget slots, since
        a real account bills a recording it started whether or not the answer arrived."""
        succeeded = status == 200 or unanswered
        started = sending.starts_recording and succeeded
        wrote = sending.writes and succeeded
        with self._counter_lock:
            self.requests_sent += 1
            if started:
                self.recordings_started += 1
            if wrote:
                self.writes_made += 1
        if sending.ticket is not None and self.budget is not None:
            self.budget.settle(sending.ticket, started)
        if sending.write_ticket is not None and self.write_budget is not None:
            self.write_budget.settle(sending.write_ticket, wrote)
        if self.admin is not None:
            self.admin.invalidate()

    def pacer_of(self, op: Operation | None) -> Pacer:
        """The pacer of `op`'s requests: on a real account, the target's one schedule, each
        request spaced by its own operation's interval (see `acscontract.contracts.pacing`)."""
        if op is None:
            return self.pacer
        pacer = self._pacers.get(op.name)
        if pacer is None:
            base = self.pacer
            pacer = (
                dataclasses.replace(base, interval=pacing_interval(paced_flow(op)))
                if isinstance(base, SharedPacer)
                else base
            )
            self._pacers[op.name] = pacer
        return pacer

    @contextmanager
    def recordings_for(self, count: int, what: str) -> Iterator[None]:
        """Hold `count` recordings of the run's budget for a contract (nothing on an emulator)."""
        if self.budget is None:
            yield
            return
        with self.budget.reserve(count, what):
            yield

    def call(
        self,
        params: Mapping[str, str] | Sequence[tuple[str, str]] = (),
        *,
        action: str | _Default | None = DEFAULT,
        version: str | _Default | None = DEFAULT,
        method: str = "POST",
        scheme: Scheme = Scheme.V3,
        credentials: Credentials | None = None,
        tamper: Tamper = NO_TAMPER,
        expect_throttling: bool = False,
        retry_throttled: bool = True,
        operation: Operation | None = None,
    ) -> ApiResponse:
        """Sign and send one request of `operation` (the target's primary one by default).
        `action`/`version` default to the operation's; None omits.

        `expect_throttling` sends unpaced and never retries (for contracts that exceed the limit
        on purpose); `retry_throttled=False` keeps pacing but returns a throttled answer as is.
        """
        client = self.client(credentials)
        op = operation or self.op
        the_action = op.name if isinstance(action, _Default) else action
        the_version = op.product.version if isinstance(version, _Default) else version
        pairs = list(params.items()) if isinstance(params, Mapping) else list(params)
        pacer = self.pacer_of(self.operation_of(the_action, the_version) or op)
        retries = self._throttle_retries(op) if retry_throttled and not expect_throttling else 0
        while True:
            stamp = tamper
            if tamper.timestamp is None and self.admin is not None:
                stamp = tamper | Tamper(timestamp=self.now())
            request = client.build(
                the_action,
                the_version,
                pairs,
                method=method,
                scheme=scheme,
                tamper=stamp,
            )
            sending = self.begin(the_action, the_version, pairs)
            status: int | None = None
            left = False
            try:
                if not expect_throttling:
                    pacer.wait()
                left = True
                response = client.send(request)
                status = response.status
            finally:
                self.finish(sending, status, unanswered=left and status is None)
            if retries <= 0 or outcome_of(response) not in self._throttle_codes:
                return response
            retries -= 1
            time.sleep(self._throttle_pause(op))

    def _throttle_retries(self, op: Operation) -> int:
        limit = paced_flow(op).limit or 1
        return max(3, limit // 5)

    def _throttle_pause(self, op: Operation) -> float:
        flow = paced_flow(op)
        return flow.per_seconds / max(1, (flow.limit or 1)) * 5

    def params(
        self,
        command: str,
        stream: str | None = None,
        *,
        op: Operation | None = None,
        **extra: str,
    ) -> dict[str, str]:
        """Business parameters for `command` of `op` (the primary operation by default) on the
        target's domain, app and `stream`."""
        if self.resources is None:
            raise UsageError(self.missing[0] if self.missing else "The target has no resources.")
        the_op = op or self.op
        names = self.resource_parameters(stream, op=the_op)
        command_parameter = the_op.command_parameter
        if command_parameter is None:
            raise LookupError(f"The spec of {the_op.name} has no command parameter.")
        ordered = {p.name: "" for p in the_op.parameters}
        ordered.update(names)
        ordered[command_parameter.name] = command
        ordered.update(extra)
        return {k: v for k, v in ordered.items() if v != ""}

    def resource_parameters(
        self, stream: str | None = None, *, app: str | None = None, op: Operation | None = None
    ) -> dict[str, str]:
        """The lifecycle key parameters (domain, app, stream) of `op` (the primary operation by
        default) filled from the resources."""
        if self.resources is None:
            raise UsageError(self.missing[0] if self.missing else "The target has no resources.")
        the_op = op or self.op
        lifecycle = the_op.lifecycle
        if lifecycle is None or len(lifecycle.key) != 3:
            raise LookupError(
                f"The spec of {the_op.name} has no three-part lifecycle key (domain, app, stream)."
            )
        domain_name, app_name, stream_name = lifecycle.key
        return {
            domain_name: self.resources.domain,
            app_name: app or self.resources.app,
            stream_name: stream or self.resources.stream,
        }

    @contextmanager
    def spec_flow_control(self, op: Operation | None = None) -> Iterator[None]:
        """While inside, the account has the spec's limits and `op`'s window is fresh.

        An emulator whose account the run controls gets the spec's limits back for the duration
        (it runs unthrottled otherwise, so that generated traffic is fast); any other target is
        given one quiet window of `op` (the primary operation by default) before and after.
        """
        window = (op or self.op).flow_control.per_seconds
        if self.controls_throttle and self.admin is not None and self.account_id is not None:
            self.admin.set_account_qps(self.account_id, None)
            try:
                yield
            finally:
                self.admin.set_account_qps(self.account_id, _UNTHROTTLED_QPS)
        else:
            time.sleep(window)
            try:
                yield
            finally:
                time.sleep(window)

    def steady_clock(self) -> SteadyClock:
        """A clock for scheduling traffic: an emulator's own (moved, never slept) when its admin
        API can move it, else the wall clock (slept)."""
        if self.admin is not None and self.admin.can_advance_clock:
            return SteadyClock(self.admin.now, self.admin.advance_clock)
        return SteadyClock(time.monotonic, time.sleep)


class SteadyClock:
    """Seconds since it was made, on a clock that `wait_until` moves forward (or sleeps on)."""

    __slots__ = ("_now", "_origin", "_wait")

    def __init__(self, now: Callable[[], float], wait: Callable[[float], object]) -> None:
        self._now = now
        self._wait = wait
        self._origin = now()

    def now(self) -> float:
        """Seconds since the clock was made."""
        return self._now() - self._origin

    def wait_until(self, offset: float) -> None:
        """Return at `offset` seconds after the clock was made (at once if that has passed)."""
        remaining = offset - self.now()
        if remaining > 0:
            self._wait(remaining)


# --- building targets ------------------------------------------------------------------------


def absent_stream_name(stream: str) -> str:
    """A stream name that no target has: `stream` with a suffix."""
    return stream + _ABSENT_SUFFIX


def _seed_resources(seed: Seed) -> tuple[str, Credentials, Resources, Credentials | None]:
    """The first account of the seed with a root key and a recordable app with online streams."""
    for account in seed.accounts:
        root = next((k for k in account.access_keys if k.user is None and k.active), None)
        if root is None:
            continue
        for domain in account.domains:
            recordable = [a for a in domain.apps if a.record_config]
            for app in recordable:
                online = [s.name for s in app.streams if s.online]
                if not online:
                    continue
                offline = next((s.name for s in app.streams if not s.online), None)
                without = next((a.name for a in domain.apps if not a.record_config), None)
                inactive = next((k for k in account.access_keys if not k.active), None)
                resources = Resources(
                    domain=domain.name,
                    app=app.name,
                    stream=online[0],
                    stream_offline=offline,
                    app_without_config=without,
                    spare_streams=tuple(online[1:]),
                )
                return (
                    account.id,
                    Credentials(root.id, root.secret),
                    resources,
                    None if inactive is None else Credentials(inactive.id, inactive.secret),
                )
    raise UsageError(
        f"The emulator's seed {seed.source} has no account with an active root key and an app "
        "with a record configuration and an online stream; the contracts need one."
    )


def _denied_keys(seed: Seed, op: Operation, account_id: str, domain: str) -> list[Credentials]:
    """The seed's RAM-user keys whose policies deny the operation on `domain`.

    A user without policies is denied implicitly; a user's policies are otherwise evaluated with
    acscontract.ram, explicit denials first.
    """
    from acscontract.ram import Evaluator, load_policy

    resource = op.ram.resource_types[0] if op.ram.resource_types else None
    explicit: list[Credentials] = []
    implicit: list[Credentials] = []
    for account in seed.accounts:
        if account.id != account_id:
            continue
        users = {u.name: u for u in account.users}
        for key in account.access_keys:
            if key.user is None or not key.active or key.user not in users:
                continue
            user = users[key.user]
            creds = Credentials(key.id, key.secret)
            if not user.policies:
                implicit.append(creds)
                continue
            if resource is None:
                continue
            documents = [load_policy(p.text, name=p.origin) for p in user.policies]
            arn = resource.arn(
                **{
                    name: (account.id if name == "accountId" else domain)
                    for name in resource.placeholders
                }
            )
            decision = Evaluator(documents).evaluate(op.ram.action, arn, {})
            if not decision.allowed:
                explicit.append(creds)
    return explicit + implicit


def _in_process(op: Operation, options: TargetOptions, stack: ExitStack) -> ContractTarget:
    from acscontract.emulator import Emulator, OffsetClock

    probe = Emulator(product=op.product)
    account_id, _, _, _ = _seed_resources(probe.seed)
    seed = probe.seed.to_json()
    for account in seed["accounts"]:
        if account["id"] == account_id:
            account["qps"] = _UNTHROTTLED_QPS
    emulator = Emulator(seed, clock=OffsetClock(), product=op.product)
    account_id, creds, resources, inactive = _seed_resources(emulator.seed)
    deny = _denied_keys(emulator.seed, op, account_id, resources.domain)
    admin = EmulatorAdmin(emulator)
    common: dict[str, Any] = {
        "resources": resources,
        "credentials": creds,
        "admin": admin,
        "deny_credentials": deny,
        "inactive_credentials": inactive,
        "account_id": account_id,
        "allow_throttling": True,
        "own_emulator": True,
        "emulator": emulator,
        "controls_throttle": True,
        "operations": select_operations(options.operation).operations,
    }
    if options.target == "emulator-http":
        from acscontract.emulator import serve_in_thread

        url: str = stack.enter_context(serve_in_thread(emulator, "127.0.0.1", 0))
        session = requests.Session()
        session.trust_env = False
        stack.callback(session.close)
        return ContractTarget(
            op,
            description=f"emulator over loopback HTTP ({url})",
            endpoint=url,
            transport=HttpTransport(session),
            **common,
        )
    endpoint = "http://emulator.invalid"
    return ContractTarget(
        op,
        description="emulator in process",
        endpoint=endpoint,
        transport=EmulatorTransport(emulator),
        **common,
    )


def _probe_admin(
    url: str, session: requests.Session, token: str | None
) -> Mapping[str, Any] | None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = session.get(
            url.rstrip("/") + ADMIN_PREFIX + "/state",
            headers=headers,
            timeout=5,
            allow_redirects=False,
        )
    except requests.RequestException:
        return None
    try:
        data = response.json()
    except (ValueError, RecursionError):  # not JSON, or nested past Python's parser
        return None
    if response.status_code == 401 and isinstance(data, Mapping) and "error" in data:
        # A served emulator whose admin API wants a token: without it the run would take it
        # for a real account, and skip what needs the admin API.
        raise UsageError(
            f"The target {url} is a served emulator whose admin API "
            + ("refused the --admin-token given" if token else "needs a token")
            + ": pass the --admin-token that `acscontract emulator serve` printed."
        )
    if response.status_code != 200:
        return None
    return data if isinstance(data, Mapping) and "world" in data else None


@dataclass(frozen=True, slots=True)
class _World:
    """What a served emulator's snapshot tells about the account of the run's key."""

    account: AccountSeed
    seed: Seed


def _served_world(admin: HttpAdmin, credentials: Credentials | None) -> _World | None:
    """The seed of a served emulator (from its snapshot) and the account of `credentials`."""
    if credentials is None:
        return None
    snapshot = admin.snapshot()
    if snapshot is None:
        return None
    from acscontract.emulator import load_seed
    from acscontract.errors import AcsContractError

    try:
        seed = load_seed(snapshot.get("seed"))
    except AcsContractError:
        return None
    key = credentials.access_key_id
    for account in seed.accounts:
        if any(k.id == key for k in account.access_keys) or any(
            t.access_key_id == key for t in account.sts_tokens
        ):
            return _World(account, seed)
    return None


def _served_extras(
    op: Operation, world: _World, options: TargetOptions, streams: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Optional resources and keys of a served emulator, read from its seed and state."""
    account = world.account
    domain = next((d for d in account.domains if d.name == options.domain), None)
    app = None if domain is None else next((a for a in domain.apps if a.name == options.app), None)
    online = {tuple(s["key"]): bool(s.get("online")) for s in streams}
    spare: tuple[str, ...] = ()
    offline = options.stream_offline
    if app is not None:
        names = [s.name for s in app.streams if s.name != options.stream]
        key = (str(options.domain), str(options.app))
        spare = tuple(n for n in names if online.get((*key, n)))
        if offline is None:
            offline = next((n for n in names if online.get((*key, n)) is False), None)
    without = options.app_without_config
    if without is None and domain is not None:
        without = next((a.name for a in domain.apps if not a.record_config), None)
    inactive = next((k for k in account.access_keys if not k.active), None)
    deny: list[Credentials] = []
    if options.domain:
        deny = _denied_keys(world.seed, op, account.id, options.domain)
    return {
        "spare_streams": spare,
        "stream_offline": offline,
        "app_without_config": without,
        "inactive": None if inactive is None else Credentials(inactive.id, inactive.secret),
        "deny": deny,
    }


def _url_target(op: Operation, options: TargetOptions, stack: ExitStack) -> ContractTarget:
    url = options.target
    problem = endpoint_problem(url)
    if not url.lower().startswith(("http://", "https://")) or problem is not None:
        raise UsageError(
            f"The target {url!r} is neither 'emulator', 'emulator-http' nor a usable http(s) URL"
            f"{f' ({problem})' if problem else ''}; pass --target emulator, or a URL such as "
            "https://live.aliyuncs.com."
        )
    session = requests.Session()
    # Proxy settings from the environment make no sense for this machine's own ports.
    session.trust_env = not is_loopback_url(url)
    stack.callback(session.close)
    missing: list[str] = []
    credentials: Credentials | None = None
    try:
        credentials = Credentials.from_env()
    except Exception as exc:  # noqa: BLE001 - any credential problem is shown as the reason
        missing.append(str(exc))
    absent = [n for n in options.resource_names if not getattr(options, n)]
    if absent:
        what = (
            "an online stream of a domain and app with a record configuration"
            if len(options.resource_names) > 1
            else "a domain of the account"
        )
        missing.append(
            "The target needs the resources to run against: "
            + ", ".join(f"--{n}" for n in absent)
            + f" (or {', '.join(ENV_PREFIX + n.upper() for n in absent)}): {what}."
        )
    state = _probe_admin(url, session, options.admin_token)
    admin = None
    extras: dict[str, Any] = {}
    account_id = None
    original_qps: int | None = None
    pool: urllib3.PoolManager | None = None
    if state is not None:
        pool = urllib3.PoolManager(maxsize=16, timeout=urllib3.Timeout(connect=5, read=30))
        stack.callback(pool.clear)
        admin = HttpAdmin(
            url,
            pool,
            state,
            options.admin_token,
            initial_state=op.lifecycle.initial if op.lifecycle else "",
        )
        world = _served_world(admin, credentials)
        if world is not None:
            account_id = world.account.id
            original_qps = world.account.qps
            if not absent and options.stream:
                extras = _served_extras(op, world, options, admin.streams())
            elif not absent:
                extras = {
                    "deny": _denied_keys(world.seed, op, world.account.id, str(options.domain))
                }
    resources = None
    if not absent:
        resources = Resources(
            domain=str(options.domain),
            app=options.app or "",
            stream=options.stream or "",
            stream_offline=options.stream_offline or extras.get("stream_offline"),
            app_without_config=options.app_without_config or extras.get("app_without_config"),
            spare_streams=extras.get("spare_streams", ()),
        )
    deny: list[Credentials] = list(extras.get("deny", []))
    if options.deny_access_key_id and options.deny_access_key_secret:
        deny.insert(0, Credentials(options.deny_access_key_id, options.deny_access_key_secret))
    controls = admin is not None and account_id is not None
    if controls and admin is not None and account_id is not None:
        # Fast, unthrottled traffic while the run lasts; the emulator's own limit afterwards.
        admin.set_account_qps(account_id, _UNTHROTTLED_QPS)
        stack.callback(admin.set_account_qps, account_id, original_qps)
    kind = "emulator" if admin is not None else "endpoint"
    return ContractTarget(
        op,
        description=f"{kind} at {url}",
        endpoint=url.rstrip("/"),
        resources=resources,
        credentials=credentials,
        transport=HttpTransport(session) if pool is None else PooledTransport(pool),
        admin=admin,
        deny_credentials=deny,
        inactive_credentials=extras.get("inactive"),
        account_id=account_id,
        allow_throttling=options.allow_throttling,
        missing=missing,
        store=None if admin is not None else pacing_store(options.pacing_store),
        max_recordings=options.recording_limit,
        run_id=options.run_id,
        controls_throttle=controls,
        operations=select_operations(options.operation).operations,
        max_writes=options.write_limit,
    )


def target_is_emulator(options: TargetOptions) -> bool:
    """Whether the target `options` name is an emulator (one acscontract starts, or a URL whose
    admin API answers), known before the target is opened. Asked once per URL and process."""
    if options.target in EMULATOR_TARGETS:
        return True
    key = (options.target, options.admin_token)
    if key not in _KIND_CACHE:
        with requests.Session() as session:
            session.trust_env = not is_loopback_url(options.target)
            state = _probe_admin(options.target, session, options.admin_token)
        _KIND_CACHE[key] = state is not None
    return _KIND_CACHE[key]


_KIND_CACHE: dict[tuple[str, str | None], bool] = {}


def planned_resources(op: Operation, options: TargetOptions) -> Resources | None:
    """The resources `open_target` will use, known before anything starts (None: not given).

    For an emulator acscontract runs, they come from the default seed; otherwise from options.
    """
    if options.target in EMULATOR_TARGETS:
        from acscontract.emulator import Emulator

        return _seed_resources(Emulator(product=op.product).seed)[2]
    if all(getattr(options, name) for name in options.resource_names):
        return Resources(
            domain=str(options.domain),
            app=options.app or "",
            stream=options.stream or "",
            stream_offline=options.stream_offline,
            app_without_config=options.app_without_config,
        )
    return None


def open_target(
    op: Operation | None, options: TargetOptions
) -> AbstractContextManager[ContractTarget]:
    """The target `options` describe, ready to use; leaving the context stops what it started.

    `op` is the run's primary operation; None takes the selection's (`Selection.primary`).
    """
    primary = op if op is not None else select_operations(options.operation).primary

    @contextmanager
    def opened() -> Iterator[ContractTarget]:
        with ExitStack() as stack:
            if options.target in EMULATOR_TARGETS:
                yield _in_process(primary, options, stack)
            else:
                yield _url_target(primary, options, stack)

    return opened()
