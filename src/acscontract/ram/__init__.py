"""RAM policies for the catalogued actions: parse, check, evaluate, diff and generate.

The public surface is this module's `__all__`; the `_` modules are private and load on first
use of one of their names, so that `acscontract ram lint` does not import the evaluator, the
diff or the generator.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from acscontract.ram._arn import template_pattern
    from acscontract.ram._baseline import Baseline
    from acscontract.ram._config import (
        FAIL_ON_CHOICES,
        ConfigError,
        LintConfig,
        find_config,
        load_config,
    )
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
    from acscontract.ram._generate import (
        generate,
        generate_json,
        validate_account,
        validate_domain,
    )
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
    from acscontract.ram._load import load_policies, load_policy, read_policy, require_valid
    from acscontract.ram._parser import parse
    from acscontract.ram._report import render_json, render_sarif, render_text, text_chunks
    from acscontract.ram._wildcard import (
        Pattern,
        SearchLimitError,
        decide_inclusion,
        find_string,
        includes,
        matches,
        overlaps,
        witness,
    )

_LAZY: dict[str, tuple[str, ...]] = {
    "_arn": ("template_pattern",),
    "_baseline": ("Baseline",),
    "_config": ("FAIL_ON_CHOICES", "ConfigError", "LintConfig", "find_config", "load_config"),
    "_diff": ("Difference", "PolicyDiff", "diff"),
    "_document": (
        "ConditionClause",
        "Location",
        "Member",
        "ParseResult",
        "PolicyDocument",
        "PolicyKind",
        "PositionSource",
        "Statement",
        "Value",
    ),
    "_evaluator": (
        "Decision",
        "DecisionEffect",
        "Evaluator",
        "StatementRef",
        "evaluate",
        "parse_context",
    ),
    "_findings": ("Finding", "Severity"),
    "_generate": ("generate", "generate_json", "validate_account", "validate_domain"),
    "_grammar": ("GRAMMAR_CHECKS", "CheckInfo", "check_grammar", "validate"),
    "_language": (
        "MAX_POLICY_CHARACTERS",
        "OPERATORS",
        "OperatorSpec",
        "parse_bool",
        "parse_date",
        "parse_ip",
        "parse_network",
        "parse_number",
    ),
    "_lint": (
        "Check",
        "CheckRegistry",
        "LintContext",
        "Linter",
        "LintResult",
        "default_registry",
        "lint",
        "lint_paths",
    ),
    "_load": ("load_policies", "load_policy", "read_policy", "require_valid"),
    "_parser": ("parse",),
    "_report": ("render_json", "render_sarif", "render_text", "text_chunks"),
    "_wildcard": (
        "Pattern",
        "SearchLimitError",
        "decide_inclusion",
        "find_string",
        "includes",
        "matches",
        "overlaps",
        "witness",
    ),
}
_HOME = {name: module for module, names in _LAZY.items() for name in names}

__all__ = [
    "FAIL_ON_CHOICES",
    "GRAMMAR_CHECKS",
    "MAX_POLICY_CHARACTERS",
    "OPERATORS",
    "Baseline",
    "Check",
    "CheckInfo",
    "CheckRegistry",
    "ConditionClause",
    "ConfigError",
    "Decision",
    "DecisionEffect",
    "Difference",
    "Evaluator",
    "Finding",
    "LintConfig",
    "LintContext",
    "LintResult",
    "Linter",
    "Location",
    "Member",
    "OperatorSpec",
    "ParseResult",
    "Pattern",
    "PolicyDiff",
    "PolicyDocument",
    "PolicyKind",
    "PositionSource",
    "SearchLimitError",
    "Severity",
    "Statement",
    "StatementRef",
    "Value",
    "check_grammar",
    "decide_inclusion",
    "default_registry",
    "diff",
    "evaluate",
    "find_config",
    "find_string",
    "generate",
    "generate_json",
    "includes",
    "lint",
    "lint_paths",
    "load_config",
    "load_policies",
    "load_policy",
    "matches",
    "overlaps",
    "parse",
    "parse_bool",
    "parse_context",
    "parse_date",
    "parse_ip",
    "parse_network",
    "parse_number",
    "read_policy",
    "render_json",
    "render_sarif",
    "render_text",
    "require_valid",
    "template_pattern",
    "text_chunks",
    "validate",
    "validate_account",
    "validate_domain",
    "witness",
]
assert set(__all__) == set(_HOME), "__all__ and the table of lazy names must agree"


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'acscontract.ram' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"acscontract.ram.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
