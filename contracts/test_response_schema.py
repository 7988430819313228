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
from acscontract.contracts.strategies import (
    invalid_requests,
    oversized_requests,
    sequences,
    valid_requests,
)
from acscontract.contracts.suite import absent_stream, for_all, opening_command, send, verify
from acscontract.spec import operation

pytestmark = [pytest.mark.acscontract_area("response-schema"), pytest.mark.mutates_state]

OP = operation()
CLIENT_ERROR_STATUSES = sorted({e.http_status for e in OP.errors if e.http_status < 500})


def test_every_response_matches_the_spec(target, contract_settings, exchanges):
    """Valid, invalid and oversized requests alike get responses that match the spec."""
    fixed = target.traffic_parameters()
    optional = target.own_emulator
    cases = st.one_of(
        valid_requests(OP, fixed, optional=optional),
        invalid_requests(OP, fixed, optional=optional),
        oversized_requests(OP, fixed, optional=optional),
    )

    @for_all(contract_settings, sequences(cases))
    def check(sequence):
        for case in sequence:
            response = send(target, case, exchanges)
            verify(target, response, valid_request=case.kind == "valid", what=case.describe())

    try:
        check()
    finally:
        if target.is_emulator:
            TargetStream(target).restore()


def _provocations(target):
    """Requests that provoke the operation's own errors, by the code they provoke, and how many
    recordings each may start."""
    command = opening_command(OP)
    first_required = OP.required_parameters[0].name
    absent = absent_stream(target)

    def twice():
        target.call(target.params(command))
        return target.call(target.params(command))

    provocations = {
        OP.check_code("missingParameter"): lambda: target.call(
            {k: v for k, v in target.params(command, stream=absent).items() if k != first_required}
        ),
        OP.check_code("streamOnline"): lambda: target.call(target.params(command, stream=absent)),
    }
    recordings = dict.fromkeys(provocations, 0)
    for transition in OP.lifecycle.transitions:
        if transition.documented and transition.trigger == command and transition.error:
            provocations[transition.error] = twice
            # Both are recording-starting requests: the second is expected to be refused, and
            # its slot then goes back, but it could succeed.
            recordings[transition.error] = 2
    if target.resources.app_without_config:
        code = OP.check_code("recordConfig")
        provocations[code] = lambda: target.call(
            {
                **target.params(command),
                **target.resource_parameters(app=target.resources.app_without_config),
            }
        )
        recordings[code] = 0
    return provocations, recordings


@pytest.mark.starts_recordings
@pytest.mark.parametrize("status", CLIENT_ERROR_STATUSES)
def test_each_documented_client_error_is_well_formed(target, exchanges, status):
    """Provoke each documented 4xx code of the operation and check its response and status."""
    codes = sorted(e.code for e in OP.errors if e.http_status == status)
    provocations, recordings = _provocations(target)
    reachable = [code for code in codes if code in provocations]
    if not reachable:
        pytest.skip(
            f"no request the suite can make provokes HTTP {status} ({', '.join(codes)}) on this "
            "target; pass --app-without-config to provoke the record-configuration error"
        )
    driver = TargetStream(target)
    if any(recordings[code] for code in reachable):
        driver.restore()
    try:
        for code in reachable:
            with target.recordings_for(recordings[code], f"provoking {code}"):
                response = provocations[code]()
            exchanges.record(response)
            outcome = verify(target, response, what=f"provoking {code}")
            assert outcome == code, f"provoking {code} gave {outcome}"
            assert response.status == status, (
                f"{code} came with HTTP {response.status}; the spec says HTTP {status}"
            )
            if recordings[code]:
                driver.restore()
    finally:
        if any(recordings[code] for code in reachable):
            driver.restore()
