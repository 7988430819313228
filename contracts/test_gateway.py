"""The gateway refuses what it must, with the documented code of the right category.

A corrupted or missing signature, a stale or malformed timestamp, a reused nonce, an unknown and
an inactive AccessKeyId: each under both signature versions and both HTTP methods. The gateway is
the same for every operation, so these run once per run, for its primary operation. Each request
is that operation's harmless call (see `acscontract.contracts.suite.harmless_call`: for
RealTimeRecordCommand a stream that does not exist), so one the gateway wrongly lets through
changes nothing.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from acscontract.client import Tamper
from acscontract.contracts.plugin import selection
from acscontract.contracts.strategies import parameter_errors
from acscontract.contracts.suite import harmless_call, verify
from acscontract.signing import Header, Param, Scheme

pytestmark = pytest.mark.acscontract_area("gateway")

# The gateway does not depend on the operation: the contracts run once, for the run's primary
# operation (the reference operation by default).
OP = selection().primary
PROTOCOL = OP.protocol
SCHEMES = [Scheme(m.id) for m in PROTOCOL.signature_methods if m.id in {s.value for s in Scheme}]
METHODS = [m.upper() for m in OP.methods]
STALE = timedelta(seconds=PROTOCOL.timestamp_skew_seconds * 2)


def codes(*categories: str) -> frozenset[str]:
    """The gateway codes of these categories in the spec."""
    return frozenset(e.code for c in categories for e in PROTOCOL.gateway_errors_in(c))


@pytest.fixture(scope="module")
def harmless(target):
    """A request that passes every gateway check and then changes nothing (see
    `harmless_call`)."""
    call = harmless_call(target, OP)
    if call is None:
        pytest.skip(
            f"{OP.name} writes and has no request its spec refuses before it can change "
            "anything; name another operation for the gateway contracts"
        )
    return call


@pytest.fixture(
    params=[(s, m) for s in SCHEMES for m in METHODS], ids=lambda p: f"{p[0].value}-{p[1]}"
)
def signed_as(request):
    return request.param


def _send(target, harmless, exchanges, signed_as, **kwargs):
    scheme, method = signed_as
    response = target.call(harmless.params, scheme=scheme, method=method, operation=OP, **kwargs)
    exchanges.record(response)
    return response


def test_corrupted_signature_is_refused(target, harmless, exchanges, signed_as):
    response = _send(target, harmless, exchanges, signed_as, tamper=Tamper.bad_signature())
    verify(target, response, op=OP, accepted=codes("signature"), what="corrupted signature")


def test_missing_signature_is_refused(target, harmless, exchanges, signed_as):
    # Without its Authorization header a V3 request no longer says which action it is for, so
    # the gateway may also answer that the action is missing.
    v1 = signed_as[0] is Scheme.V1
    dropped = Param.SIGNATURE if v1 else Header.AUTHORIZATION
    tamper = Tamper.without(dropped.value)
    response = _send(target, harmless, exchanges, signed_as, tamper=tamper)
    accepted = codes("signature", "parameter") | parameter_errors(OP)
    verify(
        target,
        response,
        op=OP,
        accepted=accepted if v1 else accepted | codes("action"),
        what="missing signature",
    )


def test_stale_timestamp_is_refused(target, harmless, exchanges, signed_as):
    tamper = Tamper.stale_timestamp(STALE, now=target.now())
    response = _send(target, harmless, exchanges, signed_as, tamper=tamper)
    verify(target, response, op=OP, accepted=codes("freshness"), what="stale timestamp")


def test_malformed_timestamp_is_refused(target, harmless, exchanges, signed_as):
    tamper = Tamper.malformed_timestamp()
    response = _send(target, harmless, exchanges, signed_as, tamper=tamper)
    accepted = codes("freshness", "signature")
    verify(target, response, op=OP, accepted=accepted, what="malformed timestamp")


def test_reused_nonce_is_refused(target, harmless, exchanges, signed_as):
    nonce = uuid.uuid4().hex
    first = _send(target, harmless, exchanges, signed_as, tamper=Tamper.reused_nonce(nonce))
    verify(
        target,
        first,
        op=OP,
        accepted=harmless.accepted,
        what=f"first use of a nonce: {harmless.what}",
    )
    second = _send(target, harmless, exchanges, signed_as, tamper=Tamper.reused_nonce(nonce))
    verify(target, second, op=OP, accepted=codes("freshness"), what="reused nonce")


def test_unknown_access_key_is_refused(target, harmless, exchanges, signed_as):
    unknown = "LTAI" + uuid.uuid4().hex[:20]
    tamper = Tamper.unknown_access_key(unknown)
    response = _send(target, harmless, exchanges, signed_as, tamper=tamper)
    verify(target, response, op=OP, accepted=codes("credential"), what="unknown AccessKeyId")


def test_inactive_access_key_is_refused(target, harmless, exchanges, signed_as):
    if target.inactive_credentials is None:
        pytest.skip("needs an inactive AccessKey: only an emulator's seed provides one")
    credentials = target.inactive_credentials
    response = _send(target, harmless, exchanges, signed_as, credentials=credentials)
    verify(target, response, op=OP, accepted=codes("credential"), what="inactive AccessKeyId")


def test_unsupported_method_is_refused(target, harmless, exchanges):
    spec_methods = {m.upper() for m in OP.methods}
    method = next(m for m in ("PUT", "DELETE", "PATCH") if m not in spec_methods)
    response = target.call(harmless.params, method=method, operation=OP)
    exchanges.record(response)
    verify(target, response, op=OP, accepted=codes("method"), what=f"HTTP {method}")
