"""Which hosts are this machine: the one loopback predicate every part of acscontract shares.

It decides where safety rules may relax: the served emulator's admin API without a token, an
endpoint that is not paced, a session that ignores the environment's proxies. So it errs on the
side of "not this machine". Loopback is:

- the name `localhost`, in any case, and nothing else by name. Not `*.localhost` and not
  `localhost.` (trailing dot): resolvers are not bound to send those to loopback, and a name can
  be rebound;
- an IP literal in 127.0.0.0/8, `::1`, or IPv4-mapped 127.0.0.0/8 (`::ffff:127.0.0.1`), with or
  without IPv6 brackets and zone (`[::1]`, `::1%lo`). Only the four-part dotted form counts for
  IPv4: `127.1` or `2130706433` are not read as addresses (the C library would), so they are not
  loopback.

It imports nothing from acscontract, so every layer may use it.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

__all__ = ["host_of", "is_ip_literal", "is_loopback_host", "is_loopback_url"]


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
    """Whether `host` (without port; brackets allowed) is this machine, as the module defines it."""
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


def is_loopback_url(url: str) -> bool:
    """Whether the host of `url` is this machine. A URL without a scheme (`host:port`, or a bare
    host as an endpoint is written) is read as a host."""
    try:
        host = urlsplit(url if "://" in url else f"//{url}").hostname
    except ValueError:  # an unbalanced bracket
        return False
    return is_loopback_host(host)
