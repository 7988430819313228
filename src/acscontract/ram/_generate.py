"""The least-privilege identity policy for a catalogued action on named domains.

Everything specific to the action (its name, its resource type's ARN template, the condition keys)
comes from the catalog; the generator only fills the template's placeholders.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Sequence
from typing import Any

from acscontract.errors import UsageError
from acscontract.ram._language import MAX_POLICY_CHARACTERS, VERSION
from acscontract.spec import ActionCatalog, CatalogEntry, ConditionKey, action_catalog

__all__ = ["generate", "generate_json", "validate_account", "validate_domain"]

_ACCOUNT = re.compile(r"\d{16}")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")

# Addresses a request from the Internet never has: acs:SourceIp is the public address RAM sees,
# so a policy limited to one of these ranges denies every call. (The documentation ranges such as
# 203.0.113.0/24 are allowed: they are what examples use.)
_NON_PUBLIC = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "224.0.0.0/4",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
)


def validate_account(account: str) -> str:
    """The account id if it is 16 digits; UsageError otherwise."""
    account = account.strip()
    if not _ACCOUNT.fullmatch(account):
        raise UsageError(
            f"The account id {account!r} is not an Alibaba Cloud account id; give the 16 digits "
            "of the account that owns the domains (for example 1234567890123456)."
        )
    return account


def validate_domain(domain: str) -> str:
    """The domain, lower-cased and without a trailing dot, if it is a fully qualified domain
    name; UsageError otherwise."""
    name = domain.strip().rstrip(".").lower()
    if "*" in name or "?" in name:
        raise UsageError(
            f"The domain {domain!r} contains a wildcard; the generated policy names each domain "
            "exactly. List the domains, or write a policy with wildcards by hand and review it "
            "with `acscontract ram lint`."
        )
    labels = name.split(".")
    if (
        len(name) > 253
        or len(labels) < 2
        or not all(_LABEL.fullmatch(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise UsageError(
            f"The domain {domain!r} is not a fully qualified domain name; give the streaming "
            "domain as configured in ApsaraVideo Live, such as live.example.com."
        )
    return name


def _network(text: str) -> str:
    try:
        network = ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as exc:
        try:
            loose = ipaddress.ip_network(text.strip(), strict=False)
        except ValueError:
            raise UsageError(
                f"--source-ip {text!r} is not an IP address or CIDR block ({exc}); write for "
                "example 203.0.113.0/24."
            ) from None
        raise UsageError(
            f"--source-ip {text!r} has host bits set; write the block as {loose}."
        ) from None
    if any(network.version == n.version and network.overlaps(n) for n in _NON_PUBLIC):
        raise UsageError(
            f"--source-ip {text!r} is a private, loopback or otherwise non-public range; RAM "
            "compares the public address a request comes from, so such a policy would deny "
            "every call. Give the public ranges of your offices or NAT gateways."
        )
    return str(network)


def _entry(catalog: ActionCatalog, action: str | None) -> CatalogEntry:
    if action is None:
        entries = list(catalog.entries.values())
        if len(entries) != 1:
            names = ", ".join(sorted(e.action for e in entries))
            raise UsageError(f"Name the action to generate a policy for; the catalog has {names}.")
        return entries[0]
    entry = catalog.entry(action)
    if entry is None:
        names = ", ".join(sorted(e.action for e in catalog.entries.values()))
        raise UsageError(
            f"{action!r} is not a catalogued action, so its resource type is unknown; choose one "
            f"of {names}."
        )
    return entry


def _key(catalog: ActionCatalog, entry: CatalogEntry, type_: str, suffix: str) -> ConditionKey:
    for key in (*entry.condition_keys, *catalog.global_condition_keys):
        if key.type == type_ and key.prefix is None and key.key.endswith(suffix):
            return key
    raise UsageError(
        f"The catalog has no condition key of type {type_} named *{suffix}, so the generator "
        "cannot add that condition."
    )


def generate(
    account: str,
    domains: Sequence[str],
    *,
    source_ips: Sequence[str] = (),
    require_tls: bool = False,
    action: str | None = None,
    catalog: ActionCatalog | None = None,
) -> dict[str, Any]:
    """The least-privilege policy (as a JSON-ready dict) allowing `action` (default: the only
    catalogued action) on exactly `domains` of `account`, optionally only from `source_ips` and
    only over HTTPS. UsageError for an invalid account id, domain or address range."""
    catalog = catalog if catalog is not None else action_catalog()
    entry = _entry(catalog, action)
    account = validate_account(account)
    if not domains:
        raise UsageError("Give at least one --domain; the policy allows the action only on them.")
    names = list(dict.fromkeys(validate_domain(d) for d in domains))
    resources: list[str] = []
    for rt in entry.resource_types:
        holders = rt.placeholders
        account_ph = [p for p in holders if p.lower() == "accountid"]
        other = [p for p in holders if p.lower() != "accountid"]
        if len(account_ph) != 1 or len(other) != 1:
            raise UsageError(
                f"The resource type {rt.type} of {entry.action} has the ARN template "
                f"{rt.arn_template}; the generator fills only an account id and one name."
            )
        for name in names:
            resources.append(rt.arn(**{account_ph[0]: account, other[0]: name}))
    if not resources:
        raise UsageError(f"{entry.action} has no resource type in the catalog to restrict.")
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Action": entry.action,
        "Resource": resources,
    }
    condition: dict[str, Any] = {}
    if source_ips:
        key = _key(catalog, entry, "ip", "SourceIp")
        condition["IpAddress"] = {key.key: list(dict.fromkeys(_network(c) for c in source_ips))}
    if require_tls:
        key = _key(catalog, entry, "bool", "SecureTransport")
        condition["Bool"] = {key.key: "true"}
    if condition:
        statement["Condition"] = condition
    return {"Version": VERSION, "Statement": [statement]}


def generate_json(
    account: str,
    domains: Sequence[str],
    *,
    source_ips: Sequence[str] = (),
    require_tls: bool = False,
    action: str | None = None,
    catalog: ActionCatalog | None = None,
) -> str:
    """`generate` as JSON text, indented when that fits RAM's size limit, compact otherwise."""
    policy = generate(
        account,
        domains,
        source_ips=source_ips,
        require_tls=require_tls,
        action=action,
        catalog=catalog,
    )
    text = json.dumps(policy, indent=2) + "\n"
    if len(text) <= MAX_POLICY_CHARACTERS:
        return text
    compact = json.dumps(policy, separators=(",", ":")) + "\n"
    if len(compact) - 1 <= MAX_POLICY_CHARACTERS:
        return compact
    raise UsageError(
        f"The policy for {len(domains)} domains is {len(compact) - 1:,} characters, over RAM's "
        f"limit of {MAX_POLICY_CHARACTERS:,}; split the domains over several policies."
    )
