"""Reading policy files: parse plus grammar, and the strict form the evaluator and diff use."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from acscontract.errors import InputError
from acscontract.ram._document import ParseResult, PolicyDocument, PolicyKind
from acscontract.ram._findings import Severity
from acscontract.ram._grammar import check_grammar, validate
from acscontract.ram._parser import parse, read_policy_source

__all__ = ["load_policy", "read_policy", "require_valid"]


def read_policy(path: str | Path, *, kind: PolicyKind | str = PolicyKind.IDENTITY) -> ParseResult:
    """Read, parse and grammar-check one policy file (`-` reads standard input).

    Raises InputError only when the file cannot be read; problems in it are returned.
    """
    data = read_policy_source(path)
    name = "<stdin>" if str(path) == "-" else str(path)
    return validate(parse(data, name=name, kind=kind))


def require_valid(result: ParseResult, *, purpose: str = "simulated") -> PolicyDocument:
    """The document of `result`, or InputError naming its first error and where it is.

    The grammar is checked here too, so a result straight from `parse` is held to the same rules.
    """
    problems = result.problems
    if result.document is not None:
        problems = tuple(dict.fromkeys((*problems, *check_grammar(result.document))))
    errors = sorted(
        (p for p in problems if p.severity is Severity.ERROR),
        key=lambda p: (p.line, p.column),
    )
    if result.document is None or errors:
        if not errors:  # pragma: no cover - a missing document always comes with an error
            raise InputError("<policy>", "the policy could not be parsed.")
        first = errors[0]
        where = f" (at {first.pointer})" if first.pointer else ""
        message = first.message.rstrip(".")
        more = ""
        if len(errors) > 1:
            more = (
                f" There are {len(errors) - 1} more errors."
                if len(errors) > 2
                else (" There is 1 more error.")
            )
        raise InputError(
            f"{first.file}:{first.line}:{first.column}",
            f"[{first.check}] {message}{where}.{more} The policy cannot be {purpose} until it "
            "is valid; run `acscontract ram lint` on it to see every problem.",
        )
    return result.document


def load_policy(
    source: str | Path | bytes,
    *,
    name: str | None = None,
    kind: PolicyKind | str = PolicyKind.IDENTITY,
    purpose: str = "simulated",
) -> PolicyDocument:
    """A valid policy from a path or from its text; InputError if it is unreadable or invalid.

    Pass text as `bytes`, or as a `str` together with `name`; a `str` without `name` is a path.
    """
    if isinstance(source, bytes) or (isinstance(source, str) and name is not None):
        result = validate(parse(source, name=name or "<policy>", kind=kind))
    else:
        result = read_policy(source, kind=kind)
    return require_valid(result, purpose=purpose)


def load_policies(
    paths: Iterable[str | Path], *, kind: PolicyKind | str = PolicyKind.IDENTITY
) -> list[PolicyDocument]:
    """Every policy of `paths`, valid, in order."""
    return [load_policy(p, kind=kind) for p in paths]
