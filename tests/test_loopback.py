"""acscontract._loopback: the one predicate that says whether a host is this machine."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acscontract._loopback import host_of, is_ip_literal, is_loopback_host


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LocalHost", True),
        ("127.0.0.1", True),
        ("127.255.0.9", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("0.0.0.0", False),  # noqa: S104 - a name, not a bind
        ("10.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("localhost.evil.example", False),
        ("127.0.0.1.nip.io", False),
        ("", False),
        (None, False),
    ],
)
def test_is_loopback_host(host, loopback):
    assert is_loopback_host(host) is loopback


@pytest.mark.parametrize(
    ("netloc", "host"),
    [
        ("127.0.0.1:8765", "127.0.0.1"),
        ("[::1]:80", "::1"),
        ("[::1]", "::1"),
        ("::1", "::1"),
        ("LocalHost:1", "localhost"),
        ("user@example.com:443", "example.com"),
        ("example.com", "example.com"),
    ],
)
def test_host_of_strips_port_brackets_and_userinfo(netloc, host):
    assert host_of(netloc) == host


@given(st.ip_addresses())
def test_every_ip_literal_with_a_port_is_read_back(address):
    netloc = f"[{address}]:8765" if address.version == 6 else f"{address}:8765"
    host = host_of(netloc)
    assert ipaddress.ip_address(host) == address
    assert is_ip_literal(host)
    mapped = getattr(address, "ipv4_mapped", None)
    assert is_loopback_host(host) == (address.is_loopback or bool(mapped and mapped.is_loopback))
