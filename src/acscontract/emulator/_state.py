"""The emulator's explicit state: identities from the seed, and the world of resources.

`EmulatorState` is plain data built from a `Seed`: who each AccessKey authenticates as, each
account's flow-control override, and the `World` (every record of every resource the product's
spec declares). It is not thread-safe on its own; the `Emulator` guards it with one lock. It is
seen two ways:

- as a JSON snapshot (`snapshot()`, `EmulatorState.restore`): the seed, the world's records and
  the fault rules; the export and import format;
- as store records (`records()`, `EmulatorState.from_records`): one JSON value per (kind, key),
  which is what a live store (`_persist.StateDatabase`) keeps and what one request's changes are
  written as. Every resource of the world is one record kind, keyed by its owner and identifiers.
"""

from __future__ import annotations

import functools
import hmac
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import orjson

from acscontract.emulator._seed import PolicySource, Seed, load_seed, record_config_defaults
from acscontract.emulator._world import Change, RecordKey, World
from acscontract.errors import InputError
from acscontract.spec import Product

__all__ = [
    "ACCOUNT",
    "SNAPSHOT_FORMAT",
    "ChangeBatch",
    "EmulatorState",
    "Identity",
    "Record",
    "StateView",
    "StoredState",
    "seed_world",
    "store_json",
]

SNAPSHOT_FORMAT = "acscontract-emulator-state/2"
_MASK = "***"

ACCOUNT = "account"
"""The record kind of an account's flow-control override: key the account id, value {"qps"}."""

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def store_json(value: Any) -> str:
    """`value` as the compact JSON text a live store keeps (non-ASCII kept), cheaply.

    Every change a served emulator acknowledges is encoded before its answer leaves, so this is
    orjson, about ten times cheaper than the json module for a record. Strings come out exactly
    as `json` writes them (keys stay the same text across versions); numbers may be spelled
    differently (`1e-7` for `1e-07`) but read back the same. What orjson refuses (integers
    beyond 64 bits, lone surrogates, keys that are not strings) goes to the json module, which
    decides as it always did. orjson writes NaN and the infinities as null: records hold only
    what the emulator builds (request texts, integers, readings of its finite clocks).
    """
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError
        return _encode(value)


@functools.lru_cache(maxsize=4096)
def _encoded_key(account: str, key: RecordKey) -> str:
    return store_json([account, *key])


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


@dataclass(frozen=True, slots=True)
class StateView:
    """A read-only, consistent copy of the emulator's state at one moment.

    `records` holds, per resource, (owning account, record) pairs, oldest first. `lifecycles`
    maps each lifecycle resource to its initial state, the state of a record it has none of.
    """

    accounts: tuple[str, ...]
    records: Mapping[str, tuple[tuple[str, Mapping[str, Any]], ...]]
    identifiers: Mapping[str, tuple[str, ...]]
    lifecycles: Mapping[str, str]
    streams_resource: str | None = None
    online_field: str | None = None
    produced: Mapping[str, str] = field(default_factory=dict)

    def _keyed(self, resource: str) -> dict[tuple[str, ...], Mapping[str, Any]]:
        names = self.identifiers.get(resource, ())
        return {
            tuple(str(record.get(n, "")) for n in names): record
            for _, record in self.records.get(resource, ())
        }

    @property
    def tasks(self) -> Mapping[tuple[str, ...], Mapping[str, Any]]:
        """The records of the product's (first) lifecycle resource, by key."""
        return MappingProxyType(self._keyed(next(iter(self.lifecycles))) if self.lifecycles else {})

    @property
    def streams(self) -> Mapping[tuple[str, ...], bool]:
        """Whether each of the seed's streams is online, by key."""
        if self.streams_resource is None or self.online_field is None:
            return MappingProxyType({})
        return MappingProxyType(
            {
                k: bool(r.get(self.online_field))
                for k, r in self._keyed(self.streams_resource).items()
            }
        )

    @property
    def recordings(self) -> tuple[Mapping[str, Any], ...]:
        """The records the lifecycles produced (for Live, record index files), oldest first."""
        return tuple(
            record
            for resource in self.produced.values()
            for _, record in self.records.get(resource, ())
        )

    def find(self, resource: str, **fields: Any) -> list[Mapping[str, Any]]:
        """The records of `resource` whose fields equal `fields`."""
        return [
            record
            for _, record in self.records.get(resource, ())
            if all(record.get(k) == v for k, v in fields.items())
        ]

    def state_of(self, resource: str, key: Iterable[str]) -> str:
        """The lifecycle state of a record of a lifecycle resource (its initial state if none)."""
        wanted = dict(zip(self.identifiers[resource], key, strict=True))
        found = self.find(resource, **wanted)
        return str(found[0]["state"]) if found else self.lifecycles[resource]

    def task_state(self, *key: str) -> str:
        """The state of the product's (first) lifecycle for the record with this key."""
        resource = next(iter(self.lifecycles))
        return self.state_of(resource, key)


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


