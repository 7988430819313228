"""The RAM policy linter: every check fires on its bad case and stays quiet on its good one."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acscontract._resources import bundled_path
from acscontract.ram import (
    GRAMMAR_CHECKS,
    CheckRegistry,
    Finding,
    Linter,
    LintResult,
    PolicyKind,
    Severity,
    default_registry,
    includes,
    lint,
    matches,
    parse,
)
from acscontract.ram._baseline import fingerprint
from acscontract.ram._lint import rule
from acscontract.ram._parser import SourceMap
from acscontract.ram._positions import PositionIndex, find_offset, line_column
from acscontract.spec import action_catalog

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 6, 1, tzinfo=UTC)
ACCOUNT = "1234567890123456"
ENTRY = action_catalog().entry("live:RealTimeRecordCommand")
assert ENTRY is not None
ACTION = ENTRY.action
TEMPLATE = ENTRY.resource_types[0]


def arn(domain: str = "live.example.com", account: str = ACCOUNT) -> str:
    return TEMPLATE.arn(accountId=account, DomainName=domain)


def statement(
    effect: str = "Allow",
    action: Any = ACTION,
    resource: Any = None,
    condition: Any = None,
    **extra: Any,
) -> dict[str, Any]:
    st_: dict[str, Any] = {"Effect": effect}
    if action is not None:
        st_["Action"] = action
    st_["Resource"] = arn() if resource is None else resource
    if condition is not None:
        st_["Condition"] = condition
    st_.update(extra)
    return {k: v for k, v in st_.items() if v is not ...}


def policy(*statements: dict[str, Any], version: Any = "1") -> str:
    return json.dumps({"Version": version, "Statement": list(statements)}, indent=2)


TLS = {"Bool": {"acs:SecureTransport": "true"}}
GOOD = policy(statement(condition=TLS))


def run(source: str | bytes, kind: str = "identity") -> LintResult:
    return lint(source, name="policy.json", kind=kind, now=NOW)


def ids(source: str | bytes, kind: str = "identity") -> set[str]:
    return {f.check for f in run(source, kind)}


def only(result: LintResult, check: str) -> list[Finding]:
    return [f for f in result.findings if f.check == check]


# (check id, bad policy, good policy, kind). Each bad policy must raise the check; each good one
# must not.
CASES: list[tuple[str, str | bytes, str | bytes, str]] = [
    # What the parser and the grammar module report, one check id each.
    ("invalid-encoding", b'{"Version": "1\xff"}', GOOD, "identity"),
    ("byte-order-mark", b"\xef\xbb\xbf" + GOOD.encode(), GOOD, "identity"),
    ("empty-document", "  \n", GOOD, "identity"),
    ("invalid-json", '{"Version": "1",', GOOD, "identity"),
    (
        "duplicate-key",
        GOOD.replace('"Version": "1",', '"Version": "1", "Version": "1",'),
        GOOD,
        "identity",
    ),
    ("value-type", policy(statement(action=5)), GOOD, "identity"),
    ("value-empty", policy(statement(action=[])), GOOD, "identity"),
    (
        "value-unquoted",
        policy(statement(condition={"Bool": {"acs:SecureTransport": True}})),
        GOOD,
        "identity",
    ),
    ("version-invalid", policy(statement(condition=TLS), version="2012-10-17"), GOOD, "identity"),
    ("statement-missing", '{"Version": "1"}', GOOD, "identity"),
    ("unknown-element", policy(statement(condition=TLS, Effects="Allow")), GOOD, "identity"),
    ("sid-undocumented", policy(statement(condition=TLS, Sid="Recorder")), GOOD, "identity"),
    ("effect-invalid", policy(statement(effect="allow", condition=TLS)), GOOD, "identity"),
    ("action-and-notaction", policy(statement(NotAction="live:Describe*")), GOOD, "identity"),
    ("action-missing", policy(statement(action=None)), GOOD, "identity"),
    (
        "resource-and-notresource",
        policy(statement(NotResource=arn("x.example.com"))),
        GOOD,
        "identity",
    ),
    (
        "resource-missing",
        json.dumps({"Version": "1", "Statement": [{"Effect": "Allow", "Action": ACTION}]}),
        GOOD,
        "identity",
    ),
    (
        "principal-not-allowed",
        policy(statement(Principal={"RAM": ["acs:ram::" + ACCOUNT + ":root"]})),
        GOOD,
        "identity",
    ),
    (
        "principal-missing",
        policy(statement(action="sts:AssumeRole", resource=...)),
        policy(
            statement(
                action="sts:AssumeRole", resource=..., Principal={"Service": ["ecs.aliyuncs.com"]}
            )
        ),
        "trust",
    ),
    (
        "condition-shape",
        policy(statement(condition={"Bool": {"acs:SecureTransport": ["true", "false"]}})),
        GOOD,
        "identity",
    ),
    (
        "condition-operator-unknown",
        policy(statement(condition={"StringEqualz": {"acs:SourceVpc": "vpc-1"}})),
        GOOD,
        "identity",
    ),
    (
        "condition-value-invalid",
        policy(statement(condition={"IpAddress": {"acs:SourceIp": "not-an-ip"}})),
        GOOD,
        "identity",
    ),
    (
        "policy-too-large",
        policy(*[statement(resource=[arn(f"d{i:04}.example.com") for i in range(120)])]),
        GOOD,
        "identity",
    ),
    # Condition checks.
    (
        "aws-only-operator",
        policy(statement(condition={"StringEqualsIfExists": {"acs:SourceVpc": "vpc-1"}})),
        policy(statement(condition={"StringEquals": {"acs:SourceVpc": "vpc-1"}})),
        "identity",
    ),
    (
        "condition-key-unknown",
        policy(statement(condition={"IpAddress": {"acs:SrcIp": "203.0.113.0/24"}})),
        policy(statement(condition={"IpAddress": {"acs:sourceip": "203.0.113.0/24"}})),
        "identity",
    ),
    (
        "condition-type-mismatch",
        policy(statement(condition={"NumericEquals": {"acs:SourceIp": "1"}})),
        policy(statement(condition={"IpAddress": {"acs:SourceIp": "203.0.113.0/24"}})),
        "identity",
    ),
    (
        "source-ip-private",
        policy(statement(condition={"IpAddress": {"acs:SourceIp": ["192.168.1.0/24"]}})),
        policy(statement(condition={"IpAddress": {"acs:SourceIp": ["0.0.0.0/0"]}})),
        "identity",
    ),
    (
        "time-window-expired",
        policy(statement(condition={"DateLessThan": {"acs:CurrentTime": "2026-01-01T00:00:00Z"}})),
        policy(statement(condition={"DateLessThan": {"acs:CurrentTime": "2027-01-01T00:00:00Z"}})),
        "identity",
    ),
    (
        "condition-contradiction",
        policy(
            statement(
                condition={
                    "DateGreaterThan": {"acs:CurrentTime": "2027-06-01T00:00:00Z"},
                    "DateLessThan": {"acs:CurrentTime": "2027-01-01T00:00:00Z"},
                }
            )
        ),
        policy(
            statement(
                condition={
                    "DateGreaterThan": {"acs:CurrentTime": "2026-01-01T00:00:00Z"},
                    "DateLessThan": {"acs:CurrentTime": "2027-01-01T00:00:00Z"},
                }
            )
        ),
        "identity",
    ),
    # Resource checks.
    ("arn-malformed", policy(statement(resource="arn:aws:s3:::bucket")), GOOD, "identity"),
    ("arn-account-invalid", policy(statement(resource=arn(account="12345"))), GOOD, "identity"),
    ("resource-placeholder", policy(statement(resource=TEMPLATE.arn_template)), GOOD, "identity"),
    (
        "resource-service-mismatch",
        policy(statement(resource=arn().replace(":cdn:", ":live:"))),
        GOOD,
        "identity",
    ),
    (
        "resource-shape-mismatch",
        policy(statement(resource=arn("live.example.com/app/stream"))),
        GOOD,
        "identity",
    ),
    (
        "resource-wildcard-reach",
        policy(statement(resource=arn("*example.com"), condition=TLS)),
        policy(statement(resource=[arn("*.example.com"), arn("example.com")], condition=TLS)),
        "identity",
    ),
    # Action checks.
    ("action-unknown", policy(statement(action="live:RealTimeRecordComand")), GOOD, "identity"),
    (
        "action-service-unknown",
        policy(statement(action="cdn:RealTimeRecordCommand")),
        policy(
            statement(action=[ACTION, "oss:GetObject"], resource=[arn(), "acs:oss:*:*:bucket/*"])
        ),
        "identity",
    ),
    (
        "billable-write-swept-in",
        policy(statement(action="live:Real*", condition=TLS)),
        policy(statement(action="live:Describe*", condition=TLS)),
        "identity",
    ),
    ("star-on-star", policy(statement(action="*", resource="*")), GOOD, "identity"),
    (
        "billable-write-unconditioned",
        policy(statement(resource=arn("*"))),
        policy(statement(resource=arn("*"), condition=TLS)),
        "identity",
    ),
    # Redundancy.
    (
        "statement-duplicate",
        policy(statement(condition=TLS), statement(condition=TLS, Sid="again")),
        policy(statement(condition=TLS), statement(resource=arn("b.example.com"), condition=TLS)),
        "identity",
    ),
    (
        "statement-subsumed",
        policy(
            statement(condition=TLS), statement(action="live:Real*", resource=arn("*.example.com"))
        ),
        policy(
            statement(condition=TLS), statement(action="live:Real*", resource=arn("*.example.org"))
        ),
        "identity",
    ),
    (
        "action-duplicate",
        policy(statement(action=[ACTION, ACTION.lower()], condition=TLS)),
        GOOD,
        "identity",
    ),
    (
        "resource-duplicate",
        policy(statement(resource=[arn(), arn()], condition=TLS)),
        GOOD,
        "identity",
    ),
    (
        "action-subsumed",
        policy(statement(action=["live:*", ACTION], condition=TLS)),
        GOOD,
        "identity",
    ),
    (
        "resource-subsumed",
        policy(statement(resource=[arn("*.example.com"), arn("a.example.com")], condition=TLS)),
        policy(statement(resource=[arn("*.example.com"), arn("example.com")], condition=TLS)),
        "identity",
    ),
    (
        "analysis-undecided",
        # 300 wildcard entries that share their literal prefix and suffix: 90,000 candidate
        # pairs, more than the budget of a document this size.
        policy(statement(action=[f"live:a*x{i}y*b" for i in range(300)], condition=TLS)),
        policy(statement(action=[f"live:a{i}*b" for i in range(300)], condition=TLS)),
        "identity",
    ),
]


def test_every_registered_check_has_a_case() -> None:
    assert sorted(c[0] for c in CASES) == sorted(default_registry().ids)


@pytest.mark.parametrize(("check", "bad", "good", "kind"), CASES, ids=[c[0] for c in CASES])
def test_check_fires_on_the_bad_case_only(
    check: str, bad: str | bytes, good: str | bytes, kind: str
) -> None:
    found = only(run(bad, kind), check)
    assert found, f"{check} did not fire on its bad case"
    for f in found:
        assert f.file == "policy.json"
        assert f.line >= 1
        assert f.column >= 1
        if check not in GRAMMAR_CHECKS:  # the linter's own messages are full sentences
            assert f.message.endswith("."), f.message
            assert f.message[0].isupper() or f.message[0] in "'0123456789", f.message
            assert f.hint
    assert check not in ids(good, kind)


def test_a_lone_surrogate_is_an_encoding_error_at_its_string() -> None:
    source = policy(statement(condition=TLS, Sid="\ud800"))
    (found,) = only(run(source), "invalid-encoding")
    assert found.pointer == "/Statement/0/Sid"
    assert "lone UTF-16 surrogate" in found.message
    paired = policy(statement(condition=TLS, Sid="\ud83d\ude00"))  # one character, escaped
    assert "invalid-encoding" not in ids(paired)
    assert "invalid-encoding" not in ids(json.dumps({"Version": "1", "a": "\\ud800"}))


def test_the_good_policy_is_clean() -> None:
    assert run(GOOD).findings == ()


def test_example_policies_are_clean_at_every_severity() -> None:
    folder = bundled_path("ram_policies")
    files = sorted(folder.glob("*.json"))
    assert files
    linter = Linter(now=NOW)
    for path in files:
        assert linter.check_file(path) == [], path.name


# ---------------------------------------------------------------------------------------------
# Positions, severities and messages the user relies on


def test_resource_service_mismatch_points_at_the_resource() -> None:
    source = policy(statement(resource=[arn(), arn("b.example.com").replace(":cdn:", ":live:")]))
    (f,) = only(run(source), "resource-service-mismatch")
    assert f.pointer == "/Statement/0/Resource/1"
    assert (f.line, f.column) == (9, 9)  # "Resource": [ on line 7, one entry per line
    assert f.severity is Severity.ERROR
    assert "cdn" in f.message
    assert "grants nothing" in f.message
    assert f.hint == f"Write {arn('b.example.com')!r}."


def test_resource_service_mismatch_in_a_deny_is_a_security_gap() -> None:
    source = policy(
        statement(condition=TLS),
        statement(effect="Deny", resource=arn().replace(":cdn:", ":live:")),
    )
    (f,) = only(run(source), "resource-service-mismatch")
    assert f.severity is Severity.SECURITY
    assert "does not protect" in f.message


def test_a_live_arn_next_to_a_wide_action_list_is_not_flagged_when_another_resource_fits() -> None:
    source = policy(statement(action="live:*", resource=[arn(), "acs:live:*:*:*"], condition=TLS))
    assert "resource-service-mismatch" not in ids(source)


@pytest.mark.parametrize(
    ("domain", "detail"),
    [
        ("live.example.com/app/stream", "path '/app/stream'"),
        ("http://live.example.com", "URL scheme"),
        ("live.example.com:1935", "port"),
    ],
)
def test_resource_shape_problems_are_named(domain: str, detail: str) -> None:
    (f,) = only(run(policy(statement(resource=arn(domain)))), "resource-shape-mismatch")
    assert detail in f.message
    assert f.pointer == "/Statement/0/Resource"


def test_domain_wildcard_reach_gives_an_example_and_the_intended_patterns() -> None:
    (f,) = only(run(policy(statement(resource=arn("*example.com")))), "resource-wildcard-reach")
    assert f.severity is Severity.WARNING
    assert "'badexample.com'" in f.message
    assert "'*.example.com' and 'example.com'" in f.hint


def test_star_resource_is_a_security_finding() -> None:
    (f,) = only(run(policy(statement(resource="*", condition=TLS))), "resource-wildcard-reach")
    assert f.severity is Severity.SECURITY


def test_every_domain_is_a_warning() -> None:
    (f,) = only(run(policy(statement(resource=arn("*"), condition=TLS))), "resource-wildcard-reach")
    assert f.severity is Severity.WARNING
    assert "every domain" in f.message


def test_action_typo_gets_a_did_you_mean_with_position() -> None:
    source = policy(statement(action=[ACTION, "live:RealTimeRecordComand"], condition=TLS))
    (f,) = only(run(source), "action-unknown")
    assert f.hint == "Did you mean 'live:RealTimeRecordCommand'?"
    assert f.pointer == "/Statement/0/Action/1"
    assert (f.line, f.column) == (8, 9)  # the second entry of the Action list


def test_wrong_prefix_suggests_the_catalogued_action() -> None:
    (f,) = only(
        run(policy(statement(action="cdn:RealTimeRecordCommand"))), "action-service-unknown"
    )
    assert f.hint == "Did you mean 'live:RealTimeRecordCommand'?"
    assert "resource ARN" in f.message


def test_unknown_action_wildcard_that_matches_nothing() -> None:
    (f,) = only(run(policy(statement(action="live:Nothing*", condition=TLS))), "action-unknown")
    assert "matches no live action" in f.message


@pytest.mark.parametrize(
    "source",
    [
        policy(statement(action="live:*", condition=TLS)),
        policy(statement(action="*", condition=TLS)),
        policy(statement(action="live:*Record*", condition=TLS)),
        policy(statement(action=None, NotAction=["live:Describe*"], condition=TLS)),
    ],
)
def test_billable_write_swept_in_by_wildcards_and_notaction(source: str) -> None:
    (f,) = only(run(source), "billable-write-swept-in")
    assert f.severity is Severity.SECURITY
    assert "'get'" in f.message
    assert "billable" in f.message


def test_naming_the_action_explicitly_is_not_swept_in() -> None:
    source = policy(statement(action=["live:Describe*", ACTION], condition=TLS))
    assert "billable-write-swept-in" not in ids(source)


def test_deny_with_wildcards_is_not_swept_in() -> None:
    assert "billable-write-swept-in" not in ids(policy(statement(effect="Deny", action="live:*")))


def test_aws_only_operator_replaces_the_grammar_finding() -> None:
    result = run(policy(statement(condition={"ForAnyValue:StringEquals": {"acs:SourceVpc": "v"}})))
    assert [f.check for f in result.findings] == ["aws-only-operator"]
    (f,) = result.findings
    assert f.pointer == "/Statement/0/Condition/ForAnyValue:StringEquals"
    assert "StringEquals" in f.hint


@pytest.mark.parametrize(
    "operator", ["Null", "ArnLike", "StringLikeIfExists", "ForAllValues:StringLike"]
)
def test_aws_only_operators(operator: str) -> None:
    result = run(policy(statement(condition={operator: {"acs:SourceVpc": "v"}})))
    assert "aws-only-operator" in {f.check for f in result}
    assert "condition-operator-unknown" not in {f.check for f in result}


def test_type_mismatch_suggests_the_date_operator() -> None:
    source = policy(statement(condition={"StringEquals": {"acs:CurrentTime": "2027-01-01"}}))
    (f,) = only(run(source), "condition-type-mismatch")
    assert f.hint == "Use DateEquals for acs:CurrentTime."
    assert f.severity is Severity.WARNING


def test_type_mismatch_in_a_deny_is_a_security_gap() -> None:
    source = policy(
        statement(effect="Deny", condition={"StringEquals": {"acs:SecureTransport": "yes"}})
    )
    (f,) = only(run(source), "condition-type-mismatch")
    assert f.severity is Severity.SECURITY
    assert "Bool" in f.hint


@pytest.mark.parametrize(
    ("key", "meant"),
    [
        ("acs:SrcIp", "acs:SourceIp"),
        ("aws:SourceIp", "acs:SourceIp"),
        ("live:SecureTransport", "acs:SecureTransport"),
    ],
)
def test_unknown_keys_get_a_did_you_mean(key: str, meant: str) -> None:
    source = policy(statement(condition={"StringEquals": {key: "x"}}))
    (f,) = only(run(source), "condition-key-unknown")
    assert f.hint == f"Did you mean {meant!r}?"
    assert f.pointer == f"/Statement/0/Condition/StringEquals/{key}"


def test_keys_of_other_services_are_left_alone() -> None:
    source = policy(
        statement(
            action="oss:GetObject",
            resource="acs:oss:*:*:b/*",
            condition={"StringEquals": {"oss:Prefix": "x"}},
        )
    )
    assert "condition-key-unknown" not in ids(source)


def test_resource_tag_keys_are_global_keys() -> None:
    source = policy(statement(condition={"StringEquals": {"acs:ResourceTag/team": "media"}, **TLS}))
    assert run(source).findings == ()


def test_private_source_ip_in_a_deny_makes_the_deny_dead() -> None:
    source = policy(
        statement(condition=TLS),
        statement(effect="Deny", condition={"IpAddress": {"acs:SourceIp": "10.1.2.3"}}),
    )
    (f,) = only(run(source), "source-ip-private")
    assert f.severity is Severity.SECURITY
    assert f.pointer == "/Statement/1/Condition/IpAddress/acs:SourceIp"


def test_private_entry_among_public_ones_is_a_warning() -> None:
    source = policy(
        statement(condition={"IpAddress": {"acs:SourceIp": ["203.0.113.0/24", "172.16.0.0/12"]}})
    )
    (f,) = only(run(source), "source-ip-private")
    assert f.severity is Severity.WARNING
    assert f.pointer.endswith("/1")
    assert "this entry never matches" in f.message


def test_time_window_uses_the_injected_now() -> None:
    source = policy(statement(condition={"DateLessThan": {"acs:CurrentTime": "2026-03-01"}}))
    early = lint(source, now=datetime(2026, 2, 1, tzinfo=UTC))
    late = lint(source, now=datetime(2026, 4, 1, tzinfo=UTC))
    assert "time-window-expired" not in {f.check for f in early}
    assert "time-window-expired" in {f.check for f in late}


def test_an_expired_window_is_the_same_finding_on_every_run() -> None:
    """A baseline accepts the finding for good: its message (which the fingerprint covers) does
    not hold the time of the run, which differs on every run."""
    source = policy(statement(condition={"DateLessThan": {"acs:CurrentTime": "2026-03-01"}}))
    runs = [
        only(lint(source, now=datetime(2026, 4, 1, h, 0, 0, m, tzinfo=UTC)), "time-window-expired")
        for h, m in ((9, 1), (17, 2))
    ]
    assert runs[0] == runs[1]
    assert [fingerprint(f) for f in runs[0]] == [fingerprint(f) for f in runs[1]]
    assert "2026-03-01T00:00:00+00:00, which is in the past" in runs[0][0].message


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {"acs:SourceVpc": "vpc-a"}, "StringNotEquals": {"acs:SourceVpc": "vpc-a"}},
        {
            "NumericGreaterThan": {"acs:ResourceTag/n": "5"},
            "NumericLessThanEquals": {"acs:ResourceTag/n": "5"},
        },
        {"Bool": {"acs:SecureTransport": "true", "acs:securetransport": "false"}},
        {
            "IpAddress": {"acs:SourceIp": "203.0.113.0/24"},
            "NotIpAddress": {"acs:SourceIp": "203.0.0.0/16"},
        },
        {"StringEquals": {"acs:SourceVpc": "vpc-a"}, "StringNotLike": {"acs:SourceVpc": "vpc-*"}},
    ],
)
def test_contradictions(condition: dict[str, Any]) -> None:
    assert "condition-contradiction" in ids(policy(statement(condition=condition)))


@pytest.mark.parametrize(
    "condition",
    [
        {
            "StringEquals": {"acs:SourceVpc": ["vpc-a", "vpc-b"]},
            "StringNotEquals": {"acs:SourceVpc": "vpc-a"},
        },
        {
            "NumericGreaterThanEquals": {"acs:ResourceTag/n": "5"},
            "NumericLessThanEquals": {"acs:ResourceTag/n": "5"},
        },
        {
            "IpAddress": {"acs:SourceIp": "203.0.0.0/16"},
            "NotIpAddress": {"acs:SourceIp": "203.0.113.0/24"},
        },
    ],
)
def test_satisfiable_conditions_are_not_contradictions(condition: dict[str, Any]) -> None:
    assert "condition-contradiction" not in ids(policy(statement(condition=condition)))


def test_subsumed_statement_names_the_wider_one() -> None:
    source = policy(
        statement(resource=arn("a.example.com"), condition=TLS),
        statement(action="live:Real*", resource=arn("*.example.com")),
    )
    (f,) = only(run(source), "statement-subsumed")
    assert f.pointer == "/Statement/0"
    assert "covered by statement 1" in f.message


def test_a_stricter_condition_is_not_subsumed_by_a_looser_one_in_reverse() -> None:
    source = policy(
        statement(condition=TLS),
        statement(),  # wider: no condition
    )
    found = only(run(source), "statement-subsumed")
    assert [f.pointer for f in found] == ["/Statement/0"]


def test_severity_order_and_parse() -> None:
    assert Severity.ERROR > Severity.SECURITY > Severity.WARNING > Severity.SUGGESTION
    assert LintResult((), ()).failed("never") is False


# ---------------------------------------------------------------------------------------------
# The registry and the Check protocol


def test_registry_rejects_duplicate_and_malformed_ids() -> None:
    @rule("my-check", Severity.WARNING, "A test check.")
    def body(check: Any, document: Any, context: Any) -> list[Finding]:
        return []

    registry = CheckRegistry([body])
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(body)

    @rule("Not_Kebab", Severity.WARNING, "Bad id.")
    def bad(check: Any, document: Any, context: Any) -> list[Finding]:
        return []

    with pytest.raises(ValueError, match="kebab-case"):
        CheckRegistry([bad])


def test_a_custom_check_runs_in_its_own_registry() -> None:
    @rule("no-deny", Severity.SUGGESTION, "Flags every Deny statement.")
    def no_deny(check: Any, document: Any, context: Any) -> list[Finding]:
        return [
            context.finding(check, sf.statement.location, f"{sf.where} denies.", "Allow instead.")
            for sf in context.statements
            if sf.deny
        ]

    source = policy(statement(condition=TLS), statement(effect="Deny", condition=TLS))
    result = lint(source, registry=CheckRegistry([no_deny]))
    assert [(f.check, f.pointer, f.line) for f in result] == [("no-deny", "/Statement/1", 14)]


def test_every_grammar_problem_is_a_registered_check() -> None:
    registry = default_registry()
    for check_id, info in GRAMMAR_CHECKS.items():
        check = registry.get(check_id)
        assert check is not None
        assert check.severity is info.severity


def test_lint_accepts_a_parsed_document() -> None:
    document = parse(policy(statement(action="live:*")), name="doc.json").document
    assert document is not None
    result = lint(document)
    assert {f.file for f in result} == {"doc.json"}
    assert "billable-write-swept-in" in {f.check for f in result}


def test_trust_policy_principal_rules_follow_the_kind() -> None:
    source = policy(
        statement(
            action="sts:AssumeRole",
            resource=...,
            Principal={"RAM": ["acs:ram::" + ACCOUNT + ":root"]},
        )
    )
    assert "principal-not-allowed" in ids(source, "identity")
    assert "principal-not-allowed" not in ids(source, PolicyKind.TRUST.value)


# ---------------------------------------------------------------------------------------------
# Docs: one page per check, one check per page


def test_every_check_has_a_docs_page_and_every_page_a_check() -> None:
    pages = {p.stem for p in (ROOT / "docs" / "checks").glob("*.md")}
    assert pages == set(default_registry().ids)
    index = (ROOT / "docs" / "ram-lint.md").read_text(encoding="utf-8")
    for check in default_registry():
        text = (ROOT / "docs" / "checks" / f"{check.id}.md").read_text(encoding="utf-8")
        assert text.startswith(f"# `{check.id}`"), check.id
        for heading in (
            "## What it catches",
            "## Why it matters",
            "## How to fix",
            "## Bad",
            "## Good",
        ):
            assert heading in text, (check.id, heading)
        assert f"checks/{check.id}.md" in index, check.id


def _examples(check_id: str) -> tuple[str | None, str, str]:
    text = (ROOT / "docs" / "checks" / f"{check_id}.md").read_text(encoding="utf-8")
    kind = re.search(r"<!-- kind: (\w+) -->", text)
    bad = re.search(r"## Bad\n\n```(\w+)\n(.*?)\n```", text, re.DOTALL)
    good = re.search(r"## Good\n\n```json\n(.*?)\n```", text, re.DOTALL)
    assert bad is not None, check_id
    assert good is not None, check_id
    return (
        (bad.group(2) if bad.group(1) == "json" else None),
        good.group(1),
        (kind.group(1) if kind else "identity"),
    )


@pytest.mark.parametrize("check_id", default_registry().ids)
def test_docs_examples_show_what_the_check_does(check_id: str) -> None:
    bad, good, kind = _examples(check_id)
    assert check_id not in ids(good, kind), "the Good example raises the check"
    if bad is not None:  # encodings, empty files and huge files are described, not shown
        assert check_id in ids(bad, kind), "the Bad example does not raise the check"


# ---------------------------------------------------------------------------------------------
# Exact inclusion: the fast path the linter uses agrees with the automaton


patterns = st.text(alphabet="ab*?", max_size=6)


@settings(max_examples=400, deadline=None)
@given(patterns, patterns, st.booleans())
def test_fast_inclusion_agrees_with_exact_inclusion(
    general: str, specific: str, fold: bool
) -> None:
    facts = Linter().facts
    if fold:
        general = general.upper()
    expected = includes(general, specific, ignore_case=fold)
    assert facts.includes(general, specific, ignore_case=fold) == expected


# ---------------------------------------------------------------------------------------------
# Positions: the linter's quick path agrees with the parser's full scan


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(alphabet='ab/~"\\é ', max_size=4), children, max_size=3)
    ),
    max_leaves=12,
)


def _pointers(value: Any, pointer: str = "") -> list[str]:
    found = [pointer]
    if isinstance(value, dict):
        for name, child in value.items():
            escaped = name.replace("~", "~0").replace("/", "~1")
            found += _pointers(child, f"{pointer}/{escaped}")
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found += _pointers(child, f"{pointer}/{i}")
    return found


@settings(max_examples=200, deadline=None)
@given(json_values, st.sampled_from([None, 0, 2, "\t"]), st.booleans())
def test_quick_positions_agree_with_the_source_map(value: Any, indent: Any, key: bool) -> None:
    text = json.dumps({"root": value}, indent=indent, ensure_ascii=False)
    source_map = SourceMap(text)
    for pointer in _pointers({"root": value}):
        offset = find_offset(text, pointer, key)
        assert offset is not None, pointer
        assert line_column(text, offset) == source_map.position(pointer, 0, key), pointer
    assert find_offset(text, "/root/missing/0", key) is None


@settings(max_examples=150, deadline=None)
@given(json_values, st.sampled_from([None, 0, 2]), st.booleans(), st.randoms(use_true_random=False))
def test_one_incremental_index_answers_like_the_full_scan_in_any_order(
    value: Any, indent: Any, key: bool, order: Any
) -> None:
    # The linter keeps one index per document and asks it for findings' positions in any order:
    # it scans each container only as far as asked, and skips a child's value only when a later
    # child is asked for. Every answer must be the full scan's.
    text = json.dumps({"root": value, "after": [1, {"x": 2}]}, indent=indent, ensure_ascii=False)
    source_map = SourceMap(text)
    index = PositionIndex(text, unique=True)
    pointers = _pointers({"root": value, "after": [1, {"x": 2}]})
    order.shuffle(pointers)
    for pointer in pointers:
        offset = index.offset(pointer, key)
        assert offset is not None, pointer
        assert line_column(text, offset) == source_map.position(pointer, 0, key), pointer


def test_positions_fall_back_to_the_full_scan_when_names_repeat() -> None:
    source = (
        '{"Version": "1", "Statement": [{"Effect": "Allow", "Effect": "Allow",\n'
        '  "Action": "live:RealTimeRecordComand",\n'
        '  "Resource": "acs:cdn:*:1234567890123456:domain/live.example.com"}]}'
    )
    result = run(source)
    (typo,) = only(result, "action-unknown")
    assert (typo.line, typo.column) == (2, 13)
    assert "duplicate-key" in {f.check for f in result}


# ---------------------------------------------------------------------------------------------
# Any input gives findings, never an exception


element_names = st.sampled_from(
    ["Effect", "Action", "NotAction", "Resource", "NotResource", "Condition", "Principal", "Sid"]
)
strings = st.sampled_from(
    [
        "Allow",
        "Deny",
        "*",
        ACTION,
        "live:*",
        "live:Real*",
        "cdn:RealTimeRecordCommand",
        arn(),
        arn("*"),
        arn("*example.com"),
        "acs:live:*:*:*",
        "acs:cdn:*:12:domain/x.com:80/app",
        "acs:SourceIp",
        "acs:CurrentTime",
        "10.0.0.0/8",
        "2020-01-01",
        "true",
        "",
    ]
)
operators = st.sampled_from(
    [
        "StringEquals",
        "StringNotEquals",
        "IpAddress",
        "NotIpAddress",
        "DateLessThan",
        "DateGreaterThan",
        "NumericEquals",
        "StringLike",
        "Bool",
        "ForAnyValue:StringLike",
        "Null",
    ]
)
leaves = strings | st.integers() | st.booleans() | st.none()
values = st.recursive(leaves, lambda c: st.lists(c, max_size=3), max_leaves=6)
conditions = st.dictionaries(
    operators, st.dictionaries(strings, values, max_size=2) | values, max_size=3
)
statements = st.dictionaries(element_names, values | conditions, max_size=6)


@settings(max_examples=150, deadline=None)
@given(st.lists(statements | values, max_size=4), st.sampled_from(["identity", "trust"]))
def test_any_policy_lints_without_an_exception(items: list[Any], kind: str) -> None:
    source = json.dumps({"Version": "1", "Statement": items}, indent=1)
    result = run(source, kind)
    registered = set(default_registry().ids)
    lines = source.count("\n") + 1
    for f in result.findings:
        assert f.check in registered
        assert 1 <= f.line <= lines
        assert f.message


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40) | st.binary(max_size=40))
def test_any_text_lints_without_an_exception(source: str | bytes) -> None:
    result = run(source)
    assert all(f.check in default_registry() for f in result.findings)


@pytest.mark.parametrize(
    ("condition", "check"),
    [
        ({"Bool": {"acs:SecureTransport": "yes"}}, "condition-value-invalid"),
        ({"Bool": {"acs:SecureTransport": "True"}}, "condition-value-invalid"),
        ({"StringEquals": {"acs:SecureTransport": "yes"}}, "condition-type-mismatch"),
        ({"Bool": {"acs:SecureTransport": ["true", "false"]}}, "condition-shape"),
    ],
)
def test_secure_transport_takes_one_boolean(condition: dict[str, Any], check: str) -> None:
    assert check in ids(policy(statement(condition=condition)))


def test_catalog_caches_stay_bounded() -> None:
    linter = Linter(now=NOW)
    for i in range(30):
        linter.check_source(policy(statement(resource=arn(f"d{i}.example.com"), condition=TLS)))
    assert len(linter.facts.resource_atoms) > 10  # one per distinct resource
    linter.facts.trim(limit=10)
    assert len(linter.facts.resource_atoms) == 0
    assert linter.check_source(GOOD) == []  # and everything still works after a trim


# ---------------------------------------------------------------------------------------------
# Bounded work: the name index agrees with testing every name, hard wildcards stay findings


name_patterns = st.text(alphabet="live:DdescribRtam*?", max_size=16)


@settings(max_examples=300, deadline=None)
@given(name_patterns)
def test_indexed_action_lookup_agrees_with_testing_every_name(pattern: str) -> None:
    facts = Linter().facts
    expected = tuple(n for n in facts.known_names if matches(pattern.lower(), n))
    assert facts.actions_matching(pattern) == expected


def test_wildcards_with_many_question_marks_give_findings_not_errors() -> None:
    source = policy(
        statement(
            action=["live:*a??????????*", "live:*b??????????*", "live:a??????????b*"],
            resource=[arn("*a??????????*"), arn("*b??????????*")],
            condition=TLS,
        ),
        statement(action="live:*??????????x", resource=arn("*?x??????????"), condition=TLS),
    )
    result = run(source)
    assert result.findings  # e.g. the resource wildcards' reach, never an exception
    assert all(f.line >= 1 for f in result.findings)


# ---------------------------------------------------------------------------------------------
# The redundancy checks' shortcuts report what comparing every pair in order reports

_POOL_ACTIONS = [
    ACTION,
    "live:Describe*",
    "live:DescribeLive*",
    "live:Real*",
    "live:*",
    "LIVE:real*",
]
_POOL_RESOURCES = [arn(), arn("*.example.com"), arn("a.example.com"), arn("*"), "*", arn("a*")]
_POOL_CONDITIONS = [None, TLS, {"IpAddress": {"acs:SourceIp": ["203.0.113.0/24"]}}]

pool_statements = st.builds(
    lambda effect, actions, resources, condition: statement(
        effect=effect, action=actions, resource=resources, condition=condition
    ),
    st.sampled_from(["Allow", "Allow", "Deny"]),
    st.lists(st.sampled_from(_POOL_ACTIONS), min_size=1, max_size=3, unique=True),
    st.lists(st.sampled_from(_POOL_RESOURCES), min_size=1, max_size=3, unique=True),
    st.sampled_from(_POOL_CONDITIONS),
)


def _subsumed_by_every_pair(source: str) -> list[tuple[str, str]]:
    """statement-subsumed as the plain loop over every pair: for each statement (not a repeat),
    the first other statement, in document order, that covers it and is not an equivalent
    later one."""
    from acscontract.ram._lint._base import LintContext
    from acscontract.ram._lint._redundancy import _subsumes, _summaries

    linter = Linter(now=NOW)
    document = parse(source, name="policy.json").document
    assert document is not None
    context = LintContext(document, linter.facts, NOW)
    summaries = _summaries(context)
    first: dict[Any, int] = {}
    same = [first.setdefault(s.key, i) for i, s in enumerate(summaries)]
    found = []
    for i, inner in enumerate(summaries):
        if inner.effect is None or same[i] != i:
            continue
        for j, outer in enumerate(summaries):
            if same[j] == i or (outer.effect, outer.principal) != (inner.effect, inner.principal):
                continue
            if not _subsumes(context, outer, inner):
                continue
            if j > i and _subsumes(context, inner, outer) is not False:
                continue
            found.append((f"/Statement/{i}", f"statement {j}"))
            break
    return found


@settings(max_examples=150, deadline=None)
@given(st.lists(pool_statements, min_size=2, max_size=8))
def test_statement_subsumed_reports_what_comparing_every_pair_reports(
    statements: list[dict[str, Any]],
) -> None:
    source = policy(*statements)
    found = [
        (f.pointer, re.search(r"covered by (statement \d+)", f.message).group(1))  # type: ignore[union-attr]
        for f in only(run(source), "statement-subsumed")
    ]
    assert found == _subsumed_by_every_pair(source)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.text(alphabet="ab*?", min_size=1, max_size=5), min_size=9, max_size=24),
    st.booleans(),
)
def test_a_long_list_reports_the_entries_comparing_every_pair_reports(
    entries: list[str], actions: bool
) -> None:
    # Past eight entries, candidates come from an index of literal prefixes and suffixes.
    if actions:
        values = [f"live:{e}" for e in entries]
        source = policy(statement(action=values, condition=TLS))
    else:
        values = [arn(e) for e in entries]
        source = policy(statement(resource=values, condition=TLS))
    kind = "action" if actions else "resource"
    facts = Linter().facts
    keys = [v.lower() if actions else v for v in values]
    first: dict[str, int] = {}
    for i, key in enumerate(keys):
        first.setdefault(key, i)
    expected = []
    for i, key in enumerate(keys):
        if first[key] != i:
            continue
        for j, outer in enumerate(keys):
            if j == i or first[outer] != j or not ("*" in outer or "?" in outer):
                continue
            if not facts.includes(values[j], values[i], ignore_case=actions):
                continue
            if j > i and facts.includes(values[i], values[j], ignore_case=actions):
                continue
            expected.append((i, values[j]))
            break
    found = [
        (int(f.pointer.rsplit("/", 1)[1]), re.search(r"covered by '(.*)' in", f.message).group(1))  # type: ignore[union-attr]
        for f in only(run(source), f"{kind}-subsumed")
    ]
    assert found == expected


# Determinism: a document's findings do not depend on what the same linter linted before


def _costly_statements(seed: int) -> str:
    """32 statements of 30 actions whose wildcards mix `?` and `*` (each inclusion question
    takes search steps): comparing the statements runs out of the document's budget."""
    pool = [f"live:Describe*{c}?{d}*" for c in "ABCDEFGH" for d in "abcdefgh"]
    pool += [f"live:Describe*{c}*" for c in "ABCDEFGH"] + [f"live:*{c}??*" for c in "ABCDEFGH"]
    statements = [
        statement(action=[pool[(s * 13 + k * seed) % len(pool)] for k in range(30)], resource="*")
        for s in range(32)
    ]
    return json.dumps({"Version": "1", "Statement": statements}, separators=(",", ":"))


