"""The RAM policy language itself: element names, condition operators and value syntax.

One place for what the grammar checks, the evaluator and the diff must agree on.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Literal

__all__ = [
    "DOCUMENT_ELEMENTS",
    "EFFECTS",
    "MAX_POLICY_CHARACTERS",
    "OPERATORS",
    "STATEMENT_ELEMENTS",
    "IpNetwork",
    "OperatorSpec",
    "OperatorType",
    "parse_bool",
    "parse_date",
    "parse_ip",
    "parse_network",
    "parse_number",
]

OperatorType = Literal["string", "number", "date", "bool", "ip"]
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddr = ipaddress.IPv4Address | ipaddress.IPv6Address

DOCUMENT_ELEMENTS = ("Version", "Statement")
STATEMENT_ELEMENTS = (
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
    "Principal",
    "Sid",
)
EFFECTS = ("Allow", "Deny")
VERSION = "1"
MAX_POLICY_CHARACTERS = 6144


@dataclass(frozen=True, slots=True)
class OperatorSpec:
    """A condition operator: the type it compares, how, and whether it is a negation.

    `test` is one of equals, equals-ignore-case, like, less, less-equals, greater,
    greater-equals, in-network. A negated operator is true exactly when its positive
    counterpart (`positive`) is false.
    """

    name: str
    type: OperatorType
    test: str
    negated: bool
    positive: str


def _ops() -> dict[str, OperatorSpec]:
    table: dict[str, OperatorSpec] = {}

    def add(name: str, type_: OperatorType, test: str, positive: str | None = None) -> None:
        table[name] = OperatorSpec(name, type_, test, positive is not None, positive or name)

    add("StringEquals", "string", "equals")
    add("StringNotEquals", "string", "equals", "StringEquals")
    add("StringEqualsIgnoreCase", "string", "equals-ignore-case")
    add("StringNotEqualsIgnoreCase", "string", "equals-ignore-case", "StringEqualsIgnoreCase")
    add("StringLike", "string", "like")
    add("StringNotLike", "string", "like", "StringLike")
    for family, type_ in (("Numeric", "number"), ("Date", "date")):
        t: OperatorType = "number" if type_ == "number" else "date"
        add(f"{family}Equals", t, "equals")
        add(f"{family}NotEquals", t, "equals", f"{family}Equals")
        add(f"{family}LessThan", t, "less")
        add(f"{family}LessThanEquals", t, "less-equals")
        add(f"{family}GreaterThan", t, "greater")
        add(f"{family}GreaterThanEquals", t, "greater-equals")
    add("Bool", "bool", "equals")
    add("IpAddress", "ip", "in-network")
    add("NotIpAddress", "ip", "in-network", "IpAddress")
    return table


OPERATORS: dict[str, OperatorSpec] = _ops()
_OPERATORS_LOWER = {name.lower(): name for name in OPERATORS}


def operator_suggestion(name: str) -> str | None:
    """A supported operator `name` was probably meant to be (case or suffix slips), or None."""
    exact = _OPERATORS_LOWER.get(name.lower())
    if exact is not None:
        return exact
    for suffix in ("IfExists",):
        if name.endswith(suffix) and name[: -len(suffix)] in OPERATORS:
            return name[: -len(suffix)]
    for prefix in ("ForAnyValue:", "ForAllValues:"):
        if name.startswith(prefix) and name[len(prefix) :] in OPERATORS:
            return name[len(prefix) :]
    return None


_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


@functools.lru_cache(maxsize=4096)
def parse_number(text: str) -> Decimal | None:
    """A decimal number (`10`, `-2.5`, `1e3`), or None. NaN and infinities are not numbers."""
    if len(text) > 100 or _NUMBER.fullmatch(text.strip()) is None:
        return None
    try:
        return Decimal(text.strip())
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        return None


_DATE_HINT = re.compile(r"\d{4}-?\d{2}-?\d{2}")


@functools.lru_cache(maxsize=4096)
def parse_date(text: str) -> datetime | None:
    """An ISO-8601 date or date-time, as an aware datetime, or None.

    A date alone means midnight; a time without an offset is taken as UTC; `Z` means UTC.
    """
    text = text.strip()
    if len(text) > 64 or _DATE_HINT.match(text) is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def parse_bool(text: str, *, strict: bool = True) -> bool | None:
    """`true` or `false` (exactly, when `strict`; in any case otherwise), or None."""
    if not strict:
        text = text.strip().lower()
    if text == "true":
        return True
    if text == "false":
        return False
    return None


def _unmap(address: IpAddr) -> IpAddr:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@functools.lru_cache(maxsize=4096)
def parse_ip(text: str) -> IpAddr | None:
    """An IPv4 or IPv6 address (an IPv4-mapped IPv6 address counts as its IPv4 address)."""
    try:
        return _unmap(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


_IPV4 = re.compile(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:/(\d{1,2}))?", re.ASCII)


@functools.lru_cache(maxsize=4096)
def parse_network(text: str) -> IpNetwork | None:
    """An address or CIDR block (host bits may be set: `203.0.113.7/24` means 203.0.113.0/24)."""
    text = text.strip()
    quad = _IPV4.fullmatch(text)
    if quad is not None:  # the common case, without ipaddress's string parser
        parts = quad.groups()
        if not any(len(p) > 1 and p[0] == "0" for p in parts if p is not None):
            a, b, c, d = (int(p) for p in parts[:4])
            prefix = int(parts[4]) if parts[4] is not None else 32
            if max(a, b, c, d) <= 255 and prefix <= 32:
                return ipaddress.IPv4Network(((a << 24) | (b << 16) | (c << 8) | d, prefix), False)
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    if isinstance(network, ipaddress.IPv6Network) and "/" not in text:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            return ipaddress.IPv4Network(mapped)
    return network


def canonical_value(value: object) -> str | None:
    """A condition value as the text RAM would compare: strings as is, unquoted numbers and
    booleans as their JSON spelling; None for anything else (null, arrays, objects)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    return None
