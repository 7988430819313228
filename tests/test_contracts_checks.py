"""Each response check catches its violation, and accepts a faithful response."""

from __future__ import annotations

import json

import pytest

from acscontract.client import Tamper
from acscontract.contracts.checks import CHECK_IDS, Observed, checks_for, media_type, outcome_of
from acscontract.contracts.strategies import OK
from acscontract.contracts.targets import TargetOptions, open_target
from acscontract.spec import operation

OP = operation()
CHECKS = checks_for(OP)
COMMAND = OP.command_parameter.name
START = next(t.trigger for t in OP.lifecycle.transitions if t.documented and t.error)
STATE_ERROR = next(t.error for t in OP.lifecycle.transitions if t.documented and t.error)


@pytest.fixture(scope="module")
def target():
    with open_target(OP, TargetOptions()) as opened:
        yield opened


@pytest.fixture(scope="module")
def responses(target):
    """Faithful responses of the emulator: a success and one of each kind of error."""
    stream = target.resources.spare_streams[0]
    out = {"ok": target.call(target.params(START, stream=stream))}
    out["state"] = target.call(target.params(START, stream=stream))
    params = target.params(START, stream=stream)
    del params[COMMAND]
    out["missing"] = target.call(params)
    out["action"] = target.call(target.params(START), action="NoSuchAction")
    out["signature"] = target.call(target.params(START), tamper=Tamper.bad_signature())
    out["denied"] = target.call(target.params(START), credentials=target.deny_credentials[0])
    return out


def observed(response, *, status=None, body=None, content_type=None, text=None):
    headers = dict(response.headers)
    if content_type is not None:
        headers["content-type"] = content_type
    if text is None:
        text = json.dumps(body) if body is not None else response.text
    return Observed(response.status if status is None else status, headers, text)


def ids(violations):
    return {v.check for v in violations}


def test_faithful_responses_pass_every_check(responses):
    assert responses["ok"].status == 200
    assert responses["state"].code == STATE_ERROR
    for name, response in responses.items():
        assert CHECKS.check(response, valid_request=True) == [], name


def test_every_check_id_is_listed_once():
    assert len(CHECK_IDS) == len(set(CHECK_IDS))


def test_a_body_that_is_not_json(responses):
    bad = observed(responses["missing"], text="<html>oops</html>")
    assert ids(CHECKS.check(bad)) >= {"json-body"}


def test_success_body_breaking_its_schema(responses):
    bad = observed(responses["ok"], body={"RequestId": 12})
    found = CHECKS.check(bad)
    assert ids(found) == {"success-schema", "request-id"}
    assert "RequestId" in str(found[0]) or "12" in str(found[0])


def test_error_envelope_missing_a_field(responses):
    body = dict(responses["missing"].json)
    del body["HostId"]
    assert ids(CHECKS.check(observed(responses["missing"], body=body))) == {"error-envelope"}


def test_an_undocumented_code(responses):
    body = {**responses["missing"].json, "Code": "NotAnAcsCode"}
    found = CHECKS.check(observed(responses["missing"], body=body))
    assert ids(found) == {"documented-code"}
    assert "NotAnAcsCode" in found[0].message


def test_status_that_does_not_match_the_code(responses):
    state = responses["state"]
    wrong = next(
        s for s in (400, 403, 404, 409, 500) if s not in OP.documented_statuses(state.code)
    )
    found = CHECKS.check(observed(state, status=wrong))
    assert ids(found) == {"status-matches-code"}
    assert str(wrong) in found[0].message


@pytest.mark.parametrize("value", [None, "", "not-a-request-id"])
def test_missing_or_malformed_request_id(responses, value):
    body = dict(responses["missing"].json)
    if value is None:
        del body["RequestId"]
    else:
        body["RequestId"] = value
    assert "request-id" in ids(CHECKS.check(observed(responses["missing"], body=body)))


@pytest.mark.parametrize(
    ("which", "content_type"),
    [
        ("missing", "text/plain; charset=utf-8"),
        ("missing", "application/json"),
        ("ok", "text/html"),
    ],
)
def test_wrong_content_type(responses, which, content_type):
    found = CHECKS.check(observed(responses[which], content_type=content_type))
    assert ids(found) == {"content-type"}


def test_equivalent_content_type_spellings_are_fine(responses):
    spelled = "Application/JSON; Charset=UTF-8"
    assert CHECKS.check(observed(responses["missing"], content_type=spelled)) == []
    assert media_type(spelled) == ("application/json", {"charset": "utf-8"})


def test_server_error_only_counts_for_valid_requests(responses):
    server = OP.protocol.gateway_errors_in("server")[0]
    body = {**responses["missing"].json, "Code": server.code}
    response = observed(responses["missing"], status=server.http_status, body=body)
    assert CHECKS.check(response) == []
    assert ids(CHECKS.check(response, valid_request=True)) == {"no-server-error"}


def test_expected_outcome(responses):
    found = CHECKS.check(responses["missing"], accepted={OK})
    assert ids(found) == {"expected-outcome"}
    assert OP.check_code("missingParameter") in found[0].message
    assert CHECKS.check(responses["missing"], accepted={OP.check_code("missingParameter")}) == []


def test_outcome_of(responses):
    assert outcome_of(responses["ok"]) == OK
    assert outcome_of(responses["denied"]) in {
        e.code for e in OP.protocol.gateway_errors_in("permission")
    }
    assert outcome_of(Observed(502, {}, "bad gateway")) == "HTTP 502"


def test_the_check_registry_refuses_a_bad_or_repeated_id():
    from acscontract.contracts import checks

    def described(checker, seen):
        """A check."""
        return []

    with pytest.raises(ValueError, match="registered twice"):
        checks._registered(CHECK_IDS[0])(described)
    with pytest.raises(ValueError, match="not kebab-case"):
        checks._registered("Not_Kebab")(described)
    with pytest.raises(ValueError, match="no docstring"):
        checks._registered("a-new-check")(lambda checker, seen: [])
    assert tuple(checks._REGISTRY) == CHECK_IDS  # nothing was added by the refusals
    with pytest.raises(ValueError, match="is not a registered response check"):
        checks.Violation("a-new-check", "message")


def test_only_runs_the_named_checks(responses):
    from acscontract.contracts.checks import OUTCOME_CHECKS, SHAPE_CHECKS

    assert set(CHECK_IDS) == SHAPE_CHECKS | OUTCOME_CHECKS
    assert not SHAPE_CHECKS & OUTCOME_CHECKS
    # A 5xx HTML page to a valid request breaks a shape check and an outcome check.
    bad = observed(responses["missing"], status=502, text="<html>bad gateway</html>")
    everything = ids(CHECKS.check(bad, valid_request=True))
    assert {"json-body", "no-server-error"} <= everything
    assert (
        ids(CHECKS.check(bad, valid_request=True, only=SHAPE_CHECKS)) == everything & SHAPE_CHECKS
    )
    assert ids(CHECKS.check(bad, valid_request=True, only=OUTCOME_CHECKS)) == {"no-server-error"}
    with pytest.raises(ValueError, match="no response check is called"):
        CHECKS.check(bad, only={"no-such-check"})
