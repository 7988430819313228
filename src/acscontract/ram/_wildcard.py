"""RAM wildcards: `*` matches any run of characters (also none), `?` exactly one character.

Two jobs:

- matching a concrete string, through compiled and cached regular expressions;
- exact language operations on patterns (`includes`, `witness`, `find_string`), through a
  product of the patterns' automata over the characters the patterns name plus one symbol for
  "any other character". No sampling: the answers are exact.

RAM has no escape for `*` or `?`, so in a wildcard pattern they are always wildcards. A `Pattern`
can still hold a literal `*` (for ARN templates whose region is literally `*`).

Case-insensitive comparison folds each character with `str.lower` when that gives a single
character (so every operation, and the reference matcher in the tests, agree exactly).
"""

from __future__ import annotations

import functools
import re
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "ANY_CHAR",
    "ANY_RUN",
    "Pattern",
    "compile_union",
    "find_string",
    "fold",
    "includes",
    "matches",
    "witness",
]


class _Wild:
    __slots__ = ("symbol",)

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol

    def __repr__(self) -> str:
        return self.symbol


ANY_CHAR = _Wild("?")
"""Token: exactly one character."""
ANY_RUN = _Wild("*")
"""Token: any run of characters, including none."""

Token = str | _Wild


def _fold_char(c: str) -> str:
    low = c.lower()
    return low if len(low) == 1 else c


def fold(text: str) -> str:
    """`text` with each character case-folded (one character in, one out)."""
    if text.isascii():
        return text.lower()
    return "".join(map(_fold_char, text))


@dataclass(frozen=True, slots=True)
class Pattern:
    """A sequence of tokens: literal characters, `ANY_CHAR` and `ANY_RUN`."""

    tokens: tuple[Token, ...]

    @classmethod
    def wildcard(cls, text: str) -> Pattern:
        """The pattern RAM reads from `text` (`*` and `?` are always wildcards)."""
        return _parse_wildcard(text)

    @classmethod
    def literal(cls, text: str) -> Pattern:
        """A pattern matching exactly `text`, even if it contains `*` or `?`."""
        return cls(tuple(text))

    @classmethod
    def concat(cls, parts: Iterable[Pattern | str]) -> Pattern:
        """The concatenation of patterns; a plain `str` part is literal."""
        tokens: list[Token] = []
        for part in parts:
            tokens.extend(part.tokens if isinstance(part, Pattern) else tuple(part))
        return cls(tuple(tokens))

    def folded(self) -> Pattern:
        return Pattern(tuple(t if isinstance(t, _Wild) else _fold_char(t) for t in self.tokens))

    def matches(self, text: str, *, ignore_case: bool = False) -> bool:
        """Whether the whole of `text` is in the pattern's language."""
        return _regex(self, ignore_case).fullmatch(fold(text) if ignore_case else text) is not None

    def __str__(self) -> str:
        return "".join(t.symbol if isinstance(t, _Wild) else t for t in self.tokens)


@functools.lru_cache(maxsize=8192)
def _parse_wildcard(text: str) -> Pattern:
    tokens: list[Token] = []
    for c in text:
        if c == "*":
            if not tokens or tokens[-1] is not ANY_RUN:  # `**` is the same language as `*`
                tokens.append(ANY_RUN)
        elif c == "?":
            tokens.append(ANY_CHAR)
        else:
            tokens.append(c)
    return Pattern(tuple(tokens))


def _as_pattern(p: Pattern | str) -> Pattern:
    return p if isinstance(p, Pattern) else _parse_wildcard(p)


def _regex_source(p: Pattern, ignore_case: bool) -> str:
    out: list[str] = []
    for t in p.tokens:
        if t is ANY_RUN:
            out.append(".*")
        elif t is ANY_CHAR:
            out.append(".")
        else:
            assert isinstance(t, str)
            out.append(re.escape(_fold_char(t) if ignore_case else t))
    return "".join(out)


@functools.lru_cache(maxsize=8192)
def _regex(p: Pattern, ignore_case: bool) -> re.Pattern[str]:
    return re.compile(_regex_source(p, ignore_case), re.DOTALL)


def matches(pattern: Pattern | str, text: str, *, ignore_case: bool = False) -> bool:
    """Whether `text` is matched by the wildcard `pattern` (the whole of it)."""
    return _as_pattern(pattern).matches(text, ignore_case=ignore_case)


@functools.lru_cache(maxsize=4096)
def _union(patterns: tuple[Pattern, ...], ignore_case: bool) -> Callable[[str], bool]:
    if not patterns:
        return lambda text: False
    if any(p.tokens == (ANY_RUN,) for p in patterns):
        return lambda text: True
    if all(not any(isinstance(t, _Wild) for t in p.tokens) for p in patterns):
        literals = frozenset(
            fold(str(p)) if ignore_case else "".join(str(t) for t in p.tokens) for p in patterns
        )
        if ignore_case:
            return lambda text: fold(text) in literals
        return literals.__contains__
    source = "|".join(f"(?:{_regex_source(p, ignore_case)})" for p in patterns)
    full = re.compile(source, re.DOTALL).fullmatch
    if ignore_case:
        return lambda text: full(fold(text)) is not None
    return lambda text: full(text) is not None


