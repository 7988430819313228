"""Benchmark: microseconds per sign, parse and verify, V1 and V3, for a RealTimeRecordCommand call.

The request carries the operation's six parameters (one with a space and non-ASCII text, so the
encoders leave their fast path) and STS credentials. `verify` is timed on an already parsed
request, as the emulator calls it once it has looked the AccessKey up; `parse + verify` is the
whole server-side cost. Anchors measured in the same run: the official SDK's own V1 and V3
signing helpers on the same parameters (when the SDKs are installed). The target is verify well
under 50 us. Run it as `.venv/bin/python bench/signing.py`.
"""

from __future__ import annotations

import timeit
from collections.abc import Callable
from datetime import UTC, datetime

from acscontract.signing import (
    Credentials,
    ParsedRequest,
    Scheme,
    Verified,
    WireRequest,
    encode_pairs,
    parse,
    sign,
    verify,
)

CREDENTIALS = Credentials(
    "STS.FAKEbenchmarkKey0001", "fake-benchmark-secret-0001", "FAKE+benchmark/token=="
)
PARAMS = [
    ("Command", "start"),
    ("DomainName", "live.example.com"),
    ("AppName", "live app"),
    ("StreamName", "直播-stream-0001"),
    ("RegionId", "cn-shanghai"),
    ("OwnerId", "1234567890123456"),
]
SECRET = CREDENTIALS.access_key_secret
WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
UNSIGNED = WireRequest("POST", "/", encode_pairs(PARAMS), {"host": "live.aliyuncs.com"})


def per_call_us(fn: Callable[[], object], repeat: int = 5) -> float:
    """Best-of-`repeat` microseconds per call."""
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=repeat, number=number)) / number * 1e6


def _sign(scheme: Scheme) -> WireRequest:
    return sign(
        UNSIGNED,
        CREDENTIALS,
        scheme=scheme,
        action="RealTimeRecordCommand",
        version="2016-11-01",
        timestamp=WHEN,
        nonce="0123456789abcdef0123456789abcdef",
    )


def _anchors() -> dict[str, Callable[[], object]]:
    try:
        from alibabacloud_tea_openapi.utils import Utils
        from darabonba.request import DaraRequest
    except ImportError:
        return {}
    v1_params = dict(_sign(Scheme.V1).query_pairs())
    v1_params.pop("Signature")
    v3 = _sign(Scheme.V3)
    parsed = parse(v3)
    assert isinstance(parsed, ParsedRequest)
    request = DaraRequest()
    request.method, request.pathname = "POST", "/"
    request.query = dict(v3.query_pairs())
    request.headers = {name: v3.headers[name] for name in parsed.signed_headers}
    payload = v3.headers["x-acs-content-sha256"]
    return {
        "SDK get_rpcsignature (V1)": lambda: Utils.get_rpcsignature(v1_params, "POST", SECRET),
        "SDK get_authorization (V3)": lambda: Utils.get_authorization(
            request, "ACS3-HMAC-SHA256", payload, CREDENTIALS.access_key_id, SECRET
        ),
    }


def _parse_and_verify(request: WireRequest) -> object:
    parsed = parse(request)
    return verify(parsed, SECRET) if isinstance(parsed, ParsedRequest) else parsed


def main() -> None:
    rows: list[tuple[str, float]] = []
    for scheme in Scheme:
        signed = _sign(scheme)
        parsed = parse(signed)
        assert isinstance(parsed, ParsedRequest)
        assert isinstance(verify(parsed, SECRET), Verified)
        label = scheme.value.upper()
        rows.append((f"sign {label}", per_call_us(lambda s=scheme: _sign(s))))
        rows.append((f"parse {label}", per_call_us(lambda r=signed: parse(r))))
        rows.append((f"verify {label}", per_call_us(lambda p=parsed: verify(p, SECRET))))
        rows.append((f"parse + verify {label}", per_call_us(lambda r=signed: _parse_and_verify(r))))
    for name, fn in _anchors().items():
        rows.append((f"anchor: {name}", per_call_us(fn)))
    width = max(len(name) for name, _ in rows)
    for name, us in rows:
        print(f"{name:<{width}}  {us:8.2f} us")
    worst = max(us for name, us in rows if name.startswith("verify"))
    print(f"verify target < 50 us: {'met' if worst < 50 else 'MISSED'} (worst {worst:.2f} us)")


if __name__ == "__main__":
    main()
