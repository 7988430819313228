"""The emulator core: `Emulator.handle(request) -> response` for every operation of a product.

One gateway, generic and shared by every Action, answers each call in this order and stops at
the first refusal:

1. the HTTP method
2. the request limits (`requestLimits` in rpc.yaml: query and body size, parameter count and
   length), before any work that grows with the request
3. Action and Version: the Action names an operation of the product (its spec is loaded on first
   use), the Version is the product's
4. the signature envelope (acscontract.signing.parse: IncompleteSignature, a parameter sent in
   both the query and the body, missing or malformed Timestamp and nonce)
5. the AccessKey: unknown, then inactive
6. the signature itself (SignatureDoesNotMatch, with the server's string to sign)
7. the STS token, for a temporary key
8. the timestamp, within the spec's skew of the gateway clock
9. the nonce, not seen within the spec's replay window, with room left in the AccessKey's
   nonce memory
10. the operation's flow control, per account, where its spec documents a limit
11. RAM, for a RAM user's key or an STS token (root keys are not subject to RAM): the action
    `<prefix>:<Action>` on the resource the spec documents, or `*` where it is undocumented
12. fault injection
13. the operation: its checks (`x-checks`, else the product's `x-defaultChecks`) in the spec's
    order, then its effect (`x-effect`), run by the interpreter of its kind over the world. An
    operation without an effect is answered from its response schema and the metadata's
    examples (`schema-only`), or refused when the emulator was told to (`unmodelled="refuse"`).

Parsing and signature verification run outside the state lock; everything from the nonce check
on runs under it, and so does writing the call's changes to a live store (`attach`): a change is
committed before its response leaves `handle`.

Two clocks: the gateway (timestamp freshness, the nonce window, STS expiry, `acs:CurrentTime`)
reads the wall clock plus an offset the admin API can set; lifecycle timers, throttle windows and
the times of records run on the emulator's virtual clock, which tests move forward. Advancing the
virtual clock by any amount never makes a freshly signed request stale.
"""

from __future__ import annotations

import heapq
import logging
import math
import threading
from collections.abc import Iterator, Mapping
from contextvars import ContextVar, Token
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from acscontract._text import shorten
from acscontract.emulator._authz import Authorizer, Denial, PolicyAuthorizer
from acscontract.emulator._checks import Call, run_checks
from acscontract.emulator._effects import run_effect
from acscontract.emulator._envelope import Envelope, GatewayCodes, GatewayCondition
from acscontract.emulator._examples import example_body
from acscontract.emulator._faults import FaultInjector, FaultRule
from acscontract.emulator._lifecycle import DUE, REASON, TIMER, Machine, machines_of
from acscontract.emulator._nonce import NonceCache, Verdict
from acscontract.emulator._seed import Seed, load_seed
from acscontract.emulator._state import (
    ACCOUNT,
    ChangeBatch,
    EmulatorState,
    Identity,
    Record,
    StateView,
    StoredState,
)
from acscontract.emulator._throttle import AccountThrottle, BucketFactory, bucket_factory
from acscontract.emulator._types import (
    LATEST_TIME,
    LATEST_TIME_TEXT,
    Clock,
    EmulatorRequest,
    EmulatorResponse,
    ManualClock,
    OffsetClock,
    Recording,
    SystemClock,
)
from acscontract.emulator._world import RecordKey
from acscontract.errors import AcsContractError, InputError, UsageError
from acscontract.signing import (
    Header,
    Param,
    ParsedRequest,
    Rejection,
    WireRequest,
    decode_pairs,
    parse,
    verify,
)
from acscontract.spec import (
    Operation,
    Product,
    RequestLimit,
    operation_names,
    product_operation,
)
from acscontract.spec import operation as bundled_operation

__all__ = ["UNMODELLED_MODES", "Emulator", "LiveStore", "SeedLike", "StateStoreError"]

_log = logging.getLogger("acscontract.emulator")

SeedLike = Seed | Mapping[str, Any] | str | Path | None
"""What `Emulator` and `load_seed` accept: a Seed, a dict, a YAML/JSON path, or None (default)."""

UNMODELLED_MODES = ("answer", "refuse")
"""What the emulator does with an operation whose spec declares no effect: answer it from its
response schema (schema-only), or refuse it with the protocol's `unmodelledOperation` error."""

# Global condition keys the emulator puts in every RAM request context; each must be one the
# spec's protocol lists (checked at start-up).
_SOURCE_IP = "acs:SourceIp"
_SECURE_TRANSPORT = "acs:SecureTransport"
_CURRENT_TIME = "acs:CurrentTime"
_ACCESS_ID = "acs:AccessId"
_MFA_PRESENT = "acs:MFAPresent"
_CONTEXT_KEYS = (_SOURCE_IP, _SECURE_TRANSPORT, _CURRENT_TIME, _ACCESS_ID, _MFA_PRESENT)

# The roles of a stream's online flag (see the product's x-resources events).
_ONLINE_ROLES = {True: "streamOnline", False: "streamOffline"}

# A gateway offset of more than ten years is a mistake, not a test.
_MAX_GATEWAY_OFFSET = 10 * 365 * 86_400.0


_PRINCIPAL_TYPES = {"user": "SubUser", "sts": "AssumedRoleUser"}
_POLICY_TYPE = "AccountLevelIdentityBasedPolicy"
_ANY_RESOURCE = "*"

# Record kind of a fault rule (the world's kinds are its resources), and the meta entries a live
# store keeps next to the records.
_FAULT = "fault"
_META_SEED = "seed"
_META_SEED_SOURCE = "seed_source"
_META_CLOCK = "clock"
_META_GATEWAY_OFFSET = "gateway_offset"
# A live store forgets expired nonces every this many writes.
_NONCE_PURGE_EVERY = 256
# Set by Emulator.deferred_writes: `handle` leaves its change for a later write_pending().
_DEFER_WRITES: ContextVar[bool] = ContextVar("acscontract_emulator_defer_writes", default=False)


class _DeferredWrites:
    """The context of `Emulator.deferred_writes` (a class: it runs once per served call)."""

    __slots__ = ("_token", "ticket")

    def __init__(self, ticket: int) -> None:
        self.ticket = ticket
        self._token: Token[bool] | None = None

    def __enter__(self) -> int:
        self._token = _DEFER_WRITES.set(True)
        return self.ticket

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _DEFER_WRITES.reset(self._token)
            self._token = None


class StateStoreError(AcsContractError):
    """The live store could not write a change: the change is undone and not acknowledged."""


class LiveStore(Protocol):
    """Where a served emulator keeps its live state: every change is written before its answer.

    `load` returns what the store holds (None when it is empty); `write` applies one batch in
    one transaction and raises StateStoreError when it cannot.
    """

    def load(self) -> StoredState | None:
        """Everything the store holds, or None when it holds nothing yet."""
        ...

    def write(self, batch: ChangeBatch) -> None:
        """Apply `batch` atomically: all of it or, with StateStoreError, none of it."""
        ...


