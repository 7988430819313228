"""RAM wildcards: `*` matches any run of characters (also none), `?` exactly one character.

Three jobs, each with a bound on its cost, whatever a policy holds:

- matching a concrete string: the pattern is cut at its stars into fixed-width segments, and
  each segment is placed at its leftmost fit (exact for `*` and `?`). Time is at most
  O(len(text) x len(pattern)); a backtracking regular expression could take exponential time
  on a hostile pattern such as `*a*a*a*a*a*a*a*a*a*b`.
- deciding inclusion L(b) ⊆ L(a) (`includes`, `decide_inclusion`). Polynomial, by a single
  match, whenever `a` has no `?` or `b` has no `*` (almost every real policy). Otherwise,
  inclusion for patterns that mix `?` and `*` is coNP-hard in general, so the exact search over
  b's automaton and the subsets of a's (pruned with antichains) runs under a step budget: it
  answers True or False, or None for "could not decide" when the budget runs out. The linter
  reports that as the finding `analysis-undecided`; `includes` raises `SearchLimitError`.
- overlap (`overlaps`: is there a string both match?) is polynomial, over pairs of positions.
- `find_string` solves a boolean combination of several patterns (the diff needs it) over the
  product of their subset automata, with a state limit (`SearchLimitError` past it).

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

from acscontract.errors import AcsContractError

__all__ = [
    "ANY_CHAR",
    "ANY_RUN",
    "DEFAULT_BUDGET",
    "Pattern",
    "SearchBudget",
    "SearchLimitError",
    "compile_union",
    "decide_inclusion",
    "find_string",
    "fold",
    "includes",
    "matches",
    "overlaps",
    "witness",
]


class _Wild:
    __slots__ = ("symbol",)

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol

    def __repr__(self) -> str:
        return self.symbol

    def __reduce__(self) -> str:
        # Pickled (for worker processes) as the module-level singleton it is.
        return "ANY_CHAR" if self.symbol == "?" else "ANY_RUN"


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
        return _matcher(self, ignore_case)(text)

    @property
    def wild(self) -> bool:
        """Whether the pattern has a wildcard token (a literal `*` character does not count)."""
        return any(isinstance(t, _Wild) for t in self.tokens)

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


def _normal(tokens: tuple[Token, ...]) -> tuple[Token, ...]:
    """The same language with every run of wildcards written as `?...?` then at most one `*`
    (`*?` and `?*` are one language, and so are `**` and `*`)."""
    out: list[Token] = []
    anys = 0
    run = False
    for t in tokens:
        if t is ANY_CHAR:
            anys += 1
        elif t is ANY_RUN:
            run = True
        else:
            if anys or run:
                out.extend([ANY_CHAR] * anys)
                if run:
                    out.append(ANY_RUN)
                anys, run = 0, False
            out.append(t)
    out.extend([ANY_CHAR] * anys)
    if run:
        out.append(ANY_RUN)
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# Matching


def _segment(tokens: list[Token]) -> tuple[int, Callable[[str, int], bool], _Find]:
    """A fixed-width piece of a pattern: its width, `at(text, i)` (does it fit at i?) and
    `find(text, start, end)` (the end of its leftmost fit inside text[start:end], or -1)."""
    width = len(tokens)
    if not any(t is ANY_CHAR for t in tokens):
        literal = "".join(t for t in tokens if isinstance(t, str))

        def at_literal(text: str, i: int) -> bool:
            return text.startswith(literal, i)

        def find_literal(text: str, start: int, end: int) -> int:
            found = text.find(literal, start, end)
            return -1 if found < 0 else found + width

        return width, at_literal, find_literal
    source = "".join("." if t is ANY_CHAR else re.escape(str(t)) for t in tokens)
    regex = re.compile(source, re.DOTALL)  # fixed width: no backtracking between segments
    match, search = regex.match, regex.search

    def at_regex(text: str, i: int) -> bool:
        return match(text, i) is not None

    def find_regex(text: str, start: int, end: int) -> int:
        found = search(text, start, end)
        return -1 if found is None else found.end()

    return width, at_regex, find_regex


_Find = Callable[[str, int, int], int]


@functools.lru_cache(maxsize=8192)
def _glob(tokens: tuple[Token, ...]) -> Callable[[str], bool]:
    """A matcher for one (normalised) pattern: leftmost fit of each fixed-width segment."""
    if not any(isinstance(t, _Wild) for t in tokens):
        return "".join(t for t in tokens if isinstance(t, str)).__eq__
    if tokens == (ANY_RUN,):
        return lambda text: True
    pieces: list[list[Token]] = [[]]
    for t in tokens:
        if t is ANY_RUN:
            pieces.append([])
        else:
            pieces[-1].append(t)
    if len(pieces) == 1:
        width, at, _ = _segment(pieces[0])
        return lambda text: len(text) == width and at(text, 0)
    head_w, head_at, _ = _segment(pieces[0])
    tail_w, tail_at, _ = _segment(pieces[-1])
    middles = [_segment(p)[2] for p in pieces[1:-1] if p]
    minimum = sum(len(p) for p in pieces)

    def glob(text: str) -> bool:
        n = len(text)
        if n < minimum or not head_at(text, 0):
            return False
        end = n - tail_w
        if not tail_at(text, end):
            return False
        pos = head_w
        for find in middles:
            pos = find(text, pos, end)
            if pos < 0:
                return False
        return True

    return glob


@functools.lru_cache(maxsize=8192)
def _matcher(p: Pattern, ignore_case: bool) -> Callable[[str], bool]:
    if not ignore_case:
        return _glob(_normal(p.tokens))
    test = _glob(_normal(p.folded().tokens))
    return lambda text: test(fold(text))


def matches(pattern: Pattern | str, text: str, *, ignore_case: bool = False) -> bool:
    """Whether `text` is matched by the wildcard `pattern` (the whole of it)."""
    return _matcher(_as_pattern(pattern), ignore_case)(text)


@functools.lru_cache(maxsize=4096)
def _union(patterns: tuple[Pattern, ...], ignore_case: bool) -> Callable[[str], bool]:
    if not patterns:
        return lambda text: False
    if any(p.tokens == (ANY_RUN,) for p in patterns):
        return lambda text: True
    literals: set[str] = set()
    prefixes: list[str] = []
    globs: list[Callable[[str], bool]] = []
    for p in patterns:
        tokens = _normal(p.folded().tokens if ignore_case else p.tokens)
        wild = [i for i, t in enumerate(tokens) if isinstance(t, _Wild)]
        if not wild:
            literals.add("".join(t for t in tokens if isinstance(t, str)))
        elif wild == [len(tokens) - 1] and tokens[-1] is ANY_RUN:
            prefixes.append("".join(t for t in tokens[:-1] if isinstance(t, str)))
        else:
            globs.append(_glob(tokens))
    starts = tuple(prefixes)

    def test(text: str) -> bool:
        return (
            text in literals
            or (bool(starts) and text.startswith(starts))
            or any(g(text) for g in globs)
        )

    if ignore_case:
        return lambda text: test(fold(text))
    return test


def compile_union(
    patterns: Iterable[Pattern | str], *, ignore_case: bool = False
) -> Callable[[str], bool]:
    """A fast predicate: does a string match at least one of `patterns`?"""
    return _union(tuple(_as_pattern(p) for p in patterns), ignore_case)


# ---------------------------------------------------------------------------------------------
# Language operations

DEFAULT_BUDGET = 20_000
"""Automaton steps one undecided inclusion question may take before it is given up."""


class SearchLimitError(AcsContractError):
    """A question about wildcard languages needs more search than the budget allows."""


class SearchBudget:
    """Steps that several language questions share (say, all those about one document)."""

    __slots__ = ("left",)

    def __init__(self, steps: int = DEFAULT_BUDGET) -> None:
        self.left = steps

    def spend(self, steps: int = 1) -> bool:
        """Take `steps`; False once the budget is used up."""
        self.left -= steps
        return self.left >= 0


def _opaque(avoid: Iterable[str]) -> str:
    """A character none of `avoid` is (nor folds to): private-use code points first."""
    taken = set(avoid)
    code = 0xE000
    while chr(code) in taken or fold(chr(code)) in taken:
        code += 1
    return chr(code)


def _literals(tokens: Iterable[Token]) -> set[str]:
    return {t for t in tokens if isinstance(t, str)}


def _min_length(tokens: tuple[Token, ...]) -> int:
    return sum(1 for t in tokens if t is not ANY_RUN)


def decide_inclusion(
    a: Pattern | str,
    b: Pattern | str,
    *,
    ignore_case: bool = False,
    budget: SearchBudget | None = None,
) -> bool | None:
    """Whether every string `b` matches, `a` matches too (L(b) ⊆ L(a)); None when the search
    for the answer would exceed `budget` (default: a fresh `DEFAULT_BUDGET`)."""
    pa, pb = _as_pattern(a), _as_pattern(b)
    if ignore_case:
        pa, pb = pa.folded(), pb.folded()
    return _decide(_normal(pa.tokens), _normal(pb.tokens), budget or SearchBudget())


def _decide(ta: tuple[Token, ...], tb: tuple[Token, ...], budget: SearchBudget) -> bool | None:
    # Strip what both must agree on at either end: a literal of `a` forces the same literal in
    # `b` (a wildcard of `b` could put another character there), and `?` of `a` accepts `b`'s
    # `?` or literal.
    while ta and tb and ta[0] is not ANY_RUN and tb[0] is not ANY_RUN:
        if isinstance(ta[0], str) and ta[0] != tb[0]:
            return False
        ta, tb = ta[1:], tb[1:]
    while ta and tb and ta[-1] is not ANY_RUN and tb[-1] is not ANY_RUN:
        if isinstance(ta[-1], str) and ta[-1] != tb[-1]:
            return False
        ta, tb = ta[:-1], tb[:-1]
    if ta == tb or ta == (ANY_RUN,):
        return True
    a_run = ANY_RUN in ta
    b_run = ANY_RUN in tb
    if _min_length(tb) < _min_length(ta) or (b_run and not a_run):
        return False  # b has a string too short for a, or infinitely many for a finite a
    b_wild = b_run or ANY_CHAR in tb
    if not b_wild:
        return _glob(ta)("".join(t for t in tb if isinstance(t, str)))
    if ANY_CHAR not in ta or not b_run:
        # Polynomial: write each wildcard of b as one character that no literal of a is. Then
        # only a's wildcards can take it (only a's `*` when a has no `?`; a's `?` or `*` when b's
        # wildcards are all `?`), and a matches that one string exactly when it matches every
        # string of b: any expansion of b's wildcard is absorbed by the same wildcard of a.
        z = _opaque(_literals(ta))
        return _glob(ta)("".join(z if isinstance(t, _Wild) else t for t in tb))
    return _antichain_search(ta, tb, budget)


def _antichain_search(
    ta: tuple[Token, ...], tb: tuple[Token, ...], budget: SearchBudget
) -> bool | None:
    """Search b's automaton against the subset automaton of a for a string b matches and a
    does not. A state pairs one position of b with a set of positions of a (a bit mask); a
    state whose set contains another's, at the same position of b, is pruned (it can only
    lead to fewer counterexamples)."""
    n_a, n_b = len(ta), len(tb)
    final_a = 1 << n_a
    star_a = sum(1 << i for i, t in enumerate(ta) if t is ANY_RUN)
    symbols: list[str | None] = [None, *sorted(_literals(ta))]  # None: any other character
    step_mask: dict[str | None, int] = {}
    for sym in symbols:
        step_mask[sym] = sum(
            1 << i for i, t in enumerate(ta) if t is ANY_CHAR or (sym is not None and t == sym)
        )

    def close(mask: int) -> int:
        return mask | ((mask & star_a) << 1)  # normalised: a star is never followed by a star

    def step(mask: int, sym: str | None) -> int:
        return close(((mask & step_mask[sym]) << 1) | (mask & star_a))

    def b_closure(j: int) -> tuple[int, ...]:
        return (j, j + 1) if j < n_b and tb[j] is ANY_RUN else (j,)

    start = close(1)
    seen: dict[int, list[int]] = {0: [start]}
    queue = deque([(0, start)])
    while queue:
        if not budget.spend():
            return None
        j, mask = queue.popleft()
        for jj in b_closure(j):
            if jj == n_b:
                if not mask & final_a:
                    return False  # b accepts here and a does not
                continue
            t = tb[jj]
            nxt_j = jj if t is ANY_RUN else jj + 1
            moves = symbols if isinstance(t, _Wild) else [t if t in step_mask else None]
            for sym in moves:
                nxt = step(mask, sym)
                if nxt == 0:
                    return False  # a is dead, and b can always finish the string
                kept = seen.setdefault(nxt_j, [])
                if any(old & ~nxt == 0 for old in kept):
                    continue  # a smaller set was already explored at this position of b
                kept[:] = [old for old in kept if nxt & ~old != 0]
                kept.append(nxt)
                queue.append((nxt_j, nxt))
    return True


def includes(
    a: Pattern | str,
    b: Pattern | str,
    *,
    ignore_case: bool = False,
    budget: SearchBudget | None = None,
) -> bool:
    """Whether every string matched by `b` is also matched by `a` (L(b) ⊆ L(a)).

    SearchLimitError when the patterns are too complex to compare within `budget` (see
    `decide_inclusion`, which answers None instead).
    """
    found = decide_inclusion(a, b, ignore_case=ignore_case, budget=budget)
    if found is None:
        raise SearchLimitError(
            f"Whether {str(_as_pattern(a))!r} covers {str(_as_pattern(b))!r} could not be "
            "decided within the search budget; patterns that mix many `?` with `*` are costly "
            "to compare exactly. Simplify the patterns."
        )
    return found


def overlaps(a: Pattern | str, b: Pattern | str, *, ignore_case: bool = False) -> bool:
    """Whether some string matches both patterns (polynomial: pairs of positions)."""
    pa, pb = _as_pattern(a), _as_pattern(b)
    if ignore_case:
        pa, pb = pa.folded(), pb.folded()
    ta, tb = _normal(pa.tokens), _normal(pb.tokens)
    n_a, n_b = len(ta), len(tb)
    seen: set[tuple[int, int]] = set()
    stack = [(0, 0)]
    while stack:
        i, j = stack.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        if i == n_a and j == n_b:
            return True
        x = ta[i] if i < n_a else None
        y = tb[j] if j < n_b else None
        if x is ANY_RUN:
            stack.append((i + 1, j))
        if y is ANY_RUN:
            stack.append((i, j + 1))
        if x is None or y is None:
            continue
        if isinstance(x, str) and isinstance(y, str) and x != y:
            continue
        # One character both accept (the alphabet is unbounded, so two wildcards always agree).
        stack.append((i if x is ANY_RUN else i + 1, j if y is ANY_RUN else j + 1))
    return False


_OTHER = None  # the symbol for "a character no pattern names"
_STATE_LIMIT = 100_000


def _filler(alphabet: set[str], ignore_case: bool) -> str:
    for c in "xyzqwkjvbn0123456789abcdefghilmoprstu_-.":
        if c not in alphabet and (not ignore_case or _fold_char(c) not in alphabet):
            return c
    code = 0x4E00
    while chr(code) in alphabet or (ignore_case and _fold_char(chr(code)) in alphabet):
        code += 1
    return chr(code)


def find_string(
    patterns: Sequence[Pattern | str],
    accept: Callable[[tuple[bool, ...]], bool],
    *,
    ignore_case: bool = False,
) -> str | None:
    """A shortest string whose match results against `patterns` satisfy `accept`, or None.

    `accept` gets one bool per pattern (does the string match it?). For example the strings
    matched by `b` but not by `a` are `find_string([a, b], lambda m: m[1] and not m[0])`.
    The search is exact: None means no such string exists. SearchLimitError when the product
    automaton has more states than an exact search explores.
    """
    pats = [_as_pattern(p) for p in patterns]
    if ignore_case:
        pats = [p.folded() for p in pats]
    token_lists = [_normal(p.tokens) for p in pats]
    alphabet: set[str] = set()
    for tokens in token_lists:
        alphabet.update(_literals(tokens))
    symbols: list[str | None] = [_OTHER, *sorted(alphabet)]
    filler = _filler(alphabet, ignore_case)
    finals = [1 << len(t) for t in token_lists]
    stars = [sum(1 << i for i, t in enumerate(tokens) if t is ANY_RUN) for tokens in token_lists]
    masks = [
        {
            sym: sum(
                1 << i
                for i, t in enumerate(tokens)
                if t is ANY_CHAR or (sym is not None and t == sym)
            )
            for sym in symbols
        }
        for tokens in token_lists
    ]
    count = len(token_lists)

    def accepting(state: tuple[int, ...]) -> bool:
        return accept(tuple(bool(s & f) for s, f in zip(state, finals, strict=True)))

    start = tuple(1 | ((1 & star) << 1) for star in stars)
    parents: dict[tuple[int, ...], tuple[tuple[int, ...], str] | None] = {start: None}
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
            nxt_list = []
            for k in range(count):
                mask, star = state[k], stars[k]
                moved = ((mask & masks[k][symbol]) << 1) | (mask & star)
                nxt_list.append(moved | ((moved & star) << 1))
            nxt = tuple(nxt_list)
            if nxt not in parents:
                parents[nxt] = (state, filler if symbol is None else symbol)
                if len(parents) > _STATE_LIMIT:
                    raise SearchLimitError(
                        f"Comparing {len(pats)} wildcard patterns needs more than "
                        f"{_STATE_LIMIT:,} automaton states; simplify the patterns."
                    )
                queue.append(nxt)
    return None


def witness(b: Pattern | str, not_a: Pattern | str, *, ignore_case: bool = False) -> str | None:
    """A shortest string matched by `b` but not by `not_a`, or None when there is none."""
    return find_string([b, not_a], lambda m: m[0] and not m[1], ignore_case=ignore_case)