def _costly_list(seed: int) -> str:
    """One statement: 128 resources whose reach takes search steps, and 400 wildcard actions:
    comparing the actions runs out of the budget at an entry that depends on every step."""
    actions = [ACTION] + [f"live:Describe*{c}?{k * seed % 97}*" for k in range(200) for c in "AB"]
    resources = [f"acs:cdn:*:{ACCOUNT}:*{c}{s}?*/*" for c in "abcd" for s in range(32)]
    return policy(statement(action=actions, resource=resources))


@pytest.mark.parametrize("build", [_costly_statements, _costly_list])
def test_findings_do_not_depend_on_what_was_linted_before(build: Any) -> None:
    first, second = build(5), build(7)
    catalog = action_catalog()
    alone = Linter(catalog=catalog, now=NOW).check_source(second, name="b.json")
    assert "analysis-undecided" in {f.check for f in alone}  # the budget really runs out
    warm = Linter(catalog=catalog, now=NOW)
    warm.check_source(first, name="a.json")
    assert warm.check_source(second, name="b.json") == alone
    assert warm.check_source(second, name="b.json") == alone  # every answer remembered now


# ---------------------------------------------------------------------------------------------
# The linter's shortcuts (skipped checks, pairs refused by an index, steps charged in bulk) give
# the findings, the undecided questions and the budget left that doing every step one by one
# gives. The references below are the plain loops: every candidate pair, one step each.


