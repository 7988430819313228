"""Where the contract suite sends its requests: a target, its credentials and its resources.

Three kinds of target:

- `emulator`: an `Emulator` in this process, called directly (no sockets; the fastest).
- `emulator-http`: the same emulator behind a real uvicorn server on loopback, started for the
  run (`serve_in_thread`), to exercise the HTTP front door.
- a URL: anything else, for example `https://live.aliyuncs.com` or a served emulator.

A target run by acscontract itself knows everything from the emulator's seed (keys, domain, app,
streams). A URL takes credentials from `ALIBABA_CLOUD_ACCESS_KEY_ID`/`_SECRET`/`_SECURITY_TOKEN`
and its resources from the options (`--domain --app --stream`, each also an `ACSCONTRACT_*`
variable). A URL is an emulator, with an admin API, when `GET /_emulator/state` answers.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, urlsplit

import requests

from acscontract.client import NO_TAMPER, ApiResponse, Client, SentRequest, Tamper
from acscontract.contracts.checks import outcome_of
from acscontract.contracts.pacing import NoPacing, Pacer, pacer_for
from acscontract.emulator import ADMIN_PREFIX
from acscontract.errors import UsageError
from acscontract.signing import Credentials, Scheme, WireRequest
from acscontract.spec import Operation

if TYPE_CHECKING:
    from acscontract.emulator import Emulator

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
    "open_target",
    "planned_resources",
]

ENV_PREFIX = "ACSCONTRACT_"
"""Every option is also a variable: `--stream-offline` is ACSCONTRACT_STREAM_OFFLINE."""

EMULATOR_TARGETS = ("emulator", "emulator-http")
"""Target names that make acscontract start an emulator for the run."""

# An account's flow-control limit while contracts that are not about throttling run against an
# emulator acscontract started itself; the throttling contracts put the spec's limit back.
_UNTHROTTLED_QPS = 1_000_000


class _Default(enum.Enum):
    MARKER = "default"


DEFAULT = _Default.MARKER
"""`ContractTarget.call`'s Action and Version default: the operation's own."""


@dataclass(frozen=True, slots=True)
class Resources:
    """The domain, app and stream the contracts use, and the optional extra resources."""

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
        return sum(
            1
            for r in self.emulator.recordings()
            if (r.domain, r.app, r.stream) == (domain, app, stream)
        )

    def set_account_qps(self, account: str, qps: int | None) -> None:
        self.emulator.set_account_qps(account, qps)


class HttpAdmin:
    """The admin API of an emulator served over HTTP (`/_emulator/...`, see docs/emulator.md)."""

    def __init__(
        self,
        base_url: str,
        session: requests.Session,
        state: Mapping[str, Any],
        token: str | None = None,
    ) -> None:
        self.base = base_url.rstrip("/") + ADMIN_PREFIX
        self.session = session
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        now = state.get("now")
        self._offset = float(now) - time.time() if isinstance(now, int | float) else 0.0
        gateway = state.get("gateway_now")
        self._gateway_offset = (
            float(gateway) - time.time() if isinstance(gateway, int | float) else 0.0
        )
        # Advancing by zero tells whether the emulator's clock can move at all.
        self._can_advance = self._request("POST", "/clock/advance", {"seconds": 0}).ok

    def _request(self, method: str, path: str, payload: Any = None) -> requests.Response:
        return self.session.request(
            method,
            f"{self.base}{path}",
            json=payload,
            headers=self._headers,
            timeout=10,
            allow_redirects=False,
        )

    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        response = self._request(method, path, payload)
        if response.status_code >= 400:
            raise UsageError(
                f"The emulator's admin API refused {method} {ADMIN_PREFIX}{path} with HTTP "
                f"{response.status_code}: {response.text[:300]}"
            )
        return response.json() if response.content else None

    def state(self) -> Mapping[str, Any]:
        data = self._call("GET", "/state")
        return data if isinstance(data, Mapping) else {}

    def task_state(self, domain: str, app: str, stream: str) -> str:
        state = self.state()
        for item in state.get("streams", []):
            if (item.get("domain"), item.get("app"), item.get("stream")) == (domain, app, stream):
                return str(item.get("task"))
        for task in state.get("tasks", []):
            if (task.get("domain"), task.get("app"), task.get("stream")) == (domain, app, stream):
                return str(task.get("state"))
        raise UsageError(
            f"The emulator's admin API does not know the stream {domain}/{app}/{stream}."
        )

    def set_stream_online(self, domain: str, app: str, stream: str, online: bool) -> None:
        path = "/".join(quote(part, safe="") for part in (domain, app, stream))
        self._call("POST", f"/streams/{path}", {"online": online})

    @property
    def can_advance_clock(self) -> bool:
        return self._can_advance

    def advance_clock(self, seconds: float) -> None:
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
        data = self._call("GET", "/recordings")
        items = data.get("recordings", []) if isinstance(data, Mapping) else []
        return sum(
            1
            for r in items
            if (r.get("domain"), r.get("app"), r.get("stream")) == (domain, app, stream)
        )

    def set_account_qps(self, account: str, qps: int | None) -> None:
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
                    value = _truthy(raw, item.name) if item.type == "bool" else raw
            if value is not None:
                values[item.name] = value
        return cls(**values)


def _truthy(raw: str, name: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise UsageError(
        f"{ENV_PREFIX}{name.upper()}={raw!r} is not a yes/no value; use 1 or 0, true or false."
    )


def is_loopback(url: str) -> bool:
    """Whether `url` names this machine (127.0.0.0/8, ::1 or localhost)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Transport(Protocol):
    def send(self, client: Client, request: WireRequest) -> ApiResponse: ...


