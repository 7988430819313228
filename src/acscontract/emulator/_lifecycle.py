"""Lifecycles: the state machines the spec declares (`x-lifecycle`), run over the world.

A lifecycle belongs to a resource (for Live, `recordingTask`); its records carry the resource's
identifiers plus four fields of the machine: `state`, `segmentStartedAt`, `timer` and
`timerDue`. A command (`x-effect: {kind: lifecycle}`) looks up the spec's transition for (state,
command) and executes it exactly as the spec says, documented or not: an `error` leaves the
record unchanged; otherwise it moves to `to`, a transition with `producesFile` adds the resource
the lifecycle `produces` (from the segment's start to now), and `startTimer` (re)starts a timer,
whose length a resource property can replace (`timers.<name>.from`). A timer survives only a
transition that stays in the same state without starting a timer; any state change cancels it.
Events arrive by role (a stream going offline) or when a timer runs out.

A record back in the initial state with no timer is deleted: the initial state is "no record".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from acscontract.emulator._checks import Call, refuse
from acscontract.emulator._effects import EFFECTS, Outcome, derive, stamp, verify_registry
from acscontract.emulator._world import RecordKey, World, resolve_match
from acscontract.spec import Effect, Lifecycle, Operation, Product, Transition

__all__ = ["Machine", "NoTransition", "Step", "machines_of"]

STATE, SEGMENT, TIMER, DUE = "state", "segmentStartedAt", "timer", "timerDue"
REASON = "reason"
"""The produced record's field naming the trigger that produced it (not a spec property)."""


class NoTransition(LookupError):
    """The spec has no transition for a state and trigger."""


@dataclass(frozen=True, slots=True)
class Step:
    """What one trigger did: the spec's transition, its error (if any), the record produced."""

    transition: Transition
    error: str | None
    produced: Mapping[str, Any] | None = None