def _success_status(operation: Operation) -> int:
    responses = operation.raw.get("responses", {})
    for status in responses:
        if str(status).startswith("2"):
            return int(status)
    raise LookupError(f"{operation.path}: the spec of {operation.name} has no 2xx response.")


_MIN_TIMER_CAP = 1024
"""The timer heap is rebuilt past this many entries (or twice the live timers, if more)."""


class Emulator:
    """An emulated endpoint of a whole product, over explicit state you can create and throw away.

    `seed` is a Seed, a dict, a YAML/JSON file or None for the embedded default seed. `product`
    is the product's spec (by default the product of `operation`, the bundled reference
    operation); every operation of it is answered. Two clocks: `clock` is the virtual clock
    that drives lifecycle timers, throttle windows and the times of records (an `OffsetClock`
    by default: the system time, which `advance_clock` moves forward; a `ManualClock` makes
    tests deterministic); `wall_clock` is what the gateway checks timestamps, nonces, STS expiry
    and `acs:CurrentTime` against (the system clock by default), plus `set_gateway_offset`.
    `throttle` picks the flow-control algorithm by name (`fixed-window`, `sliding-log`,
    `token-bucket`; the reference operation's spec default when None) or is a factory
    `(limit, window_seconds) -> ThrottleBucket`. `rng_seed` seeds fault probabilities.
    `nonce_cap` overrides the spec's nonce memory per AccessKey (for tests). `authorizer`
    replaces RAM policy evaluation (for tests of the gateway itself). `unmodelled` says what to
    do with an operation whose spec declares no effect (UNMODELLED_MODES).

    `handle` is thread-safe. Every admin method is too. `attach` gives the emulator a live
    store: from then on every change is written to it before the call that made it returns.
    """

    def __init__(
        self,
        seed: SeedLike = None,
        *,
        clock: Clock | None = None,
        wall_clock: Clock | None = None,
        throttle: str | BucketFactory | None = None,
        rng_seed: int = 0,
        operation: Operation | None = None,
        product: Product | None = None,
        nonce_cap: int | None = None,
        authorizer: Authorizer | None = None,
        unmodelled: str = "answer",
    ) -> None:
        op = operation if operation is not None else bundled_operation()
        self._product: Product = product if product is not None else op.product
        if op.product.path != self._product.path:
            raise UsageError(
                f"The operation {op.qualified_name} is not an operation of the product "
                f"{self._product.name}/{self._product.version}."
            )
        if unmodelled not in UNMODELLED_MODES:
            raise UsageError(
                f"unmodelled must be one of {', '.join(UNMODELLED_MODES)}, not {unmodelled!r}."
            )
        self._unmodelled = unmodelled
        self._op = op
        self._operations: dict[str, Operation] = {op.name: op}
        self._action_names = frozenset(operation_names(self._product)) | {op.name}
        self._machines: dict[str, Machine] = machines_of(self._product, self.operation_spec)
        self._clock: Clock = clock if clock is not None else OffsetClock()
        self._wall_clock: Clock = wall_clock if wall_clock is not None else SystemClock()
        self._gateway_offset = 0.0
        protocol = self._product.protocol
        self._codes = GatewayCodes.from_protocol(protocol)
        self._envelope = Envelope(self._product, _success_status(op))
        self._check_spec_coverage()
        limits = protocol.request_limits
        self._limits = limits
        self._limit_codes = {
            limit.name: protocol.gateway_error_for(limit.condition) for limit in limits.all()
        }

        self._methods = frozenset(m.upper() for m in op.methods)
        self._version = self._product.version
        self._skew = float(protocol.timestamp_skew_seconds)
        self._timestamp_format = protocol.timestamp_format

        algorithm = throttle if throttle is not None else op.flow_control.default_algorithm
        if algorithm is None:
            raise UsageError(
                f"{op.path}: the spec names no default flow-control algorithm "
                "(x-flowControl.algorithm.emulatorDefault); pass throttle= explicitly."
            )
        self._throttle_kind: str | BucketFactory = algorithm
        self._bucket_factory = bucket_factory(algorithm)
        capacity = limits.nonces_per_access_key.value if nonce_cap is None else nonce_cap
        if capacity < 1:
            raise UsageError(f"nonce_cap must be 1 or more; {nonce_cap} is not.")
        self._nonce_capacity = capacity

        self._lock = threading.RLock()
        self._custom_authorizer = authorizer
        self._unplanned = 0
        command = op.command_parameter
        self._faults = FaultInjector(
            rng_seed=rng_seed,
            default_code=self._codes["internalError"].code,
            allowed_codes=tuple(e.code for e in protocol.gateway_errors_in("server")),
            command_name=None if command is None else command.name,
            key_names=() if op.lifecycle is None else tuple(op.lifecycle.key),
        )
        # The live store, and what changed since the last write to it (under the lock).
        self._store: LiveStore | None = None
        self._journal: dict[tuple[str, Any], None] = {}
        self._journal_meta: set[str] = set()
        self._journal_nonces: list[tuple[str, str, float]] = []
        self._journal_replace = False
        self._writes = 0
        self._epoch = 0
        # Running timers as a heap of (due, lifecycle resource, account, key). An entry whose
        # record no longer has that deadline is stale and skipped when it comes up; the heap is
        # rebuilt from the world when stale entries pile up (`_timer_cap`).
        self._timers: list[tuple[float, str, str, RecordKey]] = []
        self._timer_cap = _MIN_TIMER_CAP
        self._seed: Seed
        self._state: EmulatorState
        self._throttles: dict[str, AccountThrottle | None]
        self._nonces: NonceCache
        self._authorizer: Authorizer
        self._install(self._fresh_state(load_seed(seed)))
        self._journal_replace = False  # nothing to write until a store is attached

    # ------------------------------------------------------------------------------------
    # set-up

    def operation_spec(self, name: str) -> Operation:
        """The spec of the product's operation `name` (loaded on first use); UsageError if the
        product has none."""
        found = self._operations.get(name)
        if found is None:
            loaded = product_operation(self._product, name) if name in self._action_names else None
            if loaded is None:
                raise UsageError(
                    f"{self._product.name}/{self._product.version} has no operation {name!r}."
                )
            found = self._operations.setdefault(name, loaded)
        return found

    def _lookup(self, action: str | None) -> Operation | None:
        if not action or action not in self._action_names:
            return None
        return self.operation_spec(action)

    def _check_spec_coverage(self) -> None:
        for machine in self._machines.values():
            lifecycle, op = machine.lifecycle, machine.operation
            command = op.command_parameter
            missing = [
                f"{state}/{value}"
                for state in lifecycle.states
                for value in (command.enum or () if command is not None else ())
                if lifecycle.transition(state, value) is None
            ]
            if missing:
                raise UsageError(
                    f"{op.path}: the lifecycle has no transition for {', '.join(missing)}; the "
                    "emulator needs one for every state and command."
                )
        protocol = self._product.protocol
        known = {k.key for k in protocol.global_condition_keys}
        absent = [k for k in _CONTEXT_KEYS if k not in known]
        if absent:
            raise UsageError(
                f"{protocol.path}: the global condition keys {', '.join(absent)} are missing, "
                "but the emulator fills them in every RAM request context."
            )

    def _fresh_state(self, seed: Seed) -> EmulatorState:
        return EmulatorState(seed, self._product, self._clock.now())

    def _install(self, state: EmulatorState, *, clear_faults: bool = False) -> None:
        """Make `state` (and its seed) current, with fresh throttle buckets, nonces and RAM.

        Everything that can fail (compiling the policies) happens before anything changes. The
        whole state is then due to be written to the live store.
        """
        authorizer = self._custom_authorizer or PolicyAuthorizer(state.identities.values())
        with self._lock:
            self._seed = state.seed
            self._state = state
            if clear_faults:
                self._faults.clear()
            self._authorizer = authorizer
            self._throttles = {}
            self._nonces = NonceCache(
                float(self._product.protocol.nonce_window_seconds), self._nonce_capacity
            )
            self._journal_replace = True
            self._rebuild_timers()

    def _throttle_for(self, op: Operation) -> AccountThrottle | None:
        """The operation's per-account buckets (None: the spec documents no limit)."""
        try:
            return self._throttles[op.name]
        except KeyError:
            pass
        flow = op.flow_control
        throttle = None
        if flow.limit is not None or any(q is not None for q in self._state.qps.values()):
            throttle = AccountThrottle(self._bucket_factory, flow.limit, flow.per_seconds)
            for account, qps in self._state.qps.items():
                if qps is not None:
                    throttle.set_limit(account, qps)
        self._throttles[op.name] = throttle
        return throttle

    # ------------------------------------------------------------------------------------
    # properties

    @property
    def operation(self) -> Operation:
        """The spec of the reference operation (the one the emulator was made for)."""
        return self._op

    @property
    def product(self) -> Product:
        """The spec of the product whose every operation the emulator answers."""
        return self._product

    def produced_resources(self) -> dict[str, str]:
        """Lifecycle resource -> the resource its `producesFile` transitions add."""
        return {
            name: machine.lifecycle.produces.resource
            for name, machine in self._machines.items()
            if machine.lifecycle.produces is not None
        }

    def seed_binding(self) -> dict[str, str | None]:
        """Which resources a seed's domains, streams (and online flag) and configurations are."""
        binding = self._product.seed
        if binding is None:
            return {}
        return {
            "domains": binding.domains,
            "streams": binding.streams,
            "online": binding.online,
            "recordConfigs": binding.record_configs,
        }

    @property
    def unmodelled(self) -> str:
        """What the emulator does with operations the spec does not model (UNMODELLED_MODES)."""
        return self._unmodelled

    @property
    def clock(self) -> Clock:
        """The virtual clock: recording timers, throttle windows and recording times."""
        return self._clock

    @property
    def wall_clock(self) -> Clock:
        """The clock the gateway checks timestamps, nonces and STS expiry against."""
        return self._wall_clock

    @property
    def gateway_offset(self) -> float:
        """Seconds the gateway's clock is set off the wall clock (`set_gateway_offset`)."""
        return self._gateway_offset

    @property
    def nonce_capacity(self) -> int:
        """How many nonces one AccessKey may have in use within the replay window."""
        return self._nonce_capacity

    @property
    def body_limit(self) -> int:
        """The largest request body the emulator accepts, in bytes (`requestLimits.bodyBytes`)."""
        return self._limits.body_bytes.value

    def gateway_now(self) -> float:
        """The gateway's time: the wall clock plus the gateway offset (Unix seconds)."""
        return self._wall_clock.now() + self._gateway_offset

    def set_gateway_offset(self, seconds: float) -> None:
        """Set the gateway's clock `seconds` off the wall clock (negative: behind it).

        Requests are fresh when their timestamp is within the spec's skew of the gateway's time,
        so an offset simulates a client (or server) whose clock is wrong. `reset` sets it to 0.
        """
        # The bound first: math.isfinite cannot take an integer too large for a float.
        if abs(seconds) > _MAX_GATEWAY_OFFSET or not math.isfinite(seconds):
            raise UsageError(
                "The gateway offset must be a number of seconds within "
                f"±{_MAX_GATEWAY_OFFSET:.0f}; {shorten(repr(seconds))} is not."
            )
        with self._lock:
            self._gateway_offset = float(seconds)
            self._journal_meta.add(_META_GATEWAY_OFFSET)
            self._write()

    @property
    def seed(self) -> Seed:
        """The seed the state was last reset to."""
        return self._seed

    @property
    def throttle_algorithm(self) -> str:
        """The flow-control algorithm's name (`custom` for a factory)."""
        return self._throttle_kind if isinstance(self._throttle_kind, str) else "custom"

    @property
    def unplanned_errors(self) -> int:
        """How many calls failed with an exception the emulator did not plan for (a bug)."""
        return self._unplanned

    @property
    def state(self) -> StateView:
        """A read-only, consistent copy of the state now (due timers fire first)."""
        with self._lock:
            self._tick(self._clock.now())
            self._write()
            return self._state.view(
                {name: m.lifecycle.initial for name, m in self._machines.items()},
                self.produced_resources(),
            )

    def __repr__(self) -> str:
        return (
            f"Emulator(product={self._product.name}/{self._product.version!s}, "
            f"seed={self._seed.source!r}, throttle={self.throttle_algorithm!r})"
        )

    # ------------------------------------------------------------------------------------
    # the live store

    def attach(self, store: LiveStore) -> bool:
        """Keep the state in `store` from now on; True when the store's state was restored.

        A store that already holds a state replaces the emulator's (seed, world, tasks,
        recordings, fault rules, remembered nonces, the virtual clock's position and the
        gateway offset); an empty one receives the emulator's whole state. Afterwards every
        change is written to the store before the call that made it returns.
        """
        with self._lock:
            stored = store.load()
            if stored is not None:
                self._load_stored(stored, source=repr(store))
            self._store = store
            if stored is None:
                self._journal_replace = True
            else:
                self._clear_journal()
            self._write()
        return stored is not None

    def detach(self) -> None:
        """Stop writing to the live store (after writing anything pending)."""
        with self._lock:
            self._write()
            self._store = None

    def _load_stored(self, stored: StoredState, *, source: str) -> None:
        """Replace the state with what a store holds. Caller holds the lock."""
        meta = stored.meta
        seed_data = meta.get(_META_SEED)
        if not isinstance(seed_data, Mapping):
            raise InputError(source, "the store holds no seed; restore a snapshot or delete it.")
        seed = load_seed(seed_data, allow_files=False, source=f"{source}:seed")
        seed = Seed(seed.accounts, str(meta.get(_META_SEED_SOURCE) or source), seed.description)
        records = [r for r in stored.records if r.kind != _FAULT]
        state = EmulatorState.from_records(seed, self._product, records, source)
        rules = [
            r.value.get("rule") if isinstance(r.value, Mapping) else None
            for r in sorted(stored.records, key=_fault_order)
            if r.kind == _FAULT
        ]
        trial = self._trial_faults(rules, source)
        position = meta.get(_META_CLOCK)
        self._check_clock_position(position, source)
        offset = self._check_gateway_offset(meta.get(_META_GATEWAY_OFFSET, 0.0), source)
        self._install(state, clear_faults=True)
        for rule in trial:
            self._faults.add(rule)
        now = self._wall_clock.now() + offset
        for key, nonce, until in stored.nonces:
            if until > now:
                self._nonces.remember(key, nonce, until)
        self._set_clock_position(position, source)
        self._gateway_offset = offset

    def _trial_faults(self, rules: list[Any], source: str) -> list[FaultRule]:
        """The fault rules, validated (codes included) before anything changes."""
        try:
            parsed = [FaultRule.from_json(item) for item in rules]
        except (TypeError, ValueError, AttributeError) as exc:
            raise InputError(source, f"a fault rule is damaged ({type(exc).__name__}).") from None
        trial = FaultInjector(
            default_code=self._faults.default_code, allowed_codes=self._faults.allowed_codes
        )
        for rule in parsed:
            trial.add(rule)
        return list(trial.rules())

    def _clock_position(self) -> dict[str, float]:
        """Where the virtual clock stands, in a form `_set_clock_position` reads back."""
        clock = self._clock
        if isinstance(clock, OffsetClock):
            return {"offset": clock.offset}
        if isinstance(clock, ManualClock):
            return {"now": clock.now()}
        return {}

    @staticmethod
    def _check_clock_position(position: Any, source: str) -> None:
        if position is None:
            return
        if not isinstance(position, Mapping) or not all(
            isinstance(v, int | float)
            and not isinstance(v, bool)
            and abs(v) <= LATEST_TIME
            and math.isfinite(v)
            for v in position.values()
        ):
            raise InputError(
                source,
                "the clock position must map names to numbers of seconds, each within "
                f"±{LATEST_TIME:.0f} ({LATEST_TIME_TEXT}).",
            )

    @staticmethod
    def _check_gateway_offset(offset: Any, source: str) -> float:
        if (
            isinstance(offset, bool)
            or not isinstance(offset, int | float)
            or abs(offset) > _MAX_GATEWAY_OFFSET
            or not math.isfinite(offset)
        ):
            raise InputError(
                source,
                "the gateway offset must be a number of seconds within "
                f"±{_MAX_GATEWAY_OFFSET:.0f}.",
            )
        return float(offset)

    def _set_clock_position(self, position: Any, source: str) -> None:
        """Put the virtual clock where a snapshot or store left it, so timers stay consistent.

        An OffsetClock takes the stored offset (time flowed on the wall meanwhile, so timers
        that fell due in between fire); a ManualClock moves forward to the stored time (never
        back). Other clocks cannot be moved and keep their time.
        """
        self._check_clock_position(position, source)
        if position is None:
            return
        clock = self._clock
        if isinstance(clock, OffsetClock) and "offset" in position:
            clock.set_offset(float(position["offset"]))
        elif (
            isinstance(clock, ManualClock)
            and "now" in position
            and float(position["now"]) > clock.now()
        ):
            clock.set(float(position["now"]))

    def _clear_journal(self) -> None:
        self._journal.clear()
        self._journal_meta.clear()
        self._journal_nonces.clear()
        self._journal_replace = False
        self._state.world.take_changes()

    def _has_pending(self) -> bool:
        return bool(
            self._journal
            or self._journal_meta
            or self._journal_nonces
            or self._journal_replace
            or self._state.world.has_changes
        )

    def _touch(self, kind: str, key: Any) -> None:
        self._journal[(kind, key)] = None

    def _write(self) -> None:
        """Write what changed since the last write to the live store. Caller holds the lock.

        Without a store this only forgets the journal. Raises StateStoreError, after putting
        the state back to what the store holds, when the store cannot write.
        """
        if not self._has_pending():
            return
        store = self._store
        if store is None:
            self._clear_journal()
            return
        batch = self._batch()
        self._clear_journal()
        try:
            store.write(batch)
        except Exception as exc:  # whatever the store's failure, nothing is acknowledged
            self._epoch += 1  # whatever was not written is undone: tickets issued before fail
            self._recover(store)
            if isinstance(exc, StateStoreError):
                raise
            raise StateStoreError(
                f"The live store {store!r} failed to write a change ({type(exc).__name__}); it "
                "was not applied."
            ) from exc

    def _batch(self) -> ChangeBatch:
        state = self._state
        if self._journal_replace:
            now = self.gateway_now()
            state.world.take_changes()
            return ChangeBatch(
                records=(*state.records(), *self._fault_records()),
                meta={
                    _META_SEED: self._seed.to_json(),
                    _META_SEED_SOURCE: self._seed.source,
                    _META_CLOCK: self._clock_position(),
                    _META_GATEWAY_OFFSET: self._gateway_offset,
                },
                nonces=tuple(self._nonces.entries(now)),
                replace=True,
            )
        records = state.change_records(state.world.take_changes())
        faults: dict[str, Record] | None = None
        for kind, key in self._journal:
            if kind == _FAULT:
                if faults is None:
                    faults = {record.key: record for record in self._fault_records()}
                records.append(faults.get(key) or Record(_FAULT, key, None))
            elif kind == ACCOUNT:
                records.append(state.account_record(key))
        meta: dict[str, Any] = {}
        if _META_CLOCK in self._journal_meta:
            meta[_META_CLOCK] = self._clock_position()
        if _META_GATEWAY_OFFSET in self._journal_meta:
            meta[_META_GATEWAY_OFFSET] = self._gateway_offset
        self._writes += 1
        purge = self._journal_nonces and self._writes % _NONCE_PURGE_EVERY == 0
        return ChangeBatch(
            records=tuple(records),
            meta=meta,
            nonces=tuple(self._journal_nonces),
            nonces_expired_at=self.gateway_now() if purge else None,
        )

    def _fault_records(self) -> Iterator[Record]:
        for position, rule in enumerate(self._faults.rules()):
            yield Record(_FAULT, rule.id, {"position": position, "rule": rule.to_json()})

    def _recover(self, store: LiveStore) -> None:
        """After a failed write: the state becomes what the store holds again."""
        try:
            stored = store.load()
            if stored is not None:
                self._load_stored(stored, source=repr(store))
        except (AcsContractError, OSError):
            _log.exception("The emulator could not reload its state from %r.", store)
        self._clear_journal()

    # ------------------------------------------------------------------------------------
    # admin

    def reset(self) -> None:
        """Back to the seed: no records but the seed's, no nonces, throttle history or faults.

        The clocks go back too: the virtual clock to its start (when it can: `OffsetClock` and
        `ManualClock` can) and the gateway offset to 0.
        """
        with self._lock:
            self._rewind_clocks()
            self._install(self._fresh_state(self._seed), clear_faults=True)
            self._write()

    def _rewind_clocks(self) -> None:
        rewind = getattr(self._clock, "reset", None)
        if callable(rewind):
            rewind()
        self._gateway_offset = 0.0

    def load_seed(self, seed: SeedLike, *, allow_files: bool = True) -> None:
        """Replace the seed (validated first; nothing changes if it is bad), then reset.

        `allow_files=False` refuses seeds that name policy files (for seeds sent over HTTP).
        """
        new_seed = load_seed(seed, allow_files=allow_files)
        with self._lock:
            self._rewind_clocks()
            self._install(self._fresh_state(new_seed), clear_faults=True)
            self._write()

    def set_stream_online(self, domain: str, app: str, stream: str, online: bool) -> None:
        """Bring a stream online or take it offline, firing the lifecycle events bound to the
        change by role (a stream going offline interrupts its recording).

        An unknown stream of a known domain is created. UsageError for an unknown domain.
        """
        binding = self._product.seed
        if binding is None:
            raise UsageError(f"The product {self._product.name} declares no x-seed streams.")
        key = (domain, app, stream)
        self.set_record(binding.streams, key, {binding.online: online})

    def set_record(self, resource: str, key: RecordKey, fields: Mapping[str, Any]) -> None:
        """Create or change a record of a seeded resource (a stream, ...), as the admin API does.

        The record's owner is the account that owns its domain. Properties whose change the
        resource declares as an event fire it, by role, on every lifecycle of the same key.
        UsageError for a resource that is not seeded, a bad key or an unknown domain.
        """
        model = self._product.resources.get(resource)
        if model is None or model.origin != "seed":
            raise UsageError(f"{resource!r} is not a resource the emulator's seed holds.")
        if len(key) != len(model.identifiers):
            raise UsageError(
                f"A {resource} is named by {', '.join(model.identifiers)}; {len(key)} values "
                "were given."
            )
        unknown = sorted(set(fields) - set(model.properties))
        if unknown:
            raise UsageError(
                f"{resource} has no propert{'y' if len(unknown) == 1 else 'ies'} "
                f"{', '.join(unknown)}."
            )
        binding = self._product.seed
        with self._lock:
            now = self._clock.now()
            self._tick(now)
            world = self._state.world
            owner = world.owner_of(resource, tuple(key))
            if owner is None and binding is not None:
                owner = world.owner_of(binding.domains, (key[0],))
            if owner is None:
                self._write()
                raise UsageError(
                    f"The emulator has no domain {key[0]!r}; add it to the seed first."
                )
            current = world.get(resource, owner, tuple(key))
            record: dict[str, Any] = (
                dict(zip(model.identifiers, key, strict=True)) if current is None else current
            )
            changed = {name: value for name, value in fields.items() if record.get(name) != value}
            record.update(fields)
            for name, prop in model.properties.items():
                if prop.set == "updated" or (prop.set == "created" and current is None):
                    record[name] = now
            world.put(resource, owner, record)
            if current is not None:
                for event in model.events:
                    if event.property in changed and changed[event.property] == event.value:
                        self._fire_role(owner, model.identifiers, tuple(key), event.role, now)
            self._rebuild_timers()
            self._write()

    def _fire_role(
        self, account: str, names: tuple[str, ...], key: RecordKey, role: str, now: float
    ) -> None:
        """Fire `role` on every lifecycle whose resource shares these identifiers."""
        values = dict(zip(names, key, strict=True))
        for machine in self._machines.values():
            if set(machine.key_names) <= set(values):
                task_key = tuple(values[n] for n in machine.key_names)
                machine.fire_role(self._state.world, account, task_key, role, now)

    def set_account_qps(self, account_id: str, qps: int | None) -> None:
        """Override an account's flow-control limit for every operation (None: the spec's)."""
        with self._lock:
            if account_id not in self._state.qps:
                raise UsageError(f"The emulator has no account {account_id!r}.")
            self._state.qps[account_id] = qps
            self._throttles.clear()
            self._touch(ACCOUNT, account_id)
            self._write()

    def add_fault(self, rule: FaultRule | Mapping[str, Any]) -> FaultRule:
        """Add a fault rule (a FaultRule or its JSON form); returns it with its id."""
        fault = rule if isinstance(rule, FaultRule) else FaultRule.from_json(rule)
        with self._lock:
            stored = self._faults.add(fault)
            # Rules are checked in order: rewrite them all so the store keeps the order.
            for known in self._faults.rules():
                self._touch(_FAULT, known.id)
            self._write()
        return stored

    def remove_fault(self, rule_id: str) -> bool:
        """Remove one fault rule; False when there is no rule with that id."""
        with self._lock:
            removed = self._faults.remove(rule_id)
            if removed:
                self._touch(_FAULT, rule_id)
                self._write()
        return removed

    def clear_faults(self) -> None:
        """Remove every fault rule (and restart the fault RNG from its seed)."""
        with self._lock:
            for rule in self._faults.rules():
                self._touch(_FAULT, rule.id)
            self._faults.clear()
            self._write()

    def faults(self) -> tuple[FaultRule, ...]:
        """The active fault rules."""
        with self._lock:
            return self._faults.rules()

    def fault_counters(self) -> list[dict[str, Any]]:
        """Per fault rule: calls matched and times fired."""
        with self._lock:
            return self._faults.counters()

    def advance_clock(self, seconds: float) -> float:
        """Move the virtual clock forward and fire the timers that fall due; returns its new time.

        The gateway's clock does not move, so requests signed now stay fresh. UsageError if the
        emulator was given a virtual clock that cannot be moved (the system clock).
        """
        advance = getattr(self._clock, "advance", None)
        if not callable(advance):
            raise UsageError(
                f"The emulator runs on {self._clock!r}, which cannot be moved; create it with "
                "clock=ManualClock() (or serve it with a manual clock) to advance time."
            )
        # The bound first: math.isfinite cannot take an integer too large for a float.
        if seconds < 0 or seconds > LATEST_TIME or not math.isfinite(seconds):
            raise UsageError(
                "The clock only moves forward, by a number of seconds that keeps it at or before "
                f"{LATEST_TIME_TEXT}; {shorten(str(seconds))} is not one."
            )
        with self._lock:
            if self._clock.now() + seconds > LATEST_TIME:
                raise UsageError(
                    f"The virtual clock cannot move past {LATEST_TIME_TEXT}, the latest time the "
                    f"protocol's timestamps can write; it is at {self._clock.now():.0f}, and "
                    f"{seconds:.0f} s more would pass it."
                )
            advance(float(seconds))
            now = self._clock.now()
            self._journal_meta.add(_META_CLOCK)
            self._tick(now)
            self._write()
        return now

    def fire_due_timers(self) -> int:
        """Fire every timer that is due now; returns how many fired."""
        with self._lock:
            fired = self._tick(self._clock.now())
            self._write()
        return fired

    def recordings(self) -> tuple[Recording, ...]:
        """Every record the lifecycles produced so far (for Live, record index files), oldest
        first (due timers fire first)."""
        with self._lock:
            self._tick(self._clock.now())
            self._write()
            found: list[Recording] = []
            for machine in self._machines.values():
                produces = machine.lifecycle.produces
                if produces is None:
                    continue
                span = produces.span
                for account, record in self._state.world.records(produces.resource):
                    started = float(record.get(span[0], 0.0)) if span else 0.0
                    ended = float(record.get(span[1], 0.0)) if span else 0.0
                    fields = {k: v for k, v in record.items() if k != REASON}
                    found.append(
                        Recording(
                            account_id=account,
                            fields=fields,
                            reason=str(record.get(REASON, "")),
                            started_at=started,
                            ended_at=ended,
                            key=tuple(str(record.get(n, "")) for n in machine.key_names),
                        )
                    )
            return tuple(found)

    def snapshot(self) -> dict[str, Any]:
        """The durable state as JSON-able data (secrets included: it restores the keys).

        Besides the seed, the world's records and the fault rules it holds the virtual clock's
        position and the gateway offset, so a restore keeps timers where they were. Remembered
        nonces and throttle history are not part of it.
        """
        with self._lock:
            self._tick(self._clock.now())
            self._write()
            data = self._state.snapshot([r.to_json() for r in self._faults.rules()])
            data["clock"] = self._clock_position()
            data["gateway_offset"] = self._gateway_offset
            return data

    def restore(self, snapshot: Mapping[str, Any], *, source: str = "<snapshot>") -> None:
        """Replace the state with a snapshot's (validated first; nothing changes if it is bad).

        A snapshot is data only: it may not name files, and restoring it reads nothing from disk.
        """
        state, faults = EmulatorState.restore(snapshot, self._product, source)
        rules = self._trial_faults(faults, source)
        position = snapshot.get("clock")
        self._check_clock_position(position, source)
        offset = self._check_gateway_offset(snapshot.get("gateway_offset", 0.0), source)
        with self._lock:
            self._install(state, clear_faults=True)
            for rule in rules:
                self._faults.add(rule)
            self._set_clock_position(position, source)
            self._gateway_offset = offset
            self._write()

    # ------------------------------------------------------------------------------------
    # timers and lifecycles

    def _rebuild_timers(self) -> None:
        """The timer heap from every lifecycle record of the world. Caller holds the lock."""
        world = self._state.world
        self._timers = [
            (when, name, account, key)
            for name, machine in self._machines.items()
            for when, account, key, _ in machine.due(world)
        ]
        heapq.heapify(self._timers)
        self._timer_cap = max(_MIN_TIMER_CAP, 2 * len(self._timers))

    def _note_timers(self, mark: int) -> None:
        """Add the deadlines the world's changes since `mark` set. Caller holds the lock."""
        latest: dict[tuple[str, str, RecordKey], Mapping[str, Any] | None] = {}
        for change in self._state.world.changes_since(mark):
            if change.resource in self._machines:
                latest[(change.resource, change.account, change.key)] = change.record
        for (name, account, key), record in latest.items():
            if record is not None and record.get(TIMER) is not None:
                due = record.get(DUE)
                if due is not None:
                    heapq.heappush(self._timers, (float(due), name, account, key))
        if len(self._timers) > self._timer_cap:
            self._rebuild_timers()

    def _tick(self, now: float) -> int:
        """Fire the timers due by `now`, in deadline order. Caller holds the lock."""
        timers = self._timers
        if not timers or timers[0][0] > now:
            return 0
        fired = 0
        world = self._state.world
        while self._timers and self._timers[0][0] <= now:
            when, name, account, key = heapq.heappop(self._timers)
            record = world.peek(name, account, key)
            if record is None or record.get(TIMER) is None or record.get(DUE) is None:
                continue  # stale: the record moved on since this deadline was set
            if float(record[DUE]) != when:
                continue
            mark = world.mark()
            self._machines[name].fire_timer(world, account, key, when)
            fired += 1
            self._note_timers(mark)
        return fired

    # ------------------------------------------------------------------------------------
    # the request path

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        """Answer one call as the real endpoint would (see the module docstring for the order).

        With a live store attached, whatever the call changed is written before this returns;
        if the store cannot write, the change is undone and the answer is the spec's internal
        error.
        """
        return self._answer(request, defer=_DEFER_WRITES.get())

    def deferred_writes(self) -> _DeferredWrites:
        """Within the block, `handle` leaves its change unwritten: for front doors that group
        commits. Yields a ticket.

        An answer produced inside may not be sent before `write_pending()` has run and
        `committed(ticket)` is True; when it is False, the change was undone and the answer must
        be `internal_error()` instead. The ASGI front door writes once for all the calls of one
        event-loop turn, so a burst of calls costs one transaction. The flag is a context
        variable: it holds for this thread or asyncio task only.
        """
        return _DeferredWrites(self._epoch)

    @property
    def pending_writes(self) -> bool:
        """Whether changes are waiting for `write_pending()` (always False without a store)."""
        return self._store is not None and self._has_pending()

    def write_pending(self) -> None:
        """Write every pending change to the live store now; StateStoreError if it cannot."""
        with self._lock:
            self._write()

    def committed(self, ticket: int) -> bool:
        """Whether the changes made since `ticket` was issued are still part of the state.

        False once a write has failed since then: the state went back to the store's, so those
        changes are gone and must not be acknowledged.
        """
        return ticket == self._epoch

    def internal_error(self) -> EmulatorResponse:
        """The spec's internal error, as the emulator answers a call it could not complete."""
        return self._internal_error()

    def _answer(self, request: EmulatorRequest, *, defer: bool) -> EmulatorResponse:
        try:
            return self._handle(request, defer=defer)
        except StateStoreError:
            _log.exception("The emulator could not write a change to its live store.")
            return self._internal_error()
        except Exception:  # noqa: BLE001 - the last resort: answer as the service would
            self._unplanned += 1
            _log.exception(
                "The emulator failed on %s %s; answering with the spec's internal error.",
                request.method[:20],
                request.path[:200],
            )
            return self._internal_error()

    def _internal_error(self) -> EmulatorResponse:
        error = self._codes["internalError"]
        return self._envelope.error(
            error.code,
            error.http_status,
            "The request processing has failed due to some unknown error, exception or failure.",
        )

    def _gateway(self, condition: GatewayCondition, message: str) -> EmulatorResponse:
        error = self._codes[condition]
        return self._envelope.error(error.code, error.http_status, message)

    def _rejection(self, rejection: Rejection) -> EmulatorResponse:
        error = self._op.protocol.gateway_error(rejection.code)
        message = rejection.detail
        if error.message_format is not None and rejection.string_to_sign is not None:
            message = error.message_format.format(stringToSign=rejection.string_to_sign)
        return self._envelope.error(error.code, error.http_status, message)

    def _over_limit(self, limit: RequestLimit, detail: str) -> EmulatorResponse:
        error = self._limit_codes[limit.name]
        return self._envelope.error(
            error.code,
            error.http_status,
            f"{detail}; the emulator accepts at most {limit.value:,} "
            f"(requestLimits.{limit.name} in the protocol spec).",
        )

    def stopping(self) -> EmulatorResponse:
        """The answer to a call cut short because the server is stopping (ServiceUnavailable)."""
        return self._gateway(
            "serviceUnavailable", "The emulator is stopping; the request was not processed."
        )

    def body_too_large(self, size: int) -> EmulatorResponse:
        """The answer to a request whose body (`size` bytes, as announced) is over the limit.

        HTTP front doors send it without reading the body.
        """
        return self._over_limit(self._limits.body_bytes, f"The request body is {size:,} bytes")

    def _check_limits(self, query: str, body: bytes, form: bool) -> EmulatorResponse | None:
        """The spec's request limits, before any work that grows with the request.

        Each check is a length comparison or a C-speed split of at most the size limit.
        """
        limits = self._limits
        if len(query) > limits.query_bytes.value:
            return self._over_limit(limits.query_bytes, f"The query string is {len(query):,} bytes")
        if len(body) > limits.body_bytes.value:
            return self.body_too_large(len(body))
        form_body = body if form else b""
        most = limits.parameters.value
        if query.count("&") + form_body.count(b"&") + 2 > most:
            count = sum(1 for piece in query.split("&") if piece)
            count += sum(1 for piece in form_body.split(b"&") if piece)
            if count > most:
                return self._over_limit(
                    limits.parameters, f"The request carries {count:,} parameters"
                )
        longest = limits.parameter_bytes.value
        for raw, separator in ((query, "&"), (form_body, b"&")):
            if len(raw) > longest and max(map(len, raw.split(separator))) > longest:  # type: ignore[arg-type]
                return self._over_limit(
                    limits.parameter_bytes,
                    "A parameter of the request is longer than the emulator accepts",
                )
        return None

    def _peek_action(self, wire: WireRequest) -> tuple[str | None, str | None]:
        """Action and Version of a request whose signature envelope could not be read."""
        headers = wire.headers
        if Header.AUTHORIZATION in headers:
            return headers.get(Header.ACTION), headers.get(Header.VERSION)
        action = version = None
        pairs = decode_pairs(wire.query)
        if wire.is_form:
            pairs += decode_pairs(wire.body)
        for key, value in pairs:
            if key == Param.ACTION and action is None:
                action = value
            elif key == Param.VERSION and version is None:
                version = value
        return action, version

    def _handle(self, request: EmulatorRequest, *, defer: bool = False) -> EmulatorResponse:
        method = request.method.upper()
        if method not in self._methods:
            return self._gateway(
                "unsupportedMethod",
                f"The HTTP method {request.method[:20]!r} is not supported; use "
                f"{' or '.join(sorted(self._methods))}.",
            )
        headers = request.headers
        if request.host and headers.get(Header.HOST) != request.host:
            headers = {**headers, Header.HOST.value: request.host}
        wire = WireRequest(method, request.path or "/", request.query, headers, request.body)
        over = self._check_limits(request.query, request.body, wire.is_form)
        if over is not None:
            return over
        parsed = parse(wire)
        if isinstance(parsed, ParsedRequest):
            action, version = parsed.action, parsed.version
        else:
            action, version = self._peek_action(wire)
        op = self._lookup(action)
        if op is None:
            shown = "no Action" if not action else f"the Action {action[:64]!r}"
            return self._gateway(
                "unknownAction",
                "Specified api is not found, please check your url and method: "
                f"{self._product.name} {self._version} has no operation named by {shown}.",
            )
        if version != self._version:
            shown = "no Version" if not version else f"the Version {version[:64]!r}"
            return self._gateway(
                "unknownVersion",
                f"Specified parameter Version is not valid: {op.name} is served in API "
                f"version {self._version}, and the request names {shown}.",
            )
        if isinstance(parsed, Rejection):
            return self._rejection(parsed)

        wall = self.gateway_now()
        state = self._state
        identity = state.identities.get(parsed.access_key_id)
        if identity is None:
            return self._gateway("unknownAccessKey", "Specified access key is not found.")
        if not identity.active:
            return self._gateway("inactiveAccessKey", "Specified access key is disabled.")
        verified = verify(parsed, identity.secret)
        if isinstance(verified, Rejection):
            return self._rejection(verified)
        if identity.kind == "sts":
            if not identity.token_matches(parsed.security_token):
                return self._gateway(
                    "badSecurityToken",
                    "The security token you provided is invalid: it is missing or is not the "
                    "token of this temporary AccessKey.",
                )
            if identity.expires_at is not None and identity.expires_at <= wall:
                return self._gateway(
                    "badSecurityToken", "The security token you provided has expired."
                )
        sent = parsed.timestamp.timestamp()
        if abs(sent - wall) > self._skew:
            server_time = datetime.fromtimestamp(wall, UTC).strftime(self._timestamp_format)
            cause = (
                f" The emulator's gateway clock is set {self._gateway_offset:+.0f} s off the wall "
                "clock (set_gateway_offset, POST /_emulator/clock/gateway-offset)."
                if self._gateway_offset
                else ""
            )
            return self._gateway(
                "expiredTimestamp",
                f"Specified time stamp or date value is expired: {parsed.timestamp_raw} is more "
                f"than {int(self._skew)} seconds away from the server time {server_time}.{cause}",
            )

        with self._lock:
            if state is not self._state:  # the seed changed while this call was being verified
                state = self._state
                current = state.identities.get(identity.access_key_id)
                if current is None or current.secret != identity.secret or not current.active:
                    return self._gateway("unknownAccessKey", "Specified access key is not found.")
                identity = current
            response = self._admitted(op, identity, parsed, request, wall, sent)
            if not defer or self._store is None:  # without a store: only forget the journal
                self._write()
            return response

    def _admitted(
        self,
        op: Operation,
        identity: Identity,
        parsed: ParsedRequest,
        request: EmulatorRequest,
        wall: float,
        sent: float,
    ) -> EmulatorResponse:
        """From the nonce check to the operation: everything that reads or changes state.

        Caller holds the lock and writes the journal afterwards.
        """
        verdict, until = self._nonces.admit(
            identity.access_key_id, parsed.nonce, wall, sent + self._skew
        )
        if verdict is Verdict.REPLAYED:
            return self._gateway(
                "nonceReused",
                "Specified signature nonce was used already; send a new SignatureNonce with "
                "every request.",
            )
        if verdict is Verdict.FULL:
            return self._gateway(
                "nonceMemoryFull",
                f"The AccessKey {identity.access_key_id} has {self._nonce_capacity:,} nonces in "
                f"use within the {self._product.protocol.nonce_window_seconds} s replay window, "
                "as many as the emulator remembers for one key; retry when the oldest expire.",
            )
        if self._store is not None:
            self._journal_nonces.append((identity.access_key_id, parsed.nonce, until))
        now = self._clock.now()
        throttle = self._throttle_for(op)
        if throttle is not None and not throttle.try_acquire(identity.account_id, now):
            flow = op.flow_control
            fallback = self._codes["accountThrottled"]
            return self._envelope.error(
                flow.throttle_code or fallback.code,
                flow.throttle_status or fallback.http_status,
                "Request was denied due to user flow control.",
            )

        params = parsed.business
        if identity.subject_to_ram:
            denied = self._authorize(op, identity, params, request, wall)
            if denied is not None:
                return denied

        delay = 0.0
        if self._faults:
            decision = self._faults.decide(op.name, params)
            if decision is not None:
                delay = decision.delay_s
                if decision.drop:
                    # A front door closes the connection instead of sending this; one that
                    # cannot still answers with the spec's internal error.
                    error = self._codes["internalError"]
                    dropped = self._envelope.error(
                        error.code,
                        error.http_status,
                        f"Injected fault ({', '.join(decision.rules)}): connection dropped.",
                    )
                    return replace(dropped, delay_s=delay, drop_connection=True)
                if decision.code is not None:
                    error = self._product.protocol.gateway_error(decision.code)
                    return self._envelope.error(
                        error.code,
                        error.http_status,
                        f"Injected fault ({', '.join(decision.rules)}): {error.when}",
                        delay_s=delay,
                    )
        self._tick(now)
        return self._operate(op, identity, parsed, params, now, delay)

    def _authorize(
        self,
        op: Operation,
        identity: Identity,
        params: Mapping[str, str],
        request: EmulatorRequest,
        now: float,
    ) -> EmulatorResponse | None:
        """RAM: the operation's action on the resource its spec documents (`*` when unknown)."""
        resource = _ANY_RESOURCE
        if op.ram.resource_types:
            resource_type = op.ram.resource_types[0]
            values = {
                name: params.get(name, "")
                for name in resource_type.placeholders
                if name != "accountId"
            }
            resource = resource_type.arn(accountId=identity.account_id, **values)
        context = {
            _SOURCE_IP: request.client_ip,
            _SECURE_TRANSPORT: "true" if request.secure else "false",
            _CURRENT_TIME: datetime.fromtimestamp(now, UTC).strftime(self._timestamp_format),
            _ACCESS_ID: identity.access_key_id,
            _MFA_PRESENT: "false",
        }
        denial = self._authorizer.authorize(identity, op.ram.action, resource, context)
        if denial is None:
            return None
        return self._denied(identity, denial)

    def _denied(self, identity: Identity, denial: Denial) -> EmulatorResponse:
        error = self._codes["permissionDenied"]
        display = identity.display_name or identity.principal or identity.access_key_id
        detail = {
            "PolicyType": _POLICY_TYPE,
            "AuthAction": denial.action,
            "AuthPrincipalType": _PRINCIPAL_TYPES.get(identity.kind, identity.kind),
            "AuthPrincipalOwnerId": identity.account_id,
            "AuthPrincipalDisplayName": display,
            "NoPermissionType": denial.no_permission_type,
            "EncodedDiagnosticMessage": denial.encoded_diagnostic(display),
        }
        return self._envelope.error(
            error.code,
            error.http_status,
            "User not authorized to operate on the specified resource, or this API doesn't "
            "support RAM.",
            extra={"AccessDeniedDetail": detail},
        )

    def _operate(
        self,
        op: Operation,
        identity: Identity,
        parsed: ParsedRequest,
        params: Mapping[str, str],
        now: float,
        delay: float,
    ) -> EmulatorResponse:
        """The operation itself: its checks in the spec's order, then its effect. Under lock."""
        call = Call(
            op,
            identity.account_id,
            params,
            now,
            self._state.world,
            repeated=parsed.repeated_params,
        )
        refusal = run_checks(call)
        world = self._state.world
        if refusal is not None:
            return self._op_error(op, refusal.code, refusal.message, delay=delay)
        effect = op.effect
        if effect is None:
            if self._unmodelled == "refuse":
                error = self._codes["unmodelledOperation"]
                return self._envelope.error(
                    error.code,
                    error.http_status,
                    f"The emulator does not model {op.name} (its spec declares no x-effect) and "
                    "was told to refuse such operations (unmodelled: refuse).",
                    delay_s=delay,
                )
            rid = self._envelope.request_id()
            return self._envelope.success(
                body=example_body(op, rid), request_id=rid, delay_s=delay, emulation="schema-only"
            )
        mark = world.mark()
        outcome = run_effect(call, effect)
        if outcome.refusal is not None:
            return self._op_error(op, outcome.refusal.code, outcome.refusal.message, delay=delay)
        if outcome.changed and self._machines:
            self._note_timers(mark)
        return self._envelope.success(outcome.body, delay_s=delay)

    def _op_error(
        self, op: Operation, code: str, message: str, *, delay: float
    ) -> EmulatorResponse:
        return self._envelope.error(code, op.status_of(code), message, delay_s=delay)


def _fault_order(record: Record) -> tuple[int, str]:
    value = record.value
    position = value.get("position", 0) if isinstance(value, Mapping) else 0
    return (position if isinstance(position, int) else 0, record.key)
