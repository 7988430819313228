"""Capture requests from the official SDKs, as golden vectors for acscontract.signing.

Run `python tests/data/signing/capture.py` to regenerate the `*.json` files next to it. Each SDK
client mode calls RealTimeRecordCommand against a loopback server that records the raw request
(method, request target, headers in wire order, body) and answers `{"RequestId": ...}`. The
credentials are fake.

tests/test_sdk_compat.py imports this file for its loopback server and SDK drivers.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

ACTION = "RealTimeRecordCommand"
API_VERSION = "2016-11-01"

ACCESS_KEY_ID = "FAKE-acscontract-AK"
ACCESS_KEY_SECRET = "fake-acscontract-secret"
SECURITY_TOKEN = "FAKE+sts/token==acscontract"

MODES = ("tea-v3-sync", "tea-v3-async", "tea-v1-sync", "tea-v1-async", "legacy")
SDK_DISTRIBUTIONS = (
    "alibabacloud-live20161101",
    "alibabacloud-tea-openapi",
    "darabonba-core",
    "aliyun-python-sdk-core",
    "aliyun-python-sdk-live",
)


@dataclass(frozen=True)
class Captured:
    """One request exactly as the loopback server read it off the socket."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "target": self.target,
            "headers": [list(h) for h in self.headers],
            "body_b64": base64.b64encode(self.body).decode("ascii"),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Captured:
        return cls(
            data["method"],
            data["target"],
            tuple((k, v) for k, v in data["headers"]),
            base64.b64decode(data["body_b64"]),
        )