class _Ungated:
    """A built-in check run as a plain `Check` (its `needs` unknown to the linter: never
    skipped)."""

    def __init__(self, check: Any) -> None:
        self.id, self.severity, self.description = check.id, check.severity, check.description
        self._check = check

    def run(self, document: Any, context: Any) -> Any:
        return self._check.run(document, context)


# Statements whose pieces each set off some check (so that a skipped check with something to
# report is seen): wrong services, shapes and accounts, typos, expired and contradictory
# conditions, AWS operators, private addresses, repeated and covered entries.
_TELLING_RESOURCES = [
    arn(),
    arn("*.example.com"),
    arn("*example.com"),
    arn("a.example.com:80/app"),
    arn(account="12"),
    arn().replace(":cdn:", ":live:"),
    "acs:cdn:*:{#accountId}:domain/x",
    "*",
]
_TELLING_CONDITIONS = [
    None,
    TLS,
    {"IpAddress": {"acs:SourceIp": ["10.0.0.0/8"]}},
    {"DateLessThan": {"acs:CurrentTime": "2020-01-01T00:00:00Z"}},
    {"NumericLessThan": {"acs:Bogus": "1"}, "NumericGreaterThan": {"acs:Bogus": "2"}},
    {"StringEqualsIfExists": {"acs:SourceVpc": "vpc-1"}},
    {"DateGreaterThan": {"acs:SourceIp": "2020-01-01"}},
]
telling_statements = st.builds(
    lambda effect, actions, resources, condition, negated: statement(
        effect=effect,
        action=... if negated else actions,
        resource=resources,
        condition=condition,
        NotAction=actions if negated else ...,
    ),
    st.sampled_from(["Allow", "Deny"]),
    st.lists(
        st.sampled_from([*_POOL_ACTIONS, "live:RealTimeRecordComand", "cdn:Describe*"]),
        min_size=1,
        max_size=3,
    ),
    st.lists(st.sampled_from(_TELLING_RESOURCES), min_size=1, max_size=3),
    st.sampled_from(_TELLING_CONDITIONS),
    st.booleans(),
)


