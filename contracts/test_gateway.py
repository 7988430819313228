"""The gateway refuses what it must, with the documented code of the right category.

A corrupted or missing signature, a stale or malformed timestamp, a reused nonce, an unknown and
an inactive AccessKeyId: each under both signature versions and both HTTP methods. Each request
names a stream that does not exist, so one the gateway wrongly lets through changes nothing.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from acscontract.client import Tamper
from acscontract.contracts.strategies import parameter_errors
from acscontract.contracts.suite import absent_stream, opening_command, verify
from acscontract.signing import Header, Param, Scheme
from acscontract.spec import operation

pytestmark = pytest.mark.acscontract_area("gateway")

OP = operation()
PROTOCOL = OP.protocol
SCHEMES = [Scheme(m.id) for m in PROTOCOL.signature_methods if m.id in {s.value for s in Scheme}]
METHODS = [m.upper() for m in OP.methods]
STALE = timedelta(seconds=PROTOCOL.timestamp_skew_seconds * 2)


def codes(*categories: str) -> frozenset[str]:
    """The gateway codes of these categories in the spec."""
    return frozenset(e.code for c in categories for e in PROTOCOL.gateway_errors_in(c))


def harmless(target):
    """Parameters that pass every gateway check and then change nothing (an absent stream)."""
    return target.params(opening_command(OP), stream=absent_stream(target))


@pytest.fixture(
    params=[(s, m) for s in SCHEMES for m in METHODS], ids=lambda p: f"{p[0].value}-{p[1]}"
)
def signed_as(request):
    return request.param


def _send(target, exchanges, signed_as, **kwargs):
    scheme, method = signed_as
    response = target.call(harmless(target), scheme=scheme, method=method, **kwargs)
    exchanges.record(response)
    return response


def test_corrupted_signature_is_refused(target, exchanges, signed_as):
    response = _send(target, exchanges, signed_as, tamper=Tamper.bad_signature())
    verify(target, response, accepted=codes("signature"), what="corrupted signature")


def test_missing_signature_is_refused(target, exchanges, signed_as):
    # Without its Authorization header a V3 request no longer says which action it is for, so
    # the gateway may also answer that the action is missing.
    v1 = signed_as[0] is Scheme.V1
    dropped = Param.SIGNATURE if v1 else Header.AUTHORIZATION
    response = _send(target, exchanges, signed_as, tamper=Tamper.without(dropped.value))
    accepted = codes("signature", "parameter") | parameter_errors(OP)
    verify(
        target,
        response,
        accepted=accepted if v1 else accepted | codes("action"),
        what="missing signature",
    )


def test_stale_timestamp_is_refused(target, exchanges, signed_as):
    tamper = Tamper.stale_timestamp(STALE, now=target.now())
    response = _send(target, exchanges, signed_as, tamper=tamper)
    verify(target, response, accepted=codes("freshness"), what="stale timestamp")


def test_malformed_timestamp_is_refused(target, exchanges, signed_as):
    response = _send(target, exchanges, signed_as, tamper=Tamper.malformed_timestamp())
    verify(target, response, accepted=codes("freshness", "signature"), what="malformed timestamp")


def test_reused_nonce_is_refused(target, exchanges, signed_as):
    nonce = uuid.uuid4().hex
    first = _send(target, exchanges, signed_as, tamper=Tamper.reused_nonce(nonce))
    verify(target, first, accepted={OP.check_code("streamOnline")}, what="first use of a nonce")
    second = _send(target, exchanges, signed_as, tamper=Tamper.reused_nonce(nonce))
    verify(target, second, accepted=codes("freshness"), what="reused nonce")


def test_unknown_access_key_is_refused(target, exchanges, signed_as):
    unknown = "LTAI" + uuid.uuid4().hex[:20]
    response = _send(target, exchanges, signed_as, tamper=Tamper.unknown_access_key(unknown))
    verify(target, response, accepted=codes("credential"), what="unknown AccessKeyId")


def test_inactive_access_key_is_refused(target, exchanges, signed_as):
    if target.inactive_credentials is None:
        pytest.skip("needs an inactive AccessKey: only an emulator's seed provides one")
    response = _send(target, exchanges, signed_as, credentials=target.inactive_credentials)
    verify(target, response, accepted=codes("credential"), what="inactive AccessKeyId")


def test_unsupported_method_is_refused(target, exchanges):
    spec_methods = {m.upper() for m in OP.methods}
    method = next(m for m in ("PUT", "DELETE", "PATCH") if m not in spec_methods)
    response = target.call(harmless(target), method=method)
    exchanges.record(response)
    verify(target, response, accepted=codes("method"), what=f"HTTP {method}")