def compile_union(
    patterns: Iterable[Pattern | str], *, ignore_case: bool = False
) -> Callable[[str], bool]:
    """A fast predicate: does a string match at least one of `patterns`?"""
    return _union(tuple(_as_pattern(p) for p in patterns), ignore_case)


# ---------------------------------------------------------------------------------------------
# Language operations


_OTHER = None  # the symbol for "a character no pattern names"
_STATE_LIMIT = 200_000


def _closure(tokens: tuple[Token, ...], positions: Iterable[int]) -> frozenset[int]:
    n = len(tokens)
    out: set[int] = set()
    for j in positions:
        while True:
            if j in out:
                break
            out.add(j)
            if j < n and tokens[j] is ANY_RUN:
                j += 1
            else:
                break
    return frozenset(out)


def _step(tokens: tuple[Token, ...], state: frozenset[int], symbol: str | None) -> frozenset[int]:
    n = len(tokens)
    nxt: list[int] = []
    for j in state:
        if j >= n:
            continue
        t = tokens[j]
        if t is ANY_RUN:
            nxt.append(j)
        elif t is ANY_CHAR or t == symbol:
            nxt.append(j + 1)
    return _closure(tokens, nxt) if nxt else frozenset()


def _filler(alphabet: set[str], ignore_case: bool) -> str:
    for c in "xyzqwkjvbn0123456789abcdefghilmoprstu_-.":
        if c not in alphabet and (not ignore_case or _fold_char(c) not in alphabet):
            return c
    code = 0x4E00
    while chr(code) in alphabet:
        code += 1
    return chr(code)


class SearchLimitError(RuntimeError):
    """The patterns' product automaton has more states than an exact search will explore."""


def find_string(
    patterns: Sequence[Pattern | str],
    accept: Callable[[tuple[bool, ...]], bool],
    *,
    ignore_case: bool = False,
) -> str | None:
    """A shortest string whose match results against `patterns` satisfy `accept`, or None.

    `accept` gets one bool per pattern (does the string match it?). For example the strings
    matched by `b` but not by `a` are `find_string([a, b], lambda m: m[1] and not m[0])`.
    The search is exact: None means no such string exists.
    """
    pats = [_as_pattern(p) for p in patterns]
    if ignore_case:
        pats = [p.folded() for p in pats]
    token_lists = [p.tokens for p in pats]
    alphabet: set[str] = set()
    for tokens in token_lists:
        alphabet.update(t for t in tokens if isinstance(t, str))
    symbols: list[str | None] = [_OTHER, *sorted(alphabet)]
    filler = _filler(alphabet, ignore_case)
    ends = [len(t) for t in token_lists]

    def accepting(state: tuple[frozenset[int], ...]) -> bool:
        return accept(tuple(end in s for end, s in zip(ends, state, strict=True)))

    start = tuple(_closure(tokens, (0,)) for tokens in token_lists)
    parents: dict[tuple[frozenset[int], ...], tuple[tuple[frozenset[int], ...], str] | None] = {
        start: None
    }
    queue = deque([start])
    while queue:
        state = queue.popleft()
        if accepting(state):
            out: list[str] = []
            link = parents[state]
            while link is not None:
                state, char = link
                out.append(char)
                link = parents[state]
            return "".join(reversed(out))
        for symbol in symbols:
            nxt = tuple(
                _step(tokens, s, symbol) for tokens, s in zip(token_lists, state, strict=True)
            )
            if nxt not in parents:
                parents[nxt] = (state, filler if symbol is None else symbol)
                if len(parents) > _STATE_LIMIT:
                    raise SearchLimitError(
                        f"Comparing {len(pats)} wildcard patterns needs more than "
                        f"{_STATE_LIMIT:,} automaton states; simplify the patterns."
                    )
                queue.append(nxt)
    return None


def includes(a: Pattern | str, b: Pattern | str, *, ignore_case: bool = False) -> bool:
    """Whether every string matched by `b` is also matched by `a` (L(b) ⊆ L(a))."""
    return find_string([a, b], lambda m: m[1] and not m[0], ignore_case=ignore_case) is None


def witness(b: Pattern | str, not_a: Pattern | str, *, ignore_case: bool = False) -> str | None:
    """A shortest string matched by `b` but not by `not_a`, or None when there is none."""
    return find_string([b, not_a], lambda m: m[0] and not m[1], ignore_case=ignore_case)