class Machine:
    """One resource's lifecycle, over the world's records of that resource."""

    __slots__ = ("layout", "lifecycle", "operation", "product", "resource")

    def __init__(self, operation: Operation) -> None:
        if operation.lifecycle is None:
            raise ValueError(f"{operation.name} declares no x-lifecycle.")
        self.operation = operation
        self.lifecycle: Lifecycle = operation.lifecycle
        self.product: Product = operation.product
        self.resource = self.lifecycle.resource
        self.layout = operation.protocol.timestamp_format

    def __repr__(self) -> str:
        return f"Machine({self.resource!r}, from {self.operation.name})"

    @property
    def key_names(self) -> tuple[str, ...]:
        """The identifiers of the lifecycle's resource."""
        return self.lifecycle.key

    def state_of(self, world: World, account: str, key: RecordKey) -> str:
        """The record's state (the initial state when there is no record)."""
        record = world.get(self.resource, account, key)
        return self.lifecycle.initial if record is None else str(record[STATE])

    def fire(self, world: World, account: str, key: RecordKey, trigger: str, now: float) -> Step:
        """Apply `trigger` (a command or an event) to the record with `key`.

        Raises NoTransition when the spec has no row for the record's state and the trigger.
        """
        life = self.lifecycle
        record = world.get(self.resource, account, key)
        if record is None:
            record = dict(zip(self.key_names, key, strict=True))
            record.update({STATE: life.initial, SEGMENT: None, TIMER: None, DUE: None})
        transition = life.transition(str(record[STATE]), trigger)
        if transition is None:
            raise NoTransition(
                f"The spec's lifecycle has no transition from {record[STATE]!r} on {trigger!r}."
            )
        if transition.error is not None:
            return Step(transition, transition.error)
        produced = None
        # The record a produced file and a timer copy from, looked up once for both.
        copied: tuple[Mapping[str, Any] | None] | None = None
        if transition.produces_file:
            started = record[SEGMENT]
            copied = (self._copy_source(world, account, record),)
            produced = self._produce(
                world,
                account,
                record,
                now if started is None else float(started),
                now,
                trigger,
                copied[0],
            )
        target = transition.next_state
        leaving_initial = record[STATE] == life.initial and target != life.initial
        if target == life.initial:
            record[SEGMENT] = None
        elif leaving_initial or transition.produces_file:
            record[SEGMENT] = now
        if transition.start_timer is not None:
            record[TIMER] = transition.start_timer
            record[DUE] = now + self._timer_seconds(
                world, account, record, transition.start_timer, copied
            )
        elif target != record[STATE]:
            record[TIMER] = record[DUE] = None
        record[STATE] = target
        if target == life.initial and record[TIMER] is None:
            world.delete(self.resource, account, key)
        else:
            world.put(self.resource, account, record, owned=True)
        return Step(transition, None, produced)

    def _copy_source(
        self, world: World, account: str, record: Mapping[str, Any]
    ) -> Mapping[str, Any] | None:
        """The record to copy from, read in place: a stream's own configuration before its app's
        (the match's alternatives in the spec's order)."""
        produced = self.lifecycle.produces
        if produced is None or produced.copy_resource is None:
            return None
        return world.first(
            produced.copy_resource, account, resolve_match(produced.copy_match, record)
        )

    def _timer_seconds(
        self,
        world: World,
        account: str,
        record: Mapping[str, Any],
        timer: str,
        copied: tuple[Mapping[str, Any] | None] | None = None,
    ) -> float:
        """The timer's length: the spec's, or the source property's (`copied`: the record to
        copy from, when the caller looked it up already)."""
        seconds = self.lifecycle.timers[timer]
        source = self.lifecycle.timer_sources.get(timer)
        if source is None:
            return seconds
        produced = self.lifecycle.produces
        if produced is not None and produced.copy_resource == source.resource:
            found = copied[0] if copied is not None else self._copy_source(world, account, record)
        else:
            names = set(world.resource(source.resource).identifiers) & set(self.key_names)
            found = world.first(source.resource, account, {n: (record[n],) for n in sorted(names)})
        value = None if found is None else found.get(source.property)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return float(value)
        return seconds

    def _produce(
        self,
        world: World,
        account: str,
        record: Mapping[str, Any],
        started: float,
        ended: float,
        trigger: str,
        source: Mapping[str, Any] | None,
    ) -> dict[str, Any] | None:
        produced = self.lifecycle.produces
        if produced is None:
            return None
        resource = world.resource(produced.resource)
        item: dict[str, Any] = {
            name: record[name] for name in self.key_names if name in resource.properties
        }
        if source is not None:
            item.update({p: source[p] for p in produced.copy_properties if p in source})
        if produced.span is not None:
            start_name, end_name, duration_name = produced.span
            item[start_name], item[end_name] = started, ended
            if duration_name is not None:
                item[duration_name] = round(ended - started, 3)
        item[REASON] = trigger
        stamp(item, resource, ended, created=True)
        derive(item, resource, self.layout)
        world.put(produced.resource, account, item, owned=True)
        return item

    # -- timers and events -----------------------------------------------------------------

    def due(self, world: World) -> list[tuple[float, str, RecordKey, str]]:
        """(due time, account, key, timer) of every running timer, soonest first."""
        found = []
        for account, record in world.scan(self.resource):
            if record.get(DUE) is not None and record.get(TIMER) is not None:
                key = world.key_of(self.resource, record)
                found.append((float(record[DUE]), account, key, str(record[TIMER])))
        return sorted(found)

    def fire_timer(self, world: World, account: str, key: RecordKey, when: float) -> Step | None:
        """Run out the record's timer at `when`: fire the event bound to it."""
        record = world.get(self.resource, account, key)
        if record is None or record.get(TIMER) is None:
            return None
        timer = str(record[TIMER])
        record[TIMER] = record[DUE] = None
        world.put(self.resource, account, record)
        event = self.lifecycle.event_for_timer(timer)
        if event is None:
            return None
        try:
            return self.fire(world, account, key, event, when)
        except NoTransition:
            return None

    def fire_role(
        self, world: World, account: str, key: RecordKey, role: str, now: float
    ) -> Step | None:
        """Fire the event the spec binds to `role` on an existing record (None if nothing ran)."""
        event = self.lifecycle.event_for_role(role)
        if event is None or world.get(self.resource, account, key) is None:
            return None
        try:
            return self.fire(world, account, key, event, now)
        except NoTransition:
            return None

    # -- the lifecycle effect --------------------------------------------------------------

    def command(self, call: Call, effect: Effect) -> Outcome:
        """Run the call's command on its record (the `lifecycle` effect kind)."""
        command_parameter = self.operation.command_parameter
        if command_parameter is None:
            raise ValueError(f"{self.operation.name} has no parameter naming the command.")
        values = {**effect.defaults, **call.values}
        key = tuple([str(values.get(name, "")) for name in self.key_names])
        trigger = str(values[command_parameter.name])
        try:
            step = self.fire(call.world, call.account, key, trigger, call.now)
        except NoTransition:
            state = self.state_of(call.world, call.account, key)
            raise NoTransition(
                f"The spec's lifecycle has no transition from {state!r} on {trigger!r}."
            ) from None
        if step.error is not None:
            detail = (
                f"The command {trigger} cannot run on {'/'.join(key)} while its "
                f"{self.resource} is {step.transition.source}."
            )
            return Outcome(refusal=refuse(call, step.error, detail))
        return Outcome(body={}, changed=True)


def machines_of(product: Product, load: Any) -> dict[str, Machine]:
    """The product's lifecycles, by resource: each resource that names a lifecycle operation,
    loaded with `load(name) -> Operation`."""
    machines = {}
    for name, resource in product.resources.items():
        if resource.lifecycle is not None:
            machines[name] = Machine(load(resource.lifecycle))
    return machines


_MACHINES: dict[tuple[str, str], Machine] = {}


def machine_of(operation: Operation) -> Machine:
    """The (cached) machine of an operation that declares a lifecycle."""
    key = (str(operation.path), operation.qualified_name)
    found = _MACHINES.get(key)
    if found is None or found.operation is not operation:
        found = _MACHINES[key] = Machine(operation)
    return found


def _lifecycle_effect(call: Call, effect: Effect) -> Outcome:
    return machine_of(call.op).command(call, effect)


EFFECTS["lifecycle"] = _lifecycle_effect
verify_registry()
