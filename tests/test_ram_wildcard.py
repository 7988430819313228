"""RAM wildcards: matching, and the exact language operations the diff relies on."""

from __future__ import annotations

import functools
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acscontract.errors import AcsContractError
from acscontract.ram import (
    Pattern,
    SearchLimitError,
    decide_inclusion,
    find_string,
    includes,
    matches,
    overlaps,
    witness,
)
from acscontract.ram._wildcard import ANY_RUN, SearchBudget, compile_union, fold


def reference_match(pattern: str, text: str) -> bool:
    """A deliberately naive recursive matcher: `*` any run, `?` one character."""

    @functools.cache
    def go(i: int, j: int) -> bool:
        if i == len(pattern):
            return j == len(text)
        c = pattern[i]
        if c == "*":
            return go(i + 1, j) or (j < len(text) and go(i, j + 1))
        if j == len(text):
            return False
        return (c == "?" or c == text[j]) and go(i + 1, j + 1)

    return go(0, 0)


def reference_match_folded(pattern: str, text: str) -> bool:
    return reference_match(fold(pattern), fold(text))


patterns = st.text(alphabet="ab*?", max_size=6)
texts = st.text(alphabet="abAB*?x", max_size=7)


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("live:*", "live:RealTimeRecordCommand", True),
        ("live:*Record*", "live:RealTimeRecordCommand", True),
        ("live:Describe*", "live:RealTimeRecordCommand", False),
        ("*", "", True),
        ("?", "", False),
        ("a?c", "abc", True),
        ("a?c", "ac", False),
        ("acs:cdn:*:1234567890123456:domain/*", "acs:cdn:*:1234567890123456:domain/x.com", True),
        ("acs:cdn:*:*:domain/a.example.com", "acs:cdn:*:1:domain/b.example.com", False),
        ("a.b", "aXb", False),  # `.` is a literal, not a regular-expression wildcard
        ("a(b", "a(b", True),
        ("x*", "x\ny", True),  # `*` spans newlines too
    ],
)
def test_matching_examples(pattern: str, text: str, expected: bool) -> None:
    assert matches(pattern, text) is expected
    assert reference_match(pattern, text) is expected


def test_case_insensitive_matching_is_an_option() -> None:
    assert not matches("live:realtimerecordcommand", "live:RealTimeRecordCommand")
    assert matches("live:realtimerecordcommand", "live:RealTimeRecordCommand", ignore_case=True)
    assert matches("LIVE:Real*", "live:realTIMErecord", ignore_case=True)


def test_compile_union_matches_any_of_the_patterns() -> None:
    either = compile_union(["live:Describe*", "live:RealTimeRecordCommand"], ignore_case=True)
    assert either("live:DescribeLiveStreamState")
    assert either("LIVE:realtimerecordcommand")
    assert not either("live:AddLiveDomain")
    assert not compile_union([])("anything")
    assert compile_union(["*"])("anything")


def test_a_pattern_can_hold_a_literal_star() -> None:
    arn_space = Pattern.concat(["acs:cdn:*:", Pattern((ANY_RUN,)), ":domain/x"])
    assert arn_space.matches("acs:cdn:*:1234567890123456:domain/x")
    assert not arn_space.matches("acs:cdn:cn-shanghai:1234567890123456:domain/x")
    assert str(Pattern.wildcard("a**b")) == "a*b"


@settings(max_examples=400, deadline=None)
@given(patterns, texts)
def test_matching_agrees_with_the_reference_matcher(pattern: str, text: str) -> None:
    assert matches(pattern, text) == reference_match(pattern, text)
    assert matches(pattern, text, ignore_case=True) == reference_match_folded(pattern, text)
    assert compile_union([pattern, "b?"])(text) == (
        reference_match(pattern, text) or reference_match("b?", text)
    )


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("live:*", "live:Real*", True),
        ("live:Real*", "live:*", False),
        ("*", "anything*", True),
        ("*a*", "*a*a*", True),
        ("*a*a*", "*a*", False),
        ("a?", "ab", True),
        ("ab", "a?", False),
        ("a*b", "a?*b", True),
        ("a*", "a*", True),
        ("acs:cdn:*:*:domain/*", "acs:cdn:*:1234567890123456:domain/*.example.com", True),
    ],
)
def test_inclusion_examples(a: str, b: str, expected: bool) -> None:
    assert includes(a, b) is expected
    found = witness(b, a)
    assert (found is None) is expected
    if found is not None:
        assert matches(b, found)
        assert not matches(a, found)


