"""The strategies generate what they promise: valid requests pass the spec's rules, and each
invalid one breaks exactly the rule it is meant to, with the intended code."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from jsonschema import Draft202012Validator

from acscontract.contracts.strategies import (
    OK,
    InvalidKind,
    action_errors,
    invalid_requests,
    methods,
    oversized_requests,
    parameter_errors,
    ram_refusals,
    schemes,
    valid_parameters,
    valid_requests,
)
from acscontract.signing import Scheme
from acscontract.spec import operation, request_schema

OP = operation()
REQUEST_SCHEMA = Draft202012Validator(request_schema(OP))
FIXED = dict(zip(OP.lifecycle.key, ("push.example.com", "live", "stream1"), strict=True))
ACTION_KINDS = {InvalidKind.UNKNOWN_ACTION, InvalidKind.MISSING_ACTION, InvalidKind.UNKNOWN_VERSION}


@settings(max_examples=150)
@given(valid_requests(OP))
def test_valid_requests_pass_the_spec_rules(case):
    params = case.param_map
    assert OP.check_parameters(params) is None
    assert list(REQUEST_SCHEMA.iter_errors(params)) == []
    assert case.action == OP.name
    assert case.version == OP.product.version
    assert case.method in {m.upper() for m in OP.methods}
    assert case.kind == "valid"


@settings(max_examples=50)
@given(valid_parameters(OP, FIXED, optional=False))
def test_fixed_values_are_kept_and_optional_ones_left_out(params):
    assert {k: params[k] for k in FIXED} == FIXED
    assert set(params) == {p.name for p in OP.required_parameters}
    assert OP.check_parameters(params) is None


@settings(max_examples=150)
@given(invalid_requests(OP))
def test_invalid_requests_fail_with_the_intended_code(case):
    assert case.expected is None or case.expected in case.accepted
    if case.kind in ACTION_KINDS:
        # The business parameters are fine: only Action or Version is wrong.
        assert OP.check_parameters(case.param_map) is None
        assert (case.action, case.version) != (OP.name, OP.product.version)
        assert case.accepted == action_errors(OP)
        return
    problem = OP.check_parameters(case.param_map)
    assert problem is not None, case
    assert problem.code == case.expected
    assert problem.parameter == case.parameter
    assert case.accepted == parameter_errors(OP) | ram_refusals(OP, case.parameter)


@settings(max_examples=150)
@given(invalid_requests(OP))
def test_each_kind_breaks_its_own_rule(case):
    params = case.param_map
    if case.kind == InvalidKind.MISSING:
        assert case.parameter not in params
    elif case.kind == InvalidKind.EMPTY:
        assert params[case.parameter] == ""
        assert not case.documented
    elif case.kind == InvalidKind.CONTROL:
        assert any(ord(c) < 0x20 or ord(c) == 0x7F for c in params[case.parameter])
    elif case.kind == InvalidKind.UNKNOWN_ENUM:
        assert params[case.parameter] not in OP.parameter(case.parameter).enum
    elif case.kind == InvalidKind.WRONG_TYPE:
        assert OP.parameter(case.parameter).type == "integer"
    elif case.kind == InvalidKind.MISSING_ACTION:
        assert case.action is None


def test_every_invalid_kind_and_required_parameter_is_generated():
    seen_kinds: set[str] = set()
    seen_missing: set[str] = set()

    @settings(max_examples=500, database=None, derandomize=True)
    @given(invalid_requests(OP))
    def collect(case):
        seen_kinds.add(case.kind)
        if case.kind == InvalidKind.MISSING:
            seen_missing.add(case.parameter)

    collect()
    assert seen_kinds == {
        InvalidKind.MISSING,
        InvalidKind.EMPTY,
        InvalidKind.UNKNOWN_ENUM,
        InvalidKind.CONTROL,
        InvalidKind.WRONG_TYPE,
        InvalidKind.UNKNOWN_ACTION,
        InvalidKind.MISSING_ACTION,
        InvalidKind.UNKNOWN_VERSION,
    }
    assert seen_missing == {p.name for p in OP.required_parameters}


@settings(max_examples=50)
@given(oversized_requests(OP, FIXED))
def test_oversized_values_are_long_and_otherwise_valid(case):
    # No length limit is published, so the spec's rules accept them; any documented outcome does.
    assert OP.check_parameters(case.param_map) is None
    assert len(case.param_map[case.parameter]) > 1024
    assert OK in case.accepted
    assert not case.documented
    assert all(OP.status_of(code) < 500 for code in case.accepted - {OK})


@pytest.mark.parametrize("strategy", [methods, schemes])
def test_methods_and_schemes_come_from_the_spec(strategy):
    @settings(max_examples=30, database=None)
    @given(strategy(OP))
    def collect(value):
        seen.add(value)

    seen: set[object] = set()
    collect()
    if strategy is methods:
        assert seen == {m.upper() for m in OP.methods}
    else:
        assert seen == {Scheme(m.id) for m in OP.protocol.signature_methods}


def test_only_the_ram_resource_parameter_may_also_get_a_denial():
    """A key whose policies scope the domain is denied a request that names another domain,
    before the operation checks it; other parameters get only parameter errors."""
    named = {p for r in OP.ram.resource_types for p in r.placeholders}
    permission = {e.code for e in OP.protocol.gateway_errors_in("permission")}
    for parameter in OP.parameters:
        expected = permission if parameter.name in named else set()
        assert ram_refusals(OP, parameter.name) == expected
    assert ram_refusals(OP, None) == set()
    assert named & {p.name for p in OP.parameters}  # the ARN names a parameter