@settings(max_examples=250, deadline=None)
@given(
    st.lists(statements | values | pool_statements | telling_statements, max_size=5),
    st.sampled_from(["identity", "trust"]),
)
def test_skipped_checks_would_have_found_nothing(items: list[Any], kind: str) -> None:
    source = json.dumps({"Version": "1", "Statement": items}, indent=1)
    ungated = CheckRegistry([_Ungated(c) for c in default_registry()])
    everything = Linter(registry=ungated, now=NOW).check_source(source, kind=kind)
    assert Linter(now=NOW).check_source(source, kind=kind) == everything


def _subsumed_one_pair_at_a_time(context: Any) -> list[tuple[int, int]]:
    """statement-subsumed as it was written before the index of refusals: every candidate
    pair in order, one budget step each, refused by the set tests one by one."""
    from acscontract.ram._lint._redundancy import (
        _out_of_budget,
        _spend_each,
        _statement_candidates,
        _subsumes,
        _summaries,
    )

    statements = context.statements
    summaries = _summaries(context)
    budget = context.budget
    first_of: dict[Any, int] = {}
    same = [first_of.setdefault(s.key, i) for i, s in enumerate(summaries)]
    candidates = _statement_candidates(summaries, budget)
    found: list[tuple[int, int]] = []
    for i, inner in enumerate(summaries):
        if inner.effect is None or same[i] != i:
            continue
        undecided = False
        outers = [j for j in candidates(i) if same[j] != i]
        if not inner.comparable:
            steps, outers = len(outers), []
            if not _spend_each(budget, steps):
                _out_of_budget(context, statements[i])
                return found
        for j in outers:
            outer = summaries[j]
            if not budget.spend():
                _out_of_budget(context, statements[i])
                return found
            if not outer.comparable:
                continue
            oc = outer.conditions
            if oc and not (
                outer.condition_keys <= inner.condition_keys
                and all(inner.conditions[key] <= allowed for key, allowed in oc.items())
            ):
                continue
            if not outer.action_wild and not inner.actions <= outer.actions:
                continue
            if not outer.resource_wild and not inner.resources <= outer.resources:
                continue
            covers = _subsumes(context, outer, inner)
            if covers is None:
                undecided = True
                continue
            if not covers:
                continue
            if j > i and _subsumes(context, inner, outer) is not False:
                continue
            found.append((i, j))
            break
        else:
            if undecided:
                context.undecided(statements[i].statement.location, f"undecided {i}")
    return found


