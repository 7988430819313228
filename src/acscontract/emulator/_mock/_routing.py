"""Which URLs a mock answers, which it refuses, and which it lets reach the network.

Everything here is derived from the spec: the product's endpoint list (`product.yaml`, the
official metadata's list), and the protocol's endpoint rules, which name every regional and VPC
endpoint (`live.<region>.aliyuncs.com`, `live-vpc.<region>.aliyuncs.com`) and the domain all
Alibaba Cloud endpoints live under.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from acscontract.emulator._mock._core import DEFAULT_PORTS
from acscontract.spec import EndpointRules, Operation, operation

__all__ = ["Passthrough", "Routing", "live_endpoints", "live_host_patterns"]

Passthrough = bool | str | re.Pattern[str] | Sequence[str | re.Pattern[str]]

#: A host as it may appear in a URL: any case, optionally with the trailing dot of an FQDN.
_TRAILING_DOT: Final = r"\.?"


def live_endpoints(spec: Operation | None = None) -> tuple[str, ...]:
    """The product's listed endpoints: the default one and the one of every listed region."""
    product = (spec or operation()).product
    return tuple(dict.fromkeys([product.default_endpoint, *product.endpoints.values()]))


def live_host_patterns(spec: Operation | None = None) -> tuple[str, ...]:
    """Regexes for the product's hosts: the listed endpoints and the protocol's endpoint rules."""
    op = spec or operation()
    listed = tuple(re.escape(host) for host in live_endpoints(op))
    rules = op.product.protocol.endpoint_rules
    generated = rules.host_patterns(op.product.name) if rules is not None else ()
    return tuple(dict.fromkeys((*listed, *generated)))


def _url_pattern(host_pattern: str, scheme: str | None, port: int | None, path: str = "") -> str:
    """A regex for the URLs of one host pattern: a scheme (any http(s) when None) and a port
    (any when neither is given; the scheme's default port may be written or left out)."""
    scheme_pattern = "https?" if scheme is None else re.escape(scheme)
    default_port = None if scheme is None else DEFAULT_PORTS[scheme]
    if port is None and default_port is None:
        port_pattern = r"(?::\d+)?"
    elif port is None or port == default_port:
        port_pattern = f"(?::{default_port})?"
    else:
        port_pattern = f":{port}"
    return (
        f"{scheme_pattern}://(?:[^/?#@]*@)?(?:{host_pattern}){_TRAILING_DOT}{port_pattern}"
        f"{re.escape(path)}(?:[/?#]|$)"
    )


def _endpoint_pattern(endpoint: str) -> str:
    """A regex for the URLs one user-given endpoint stands for.

    A bare host (`live.test`) matches every scheme and port; `host:port` only that port; a URL
    (`http://127.0.0.1:8080/base`) its scheme, port (the default one when none is written) and
    path prefix.
    """
    try:
        return _parsed_endpoint_pattern(endpoint)
    except ValueError as error:
        if str(error).startswith("mock_live "):
            raise
        raise ValueError(
            f"mock_live cannot intercept {endpoint!r}: {error}. Give a host name (optionally "
            "with a port) or an http(s):// URL."
        ) from None


def _parsed_endpoint_pattern(endpoint: str) -> str:
    text = endpoint.strip()
    if not text:
        raise ValueError("mock_live was given an empty endpoint; pass a host name or a URL.")
    if "://" in text:
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ValueError(
                f"mock_live cannot intercept {endpoint!r}: an endpoint URL must be http:// or "
                "https:// with a host name."
            )
        return _url_pattern(
            _host_literal(parts.hostname), scheme, parts.port, parts.path.rstrip("/")
        )
    probe = urlsplit("//" + text)
    if not probe.hostname or probe.path not in ("", "/"):
        raise ValueError(
            f"mock_live cannot intercept {endpoint!r}: give a host name (optionally with a "
            "port) or an http(s):// URL."
        )
    return _url_pattern(_host_literal(probe.hostname), None, probe.port)


def _host_literal(host: str) -> str:
    host = host.rstrip(".")
    return re.escape(f"[{host}]" if ":" in host else host)


