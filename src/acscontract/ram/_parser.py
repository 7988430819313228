"""Parse a RAM policy document into the tree of `acscontract.ram._document`.

The fast path is the standard library's C JSON parser. Positions (line, column) come from a
light token scanner that runs only when a position is first asked for, or when the parser needs
one itself (duplicate keys). Problems are returned as `Finding`s, never raised: any input, however
broken, gives either a document or the problems that stopped it.
"""

from __future__ import annotations

import bisect
import functools
import json
import os
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from acscontract._files import require_regular
from acscontract.errors import InputError
from acscontract.ram._document import (
    ParseResult,
    PolicyDocument,
    PolicyKind,
    Statement,
    Value,
    escape_pointer,
    last_occurrences,
)
from acscontract.ram._findings import Finding, Severity
from acscontract.ram._positions import PositionIndex

__all__ = ["SourceMap", "parse", "read_policy_source"]

_BOM = "\ufeff"
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+', re.DOTALL)
_NEWLINE = re.compile("\n")


class _NonStandardConstant(ValueError):
    """JSON text used NaN or Infinity, which Python's json accepts but JSON does not."""


def _reject_constant(name: str) -> Any:
    raise _NonStandardConstant(name)


class _Object(dict[str, Any]):
    """A JSON object whose members repeat a name; `pairs` keeps every member, in order."""

    __slots__ = ("pairs",)
    pairs: list[tuple[str, Any]]


_state = threading.local()
"""Whether the document being decoded (in this thread) has an object with a repeated name."""


@functools.lru_cache(maxsize=1024)
def _names_clash(names: tuple[str, ...]) -> bool:
    """Whether two of an object's (distinct) member names differ only by case. Cached: policies
    repeat the same few sets of names (Effect, Action, Resource, ...)."""
    return len({name.lower() for name in names}) != len(names)


def _pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    n = len(pairs)
    if len(obj) != n or (n > 1 and _names_clash(tuple(obj))):
        _state.duplicates = True
        dup = _Object(obj)
        dup.pairs = pairs
        return dup
    return obj


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs_hook, parse_constant=_reject_constant)
"""One decoder for every parse (`json.loads` with arguments builds a new one per call)."""


class _Duplicate:
    __slots__ = ("container", "first", "first_offset", "name", "occurrence", "offset")

    def __init__(
        self,
        container: str,
        name: str,
        first: str,
        occurrence: int,
        offset: int,
        first_offset: int,
    ) -> None:
        self.container = container
        self.name = name
        self.first = first
        self.occurrence = occurrence
        self.offset = offset
        self.first_offset = first_offset