_COSTLY_ACTIONS = ["live:Describe*A?b*", "live:Describe*A*", "live:*A??*", "live:Describe?A*"]


_some_statements = pool_statements | st.builds(
    lambda actions: statement(action=actions, resource="*"),
    st.lists(st.sampled_from(_COSTLY_ACTIONS), min_size=1, max_size=2, unique=True),
)


@settings(max_examples=120, deadline=None)
@given(
    # Up to 32 statements every pair is a candidate; past that, an index picks them; past
    # 64, the pairs are refused one by one rather than by bit masks.
    st.lists(_some_statements, min_size=2, max_size=12)
    | st.lists(_some_statements, min_size=33, max_size=40)
    | st.lists(_some_statements, min_size=65, max_size=70),
    st.integers(min_value=0, max_value=400),
)
def test_statement_subsumed_spends_the_budget_as_comparing_each_pair_does(
    items: list[dict[str, Any]], steps: int
) -> None:
    from acscontract.ram._lint._base import LintContext
    from acscontract.ram._lint._redundancy import CHECKS

    check = next(c for c in CHECKS if c.id == "statement-subsumed")
    document = parse(policy(*items), name="policy.json").document
    assert document is not None
    facts = Linter(now=NOW).facts
    fast, plain = LintContext(document, facts, NOW), LintContext(document, facts, NOW)
    fast.budget.left = plain.budget.left = steps
    found = [
        (
            int(f.pointer.rsplit("/", 1)[1]),
            int(re.search(r"covered by statement (\d+)", f.message).group(1)),
        )  # type: ignore[union-attr]
        for f in check.body(check, document, fast)
    ]
    assert found == _subsumed_one_pair_at_a_time(plain)
    assert fast.budget.left == plain.budget.left
    assert [loc.pointer for loc, _ in fast.undecided_questions] == [
        loc.pointer for loc, _ in plain.undecided_questions
    ]


