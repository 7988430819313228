"""The emulator's explicit state: identities, domains and streams, recording tasks and files.

`EmulatorState` is plain data built from a `Seed`. It is not thread-safe on its own; the
`Emulator` guards it with one lock. It is seen two ways:

- as a JSON snapshot (`snapshot()`, `EmulatorState.restore`): the world as a seed, tasks,
  recordings and fault rules; the export and import format;
- as records (`records()`, `record()`, `EmulatorState.from_records`): one JSON value per
  (kind, key), which is what a live store (`_persist.StateDatabase`) keeps and what one request's
  changes are written as. Every kind of thing the world holds is one record kind.
"""

from __future__ import annotations

import functools
import hmac
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from acscontract.emulator._lifecycle import RecordingTask, StreamKey
from acscontract.emulator._seed import PolicySource, Seed, load_seed
from acscontract.emulator._types import Recording
from acscontract.errors import InputError

__all__ = [
    "ACCOUNT",
    "RECORDING",
    "SNAPSHOT_FORMAT",
    "STREAM",
    "TASK",
    "AppState",
    "ChangeBatch",
    "DomainState",
    "EmulatorState",
    "Identity",
    "Record",
    "StateView",
    "StoredState",
    "TaskView",
    "stream_key",
]

SNAPSHOT_FORMAT = "acscontract-emulator-state/1"
_MASK = "***"

# Record kinds: one per kind of thing the world holds.
STREAM = "stream"  # key: ["domain", "app", "stream"]; value: {"online": bool}
ACCOUNT = "account"  # key: the account id; value: {"qps": int | null}
TASK = "task"  # key: ["domain", "app", "stream"]; value: RecordingTask.to_json()
RECORDING = "recording"  # key: the recording's position, zero-padded; value: Recording.to_json()


_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@functools.lru_cache(maxsize=65536)
def stream_key(key: StreamKey) -> str:
    """The record key of a stream or its task: a JSON array, unambiguous whatever the names."""
    return _encode(list(key))


def _recording_key(index: int) -> str:
    return f"{index:012d}"


@dataclass(frozen=True, slots=True)
class Record:
    """One thing of the world as a store keeps it: (kind, key) -> a JSON value (None: gone)."""

    kind: str
    key: str
    value: Any


@dataclass(frozen=True, slots=True, repr=False)
class ChangeBatch:
    """What one request (or admin call) changed, written to a live store in one transaction.

    `records` are upserts (a None value deletes), `meta` replaces those meta entries, `nonces`
    are (access key, nonce, until) to remember. With `replace`, the store first forgets every
    record, meta entry and nonce: the batch is the whole state.
    """

    records: tuple[Record, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)
    nonces: tuple[tuple[str, str, float], ...] = ()
    replace: bool = False
    nonces_expired_at: float | None = None

    def __repr__(self) -> str:
        return (
            f"ChangeBatch(records={len(self.records)}, meta={sorted(self.meta)!r}, "
            f"nonces={len(self.nonces)}, replace={self.replace!r})"
        )


@dataclass(frozen=True, slots=True, repr=False)
class StoredState:
    """Everything a live store holds: meta entries, records and remembered nonces."""

    meta: Mapping[str, Any]
    records: tuple[Record, ...]
    nonces: tuple[tuple[str, str, float], ...]

    def __repr__(self) -> str:
        return (
            f"StoredState(meta={sorted(self.meta)!r}, records={len(self.records)}, "
            f"nonces={len(self.nonces)})"
        )


@dataclass(frozen=True, slots=True, repr=False)
class Identity:
    """Who an AccessKey ID authenticates as.

    `kind` is `root` (the account itself, not subject to RAM), `user` (a RAM user) or `sts` (an
    STS token acting as a RAM role). The secret and token never appear in the repr.
    """

    access_key_id: str
    secret: str
    account_id: str
    kind: str
    active: bool = True
    principal: str | None = None
    display_name: str | None = None
    token: str | None = None
    expires_at: float | None = None
    policies: tuple[PolicySource, ...] = ()

    def __repr__(self) -> str:
        return (
            f"Identity(access_key_id={self.access_key_id!r}, secret={_MASK!r}, "
            f"account_id={self.account_id!r}, kind={self.kind!r}, active={self.active!r}, "
            f"principal={self.principal!r})"
        )

    @property
    def subject_to_ram(self) -> bool:
        """Whether RAM policies decide this identity's calls (everything but a root key)."""
        return self.kind != "root"

    def token_matches(self, token: str | None) -> bool:
        """Whether `token` is this STS identity's token (constant-time comparison)."""
        if self.token is None or token is None:
            return False
        return hmac.compare_digest(self.token.encode(), token.encode("utf-8", "surrogatepass"))


@dataclass(slots=True)
class AppState:
    """An app: whether it has a record configuration, and its streams' online flags."""

    record_config: bool
    streams: dict[str, bool] = field(default_factory=dict)