class SourceMap:
    """Positions of the nodes of a (valid) JSON text, computed on first use.

    Addresses are (JSON Pointer, occurrence, key?): `occurrence` tells apart members of one object
    that share a name, counting from 0. When no object repeats a member name (`unique`), a
    position comes from a `PositionIndex`, which indexes only the containers on the node's path;
    otherwise from one tokenizing scan of the whole text.
    """

    __slots__ = ("_duplicates", "_index", "_newlines", "_offsets", "_seen", "_text", "_unique")

    def __init__(self, text: str, *, unique: bool = False) -> None:
        self._text = text
        self._offsets: dict[tuple[str, int, bool], int] | None = None
        self._newlines: list[int] | None = None
        self._duplicates: list[_Duplicate] = []
        self._unique = unique
        self._index: PositionIndex | None = None  # made for the first position asked for
        self._seen: tuple[dict[str, tuple[int, int]], ...] = ({}, {})
        """Positions found so far: of values, and of member names (`key`)."""

    def position(self, pointer: str, occurrence: int, key: bool) -> tuple[int, int]:
        if self._unique and occurrence == 0:
            index = self._index
            if index is None:
                index = self._index = PositionIndex(self._text, unique=True)
            seen = self._seen[key]
            found = seen.get(pointer)
            if found is None:  # several findings often share a node (a statement, say)
                offset = index.offset(pointer, key)
                found = seen[pointer] = (
                    index.line_column(offset)
                    if offset is not None
                    else self._locate(index, pointer, key)
                )
            return found
        offsets = self._offsets
        if offsets is None:
            offsets = self._scan()
        offset = offsets.get((pointer, occurrence, key))
        if offset is None:
            offset = offsets.get((pointer, occurrence, False))
        while offset is None and pointer:
            pointer = pointer.rsplit("/", 1)[0]
            offset = offsets.get((pointer, 0, False))
        return self.line_column(offset or 0)

    @staticmethod
    def _locate(index: PositionIndex, pointer: str, key: bool) -> tuple[int, int]:
        offset = index.offset(pointer, key)
        if offset is None and key:
            offset = index.offset(pointer, False)
        while offset is None and pointer:
            pointer = pointer.rsplit("/", 1)[0]
            offset = index.offset(pointer, False)
        return index.line_column(offset or 0)

    def line_column(self, offset: int) -> tuple[int, int]:
        """1-based line and column (in characters) of a character offset."""
        newlines = self._newlines
        if newlines is None:
            newlines = self._newlines = [m.start() for m in _NEWLINE.finditer(self._text)]
        line = bisect.bisect_left(newlines, offset)
        start = newlines[line - 1] + 1 if line else 0
        return (line + 1, offset - start + 1)

    def duplicates(self) -> list[_Duplicate]:
        if self._offsets is None:
            self._scan()
        return self._duplicates

    def _scan(self) -> dict[tuple[str, int, bool], int]:
        # The text is known to be valid JSON here, so the scanner only tracks structure.
        offsets: dict[tuple[str, int, bool], int] = {}
        duplicates = self._duplicates
        # Frame: [is_object, pointer, next_index, expect_key, pending_key_name_ptr, occurrence,
        #         key_offset, counts, lowered]
        stack: list[list[Any]] = []
        for match in _TOKEN.finditer(self._text):
            token = match.group()
            first = token[0]
            if first == "," or first == ":":
                if first == "," and stack and stack[-1][0]:
                    stack[-1][3] = True
                continue
            if first == "}" or first == "]":
                stack.pop()
                continue
            offset = match.start()
            top = stack[-1] if stack else None
            if top is not None and top[0] and top[3]:
                name = json.loads(token) if "\\" in token else token[1:-1]
                counts: dict[str, int] = top[7]
                occurrence = counts.get(name, 0)
                counts[name] = occurrence + 1
                lowered: dict[str, tuple[str, int]] = top[8]
                low = name.lower()
                seen = lowered.get(low)
                if seen is None:
                    lowered[low] = (name, offset)
                else:
                    duplicates.append(
                        _Duplicate(top[1], name, seen[0], occurrence, offset, seen[1])
                    )
                top[4] = top[1] + "/" + escape_pointer(name)
                top[5] = occurrence
                top[6] = offset
                top[3] = False
                continue
            if top is None:
                pointer, occurrence = "", 0
            elif top[0]:
                pointer, occurrence = top[4], top[5]
                offsets[(pointer, occurrence, True)] = top[6]
            else:
                pointer, occurrence = top[1] + "/" + str(top[2]), 0
                top[2] += 1
            offsets[(pointer, occurrence, False)] = offset
            if first == "{":
                stack.append([True, pointer, 0, True, "", 0, 0, {}, {}])
            elif first == "[":
                stack.append([False, pointer, 0, False, "", 0, 0, None, None])
        self._offsets = offsets
        return offsets


def _problem(
    check: str,
    severity: Severity,
    file: str,
    line: int,
    column: int,
    pointer: str,
    message: str,
    hint: str,
) -> Finding:
    return Finding(check, severity, file, line, column, pointer, message, hint)


