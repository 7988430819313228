"""The RAM policy linter: checks with stable ids and four severities, over one registry.

See docs/ram-lint.md for the command line and docs/checks/<id>.md for each check.
"""

from __future__ import annotations

from acscontract.ram._lint._base import (
    Check,
    CheckRegistry,
    LintContext,
    ProblemCheck,
    RuleCheck,
    StatementFacts,
    rule,
)
from acscontract.ram._lint._engine import (
    PARALLEL_THRESHOLD,
    Linter,
    LintResult,
    collect_files,
    default_registry,
    lint,
    lint_paths,
)

__all__ = [
    "PARALLEL_THRESHOLD",
    "Check",
    "CheckRegistry",
    "LintContext",
    "LintResult",
    "Linter",
    "ProblemCheck",
    "RuleCheck",
    "StatementFacts",
    "collect_files",
    "default_registry",
    "lint",
    "lint_paths",
    "rule",
]
