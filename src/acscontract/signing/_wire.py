"""The transport-neutral request value, and the percent-encoding rules signing is built on."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import urlsplit

from acscontract.errors import UsageError
from acscontract.signing._names import Header, Param

__all__ = [
    "FORM_CONTENT_TYPE",
    "WireRequest",
    "decode_pairs",
    "encode_pairs",
    "percent_encode",
    "redact_headers",
    "redact_query",
]

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"

_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")
_MASK = "***"
_SECRET_PARAMS = frozenset({Param.SIGNATURE.value, Param.SECURITY_TOKEN.value})
_SIGNATURE_IN_AUTHORIZATION = re.compile(r"(Signature=)[^,\s]*")


def percent_encode(text: str) -> str:
    """RFC 3986 encoding of UTF-8 text: only `A-Za-z0-9-_.~` stay as they are, space is `%20`."""
    if _UNRESERVED.fullmatch(text):
        return text
    return _percent_encode_bytes(text.encode("utf-8"))


_UNRESERVED_SET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
_OCTET_ESCAPES = tuple(chr(b) if b in _UNRESERVED_SET else f"%{b:02X}" for b in range(256))


def _percent_encode_bytes(raw: bytes) -> str:
    if not raw.rstrip(_UNRESERVED_SET):  # every octet is unreserved (a C-speed test)
        return raw.decode("ascii")
    return "".join([_OCTET_ESCAPES[b] for b in raw])


# `%XX` (either case) -> the octet, for the escapes a query or form body carries.
_HEX_OCTETS = {
    f"{a}{b}".encode(): bytes([int(f"{a}{b}", 16)])
    for a in "0123456789abcdefABCDEF"
    for b in "0123456789abcdefABCDEF"
}


# Octet values: `int in bytes` is a memchr, while `bytes in bytes` first tries the operand as an
# integer, and the TypeError it raises and clears costs more than the search.
_PERCENT, _PLUS = ord("%"), ord("+")


def _unquote_plus(raw: bytes) -> bytes:
    """`+` as space, `%XX` as its octet; a `%` not followed by two hex digits stays as it is."""
    if _PLUS in raw:
        raw = raw.replace(b"+", b" ")
    if _PERCENT not in raw:
        return raw
    first, *rest = raw.split(b"%")
    out = [first]
    for item in rest:
        octet = _HEX_OCTETS.get(item[:2])
        if octet is None:
            out.append(b"%")
            out.append(item)
        else:
            out.append(octet)
            out.append(item[2:])
    return b"".join(out)


def _decode_raw_pairs(raw: bytes) -> list[tuple[bytes, bytes]]:
    piece_pair = _piece_pair
    return [piece_pair(piece) for piece in raw.split(b"&") if piece]


# A server sees the same `key=value` pieces in request after request (the names, the action,
# the version, the domain, a timestamp for a second): their decoding is remembered for the most
# recent ones. A pure function of the piece, bounded; the pairs it returns are never changed.
@functools.lru_cache(maxsize=4096)
def _piece_pair(piece: bytes) -> tuple[bytes, bytes]:
    key, _, value = piece.partition(b"=")
    if _PERCENT in piece or _PLUS in piece:
        return _unquote_plus(key), _unquote_plus(value)
    return key, value


@functools.lru_cache(maxsize=4096)
def text_pair(pair: tuple[bytes, bytes]) -> tuple[str, str]:
    """An octet pair as text (bytes that are not UTF-8 become U+FFFD), remembered like
    `_piece_pair`'s."""
    return pair[0].decode("utf-8", "replace"), pair[1].decode("utf-8", "replace")


def decode_pairs(raw: str | bytes) -> list[tuple[str, str]]:
    """Decode a query string or form body as a server receives it.

    `+` and `%20` both mean space, anything else a client left raw (`*`, `~`, `/`, `:`) is taken
    as is, and a piece without `=` is a key with an empty value. Repeated keys stay repeated, in
    wire order. Bytes that are not UTF-8 become U+FFFD.
    """
    data = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")
    return [text_pair(pair) for pair in _decode_raw_pairs(data)]


def encode_pairs(pairs: Iterable[tuple[str, str]]) -> str:
    """A query string for `pairs`, in their order, each key and value percent-encoded."""
    try:
        return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in pairs)
    except UnicodeEncodeError as exc:
        raise UsageError(
            "A request parameter holds a lone surrogate character, which cannot be sent as "
            "UTF-8; pass well-formed text."
        ) from exc


def _octet_pairs(raw: str | bytes) -> list[tuple[bytes, bytes]]:
    data = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")
    return _decode_raw_pairs(data)


