"""Invalid requests are refused with the documented code.

Each required parameter missing or empty; malformed values (an unknown command, control
characters, wrong types); oversized values (no limit is published, so any documented outcome is
accepted); an unknown or missing Action, an unknown Version. On a real account the generated
requests name a stream that does not exist, so none of them can start a recording.
"""

from __future__ import annotations

import pytest

from acscontract.contracts.lifecycle import TargetStream
from acscontract.contracts.plan import OVERSIZED_SEQUENCE
from acscontract.contracts.plugin import selection
from acscontract.contracts.strategies import (
    action_errors,
    invalid_requests,
    oversized_requests,
    parameter_errors,
    ram_refusals,
    sequences,
)
from acscontract.contracts.suite import absent_stream, for_all, opening_command, send, verify

# The operations with a lifecycle among the run's (the reference operation by default).
OPERATIONS = selection().lifecycle

pytestmark = [pytest.mark.acscontract_area("invalid-requests"), pytest.mark.mutates_state]

each_operation = pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)


@each_operation
def test_invalid_requests_are_refused(target, contract_settings, exchanges, op):
    """Every generated invalid request gets one of the codes the spec allows for it."""
    fixed = target.traffic_parameters(op)

    cases = sequences(invalid_requests(op, fixed, optional=target.own_emulator))

    @for_all(contract_settings, cases)
    def check(sequence):
        for case in sequence:
            response = send(target, case, exchanges)
            verify(target, response, op=op, accepted=case.accepted, what=case.describe())

    try:
        check()
    finally:
        if target.is_emulator:
            TargetStream(target, op=op).restore()


@each_operation
def test_oversized_values_get_a_documented_outcome(target, contract_settings, exchanges, op):
    """No length limit is published: an oversized value gets any documented outcome but a 5xx."""
    fixed = target.traffic_parameters(op)

    cases = sequences(
        oversized_requests(op, fixed, optional=target.own_emulator), max_size=OVERSIZED_SEQUENCE
    )

    @for_all(contract_settings, cases)
    def check(sequence):
        for case in sequence:
            response = send(target, case, exchanges)
            verify(
                target,
                response,
                op=op,
                accepted=case.accepted,
                valid_request=True,
                what=case.describe(),
            )

    try:
        check()
    finally:
        if target.is_emulator:
            TargetStream(target, op=op).restore()


@pytest.mark.parametrize(
    ("op", "name"),
    [(op, p.name) for op in OPERATIONS for p in op.required_parameters],
    ids=lambda value: value if isinstance(value, str) else value.name,
)
@pytest.mark.parametrize("empty", [False, True], ids=["absent", "empty"])
def test_each_required_parameter_is_required(target, exchanges, op, name, empty):
    """Leaving out (or emptying) each required parameter is refused with a parameter error.

    The request names a stream that does not exist: wrongly accepted, it still records nothing.
    """
    params = target.params(opening_command(op), stream=absent_stream(target), op=op)
    if empty:
        params[name] = ""
    else:
        del params[name]
    response = target.call(params, operation=op)
    exchanges.record(response)
    verify(
        target,
        response,
        op=op,
        accepted=parameter_errors(op) | ram_refusals(op, name),
        what=f"{name} {'empty' if empty else 'absent'}",
    )


@pytest.mark.parametrize(
    ("op", "action", "version"),
    [
        case
        for op in OPERATIONS
        for case in (
            (op, None, op.product.version),
            (op, op.name + "Unknown", op.product.version),
            (op, op.name, "1999-01-01"),
        )
    ],
    ids=[
        f"{op.name}-{kind}"
        for op in OPERATIONS
        for kind in ("missing-action", "unknown-action", "unknown-version")
    ],
)
def test_unknown_action_or_version_is_refused(target, exchanges, op, action, version):
    """The gateway refuses an unknown or missing Action and an unknown Version (on a stream that
    does not exist: wrongly accepted, the request still records nothing)."""
    params = target.params(opening_command(op), stream=absent_stream(target), op=op)
    response = target.call(params, action=action, version=version, operation=op)
    exchanges.record(response)
    verify(target, response, op=op, accepted=action_errors(op), what="Action/Version")
