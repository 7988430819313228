"""`ram diff`: exactly what NEW allows that OLD did not, with concrete witness requests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from acscontract.ram import (
    DecisionEffect,
    Evaluator,
    PolicyDocument,
    diff,
    load_policy,
    parse,
)
from acscontract.spec import action_catalog

ROOT = Path(__file__).resolve().parent.parent
ACTION = "live:RealTimeRecordCommand"
ACCOUNT = "1234567890123456"
TEMPLATE = action_catalog().entries[ACTION.lower()].resource_types[0]


def arn(domain: str = "live.example.com", account: str = ACCOUNT) -> str:
    return TEMPLATE.arn(accountId=account, DomainName=domain)


def policy(*statements: dict[str, Any], name: str = "p.json") -> PolicyDocument:
    doc = parse(json.dumps({"Version": "1", "Statement": list(statements)}), name=name).document
    assert doc is not None
    return doc


def allow(resource: Any = None, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": ACTION, "Resource": resource or arn(), **extra}


def deny(resource: Any = "*", **extra: Any) -> dict[str, Any]:
    body = {"Effect": "Deny", "Action": ACTION, "Resource": resource, **extra}
    return {k: v for k, v in body.items() if v is not None}


def assert_witnesses_hold(old: list[PolicyDocument], new: list[PolicyDocument]) -> None:
    result = diff(old, new)
    old_ev, new_ev = Evaluator(old), Evaluator(new)
    for d in result.added:
        assert d.verified
        assert new_ev.is_allowed(d.action, d.resource, d.context)
        assert not old_ev.is_allowed(d.action, d.resource, d.context)
    for d in result.removed:
        assert old_ev.is_allowed(d.action, d.resource, d.context)
        assert not new_ev.is_allowed(d.action, d.resource, d.context)


def test_identical_policies_differ_in_nothing() -> None:
    p = policy(allow(Condition={"IpAddress": {"acs:SourceIp": "203.0.113.0/24"}}), deny())
    result = diff(p, p)
    assert not result.grants_new_access
    assert result.added == ()
    assert result.removed == ()
    assert result.actions == (ACTION,)


def test_a_broader_resource_is_new_access_with_a_concrete_witness() -> None:
    old = policy(allow(arn("live.example.com")), name="old.json")
    new = policy(allow("acs:cdn:*:1234567890123456:domain/*"), name="new.json")
    result = diff(old, new)
    assert result.grants_new_access
    (d,) = result.added
    assert d.action == ACTION
    assert d.resource.startswith("acs:cdn:*:1234567890123456:domain/")
    assert d.resource != arn("live.example.com")
    assert d.context == {}
    assert d.other_decision is DecisionEffect.IMPLICIT_DENY
    assert [(r.file, r.index) for r in d.granted_by] == [("new.json", 0)]
    assert "No statement of OLD allows" in d.explanation
    assert_witnesses_hold([old], [new])
    # The reverse direction is a reduction, reported as removed and not as new access.
    back = diff(new, old)
    assert not back.grants_new_access
    assert len(back.removed) == 1


def test_any_account_is_new_access_beyond_one_account() -> None:
    old = policy(allow("acs:cdn:*:1234567890123456:domain/*"))
    new = policy(allow("acs:cdn:*:*:domain/*"))
    (d,) = diff(old, new).added
    assert ":1234567890123456:" not in d.resource
    assert_witnesses_hold([old], [new])


def test_resources_outside_the_actions_arn_space_are_not_access() -> None:
    old = policy(allow(arn()))
    new = policy(allow([arn(), "acs:live:*:*:domain/*", "acs:oss:*:*:*"]))
    assert not diff(old, new).grants_new_access


def test_an_explicit_deny_in_new_cancels_its_broader_allow() -> None:
    old = policy(allow(arn("live.example.com")))
    new = policy(
        allow("acs:cdn:*:1234567890123456:domain/*"),
        deny(Resource=None, NotResource=arn("live.example.com")),
    )
    assert not diff(old, new).grants_new_access


def test_not_resource_allows_are_complements() -> None:
    old = policy(allow("acs:cdn:*:*:domain/*"))
    new = policy(
        {"Effect": "Allow", "Action": ACTION, "NotResource": arn("secret.example.com")},
    )
    assert not diff(old, new).grants_new_access
    (removed,) = diff(old, new).removed
    assert removed.resource == arn("secret.example.com")


def test_a_removed_deny_is_new_access_and_names_the_old_deny() -> None:
    old = policy(allow("acs:cdn:*:*:domain/*"), deny(arn("secret.example.com")), name="old.json")
    new = policy(allow("acs:cdn:*:*:domain/*"), name="new.json")
    (d,) = diff(old, new).added
    assert d.resource == arn("secret.example.com")
    assert d.other_decision is DecisionEffect.EXPLICIT_DENY
    assert [(r.file, r.index) for r in d.other_statements] == [("old.json", 1)]
    assert "denies that request explicitly" in d.explanation


def test_wider_actions_only_matter_for_catalogued_actions() -> None:
    old = policy(allow(arn()))
    new = policy(allow(arn(), Action="live:*"))
    assert not diff(old, new).grants_new_access
    new_not = policy({"Effect": "Allow", "NotAction": "live:Describe*", "Resource": arn()})
    assert not diff(old, new_not).grants_new_access
    old_describe = policy(allow(arn(), Action="live:Describe*"))
    assert diff(old_describe, new).grants_new_access


def test_a_dropped_condition_is_new_access_and_explained() -> None:
    old = policy(allow(Condition={"IpAddress": {"acs:SourceIp": "203.0.113.0/24"}}))
    new = policy(allow())
    (d,) = diff(old, new).added
    assert d.resource == arn()
    assert "203.0.113.0/24" in d.explanation
    assert "only under conditions" in d.explanation
    assert_witnesses_hold([old], [new])


def test_explanations_write_condition_values_as_the_policy_does() -> None:
    """A Bool value is `true`, a date ISO-8601, as in the policy: not Python's `True` or
    `2030-01-01 00:00:00+00:00`."""
    old = policy(
        allow(
            Condition={
                "Bool": {"acs:SecureTransport": "true"},
                "DateLessThan": {"acs:CurrentTime": "2030-01-01T00:00:00Z"},
            }
        )
    )
    new = policy(allow())
    (d,) = diff(old, new).added
    assert "Bool acs:SecureTransport [true]" in d.explanation
    assert "DateLessThan acs:CurrentTime [2030-01-01T00:00:00+00:00]" in d.explanation
    assert "True" not in d.explanation
    assert_witnesses_hold([old], [new])


def test_an_added_condition_is_not_new_access() -> None:
    old = policy(allow())
    new = policy(allow(Condition={"Bool": {"acs:SecureTransport": "true"}}))
    result = diff(old, new)
    assert not result.grants_new_access
    assert len(result.removed) == 1
    assert any("syntactically" in n for n in result.notes)


def test_a_wider_address_range_is_new_access_from_an_address_outside_the_old_one() -> None:
    old = policy(allow(Condition={"IpAddress": {"acs:SourceIp": "203.0.113.0/25"}}))
    new = policy(allow(Condition={"IpAddress": {"acs:SourceIp": "203.0.113.0/24"}}))
    (d,) = diff(old, new).added
    ip = d.context["acs:SourceIp"]
    assert ip.startswith("203.0.113.")
    assert int(ip.rsplit(".", 1)[1]) >= 128
    assert d.assumed == ("IpAddress acs:SourceIp [203.0.113.0/24]",)
    assert_witnesses_hold([old], [new])
    assert not diff(new, old).grants_new_access


def test_the_same_guard_rail_on_both_sides_adds_nothing() -> None:
    guard = deny(Condition={"NotIpAddress": {"acs:SourceIp": ["203.0.113.0/24"]}})
    old = policy(allow(arn("live.example.com")), guard)
    new = policy(allow([arn("live.example.com"), arn("backup.example.com")]), guard)
    (d,) = diff(old, new).added
    assert d.resource == arn("backup.example.com")
    assert d.context["acs:SourceIp"].startswith("203.0.113.")
    assert_witnesses_hold([old], [new])
    wider = diff(new, policy(allow("acs:cdn:*:*:domain/*"), guard))
    assert wider.grants_new_access
    assert wider.removed == ()


def test_dropping_a_guard_rail_is_new_access() -> None:
    guard = deny(Condition={"NotIpAddress": {"acs:SourceIp": ["203.0.113.0/24"]}})
    old = policy(allow(), guard)
    new = policy(allow())
    (d,) = diff(old, new).added
    assert d.other_decision is DecisionEffect.EXPLICIT_DENY
    assert_witnesses_hold([old], [new])


def test_policy_sets_are_compared_as_attached_together() -> None:
    recorder = load_policy(ROOT / "ram_policies" / "recorder-least-privilege.json")
    guard = load_policy(ROOT / "ram_policies" / "guardrail-deny-outside-office.json")
    ops = load_policy(ROOT / "ram_policies" / "operations-read-only.json")
    assert not diff([recorder], [recorder, guard]).grants_new_access
    assert diff([recorder, guard], [recorder]).grants_new_access
    assert not diff([ops], [ops, guard]).grants_new_access
    assert diff([ops], [recorder]).grants_new_access


def test_diff_json_has_a_stable_shape() -> None:
    data = diff(policy(allow()), policy(allow("acs:cdn:*:*:domain/*"))).to_dict()
    assert list(data) == ["old", "new", "actions", "grants_new_access", "added", "removed", "notes"]
    assert data["grants_new_access"] is True
    added = data["added"][0]
    assert set(added) == {
        "action",
        "resource",
        "context",
        "granted_by",
        "other_decision",
        "other_statements",
        "assumed_conditions",
        "explanation",
        "verified",
    }


# --- soundness against brute force -------------------------------------------------------------

resource_patterns = st.sampled_from(
    [
        "*",
        arn(),
        arn("backup.example.com"),
        "acs:cdn:*:*:domain/*.example.com",
        "acs:cdn:*:1234567890123456:domain/*",
        "acs:cdn:*:*:domain/live.*",
    ]
)
conditions = st.sampled_from(
    [
        None,
        {"IpAddress": {"acs:SourceIp": "203.0.113.0/24"}},
        {"IpAddress": {"acs:SourceIp": "203.0.113.0/25"}},
        {"NotIpAddress": {"acs:SourceIp": "203.0.113.0/24"}},
        {"Bool": {"acs:SecureTransport": "true"}},
    ]
)


@st.composite
def statements(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {
        "Effect": draw(st.sampled_from(["Allow", "Allow", "Deny"])),
        "Action": draw(st.sampled_from([ACTION, "live:*", "live:Describe*"])),
        "Resource" if draw(st.integers(0, 3)) else "NotResource": draw(
            st.lists(resource_patterns, min_size=1, max_size=2)
        ),
    }
    condition = draw(conditions)
    if condition is not None:
        body["Condition"] = condition
    return body


REQUESTS = [
    (ACTION, resource, context)
    for resource in [
        arn(),
        arn("backup.example.com"),
        arn("live.example.net"),
        arn(account="9999999999999999"),
        arn("x.example.com", account="9999999999999999"),
    ]
    for context in [
        {},
        {"acs:SourceIp": "203.0.113.7"},
        {"acs:SourceIp": "203.0.113.200", "acs:SecureTransport": "true"},
        {"acs:SourceIp": "192.0.2.1", "acs:SecureTransport": "true"},
        {"acs:SecureTransport": "true"},
    ]
]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(statements(), min_size=1, max_size=3),
    st.lists(statements(), min_size=1, max_size=3),
)
def test_diff_finds_every_sampled_new_access_and_only_real_ones(
    old_body: list[dict[str, Any]], new_body: list[dict[str, Any]]
) -> None:
    old, new = policy(*old_body, name="old.json"), policy(*new_body, name="new.json")
    result = diff(old, new)
    old_ev, new_ev = Evaluator([old]), Evaluator([new])
    sampled_new_access = [
        r for r in REQUESTS if new_ev.is_allowed(*r) and not old_ev.is_allowed(*r)
    ]
    if sampled_new_access:
        assert result.grants_new_access
    for d in result.added:
        if d.verified:
            assert new_ev.is_allowed(d.action, d.resource, d.context)
            assert not old_ev.is_allowed(d.action, d.resource, d.context)