class _HttpTransport:
    def send(self, client: Client, request: WireRequest) -> ApiResponse:
        return client.send(request)


class _EmulatorTransport:
    """Hands each request to an in-process `Emulator.handle`, with no HTTP stack at all."""

    def __init__(self, emulator: Emulator, endpoint: str) -> None:
        from acscontract.emulator import EmulatorRequest

        self._request_type = EmulatorRequest
        self.emulator = emulator
        self.endpoint = endpoint

    def send(self, client: Client, request: WireRequest) -> ApiResponse:
        started_at = datetime.now(UTC)
        start = time.perf_counter()
        host = request.headers.get("host", "")
        answer = self.emulator.handle(
            self._request_type(
                method=request.method,
                host=host,
                path=request.path,
                query=request.query,
                headers=request.headers,
                body=request.body,
            )
        )
        text = answer.body.decode("utf-8", "replace")
        try:
            body: Any = json.loads(text)
        except ValueError:
            body = None
        url = f"{self.endpoint}{request.path}" + (f"?{request.query}" if request.query else "")
        return ApiResponse(
            status=answer.status,
            headers=MappingProxyType({k.lower(): v for k, v in answer.headers}),
            json=body,
            text=text,
            request=SentRequest(request.method, url, request.headers, request.body),
            elapsed=time.perf_counter() - start,
            started_at=started_at,
        )


