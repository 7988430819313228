"""What the contract modules share: sending a generated case, verifying a response, running a
hypothesis property under the suite's profile, the harmless call of an operation, and the lean
requests of the operations without a lifecycle (sent once per run, judged by three areas)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from hypothesis import given
from hypothesis import settings as Settings
from hypothesis import strategies as st

from acscontract.contracts.cases import LeanCases, absent_domain, lean_cases
from acscontract.contracts.checks import ResponseLike, checks_for, outcome_of
from acscontract.contracts.selection import has_lifecycle
from acscontract.contracts.strategies import RequestCase
from acscontract.spec import Operation

if TYPE_CHECKING:
    from acscontract.client import ApiResponse
    from acscontract.contracts.plugin import ExchangeLog
    from acscontract.contracts.targets import ContractTarget
    from acscontract.signing import Credentials

__all__ = [
    "ContractViolation",
    "HarmlessCall",
    "LeanExchanges",
    "absent_stream",
    "commands",
    "denial",
    "for_all",
    "harmless_call",
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
        operation=target.operation_of(case.action, case.version),
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
    op: Operation | None = None,
    only: Collection[str] | None = None,
) -> str:
    """Run the response checks of `op` (the target's primary operation by default; `only` some
    of them); raise ContractViolation listing what broke. Returns the outcome."""
    violations = checks_for(op or target.op).check(
        response, valid_request=valid_request, accepted=accepted, only=only
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


def denial(target: ContractTarget, response: ResponseLike) -> str | None:
    """Why a contract cannot judge `response` on a real account: the run's key was refused by
    RAM (the account's policies, not the operation, decided); None on an emulator, whose run key
    is the account's root, or for any other answer."""
    if target.is_emulator:
        return None
    permission = {e.code for e in target.op.protocol.gateway_errors_in("permission")}
    outcome = outcome_of(response)
    if outcome not in permission:
        return None
    return (
        f"the run's key is not allowed this operation ({outcome}): grant it the operation's "
        "RAM action to check its contracts"
    )


@dataclass(frozen=True, slots=True)
class HarmlessCall:
    """A request of an operation that passes the gateway and changes nothing, and the outcomes
    the spec allows for it. The gateway, RAM and throttling contracts and the preflight send it.
    """

    op: Operation
    params: tuple[tuple[str, str], ...]
    accepted: frozenset[str]
    what: str


def harmless_call(target: ContractTarget, op: Operation | None = None) -> HarmlessCall | None:
    """The harmless call of `op` (the target's primary operation by default) on the target:

    - a lifecycle operation: its opening command on a stream that does not exist (refused with
      the stream check's code);
    - an operation the spec says only reads: its valid lean request;
    - any other: its first lean request that the spec refuses (a missing or malformed
      parameter), naming a domain that does not exist on a real account.

    None when the operation has no such request (it writes, and has no required parameter and
    no value its rules refuse).
    """
    the_op = op or target.op
    if has_lifecycle(the_op):
        params = target.params(opening_command(the_op), stream=absent_stream(target), op=the_op)
        code = the_op.check_code("streamOnline")
        return HarmlessCall(
            the_op, tuple(params.items()), frozenset({code}), "a stream that does not exist"
        )
    cases = LeanExchanges.cases_for(target, the_op)
    if the_op.writes is None and cases.valid is not None:
        case = cases.valid
        return HarmlessCall(the_op, case.params, case.accepted, "a valid request (it only reads)")
    if not cases.invalid:
        return None
    case = cases.invalid[0]
    return HarmlessCall(the_op, case.params, case.accepted, f"{case.describe()}: refused")


class LeanExchanges:
    """The lean requests of the operations without a lifecycle, each sent at most once per run.

    The valid-requests contract sends an operation's valid request, the invalid-requests contract
    its refused ones, and the response-schema contract checks every answer's shape (sending
    only what neither sent, when it runs alone).
    """

    def __init__(self, target: ContractTarget) -> None:
        self.target = target
        self._lock = threading.Lock()
        self._answers: dict[tuple[str, int], ApiResponse] = {}
        self._cases: dict[str, LeanCases] = {}

    @staticmethod
    def cases_for(target: ContractTarget, op: Operation) -> LeanCases:
        """`op`'s lean requests on the target: its domain, and on a real account a domain that
        does not exist in the requests the spec refuses of an operation that writes."""
        if target.resources is None:
            raise LookupError(target.missing[0] if target.missing else "no resources")
        domain = target.resources.domain
        refused = None if target.is_emulator or op.writes is None else absent_domain(domain)
        return lean_cases(op, domain, invalid_domain=refused)

    def cases(self, op: Operation) -> LeanCases:
        """`op`'s lean requests on this target (built once)."""
        with self._lock:
            found = self._cases.get(op.name)
        if found is None:
            found = self.cases_for(self.target, op)
            with self._lock:
                self._cases[op.name] = found
        return found

    def send(
        self, op: Operation, case: RequestCase, exchanges: ExchangeLog | None = None
    ) -> ApiResponse:
        """The answer to `case` (one of `op`'s lean requests), sent now or earlier this run."""
        key = (op.name, self.cases(op).all.index(case))
        with self._lock:
            answer = self._answers.get(key)
        if answer is None:
            answer = send(self.target, case)
            with self._lock:
                self._answers[key] = answer
        if exchanges is not None:
            exchanges.record(answer)
        return answer
