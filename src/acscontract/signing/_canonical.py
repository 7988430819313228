"""The two string-to-sign constructions and their MACs: the arithmetic, nothing about HTTP."""

from __future__ import annotations

import binascii
import functools
import hashlib
import hmac
from collections.abc import Iterable, Mapping

from acscontract.signing._names import ALGORITHM_V3
from acscontract.signing._wire import canonical_query, percent_encode_octets

__all__ = [
    "v1_signature",
    "v1_string_to_sign",
    "v3_canonical_request",
    "v3_signature",
    "v3_string_to_sign",
]


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def v1_string_to_sign(method: str, pairs: Iterable[tuple[bytes, bytes]]) -> str:
    """`METHOD&%2F&pct(canonical query)` over every signed parameter (all but `Signature`).

    The canonical query (see `canonical_query`) is encoded once more, pair by pair: it holds
    only unreserved characters and `%XX` escapes, so `pct` turns `%` into `%25`, `=` into `%3D`
    and `&` into `%26`.
    """
    return f"{method}&%2F&" + "%26".join([_v1_pair(k, v) for k, v in sorted(pairs)])


# Most pairs recur from one request to the next (names, fixed values, a timestamp for a second):
# their twice-encoded form is remembered for the most recent ones. A pure function, bounded.
@functools.lru_cache(maxsize=2048)
def _v1_pair(key: bytes, value: bytes) -> str:
    return f"{percent_encode_octets(key).replace('%', '%25')}%3D" + percent_encode_octets(
        value
    ).replace("%", "%25")


def v1_signature(string_to_sign: str, secret: str) -> str:
    """Base64 HMAC-SHA1 keyed with `secret + "&"`."""
    digest = hmac.digest(_utf8(secret + "&"), _utf8(string_to_sign), "sha1")  # OpenSSL, one shot
    return binascii.b2a_base64(digest, newline=False).decode("ascii")


def v3_canonical_request(
    method: str,
    path: str,
    query_pairs: Iterable[tuple[bytes, bytes]],
    headers: Mapping[str, str],
    signed_headers: Iterable[str],
    payload_sha256: str,
) -> str:
    """The ACS3 canonical request over the headers named in `signed_headers`, in that order.

    `headers` are keyed by lower-cased name. A named header that is absent counts as empty, which
    makes the signature fail rather than letting an absent header pass.
    """
    names = list(signed_headers)
    canonical_headers = "".join(f"{n}:{headers.get(n.lower(), '').strip()}\n" for n in names)
    return (
        f"{method}\n{path or '/'}\n{canonical_query(query_pairs)}\n"
        f"{canonical_headers}\n{';'.join(names)}\n{payload_sha256}"
    )


def v3_string_to_sign(canonical_request: str) -> str:
    """`ACS3-HMAC-SHA256\\n` + hex(sha256(canonical request))."""
    return f"{ALGORITHM_V3}\n{hashlib.sha256(_utf8(canonical_request)).hexdigest()}"


def v3_signature(string_to_sign: str, secret: str) -> str:
    """Hex HMAC-SHA256 keyed with the raw secret."""
    return hmac.digest(_utf8(secret), _utf8(string_to_sign), "sha256").hex()
