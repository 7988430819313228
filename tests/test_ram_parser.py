"""The policy parser and the grammar checks: shapes, positions, problems, and never crashing."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acscontract.ram import (
    GRAMMAR_CHECKS,
    PolicyKind,
    Severity,
    check_grammar,
    parse,
    validate,
)

POLICY = """{
  "Version": "1",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["live:RealTimeRecordCommand", "live:Describe*"],
      "Resource": "acs:cdn:*:1234567890123456:domain/live.example.com",
      "Condition": {
        "IpAddress": {"acs:SourceIp": ["203.0.113.0/24", "198.51.100.0/24"]},
        "Bool": {"acs:SecureTransport": true}
      }
    },
    {"Effect": "Deny", "NotAction": "live:Describe*", "NotResource": ["acs:cdn:*:*:domain/x"]}
  ]
}
"""


def position_of(text: str, needle: str, nth: int = 0) -> tuple[int, int]:
    offset = -1
    for _ in range(nth + 1):
        offset = text.index(needle, offset + 1)
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def checks(text: str, kind: str = "identity") -> list[str]:
    result = validate(parse(text, name="p.json", kind=kind))
    return [p.check for p in result.problems]


# --- the document model ------------------------------------------------------------------------


def test_parse_builds_statements_with_values_pointers_and_positions() -> None:
    result = parse(POLICY, name="p.json")
    assert result.ok
    doc = result.document
    assert doc is not None
    assert doc.name == "p.json"
    assert doc.kind is PolicyKind.IDENTITY
    assert doc.version is not None
    assert doc.version.value == "1"
    assert [s.index for s in doc.statements] == [0, 1]
    first, second = doc.statements
    assert first.effect_text == "Allow"
    assert first.actions is not None
    assert [a.value for a in first.actions] == ["live:RealTimeRecordCommand", "live:Describe*"]
    assert [a.pointer for a in first.actions] == ["/Statement/0/Action/0", "/Statement/0/Action/1"]
    assert (first.actions[1].line, first.actions[1].column) == position_of(
        POLICY, '"live:Describe*"'
    )
    assert first.resources is not None
    assert len(first.resources) == 1
    assert first.resources[0].pointer == "/Statement/0/Resource"
    assert first.not_actions is None
    assert second.not_actions is not None
    assert [v.value for v in second.not_actions] == ["live:Describe*"]
    assert second.not_resources is not None
    assert second.not_resources[0].pointer == "/Statement/1/NotResource/0"
    assert (second.line, second.column) == position_of(POLICY, '{"Effect": "Deny"')


def test_condition_clauses_keep_operator_key_values_and_original_json_types() -> None:
    doc = parse(POLICY).document
    assert doc is not None
    clauses = doc.statements[0].conditions
    assert [(c.operator, c.key) for c in clauses] == [
        ("IpAddress", "acs:SourceIp"),
        ("Bool", "acs:SecureTransport"),
    ]
    ip, tls = clauses
    assert [v.value for v in ip.values] == ["203.0.113.0/24", "198.51.100.0/24"]
    assert ip.values[1].pointer == "/Statement/0/Condition/IpAddress/acs:SourceIp/1"
    assert tls.values[0].value is True
    assert tls.values[0].json_type == "boolean"
    assert tls.key_location.position == position_of(POLICY, '"acs:SecureTransport"')
    assert tls.operator_location.position == position_of(POLICY, '"Bool"')
    assert tls.operator_location.pointer == "/Statement/0/Condition/Bool"


def test_members_keep_every_member_in_order_with_key_positions() -> None:
    doc = parse(POLICY).document
    assert doc is not None
    names = [m.name for m in doc.statements[0].members]
    assert names == ["Effect", "Action", "Resource", "Condition"]
    effect = doc.statements[0].member("Effect")
    assert effect is not None
    assert effect.key.position == position_of(POLICY, '"Effect"')
    assert effect.value.location.position == position_of(POLICY, '"Allow"')


def test_pointer_tokens_are_escaped_and_escaped_keys_are_decoded() -> None:
    text = '{"Version": "1", "Statement": [{"Eff\\u0065ct": "Allow", "a/b~c": 1}]}'
    doc = parse(text).document
    assert doc is not None
    st0 = doc.statements[0]
    assert st0.effect_text == "Allow"
    member = st0.member("a/b~c")
    assert member is not None
    assert member.pointer == "/Statement/0/a~1b~0c"
    assert member.key.position == position_of(text, '"a/b~c"')


def test_a_single_statement_object_is_kept_and_flagged() -> None:
    text = '{"Version": "1", "Statement": {"Effect": "Allow", "Action": "a:b", "Resource": "*"}}'
    result = validate(parse(text))
    assert result.document is not None
    assert len(result.document.statements) == 1
    assert result.document.statements[0].pointer == "/Statement"
    assert [p.check for p in result.problems] == ["value-type"]


def test_parse_accepts_bytes_and_str_alike() -> None:
    from_bytes = parse(POLICY.encode("utf-8")).document
    from_str = parse(POLICY).document
    assert from_bytes is not None
    assert from_str is not None
    assert from_bytes.statements == from_str.statements


# --- structural problems -----------------------------------------------------------------------


def test_duplicate_members_are_reported_at_the_second_one_and_the_last_wins() -> None:
    text = '{"Version": "1", "Statement": [{"Effect": "Deny", "Effect": "Allow"}]}'
    result = parse(text, name="d.json")
    dup = [p for p in result.problems if p.check == "duplicate-key"]
    assert len(dup) == 1
    assert dup[0].pointer == "/Statement/0/Effect"
    assert (dup[0].line, dup[0].column) == position_of(text, '"Effect"', nth=1)
    assert "line 1, column 33" in dup[0].message
    assert result.document is not None
    effect = result.document.statements[0].effect
    assert effect is not None
    assert effect.value == "Allow"
    assert effect.occurrence == 1
    assert effect.location.position == position_of(text, '"Allow"')
    members = result.document.statements[0].members
    assert [(m.name, m.value.value) for m in members] == [("Effect", "Deny"), ("Effect", "Allow")]


def test_members_differing_only_by_case_are_duplicates() -> None:
    text = '{"Version": "1", "version": "1", "Statement": []}'
    result = parse(text)
    dup = [p for p in result.problems if p.check == "duplicate-key"]
    assert len(dup) == 1
    assert dup[0].pointer == "/version"
    assert "differ only by case" in dup[0].message
    assert dup[0].severity is Severity.ERROR


def test_duplicates_deep_inside_a_condition_are_found() -> None:
    text = (
        '{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "a:b", "Resource": "*",'
        ' "Condition": {"StringEquals": {"acs:AccessId": "x", "acs:accessid": "y"}}}]}'
    )
    dup = [p for p in parse(text).problems if p.check == "duplicate-key"]
    assert [p.pointer for p in dup] == ["/Statement/0/Condition/StringEquals/acs:accessid"]


@pytest.mark.parametrize(
    ("source", "check", "position"),
    [
        ("", "empty-document", (1, 1)),
        ("  \n\t ", "empty-document", (1, 1)),
        ('{"Version": "1",\n  "Statement": [}', "invalid-json", (2, 17)),
        ('{"a": NaN}', "invalid-json", (1, 7)),
        ('{"a": -Infinity}', "invalid-json", (1, 7)),
        ("[1, 2]", "value-type", (1, 1)),
        ('"just a string"', "value-type", (1, 1)),
        ("[" * 100_000, "invalid-json", (1, 1)),
        ('{"a": ' + "9" * 5000 + "}", "invalid-json", (1, 1)),
    ],
)
def test_unusable_text_gives_problems_and_no_document(
    source: str, check: str, position: tuple[int, int]
) -> None:
    result = parse(source, name="bad.json")
    assert result.document is None
    assert not result.ok
    assert [p.check for p in result.problems] == [check]
    problem = result.problems[0]
    assert (problem.line, problem.column) == position
    assert problem.file == "bad.json"
    assert problem.message.endswith(".")
    assert problem.hint


def test_bytes_that_are_not_utf8_are_reported_with_their_position() -> None:
    result = parse(b'{"Version": "1",\n "Statement": "\xff"}', name="latin.json")
    assert result.document is None
    assert [(p.check, p.line, p.column) for p in result.problems] == [("invalid-encoding", 2, 16)]
    assert "0xff" in result.problems[0].message


@pytest.mark.parametrize("source", [b"\xef\xbb\xbf" + POLICY.encode(), "\ufeff" + POLICY])
def test_a_byte_order_mark_is_a_warning_and_the_policy_is_still_read(source: bytes | str) -> None:
    result = parse(source)
    assert [(p.check, p.severity) for p in result.problems] == [
        ("byte-order-mark", Severity.WARNING)
    ]
    assert result.ok
    assert result.document is not None
    assert result.document.statements[0].line == position_of(POLICY, '"Effect"')[0] - 1


# --- grammar -----------------------------------------------------------------------------------


def statement(**elements: object) -> str:
    body = {"Effect": "Allow", "Action": "live:RealTimeRecordCommand", "Resource": "*"}
    body.update(elements)
    body = {k: v for k, v in body.items() if v is not None}
    return json.dumps({"Version": "1", "Statement": [body]})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (statement(), []),
        (
            '{"Statement": [{"Effect": "Allow", "Action": "a:b", "Resource": "*"}]}',
            ["version-invalid"],
        ),
        (
            '{"Version": 1, "Statement": [{"Effect": "Allow", "Action": "a:b", "Resource": "*"}]}',
            ["version-invalid"],
        ),
        ('{"Version": "1"}', ["statement-missing"]),
        ('{"Version": "1", "Statement": []}', ["statement-missing"]),
        ('{"Version": "1", "Statement": [3]}', ["value-type"]),
        (statement(Effect="allow"), ["effect-invalid"]),
        (statement(Effect=None), ["effect-invalid"]),
        (statement(NotAction="live:Describe*"), ["action-and-notaction"]),
        (statement(Action=None), ["action-missing"]),
        (statement(Action=[]), ["value-empty"]),
        (statement(Action=["a:b", 3]), ["value-type"]),
        (statement(Action=""), ["value-empty"]),
        (statement(Resource=None), ["resource-missing"]),
        (statement(NotResource="x"), ["resource-and-notresource"]),
        (statement(Resource={"a": "b"}), ["value-type"]),
        (
            statement(Principal={"RAM": ["acs:ram::1234567890123456:root"]}),
            ["principal-not-allowed"],
        ),
        (statement(effect="Allow"), ["duplicate-key", "unknown-element"]),
        (statement(Sid="Recorder"), ["sid-undocumented"]),
        (statement(Sid=5), ["value-type"]),
        ('{"Version": "1", "Statement": [], "Id": "x"}', ["unknown-element", "statement-missing"]),
        (statement(Condition=[]), ["condition-shape"]),
        (statement(Condition={"Bool": "true"}), ["condition-shape"]),
        (statement(Condition={"Bool": {}}), ["condition-shape"]),
        (
            statement(Condition={"Bool": {"acs:SecureTransport": ["true", "false"]}}),
            ["condition-shape"],
        ),
        (statement(Condition={"StringEquals": {"acs:AccessId": []}}), ["condition-shape"]),
        (
            statement(Condition={"stringEquals": {"acs:AccessId": "x"}}),
            ["condition-operator-unknown"],
        ),
        (
            statement(Condition={"StringEqualsIfExists": {"acs:AccessId": "x"}}),
            ["condition-operator-unknown"],
        ),
        (statement(Condition={"Null": {"acs:AccessId": "true"}}), ["condition-operator-unknown"]),
        (
            statement(Condition={"Bool": {"acs:SecureTransport": "True"}}),
            ["condition-value-invalid"],
        ),
        (
            statement(Condition={"IpAddress": {"acs:SourceIp": "203.0.113.0/33"}}),
            ["condition-value-invalid"],
        ),
        (
            statement(Condition={"NumericLessThan": {"acs:ResourceTag/n": "ten"}}),
            ["condition-value-invalid"],
        ),
        (
            statement(Condition={"DateLessThan": {"acs:CurrentTime": "tomorrow"}}),
            ["condition-value-invalid"],
        ),
        (statement(Condition={"Bool": {"acs:SecureTransport": True}}), ["value-unquoted"]),
        (statement(Condition={"NumericEquals": {"acs:ResourceTag/n": 10}}), ["value-unquoted"]),
        (statement(Condition={"StringEquals": {"acs:AccessId": [None]}}), ["value-type"]),
        (statement(Condition={"StringEquals": {"acs:AccessId": {"a": "b"}}}), ["value-type"]),
    ],
)
def test_grammar_checks(text: str, expected: list[str]) -> None:
    assert checks(text) == expected


def test_principal_rules_depend_on_the_policy_kind() -> None:
    trust = json.dumps(
        {
            "Version": "1",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "sts:AssumeRole",
                    "Principal": {"Service": ["live.aliyuncs.com"]},
                }
            ],
        }
    )
    assert checks(trust, kind="trust") == []
    assert checks(trust, kind="identity") == ["resource-missing", "principal-not-allowed"]
    assert checks(statement(), kind="resource") == ["principal-missing"]


def test_an_empty_condition_is_a_warning() -> None:
    result = validate(parse(statement(Condition={})))
    assert [(p.check, p.severity) for p in result.problems] == [
        ("condition-shape", Severity.WARNING)
    ]
    assert result.ok


def test_size_limit_counts_characters_as_written() -> None:
    padded = statement()[:-1] + " " * 6144 + "}"
    assert "policy-too-large" in checks(padded)
    assert "policy-too-large" not in checks(statement())


def test_grammar_findings_carry_position_pointer_message_and_hint() -> None:
    text = (
        '{\n  "Version": "1",\n  "Statement": [\n    {"Effect": "Allow", "Action": "a:b",\n'
        '     "Resource": "*", "Efect": 1}\n  ]\n}'
    )
    result = validate(parse(text, name="typo.json"))
    (finding,) = result.problems
    assert finding.check == "unknown-element"
    assert finding.file == "typo.json"
    assert (finding.line, finding.column) == position_of(text, '"Efect"')
    assert finding.pointer == "/Statement/0/Efect"
    assert "RAM rejects unknown elements" in finding.message
    assert "Efect" in finding.hint
    assert finding.describe().startswith("typo.json:5:23: error [unknown-element]")
    assert finding.to_dict()["severity"] == "error"


def test_wrongly_cased_element_names_get_the_right_spelling() -> None:
    problems = validate(parse(statement(resource="*", Resource=None))).problems
    assert [p.check for p in problems] == ["unknown-element", "resource-missing"]
    assert "should be spelled 'Resource'" in problems[0].message
    assert problems[0].hint == "Rename 'resource' to 'Resource'."


def test_every_grammar_id_is_kebab_case_and_has_a_severity() -> None:
    for check_id, info in GRAMMAR_CHECKS.items():
        assert check_id == info.id
        assert check_id.replace("-", "").isalpha()
        assert check_id == check_id.lower()
        assert isinstance(info.severity, Severity)


def test_severities_are_ordered_error_security_warning_suggestion() -> None:
    assert Severity.ERROR > Severity.SECURITY > Severity.WARNING > Severity.SUGGESTION
    assert sorted(Severity) == [
        Severity.SUGGESTION,
        Severity.WARNING,
        Severity.SECURITY,
        Severity.ERROR,
    ]
    assert Severity.parse("Security") is Severity.SECURITY
    with pytest.raises(ValueError, match="not a severity"):
        Severity.parse("fatal")


# --- never crashing ----------------------------------------------------------------------------


def assert_usable(source: bytes | str) -> None:
    result = parse(source, name="fuzz.json")
    assert result.document is not None or result.problems
    for problem in result.problems:
        assert problem.line >= 1
        assert problem.column >= 1
        assert problem.check in GRAMMAR_CHECKS
    if result.document is not None:
        grammar = check_grammar(result.document)
        for finding in grammar:
            assert finding.line >= 1
            assert finding.check in GRAMMAR_CHECKS
        for st_ in result.document.statements:
            assert st_.line >= 1
            for clause in st_.conditions:
                assert clause.line >= 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                ["Version", "Statement", "Effect", "Action", "Resource", "Condition", "effect", "x"]
            )
            | st.text(max_size=4),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_crash_the_parser(data: bytes) -> None:
    assert_usable(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values, st.integers(min_value=0, max_value=40), st.sampled_from(["", "}", ",", '"']))
def test_json_ish_text_never_crashes_the_parser(value: object, cut: int, junk: str) -> None:
    text = json.dumps(value, indent=1)
    assert_usable(text)
    assert_usable(text[:cut] + junk + text[cut:])


policy_like = st.fixed_dictionaries(
    {
        "Version": st.just("1"),
        "Statement": st.lists(
            st.fixed_dictionaries(
                {
                    "Effect": st.sampled_from(["Allow", "Deny"]),
                    "Action": st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=3),
                    "Resource": st.text(min_size=1, max_size=6),
                }
            ),
            min_size=1,
            max_size=3,
        ),
    }
)


@settings(max_examples=60, deadline=None)
@given(policy_like, st.sampled_from([None, 0, 1, 3]))
def test_every_value_position_points_at_that_value_in_the_text(
    policy: dict[str, object], indent: int | None
) -> None:
    text = json.dumps(policy, indent=indent, ensure_ascii=False)
    lines = text.split("\n")
    doc = parse(text).document
    assert doc is not None
    for statement_ in doc.statements:
        assert statement_.actions is not None
        assert statement_.resources is not None
        for value in (*statement_.actions, *statement_.resources):
            line, column = value.location.position
            found = lines[line - 1][column - 1 :]
            assert found.startswith(json.dumps(value.value, ensure_ascii=False))
