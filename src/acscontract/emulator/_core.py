"""The emulator core: `Emulator.handle(request) -> response` over explicit, thread-safe state.

A call goes through the gateway, in this order, and stops at the first refusal:

1. the HTTP method (the spec's `methods`)
2. Action and Version (the operation's name and the product's version)
3. the signature envelope (acscontract.signing.parse: IncompleteSignature, missing or malformed
   Timestamp and nonce)
4. the AccessKey: unknown, then inactive
5. the signature itself (SignatureDoesNotMatch, with the server's string to sign)
6. the STS token, for a temporary key
7. the timestamp, within the spec's skew of the gateway clock
8. the nonce, not seen within the spec's replay window
9. the account's flow control
10. RAM, for a RAM user's key or an STS token (root keys are not subject to RAM)
11. fault injection
12. the operation: the spec's `x-checks` in order, then the spec's lifecycle transition.

Signature verification and RAM evaluation run outside the state lock; everything that reads or
changes state runs under it.

Two clocks: the gateway (timestamp freshness, the nonce window, STS expiry, `acs:CurrentTime`)
reads the wall clock plus an offset the admin API can set; recording timers, throttle windows and
recordings run on the emulator's virtual clock, which tests move forward. Advancing the virtual
clock by any amount never makes a freshly signed request stale.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from acscontract.emulator._authz import Authorizer, Denial, PolicyAuthorizer
from acscontract.emulator._envelope import Envelope, GatewayCodes
from acscontract.emulator._faults import FaultInjector, FaultRule
from acscontract.emulator._lifecycle import NoTransition, RecordingTask, StreamKey, apply
from acscontract.emulator._nonce import NonceCache
from acscontract.emulator._seed import Seed, load_seed
from acscontract.emulator._state import EmulatorState, Identity, StateView
from acscontract.emulator._throttle import AccountThrottle, BucketFactory, bucket_factory
from acscontract.emulator._types import (
    Clock,
    EmulatorRequest,
    EmulatorResponse,
    OffsetClock,
    Recording,
    SystemClock,
)
from acscontract.errors import UsageError
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
from acscontract.spec import Operation
from acscontract.spec import operation as bundled_operation

__all__ = ["Emulator", "SeedLike"]

_log = logging.getLogger("acscontract.emulator")

SeedLike = Seed | Mapping[str, Any] | str | Path | None
"""What `Emulator` and `load_seed` accept: a Seed, a dict, a YAML/JSON path, or None (default)."""

# Global condition keys the emulator puts in every RAM request context; each must be one the
# spec's protocol lists (checked at start-up).
_SOURCE_IP = "acs:SourceIp"
_SECURE_TRANSPORT = "acs:SecureTransport"
_CURRENT_TIME = "acs:CurrentTime"
_ACCESS_ID = "acs:AccessId"
_MFA_PRESENT = "acs:MFAPresent"
_CONTEXT_KEYS = (_SOURCE_IP, _SECURE_TRANSPORT, _CURRENT_TIME, _ACCESS_ID, _MFA_PRESENT)

# Lifecycle events the admin API fires on a stream (names from the spec's `x-lifecycle.events`).
_INTERRUPT = "interrupt"
_RESUME = "resume"

# A gateway offset of more than ten years is a mistake, not a test.
_MAX_GATEWAY_OFFSET = 10 * 365 * 86_400.0

_PRINCIPAL_TYPES = {"user": "SubUser", "sts": "AssumedRoleUser"}
_POLICY_TYPE = "AccountLevelIdentityBasedPolicy"


def _success_status(operation: Operation) -> int:
    responses = operation.raw.get("responses", {})
    for status in responses:
        if str(status).startswith("2"):
            return int(status)
    raise LookupError(f"{operation.path}: the spec of {operation.name} has no 2xx response.")


class Emulator:
    """An emulated endpoint of one operation, over explicit state you can create and throw away.

    `seed` is a Seed, a dict, a YAML/JSON file or None for the embedded default seed. `clock` is
    the virtual clock that drives recording timers, throttle windows and recording times (an
    `OffsetClock` by default: the system time, which `advance_clock` moves forward; a
    `ManualClock` makes tests deterministic). `wall_clock` is what the gateway checks timestamps,
    nonces and STS expiry against (the system clock by default), plus `set_gateway_offset`.
    `throttle` picks the flow-control algorithm by name (`fixed-window`, `sliding-log`,
    `token-bucket`; the spec's default when None) or is a factory
    `(limit, window_seconds) -> ThrottleBucket`. `rng_seed` seeds fault probabilities.
    `authorizer` replaces RAM policy evaluation (for tests of the gateway itself).

    `handle` is thread-safe. Every admin method is too.
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
        nonce_cap: int = 100_000,
        authorizer: Authorizer | None = None,
    ) -> None:
        op = operation if operation is not None else bundled_operation()
        if op.lifecycle is None:
            raise UsageError(
                f"The spec of {op.name} has no x-lifecycle; the emulator needs one to know what "
                "each command does."
            )
        self._op = op
        self._lifecycle = op.lifecycle
        self._clock: Clock = clock if clock is not None else OffsetClock()
        self._wall_clock: Clock = wall_clock if wall_clock is not None else SystemClock()
        self._gateway_offset = 0.0
        self._codes = GatewayCodes.from_operation(op)
        self._envelope = Envelope(op, _success_status(op))
        self._check_spec_coverage()

        self._methods = frozenset(m.upper() for m in op.methods)
        self._action = op.name
        self._version = op.product.version
        command = op.command_parameter
        if command is None:
            raise UsageError(
                f"The spec of {op.name} has no parameter whose values are the lifecycle's "
                "commands; the emulator cannot tell which command a call is."
            )
        self._command_name = command.name
        self._key_names: tuple[str, ...] = tuple(self._lifecycle.key)
        self._parameter_names = frozenset(p.name for p in op.parameters)
        self._skew = float(op.protocol.timestamp_skew_seconds)
        self._timestamp_format = op.protocol.timestamp_format
        self._ram_action = op.ram.action
        self._resource_type = op.ram.resource_types[0] if op.ram.resource_types else None

        flow = op.flow_control
        algorithm = throttle if throttle is not None else flow.default_algorithm
        if algorithm is None:
            raise UsageError(
                f"{op.path}: the spec names no default flow-control algorithm "
                "(x-flowControl.algorithm.emulatorDefault); pass throttle= explicitly."
            )
        self._throttle_kind: str | BucketFactory = algorithm
        self._bucket_factory = bucket_factory(algorithm)
        self._throttle_code = flow.throttle_code
        self._throttle_status = flow.throttle_status
        self._flow_limit = flow.limit
        self._flow_window = flow.per_seconds
        self._nonce_cap = nonce_cap

        self._lock = threading.RLock()
        self._listeners: list[Callable[[], None]] = []
        self._custom_authorizer = authorizer
        self._unplanned = 0
        self._faults = FaultInjector(
            rng_seed=rng_seed,
            default_code=self._codes["internal_error"].code,
            allowed_codes=tuple(e.code for e in op.protocol.gateway_errors_in("server")),
            command_name=self._command_name,
            key_names=self._key_names,
        )
        self._seed: Seed
        self._state: EmulatorState
        self._throttle: AccountThrottle
        self._nonces: NonceCache
        self._authorizer: Authorizer
        self._install(EmulatorState(load_seed(seed), self._lifecycle.initial))

    # ------------------------------------------------------------------------------------
    # set-up

    def _check_spec_coverage(self) -> None:
        lifecycle = self._lifecycle
        command = self._op.command_parameter
        missing = [
            f"{state}/{value}"
            for state in lifecycle.states
            for value in (command.enum or () if command is not None else ())
            if lifecycle.transition(state, value) is None
        ]
        if missing:
            raise UsageError(
                f"{self._op.path}: the lifecycle has no transition for {', '.join(missing)}; the "
                "emulator needs one for every state and command."
            )
        known = {k.key for k in self._op.protocol.global_condition_keys}
        absent = [k for k in _CONTEXT_KEYS if k not in known]
        if absent:
            raise UsageError(
                f"{self._op.protocol.path}: the global condition keys {', '.join(absent)} are "
                "missing, but the emulator fills them in every RAM request context."
            )
        events = set(lifecycle.events)
        for event in (_INTERRUPT, _RESUME):
            if event not in events:
                raise UsageError(
                    f"{self._op.path}: the lifecycle has no event {event!r}, which the emulator "
                    "fires when a stream goes offline or comes back."
                )

    def _install(self, state: EmulatorState, *, clear_faults: bool = False) -> None:
        """Make `state` (and its seed) current, with fresh throttle buckets, nonces and RAM.

        Everything that can fail (compiling the policies) happens before anything changes.
        """
        authorizer = self._custom_authorizer or PolicyAuthorizer(state.identities.values())
        throttle = AccountThrottle(self._bucket_factory, self._flow_limit, self._flow_window)
        for account, qps in state.qps.items():
            if qps is not None:
                throttle.set_limit(account, qps)
        with self._lock:
            self._seed = state.seed
            self._state = state
            if clear_faults:
                self._faults.clear()
            self._authorizer = authorizer
            self._throttle = throttle
            self._nonces = NonceCache(
                float(self._op.protocol.nonce_window_seconds), self._nonce_cap
            )

    # ------------------------------------------------------------------------------------
    # properties

    @property
    def operation(self) -> Operation:
        """The spec of the emulated operation."""
        return self._op

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

    def gateway_now(self) -> float:
        """The gateway's time: the wall clock plus the gateway offset (Unix seconds)."""
        return self._wall_clock.now() + self._gateway_offset

    def set_gateway_offset(self, seconds: float) -> None:
        """Set the gateway's clock `seconds` off the wall clock (negative: behind it).

        Requests are fresh when their timestamp is within the spec's skew of the gateway's time,
        so an offset simulates a client (or server) whose clock is wrong. `reset` sets it to 0.
        """
        if seconds != seconds or abs(seconds) > _MAX_GATEWAY_OFFSET:  # NaN, or absurd
            raise UsageError(
                "The gateway offset must be a number of seconds within "
                f"±{_MAX_GATEWAY_OFFSET:.0f}; {seconds!r} is not."
            )
        self._gateway_offset = float(seconds)

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
            return self._state.view()

    def __repr__(self) -> str:
        return (
            f"Emulator(operation={self._op.qualified_name!r}, seed={self._seed.source!r}, "
            f"throttle={self.throttle_algorithm!r})"
        )

    # ------------------------------------------------------------------------------------
    # admin

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call `listener()` (outside the lock) after every change to the durable state."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            try:
                listener()
            except Exception:  # noqa: BLE001 - a listener's bug must not fail the call
                _log.exception("An emulator state listener failed.")

    def reset(self) -> None:
        """Back to the seed: no tasks, recordings, nonces, throttle history or fault rules.

        The clocks go back too: the virtual clock to its start (when it can: `OffsetClock` and
        `ManualClock` can) and the gateway offset to 0.
        """
        self._install(EmulatorState(self._seed, self._lifecycle.initial), clear_faults=True)
        self._rewind_clocks()
        self._changed()

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
        self._install(EmulatorState(new_seed, self._lifecycle.initial), clear_faults=True)
        self._rewind_clocks()
        self._changed()

    def set_stream_online(self, domain: str, app: str, stream: str, online: bool) -> None:
        """Bring a stream online or take it offline, firing the spec's interrupt/resume event.

        An unknown stream of a known domain and app is created. UsageError for an unknown domain
        or app.
        """
        with self._lock:
            now = self._clock.now()
            self._tick(now)
            app_state = self._state.app(domain, app)
            if app_state is None:
                raise UsageError(
                    f"The emulator has no app {app!r} on the domain {domain!r}; add it to the "
                    "seed first."
                )
            was = app_state.streams.get(stream)
            app_state.streams[stream] = online
            if was is not None and was != online:
                self._fire((domain, app, stream), _RESUME if online else _INTERRUPT, now)
        self._changed()

    def set_account_qps(self, account_id: str, qps: int | None) -> None:
        """Override an account's flow-control limit (None: the spec's limit)."""
        with self._lock:
            if account_id not in self._state.qps:
                raise UsageError(f"The emulator has no account {account_id!r}.")
            self._state.qps[account_id] = qps
            self._throttle.set_limit(account_id, qps)
        self._changed()

    def add_fault(self, rule: FaultRule | Mapping[str, Any]) -> FaultRule:
        """Add a fault rule (a FaultRule or its JSON form); returns it with its id."""
        fault = rule if isinstance(rule, FaultRule) else FaultRule.from_json(rule)
        with self._lock:
            stored = self._faults.add(fault)
        self._changed()
        return stored

    def remove_fault(self, rule_id: str) -> bool:
        """Remove one fault rule; False when there is no rule with that id."""
        with self._lock:
            removed = self._faults.remove(rule_id)
        if removed:
            self._changed()
        return removed

    def clear_faults(self) -> None:
        """Remove every fault rule (and restart the fault RNG from its seed)."""
        with self._lock:
            self._faults.clear()
        self._changed()

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
        if seconds < 0:
            raise UsageError(f"The clock only moves forward; {seconds} seconds is negative.")
        with self._lock:
            advance(seconds)
            now = self._clock.now()
            fired = self._tick(now)
        if fired:
            self._changed()
        return now

    def fire_due_timers(self) -> int:
        """Fire every timer that is due now; returns how many fired."""
        with self._lock:
            fired = self._tick(self._clock.now())
        if fired:
            self._changed()
        return fired

    def recordings(self) -> tuple[Recording, ...]:
        """Every recording file produced so far, oldest first (due timers fire first)."""
        with self._lock:
            self._tick(self._clock.now())
            return tuple(self._state.recordings)

    def snapshot(self) -> dict[str, Any]:
        """The durable state as JSON-able data (secrets included: it restores the keys)."""
        with self._lock:
            self._tick(self._clock.now())
            return self._state.snapshot([r.to_json() for r in self._faults.rules()])

    def restore(self, snapshot: Mapping[str, Any], *, source: str = "<snapshot>") -> None:
        """Replace the state with a snapshot's (validated first; nothing changes if it is bad)."""
        state, faults = EmulatorState.restore(snapshot, self._lifecycle.initial, source)
        rules = [FaultRule.from_json(item) for item in faults]
        trial = FaultInjector(
            default_code=self._faults.default_code, allowed_codes=self._faults.allowed_codes
        )
        for rule in rules:
            trial.add(rule)  # validates the codes before anything changes
        with self._lock:
            self._install(state, clear_faults=True)
            for rule in rules:
                self._faults.add(rule)
        self._changed()

    # ------------------------------------------------------------------------------------
    # timers and lifecycle

    def _tick(self, now: float) -> int:
        """Fire the timers due by `now`, in deadline order. Caller holds the lock."""
        state = self._state
        fired = 0
        while state.next_due is not None and state.next_due <= now:
            due = [
                t for t in state.tasks.values() if t.timer_due is not None and t.timer_due <= now
            ]
            if not due:  # pragma: no cover - next_due is always refreshed
                state.recompute_next_due()
                break
            task = min(due, key=lambda t: (t.timer_due or 0.0, t.key))
            timer, when = task.timer, task.timer_due
            task.timer, task.timer_due = None, None
            event = self._lifecycle.event_for_timer(timer or "")
            if event is not None and when is not None:
                self._fire(task.key, event, when)
                fired += 1
            state.recompute_next_due()
        return fired

    def _fire(self, key: StreamKey, event: str, now: float) -> None:
        """Apply a lifecycle event to a stream's task, if it has one. Caller holds the lock."""
        state = self._state
        task = state.tasks.get(key)
        if task is None:
            return
        try:
            outcome = apply(self._lifecycle, task, event, now)
        except NoTransition:
            return
        if outcome.recording is not None:
            state.recordings.append(outcome.recording)
        if task.state == self._lifecycle.initial and task.timer is None:
            del state.tasks[key]
        state.recompute_next_due()

    # ------------------------------------------------------------------------------------
    # the request path

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        """Answer one call as the real endpoint would (see the module docstring for the order)."""
        try:
            response, changed = self._handle(request)
        except Exception:  # noqa: BLE001 - the last resort: answer as the service would
            self._unplanned += 1
            _log.exception(
                "The emulator failed on %s %s; answering with the spec's internal error.",
                request.method,
                request.path,
            )
            error = self._codes["internal_error"]
            return self._envelope.error(
                error.code,
                error.http_status,
                "The request processing has failed due to some unknown error, exception or "
                "failure.",
            )
        if changed:
            self._changed()
        return response

    def _gateway(self, condition: str, message: str) -> tuple[EmulatorResponse, bool]:
        error = self._codes[condition]
        return self._envelope.error(error.code, error.http_status, message), False

    def _rejection(self, rejection: Rejection) -> tuple[EmulatorResponse, bool]:
        error = self._op.protocol.gateway_error(rejection.code)
        message = rejection.detail
        if error.message_format is not None and rejection.string_to_sign is not None:
            message = error.message_format.format(stringToSign=rejection.string_to_sign)
        return self._envelope.error(error.code, error.http_status, message), False

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

    def _handle(self, request: EmulatorRequest) -> tuple[EmulatorResponse, bool]:
        now = self._clock.now()
        wall = self.gateway_now()
        method = request.method.upper()
        if method not in self._methods:
            return self._gateway(
                "unsupported_method",
                f"The HTTP method {request.method[:20]!r} is not supported; use "
                f"{' or '.join(sorted(self._methods))}.",
            )
        headers = request.headers
        if request.host and headers.get(Header.HOST) != request.host:
            headers = {**headers, Header.HOST.value: request.host}
        wire = WireRequest(method, request.path or "/", request.query, headers, request.body)
        parsed = parse(wire)
        if isinstance(parsed, ParsedRequest):
            action, version = parsed.action, parsed.version
        else:
            action, version = self._peek_action(wire)
        if action != self._action:
            shown = "no Action" if not action else f"the Action {action[:64]!r}"
            return self._gateway(
                "unknown_action",
                f"Specified api is not found, please check your url and method: the emulator "
                f"serves {self._action}, and the request names {shown}.",
            )
        if version != self._version:
            shown = "no Version" if not version else f"the Version {version[:64]!r}"
            return self._gateway(
                "unknown_version",
                f"Specified parameter Version is not valid: {self._action} is served in API "
                f"version {self._version}, and the request names {shown}.",
            )
        if isinstance(parsed, Rejection):
            return self._rejection(parsed)

        state = self._state
        identity = state.identities.get(parsed.access_key_id)
        if identity is None:
            return self._gateway("unknown_access_key", "Specified access key is not found.")
        if not identity.active:
            return self._gateway("inactive_access_key", "Specified access key is disabled.")
        verified = verify(parsed, identity.secret)
        if isinstance(verified, Rejection):
            return self._rejection(verified)
        if identity.kind == "sts":
            if not identity.token_matches(parsed.security_token):
                return self._gateway(
                    "bad_security_token",
                    "The security token you provided is invalid: it is missing or is not the "
                    "token of this temporary AccessKey.",
                )
            if identity.expires_at is not None and identity.expires_at <= wall:
                return self._gateway(
                    "bad_security_token", "The security token you provided has expired."
                )
        sent = parsed.timestamp.timestamp()
        if abs(sent - wall) > self._skew:
            server_time = datetime.fromtimestamp(wall, UTC).strftime(self._timestamp_format)
            return self._gateway(
                "expired_timestamp",
                f"Specified time stamp or date value is expired: {parsed.timestamp_raw} is more "
                f"than {int(self._skew)} seconds away from the server time {server_time}.",
            )

        with self._lock:
            if state is not self._state:  # the seed changed while this call was being verified
                state = self._state
                current = state.identities.get(identity.access_key_id)
                if current is None or current.secret != identity.secret or not current.active:
                    return self._gateway("unknown_access_key", "Specified access key is not found.")
                identity = current
            if not self._nonces.check_and_add(
                identity.account_id, parsed.nonce, wall, sent + self._skew
            ):
                return self._gateway(
                    "nonce_reused",
                    "Specified signature nonce was used already; send a new SignatureNonce with "
                    "every request.",
                )
            if not self._throttle.try_acquire(identity.account_id, now):
                return (
                    self._envelope.error(
                        self._throttle_code or "",
                        self._throttle_status or 0,
                        "Request was denied due to user flow control.",
                    ),
                    False,
                )

        params = parsed.business
        if identity.subject_to_ram:
            denied = self._authorize(identity, params, request, wall)
            if denied is not None:
                return denied, False

        repeated = parsed.repeated_params & self._parameter_names
        with self._lock:
            delay = 0.0
            if self._faults:
                decision = self._faults.decide(params)
                if decision is not None:
                    delay = decision.delay_s
                    if decision.drop:
                        # A front door closes the connection instead of sending this; one that
                        # cannot still answers with the spec's internal error.
                        error = self._codes["internal_error"]
                        dropped = self._envelope.error(
                            error.code,
                            error.http_status,
                            f"Injected fault ({', '.join(decision.rules)}): connection dropped.",
                        )
                        return replace(dropped, delay_s=delay, drop_connection=True), False
                    if decision.code is not None:
                        error = self._op.protocol.gateway_error(decision.code)
                        return (
                            self._envelope.error(
                                error.code,
                                error.http_status,
                                f"Injected fault ({', '.join(decision.rules)}): {error.when}",
                                delay_s=delay,
                            ),
                            False,
                        )
            self._tick(now)
            return self._operate(identity, params, repeated, now, delay)

    def _authorize(
        self, identity: Identity, params: Mapping[str, str], request: EmulatorRequest, now: float
    ) -> EmulatorResponse | None:
        resource = ""
        if self._resource_type is not None:
            values = {
                name: params.get(name, "")
                for name in self._resource_type.placeholders
                if name in self._parameter_names
            }
            resource = self._resource_type.arn(accountId=identity.account_id, **values)
        context = {
            _SOURCE_IP: request.client_ip,
            _SECURE_TRANSPORT: "true" if request.secure else "false",
            _CURRENT_TIME: datetime.fromtimestamp(now, UTC).strftime(self._timestamp_format),
            _ACCESS_ID: identity.access_key_id,
            _MFA_PRESENT: "false",
        }
        denial = self._authorizer.authorize(identity, self._ram_action, resource, context)
        if denial is None:
            return None
        return self._denied(identity, denial)

    def _denied(self, identity: Identity, denial: Denial) -> EmulatorResponse:
        error = self._codes["permission_denied"]
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

    def _op_error(self, check_or_code: str, detail: str, *, delay: float) -> EmulatorResponse:
        error = self._op.error(check_or_code)
        message = error.message.replace("%s", detail) if "%s" in error.message else error.message
        return self._envelope.error(error.code, error.http_status, message, delay_s=delay)

    def _operate(
        self,
        identity: Identity,
        params: Mapping[str, str],
        repeated: frozenset[str],
        now: float,
        delay: float,
    ) -> tuple[EmulatorResponse, bool]:
        """The operation itself: x-checks in the spec's order, then the lifecycle. Under lock."""
        op = self._op
        problem = op.check_parameters(params)
        if problem is not None:
            return self._op_error(problem.code, problem.message, delay=delay), False
        if repeated:
            name = sorted(repeated)[0]
            return (
                self._op_error(
                    op.check_code("malformedParameter"),
                    f"The specified parameter {name} is not valid: it is given more than once.",
                    delay=delay,
                ),
                False,
            )
        domain, app, stream = (params[name] for name in self._key_names)
        state = self._state
        owner = state.domains.get(domain)
        app_state = None if owner is None else owner.apps.get(app)
        if (
            owner is None
            or owner.account_id != identity.account_id
            or app_state is None
            or (not app_state.record_config)
        ):
            return (
                self._op_error(
                    op.check_code("recordConfig"),
                    f"No config found: the domain {domain!r} and app {app!r} have no record "
                    "configuration in this account.",
                    delay=delay,
                ),
                False,
            )
        if not app_state.streams.get(stream, False):
            return (
                self._op_error(
                    op.check_code("streamOnline"),
                    f"The stream {stream!r} of {domain}/{app} was not found or is not online.",
                    delay=delay,
                ),
                False,
            )
        command = params[self._command_name]
        key: StreamKey = (domain, app, stream)
        task = state.tasks.get(key)
        fresh = task is None
        if task is None:
            task = RecordingTask(
                domain, app, stream, self._lifecycle.initial, account_id=identity.account_id
            )
        outcome = apply(self._lifecycle, task, command, now)
        if outcome.error is not None:
            return (
                self._op_error(
                    outcome.error,
                    f"The command {command} cannot run on the stream {domain}/{app}/{stream} "
                    f"while its recording task is {outcome.transition.source}.",
                    delay=delay,
                ),
                False,
            )
        if outcome.recording is not None:
            state.recordings.append(outcome.recording)
        if task.state == self._lifecycle.initial and task.timer is None:
            state.tasks.pop(key, None)
        elif fresh:
            state.tasks[key] = task
        state.recompute_next_due()
        return self._envelope.success(delay), True