class ContractTarget:
    """A configured target: how to reach it, with which keys, on which resources.

    `call` signs and sends one request, paced when the target is not on loopback. A request the
    target throttles is retried after a pause unless the caller expects throttling, so contracts
    that are not about flow control do not fail because another client used the budget.
    """

    def __init__(
        self,
        op: Operation,
        *,
        description: str,
        endpoint: str,
        resources: Resources | None,
        credentials: Credentials | None,
        transport: _Transport,
        session: requests.Session,
        admin: Admin | None = None,
        deny_credentials: Sequence[Credentials] = (),
        inactive_credentials: Credentials | None = None,
        account_id: str | None = None,
        allow_throttling: bool = False,
        own_emulator: bool = False,
        emulator: Emulator | None = None,
        missing: Sequence[str] = (),
    ) -> None:
        self.op = op
        self.description = description
        self.endpoint = endpoint
        self.resources = resources
        self.credentials = credentials
        self.admin = admin
        self.deny_credentials = tuple(deny_credentials)
        self.inactive_credentials = inactive_credentials
        self.account_id = account_id
        self.loopback = is_loopback(endpoint) or isinstance(transport, _EmulatorTransport)
        self.allow_throttling = allow_throttling
        self.own_emulator = own_emulator
        self.emulator = emulator
        """The `Emulator` object when acscontract runs it in this process, else None."""
        self.in_process = isinstance(transport, _EmulatorTransport)
        """Whether requests reach the emulator without any HTTP stack."""
        self.missing = tuple(missing)
        """Why the target cannot be called at all (missing credentials or resources)."""
        self.session = session
        self._transport = transport
        self._clients: dict[tuple[str, str | None], Client] = {}
        self.pacer: Pacer = NoPacing() if self.loopback else pacer_for(endpoint, op.flow_control)
        self._throttle_codes = frozenset(
            e.code for e in op.protocol.gateway_errors_in("throttling")
        )

    def __repr__(self) -> str:
        return f"ContractTarget({self.description!r}, endpoint={self.endpoint!r})"

    @property
    def usable(self) -> bool:
        """Whether the target has credentials and resources to run contracts against."""
        return not self.missing

    @property
    def throttling_allowed(self) -> bool:
        """Whether contracts may exceed the flow-control limit on purpose."""
        return self.loopback or self.allow_throttling

    def client(self, credentials: Credentials | None = None) -> Client:
        """A client for `credentials` (the target's own by default) on the shared session."""
        creds = credentials or self.credentials
        if creds is None:
            raise UsageError(self.missing[0] if self.missing else "The target has no credentials.")
        key = (creds.access_key_id, creds.security_token)
        client = self._clients.get(key)
        if client is None:
            client = Client(self.endpoint, creds, session=self.session)
            self._clients[key] = client
        return client

    def now(self) -> datetime:
        """The time requests are stamped with: the gateway's clock of an emulator with an admin
        API (the wall clock plus its offset), else the wall clock."""
        if self.admin is not None:
            return datetime.fromtimestamp(self.admin.gateway_now(), UTC)
        return datetime.now(UTC)

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
    ) -> ApiResponse:
        """Sign and send one request. `action`/`version` default to the operation's; None omits.

        `expect_throttling` sends unpaced and never retries (for contracts that exceed the limit
        on purpose); `retry_throttled=False` keeps pacing but returns a throttled answer as is.
        """
        client = self.client(credentials)
        the_action = self.op.name if isinstance(action, _Default) else action
        the_version = self.op.product.version if isinstance(version, _Default) else version
        pairs = list(params.items()) if isinstance(params, Mapping) else list(params)
        retries = self._throttle_retries() if retry_throttled and not expect_throttling else 0
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
            if not expect_throttling:
                self.pacer.wait()
            response = self._transport.send(client, request)
            if retries <= 0 or outcome_of(response) not in self._throttle_codes:
                return response
            retries -= 1
            time.sleep(self._throttle_pause())

    def _throttle_retries(self) -> int:
        limit = self.op.flow_control.limit or 1
        return max(3, limit // 5)

    def _throttle_pause(self) -> float:
        flow = self.op.flow_control
        return flow.per_seconds / max(1, (flow.limit or 1)) * 5

    def params(self, command: str, stream: str | None = None, **extra: str) -> dict[str, str]:
        """Business parameters for `command` on the target's domain, app and `stream`."""
        if self.resources is None:
            raise UsageError(self.missing[0] if self.missing else "The target has no resources.")
        names = self.resource_parameters(stream)
        command_parameter = self.op.command_parameter
        if command_parameter is None:
            raise LookupError(f"The spec of {self.op.name} has no command parameter.")
        ordered = {p.name: "" for p in self.op.parameters}
        ordered.update(names)
        ordered[command_parameter.name] = command
        ordered.update(extra)
        return {k: v for k, v in ordered.items() if v != ""}

    def resource_parameters(
        self, stream: str | None = None, *, app: str | None = None
    ) -> dict[str, str]:
        """The lifecycle key parameters (domain, app, stream) filled from the resources."""
        if self.resources is None:
            raise UsageError(self.missing[0] if self.missing else "The target has no resources.")
        lifecycle = self.op.lifecycle
        if lifecycle is None or len(lifecycle.key) != 3:
            raise LookupError(
                f"The spec of {self.op.name} has no three-part lifecycle key (domain, app, stream)."
            )
        domain_name, app_name, stream_name = lifecycle.key
        return {
            domain_name: self.resources.domain,
            app_name: app or self.resources.app,
            stream_name: stream or self.resources.stream,
        }

    @contextmanager
    def spec_flow_control(self) -> Iterator[None]:
        """While inside, the account has the spec's limit and a fresh window.

        An emulator acscontract runs itself gets the spec's limit back for the duration (it runs
        unthrottled otherwise, so that generated traffic is fast); any other target is given one
        quiet window before and after.
        """
        window = self.op.flow_control.per_seconds
        if self.own_emulator and self.admin is not None and self.account_id is not None:
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
        """A clock for scheduling traffic: the emulator's own (moved, never slept) when
        acscontract runs the emulator, else the wall clock (slept)."""
        if self.own_emulator and self.admin is not None and self.admin.can_advance_clock:
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


def _seed_resources(emulator: Emulator) -> tuple[str, Credentials, Resources, Credentials | None]:
    """The first account of the seed with a root key and a recordable app with online streams."""
    seed = emulator.seed
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


def _denied_keys(
    emulator: Emulator, op: Operation, account_id: str, domain: str
) -> list[Credentials]:
    """The seed's RAM-user keys whose policies deny the operation on `domain`.

    A user without policies is denied implicitly; a user's policies are otherwise evaluated with
    acscontract.ram, explicit denials first.
    """
    from acscontract.ram import Evaluator, load_policy

    resource = op.ram.resource_types[0] if op.ram.resource_types else None
    explicit: list[Credentials] = []
    implicit: list[Credentials] = []
    for account in emulator.seed.accounts:
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

    probe = Emulator(operation=op)
    account_id, _, _, _ = _seed_resources(probe)
    seed = probe.seed.to_json()
    for account in seed["accounts"]:
        if account["id"] == account_id:
            account["qps"] = _UNTHROTTLED_QPS
    emulator = Emulator(seed, clock=OffsetClock(), operation=op)
    account_id, creds, resources, inactive = _seed_resources(emulator)
    deny = _denied_keys(emulator, op, account_id, resources.domain)
    session = requests.Session()
    session.trust_env = False
    stack.callback(session.close)
    admin = EmulatorAdmin(emulator)
    if options.target == "emulator-http":
        from acscontract.emulator import serve_in_thread

        url: str = stack.enter_context(serve_in_thread(emulator, "127.0.0.1", 0))
        return ContractTarget(
            op,
            description=f"emulator over loopback HTTP ({url})",
            endpoint=url,
            resources=resources,
            credentials=creds,
            transport=_HttpTransport(),
            session=session,
            admin=admin,
            deny_credentials=deny,
            inactive_credentials=inactive,
            account_id=account_id,
            allow_throttling=True,
            own_emulator=True,
            emulator=emulator,
        )
    endpoint = "http://emulator.invalid"
    return ContractTarget(
        op,
        description="emulator in process",
        endpoint=endpoint,
        resources=resources,
        credentials=creds,
        transport=_EmulatorTransport(emulator, endpoint),
        session=session,
        admin=admin,
        deny_credentials=deny,
        inactive_credentials=inactive,
        account_id=account_id,
        allow_throttling=True,
        own_emulator=True,
        emulator=emulator,
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
    if response.status_code != 200:
        return None
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, Mapping) else None


def _url_target(op: Operation, options: TargetOptions, stack: ExitStack) -> ContractTarget:
    url = options.target
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(
            f"The target {url!r} is neither 'emulator', 'emulator-http' nor an http(s) URL; pass "
            "--target emulator, or a URL such as https://live.aliyuncs.com."
        )
    session = requests.Session()
    stack.callback(session.close)
    missing: list[str] = []
    credentials: Credentials | None = None
    try:
        credentials = Credentials.from_env()
    except Exception as exc:  # noqa: BLE001 - any credential problem is shown as the reason
        missing.append(str(exc))
    resources = None
    absent = [n for n in ("domain", "app", "stream") if not getattr(options, n)]
    if absent:
        missing.append(
            "The target needs the resources to run against: "
            + ", ".join(f"--{n}" for n in absent)
            + f" (or {', '.join(ENV_PREFIX + n.upper() for n in absent)}): an online stream of "
            "a domain and app with a record configuration."
        )
    else:
        resources = Resources(
            domain=str(options.domain),
            app=str(options.app),
            stream=str(options.stream),
            stream_offline=options.stream_offline,
            app_without_config=options.app_without_config,
        )
    deny: list[Credentials] = []
    if options.deny_access_key_id and options.deny_access_key_secret:
        deny.append(Credentials(options.deny_access_key_id, options.deny_access_key_secret))
    state = _probe_admin(url, session, options.admin_token)
    admin = None if state is None else HttpAdmin(url, session, state, options.admin_token)
    kind = "emulator" if admin is not None else "endpoint"
    return ContractTarget(
        op,
        description=f"{kind} at {url}",
        endpoint=url.rstrip("/"),
        resources=resources,
        credentials=credentials,
        transport=_HttpTransport(),
        session=session,
        admin=admin,
        deny_credentials=deny,
        allow_throttling=options.allow_throttling,
        missing=missing,
    )


def planned_resources(op: Operation, options: TargetOptions) -> Resources | None:
    """The resources `open_target` will use, known before anything starts (None: not given).

    For an emulator acscontract runs, they come from the default seed; otherwise from options.
    """
    if options.target in EMULATOR_TARGETS:
        from acscontract.emulator import Emulator

        return _seed_resources(Emulator(operation=op))[2]
    if options.domain and options.app and options.stream:
        return Resources(
            domain=options.domain,
            app=options.app,
            stream=options.stream,
            stream_offline=options.stream_offline,
            app_without_config=options.app_without_config,
        )
    return None


def open_target(op: Operation, options: TargetOptions) -> AbstractContextManager[ContractTarget]:
    """The target `options` describe, ready to use; leaving the context stops what it started."""

    @contextmanager
    def opened() -> Iterator[ContractTarget]:
        with ExitStack() as stack:
            if options.target in EMULATOR_TARGETS:
                yield _in_process(op, options, stack)
            else:
                yield _url_target(op, options, stack)

    return opened()
