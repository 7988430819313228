"""Lint reports: text for people, JSON for scripts, SARIF 2.1.0 for code scanning.

The JSON shape is documented in docs/ram-lint.md and is stable: fields are only ever added.
"""

from __future__ import annotations

import functools
import itertools
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import quote

from acscontract._resources import DOCS_URL
from acscontract._text import printable
from acscontract.ram._baseline import baseline_key, fingerprint
from acscontract.ram._findings import Finding, Severity, json_document
from acscontract.ram._lint import Check, CheckRegistry, LintResult, default_registry

__all__ = [
    "REPORT_VERSION",
    "SARIF_LEVELS",
    "render_json",
    "render_sarif",
    "render_text",
    "report_dict",
    "text_chunks",
]

REPORT_VERSION = 1
SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVELS = {
    Severity.ERROR: "error",
    Severity.SECURITY: "error",
    Severity.WARNING: "warning",
    Severity.SUGGESTION: "note",
}
# GitHub code scanning ranks security alerts by this score (0.1-10); only checks whose findings
# are security problems carry one.
_SECURITY_SEVERITY = {Severity.SECURITY: "7.5"}
# v2: the baseline's id (no statement numbers or list positions, the file relative to %SRCROOT%)
# and the finding's rank among those of the same id, so that adding a statement above a dismissed
# alert keeps it dismissed, and two alike findings in one file stay two alerts.
_FINGERPRINT_KEY = "acscontractFinding/v2"


@functools.cache
def _version() -> str:
    """The installed version, from the `Version:` line of the distribution's METADATA.

    Read directly: `importlib.metadata` would cost a pre-commit run tens of milliseconds of
    imports for one line. It is the fallback when the file is not where pip puts it.
    """
    for entry in sys.path:
        try:
            found = sorted(Path(entry or ".").glob("acscontract-*.dist-info/METADATA"))
        except OSError:
            continue
        for metadata_file in found:
            try:
                with metadata_file.open(encoding="utf-8") as lines:
                    for line in lines:
                        if line.startswith("Version:"):
                            return line.partition(":")[2].strip()
                        if not line.strip():
                            break
            except OSError:
                continue
    from importlib import metadata

    try:
        return metadata.version("acscontract")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from an unbuilt tree
        return "0"


def _fail_on_text(fail_on: Severity | str | None) -> str:
    if fail_on is None:
        return "never"
    return fail_on.value if isinstance(fail_on, Severity) else str(fail_on)


def report_dict(
    result: LintResult, *, fail_on: Severity | str | None = "security", baselined: int = 0
) -> dict[str, Any]:
    """The JSON report as data: `findings` and `summary` (see docs/ram-lint.md)."""
    findings = []
    for f in result.findings:
        item = f.to_dict()
        item["fingerprint"] = fingerprint(f)
        findings.append(item)
    return {
        "version": REPORT_VERSION,
        "tool": {"name": "acscontract", "version": _version()},
        "findings": findings,
        "summary": {
            "files": len(result.files),
            "findings": len(result.findings),
            "by_severity": result.by_severity(),
            "baselined": baselined,
            "fail_on": _fail_on_text(fail_on),
            "failed": result.failed(fail_on),
        },
    }


def render_json(
    result: LintResult, *, fail_on: Severity | str | None = "security", baselined: int = 0
) -> str:
    """The JSON report, indented, with a final newline."""
    return json_document(report_dict(result, fail_on=fail_on, baselined=baselined))


# ---------------------------------------------------------------------------------------------
# SARIF


def _help_uri(check_id: str, docs_url: str | None) -> str:
    """The page of a check: under the configured `docs-url`, else the project's online docs
    (a SARIF file is read on another machine, so not a path of this one)."""
    base = docs_url.rstrip("/") + "/" if docs_url else DOCS_URL + "checks/"
    return base + quote(check_id) + ".md"


def _rule_name(check_id: str) -> str:
    return "".join(part.capitalize() for part in check_id.split("-"))


def _rule(check: Check, docs_url: str | None) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": check.id,
        "name": _rule_name(check.id),
        "shortDescription": {"text": check.description},
        "fullDescription": {"text": check.description},
        "help": {
            "text": f"{check.description} See {_help_uri(check.id, docs_url)}.",
            "markdown": f"{check.description}\n\nSee <{_help_uri(check.id, docs_url)}>.",
        },
        "defaultConfiguration": {"level": SARIF_LEVELS[check.severity]},
        "properties": {
            "tags": [
                "ram",
                "policy",
                *(["security"] if check.severity is Severity.SECURITY else []),
            ],
            "acscontract-severity": check.severity.value,
        },
    }
    rule["helpUri"] = _help_uri(check.id, docs_url)
    score = _SECURITY_SEVERITY.get(check.severity)
    if score is not None:
        rule["properties"]["security-severity"] = score
    return rule


