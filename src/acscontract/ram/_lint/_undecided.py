"""`analysis-undecided`: what a check could not decide within the document's search budget.

Wildcard inclusion is exact, and polynomial for nearly every real pattern; patterns that mix many
`?` with `*` can need an exponential search, and a document with thousands of wildcard entries
has millions of pairs. Rather than run for minutes (or stop with an error), each check spends
from one budget per document, proportional to its size, and leaves the rest undecided. This check
reports each such question, so a gate never passes silently on what was not checked. It runs
last, after the checks that record the questions.
"""

from __future__ import annotations

from collections.abc import Iterator

from acscontract.ram._document import PolicyDocument
from acscontract.ram._findings import Finding, Severity
from acscontract.ram._lint._base import NEEDS_UNDECIDED, LintContext, RuleCheck, rule

__all__ = ["CHECKS"]


@rule(
    "analysis-undecided",
    Severity.WARNING,
    "A question a check could not decide within the document's search budget (wildcards too "
    "complex to compare exactly, or too many entries to compare every pair), so it was skipped.",
    needs=NEEDS_UNDECIDED,
)
def _undecided(
    check: RuleCheck, document: PolicyDocument, context: LintContext
) -> Iterator[Finding]:
    seen: set[str] = set()
    for location, question in context.undecided_questions:
        if question in seen:
            continue
        seen.add(question)
        yield context.finding(
            check,
            location,
            f"The linter could not decide {question}, so that comparison was skipped: the "
            "findings of this document may be incomplete.",
            "Simplify the wildcards (fewer `?` next to `*`), or split the policy into smaller "
            "ones; disable this check only if an incomplete analysis is acceptable.",
        )


CHECKS: tuple[RuleCheck, ...] = (_undecided,)