def _entries_one_pair_at_a_time(
    facts: Any, budget: Any, keys: list[str], actions: bool
) -> tuple[list[tuple[int, int]], int | None]:
    """The covered entries of one list as `_subsumed_entries` was written before the bulk
    steps: every candidate pair (every outer for a short list, those of the ends index for a
    long one) in order, one budget step each. Returns the (inner, outer) pairs reported and the
    entry where it stopped or was first left undecided."""
    from acscontract.ram._lint._redundancy import _PrefixIndex

    first: dict[str, int] = {}
    for i, key in enumerate(keys):
        first.setdefault(key, i)
    outers = [j for j, k in enumerate(keys) if first[k] == j and ("*" in k or "?" in k)]
    inners = [i for i, k in enumerate(keys) if first[k] == i]
    if len(keys) <= 8:
        fitting = lambda _: outers  # noqa: E731
    else:
        index = _PrefixIndex(budget)  # each lookup spends a step per (prefix, suffix) length
        for j in outers:
            index.add(j, keys[j])
        fitting = lambda i: index.candidates(keys[i])  # noqa: E731
    found: list[tuple[int, int]] = []
    undecided = None
    for i in inners:
        candidates = fitting(i)
        if len(candidates) == 1 and candidates[0] == i:
            continue
        for j in candidates:
            if j == i:
                continue
            if not budget.spend():
                return found, i
            covers = facts.includes(keys[j], keys[i], ignore_case=actions, budget=budget)
            if covers is None:
                undecided = i if undecided is None else undecided
                continue
            if not covers:
                continue
            if j > i and facts.includes(keys[i], keys[j], ignore_case=actions, budget=budget):
                continue
            found.append((i, j))
            break
    return found, undecided


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(alphabet="ab*?", min_size=1, max_size=5), min_size=2, max_size=24),
    st.booleans(),
    st.integers(min_value=0, max_value=300),
)
def test_list_entries_spend_the_budget_as_comparing_each_pair_does(
    entries: list[str], actions: bool, steps: int
) -> None:
    _same_entries_as_one_pair_at_a_time(entries, actions, steps)


