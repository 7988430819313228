"""RAM enforcement: RAM users and STS roles are evaluated; root keys are not."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from acscontract.emulator import Emulator, ManualClock, signed_request
from acscontract.signing import Credentials
from acscontract.spec import operation

OP = operation()
PERMISSION = OP.protocol.gateway_errors_in("permission")[0]
ACCOUNT = "1234567890123456"
ROOT = Credentials("LTAIemulatorRootKey0001", "emulator-root-secret-not-real-0001")
RECORDER = Credentials("LTAIemulatorRecorder001", "emulator-recorder-secret-not-real-01")
DENIED = Credentials("LTAIemulatorDenied00001", "emulator-denied-secret-not-real-0001")
NOPOLICY = Credentials("LTAIemulatorNoPolicy001", "emulator-nopolicy-secret-not-real-01")
STS = Credentials(
    "STS.emulatorRecorderRole01",
    "emulator-sts-secret-not-real-000001",
    "emulator-sts-token-not-real-000001",
)


def params(domain: str = "push.example.com", stream: str = "stream1") -> dict[str, str]:
    return {"Command": "start", "DomainName": domain, "AppName": "live", "StreamName": stream}


def answer(em: Emulator, creds: Credentials, **kw) -> tuple[int, dict]:
    domain = kw.pop("domain", "push.example.com")
    response = em.handle(signed_request(params(domain), creds, **kw))
    return response.status, json.loads(response.body)


@pytest.fixture
def em() -> Emulator:
    return Emulator(clock=ManualClock())


def test_a_least_privilege_user_may_record_on_its_domain(em):
    status, _ = answer(em, RECORDER)
    assert status == 200


@pytest.mark.parametrize("scheme", ["v1", "v3"])
def test_an_sts_role_is_evaluated_with_the_role_policies(em, scheme):
    status, _ = answer(em, STS, scheme=scheme)
    assert status == 200
    status, document = answer(em, STS, domain="unknown.example.com", scheme=scheme)
    assert status == PERMISSION.http_status
    detail = document["AccessDeniedDetail"]
    assert detail["AuthPrincipalType"] == "AssumedRoleUser"
    assert detail["AuthPrincipalDisplayName"] == "recorder-role:demo-session"


def test_an_explicit_deny_is_reported_as_such(em):
    status, document = answer(em, DENIED)
    assert status == PERMISSION.http_status
    assert document["Code"] == PERMISSION.code
    detail = document["AccessDeniedDetail"]
    assert detail == {
        "PolicyType": "AccountLevelIdentityBasedPolicy",
        "AuthAction": OP.ram.action,
        "AuthPrincipalType": "SubUser",
        "AuthPrincipalOwnerId": ACCOUNT,
        "AuthPrincipalDisplayName": "denied",
        "NoPermissionType": "ExplicitDeny",
        "EncodedDiagnosticMessage": detail["EncodedDiagnosticMessage"],
    }
    diagnostic = json.loads(base64.b64decode(detail["EncodedDiagnosticMessage"]))
    arn = OP.ram.resource_types[0].arn(accountId=ACCOUNT, DomainName="push.example.com")
    assert diagnostic["AuthResource"] == arn
    assert diagnostic["NoPermissionType"] == "ExplicitDeny"
    assert any("Deny" in s for s in diagnostic["DecidingStatements"])


def test_no_matching_allow_is_an_implicit_deny(em):
    status, document = answer(em, NOPOLICY)
    assert status == PERMISSION.http_status
    assert document["AccessDeniedDetail"]["NoPermissionType"] == "ImplicitDeny"
    # the recorder's policy names one domain: another is implicitly denied
    status, document = answer(em, RECORDER, domain="other.example.com")
    assert status == PERMISSION.http_status
    assert document["AccessDeniedDetail"]["NoPermissionType"] == "ImplicitDeny"
    assert em.state.tasks == {}


def test_root_keys_are_not_subject_to_ram(em):
    status, _ = answer(em, ROOT)
    assert status == 200


def _seed_with_policy(statement: dict) -> dict:
    seed = Emulator().seed.to_json()
    seed["accounts"][0]["users"][0]["policies"] = [{"Version": "1", "Statement": [statement]}]
    return seed


def test_the_request_context_carries_secure_transport():
    statement = {
        "Effect": "Allow",
        "Action": OP.ram.action,
        "Resource": "*",
        "Condition": {"Bool": {"acs:SecureTransport": "true"}},
    }
    em = Emulator(_seed_with_policy(statement), clock=ManualClock())
    assert answer(em, RECORDER)[0] == PERMISSION.http_status
    assert answer(em, RECORDER, secure=True)[0] == 200


def test_the_request_context_carries_the_source_ip_and_access_id():
    statement = {
        "Effect": "Allow",
        "Action": OP.ram.action,
        "Resource": "*",
        "Condition": {
            "IpAddress": {"acs:SourceIp": "203.0.113.0/24"},
            "StringEquals": {"acs:AccessId": RECORDER.access_key_id},
        },
    }
    em = Emulator(_seed_with_policy(statement), clock=ManualClock())
    assert answer(em, RECORDER, client_ip="198.51.100.7")[0] == PERMISSION.http_status
    assert answer(em, RECORDER, client_ip="203.0.113.9")[0] == 200


def test_the_request_context_carries_the_emulator_time_and_no_mfa():
    clock = ManualClock()
    statement = {
        "Effect": "Allow",
        "Action": OP.ram.action,
        "Resource": "*",
        "Condition": {
            "DateLessThan": {"acs:CurrentTime": "2000-01-01T00:00:00Z"},
        },
    }
    em = Emulator(_seed_with_policy(statement), clock=clock)
    assert answer(em, RECORDER)[0] == PERMISSION.http_status
    deny_without_mfa = {
        "Effect": "Allow",
        "Action": OP.ram.action,
        "Resource": "*",
        "Condition": {"Bool": {"acs:MFAPresent": "false"}},
    }
    em = Emulator(_seed_with_policy(deny_without_mfa), clock=clock)
    assert answer(em, RECORDER)[0] == 200


def test_policies_from_files_are_enforced(tmp_path: Path):
    policy = {
        "Version": "1",
        "Statement": [{"Effect": "Deny", "Action": "live:*", "Resource": "*"}],
    }
    (tmp_path / "deny.json").write_text(json.dumps(policy))
    seed = Emulator().seed.to_json()
    seed["accounts"][0]["users"][0]["policies"] = ["deny.json"]
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(seed))
    em = Emulator(path, clock=ManualClock())
    status, document = answer(em, RECORDER)
    assert status == PERMISSION.http_status
    diagnostic = json.loads(
        base64.b64decode(document["AccessDeniedDetail"]["EncodedDiagnosticMessage"])
    )
    assert any(str(tmp_path / "deny.json") in s for s in diagnostic["DecidingStatements"])
