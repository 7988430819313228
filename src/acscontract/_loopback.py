"""Which hosts are this machine: the one loopback predicate every part of acscontract shares.

It imports nothing from acscontract, so the emulator, the contracts and the probe can all use it.
"""

from __future__ import annotations

import ipaddress

__all__ = ["host_of", "is_ip_literal", "is_loopback_host"]


def host_of(netloc: str) -> str:
    """The host of a `Host` header or URL netloc: no port, no IPv6 brackets, lower-cased.

    `127.0.0.1:8765` -> `127.0.0.1`, `[::1]:80` -> `::1`, `LocalHost` -> `localhost`. Userinfo
    (`user@host`) is dropped.
    """
    text = netloc.strip().rpartition("@")[2]
    if text.startswith("["):
        inner, bracket, _ = text[1:].partition("]")
        return inner.lower() if bracket else text.lower()
    if text.count(":") == 1:  # host:port (a bare IPv6 literal has several colons)
        text = text.partition(":")[0]
    return text.lower()


def is_ip_literal(host: str) -> bool:
    """Whether `host` (without port or brackets) is an IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_loopback_host(host: str | None) -> bool:
    """Whether `host` (without port; brackets allowed) is `localhost` or a loopback address.

    Loopback addresses are 127.0.0.0/8, ::1 and IPv4-mapped 127.0.0.0/8 (`::ffff:127.0.0.1`).
    Other names are not loopback, even if they resolve to it today: a name can be rebound.
    """
    if not host:
        return False
    name = host.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback
