"""RAM policies for the catalogued actions: parse, check, evaluate, diff and generate.

The public surface is this module's `__all__`; the `_` modules are private.
"""

from __future__ import annotations

from acscontract.ram._arn import template_pattern
from acscontract.ram._diff import Difference, PolicyDiff, diff
from acscontract.ram._document import (
    ConditionClause,
    Location,
    Member,
    ParseResult,
    PolicyDocument,
    PolicyKind,
    PositionSource,
    Statement,
    Value,
)
from acscontract.ram._evaluator import (
    Decision,
    DecisionEffect,
    Evaluator,
    StatementRef,
    evaluate,
    parse_context,
)
from acscontract.ram._findings import Finding, Severity
from acscontract.ram._generate import generate, generate_json, validate_account, validate_domain
from acscontract.ram._grammar import GRAMMAR_CHECKS, CheckInfo, check_grammar, validate
from acscontract.ram._language import (
    MAX_POLICY_CHARACTERS,
    OPERATORS,
    OperatorSpec,
    parse_bool,
    parse_date,
    parse_ip,
    parse_network,
    parse_number,
)
from acscontract.ram._load import load_policies, load_policy, read_policy, require_valid
from acscontract.ram._parser import parse
from acscontract.ram._wildcard import Pattern, find_string, includes, matches, witness

__all__ = [
    "GRAMMAR_CHECKS",
    "MAX_POLICY_CHARACTERS",
    "OPERATORS",
    "CheckInfo",
    "ConditionClause",
    "Decision",
    "DecisionEffect",
    "Difference",
    "Evaluator",
    "Finding",
    "Location",
    "Member",
    "OperatorSpec",
    "ParseResult",
    "Pattern",
    "PolicyDiff",
    "PolicyDocument",
    "PolicyKind",
    "PositionSource",
    "Severity",
    "Statement",
    "StatementRef",
    "Value",
    "check_grammar",
    "diff",
    "evaluate",
    "find_string",
    "generate",
    "generate_json",
    "includes",
    "load_policies",
    "load_policy",
    "matches",
    "parse",
    "parse_bool",
    "parse_context",
    "parse_date",
    "parse_ip",
    "parse_network",
    "parse_number",
    "read_policy",
    "require_valid",
    "template_pattern",
    "validate",
    "validate_account",
    "validate_domain",
    "witness",
]

# The linter (`acscontract ram lint`): checks, configuration, baselines and reports.
from acscontract.ram._baseline import Baseline
from acscontract.ram._config import ConfigError, LintConfig, find_config, load_config
from acscontract.ram._lint import (
    Check,
    CheckRegistry,
    LintContext,
    Linter,
    LintResult,
    default_registry,
    lint,
    lint_paths,
)
from acscontract.ram._report import render_json, render_sarif, render_text

__all__ += [
    "Baseline",
    "Check",
    "CheckRegistry",
    "ConfigError",
    "LintConfig",
    "LintContext",
    "LintResult",
    "Linter",
    "default_registry",
    "find_config",
    "lint",
    "lint_paths",
    "load_config",
    "render_json",
    "render_sarif",
    "render_text",
]
