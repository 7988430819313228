"""Valid requests are accepted: 200, or a documented state error the stream's state explains.

hypothesis generates valid parameter sets, both HTTP methods and both signature versions. The
lifecycle model (see acscontract.contracts.lifecycle) says which outcomes the stream's state
allows. Generated commands on the named stream run against emulators only: on a real account
each start would be a billable recording. There the unknown-stream property sends the same
generated requests to a stream that does not exist.
"""

from __future__ import annotations

import pytest

from acscontract.contracts.lifecycle import LifecycleModel, TargetStream
from acscontract.contracts.plugin import selection
from acscontract.contracts.strategies import sequences, valid_requests
from acscontract.contracts.suite import absent_stream, commands, for_all, send, verify

# The operations with a lifecycle among the run's (the reference operation by default).
OPERATIONS = selection().lifecycle

pytestmark = [
    pytest.mark.acscontract_area("valid-requests"),
    pytest.mark.mutates_state,
    pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name),
]


@pytest.mark.emulator_traffic
def test_valid_requests_are_accepted(target, contract_settings, exchanges, op):
    """Every valid request gets 200 or the state error the lifecycle allows."""
    driver = TargetStream(target, op=op)
    model = LifecycleModel(op, driver.state())
    fixed = target.resource_parameters(op=op)
    command = op.command_parameter.name

    @for_all(contract_settings, sequences(valid_requests(op, fixed, optional=target.own_emulator)))
    def check(sequence):
        known = driver.state()
        if known is not None:
            model.possible = frozenset({known})
        for case in sequence:
            response = send(target, case, exchanges)
            outcome = verify(target, response, op=op, valid_request=True, what=case.describe())
            judgement = model.observe(case.param_map[command], outcome)
            assert judgement.acceptable, f"{case.describe()}: {judgement.describe()}"

    try:
        check()
    finally:
        driver.restore()


def test_unknown_stream_is_refused(target, contract_settings, exchanges, op):
    """A stream the domain does not have gets the stream-online error, whatever the command."""
    code = op.check_code("streamOnline")
    fixed = target.resource_parameters(absent_stream(target), op=op)
    cases = sequences(valid_requests(op, fixed, optional=target.own_emulator))

    @for_all(contract_settings, cases)
    def check(sequence):
        for case in sequence:
            response = send(target, case, exchanges)
            verify(
                target,
                response,
                op=op,
                accepted={code},
                valid_request=True,
                what="unknown stream",
            )

    check()


def test_offline_stream_is_refused(target, exchanges, op):
    """Every command on an offline stream gets the stream-online error (or, where the spec
    leaves it open, what the lifecycle allows)."""
    if not target.resources.stream_offline:
        pytest.skip("needs --stream-offline: a stream of the app that is not online")
    model = LifecycleModel(op)
    model.offline = True
    for command in commands(op):
        params = target.params(command, stream=target.resources.stream_offline, op=op)
        response = target.call(params, operation=op)
        exchanges.record(response)
        outcome = verify(target, response, op=op, valid_request=True, what=f"{command} offline")
        judgement = model.observe(command, outcome)
        assert judgement.acceptable, f"offline stream: {judgement.describe()}"


def test_app_without_record_config_is_refused(target, exchanges, op):
    """Every command on an app without a record configuration gets the record-config error."""
    if not target.resources.app_without_config:
        pytest.skip("needs --app-without-config: an app of the domain with no record config")
    code = op.check_code("recordConfig")
    for command in commands(op):
        params = {
            **target.params(command, op=op),
            **target.resource_parameters(app=target.resources.app_without_config, op=op),
        }
        response = target.call(params, operation=op)
        exchanges.record(response)
        verify(
            target,
            response,
            op=op,
            accepted={code},
            valid_request=True,
            what=f"{command} no config",
        )
