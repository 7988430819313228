"""The workflow around a lifecycle, derived from the spec's resource model and effects.

Code that calls `RealTimeRecordCommand` never calls it alone: it configures recording first,
records, then finds the files. The family of such a workflow is read from the spec, not listed by
name: take an operation with a lifecycle; the resources it touches are its lifecycle's resource,
the resource its transitions produce (and the one they copy from), and the resources its
`exists` checks require, except those that come from the seed. Every operation whose effect acts
on one of them belongs to the family. Within it, roles are told apart by effect kind:

- `configure`, `update`, `remove`, `describe`: the create, update, delete and read or list
  effects on the resource a precondition check of the lifecycle requires (a record
  configuration: without one, the opening command fails with the check's code);
- `find` and `fetch`: the list effect with a time window, and the read effect, on the resource
  the lifecycle produces (a record index file);
- `record`: the commands of the lifecycle, from the initial state through a transition that
  produces a file and back to the initial state, by its documented transitions
  (`recording_path`).

For Live that is AddLiveAppRecordConfig, UpdateLiveAppRecordConfig, DeleteLiveAppRecordConfig,
DescribeLiveRecordConfig, RealTimeRecordCommand (start, stop, cancel_delay),
DescribeLiveStreamRecordIndexFiles and DescribeLiveStreamRecordIndexFile (and
DescribeLiveStreamRecordContent, which also lists the recordings).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from acscontract.spec import Check, Lifecycle, Operation

__all__ = ["RecordingFamily", "item_fields", "items_of", "recording_families", "recording_path"]


@dataclass(frozen=True, slots=True)
class RecordingFamily:
    """The operations of one lifecycle's workflow, by role (see the module's docstring)."""

    lifecycle: Operation
    precondition: Check
    """The lifecycle's check that a configuration exists (its code: what the opening command
    answers without one)."""
    configure: Operation
    remove: Operation
    find: tuple[Operation, ...]
    """The list effects with a time window on the produced resource."""
    describe: Operation | None = None
    update: Operation | None = None
    fetch: Operation | None = None
    members: tuple[Operation, ...] = ()
    """Every operation whose effect acts on a resource of the workflow, in the product's order."""

    @property
    def configured(self) -> str:
        """The resource the precondition requires (a record configuration)."""
        return str(self.precondition.options["resource"])

    @property
    def produced(self) -> str:
        """The resource the lifecycle produces (a record index file)."""
        lifecycle = self.lifecycle.lifecycle
        assert lifecycle is not None
        assert lifecycle.produces is not None
        return lifecycle.produces.resource

    def covered_by(self, selected: Iterable[Operation]) -> bool:
        """Whether every member of the family is among `selected`."""
        names = {op.name for op in selected}
        return all(op.name in names for op in self.members)


def _touched(op: Operation) -> list[str]:
    """The resources a lifecycle operation touches, seed resources left out."""
    lifecycle = op.lifecycle
    assert lifecycle is not None
    resources = [lifecycle.resource]
    if lifecycle.produces is not None:
        resources.append(lifecycle.produces.resource)
        if lifecycle.produces.copy_resource is not None:
            resources.append(lifecycle.produces.copy_resource)
    resources += [str(c.options["resource"]) for c in op.checks if c.check == "exists"]
    if op.effect is not None:
        resources += [r.resource for r in op.effect.requires]
    model = op.product.resources
    return [r for r in dict.fromkeys(resources) if r in model and model[r].origin != "seed"]


def _one(ops: Sequence[Operation], resource: str, *kinds: str) -> Operation | None:
    for kind in kinds:
        for op in ops:
            if op.effect is not None and op.effect.resource == resource and op.effect.kind == kind:
                return op
    return None


def recording_families(operations: Sequence[Operation]) -> tuple[RecordingFamily, ...]:
    """The workflow families among `operations` (all of a product's operations): one per
    operation with a lifecycle that produces a resource and requires a configuration the family
    can create, find and delete."""
    families = []
    for op in operations:
        lifecycle = op.lifecycle
        if lifecycle is None or lifecycle.produces is None or op.command_parameter is None:
            continue
        touched = _touched(op)
        members = tuple(o for o in operations if o.effect and o.effect.resource in touched)
        produced = lifecycle.produces.resource
        find = tuple(
            o
            for o in members
            if o.effect is not None
            and o.effect.resource == produced
            and o.effect.kind == "list"
            and o.effect.window is not None
        )
        for check in op.checks:
            resource = str(check.options.get("resource", ""))
            if check.check != "exists" or resource not in touched:
                continue
            configure = _one(members, resource, "create")
            remove = _one(members, resource, "delete")
            if configure is None or remove is None or not find:
                continue
            families.append(
                RecordingFamily(
                    lifecycle=op,
                    precondition=check,
                    configure=configure,
                    remove=remove,
                    find=find,
                    describe=_one(members, resource, "list", "read"),
                    update=_one(members, resource, "update"),
                    fetch=_one(members, produced, "read"),
                    members=members,
                )
            )
            break
    return tuple(families)


def recording_path(lifecycle: Lifecycle, commands: Sequence[str]) -> tuple[str, ...] | None:
    """The shortest list of `commands` whose documented successful transitions lead from the
    initial state through at least one transition that produces a file, and back to the initial
    state (start, stop, cancel_delay); None when the documented transitions allow none."""
    start = (lifecycle.initial, False)
    queue: deque[tuple[tuple[str, bool], tuple[str, ...]]] = deque([(start, ())])
    seen = {start}
    while queue:
        (state, produced), path = queue.popleft()
        if produced and state == lifecycle.initial:
            return path
        for transition in lifecycle.transitions:
            if (
                transition.source != state
                or not transition.documented
                or transition.error is not None
                or transition.trigger not in commands
            ):
                continue
            node = (transition.next_state, produced or transition.produces_file)
            if node not in seen:
                seen.add(node)
                queue.append((node, (*path, transition.trigger)))
    return None


def _at(schema: Mapping[str, Any], path: str) -> Mapping[str, Any]:
    node: Any = schema
    for name in path.split("."):
        properties = node.get("properties", {}) if isinstance(node, Mapping) else {}
        node = properties.get(name, {})
    if isinstance(node, Mapping) and node.get("type") == "array":
        node = node.get("items", {})
    return node if isinstance(node, Mapping) else {}


def item_fields(op: Operation) -> frozenset[str]:
    """The fields of one item a read or list effect answers (from the success schema, at the
    effect's `response.item` or `response.items` path)."""
    effect = op.effect
    path = None if effect is None else (effect.items or effect.item)
    if path is None:
        return frozenset()
    properties = _at(op.success_schema, path).get("properties", {})
    return frozenset(properties) if isinstance(properties, Mapping) else frozenset()


def items_of(op: Operation, body: Any) -> list[Mapping[str, Any]]:
    """The items a read or list answer carries in `body` (an empty list when there are none)."""
    effect = op.effect
    path = None if effect is None else (effect.items or effect.item)
    if path is None or not isinstance(body, Mapping):
        return []
    node: Any = body
    for name in path.split("."):
        node = node.get(name) if isinstance(node, Mapping) else None
    if isinstance(node, Mapping):
        return [node]
    return [item for item in node or () if isinstance(item, Mapping)]