def _decode(data: bytes, name: str) -> tuple[str | None, list[Finding]]:
    problems: list[Finding] = []
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        problems.append(_bom_problem(name))
    try:
        return data.decode("utf-8"), problems
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        problems.append(
            _problem(
                "invalid-encoding",
                Severity.ERROR,
                name,
                line,
                column,
                "",
                f"Byte {exc.start} (0x{data[exc.start]:02x}) is not valid UTF-8; RAM policy "
                "documents are UTF-8 text.",
                "Save the file as UTF-8 (without a byte order mark).",
            )
        )
        return None, problems


def _bom_problem(name: str) -> Finding:
    return _problem(
        "byte-order-mark",
        Severity.WARNING,
        name,
        1,
        1,
        "",
        "The file starts with a UTF-8 byte order mark; whether RAM accepts one is not "
        "documented, so the policy was checked without it.",
        "Save the file as UTF-8 without a byte order mark.",
    )


def parse(
    source: bytes | str,
    *,
    name: str = "<policy>",
    kind: PolicyKind | str = PolicyKind.IDENTITY,
) -> ParseResult:
    """Parse a policy document.

    Returns the document (None when the text is not a JSON object) and the structural problems:
    undecodable bytes, a byte order mark, an empty text, invalid JSON (including NaN/Infinity and
    nesting too deep for the parser), a top level that is not an object, and duplicate member
    names, also ones differing only by case. Grammar checks are `check_grammar`'s job.
    """
    kind = PolicyKind.parse(kind)
    problems: list[Finding] = []
    if type(source) is not str and isinstance(source, bytes | bytearray | memoryview):
        text, problems = _decode(bytes(source), name)
        if text is None:
            return ParseResult(None, tuple(problems))
    else:
        text = source
        if text.startswith(_BOM):
            text = text[1:]
            problems.append(_bom_problem(name))
    if not text or text.isspace():  # `not text.strip()`, without copying the text
        problems.append(
            _problem(
                "empty-document",
                Severity.ERROR,
                name,
                1,
                1,
                "",
                "The policy is empty; a RAM policy is a JSON object with Version and Statement.",
                'Write a policy such as {"Version": "1", "Statement": [...]}.',
            )
        )
        return ParseResult(None, tuple(problems))

    _state.duplicates = False
    try:
        if text.startswith(_BOM):  # as json.loads says it (the decoder itself does not check)
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        data = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        problems.append(
            _problem(
                "invalid-json",
                Severity.ERROR,
                name,
                exc.lineno,
                exc.colno,
                "",
                f"The policy is not valid JSON: {exc.msg}.",
                "Fix the JSON syntax; a JSON validator or `python -m json.tool` shows the spot.",
            )
        )
        return ParseResult(None, tuple(problems))
    except _NonStandardConstant as exc:
        found = next((m.start() for m in _TOKEN.finditer(text) if m.group() == str(exc)), 0)
        line, column = SourceMap(text).line_column(found)
        problems.append(
            _problem(
                "invalid-json",
                Severity.ERROR,
                name,
                line,
                column,
                "",
                f"{exc} is not a JSON value; standard JSON has no NaN or Infinity.",
                "Write the value as a quoted string.",
            )
        )
        return ParseResult(None, tuple(problems))
    except RecursionError:
        problems.append(
            _problem(
                "invalid-json",
                Severity.ERROR,
                name,
                1,
                1,
                "",
                "The JSON is nested too deeply to parse; a RAM policy is at most four levels deep.",
                "Check that the file is a RAM policy and not generated data.",
            )
        )
        return ParseResult(None, tuple(problems))
    except ValueError as exc:  # for example an integer with too many digits
        problems.append(
            _problem(
                "invalid-json",
                Severity.ERROR,
                name,
                1,
                1,
                "",
                f"The JSON cannot be read: {exc}.",
                "Write numbers as quoted strings.",
            )
        )
        return ParseResult(None, tuple(problems))

    duplicates_seen = _state.duplicates
    source_map = SourceMap(text, unique=not duplicates_seen)
    if not isinstance(data, dict):
        line, column = source_map.position("", 0, False)
        what = "an array" if isinstance(data, list) else f"a {_json_name(data)}"
        problems.append(
            _problem(
                "value-type",
                Severity.ERROR,
                name,
                line,
                column,
                "",
                f"The document is {what}; a RAM policy is a JSON object with Version and "
                "Statement.",
                'Wrap the statements in {"Version": "1", "Statement": [...]}.',
            )
        )
        return ParseResult(None, tuple(problems))

    if duplicates_seen:
        problems.extend(_duplicate_problems(source_map, name))
    if _may_hold_surrogate(text):
        problems.extend(_surrogate_problems(data, source_map, name))

    document = _build_document(data, name, kind, text, source_map)
    return ParseResult(document, tuple(problems))


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _may_hold_surrogate(text: str) -> bool:
    """Whether `text` has a lone-surrogate escape or character (the C substring and ASCII tests
    first: a regular expression over every character of a large policy costs far more)."""
    if "\\u" in text and _SURROGATE_ESCAPE.search(text) is not None:
        return True
    return not text.isascii() and _SURROGATE.search(text) is not None