@dataclass(slots=True)
class DomainState:
    """A domain, the account that owns it, and its apps."""

    account_id: str
    apps: dict[str, AppState] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TaskView:
    """A read-only copy of a recording task."""

    domain: str
    app: str
    stream: str
    state: str
    segment_started_at: float | None
    timer: str | None
    timer_due: float | None


@dataclass(frozen=True, slots=True)
class StateView:
    """A read-only, consistent copy of the emulator's state at one moment."""

    initial_state: str
    accounts: tuple[str, ...]
    streams: Mapping[StreamKey, bool]
    tasks: Mapping[StreamKey, TaskView]
    recordings: tuple[Recording, ...]

    def task_state(self, domain: str, app: str, stream: str) -> str:
        """The lifecycle state of a stream's recording task (the initial state if none)."""
        task = self.tasks.get((domain, app, stream))
        return self.initial_state if task is None else task.state


def _identities(seed: Seed) -> dict[str, Identity]:
    out: dict[str, Identity] = {}
    for account in seed.accounts:
        users = {u.name: u for u in account.users}
        roles = {r.name: r for r in account.roles}
        for key in account.access_keys:
            if key.user is None:
                out[key.id] = Identity(key.id, key.secret, account.id, "root", key.active)
            else:
                user = users[key.user]
                out[key.id] = Identity(
                    key.id,
                    key.secret,
                    account.id,
                    "user",
                    key.active,
                    principal=user.name,
                    display_name=user.display_name or user.name,
                    policies=user.policies,
                )
        for token in account.sts_tokens:
            role = roles[token.role]
            session = token.session_name or token.access_key_id
            out[token.access_key_id] = Identity(
                token.access_key_id,
                token.secret,
                account.id,
                "sts",
                True,
                principal=role.name,
                display_name=f"{role.name}:{session}",
                token=token.token,
                expires_at=token.expires_at,
                policies=role.policies,
            )
    return out