@settings(max_examples=12, deadline=None)
@given(
    # Past 256 distinct entries the candidates come from a table of the sorted entries.
    st.lists(
        st.text(alphabet="ab*?", min_size=1, max_size=7), min_size=300, max_size=400, unique=True
    ),
    st.booleans(),
    st.sampled_from([0, 200, 3000, 10**6]),
)
def test_long_lists_spend_the_budget_as_comparing_each_pair_does(
    entries: list[str], actions: bool, steps: int
) -> None:
    _same_entries_as_one_pair_at_a_time(entries, actions, steps)


def _same_entries_as_one_pair_at_a_time(entries: list[str], actions: bool, steps: int) -> None:
    from acscontract.ram._lint._base import LintContext
    from acscontract.ram._lint._redundancy import _entry_problems

    values = [f"live:{e}" for e in entries] if actions else [arn(e) for e in entries]
    document = parse(
        policy(statement(action=values) if actions else statement(resource=values)), name="p"
    ).document
    assert document is not None
    facts = Linter(now=NOW).facts
    fast = LintContext(document, facts, NOW)
    fast.budget.left = steps
    problems = _entry_problems(fast)
    kind = "action" if actions else "resource"
    found = [(i, _pair(message)) for _, _, i, message, _ in problems[f"{kind}-subsumed"]]
    keys = [v.lower() for v in values] if actions else values
    plain = LintContext(document, facts, NOW)
    plain.budget.left = steps
    expected, stopped = _entries_one_pair_at_a_time(facts, plain.budget, keys, actions)
    assert found == [(i, _pair(f"covered by {values[j]!r} in")) for i, j in expected]
    assert fast.budget.left == plain.budget.left
    assert [loc.pointer for loc, _ in fast.undecided_questions] == (
        [] if stopped is None else [f"/Statement/0/{'Action' if actions else 'Resource'}/{stopped}"]
    )


