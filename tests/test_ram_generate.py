"""`ram generate`: the least-privilege policy, built from the catalog, and its input checks."""

from __future__ import annotations

import json

import pytest

from acscontract.errors import UsageError
from acscontract.ram import (
    MAX_POLICY_CHARACTERS,
    Evaluator,
    check_grammar,
    generate,
    generate_json,
    parse,
)
from acscontract.spec import action_catalog

ACCOUNT = "1234567890123456"
ENTRY = action_catalog().entries["live:realtimerecordcommand"]
(RESOURCE_TYPE,) = ENTRY.resource_types


def arn(domain: str, account: str = ACCOUNT) -> str:
    return RESOURCE_TYPE.arn(accountId=account, DomainName=domain)


def evaluator(text: str) -> Evaluator:
    result = parse(text, name="generated.json")
    assert result.document is not None
    assert check_grammar(result.document) == ()
    return Evaluator([result])


def test_the_policy_allows_exactly_the_action_on_the_named_domains() -> None:
    policy = generate(ACCOUNT, ["live.example.com", "backup.example.com"])
    assert policy == {
        "Version": "1",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ENTRY.action,
                "Resource": [arn("live.example.com"), arn("backup.example.com")],
            }
        ],
    }
    ev = evaluator(json.dumps(policy))
    assert ev.is_allowed(ENTRY.action, arn("live.example.com"))
    assert ev.is_allowed(ENTRY.action.upper(), arn("backup.example.com"))
    assert not ev.is_allowed(ENTRY.action, arn("other.example.com"))
    assert not ev.is_allowed(ENTRY.action, arn("live.example.com", "9999999999999999"))
    assert not ev.is_allowed("live:AddLiveDomain", arn("live.example.com"))


def test_the_arn_comes_from_the_catalog_template() -> None:
    (resource,) = generate(ACCOUNT, ["live.example.com"])["Statement"][0]["Resource"]
    expected = RESOURCE_TYPE.arn_template.replace("{#accountId}", ACCOUNT).replace(
        "{#DomainName}", "live.example.com"
    )
    assert resource == expected
    assert resource.startswith("acs:cdn:")


def test_source_ranges_and_tls_become_conditions() -> None:
    text = generate_json(
        ACCOUNT,
        ["live.example.com"],
        source_ips=["203.0.113.0/24", "2001:db8::/32", "203.0.113.0/24"],
        require_tls=True,
    )
    condition = json.loads(text)["Statement"][0]["Condition"]
    assert condition == {
        "IpAddress": {"acs:SourceIp": ["203.0.113.0/24", "2001:db8::/32"]},
        "Bool": {"acs:SecureTransport": "true"},
    }
    ev = evaluator(text)
    good = {"acs:SourceIp": "203.0.113.7", "acs:SecureTransport": "true"}
    assert ev.is_allowed(ENTRY.action, arn("live.example.com"), good)
    assert ev.is_allowed(
        ENTRY.action, arn("live.example.com"), {**good, "acs:SourceIp": "2001:db8::5"}
    )
    assert not ev.is_allowed(
        ENTRY.action, arn("live.example.com"), {**good, "acs:SourceIp": "192.0.2.1"}
    )
    assert not ev.is_allowed(
        ENTRY.action, arn("live.example.com"), {**good, "acs:SecureTransport": "false"}
    )
    assert not ev.is_allowed(ENTRY.action, arn("live.example.com"), {})


def test_domains_are_normalized_and_deduplicated() -> None:
    policy = generate(ACCOUNT, ["Live.Example.com.", "live.example.com", " b.example.com "])
    assert policy["Statement"][0]["Resource"] == [arn("live.example.com"), arn("b.example.com")]


@pytest.mark.parametrize(
    ("account", "domains", "source_ips", "message"),
    [
        ("123456789012345", ["a.example.com"], [], "not an Alibaba Cloud account id"),
        ("12345678901234567", ["a.example.com"], [], "16 digits"),
        ("123456789012345x", ["a.example.com"], [], "16 digits"),
        (ACCOUNT, [], [], "at least one --domain"),
        (ACCOUNT, ["localhost"], [], "not a fully qualified domain name"),
        (ACCOUNT, ["-bad.example.com"], [], "not a fully qualified domain name"),
        (ACCOUNT, ["a..example.com"], [], "not a fully qualified domain name"),
        (ACCOUNT, ["a_b.example.com"], [], "not a fully qualified domain name"),
        (ACCOUNT, ["203.0.113.7"], [], "not a fully qualified domain name"),
        (ACCOUNT, ["x" * 64 + ".example.com"], [], "not a fully qualified domain name"),
        (ACCOUNT, ["*.example.com"], [], "contains a wildcard"),
        (ACCOUNT, ["a.example.com"], ["203.0.113.0/33"], "not an IP address or CIDR"),
        (ACCOUNT, ["a.example.com"], ["203.0.113.7/24"], "write the block as 203.0.113.0/24"),
        (ACCOUNT, ["a.example.com"], ["10.0.0.0/8"], "non-public range"),
        (ACCOUNT, ["a.example.com"], ["192.168.1.0/24"], "non-public range"),
        (ACCOUNT, ["a.example.com"], ["fd00::/8"], "non-public range"),
    ],
)
def test_invalid_input_is_a_clear_usage_error(
    account: str, domains: list[str], source_ips: list[str], message: str
) -> None:
    with pytest.raises(UsageError, match=message) as info:
        generate(account, domains, source_ips=source_ips)
    assert str(info.value).endswith(".")


def test_an_unknown_action_is_refused() -> None:
    with pytest.raises(UsageError, match="not a catalogued action"):
        generate(ACCOUNT, ["a.example.com"], action="live:AddLiveDomain")
    assert (
        generate(ACCOUNT, ["a.example.com"], action=ENTRY.action.lower())["Statement"][0]["Action"]
        == ENTRY.action
    )


def test_output_stays_within_the_size_limit() -> None:
    few = generate_json(ACCOUNT, ["a.example.com"])
    assert "\n  " in few
    many = [f"stream-{i:03d}.example.com" for i in range(95)]
    compact = generate_json(ACCOUNT, many)
    assert len(compact) - 1 <= MAX_POLICY_CHARACTERS
    assert "\n  " not in compact
    assert len(json.loads(compact)["Statement"][0]["Resource"]) == 95
    with pytest.raises(UsageError, match="split the domains"):
        generate_json(ACCOUNT, [f"stream-{i:04d}.example.com" for i in range(200)])
