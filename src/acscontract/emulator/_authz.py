"""RAM enforcement: decide a call made by a RAM user or an STS role with acscontract.ram.

Each identity's policies are parsed, grammar-checked and compiled once, when a seed is loaded, so
a bad policy in a seed fails at load time with the policy's file and position, and a call pays
only for the evaluation.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from acscontract.emulator._seed import PolicySource
from acscontract.emulator._state import Identity
from acscontract.ram import DecisionEffect, Evaluator, load_policy

__all__ = ["Authorizer", "Denial", "PolicyAuthorizer"]


@dataclass(frozen=True, slots=True)
class Denial:
    """RAM refused a call: explicitly (a matching Deny) or implicitly (no matching Allow)."""

    explicit: bool
    action: str
    resource: str
    statements: tuple[str, ...] = ()

    @property
    def no_permission_type(self) -> str:
        """`ExplicitDeny` or `ImplicitDeny`, as `AccessDeniedDetail.NoPermissionType` says."""
        effect = DecisionEffect.EXPLICIT_DENY if self.explicit else DecisionEffect.IMPLICIT_DENY
        return effect.value

    def encoded_diagnostic(self, principal: str) -> str:
        """A base64 JSON explanation, the emulator's `EncodedDiagnosticMessage`."""
        document = {
            "AuthAction": self.action,
            "AuthResource": self.resource,
            "AuthPrincipal": principal,
            "NoPermissionType": self.no_permission_type,
            "DecidingStatements": list(self.statements),
        }
        return base64.b64encode(json.dumps(document).encode("utf-8")).decode("ascii")


class Authorizer(Protocol):
    """Decides whether an identity may perform `action` on `resource` in `context`."""

    def authorize(
        self, identity: Identity, action: str, resource: str, context: Mapping[str, str]
    ) -> Denial | None:
        """None when allowed, a Denial otherwise."""
        ...


class PolicyAuthorizer:
    """Evaluates each identity's identity policies (a RAM user's, or an STS token's role's)."""

    __slots__ = ("_evaluators",)

    def __init__(self, identities: Iterable[Identity]) -> None:
        compiled: dict[tuple[PolicySource, ...], Evaluator] = {}
        evaluators: dict[str, Evaluator] = {}
        for identity in identities:
            if not identity.subject_to_ram:
                continue
            evaluator = compiled.get(identity.policies)
            if evaluator is None:
                documents = [
                    load_policy(p.text, name=p.origin, purpose="used by the emulator")
                    for p in identity.policies
                ]
                evaluator = compiled[identity.policies] = Evaluator(documents)
            evaluators[identity.access_key_id] = evaluator
        self._evaluators = evaluators

    def authorize(
        self, identity: Identity, action: str, resource: str, context: Mapping[str, str]
    ) -> Denial | None:
        evaluator = self._evaluators.get(identity.access_key_id)
        if evaluator is None:
            return Denial(False, action, resource)
        if evaluator.is_allowed(action, resource, context):
            return None
        decision = evaluator.evaluate(action, resource, context)
        if decision.allowed:  # pragma: no cover - the fast path and the full path agree
            return None
        return Denial(
            decision.decision is DecisionEffect.EXPLICIT_DENY,
            action,
            resource,
            tuple(str(s) for s in decision.statements),
        )