def body_over_query(
    query: list[tuple[bytes, bytes]], body: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """The V1 signed set: query and form-body parameters, a body key replacing that query key.

    Both official SDKs build the signed set as a dict merge of the body over the query, so a key
    sent in both places is signed with its body value only.
    """
    if not body:
        return query
    body_keys = {k for k, _ in body}
    return [p for p in query if p[0] not in body_keys] + body


# Names and most values recur from one request to the next (a timestamp for a second): their
# canonical encoding is remembered for the most recent ones. A pure function, bounded.
percent_encode_octets = functools.lru_cache(maxsize=1024)(_percent_encode_bytes)
"""RFC 3986 encoding of octets, as `canonical_query` encodes each side of a pair."""


def canonical_query(pairs: Iterable[tuple[bytes, bytes]]) -> str:
    """Sorted `key=value` pairs joined with `&`, each side RFC 3986-encoded from its octets.

    Sorting is by key octets, then value octets; for UTF-8 that is code point order, which is what
    both official SDKs sort by. Repeated keys (which no SDK sends) are ordered by value, so the
    result does not depend on the order they travelled in.
    """
    encode = percent_encode_octets
    return "&".join([f"{encode(k)}={encode(v)}" for k, v in sorted(pairs)])


def redact_query(query: str) -> str:
    """`query` with the values of Signature and SecurityToken replaced by `***`."""
    if not query:
        return query
    out = []
    for piece in query.split("&"):
        key, eq, _ = piece.partition("=")
        name = _unquote_plus(key.encode("utf-8", "surrogatepass")).decode("utf-8", "replace")
        out.append(f"{key}{eq}{_MASK}" if name in _SECRET_PARAMS else piece)
    return "&".join(out)


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of `headers` with the V3 signature and the STS token masked."""
    out = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower == Header.SECURITY_TOKEN:
            out[name] = _MASK
        elif lower == Header.AUTHORIZATION:
            out[name] = _SIGNATURE_IN_AUTHORIZATION.sub(rf"\g<1>{_MASK}", value)
        else:
            out[name] = value
    return out


def _lower_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, str] = {}
    for name, value in items:
        lower = name.lower()
        out[lower] = f"{out[lower]},{value}" if lower in out else value
    return out


@dataclass(frozen=True, slots=True, repr=False)
class WireRequest:
    """An HTTP request exactly as it travels, independent of any HTTP library.

    `query` is the raw query string (no `?`), as sent or received. `headers` are keyed by
    lower-cased name (the constructor lower-cases them; repeated headers are joined with a
    comma). The `host` header is what V3 signs; it is taken exactly as sent, which with an
    endpoint written as `http://127.0.0.1:1` is literally that string.
    """

    method: str
    path: str = "/"
    query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def __post_init__(self) -> None:
        headers = self.headers
        # A read-only view that is lower-cased already (a received request's) is kept as is.
        if headers.__class__ is not MappingProxyType or not all(map(str.islower, headers)):
            object.__setattr__(self, "headers", MappingProxyType(_lower_headers(headers)))

    def __hash__(self) -> int:
        headers = tuple(sorted(self.headers.items()))
        return hash((self.method, self.path, self.query, headers, self.body))

    def __repr__(self) -> str:
        return (
            f"WireRequest(method={self.method!r}, path={self.path!r}, "
            f"query={redact_query(self.query)!r}, headers={redact_headers(self.headers)!r}, "
            f"body=<{len(self.body)} bytes>)"
        )

    @classmethod
    def from_url(
        cls,
        method: str,
        url: str,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> WireRequest:
        """A request for `url`; its `host` header is the URL's host unless `headers` sets one."""
        parts = urlsplit(url)
        lowered = _lower_headers(headers)
        lowered.setdefault(Header.HOST.value, parts.netloc)
        return cls(method, parts.path or "/", parts.query, lowered, body)

    @property
    def host(self) -> str:
        """The `host` header, or "" when there is none."""
        return self.headers.get(Header.HOST, "")

    @property
    def is_form(self) -> bool:
        """Whether the body is an `application/x-www-form-urlencoded` parameter list."""
        content_type = self.headers.get(Header.CONTENT_TYPE, "")
        return content_type.split(";", 1)[0].strip().lower() == FORM_CONTENT_TYPE

    def query_pairs(self) -> list[tuple[str, str]]:
        """The decoded query parameters, repeated keys kept, in wire order."""
        return decode_pairs(self.query)

    def body_pairs(self) -> list[tuple[str, str]]:
        """The decoded form-body parameters, or [] when the body is not a form."""
        return decode_pairs(self.body) if self.is_form else []
