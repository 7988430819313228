"""The exceptions acscontract raises for problems a user can meet.

Every one carries a complete sentence for a human: what went wrong, where, and what to do. The
command line prints that sentence alone and exits 2; it never shows a traceback for these.
"""

from __future__ import annotations

__all__ = ["AcsContractError", "InputError", "UsageError"]


class AcsContractError(Exception):
    """Base class: an error whose message is meant for the user, not a bug report."""


class UsageError(AcsContractError):
    """The user asked for something that cannot be done as asked (a wrong option or name)."""


class InputError(AcsContractError):
    """A file or value the user gave cannot be read or parsed.

    `location` names the file (and, where known, a JSON Pointer or line) so the message can say
    exactly where the problem is.
    """

    def __init__(self, location: str, problem: str) -> None:
        self.location = location
        self.problem = problem
        super().__init__(f"{location}: {problem}")