class EmulatorState:
    """Everything the emulator remembers, as plain data. Guarded by the Emulator's lock."""

    __slots__ = (
        "domains",
        "identities",
        "initial_state",
        "next_due",
        "qps",
        "recordings",
        "seed",
        "tasks",
    )

    def __init__(self, seed: Seed, initial_state: str) -> None:
        self.seed = seed
        self.initial_state = initial_state
        self.identities: Mapping[str, Identity] = MappingProxyType(_identities(seed))
        self.qps: dict[str, int | None] = {a.id: a.qps for a in seed.accounts}
        self.domains: dict[str, DomainState] = {}
        for account in seed.accounts:
            for domain in account.domains:
                self.domains[domain.name] = DomainState(
                    account.id,
                    {
                        app.name: AppState(
                            app.record_config, {s.name: s.online for s in app.streams}
                        )
                        for app in domain.apps
                    },
                )
        self.tasks: dict[StreamKey, RecordingTask] = {}
        self.recordings: list[Recording] = []
        self.next_due: float | None = None

    # -- streams -------------------------------------------------------------------------

    def app(self, domain: str, app: str) -> AppState | None:
        """The app, or None when the domain or app is unknown."""
        owner = self.domains.get(domain)
        return None if owner is None else owner.apps.get(app)

    def stream_online(self, key: StreamKey) -> bool | None:
        """Whether the stream is online; None when it is unknown."""
        app = self.app(key[0], key[1])
        return None if app is None else app.streams.get(key[2])

    def recompute_next_due(self) -> None:
        """Refresh the earliest timer deadline (after timers start or stop)."""
        dues = [t.timer_due for t in self.tasks.values() if t.timer_due is not None]
        self.next_due = min(dues) if dues else None

    # -- records ---------------------------------------------------------------------------

    def record(self, kind: str, key: Any) -> Any:
        """The current value of one record (None when it no longer exists).

        `key` is the native key: a StreamKey for streams and tasks, an account id, or a
        recording's position.
        """
        if kind == TASK:
            task = self.tasks.get(key)
            return None if task is None else task.to_json()
        if kind == STREAM:
            online = self.stream_online(key)
            return None if online is None else {"online": online}
        if kind == RECORDING:
            return self.recordings[key].to_json() if 0 <= key < len(self.recordings) else None
        if kind == ACCOUNT:
            return {"qps": self.qps[key]} if key in self.qps else None
        raise KeyError(f"unknown record kind {kind!r}")

    @staticmethod
    def encode_key(kind: str, key: Any) -> str:
        """The store key of a native key."""
        if kind in (TASK, STREAM):
            return stream_key(key)
        if kind == RECORDING:
            return _recording_key(key)
        return str(key)

    def records(self) -> Iterator[Record]:
        """Every record of the world, for a full write."""
        for domain, owner in self.domains.items():
            for app_name, app in owner.apps.items():
                for stream, online in app.streams.items():
                    yield Record(STREAM, stream_key((domain, app_name, stream)), {"online": online})
        for account, qps in self.qps.items():
            yield Record(ACCOUNT, account, {"qps": qps})
        for key, task in self.tasks.items():
            yield Record(TASK, stream_key(key), task.to_json())
        for index, recording in enumerate(self.recordings):
            yield Record(RECORDING, _recording_key(index), recording.to_json())

    @classmethod
    def from_records(
        cls, seed: Seed, initial_state: str, records: Iterable[Record], source: str
    ) -> EmulatorState:
        """The state a seed and a store's records describe (InputError if a record is damaged)."""
        state = cls(seed, initial_state)
        recordings: list[tuple[str, Recording]] = []
        try:
            for item in records:
                value = item.value
                if item.kind == STREAM:
                    domain, app, stream = json.loads(item.key)
                    app_state = state.app(domain, app)
                    if app_state is not None:
                        app_state.streams[stream] = bool(value["online"])
                elif item.kind == ACCOUNT:
                    if item.key in state.qps:
                        qps = value.get("qps")
                        state.qps[item.key] = None if qps is None else int(qps)
                elif item.kind == TASK:
                    task = RecordingTask.from_json(value)
                    state.tasks[task.key] = task
                elif item.kind == RECORDING:
                    recordings.append((item.key, Recording.from_json(value)))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(
                source, f"the stored state is damaged ({type(exc).__name__}); restore a snapshot."
            ) from None
        state.recordings = [r for _, r in sorted(recordings, key=lambda pair: pair[0])]
        state.recompute_next_due()
        return state

    # -- views and snapshots ---------------------------------------------------------------

    def view(self) -> StateView:
        """A read-only copy of the state."""
        streams = {
            (domain, app_name, stream): online
            for domain, owner in self.domains.items()
            for app_name, app in owner.apps.items()
            for stream, online in app.streams.items()
        }
        tasks = {
            key: TaskView(
                t.domain, t.app, t.stream, t.state, t.segment_started_at, t.timer, t.timer_due
            )
            for key, t in self.tasks.items()
        }
        return StateView(
            self.initial_state,
            tuple(a.id for a in self.seed.accounts),
            MappingProxyType(streams),
            MappingProxyType(tasks),
            tuple(self.recordings),
        )

    def world(self) -> dict[str, Any]:
        """The current world as a seed document: the seed with today's streams and qps."""
        document = self.seed.to_json()
        for account in document["accounts"]:
            qps = self.qps.get(account["id"])
            if qps is None:
                account.pop("qps", None)
            else:
                account["qps"] = qps
            for domain in account["domains"]:
                owner = self.domains[domain["name"]]
                domain["apps"] = [
                    {
                        "name": name,
                        "record_config": app.record_config,
                        "streams": [{"name": s, "online": o} for s, o in app.streams.items()],
                    }
                    for name, app in owner.apps.items()
                ]
        return document

    def snapshot(self, faults: list[dict[str, Any]]) -> dict[str, Any]:
        """The durable state as JSON-able data."""
        return {
            "format": SNAPSHOT_FORMAT,
            "seed": self.world(),
            "tasks": [t.to_json() for t in self.tasks.values()],
            "recordings": [r.to_json() for r in self.recordings],
            "faults": faults,
        }

    @classmethod
    def restore(
        cls, data: Any, initial_state: str, source: str = "<snapshot>"
    ) -> tuple[EmulatorState, list[Any]]:
        """The state a snapshot describes, and its fault rules (as JSON) for the injector.

        A snapshot is data only: a seed in it that names policy files is refused, and nothing
        is ever read from disk on its behalf.
        """
        if not isinstance(data, Mapping) or data.get("format") != SNAPSHOT_FORMAT:
            raise InputError(
                source,
                f"this is not an emulator state snapshot (format {SNAPSHOT_FORMAT!r}); pass what "
                "`GET /_emulator/snapshot` or Emulator.snapshot() returned.",
            )
        seed_data = data.get("seed")
        if not isinstance(seed_data, Mapping):
            raise InputError(source, "the snapshot's seed must be a JSON object.")
        seed = load_seed(seed_data, allow_files=False, source=f"{source}:seed")
        state = cls(Seed(seed.accounts, source, seed.description), initial_state)
        try:
            for item in data.get("tasks", ()):
                task = RecordingTask.from_json(item)
                state.tasks[task.key] = task
            state.recordings = [Recording.from_json(r) for r in data.get("recordings", ())]
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(
                source, f"the snapshot's tasks or recordings are damaged ({type(exc).__name__})."
            ) from None
        state.recompute_next_due()
        faults = data.get("faults", [])
        if not isinstance(faults, list):
            raise InputError(source, "the snapshot's faults must be a list of rules.")
        return state, faults