def _artifact_uri(file: str, base: Path) -> str:
    path = Path(file)
    if file.startswith("<"):
        return quote(file)
    try:
        relative = path.resolve().relative_to(base.resolve())
    except (ValueError, OSError):
        return path.resolve().as_uri() if path.is_absolute() else quote(PurePath(file).as_posix())
    return quote(relative.as_posix())


def render_sarif(
    result: LintResult,
    *,
    registry: CheckRegistry | None = None,
    docs_url: str | None = None,
    base_dir: str | Path | None = None,
) -> str:
    """SARIF 2.1.0 for GitHub code scanning: every registered check is a rule, every finding a
    result with a relative artifact URI, a region and a partial fingerprint."""
    registry = registry if registry is not None else default_registry()
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    checks = list(registry)
    index = {c.id: i for i, c in enumerate(checks)}
    rules = [_rule(c, docs_url) for c in checks]
    results = []
    root = os.path.abspath(base)
    seen: Counter[str] = Counter()
    for f in result.findings:
        key = baseline_key(f, root)
        seen[key] += 1
        entry: dict[str, Any] = {
            "ruleId": f.check,
            "level": SARIF_LEVELS[f.severity],
            "message": {"text": f"{f.message} {f.hint}".strip()},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {
                            "uri": _artifact_uri(f.file, base),
                            "uriBaseId": "%SRCROOT%",
                        },
                        "region": {"startLine": f.line, "startColumn": f.column},
                    },
                    **(
                        {"logicalLocations": [{"fullyQualifiedName": f.pointer, "kind": "object"}]}
                        if f.pointer
                        else {}
                    ),
                }
            ],
            "partialFingerprints": {_FINGERPRINT_KEY: f"{key}:{seen[key]}"},
            "properties": {"severity": f.severity.value, "pointer": f.pointer},
        }
        if f.check in index:
            entry["ruleIndex"] = index[f.check]
        results.append(entry)
    driver: dict[str, Any] = {
        "name": "acscontract",
        "fullName": "acscontract ram lint",
        "version": _version(),
        "rules": rules,
    }
    if docs_url:
        driver["informationUri"] = docs_url
    document = {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {"driver": driver},
                "originalUriBaseIds": {"%SRCROOT%": {"uri": base.resolve().as_uri() + "/"}},
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json_document(document)


# ---------------------------------------------------------------------------------------------
# Text


_STYLES = {
    Severity.ERROR: "1;31",
    Severity.SECURITY: "1;35",
    Severity.WARNING: "33",
    Severity.SUGGESTION: "36",
}
_BOLD, _DIM, _UNDERLINE, _GREEN = "1", "2", "1;4", "32"

EXCERPT = 120
"""Characters of a long source line shown around a finding's column."""


def excerpt(line: str, column: int, width: int = EXCERPT) -> tuple[str, int]:
    """At most `width` characters of `line` around `column` (1-based), with `…` where it was
    cut, and the column of the same character in the excerpt."""
    if len(line) <= width:
        return line.replace("\t", " "), column
    start = max(0, min(column - 1 - width // 2, len(line) - width))
    end = start + width
    shown = line[start:end].replace("\t", " ")  # cut first: the line may be megabytes long
    if start > 0:
        shown = "…" + shown
        column = column - start + 1
    if end < len(line):
        shown += "…"
    return shown, column


def _read_lines(file: str) -> list[str] | None:
    try:
        return Path(file).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def summary_line(
    result: LintResult, *, fail_on: Severity | str | None = "security", baselined: int = 0
) -> str:
    """One sentence: how many findings of which severity in how many files, and the verdict."""
    counts = result.by_severity()
    files = len(result.files)
    with_findings = len({f.file for f in result.findings})
    accepted = f" ({baselined} more accepted by the baseline)" if baselined else ""
    if not result.findings:
        text = f"No findings in {_plural(files, 'file')}{accepted}."
    else:
        parts = ", ".join(f"{n} {name}" for name, n in counts.items() if n)
        text = (
            f"{_plural(len(result.findings), 'finding')} ({parts}) in {with_findings} of "
            f"{_plural(files, 'file')}{accepted}."
        )
    threshold = _fail_on_text(fail_on)
    if result.failed(fail_on):
        text += f" Failed: there are findings at or above {threshold!r}."
    elif threshold != "never":
        text += f" Passed: nothing at or above {threshold!r}."
    return text


def render_text(
    result: LintResult,
    *,
    fail_on: Severity | str | None = "security",
    color: bool = False,
    baselined: int = 0,
    read_lines: Callable[[str], list[str] | None] | None = None,
) -> str:
    """Findings grouped by file, each with an excerpt of its source line and a caret, then a
    summary line. Long lines are cut to `EXCERPT` characters around the finding."""
    return "".join(
        text_chunks(
            result, fail_on=fail_on, color=color, baselined=baselined, read_lines=read_lines
        )
    )


CHUNK_LINES = 8192
"""Lines of the text report per piece `text_chunks` yields."""


def text_chunks(
    result: LintResult,
    *,
    fail_on: Severity | str | None = "security",
    color: bool = False,
    baselined: int = 0,
    read_lines: Callable[[str], list[str] | None] | None = None,
) -> Iterator[str]:
    """`render_text`, in pieces of whole lines (their concatenation is the report): a caller
    can write a report of hundreds of thousands of findings as it is made, without holding it
    all at once. A piece holds `CHUNK_LINES` items: a line, or the lines of one finding."""
    lines = _text_lines(result, fail_on, color, baselined, read_lines or _read_lines)
    while True:
        piece = list(itertools.islice(lines, CHUNK_LINES))
        if not piece:
            return
        piece.append("")  # each line ends with a line break
        yield "\n".join(piece)


def _text_lines(
    result: LintResult,
    fail_on: Severity | str | None,
    color: bool,
    baselined: int,
    reader: Callable[[str], list[str] | None],
) -> Iterator[str]:
    if not color:
        yield from _plain_lines(result, fail_on, baselined, reader)
        return

    def paint(text: str, style: str) -> str:
        return f"\x1b[{style}m{text}\x1b[0m" if text else text

    for file, findings in _by_file(result.findings):
        yield paint(printable(file), _UNDERLINE)
        lines = reader(file)
        for f in findings:
            style = _STYLES[f.severity]
            head = (
                "  "
                + paint(f"{f.line}:{f.column}", _DIM)
                + "  "
                + paint(f"{f.severity.value:<11}", style)
                + paint(f.check, _BOLD)
            )
            if f.pointer:
                head += "  " + paint(printable(f.pointer), _DIM)
            yield head
            yield "    " + printable(f.message)
            if lines is not None and 1 <= f.line <= len(lines):
                source, column = excerpt(lines[f.line - 1], f.column)
                gutter = f"    {f.line:>4} | "
                yield paint(gutter, _DIM) + printable(source)
                caret = paint(" " * (len(gutter) - 2) + "| ", _DIM)
                yield caret + paint(" " * (column - 1) + "^", style)
            if f.hint:
                yield paint("    hint: ", _GREEN) + printable(f.hint)
        yield ""
    yield paint(summary_line(result, fail_on=fail_on, baselined=baselined), _BOLD)


_PADDED = {s: f"{s.value:<11}" for s in Severity}


def _plain_lines(
    result: LintResult,
    fail_on: Severity | str | None,
    baselined: int,
    reader: Callable[[str], list[str] | None],
) -> Iterator[str]:
    """The lines of `render_text` without colour, with fewer steps per finding (a report of
    hundreds of thousands of findings is quick to make). `printable` escapes single characters,
    so it is applied to the pieces that can hold them, and a source line is tested once, not at
    every finding on it."""
    hints: dict[str, str] = {}  # a hint repeats from finding to finding: made printable once
    for file, findings in _by_file(result.findings):
        yield printable(file)
        lines = reader(file)
        count = len(lines) if lines is not None else 0
        clean: dict[int, bool] = {}
        for f in findings:  # one item of several lines per finding
            line = f.line
            where = f"  {printable(f.pointer)}" if f.pointer else ""
            hint = f.hint
            if hint:
                shown = hints.get(hint)
                if shown is None:
                    shown = hints[hint] = printable(hint)
                hint = "\n    hint: " + shown
            head = f"  {line}:{f.column}  {_PADDED[f.severity]}{f.check}{where}\n    "
            if 1 <= line <= count:
                text = lines[line - 1]  # type: ignore[index]
                is_clean = clean.get(line)
                if is_clean is None:
                    is_clean = clean[line] = printable(text) is text
                source, column = excerpt(text, f.column)
                if not is_clean:
                    source = printable(source)
                gutter = f"    {line:>4} | "
                caret = " " * (len(gutter) - 2) + "| " + " " * (column - 1) + "^"
                yield f"{head}{printable(f.message)}\n{gutter}{source}\n{caret}{hint}"
            else:
                yield f"{head}{printable(f.message)}{hint}"
        yield ""
    yield summary_line(result, fail_on=fail_on, baselined=baselined)


def _by_file(findings: Iterable[Finding]) -> list[tuple[str, list[Finding]]]:
    groups: dict[str, list[Finding]] = {}
    for f in findings:
        groups.setdefault(f.file, []).append(f)
    return list(groups.items())
