"""RAM: a key whose policies deny the operation is refused with 403 and AccessDeniedDetail.

On the emulator the default seed's denied keys are used; on a real account only a key the user
supplies (--deny-access-key-id / --deny-access-key-secret).
"""

from __future__ import annotations

import pytest

from acscontract.contracts.plugin import selection
from acscontract.contracts.suite import harmless_call, verify

pytestmark = pytest.mark.acscontract_area("ram")

# RAM is the gateway's: the contract runs once, for the run's primary operation.
OP = selection().primary
PERMISSION_CODES = frozenset(e.code for e in OP.protocol.gateway_errors_in("permission"))
# The envelope's optional object member: the detail RAM denials carry.
DETAIL = next(
    name
    for name, schema in OP.protocol.error_schema["properties"].items()
    if schema.get("type") == "object"
)


def test_denied_key_is_refused_with_detail(target, exchanges):
    if not target.deny_credentials:
        pytest.skip(
            "needs a key whose RAM policies deny the operation: pass --deny-access-key-id and "
            "--deny-access-key-secret (ACSCONTRACT_DENY_ACCESS_KEY_ID/_SECRET)"
        )
    # The harmless call: if the key were wrongly allowed, nothing would change.
    call = harmless_call(target, OP)
    if call is None:
        pytest.skip(f"{OP.name} has no request its spec refuses before it can change anything")
    for credentials in target.deny_credentials:
        response = target.call(call.params, credentials=credentials, operation=OP)
        exchanges.record(response)
        verify(target, response, op=OP, accepted=PERMISSION_CODES, what="denied key")
        detail = response.json.get(DETAIL)
        assert isinstance(detail, dict), (
            f"the RAM denial for {credentials.access_key_id} has no {DETAIL} object"
        )
        properties = OP.protocol.error_schema["properties"][DETAIL]["properties"]
        missing = sorted(set(properties) - set(detail))
        assert not missing, f"{DETAIL} lacks {', '.join(missing)}"