class CaptureServer:
    """A loopback HTTP server on 127.0.0.1:0 that records every request and answers 200 JSON."""

    def __init__(self) -> None:
        self.requests: list[Captured] = []
        records = self.requests

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                records.append(Captured(self.command, self.path, tuple(self.headers.items()), body))
                out = json.dumps({"RequestId": str(uuid.uuid4()).upper()}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json;charset=utf-8")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = _record

            def log_message(self, format: str, *args: Any) -> None:
                """Keep test output quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def __enter__(self) -> CaptureServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass(frozen=True)
class Case:
    """What to ask an SDK to send."""

    name: str
    params: dict[str, str | int]
    body_params: dict[str, str] = field(default_factory=dict)
    method: str = "POST"
    sts: bool = False
    endpoint_with_scheme: bool = False
    modes: tuple[str, ...] = MODES

    def expected_params(self) -> dict[str, str]:
        return {k: str(v) for k, v in {**self.params, **self.body_params}.items()}


_TEA = ("tea-v3-sync", "tea-v3-async", "tea-v1-sync", "tea-v1-async")

PLAIN = {
    "Command": "start",
    "DomainName": "live.example.com",
    "AppName": "live",
    "StreamName": "stream-1",
    "RegionId": "cn-shanghai",
}
SPECIAL = {
    "Command": "直播 ünï 🎥",
    "DomainName": "a=b&c%20d",
    "AppName": "app name+1",
    "StreamName": "s*~/:x!'()[]@$,;",
    "RegionId": "",
    "OwnerId": 1234567890123,
}

CASES = (
    Case("plain", PLAIN),
    Case("special-chars", SPECIAL),
    Case("sts", PLAIN, sts=True),
    Case("sts-special-chars", SPECIAL, sts=True),
    Case("endpoint-with-scheme", PLAIN, endpoint_with_scheme=True, modes=_TEA),
    Case(
        "form-body",
        {"Command": "stop", "DomainName": "live.example.com"},
        body_params={"AppName": "app name+1", "StreamName": "s*~/ü", "RegionId": ""},
    ),
    Case("get", SPECIAL, method="GET"),
)


def _tea_client(mode: str, case: Case, port: int) -> Any:
    from alibabacloud_live20161101.client import Client
    from alibabacloud_tea_openapi.models import Config

    endpoint = f"http://127.0.0.1:{port}" if case.endpoint_with_scheme else f"127.0.0.1:{port}"
    return Client(
        Config(
            access_key_id=ACCESS_KEY_ID,
            access_key_secret=ACCESS_KEY_SECRET,
            security_token=SECURITY_TOKEN if case.sts else None,
            endpoint=endpoint,
            protocol="http",
            signature_algorithm="v2" if mode.startswith("tea-v1") else None,
        )
    )


def _drive_tea(mode: str, case: Case, port: int) -> None:
    from alibabacloud_live20161101.models import RealTimeRecordCommandRequest
    from alibabacloud_tea_openapi.utils_models import OpenApiRequest, Params
    from darabonba.runtime import RuntimeOptions

    client = _tea_client(mode, case, port)
    is_async = mode.endswith("async")
    if case.method == "POST" and not case.body_params:
        p = case.params
        request = RealTimeRecordCommandRequest(
            command=p.get("Command"),
            domain_name=p.get("DomainName"),
            app_name=p.get("AppName"),
            stream_name=p.get("StreamName"),
            region_id=p.get("RegionId"),
            owner_id=p.get("OwnerId"),
        )
        if is_async:
            asyncio.run(
                client.real_time_record_command_with_options_async(request, RuntimeOptions())
            )
        else:
            client.real_time_record_command_with_options(request, RuntimeOptions())
        return
    # GET and form bodies go through the generic call the generated methods are built on.
    params = Params(
        action=ACTION,
        version=API_VERSION,
        protocol="HTTP",
        pathname="/",
        method=case.method,
        auth_type="AK",
        style="RPC",
        req_body_type="formData",
        body_type="json",
    )
    api_request = OpenApiRequest(
        query={k: str(v) for k, v in case.params.items()},
        body=dict(case.body_params) or None,
    )
    if is_async:
        asyncio.run(client.call_api_async(params, api_request, RuntimeOptions()))
    else:
        client.call_api(params, api_request, RuntimeOptions())


def _drive_legacy(case: Case, port: int) -> str:
    from aliyunsdkcore.auth.credentials import AccessKeyCredential, StsTokenCredential
    from aliyunsdkcore.client import AcsClient
    from aliyunsdklive.request.v20161101.RealTimeRecordCommandRequest import (
        RealTimeRecordCommandRequest,
    )

    credential = (
        StsTokenCredential(ACCESS_KEY_ID, ACCESS_KEY_SECRET, SECURITY_TOKEN)
        if case.sts
        else AccessKeyCredential(ACCESS_KEY_ID, ACCESS_KEY_SECRET)
    )
    client = AcsClient(region_id="cn-shanghai", credential=credential)
    request = RealTimeRecordCommandRequest()
    request.set_endpoint(f"127.0.0.1:{port}")
    request.set_method(case.method)
    for key, value in case.params.items():
        request.add_query_param(key, value)
    for key, value in case.body_params.items():
        request.add_body_params(key, value)
    client.do_action_with_exception(request)
    return str(request.string_to_sign)


def drive(mode: str, case: Case, port: int) -> str | None:
    """Make SDK client `mode` send `case` to 127.0.0.1:`port`.

    Returns the SDK's own string to sign where it exposes one (only the legacy SDK does).
    """
    if mode == "legacy":
        return _drive_legacy(case, port)
    _drive_tea(mode, case, port)
    return None


def capture(mode: str, case: Case) -> tuple[Captured, str | None]:
    """The one request SDK client `mode` sends for `case`, and the SDK's string to sign."""
    with CaptureServer() as server:
        sdk_string_to_sign = drive(mode, case, server.port)
    if len(server.requests) != 1:
        raise RuntimeError(f"{mode}/{case.name}: expected 1 request, saw {len(server.requests)}")
    return server.requests[0], sdk_string_to_sign


def case_named(name: str) -> Case:
    return next(case for case in CASES if case.name == name)


def main() -> None:
    versions = {name: dist_version(name) for name in SDK_DISTRIBUTIONS}
    for mode in MODES:
        vectors = []
        for case in CASES:
            if mode not in case.modes:
                continue
            captured, sdk_string_to_sign = capture(mode, case)
            vectors.append(
                {
                    "case": case.name,
                    "credentials": {
                        "access_key_id": ACCESS_KEY_ID,
                        "access_key_secret": ACCESS_KEY_SECRET,
                        "security_token": SECURITY_TOKEN if case.sts else None,
                    },
                    "expect": {
                        "scheme": "v3" if mode.startswith("tea-v3") else "v1",
                        "action": ACTION,
                        "version": API_VERSION,
                        "params": case.expected_params(),
                    },
                    "request": captured.to_json(),
                    "sdk_string_to_sign": sdk_string_to_sign,
                }
            )
        document = {
            "comment": (
                "Requests captured from the official SDKs by capture.py; the credentials are "
                "fake. Regenerate with: python tests/data/signing/capture.py"
            ),
            "mode": mode,
            "sdk_versions": versions,
            "vectors": vectors,
        }
        path = HERE / f"{mode}.json"
        path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", "utf-8")
        print(f"wrote {len(vectors)} vectors to {path}")


if __name__ == "__main__":
    main()