def test_witness_is_a_shortest_difference() -> None:
    assert witness("live:*", "live:Real*") == "live:"
    assert witness("*a*b*", "*b*a*") == "ab"
    assert witness("a*", "a*") is None


def test_inclusion_can_ignore_case() -> None:
    assert includes("LIVE:*", "live:real*", ignore_case=True)
    assert not includes("LIVE:*", "live:real*")


def test_find_string_solves_boolean_combinations() -> None:
    # In the first and the second, but in neither the third nor the fourth.
    found = find_string(
        ["acs:*", "*:domain/*", "*example.com", "*x*"],
        lambda m: m[0] and m[1] and not m[2] and not m[3],
    )
    assert found is not None
    assert matches("acs:*", found)
    assert matches("*:domain/*", found)
    assert not matches("*example.com", found)
    assert not matches("*x*", found)
    # The filler for "any other character" avoids every character the patterns name.
    assert find_string(["x*", "?"], lambda m: m[1] and not m[0]) not in (None, "x")


def all_strings(alphabet: str, max_len: int) -> list[str]:
    out = [""]
    for n in range(1, max_len + 1):
        out += ["".join(p) for p in itertools.product(alphabet, repeat=n)]
    return out


SMALL_WORLD = all_strings("abc", 5)


@settings(max_examples=300, deadline=None)
@given(patterns, patterns)
def test_witness_and_inclusion_are_exact(a: str, b: str) -> None:
    found = witness(b, a)
    assert includes(a, b) == (found is None)
    if found is None:
        # No counterexample among all short strings over the pattern characters and one other.
        assert not any(reference_match(b, s) and not reference_match(a, s) for s in SMALL_WORLD)
    else:
        assert reference_match(b, found)
        assert not reference_match(a, found)


@settings(max_examples=150, deadline=None)
@given(patterns, patterns)
def test_case_insensitive_witness_is_exact(a: str, b: str) -> None:
    a, b = a.upper(), b
    found = witness(b, a, ignore_case=True)
    if found is None:
        assert not any(
            reference_match_folded(b, s) and not reference_match_folded(a, s) for s in SMALL_WORLD
        )
    else:
        assert reference_match_folded(b, found)
        assert not reference_match_folded(a, found)


# ---------------------------------------------------------------------------------------------
# Bounded cost: polynomial paths, a budget for the rest, never an exception from the linter


@settings(max_examples=300, deadline=None)
@given(patterns, patterns)
def test_overlap_agrees_with_the_product_search(a: str, b: str) -> None:
    both = find_string([a, b], lambda m: m[0] and m[1])
    assert overlaps(a, b) == (both is not None)


long_patterns = st.text(alphabet="ab*??", max_size=14)


@settings(max_examples=300, deadline=None)
@given(long_patterns, long_patterns)
def test_decided_inclusion_is_exact(a: str, b: str) -> None:
    decided = decide_inclusion(a, b)
    assert decided is not None  # short patterns never exhaust the default budget
    assert decided == (witness(b, a) is None)


def test_a_search_that_needs_more_than_its_budget_is_undecided_not_an_error() -> None:
    # `a` mixes `?` with `*` and `b` has a star: neither polynomial case applies.
    a, b = "*a??????????*", "*aa??????????*"
    assert decide_inclusion(a, b) is True
    tiny = SearchBudget(3)
    assert decide_inclusion(a, b, budget=tiny) is None
    assert tiny.left < 0
    with pytest.raises(SearchLimitError, match="could not be decided within the search budget"):
        includes(a, b, budget=SearchBudget(3))
    assert issubclass(SearchLimitError, AcsContractError)  # the command line prints one line


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("*a" * 14 + "*b", "a" * 40, False),  # a backtracking regex takes minutes on these
        ("*a" * 14 + "*b", "a" * 40 + "b", True),
        ("*?" * 20 + "x", "y" * 60, False),
        ("a*?b?*c", "axbyc", True),
    ],
)
def test_matching_hostile_patterns(pattern: str, text: str, expected: bool) -> None:
    assert matches(pattern, text) is expected
    assert compile_union([pattern, "zzz"])(text) is expected
