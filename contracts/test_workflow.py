"""The recording workflow: configure, record, find the files, as code that calls Live does.

The family of operations and each one's role come from the spec's resource model and effects
(see acscontract.contracts.workflow), not from a list of names. The workflow runs when every
operation of its family is selected (`--operation all`), against emulators only (it starts
recordings, and brings a stream of its own online through the admin API):

1. the lifecycle's opening command on an app without a configuration fails with the
   precondition's code;
2. the configuration is created, and creating it again is a conflict;
3. it is described (the list or read effect finds it) and updated;
4. the lifecycle is driven through a transition that produces a file and back to its initial
   state (start, stop, cancel_delay);
5. each list effect on the produced resource finds the file within a time window (and nothing in
   a window before it), carrying the configuration's copied properties; the read effect finds it
   by its identifier;
6. the configuration is deleted, and the opening command fails again.

Every answer is also checked against its operation's spec.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from acscontract.contracts.plugin import selection
from acscontract.contracts.strategies import OK
from acscontract.contracts.suite import opening_command, verify
from acscontract.contracts.workflow import (
    item_fields,
    items_of,
    recording_families,
    recording_path,
)
from acscontract.spec import example_parameters

SELECTION = selection()
FAMILIES = [
    f for f in recording_families(SELECTION.operations) if f.covered_by(SELECTION.operations)
]

pytestmark = [
    pytest.mark.acscontract_area("workflow"),
    pytest.mark.mutates_state,
    pytest.mark.emulator_traffic,
    pytest.mark.needs_admin,
]

WORKFLOW = "acscontract-workflow"
"""The app and stream the workflow creates: names no seed uses."""


class Workflow:
    """One run of the workflow on one target: each step's request, checked as it goes."""

    def __init__(self, target, exchanges, family):
        self.target = target
        self.exchanges = exchanges
        self.family = family
        lifecycle = family.lifecycle.lifecycle
        resources = target.resources
        names = (resources.domain, f"{resources.app}-{WORKFLOW}", WORKFLOW)
        self.key = dict(zip(lifecycle.key, names, strict=True))
        self.layout = family.lifecycle.protocol.timestamp_format

    def params(self, op, **extra):
        """The operation's example request, with the workflow's key and `extra` values."""
        names = {p.name for p in op.parameters}
        values = dict(example_parameters(op))
        required = {p.name for p in op.required_parameters}
        for name, value in {**self.key, **extra}.items():
            if name in required or name in extra or (name in values and name in names):
                values[name] = value
        return values

    def call(self, op, expected, params, what):
        response = self.target.call(params, operation=op)
        self.exchanges.record(response)
        verify(
            self.target,
            response,
            op=op,
            accepted={expected},
            valid_request=True,
            what=f"{what}: {op.name}",
        )
        return response

    def command(self, command, expected, what):
        lifecycle_op = self.family.lifecycle
        params = self.params(lifecycle_op, **{lifecycle_op.command_parameter.name: command})
        return self.call(lifecycle_op, expected, params, what)

    def time(self, seconds):
        return datetime.fromtimestamp(seconds, UTC).strftime(self.layout)


def _matches(item, values):
    return all(item.get(k) == v for k, v in values.items() if k in item)


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.lifecycle.name)
def test_recording_workflow(target, exchanges, family):
    flow = Workflow(target, exchanges, family)
    admin = target.admin
    domain, app, stream = flow.key.values()
    lifecycle_op = family.lifecycle
    lifecycle = lifecycle_op.lifecycle
    opening = opening_command(lifecycle_op)
    configured = target.op.product.resources[family.configured].identifiers
    admin.set_stream_online(domain, app, stream, True)
    try:
        # 1. Without a configuration, the opening command fails.
        flow.command(opening, family.precondition.code, "no configuration yet")
        # 2. Configure, then configure again: a conflict.
        configure = flow.params(family.configure)
        config_key = {k: configure[k] for k in configured if k in configure}
        in_force = dict(configure)
        flow.call(family.configure, OK, configure, "configure")
        conflict = family.configure.effect.conflict
        if conflict is not None:
            flow.call(family.configure, conflict, configure, "configure twice")
        # 3. Describe it, and update it.
        if family.describe is not None:
            params = flow.params(family.describe, **config_key)
            answer = flow.call(family.describe, OK, params, "describe")
            found = [i for i in items_of(family.describe, answer.json) if _matches(i, config_key)]
            assert found, f"{family.describe.name} does not list the configuration just made"
        if family.update is not None:
            update = flow.params(family.update)
            flow.call(family.update, OK, update, "update")
            in_force.update(update)
        # 4. Record: through a transition that produces a file, back to the initial state.
        path = recording_path(lifecycle, lifecycle_op.command_parameter.enum)
        assert path, f"the spec documents no way for {lifecycle_op.name} to produce a file"
        started = admin.now()
        for step in path:
            flow.command(step, OK, f"record ({' '.join(path)})")
            if admin.can_advance_clock:
                admin.advance_clock(1)
        assert admin.task_state(domain, app, stream) == lifecycle.initial
        # 5. Find the file by time window (and not before it), then by its identifier.
        produced = target.op.product.resources[family.produced].identifiers
        copied = lifecycle.produces.copy_properties
        record = None
        for find in family.find:
            start, end = find.effect.window
            window = {start: flow.time(started - 60), end: flow.time(admin.now() + 60)}
            answer = flow.call(find, OK, flow.params(find, **window), "find by time window")
            items = [i for i in items_of(find, answer.json) if _matches(i, flow.key)]
            assert len(items) == 1, f"{find.name} finds {len(items)} files in the window"
            for name in copied:
                if name in items[0] and name in in_force:
                    assert str(items[0][name]) == in_force[name], (
                        f"{find.name}: the file's {name} is {items[0][name]!r}; the "
                        f"configuration in force says {in_force[name]!r}"
                    )
            if set(produced) <= item_fields(find):
                record = {k: items[0][k] for k in produced}
            before = {start: flow.time(started - 7200), end: flow.time(started - 3600)}
            answer = flow.call(find, OK, flow.params(find, **before), "a window before it")
            assert not [i for i in items_of(find, answer.json) if _matches(i, flow.key)], (
                f"{find.name} finds a file in a window before the recording"
            )
        if family.fetch is not None:
            assert record is not None, (
                f"no list answer carries {', '.join(produced)} to fetch the file by"
            )
            params = flow.params(family.fetch, **record)
            answer = flow.call(family.fetch, OK, params, "fetch by identifier")
            assert [i for i in items_of(family.fetch, answer.json) if _matches(i, record)], (
                f"{family.fetch.name} does not answer the file {record}"
            )
        # 6. Delete the configuration: the opening command fails again.
        flow.call(family.remove, OK, flow.params(family.remove), "delete the configuration")
        flow.command(opening, family.precondition.code, "configuration deleted")
    finally:
        flow.target.call(flow.params(family.remove), operation=family.remove)
        admin.set_stream_online(domain, app, stream, False)