def _pair(message: str) -> str:
    return re.search(r"covered by ('.*') in", message).group(1)  # type: ignore[union-attr]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="aB*?\n:İ") | st.none(), max_size=12))
def test_the_ends_of_a_list_are_each_entrys_literal_ends(keys: list[str | None]) -> None:
    # A list's literal prefixes and reversed suffixes are read from what is known of each entry
    # (worked out and added for the entries not known yet), whether nothing, some entries or
    # all of them are known; entry by entry when an entry is not a string.
    from acscontract.ram._lint._facts import literal_ends
    from acscontract.ram._lint._redundancy import _ends_of, _fold_fast, _folded

    expected = [literal_ends(k) if k is not None else ("", "") for k in keys]
    some = [k for k in keys[::2] if k is not None]
    for seen in ([], some, keys):
        known: tuple[dict[str, str], dict[str, str]] = ({}, {})
        for key in seen:
            if key is not None:
                head, tail = literal_ends(key)
                known[0][key], known[1][key] = head, tail[::-1]
        for _ in range(2):  # the second time, read from what the first call added
            heads, backs = _ends_of(keys, known)
            assert list(zip(heads, [b[::-1] for b in backs], strict=True)) == expected
    texts = [k for k in keys if k is not None]
    assert _folded(texts) == [_fold_fast(t) for t in texts]


@settings(max_examples=200, deadline=None)
@given(
    # Up to 8 distinct entries, a short list is charged at once when no pair fits.
    st.lists(
        st.text(alphabet="ab*?.", min_size=1, max_size=6), min_size=2, max_size=8, unique=True
    ),
    st.booleans(),
    st.integers(min_value=0, max_value=80),
)
def test_short_lists_of_distinct_entries_spend_the_budget_as_comparing_each_pair_does(
    entries: list[str], actions: bool, steps: int
) -> None:
    _same_entries_as_one_pair_at_a_time(entries, actions, steps)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text(alphabet="aB*?\n:İß"), max_size=6),
    st.lists(st.text(alphabet="aB*?\n:İ"), max_size=6),
)
def test_a_statement_summary_reads_lists_of_strings_as_the_general_path_does(
    actions: list[str], resources: list[str]
) -> None:
    # Lists of strings are summarised in one pass (folded, and told whether they hold a
    # wildcard); the result is what the general path (`_set`) gives for the same lists.
    from acscontract.ram._document import Statement
    from acscontract.ram._lint._redundancy import _set, _Summary, _wild

    raw = {"Effect": "Allow", "Action": actions, "Resource": resources}
    summary = _Summary(Statement(0, "/Statement/0", raw))
    folded, plain_actions = _set(raw, "Action", True)
    listed, plain_resources = _set(raw, "Resource", False)
    assert summary.actions == (folded if plain_actions else None)
    assert summary.resources == (listed if plain_resources else None)
    assert summary.action_wild == (folded is not None and _wild("".join(folded)))
    assert summary.resource_wild == (listed is not None and _wild("".join(listed)))
    assert summary.key[1] == folded
    assert summary.key[3] == listed


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.lists(st.text(alphabet="aAbİi*?", min_size=1, max_size=3), min_size=1, max_size=6),
        min_size=2,
        max_size=3,
    )
)
def test_list_entries_are_the_same_whether_the_summaries_folded_the_actions_first(
    lists: list[list[str]],
) -> None:
    # In a policy of several statements, the statement summaries fold each Action list once
    # and the list checks read it from there; the answers are those of folding it again.
    from acscontract.ram._lint._base import LintContext
    from acscontract.ram._lint._redundancy import _entry_problems, _summaries

    text = policy(*(statement(action=[f"live:{e}" for e in entries]) for entries in lists))
    document = parse(text, name="p").document
    assert document is not None
    facts = Linter(now=NOW).facts
    shared = LintContext(document, facts, NOW)
    _summaries(shared)
    alone = LintContext(document, facts, NOW)
    assert _entry_problems(shared) == _entry_problems(alone)
    assert shared.budget.left == alone.budget.left


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="acs:*/x", max_size=20))
def test_an_arn_splits_into_five_parts_the_last_keeping_its_colons(text: str) -> None:
    # The ARN parts are a plain tuple (which the garbage collector stops tracking), read by
    # index: prefix, service, region, account, and the relative id with any further colons.
    from acscontract.ram._lint._facts import ACCOUNT, PREFIX, RELATIVE, SERVICE, parse_arn

    parts = parse_arn(text)
    if text.count(":") < 4:
        assert parts is None
        return
    assert parts is not None
    assert type(parts) is tuple
    assert len(parts) == 5
    assert ":".join(parts) == text
    assert ":" not in parts[PREFIX] + parts[SERVICE] + parts[ACCOUNT]
    assert parts[RELATIVE] == text.split(":", 4)[4]
