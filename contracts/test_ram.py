"""RAM: a key whose policies deny the operation is refused with 403 and AccessDeniedDetail.

On the emulator the default seed's denied keys are used; on a real account only a key the user
supplies (--deny-access-key-id / --deny-access-key-secret).
"""

from __future__ import annotations

import pytest

from acscontract.contracts.suite import absent_stream, opening_command, verify
from acscontract.spec import operation

pytestmark = pytest.mark.acscontract_area("ram")

OP = operation()
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
    # An absent stream: if the key were wrongly allowed, nothing would start recording.
    params = target.params(opening_command(OP), stream=absent_stream(target))
    for credentials in target.deny_credentials:
        response = target.call(params, credentials=credentials)
        exchanges.record(response)
        verify(target, response, accepted=PERMISSION_CODES, what="denied key")
        detail = response.json.get(DETAIL)
        assert isinstance(detail, dict), (
            f"the RAM denial for {credentials.access_key_id} has no {DETAIL} object"
        )
        properties = OP.protocol.error_schema["properties"][DETAIL]["properties"]
        missing = sorted(set(properties) - set(detail))
        assert not missing, f"{DETAIL} lacks {', '.join(missing)}"
