"""Grammar checks: what makes RAM reject a policy document (`MalformedPolicyDocument`).

These need no catalog; they check the document's shape against the policy language. Each
problem is a `Finding` with a stable id from `GRAMMAR_CHECKS`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from acscontract._resources import doc_reference
from acscontract.ram._document import (
    ConditionClause,
    ParseResult,
    PolicyDocument,
    PolicyKind,
    Statement,
    Value,
    escape_pointer,
    json_type,
)
from acscontract.ram._findings import Finding, Severity
from acscontract.ram._language import (
    DOCUMENT_ELEMENTS,
    EFFECTS,
    MAX_POLICY_CHARACTERS,
    OPERATORS,
    STATEMENT_ELEMENTS,
    VERSION,
    canonical_value,
    operator_suggestion,
    parse_bool,
    parse_date,
    parse_network,
    parse_number,
)

__all__ = ["GRAMMAR_CHECKS", "CheckInfo", "check_grammar", "validate"]


@dataclass(frozen=True, slots=True)
class CheckInfo:
    """A check id, its default severity and a one-line summary (for docs and reporters)."""

    id: str
    severity: Severity
    summary: str


def _info(id_: str, severity: Severity, summary: str) -> tuple[str, CheckInfo]:
    return id_, CheckInfo(id_, severity, summary)


E, W = Severity.ERROR, Severity.WARNING

GRAMMAR_CHECKS: dict[str, CheckInfo] = dict(
    [
        _info("invalid-encoding", E, "The file is not UTF-8 text."),
        _info("byte-order-mark", W, "The file starts with a UTF-8 byte order mark."),
        _info("empty-document", E, "The file is empty or only whitespace."),
        _info("invalid-json", E, "The file is not valid JSON."),
        _info("duplicate-key", E, "An object repeats a member name, or has two differing by case."),
        _info("value-type", E, "A value has the wrong JSON type for its element."),
        _info("value-empty", E, "An element's value is an empty string or an empty list."),
        _info("value-unquoted", W, "A condition value is an unquoted number or boolean."),
        _info("version-invalid", E, 'Version is missing or is not "1".'),
        _info("statement-missing", E, "Statement is missing or empty."),
        _info("unknown-element", E, "An element name the policy language does not define."),
        _info("sid-undocumented", W, "Sid is not a documented element of RAM policies."),
        _info("effect-invalid", E, "Effect is missing or not exactly Allow or Deny."),
        _info("action-and-notaction", E, "A statement has both Action and NotAction."),
        _info("action-missing", E, "A statement has neither Action nor NotAction."),
        _info("resource-and-notresource", E, "A statement has both Resource and NotResource."),
        _info("resource-missing", E, "A statement has neither Resource nor NotResource."),
        _info("principal-not-allowed", E, "An identity policy statement has a Principal."),
        _info("principal-missing", E, "A trust or resource policy statement lacks a Principal."),
        _info("condition-shape", E, "Condition is not an object of operator objects."),
        _info("condition-operator-unknown", E, "A condition operator RAM does not support."),
        _info("condition-value-invalid", E, "A condition value that its operator cannot read."),
        _info("policy-too-large", E, "The document is longer than 6,144 characters."),
    ]
)


class _Emitter:
    __slots__ = ("doc", "found")

    def __init__(self, doc: PolicyDocument) -> None:
        self.doc = doc
        self.found: list[Finding] = []

    def add(self, check: str, pointer: str, message: str, hint: str, *, key: bool = False) -> None:
        line, column = self.doc.locate(pointer, key=key).position
        severity = GRAMMAR_CHECKS[check].severity
        self.found.append(
            Finding(check, severity, self.doc.name, line, column, pointer, message, hint)
        )

    def at_value(self, check: str, value: Value, message: str, hint: str) -> None:
        line, column = value.location.position
        severity = GRAMMAR_CHECKS[check].severity
        self.found.append(
            Finding(check, severity, self.doc.name, line, column, value.pointer, message, hint)
        )


_DOCUMENT_SET = frozenset(DOCUMENT_ELEMENTS)
_ONLY_STR = {str}
_STATEMENT_SET = frozenset(STATEMENT_ELEMENTS)
_EFFECT_SET = frozenset(EFFECTS)


def _child(pointer: str, name: str) -> str:
    return pointer + "/" + escape_pointer(name)


def _check_strings(
    emit: _Emitter, st: Statement, element: str, values: Sequence[Value], where: str
) -> None:
    if len(values) == 1 and type(values[0].value) is str and values[0].value:
        return
    raw = st.raw.get(element)
    if type(raw) is list and raw and "" not in raw and set(map(type, raw)) == _ONLY_STR:
        return  # a list of non-empty strings (tested in C: this is every clean policy)
    whole = Value(raw, st.pointer + "/" + element, st.source)
    if isinstance(raw, list) and not raw:
        emit.at_value(
            "value-empty",
            whole,
            f"{element} in {where} is an empty list, so the statement covers nothing.",
            f"List at least one value in {element}, or remove the statement.",
        )
        return
    if not isinstance(raw, str | list):
        emit.at_value(
            "value-type",
            whole,
            f"{element} in {where} is a {json_type(raw)}; it must be a string or a list of "
            "strings.",
            f'Write {element} as "value" or ["value", ...].',
        )
        return
    for v in values:
        if type(v.value) is not str:
            emit.at_value(
                "value-type",
                v,
                f"An entry of {element} in {where} is a {v.json_type}; entries must be strings.",
                "Quote the entry as a JSON string.",
            )
        elif v.value == "":
            emit.at_value(
                "value-empty",
                v,
                f"An entry of {element} in {where} is an empty string, which matches nothing.",
                "Remove the empty entry or write the intended name.",
            )


def _check_document(emit: _Emitter, doc: PolicyDocument) -> None:
    size = len(doc.source)
    if size > MAX_POLICY_CHARACTERS:
        emit.add(
            "policy-too-large",
            "",
            f"The document is {size:,} characters long; RAM accepts at most "
            f"{MAX_POLICY_CHARACTERS:,} characters per policy (counted here as written, "
            "whitespace included, since RAM does not document how it counts).",
            "Remove whitespace, merge statements that share resources, or split the policy.",
        )
    for name in doc.raw:
        if name not in _DOCUMENT_SET:
            _unknown(emit, name, _child("", name), DOCUMENT_ELEMENTS, "the document")
    version = doc.version
    if version is None:
        emit.add(
            "version-invalid",
            "",
            'The document has no Version; RAM policies must say "Version": "1".',
            'Add "Version": "1" at the top level.',
        )
    elif version.value != VERSION:
        shown = (
            repr(version.value)
            if version.is_string
            else f"the {version.json_type} {version.value!r}"
        )
        emit.at_value(
            "version-invalid",
            version,
            f'Version is {shown}; the only valid value is the string "1".',
            'Write "Version": "1" (a quoted string).',
        )
    element = doc.statement_element
    if element is None:
        emit.add(
            "statement-missing",
            "",
            "The document has no Statement, so it grants and denies nothing.",
            'Add "Statement": [ {...} ] with at least one statement.',
        )
        return
    raw = element.value
    if isinstance(raw, dict):
        emit.at_value(
            "value-type",
            element,
            "Statement is a single object; RAM expects a list of statements.",
            "Wrap the statement in a list: [ {...} ].",
        )
    elif not isinstance(raw, list):
        emit.at_value(
            "value-type",
            element,
            f"Statement is a {element.json_type}; it must be a list of statement objects.",
            'Write "Statement": [ {...}, ... ].',
        )
    elif not raw:
        emit.at_value(
            "statement-missing",
            element,
            "Statement is an empty list, so the policy grants and denies nothing.",
            "Add at least one statement.",
        )
    else:
        for i, item in enumerate(raw):
            if not isinstance(item, dict):
                emit.add(
                    "value-type",
                    f"/Statement/{i}",
                    f"Statement entry {i} is a {json_type(item)}; each entry must be an object "
                    "with Effect, Action and Resource.",
                    "Replace the entry with a statement object.",
                )


def _unknown(emit: _Emitter, name: str, pointer: str, known: Sequence[str], where: str) -> None:
    lowered = {k.lower(): k for k in known}
    meant = lowered.get(name.strip().lower())
    if meant is not None:
        message = (
            f"{name!r} in {where} is not an element; element names are case-sensitive and "
            f"this one should be spelled {meant!r}."
        )
        hint = f"Rename {name!r} to {meant!r}."
    else:
        message = (
            f"{name!r} in {where} is not an element of RAM policies; RAM rejects unknown "
            f"elements. Known here: {', '.join(known)}."
        )
        hint = f"Remove {name!r} or rename it to the element you meant."
    emit.add("unknown-element", pointer, message, hint, key=True)


def _check_statement(emit: _Emitter, doc: PolicyDocument, st: Statement) -> None:
    where = f"statement {st.index}" if len(doc.statements) > 0 else "the statement"
    raw = st.raw
    if not _STATEMENT_SET.issuperset(raw):
        for name in raw:
            if name not in _STATEMENT_SET:
                _unknown(emit, name, _child(st.pointer, name), STATEMENT_ELEMENTS, where)
    if "Sid" in raw and st.sid is not None:
        if not st.sid.is_string:
            emit.at_value(
                "value-type",
                st.sid,
                f"Sid in {where} is a {st.sid.json_type}; it must be a string.",
                "Quote the Sid.",
            )
        else:
            emit.add(
                "sid-undocumented",
                st.sid.pointer,
                f"{where.capitalize()} has a Sid; RAM's policy grammar does not list Sid, so "
                "whether CreatePolicy accepts it is not documented.",
                "Remove the Sid, or keep it only if your account accepts it.",
                key=True,
            )
    effect_text = raw.get("Effect")
    # A valid Effect is the usual case: its node is built only when there is something to say.
    if type(effect_text) is not str or effect_text not in _EFFECT_SET:
        if (effect := st.effect) is None:
            emit.add(
                "effect-invalid",
                st.pointer,
                f"{where.capitalize()} has no Effect; every statement must say Allow or Deny.",
                'Add "Effect": "Allow" or "Effect": "Deny".',
            )
        elif effect.value not in EFFECTS:
            text = effect.text
            meant = next(
                (e for e in EFFECTS if text is not None and text.lower() == e.lower()), None
            )
            hint = (
                f"Write {meant!r} (values are case-sensitive)."
                if meant
                else 'Use "Allow" or "Deny".'
            )
            emit.at_value(
                "effect-invalid",
                effect,
                f'Effect in {where} is {effect.value!r}; it must be exactly "Allow" or "Deny".',
                hint,
            )
    _check_pair(emit, st, where, "Action", "NotAction", True)
    _check_pair(emit, st, where, "Resource", "NotResource", doc.kind is not PolicyKind.TRUST)
    principal = "Principal" in raw
    if doc.kind is PolicyKind.IDENTITY and principal and st.principal is not None:
        emit.add(
            "principal-not-allowed",
            st.principal.pointer,
            f"{where.capitalize()} has a Principal, but this is an identity policy; Principal "
            "belongs only in trust and resource policies.",
            "Remove Principal, or check the policy as a trust or resource policy.",
            key=True,
        )
    elif doc.kind is not PolicyKind.IDENTITY and not principal:
        emit.add(
            "principal-missing",
            st.pointer,
            f"{where.capitalize()} has no Principal; a {doc.kind.value} policy must name who it "
            "applies to.",
            'Add "Principal": {"RAM": [...]} or {"Service": [...]}.',
        )
    if "Condition" in raw:
        _check_condition(emit, st, where)


def _check_pair(
    emit: _Emitter, st: Statement, where: str, name: str, not_name: str, required: bool
) -> None:
    raw = st.raw
    has, has_not = name in raw, not_name in raw
    if has != has_not:  # the usual case: exactly one of them, checked without building nodes
        element = name if has else not_name
        value = raw[element]
        if type(value) is str:
            if value:
                return
        elif (
            type(value) is list and value and "" not in value and set(map(type, value)) == _ONLY_STR
        ):
            return  # a list of non-empty strings (tested in C: this is every clean policy)
    values = st.actions if name == "Action" else st.resources
    not_values = st.not_actions if name == "Action" else st.not_resources
    check_base = name.lower()
    if values is not None and not_values is not None:
        emit.add(
            f"{check_base}-and-not{check_base}",
            st.pointer + "/" + not_name,
            f"{where.capitalize()} has both {name} and {not_name}; a statement takes exactly "
            "one of them.",
            f"Keep {name} (what the statement covers) or {not_name} (what it leaves out).",
            key=True,
        )
    if values is None and not_values is None:
        if required:
            emit.add(
                f"{check_base}-missing",
                st.pointer,
                f"{where.capitalize()} has neither {name} nor {not_name}; every statement must "
                f"say which {check_base}s it covers.",
                f'Add "{name}": [...].',
            )
        return
    for element, vals in ((name, values), (not_name, not_values)):
        if vals is not None:
            _check_strings(emit, st, element, vals, where)


def _clean_condition(raw: object, tests: list[tuple[str, str, Any]]) -> bool:
    """Whether a Condition (`raw`, whose `condition_tests` are `tests`) is known operators,
    each mapping keys to one value that its operator reads (nothing to report; decided without
    building the clause nodes)."""
    if type(raw) is not dict or not raw:
        return False
    for operator, block in raw.items():
        if operator not in OPERATORS or type(block) is not dict or not block:
            return False
    for operator, _, values in tests:
        if type(values) is list:
            if len(values) != 1:
                return False
            values = values[0]
        if type(values) is not str or _value_problem(OPERATORS[operator].type, values) is not None:
            return False
    return True


def _check_condition(emit: _Emitter, st: Statement, where: str) -> None:
    if _clean_condition(st.raw["Condition"], st.condition_tests()):
        return
    condition = st.condition
    assert condition is not None
    raw = condition.value
    if not isinstance(raw, dict):
        emit.at_value(
            "condition-shape",
            condition,
            f"Condition in {where} is a {condition.json_type}; it must be an object of "
            'operators, such as {"IpAddress": {"acs:SourceIp": ["203.0.113.0/24"]}}.',
            "Write Condition as {Operator: {Key: values}}.",
        )
        return
    if not raw:
        emit.found.append(
            Finding(
                "condition-shape",
                Severity.WARNING,
                emit.doc.name,
                condition.line,
                condition.column,
                condition.pointer,
                f"Condition in {where} is empty, so it restricts nothing.",
                "Remove the empty Condition or add the intended operator.",
            )
        )
        return
    for operator, block in raw.items():
        op_pointer = condition.pointer + "/" + escape_pointer(operator)
        if operator not in OPERATORS:
            meant = operator_suggestion(operator)
            if meant is not None and meant.lower() == operator.lower():
                message = (
                    f"Condition operator {operator!r} in {where} is not spelled as RAM defines "
                    f"it; operators are case-sensitive: {meant!r}."
                )
                hint = f"Rename the operator to {meant!r}."
            elif meant is not None:
                message = (
                    f"Condition operator {operator!r} in {where} is not supported by RAM (it has "
                    "no IfExists, ForAnyValue or ForAllValues forms)."
                )
                hint = (
                    f"Use {meant!r}; note that RAM's operators do not match when the key is "
                    "absent, except the negated ones."
                )
            else:
                message = (
                    f"Condition operator {operator!r} in {where} is not supported by RAM. "
                    "Supported: String*, Numeric*, Date*, Bool, IpAddress, NotIpAddress."
                )
                hint = f"Use one of the supported operators (see {doc_reference('ram.md')})."
            emit.add("condition-operator-unknown", op_pointer, message, hint, key=True)
        if not isinstance(block, dict):
            emit.add(
                "condition-shape",
                op_pointer,
                f"Operator {operator!r} in {where} maps to a {json_type(block)}; it must map "
                "condition keys to values.",
                f'Write {{"{operator}": {{"acs:Key": ["value"]}}}}.',
            )
        elif not block:
            emit.add(
                "condition-shape",
                op_pointer,
                f"Operator {operator!r} in {where} lists no condition keys.",
                "Add the key and values to test, or remove the operator.",
            )
    for clause in st.conditions:
        _check_clause(emit, clause, where)


def _check_clause(emit: _Emitter, clause: ConditionClause, where: str) -> None:
    spec = OPERATORS.get(clause.operator)
    values = clause.values
    if (
        spec is not None
        and len(values) == 1
        and type(values[0].value) is str
        and _value_problem(spec.type, values[0].value) is None
    ):
        return  # one quoted value its operator reads: nothing to report
    label = f"{clause.operator} {clause.key!r} in {where}"
    if len(values) == 1 and values[0].pointer == clause.pointer and values[0].json_type == "object":
        emit.at_value(
            "value-type",
            values[0],
            f"The values of {label} are an object; they must be a string or a list of strings.",
            "Write the values as a string or a list of strings.",
        )
        return
    if len(values) == 0:
        emit.add(
            "condition-shape",
            clause.pointer,
            f"{label} has an empty list of values, so it can never match.",
            "List at least one value.",
        )
        return
    if spec is not None and spec.type == "bool" and len(values) != 1:
        emit.add(
            "condition-shape",
            clause.pointer,
            f"{label} has {len(values)} values; Bool takes exactly one value.",
            'Keep one value, "true" or "false".',
        )
    for v in values:
        text = canonical_value(v.value)
        if text is None:
            emit.at_value(
                "value-type",
                v,
                f"A value of {label} is {_article(v.json_type)}; condition values are strings.",
                "Write the value as a quoted string.",
            )
            continue
        if not v.is_string:
            emit.at_value(
                "value-unquoted",
                v,
                f"A value of {label} is the unquoted {v.json_type} {text}; RAM documents "
                "condition values as quoted strings. It is read here as the string "
                f"{text!r}.",
                f'Quote it: "{text}".',
            )
        if spec is None:
            continue
        problem = _value_problem(spec.type, text)
        if problem is not None:
            emit.at_value(
                "condition-value-invalid",
                v,
                f"The value {text!r} of {label} {problem}",
                _VALUE_HINTS[spec.type],
            )


def _article(json_name: str) -> str:
    return "null" if json_name == "null" else f"an {json_name}"


_VALUE_HINTS = {
    "number": 'Write a decimal number such as "10" or "2.5".',
    "date": 'Write an ISO-8601 date-time with an offset, such as "2026-01-31T23:59:59+08:00".',
    "bool": 'Write "true" or "false" in lower case.',
    "ip": 'Write an IP address or CIDR block, such as "203.0.113.0/24".',
    "string": "",
}


def _value_problem(type_: str, text: str) -> str | None:
    if type_ == "number" and parse_number(text) is None:
        return "is not a number."
    if type_ == "date" and parse_date(text) is None:
        return "is not an ISO-8601 date or date-time."
    if type_ == "bool" and parse_bool(text) is None:
        return 'is not "true" or "false" (predefined values are case-sensitive).'
    if type_ == "ip" and parse_network(text) is None:
        return "is not an IP address or CIDR block."
    return None


def check_grammar(document: PolicyDocument) -> tuple[Finding, ...]:
    """Every grammar problem of a parsed document, in document order."""
    emit = _Emitter(document)
    _check_document(emit, document)
    for st in document.statements:
        _check_statement(emit, document, st)
    return tuple(emit.found)


def validate(result: ParseResult) -> ParseResult:
    """`result` with the grammar problems of its document added."""
    if result.document is None:
        return result
    found = check_grammar(result.document)
    if not found:
        return result
    return ParseResult(result.document, result.problems + found)


def iter_errors(findings: Iterable[Finding]) -> Iterator[Finding]:
    """Only the findings of severity error."""
    return (f for f in findings if f.severity is Severity.ERROR)