def _surrogate_problems(data: Any, source_map: SourceMap, name: str) -> Iterable[Finding]:
    """A finding for each string (member name or value) holding a lone UTF-16 surrogate: an
    escape such as `\\ud800` without its partner decodes to no character at all."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        pointer, value = stack.pop()
        if isinstance(value, dict):
            for key, child in reversed(list(_pairs(value))):
                child_pointer = pointer + "/" + escape_pointer(key)
                if _SURROGATE.search(key) is not None:
                    yield _surrogate_problem(source_map, name, child_pointer, True)
                stack.append((child_pointer, child))
        elif isinstance(value, list):
            stack.extend((f"{pointer}/{i}", child) for i, child in reversed(list(enumerate(value))))
        elif isinstance(value, str) and _SURROGATE.search(value) is not None:
            yield _surrogate_problem(source_map, name, pointer, False)


def _surrogate_problem(source_map: SourceMap, name: str, pointer: str, key: bool) -> Finding:
    line, column = source_map.position(pointer, 0, key)
    what = "The member name" if key else "The string"
    return _problem(
        "invalid-encoding",
        Severity.ERROR,
        name,
        line,
        column,
        pointer,
        f"{what} at {pointer or '/'} holds a lone UTF-16 surrogate (an escape such as \\ud800 "
        "without its pair), which is no Unicode character; the document cannot be sent to RAM "
        "as UTF-8.",
        "Remove the escape, or write the character it was meant to be (a pair such as "
        "\\ud83d\\ude00, or the character itself).",
    )


def _json_name(value: object) -> str:
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def _duplicate_problems(source_map: SourceMap, name: str) -> Iterable[Finding]:
    for dup in source_map.duplicates():
        line, column = source_map.line_column(dup.offset)
        first_line, first_column = source_map.line_column(dup.first_offset)
        pointer = dup.container + "/" + escape_pointer(dup.name)
        where = dup.container or "the top level"
        if dup.name == dup.first:
            message = (
                f"{where} has a second member {dup.name!r} (the first is at line {first_line}, "
                f"column {first_column}); "
                "JSON parsers disagree on which one wins, and RAM rejects or misreads it."
            )
            hint = f"Merge the two {dup.name!r} members into one."
        else:
            message = (
                f"{where} has members {dup.first!r} "
                f"(line {first_line}, column {first_column}) and {dup.name!r}, which differ only "
                "by case; element names are case-sensitive, so one of them is wrong."
            )
            hint = f"Keep one member, spelled {dup.first!r} or {dup.name!r} as RAM defines it."
        yield _problem("duplicate-key", Severity.ERROR, name, line, column, pointer, message, hint)


def _pairs(obj: dict[str, Any]) -> Iterable[tuple[str, Any]]:
    pairs = getattr(obj, "pairs", None)
    return pairs if pairs is not None else obj.items()


def _build_document(
    data: dict[str, Any], name: str, kind: PolicyKind, text: str, source: SourceMap
) -> PolicyDocument:
    last = last_occurrences(data)
    version = statement_element = None
    raw_version = data.get("Version", _MISSING)
    if raw_version is not _MISSING:
        version = Value(raw_version, "/Version", source, last["Version"] if last else 0)
    raw_statements = data.get("Statement", _MISSING)
    statements: list[Statement] = []
    if raw_statements is not _MISSING:
        statement_element = Value(
            raw_statements, "/Statement", source, last["Statement"] if last else 0
        )
        if isinstance(raw_statements, list):
            for i, item in enumerate(raw_statements):
                if isinstance(item, dict):
                    statements.append(Statement(i, "/Statement/" + str(i), item, source))
        elif isinstance(raw_statements, dict):
            statements.append(Statement(0, "/Statement", raw_statements, source))
    return PolicyDocument(
        name=name,
        kind=kind,
        source=text,
        raw=data,
        version=version,
        statement_element=statement_element,
        statements=tuple(statements),
        positions=source,
    )


_MISSING = object()


#: The most bytes acscontract reads of one policy file or of standard input: RAM policies are a
#: few kilobytes, and the linter takes about a second per megabyte. Its own limit.
MAX_POLICY_FILE_BYTES = 64 * 1024 * 1024


def read_policy_source(path: str | Path) -> bytes:
    """The bytes of a policy file, or `-` for standard input; InputError if it cannot be read,
    is not a regular file, or holds more than MAX_POLICY_FILE_BYTES."""
    if str(path) == "-":
        import sys

        data = sys.stdin.buffer.read(MAX_POLICY_FILE_BYTES + 1)
        if len(data) > MAX_POLICY_FILE_BYTES:
            raise InputError("<stdin>", _too_large())
        return data
    p = path
    try:
        return _read_bytes(p)
    except FileNotFoundError:
        raise InputError(str(p), "no such file; check the path of the policy.") from None
    except IsADirectoryError:
        raise InputError(str(p), "is a directory; give the path of a policy JSON file.") from None
    except _TooLarge:
        raise InputError(str(p), _too_large()) from None
    except OSError as exc:
        raise InputError(str(p), f"cannot be read ({exc.strerror or exc}).") from None


def _too_large() -> str:
    return (
        f"holds more than {MAX_POLICY_FILE_BYTES // (1024 * 1024)} MiB, more than acscontract "
        "reads of one policy (a RAM policy is a few kilobytes)."
    )


class _TooLarge(Exception):
    """A policy source holds more than MAX_POLICY_FILE_BYTES."""


# O_NONBLOCK: opening a FIFO would otherwise wait for a writer (a regular file ignores it).
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)


def _read_bytes(path: str | Path) -> bytes:
    """The whole content of a regular file, read with the system calls themselves (a lint of
    thousands of small files notices the cost of building a buffered file object for each).
    OSError for a pipe, socket or device, which could be read for ever; _TooLarge past
    MAX_POLICY_FILE_BYTES."""
    fd = os.open(path, _READ_FLAGS)
    try:
        info = os.fstat(fd)
        require_regular(info.st_mode, path)
        size = info.st_size
        if size > MAX_POLICY_FILE_BYTES:
            raise _TooLarge
        chunks = [os.read(fd, size + 1 if size > 0 else 65536)]
        if len(chunks[0]) <= size:
            return chunks[0]  # fewer bytes than asked of a regular file: its end
        total = len(chunks[0])
        while chunks[-1]:  # a file that grew, or says size 0 (as in /proc): until its end
            if total > MAX_POLICY_FILE_BYTES:
                raise _TooLarge
            chunks.append(os.read(fd, 65536))
            total += len(chunks[-1])
    finally:
        os.close(fd)
    return b"".join(chunks)
