"""Every response, success or error, has the shape the spec gives it.

Checks: status matches the code as the spec maps them, the error envelope's fields, the content
type, a RequestId string, only documented codes, and the success body's schema. On a real account
generated requests name a stream that does not exist, and provoking the state error (a second
start) takes one recording of the run's budget.
"""

from __future__ import annotations

import pytest
from hypothesis import strategies as st

from acscontract.contracts.lifecycle import TargetStream
from acscontract.contracts.plugin import selection
from acscontract.contracts.strategies import (
    invalid_requests,
    oversized_requests,
    sequences,
    valid_requests,
)
from acscontract.contracts.suite import absent_stream, for_all, opening_command, send, verify

# The operations with a lifecycle among the run's (the reference operation by default).
OPERATIONS = selection().lifecycle

pytestmark = [pytest.mark.acscontract_area("response-schema"), pytest.mark.mutates_state]


def _client_error_statuses(op):
    return sorted({e.http_status for e in op.errors if e.http_status < 500})


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)
def test_every_response_matches_the_spec(target, contract_settings, exchanges, op):
    """Valid, invalid and oversized requests alike get responses that match the spec."""
    fixed = target.traffic_parameters(op)
    optional = target.own_emulator
    cases = st.one_of(
        valid_requests(op, fixed, optional=optional),
        invalid_requests(op, fixed, optional=optional),
        oversized_requests(op, fixed, optional=optional),
    )

    @for_all(contract_settings, sequences(cases))
    def check(sequence):
        for case in sequence:
            response = send(target, case, exchanges)
            verify(
                target, response, op=op, valid_request=case.kind == "valid", what=case.describe()
            )

    try:
        check()
    finally:
        if target.is_emulator:
            TargetStream(target, op=op).restore()


def _provocations(target, op):
    """Requests that provoke the operation's own errors, by the code they provoke, and how many
    recordings each may start."""
    command = opening_command(op)
    first_required = op.required_parameters[0].name
    absent = absent_stream(target)

    def call(params):
        return target.call(params, operation=op)

    def twice():
        call(target.params(command, op=op))
        return call(target.params(command, op=op))

    provocations = {
        op.check_code("missingParameter"): lambda: call(
            {
                k: v
                for k, v in target.params(command, stream=absent, op=op).items()
                if k != first_required
            }
        ),
        op.check_code("streamOnline"): lambda: call(target.params(command, stream=absent, op=op)),
    }
    recordings = dict.fromkeys(provocations, 0)
    for transition in op.lifecycle.transitions:
        if transition.documented and transition.trigger == command and transition.error:
            provocations[transition.error] = twice
            # Both are recording-starting requests: the second is expected to be refused, and
            # its slot then goes back, but it could succeed.
            recordings[transition.error] = 2
    if target.resources.app_without_config:
        code = op.check_code("recordConfig")
        provocations[code] = lambda: call(
            {
                **target.params(command, op=op),
                **target.resource_parameters(app=target.resources.app_without_config, op=op),
            }
        )
        recordings[code] = 0
    return provocations, recordings


@pytest.mark.starts_recordings
@pytest.mark.parametrize(
    ("op", "status"),
    [(op, status) for op in OPERATIONS for status in _client_error_statuses(op)],
    ids=lambda value: str(value) if isinstance(value, int) else value.name,
)
def test_each_documented_client_error_is_well_formed(target, exchanges, op, status):
    """Provoke each documented 4xx code of the operation and check its response and status."""
    codes = sorted(e.code for e in op.errors if e.http_status == status)
    provocations, recordings = _provocations(target, op)
    reachable = [code for code in codes if code in provocations]
    if not reachable:
        pytest.skip(
            f"no request the suite can make provokes HTTP {status} ({', '.join(codes)}) on this "
            "target; pass --app-without-config to provoke the record-configuration error"
        )
    driver = TargetStream(target, op=op)
    if any(recordings[code] for code in reachable):
        driver.restore()
    try:
        for code in reachable:
            with target.recordings_for(recordings[code], f"provoking {code}"):
                response = provocations[code]()
            exchanges.record(response)
            outcome = verify(target, response, op=op, what=f"provoking {code}")
            assert outcome == code, f"provoking {code} gave {outcome}"
            assert response.status == status, (
                f"{code} came with HTTP {response.status}; the spec says HTTP {status}"
            )
            if recordings[code]:
                driver.restore()
    finally:
        if any(recordings[code] for code in reachable):
            driver.restore()
