"""The lean contracts of every selected operation without a lifecycle.

Per operation, a few requests built from its spec (see acscontract.contracts.cases): one valid
request (the metadata's examples, the account's domain), each required parameter missing once,
and one malformed value where the spec's rules refuse one. Each is sent once per run:

- valid-requests: the valid request gets 200 or one of the operation's own documented errors,
  never a server error;
- invalid-requests: each refused request gets a documented parameter error;
- response-schema: every answer has the shape the spec gives it (a 200 body valid against the
  operation's response schema, the error envelope, documented codes only, the status of each
  code, the content type, a RequestId).

A modelled operation (its spec declares an effect) also gets generated traffic against emulators.

On a real account, the valid request of an operation the spec says writes is sent only within
--max-writes (0 unless you opt in); its refused requests name a domain that does not exist, so
that one wrongly accepted changes nothing. An operation the run's key may not call (a RAM denial)
is skipped, saying so.
"""

from __future__ import annotations

import pytest

from acscontract.contracts.budget import BudgetSpent
from acscontract.contracts.cases import own_outcomes
from acscontract.contracts.checks import OUTCOME_CHECKS, SHAPE_CHECKS
from acscontract.contracts.plugin import selection
from acscontract.contracts.selection import domain_parameter
from acscontract.contracts.strategies import (
    invalid_requests,
    parameter_value,
    sequences,
    valid_requests,
)
from acscontract.contracts.suite import LeanExchanges, denial, for_all, send, verify

SELECTION = selection()
LEAN = SELECTION.lean
MODELLED = SELECTION.modelled


def _ids(op):
    return op.name


@pytest.fixture(scope="session")
def lean(target):
    """The lean requests of the run, each sent at most once."""
    return LeanExchanges(target)


def _judge_denial(target, response):
    reason = denial(target, response)
    if reason is not None:
        pytest.skip(reason)


@pytest.mark.acscontract_area("valid-requests")
@pytest.mark.parametrize("op", LEAN, ids=_ids)
def test_valid_request_is_answered(target, lean, exchanges, op):
    """The spec's example request gets 200 or one of the operation's own documented errors."""
    case = lean.cases(op).valid
    if case is None:
        pytest.skip(lean.cases(op).why)
    response = lean.send(op, case, exchanges)
    _judge_denial(target, response)
    verify(
        target,
        response,
        op=op,
        accepted=case.accepted,
        valid_request=True,
        only=OUTCOME_CHECKS,
        what=f"{op.name} {case.describe()}",
    )


@pytest.mark.acscontract_area("invalid-requests")
@pytest.mark.parametrize("op", LEAN, ids=_ids)
def test_refused_requests_get_parameter_errors(target, lean, exchanges, op):
    """Each required parameter missing, and a malformed value, get a documented parameter
    error."""
    cases = lean.cases(op).invalid
    if not cases:
        pytest.skip("no required parameter, and no value its spec's rules refuse")
    for case in cases:
        response = lean.send(op, case, exchanges)
        _judge_denial(target, response)
        verify(
            target,
            response,
            op=op,
            accepted=case.accepted,
            only=OUTCOME_CHECKS,
            what=f"{op.name} {case.describe()}",
        )


@pytest.mark.acscontract_area("response-schema")
@pytest.mark.parametrize("op", LEAN, ids=_ids)
def test_every_answer_matches_the_spec(target, lean, exchanges, op):
    """Every answer to the operation's lean requests has the shape its spec gives it."""
    checked = 0
    unsent = []
    for case in lean.cases(op).all:
        try:
            response = lean.send(op, case, exchanges)
        except BudgetSpent as exc:
            unsent.append(str(exc))
            continue
        if denial(target, response) is not None:
            continue
        verify(target, response, op=op, only=SHAPE_CHECKS, what=f"{op.name} {case.describe()}")
        checked += 1
    if not checked:
        pytest.skip(unsent[0] if unsent else "the run's key is not allowed the operation")


def _fixed(target, op):
    """The domain of the target, and values that name none of the target's apps and streams for
    the identifiers of the resource the operation acts on (so that generated traffic never
    touches what the other contracts use)."""
    resources = target.resources
    fixed = {}
    domain = domain_parameter(op.product)
    names = {p.name for p in op.parameters}
    if domain in names:
        fixed[domain] = resources.domain
    reserved = {resources.app, resources.app_without_config, *resources.streams} - {None, ""}
    effect = op.effect
    identifiers = op.product.resources[effect.resource].identifiers if effect else ()
    for name in identifiers:
        if name in names and name not in fixed:
            parameter = op.parameter(name)
            fixed[name] = parameter_value(parameter).filter(lambda v: v not in reserved)
    return fixed


@pytest.mark.emulator_traffic(
    "generated requests of a modelled operation would change the account's configuration "
    "(the lean requests cover the real account)"
)
@pytest.mark.acscontract_area("valid-requests")
@pytest.mark.parametrize("op", MODELLED, ids=_ids)
def test_generated_valid_requests(target, contract_settings, exchanges, op):
    """Generated valid requests of a modelled operation get 200 or its own documented errors."""
    accepted = own_outcomes(op)
    cases = sequences(valid_requests(op, _fixed(target, op), optional=True))

    @for_all(contract_settings, cases)
    def check(sequence):
        for case in sequence:
            response = send(target, case, exchanges)
            verify(
                target,
                response,
                op=op,
                accepted=accepted,
                valid_request=True,
                what=f"{op.name} {case.describe()}",
            )

    check()


@pytest.mark.emulator_traffic(
    "generated requests of a modelled operation would change the account's configuration "
    "(the lean requests cover the real account)"
)
@pytest.mark.acscontract_area("invalid-requests")
@pytest.mark.parametrize("op", MODELLED, ids=_ids)
def test_generated_invalid_requests(target, contract_settings, exchanges, op):
    """Generated invalid requests of a modelled operation get the codes the spec allows."""
    cases = sequences(invalid_requests(op, _fixed(target, op), optional=True))

    @for_all(contract_settings, cases)
    def check(sequence):
        for case in sequence:
            response = send(target, case, exchanges)
            verify(
                target,
                response,
                op=op,
                accepted=case.accepted,
                what=f"{op.name} {case.describe()}",
            )

    check()
