"""The evaluator: RAM's decision rules, every operator, and the documented open choices."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acscontract.errors import InputError, UsageError
from acscontract.ram import (
    DecisionEffect,
    Evaluator,
    PolicyDocument,
    evaluate,
    load_policy,
    parse,
    parse_context,
)
from acscontract.spec import action_catalog

ROOT = Path(__file__).resolve().parent.parent
ACTION = "live:RealTimeRecordCommand"
ACCOUNT = "1234567890123456"


def arn(domain: str = "live.example.com", account: str = ACCOUNT) -> str:
    (resource_type,) = action_catalog().entries[ACTION.lower()].resource_types
    return resource_type.arn(accountId=account, DomainName=domain)


def policy(*statements: dict[str, Any], name: str = "p.json") -> PolicyDocument:
    doc = parse(json.dumps({"Version": "1", "Statement": list(statements)}), name=name).document
    assert doc is not None
    return doc


def allow(**extra: Any) -> dict[str, Any]:
    body = {"Effect": "Allow", "Action": ACTION, "Resource": arn(), **extra}
    return {k: v for k, v in body.items() if v is not None}


def deny(**extra: Any) -> dict[str, Any]:
    body = {"Effect": "Deny", "Action": ACTION, "Resource": "*", **extra}
    return {k: v for k, v in body.items() if v is not None}


def decide(*statements: dict[str, Any], context: dict[str, str] | None = None) -> DecisionEffect:
    return evaluate([policy(*statements)], ACTION, arn(), context).decision


ALLOW, EXPLICIT, IMPLICIT = (
    DecisionEffect.ALLOW,
    DecisionEffect.EXPLICIT_DENY,
    DecisionEffect.IMPLICIT_DENY,
)


# --- the decision rules ------------------------------------------------------------------------


def test_deny_by_default() -> None:
    decision = evaluate([policy(allow(Resource=arn("other.example.com")))], ACTION, arn())
    assert decision.decision is IMPLICIT
    assert decision.statements == ()
    assert not decision.allowed


def test_a_matching_allow_allows_and_is_named() -> None:
    decision = evaluate([policy(allow(), name="a.json")], ACTION, arn())
    assert decision.decision is ALLOW
    (ref,) = decision.statements
    assert (ref.file, ref.index, ref.pointer, ref.effect, ref.line) == (
        "a.json",
        0,
        "/Statement/0",
        "Allow",
        1,
    )


def test_an_explicit_deny_wins_and_every_matching_deny_is_named() -> None:
    docs = [policy(allow(), name="a.json"), policy(allow(), deny(), deny(), name="d.json")]
    decision = evaluate(docs, ACTION, arn())
    assert decision.decision is EXPLICIT
    assert [(r.file, r.index) for r in decision.statements] == [("d.json", 1), ("d.json", 2)]


def test_actions_match_case_insensitively_and_with_wildcards() -> None:
    assert decide(allow(Action="LIVE:realtimerecordcommand")) is ALLOW
    assert decide(allow(Action="live:RealTime*")) is ALLOW
    assert decide(allow(Action="live:*Record?ommand")) is ALLOW
    assert decide(allow(Action=["live:Describe*", "live:AddLiveDomain"])) is IMPLICIT


def test_not_action_covers_every_other_action() -> None:
    assert decide(allow(Action=None, NotAction="live:Describe*")) is ALLOW
    assert decide(allow(Action=None, NotAction="live:RealTime*")) is IMPLICIT
    # A Deny with NotAction denies everything except the listed actions.
    assert decide(allow(), deny(Action=None, NotAction="live:Describe*")) is EXPLICIT
    assert decide(allow(), deny(Action=None, NotAction=ACTION)) is ALLOW


def test_resources_match_with_wildcards_and_case_sensitively() -> None:
    assert decide(allow(Resource="acs:cdn:*:*:domain/*")) is ALLOW
    assert decide(allow(Resource="acs:cdn:*:1234567890123456:domain/*.example.com")) is ALLOW
    assert decide(allow(Resource="acs:live:*:1234567890123456:domain/*")) is IMPLICIT
    assert decide(allow(Resource=arn("LIVE.example.com"))) is IMPLICIT


def test_not_resource_covers_every_other_resource() -> None:
    assert decide(allow(Resource=None, NotResource=arn("other.example.com"))) is ALLOW
    assert decide(allow(Resource=None, NotResource="acs:cdn:*:*:domain/live.*")) is IMPLICIT
    assert decide(allow(), deny(Resource=None, NotResource=arn())) is ALLOW
    assert decide(allow(), deny(Resource=None, NotResource=arn("other.example.com"))) is EXPLICIT


# --- conditions --------------------------------------------------------------------------------


def cond(operator: str, key: str, values: Any) -> dict[str, Any]:
    return {"Condition": {operator: {key: values}}}


@pytest.mark.parametrize(
    ("operator", "key", "values", "value", "expected"),
    [
        ("StringEquals", "acs:AccessId", "AK1", "AK1", True),
        ("StringEquals", "acs:AccessId", "AK1", "ak1", False),
        ("StringEquals", "acs:AccessId", ["AK1", "AK2"], "AK2", True),
        ("StringNotEquals", "acs:AccessId", ["AK1", "AK2"], "AK2", False),
        ("StringNotEquals", "acs:AccessId", ["AK1", "AK2"], "AK3", True),
        ("StringEqualsIgnoreCase", "acs:SourceVpc", "VPC-Main", "vpc-main", True),
        ("StringNotEqualsIgnoreCase", "acs:SourceVpc", "VPC-Main", "vpc-main", False),
        ("StringLike", "acs:SourceVpc", "vpc-*", "vpc-123", True),
        ("StringLike", "acs:SourceVpc", "vpc-?", "vpc-12", False),
        ("StringLike", "acs:SourceVpc", "VPC-*", "vpc-1", False),
        ("StringNotLike", "acs:SourceVpc", "vpc-*", "vpc-1", False),
        ("StringNotLike", "acs:SourceVpc", "vpc-*", "net-1", True),
        ("NumericEquals", "acs:ResourceTag/n", "10", "10.0", True),
        ("NumericNotEquals", "acs:ResourceTag/n", "10", "10", False),
        ("NumericLessThan", "acs:ResourceTag/n", "10", "9.5", True),
        ("NumericLessThan", "acs:ResourceTag/n", "10", "10", False),
        ("NumericLessThanEquals", "acs:ResourceTag/n", "10", "10", True),
        ("NumericGreaterThan", "acs:ResourceTag/n", "10", "1e2", True),
        ("NumericGreaterThanEquals", "acs:ResourceTag/n", ["50", "10"], "20", True),
        ("DateLessThan", "acs:CurrentTime", "2026-01-01T00:00:00Z", "2025-12-31T23:59:59Z", True),
        (
            "DateLessThan",
            "acs:CurrentTime",
            "2026-01-01T08:00:00+08:00",
            "2026-01-01T00:00:00Z",
            False,
        ),
        (
            "DateEquals",
            "acs:CurrentTime",
            "2026-01-01T08:00:00+08:00",
            "2026-01-01T00:00:00Z",
            True,
        ),
        ("DateNotEquals", "acs:CurrentTime", "2026-01-01", "2026-01-01T00:00:00", False),
        ("DateGreaterThan", "acs:CurrentTime", "2026-01-01", "2026-01-02", True),
        ("DateGreaterThanEquals", "acs:CurrentTime", "2026-01-01", "2025-12-31", False),
        ("DateLessThanEquals", "acs:CurrentTime", "2026-01-01", "2026-01-01", True),
        ("Bool", "acs:SecureTransport", "true", "true", True),
        ("Bool", "acs:SecureTransport", "true", "false", False),
        ("Bool", "acs:SecureTransport", "true", "TRUE", True),
        ("Bool", "acs:SecureTransport", True, "true", True),
        ("IpAddress", "acs:SourceIp", "203.0.113.0/24", "203.0.113.255", True),
        ("IpAddress", "acs:SourceIp", "203.0.113.0/24", "203.0.114.0", False),
        ("IpAddress", "acs:SourceIp", ["198.51.100.7", "203.0.113.0/24"], "198.51.100.7", True),
        ("IpAddress", "acs:SourceIp", "2001:db8::/32", "2001:db8::1", True),
        ("IpAddress", "acs:SourceIp", "2001:db8::/32", "203.0.113.1", False),
        ("IpAddress", "acs:SourceIp", "203.0.113.0/24", "::ffff:203.0.113.9", True),
        ("IpAddress", "acs:SourceIp", "203.0.113.9/24", "203.0.113.1", True),
        ("NotIpAddress", "acs:SourceIp", "203.0.113.0/24", "203.0.113.1", False),
        ("NotIpAddress", "acs:SourceIp", "203.0.113.0/24", "192.0.2.1", True),
    ],
)
def test_operators(operator: str, key: str, values: Any, value: str, expected: bool) -> None:
    decision = decide(allow(**cond(operator, key, values)), context={key: value})
    assert (decision is ALLOW) is expected


def test_keys_and_operators_are_anded() -> None:
    statement = allow(
        Condition={
            "IpAddress": {"acs:SourceIp": "203.0.113.0/24"},
            "Bool": {"acs:SecureTransport": "true"},
            "StringEquals": {"acs:AccessId": "AK1", "acs:SourceVpc": "vpc-1"},
        }
    )
    full = {
        "acs:SourceIp": "203.0.113.5",
        "acs:SecureTransport": "true",
        "acs:AccessId": "AK1",
        "acs:SourceVpc": "vpc-1",
    }
    assert decide(statement, context=full) is ALLOW
    for key in full:
        broken = {**full, key: "203.0.114.1" if key == "acs:SourceIp" else "false"}
        assert decide(statement, context=broken) is IMPLICIT, key


def test_condition_keys_compare_case_insensitively_and_say_so() -> None:
    decision = evaluate(
        [policy(allow(**cond("IpAddress", "acs:SourceIp", "203.0.113.0/24")))],
        ACTION,
        arn(),
        {"ACS:sourceip": "203.0.113.5"},
    )
    assert decision.decision is ALLOW
    assert any(n.startswith("context-key-case:") for n in decision.notes)


# --- the open choices --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "values"),
    [
        ("StringEquals", "x"),
        ("StringEqualsIgnoreCase", "x"),
        ("StringLike", "*"),
        ("NumericLessThan", "10"),
        ("DateLessThan", "2100-01-01"),
        ("Bool", "false"),
        ("IpAddress", "0.0.0.0/0"),
    ],
)
def test_an_absent_key_never_matches_a_positive_operator(operator: str, values: str) -> None:
    decision = evaluate(
        [policy(allow(**cond(operator, "acs:ResourceTag/k", values)))], ACTION, arn()
    )
    assert decision.decision is IMPLICIT
    assert any(n.startswith("absent-key:") for n in decision.notes)


@pytest.mark.parametrize(
    ("operator", "values"),
    [
        ("StringNotEquals", "x"),
        ("StringNotEqualsIgnoreCase", "x"),
        ("StringNotLike", "*"),
        ("NumericNotEquals", "10"),
        ("DateNotEquals", "2100-01-01"),
        ("NotIpAddress", "0.0.0.0/0"),
    ],
)
def test_an_absent_key_matches_a_negated_operator(operator: str, values: str) -> None:
    decision = evaluate(
        [policy(allow(**cond(operator, "acs:ResourceTag/k", values)))], ACTION, arn()
    )
    assert decision.decision is ALLOW
    assert any(n.startswith("absent-key-negated:") for n in decision.notes)


@pytest.mark.parametrize(
    ("operator", "key", "values", "value"),
    [
        ("NumericLessThan", "acs:ResourceTag/n", "10", "ten"),
        ("NumericNotEquals", "acs:ResourceTag/n", "10", "ten"),
        ("DateLessThan", "acs:CurrentTime", "2100-01-01", "yesterday"),
        ("DateNotEquals", "acs:CurrentTime", "2100-01-01", "yesterday"),
        ("Bool", "acs:SecureTransport", "true", "yes"),
        ("IpAddress", "acs:SourceIp", "0.0.0.0/0", "not-an-ip"),
        ("NotIpAddress", "acs:SourceIp", "203.0.113.0/24", "not-an-ip"),
    ],
)
def test_an_unparsable_context_value_matches_no_operator(
    operator: str, key: str, values: str, value: str
) -> None:
    decision = evaluate([policy(allow(**cond(operator, key, values)))], ACTION, arn(), {key: value})
    assert decision.decision is IMPLICIT
    assert any(n.startswith("unparsable-context-value:") for n in decision.notes)


def test_a_guard_rail_on_a_negated_operator_fails_closed_without_the_key() -> None:
    guard = deny(**cond("NotIpAddress", "acs:SourceIp", "203.0.113.0/24"))
    assert decide(allow(), guard) is EXPLICIT
    assert decide(allow(), guard, context={"acs:SourceIp": "203.0.113.9"}) is ALLOW


def test_request_notes_flag_unknown_actions_keys_and_foreign_resources() -> None:
    decision = evaluate(
        [policy(allow())],
        "live:NoSuchAction",
        "acs:oss:*:1:bucket/x",
        {"acs:Invented": "1", "acs:CurrentTime": "soon"},
    )
    kinds = {n.split(":", 1)[0] for n in decision.notes}
    assert {"unknown-action", "unknown-context-key", "unparsable-context-value"} <= kinds
    foreign = evaluate([policy(allow())], ACTION, "acs:live:*:1:domain/x")
    assert any(n.startswith("resource-outside-catalog:") for n in foreign.notes)
    assert evaluate([policy(allow())], ACTION, arn()).notes == ()


def test_an_invalid_policy_is_refused_with_its_first_error() -> None:
    text = json.dumps({"Version": "1", "Statement": [allow(Effect="allow")]})
    broken = parse(text, name="b.json")
    with pytest.raises(InputError, match=r"^b\.json:1:43: \[effect-invalid\] .*lint") as info:
        Evaluator([broken])
    assert "There is" not in str(info.value)
    assert broken.document is not None
    with pytest.raises(InputError, match=r"effect-invalid"):
        Evaluator([broken.document])


def test_context_pairs_parse_and_reject_bad_input() -> None:
    assert parse_context(["acs:SourceIp=203.0.113.7", "acs:ResourceTag/env=a=b"]) == {
        "acs:SourceIp": "203.0.113.7",
        "acs:ResourceTag/env": "a=b",
    }
    with pytest.raises(UsageError, match="not KEY=VALUE"):
        parse_context(["acs:SourceIp"])
    with pytest.raises(UsageError, match="given twice"):
        parse_context(["acs:SourceIp=1.1.1.1", "ACS:SOURCEIP=1.1.1.2"])


def test_decision_json_has_the_documented_shape() -> None:
    data = evaluate([policy(allow())], ACTION, arn(), {"acs:SourceIp": "203.0.113.7"}).to_dict()
    assert list(data) == ["decision", "statements", "action", "resource", "context", "notes"]
    assert data["decision"] == "Allow"
    assert data["statements"][0]["pointer"] == "/Statement/0"
    assert data["context"] == {"acs:SourceIp": "203.0.113.7"}


# --- the example policies ----------------------------------------------------------------------


def example(name: str) -> PolicyDocument:
    return load_policy(ROOT / "ram_policies" / name)


def test_example_recorder_allows_only_its_domains_over_tls() -> None:
    ev = Evaluator([example("recorder-least-privilege.json")])
    tls = {"acs:SecureTransport": "true"}
    assert ev.evaluate(ACTION, arn("live.example.com"), tls).decision is ALLOW
    assert ev.evaluate(ACTION, arn("backup.example.com"), tls).decision is ALLOW
    assert ev.evaluate(ACTION, arn("live.example.com")).decision is IMPLICIT
    assert ev.evaluate(ACTION, arn("other.example.com"), tls).decision is IMPLICIT
    assert ev.evaluate(ACTION, arn(account="9999999999999999"), tls).decision is IMPLICIT
    assert ev.evaluate("live:AddLiveDomain", arn(), tls).decision is IMPLICIT


def test_example_guard_rail_denies_outside_the_office_and_plain_http() -> None:
    ev = Evaluator(
        [example("recorder-least-privilege.json"), example("guardrail-deny-outside-office.json")]
    )
    office = {"acs:SourceIp": "203.0.113.7", "acs:SecureTransport": "true"}
    assert ev.evaluate(ACTION, arn(), office).decision is ALLOW
    outside = ev.evaluate(ACTION, arn(), {**office, "acs:SourceIp": "192.0.2.10"})
    assert outside.decision is EXPLICIT
    assert [r.index for r in outside.statements] == [0]
    http = ev.evaluate(ACTION, arn(), {**office, "acs:SecureTransport": "false"})
    assert http.decision is EXPLICIT
    assert [r.index for r in http.statements] == [1]
    assert ev.evaluate(ACTION, arn(), {"acs:SecureTransport": "true"}).decision is EXPLICIT


def test_example_operations_policy_excludes_the_command() -> None:
    ev = Evaluator([example("operations-read-only.json")])
    assert ev.evaluate("live:DescribeLiveStreamsOnlineList", "*").decision is ALLOW
    assert ev.evaluate(ACTION, arn()).decision is IMPLICIT
    assert ev.evaluate(ACTION, "*").decision is IMPLICIT


# --- properties --------------------------------------------------------------------------------

DOMAINS = ["live.example.com", "backup.example.com", "other.example.net"]
resource_patterns = st.sampled_from(
    [
        "*",
        arn(),
        arn("backup.example.com"),
        "acs:cdn:*:*:domain/*.example.com",
        "acs:cdn:*:1234567890123456:domain/*",
        "acs:live:*:*:*",
    ]
)
conditions = st.sampled_from(
    [
        None,
        {"IpAddress": {"acs:SourceIp": "203.0.113.0/24"}},
        {"NotIpAddress": {"acs:SourceIp": "203.0.113.0/25"}},
        {"Bool": {"acs:SecureTransport": "true"}},
        {"StringLike": {"acs:AccessId": "AK*"}},
    ]
)


@st.composite
def statements(draw: st.DrawFn, effect: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "Effect": effect or draw(st.sampled_from(["Allow", "Deny"])),
        "Action" if draw(st.booleans()) else "NotAction": draw(
            st.sampled_from([ACTION, "live:*", "live:Describe*", "*"])
        ),
        "Resource" if draw(st.booleans()) else "NotResource": draw(
            st.lists(resource_patterns, min_size=1, max_size=2)
        ),
    }
    condition = draw(conditions)
    if condition is not None:
        body["Condition"] = condition
    return body


requests = st.tuples(
    st.sampled_from([ACTION, "live:DescribeLiveStreamState"]),
    st.sampled_from([arn(d) for d in DOMAINS] + [arn(account="9999999999999999")]),
    st.fixed_dictionaries(
        {},
        optional={
            "acs:SourceIp": st.sampled_from(["203.0.113.7", "203.0.113.200", "192.0.2.1"]),
            "acs:SecureTransport": st.sampled_from(["true", "false"]),
            "acs:AccessId": st.sampled_from(["AK1", "XK1"]),
        },
    ),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(statements(), min_size=1, max_size=4), statements(effect="Deny"), requests)
def test_adding_a_deny_never_widens_access(
    body: list[dict[str, Any]], extra_deny: dict[str, Any], request: tuple[str, str, dict[str, str]]
) -> None:
    before = Evaluator([policy(*body)])
    after = Evaluator([policy(*body, extra_deny)])
    if after.is_allowed(*request):
        assert before.is_allowed(*request)


@settings(max_examples=150, deadline=None)
@given(st.lists(statements(), min_size=1, max_size=4), st.randoms(use_true_random=False), requests)
def test_statement_order_does_not_change_the_decision(
    body: list[dict[str, Any]], rng: Any, request: tuple[str, str, dict[str, str]]
) -> None:
    shuffled = list(body)
    rng.shuffle(shuffled)
    first = Evaluator([policy(*body)]).evaluate(*request)
    second = Evaluator([policy(*shuffled)]).evaluate(*request)
    assert first.decision is second.decision
    assert len(first.statements) == len(second.statements)
    split = Evaluator([policy(*body[:1]), policy(*body[1:] or body[:1])])
    assert split.is_allowed(*request) == Evaluator([policy(*body, *body[1:])]).is_allowed(*request)


@settings(max_examples=150, deadline=None)
@given(st.lists(statements(), min_size=1, max_size=4), requests)
def test_the_fast_path_agrees_with_the_explained_decision(
    body: list[dict[str, Any]], request: tuple[str, str, dict[str, str]]
) -> None:
    ev = Evaluator([policy(*body)])
    decision = ev.evaluate(*request)
    assert ev.is_allowed(*request) == decision.allowed
    expected_effect = "Deny" if decision.decision is EXPLICIT else "Allow"
    assert all(r.effect == expected_effect for r in decision.statements)
    assert (decision.decision is IMPLICIT) == (decision.statements == ())