def seed_world(world: World, seed: Seed, now: float) -> None:
    """Put the seed's domains, streams and record configurations into the world, as the
    product's `x-seed` binding says."""
    product = world.product
    binding = product.seed
    if binding is None:
        raise LookupError(
            f"{product.path}: the product has no x-seed binding; the emulator cannot place a "
            "seed's domains and streams in its world."
        )
    streams = world.resource(binding.streams)
    domain_field, app_field, stream_field = streams.identifiers
    set_now = [n for n, p in streams.properties.items() if p.set in ("created", "updated")]
    defaults = record_config_defaults()
    for account in seed.accounts:
        for domain in account.domains:
            world.put(binding.domains, account.id, {domain_field: domain.name})
            for app in domain.apps:
                for stream in app.streams:
                    record: dict[str, Any] = {
                        domain_field: domain.name,
                        app_field: app.name,
                        stream_field: stream.name,
                        binding.online: stream.online,
                    }
                    record.update(dict.fromkeys(set_now, now))
                    world.put(binding.streams, account.id, record)
                if app.record_config and binding.record_configs is not None:
                    resource = world.resource(binding.record_configs)
                    config: dict[str, Any] = {
                        domain_field: domain.name,
                        app_field: app.name,
                        stream_field: "",
                        **defaults,
                        **app.record_config_properties,
                    }
                    config.update(
                        {n: now for n, p in resource.properties.items() if p.set == "created"}
                    )
                    world.put(binding.record_configs, account.id, config)
    world.take_changes()


class EmulatorState:
    """Everything the emulator remembers, as plain data. Guarded by the Emulator's lock."""

    __slots__ = ("identities", "qps", "seed", "world")

    def __init__(self, seed: Seed, product: Product, now: float, *, seeded: bool = True) -> None:
        self.seed = seed
        self.identities: Mapping[str, Identity] = MappingProxyType(_identities(seed))
        self.qps: dict[str, int | None] = {a.id: a.qps for a in seed.accounts}
        self.world = World(product)
        if seeded:
            seed_world(self.world, seed, now)

    # -- records ---------------------------------------------------------------------------

    @staticmethod
    def encode_key(account: str, key: RecordKey) -> str:
        """The store key of a world record: a JSON array, unambiguous whatever the names."""
        return _encoded_key(account, key)

    @staticmethod
    def change_records(changes: Iterable[Change]) -> list[Record]:
        """The store records of world changes.

        Each value is the world's own dict, not a copy: the world replaces a record on every
        change and never edits a stored one in place, and the batch is written (encoded) before
        the lock that guards the world is released.
        """
        return [Record(c.resource, _encoded_key(c.account, c.key), c.record) for c in changes]

    def account_record(self, account: str) -> Record:
        """The store record of an account's flow-control override."""
        value = {"qps": self.qps[account]} if account in self.qps else None
        return Record(ACCOUNT, account, value)

    def records(self) -> Iterator[Record]:
        """Every record of the state, for a full write."""
        for account in self.qps:
            yield self.account_record(account)
        for resource, entries in self.world.to_json().items():
            for entry in entries:
                key = self.world.key_of(resource, entry["record"])
                yield Record(resource, self.encode_key(entry["account"], key), entry["record"])

    @classmethod
    def from_records(
        cls, seed: Seed, product: Product, records: Iterable[Record], source: str
    ) -> EmulatorState:
        """The state a seed and a store's records describe (InputError if a record is damaged)."""
        state = cls(seed, product, 0.0, seeded=False)
        try:
            for item in records:
                if item.kind == ACCOUNT:
                    if item.key in state.qps and isinstance(item.value, Mapping):
                        qps = item.value.get("qps")
                        state.qps[item.key] = None if qps is None else int(qps)
                    continue
                owner = json.loads(item.key)[0]
                if not isinstance(owner, str) or not isinstance(item.value, Mapping):
                    raise ValueError(item.kind)
                state.world.put(item.kind, owner, item.value)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise InputError(
                source, f"the stored state is damaged ({type(exc).__name__}); restore a snapshot."
            ) from None
        state.world.take_changes()
        return state

    # -- views and snapshots ---------------------------------------------------------------

    def view(
        self, lifecycles: Mapping[str, str], produced: Mapping[str, str] | None = None
    ) -> StateView:
        """A read-only copy of the state (`lifecycles`: resource -> initial state; `produced`:
        lifecycle resource -> the resource it produces)."""
        records: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
        identifiers = {}
        for name, resource in self.world.product.resources.items():
            identifiers[name] = resource.identifiers
            records[name] = [
                (account, MappingProxyType(record)) for account, record in self.world.records(name)
            ]
        binding = self.world.product.seed
        return StateView(
            tuple(a.id for a in self.seed.accounts),
            MappingProxyType({k: tuple(v) for k, v in records.items()}),
            MappingProxyType(identifiers),
            MappingProxyType(dict(lifecycles)),
            None if binding is None else binding.streams,
            None if binding is None else binding.online,
            MappingProxyType(dict(produced or {})),
        )

    def snapshot(self, faults: list[dict[str, Any]]) -> dict[str, Any]:
        """The durable state as JSON-able data: the seed, the world, the overrides, faults."""
        return {
            "format": SNAPSHOT_FORMAT,
            "seed": self.seed.to_json(),
            "qps": dict(self.qps),
            "world": self.world.to_json(),
            "faults": faults,
        }

    @classmethod
    def restore(
        cls, data: Any, product: Product, source: str = "<snapshot>"
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
        state = cls(Seed(seed.accounts, source, seed.description), product, 0.0, seeded=False)
        world = data.get("world", {})
        qps = data.get("qps", {})
        if not isinstance(world, Mapping) or not isinstance(qps, Mapping):
            raise InputError(source, "the snapshot's world and qps must be JSON objects.")
        try:
            state.world.load_json(world, source)
            for account, limit in qps.items():
                if account in state.qps:
                    state.qps[account] = None if limit is None else int(limit)
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(
                source, f"the snapshot's world is damaged ({type(exc).__name__})."
            ) from None
        faults = data.get("faults", [])
        if not isinstance(faults, list):
            raise InputError(source, "the snapshot's faults must be a list of rules.")
        return state, faults