def _host_of(url: str) -> tuple[str, str, str]:
    """The lower-cased host (no trailing dot), the `scheme://host[:port]` and the path of a URL:
    what a message may show of it (never the userinfo or the query)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL a library could have sent; say so without its contents
        return "", "<an unparsable URL>", ""
    host = (parts.hostname or "").rstrip(".")
    try:
        port = parts.port
    except ValueError:
        port = None
    shown = f"[{host}]" if ":" in host else host
    origin = f"{parts.scheme}://{shown}" + (f":{port}" if port is not None else "")
    return host, origin, parts.path or "/"


@dataclass(frozen=True, slots=True)
class Routing:
    """The URL rules of one mock: which URLs it answers, and what may reach the network."""

    live: re.Pattern[str]
    passthrough: bool
    passthrough_prefixes: tuple[str | re.Pattern[str], ...]
    #: The protocol's endpoint rules: the domain every endpoint lives under (`aliyuncs.com`).
    provider: EndpointRules | None
    #: Hosts under that domain that may reach the real service anyway.
    provider_passthrough: frozenset[str]

    @classmethod
    def build(
        cls,
        spec: Operation | None,
        endpoints: Iterable[str],
        passthrough: Passthrough,
        alibaba_passthrough: Iterable[str],
    ) -> Routing:
        op = spec or operation()
        patterns = [_url_pattern(host, None, None) for host in live_host_patterns(op)]
        patterns += [_endpoint_pattern(endpoint) for endpoint in dict.fromkeys(endpoints)]
        live = re.compile("^(?:" + "|".join(patterns) + ")", re.IGNORECASE)
        rules = op.product.protocol.endpoint_rules
        if isinstance(alibaba_passthrough, str):
            alibaba_passthrough = (alibaba_passthrough,)
        allowed = frozenset(h.strip().lower().rstrip(".") for h in alibaba_passthrough)
        for host in allowed:
            if not host or "/" in host or ":" in host:
                raise ValueError(
                    f"mock_live was given alibaba_passthrough={host!r}; give host names only "
                    "(for example 'oss-cn-shanghai.aliyuncs.com'), without scheme, port or path."
                )
        if isinstance(passthrough, bool):
            return cls(live, passthrough, (), rules, allowed)
        if isinstance(passthrough, str | re.Pattern):
            prefixes: tuple[str | re.Pattern[str], ...] = (passthrough,)
        else:
            prefixes = tuple(passthrough) if isinstance(passthrough, Iterable) else (passthrough,)
        for prefix in prefixes:
            if not isinstance(prefix, str | re.Pattern):
                raise ValueError(
                    f"mock_live was given passthrough={passthrough!r}; pass True, False, or URL "
                    "prefixes (strings or compiled regular expressions)."
                )
        return cls(live, False, prefixes, rules, allowed)

    def is_live(self, url: str) -> bool:
        """Whether the mock answers this URL."""
        return self.live.match(url) is not None

    def refuses(self, url: str) -> bool:
        """Whether a request to `url` that would reach the network must be refused instead."""
        host = _host_of(url)[0]
        if self.provider is not None and self.provider.is_under_domain(host):
            return host not in self.provider_passthrough
        return not self._may_pass(url)

    def refusal(self, method: str, url: str) -> str:
        """The message of the connection error a refused request gets (no query, no userinfo)."""
        host, origin, path = _host_of(url)
        if self.provider is not None and self.provider.is_under_domain(host):
            return (
                f"mock_live refused {method} {origin}{path}: {host} is an Alibaba Cloud endpoint "
                f"(under {self.provider.domain}) that this mock does not answer, and mock_live "
                "never lets such a call reach the real service with whatever credentials it "
                f"carries. Pass endpoints=[{host!r}] to have the emulator answer it, or "
                f"alibaba_passthrough=[{host!r}] to let it reach the network."
            )
        return (
            f"mock_live refused {method} {origin}{path}: it is not a Live endpoint and "
            "passthrough does not allow it to reach the network. Pass passthrough=True, or a "
            "list of URL prefixes, to let it through; or add it to endpoints=... to send it to "
            "the emulator."
        )

    def _may_pass(self, url: str) -> bool:
        if self.passthrough:
            return True
        return any(
            p.match(url) is not None if isinstance(p, re.Pattern) else url.startswith(p)
            for p in self.passthrough_prefixes
        )

    def describe_passthrough(self) -> bool | list[str]:
        """The passthrough setting as given (for reprs)."""
        return self.passthrough or [
            p.pattern if isinstance(p, re.Pattern) else p for p in self.passthrough_prefixes
        ]
