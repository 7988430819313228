"""The AccessKey (and optional STS token) a request is signed with."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from acscontract.errors import AcsContractError, UsageError

__all__ = ["ENV_ACCESS_KEY_ID", "ENV_ACCESS_KEY_SECRET", "ENV_SECURITY_TOKEN", "Credentials"]

ENV_ACCESS_KEY_ID = "ALIBABA_CLOUD_ACCESS_KEY_ID"
ENV_ACCESS_KEY_SECRET = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"  # noqa: S105 - a variable name
ENV_SECURITY_TOKEN = "ALIBABA_CLOUD_SECURITY_TOKEN"  # noqa: S105 - a variable name

_MASK = "***"


@dataclass(frozen=True, slots=True, repr=False)
class Credentials:
    """An AccessKey pair, plus the token when the key is a temporary STS key.

    The repr shows the AccessKey ID (an identifier, not a secret) and masks the secret and token,
    so a Credentials can be logged or shown in a test failure safely.
    """

    access_key_id: str
    access_key_secret: str
    security_token: str | None = None

    def __post_init__(self) -> None:
        if not self.access_key_id or not self.access_key_secret:
            raise UsageError(
                "Credentials need both an AccessKey ID and an AccessKey secret; one of them is "
                "empty."
            )

    def __repr__(self) -> str:
        token = None if self.security_token is None else _MASK
        return (
            f"Credentials(access_key_id={self.access_key_id!r}, access_key_secret={_MASK!r}, "
            f"security_token={token!r})"
        )

    __str__ = __repr__

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Credentials:
        """Read the standard Alibaba Cloud variables (from `os.environ` unless given)."""
        env = os.environ if environ is None else environ
        key_id = env.get(ENV_ACCESS_KEY_ID, "")
        secret = env.get(ENV_ACCESS_KEY_SECRET, "")
        missing = [
            name
            for name, value in ((ENV_ACCESS_KEY_ID, key_id), (ENV_ACCESS_KEY_SECRET, secret))
            if not value
        ]
        if missing:
            raise AcsContractError(
                f"No Alibaba Cloud credentials: {' and '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} not set. Set {ENV_ACCESS_KEY_ID} and "
                f"{ENV_ACCESS_KEY_SECRET} (and {ENV_SECURITY_TOKEN} for an STS key), or pass "
                "Credentials explicitly."
            )
        return cls(key_id, secret, env.get(ENV_SECURITY_TOKEN) or None)
