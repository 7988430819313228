"""What the contract modules share: sending a generated case, verifying a response, and
running a hypothesis property under the suite's profile."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any, TypeVar

from hypothesis import given
from hypothesis import settings as Settings
from hypothesis import strategies as st

from acscontract.contracts.checks import ResponseLike, checks_for, outcome_of
from acscontract.contracts.strategies import RequestCase
from acscontract.spec import Operation

if TYPE_CHECKING:
    from acscontract.client import ApiResponse
    from acscontract.contracts.plugin import ExchangeLog
    from acscontract.contracts.targets import ContractTarget
    from acscontract.signing import Credentials

__all__ = [
    "ContractViolation",
    "absent_stream",
    "commands",
    "for_all",
    "opening_command",
    "send",
    "verify",
]

T = TypeVar("T")


class ContractViolation(AssertionError):
    """A response broke the spec; the message lists every violation."""


def send(
    target: ContractTarget,
    case: RequestCase,
    exchanges: ExchangeLog | None = None,
    *,
    credentials: Credentials | None = None,
) -> ApiResponse:
    """Send a generated case to the target and record the exchange."""
    response = target.call(
        case.params,
        action=case.action,
        version=case.version,
        method=case.method,
        scheme=case.scheme,
        credentials=credentials,
    )
    if exchanges is not None:
        exchanges.record(response)
    return response


def verify(
    target: ContractTarget,
    response: ResponseLike,
    *,
    accepted: Collection[str] | None = None,
    valid_request: bool = False,
    what: str = "",
) -> str:
    """Run every response check; raise ContractViolation listing what broke. Returns the outcome."""
    violations = checks_for(target.op).check(
        response, valid_request=valid_request, accepted=accepted
    )
    if violations:
        prefix = f"{what}: " if what else ""
        raise ContractViolation(prefix + "\n".join(str(v) for v in violations))
    return outcome_of(response)


def for_all(
    settings: Settings, strategy: st.SearchStrategy[T], **overrides: Any
) -> Callable[[Callable[[T], None]], Callable[[], None]]:
    """Decorate a one-argument check into a hypothesis property under the suite's profile."""

    def decorate(check: Callable[[T], None]) -> Callable[[], None]:
        chosen = Settings(settings, **overrides) if overrides else settings
        test: Callable[[], None] = chosen(given(strategy)(check))
        return test

    return decorate


def commands(op: Operation) -> tuple[str, ...]:
    """The values of the operation's command parameter, in the spec's order."""
    parameter = op.command_parameter
    if parameter is None or not parameter.enum:
        raise LookupError(f"The spec of {op.name} has no command parameter with an enum.")
    return tuple(parameter.enum)


def opening_command(op: Operation) -> str:
    """The command the spec documents as leaving the initial state successfully (`start`)."""
    lifecycle = op.lifecycle
    if lifecycle is None:
        raise LookupError(f"The spec of {op.name} has no lifecycle.")
    for transition in lifecycle.transitions:
        if (
            transition.source == lifecycle.initial
            and transition.documented
            and transition.error is None
            and transition.trigger in commands(op)
            and transition.next_state != lifecycle.initial
        ):
            return transition.trigger
    raise LookupError(f"The lifecycle of {op.name} documents no way out of its initial state.")


def absent_stream(target: ContractTarget) -> str:
    """A stream name that no target has: the named stream with a suffix."""
    return target.absent_stream()
