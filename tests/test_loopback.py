"""acscontract._loopback: the one predicate that says whether a host is this machine."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.provisional import domains

from acscontract._loopback import host_of, is_ip_literal, is_loopback_host, is_loopback_url


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LocalHost", True),
        ("127.0.0.1", True),
        ("127.255.0.9", True),
        ("::1", True),
        ("[::1]", True),
        ("0:0:0:0:0:0:0:1", True),
        ("::1%lo", True),  # a zone does not change the address
        ("::ffff:127.0.0.1", True),
        ("[::FFFF:7F00:1]", True),
        ("0.0.0.0", False),  # noqa: S104 - a name, not a bind
        ("::", False),
        ("10.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        # Names other than `localhost` itself: resolvers need not keep them on this machine.
        ("app.localhost", False),
        ("localhost.", False),
        ("localhost.evil.example", False),
        ("127.0.0.1.nip.io", False),
        # IPv4 shorthands the C library would accept: not read as addresses, so not loopback.
        ("127.1", False),
        ("2130706433", False),
        ("0x7f.0.0.1", False),
        ("127.0.0.1.", False),
        ("", False),
        (None, False),
    ],
)
def test_is_loopback_host(host, loopback):
    assert is_loopback_host(host) is loopback


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8080", True),
        ("http://127.8.9.1", True),
        ("http://localhost", True),
        ("HTTP://LOCALHOST:1/path", True),
        ("http://[::1]:9", True),
        ("http://user:pw@127.0.0.1:9", True),
        ("127.0.0.1:8765", True),  # an endpoint written without a scheme
        ("localhost", True),
        ("https://live.aliyuncs.com", False),
        ("live.aliyuncs.com", False),
        ("http://10.0.0.1", False),
        ("http://127.0.0.1@evil.example", False),  # userinfo, then the real host
        ("http://app.localhost:8080", False),
        ("http://[::1", False),  # not a URL
        ("", False),
    ],
)
def test_is_loopback_url(url, loopback):
    assert is_loopback_url(url) is loopback


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


@given(st.ip_addresses(), st.integers(0, 65535), st.sampled_from(["http", "https"]))
def test_every_ip_literal_is_judged_by_its_address_however_it_is_written(address, port, scheme):
    netloc = f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"
    host = host_of(netloc)
    assert ipaddress.ip_address(host) == address
    assert is_ip_literal(host)
    mapped = getattr(address, "ipv4_mapped", None)
    expected = address.is_loopback or bool(mapped and mapped.is_loopback)
    assert is_loopback_host(host) is expected
    assert is_loopback_url(f"{scheme}://{netloc}/") is expected
    assert is_loopback_url(netloc) is expected


@given(domains())
def test_no_dns_name_but_localhost_is_loopback(name):
    assert is_loopback_host(name) is (name.lower() == "localhost")
    assert is_loopback_url(f"https://{name}") is (name.lower() == "localhost")
