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
from acscontract.contracts.strategies import (
    action_errors,
    invalid_requests,
    oversized_requests,
    parameter_errors,
    ram_refusals,
    sequences,
)
from acscontract.contracts.suite import absent_stream, for_all, opening_command, send, verify
from acscontract.spec import operation

pytestmark = [pytest.mark.acscontract_area("invalid-requests"), pytest.mark.mutates_state]

OP = operation()
REQUIRED = [p.name for p in OP.required_parameters]


def test_invalid_requests_are_refused(target, contract_settings, exchanges):
    """Every generated invalid request gets one of the codes the spec allows for it."""
    fixed = target.traffic_parameters()

    cases = sequences(invalid_requests(OP, fixed, optional=target.own_emulator))

    @for_all(contract_settings, cases)
    def check(sequence):
        for case in sequence:
            response = send(target, case, exchanges)
            verify(target, response, accepted=case.accepted, what=case.describe())

    try:
        check()
    finally:
        if target.is_emulator:
            TargetStream(target).restore()


def test_oversized_values_get_a_documented_outcome(target, contract_settings, exchanges):
    """No length limit is published: an oversized value gets any documented outcome but a 5xx."""
    fixed = target.traffic_parameters()

    cases = sequences(
        oversized_requests(OP, fixed, optional=target.own_emulator), max_size=OVERSIZED_SEQUENCE
    )

    @for_all(contract_settings, cases)
    def check(sequence):
        for case in sequence:
            response = send(target, case, exchanges)
            verify(
                target, response, accepted=case.accepted, valid_request=True, what=case.describe()
            )

    try:
        check()
    finally:
        if target.is_emulator:
            TargetStream(target).restore()


@pytest.mark.parametrize("name", REQUIRED)
@pytest.mark.parametrize("empty", [False, True], ids=["absent", "empty"])
def test_each_required_parameter_is_required(target, exchanges, name, empty):
    """Leaving out (or emptying) each required parameter is refused with a parameter error.

    The request names a stream that does not exist: wrongly accepted, it still records nothing.
    """
    params = target.params(opening_command(OP), stream=absent_stream(target))
    if empty:
        params[name] = ""
    else:
        del params[name]
    response = target.call(params)
    exchanges.record(response)
    verify(
        target,
        response,
        accepted=parameter_errors(OP) | ram_refusals(OP, name),
        what=f"{name} {'empty' if empty else 'absent'}",
    )


@pytest.mark.parametrize(
    ("action", "version"),
    [
        (None, OP.product.version),
        (OP.name + "Unknown", OP.product.version),
        (OP.name, "1999-01-01"),
    ],
    ids=["missing-action", "unknown-action", "unknown-version"],
)
def test_unknown_action_or_version_is_refused(target, exchanges, action, version):
    """The gateway refuses an unknown or missing Action and an unknown Version (on a stream that
    does not exist: wrongly accepted, the request still records nothing)."""
    params = target.params(opening_command(OP), stream=absent_stream(target))
    response = target.call(params, action=action, version=version)
    exchanges.record(response)
    verify(target, response, accepted=action_errors(OP), what="Action/Version")
