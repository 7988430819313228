"""The RAM terms of a spec that the policy engine needs on its own: condition keys and
resource types.

They live apart from the rest of the model so that the action catalog, read back from its
cache by `acscontract ram lint`, loads only this small module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ConditionKey", "ResourceType"]

_PLACEHOLDER = re.compile(r"\{#([A-Za-z0-9_]+)\}")


@dataclass(frozen=True, slots=True)
class ConditionKey:
    """A RAM condition key and the type of its values."""

    key: str
    type: str
    prefix: str | None = None

    def matches(self, key: str) -> bool:
        """Whether `key` is this key (keys compare case-insensitively; prefixes cover tag keys)."""
        if self.prefix is not None:
            return key.lower().startswith(self.prefix.lower()) and len(key) > len(self.prefix)
        return key.lower() == self.key.lower()


@dataclass(frozen=True, slots=True)
class ResourceType:
    """A RAM resource type of an action, with its ARN template (`{#name}` placeholders)."""

    type: str
    arn_template: str

    @property
    def service(self) -> str:
        """The service named in the ARN (for RealTimeRecordCommand, `cdn`)."""
        return self.arn_template.split(":")[1]

    @property
    def placeholders(self) -> tuple[str, ...]:
        """The placeholder names in the template, in order: `accountId`, `DomainName`, ..."""
        return tuple(_PLACEHOLDER.findall(self.arn_template))

    def arn(self, **values: str) -> str:
        """Fill the template's placeholders; every placeholder must be given."""
        missing = [name for name in self.placeholders if name not in values]
        if missing:
            raise KeyError(f"the ARN template {self.arn_template} needs {', '.join(missing)}")
        result = self.arn_template
        for name in self.placeholders:
            result = result.replace("{#" + name + "}", values[name])
        return result
