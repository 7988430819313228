"""Run the checks: one document, one file, or a tree of files (in parallel when it is large)."""

from __future__ import annotations

import dataclasses
import functools
import glob
import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from acscontract.errors import InputError
from acscontract.ram._config import LintConfig
from acscontract.ram._document import ParseResult, PolicyDocument, PolicyKind
from acscontract.ram._findings import Finding, Severity
from acscontract.ram._grammar import GRAMMAR_CHECKS, check_grammar
from acscontract.ram._lint import _actions, _conditions, _redundancy, _resources, _undecided
from acscontract.ram._lint._base import (
    Check,
    CheckRegistry,
    LintContext,
    ProblemCheck,
    RuleBody,
    RuleCheck,
)
from acscontract.ram._lint._facts import CatalogFacts
from acscontract.ram._parser import parse, read_policy_source
from acscontract.spec import ActionCatalog, action_catalog

__all__ = [
    "PARALLEL_THRESHOLD",
    "LintResult",
    "Linter",
    "collect_files",
    "default_registry",
    "lint",
    "lint_paths",
]

PARALLEL_THRESHOLD = 200
"""Above this many files, `lint_paths` spreads the work over a process pool."""


def _not_aws_only(finding: Finding) -> bool:
    token = finding.pointer.rsplit("/", 1)[-1]
    operator = token.replace("~1", "/").replace("~0", "~")
    return _conditions.aws_only_operator(operator) is None


def _problem_checks() -> list[Check]:
    """The parser's and grammar module's problems, one check per id."""
    refine = {"condition-operator-unknown": _not_aws_only}  # aws-only-operator says more
    return [
        ProblemCheck(info.id, info.severity, info.summary, refine.get(info.id))
        for info in GRAMMAR_CHECKS.values()
    ]


@functools.cache
def default_registry() -> CheckRegistry:
    """Every built-in check: the grammar problems first, then the lint checks."""
    return CheckRegistry(
        [
            *_problem_checks(),
            *_conditions.CHECKS,
            *_resources.CHECKS,
            *_actions.CHECKS,
            *_redundancy.CHECKS,
            *_undecided.CHECKS,  # last: it reports what the others left undecided
        ]
    )


@functools.cache
def _default_facts() -> CatalogFacts:
    return CatalogFacts(action_catalog())


@dataclass(frozen=True, slots=True)
class LintResult:
    """The findings of a lint run, sorted by file and position, and the files it read."""

    findings: tuple[Finding, ...]
    files: tuple[str, ...]

    def by_severity(self) -> dict[str, int]:
        """How many findings of each severity, worst first (every severity is present)."""
        counts = {s.value: 0 for s in Severity}
        for f in self.findings:
            counts[f.severity.value] += 1
        return counts

    def failed(self, fail_on: Severity | str | None) -> bool:
        """Whether any finding is at or above `fail_on` (None or "never": never fails)."""
        if fail_on is None or fail_on == "never":
            return False
        threshold = fail_on if isinstance(fail_on, Severity) else Severity.parse(fail_on)
        return any(f.severity >= threshold for f in self.findings)

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)


@dataclass(frozen=True, slots=True)
class _Plan:
    """The enabled checks for a file: problem checks by id (their findings come from the parser
    and the grammar module, so they are routed rather than run), then the rule checks."""

    problems: dict[str, ProblemCheck]
    rules: tuple[Check, ...]
    calls: tuple[tuple[RuleBody | None, Check, int], ...]
    """The rules as (body, check, needs): a `RuleCheck`'s body is called directly (one call less
    per check and document), any other check through `run` (body None); `needs` is the
    `RuleCheck.needs` of the check (0 for any other)."""

    def problems_in(self, found: Iterable[Finding]) -> list[Finding]:
        routed: list[Finding] = []
        checks = self.problems
        for problem in found:
            check = checks.get(problem.check)
            if check is not None and (check.refine is None or check.refine(problem)):
                routed.append(problem)
        return routed


class Linter:
    """The checks of a registry, with a configuration, a catalog and a fixed "now".

    Create one per run; it caches what it derives from the catalog. `now` decides whether a
    time window has expired (default: the time the linter was made).
    """

    __slots__ = ("_plans", "config", "facts", "now", "registry")

    def __init__(
        self,
        *,
        registry: CheckRegistry | None = None,
        config: LintConfig | None = None,
        catalog: ActionCatalog | None = None,
        now: datetime | None = None,
    ) -> None:
        self.registry = registry if registry is not None else default_registry()
        self.config = config if config is not None else LintConfig()
        self.facts = _default_facts() if catalog is None else CatalogFacts(catalog)
        if now is not None and now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        self.now = now if now is not None else datetime.now(UTC)
        self._plans: dict[frozenset[str], _Plan] = {}

    def _plan(self, file: str) -> _Plan:
        config = self.config
        off: frozenset[str] = config.disable
        if config.per_path_ignores:
            off = off.union(*config.ignored_for(file))
        plan = self._plans.get(off)
        if plan is None:
            checks = [c for c in self.registry if c.id not in off]
            rules = tuple(c for c in checks if not isinstance(c, ProblemCheck))
            plan = self._plans[off] = _Plan(
                {c.id: c for c in checks if isinstance(c, ProblemCheck)},
                rules,
                tuple(
                    (c.body, c, c.needs) if type(c) is RuleCheck else (None, c, 0) for c in rules
                ),
            )
        return plan

    def _finish(self, findings: list[Finding]) -> list[Finding]:
        overrides = self.config.severity
        if overrides:
            findings = [
                dataclasses.replace(f, severity=overrides[f.check]) if f.check in overrides else f
                for f in findings
            ]
        findings.sort(key=Finding.sort_key)
        return findings

    def check_document(
        self, document: PolicyDocument, problems: Sequence[Finding] = ()
    ) -> list[Finding]:
        """Every finding in a parsed document; `problems` are the parser's, if any."""
        plan = self._plan(document.name)
        self.facts.trim()
        every = (*problems, *check_grammar(document))
        found = plan.problems_in(every)
        context = LintContext(document, self.facts, self.now, every)
        for body, check, needs in plan.calls:
            if needs and not context.features & needs:
                continue  # the document has nothing this check looks at
            found.extend(
                check.run(document, context) if body is None else body(check, document, context)  # type: ignore[arg-type]
            )
        return self._finish(found)

    def check_result(self, result: ParseResult, name: str) -> list[Finding]:
        """Every finding for a parse result (only its problems when there is no document)."""
        if result.document is not None:
            return self.check_document(result.document, result.problems)
        return self._finish(self._plan(name).problems_in(result.problems))

    def check_source(
        self,
        source: bytes | str,
        *,
        name: str = "<policy>",
        kind: PolicyKind | str = PolicyKind.IDENTITY,
    ) -> list[Finding]:
        """Every finding in the text of one policy."""
        return self.check_result(parse(source, name=name, kind=kind), name)

    def check_file(
        self, path: str | Path, *, kind: PolicyKind | str = PolicyKind.IDENTITY
    ) -> list[Finding]:
        """Every finding in one policy file; InputError if it cannot be read."""
        name = "<stdin>" if str(path) == "-" else _display(path)
        return self.check_source(read_policy_source(path), name=name, kind=kind)

    def lint_paths(
        self,
        paths: Iterable[str | Path],
        *,
        kind: PolicyKind | str = PolicyKind.IDENTITY,
        jobs: int | None = None,
    ) -> LintResult:
        """Lint files and folders (folders: every *.json below them, recursively).

        More than `PARALLEL_THRESHOLD` files go to a process pool of `jobs` workers (default:
        one per CPU); pass `jobs=1` to stay in this process. InputError for an unreadable path.
        """
        files = _collect(paths)
        kind = PolicyKind.parse(kind)
        workers = jobs if jobs is not None else (os.cpu_count() or 1)
        findings: list[Finding] = []
        parallel = len(files) > PARALLEL_THRESHOLD and workers > 1
        # Workers rebuild the default registry and cannot read this process's standard input.
        parallel = parallel and self.registry is default_registry() and "-" not in files
        if parallel:
            findings = self._parallel(files, kind, workers)
        else:
            for path in files:
                findings.extend(self.check_file(path, kind=kind))
        if len(files) > 1:
            findings.sort(key=Finding.sort_key)  # each file's are sorted already
        names = tuple("<stdin>" if str(p) == "-" else _display(p) for p in files)
        return LintResult(tuple(findings), names)

    def _parallel(self, files: list[str], kind: PolicyKind, workers: int) -> list[Finding]:
        size = max(1, -(-len(files) // (workers * 4)))
        chunks = [files[i : i + size] for i in range(0, len(files), size)]
        findings: list[Finding] = []
        from concurrent.futures import ProcessPoolExecutor  # only large trees pay for it

        with ProcessPoolExecutor(
            max_workers=workers,
            initializer=_init_worker,
            initargs=(self.config, self.now),
        ) as pool:
            for chunk_findings, error in pool.map(_lint_chunk, chunks, [kind] * len(chunks)):
                if error is not None:
                    raise InputError(*error)
                findings.extend(map(_received, chunk_findings))
        return findings


_WORKER: Linter | None = None


def _init_worker(config: LintConfig, now: datetime) -> None:
    global _WORKER
    _WORKER = Linter(config=config, now=now)


_Sent = tuple[str, str, str, int, int, str, str, str]
"""A finding as plain values (its fields, the severity by name): a quarter of the time of
pickling the dataclass, which a tree with tens of thousands of findings notices."""
_SEVERITIES = {s.value: s for s in Severity}


def _received(sent: _Sent) -> Finding:
    check, severity, file, line, column, pointer, message, hint = sent
    return Finding(check, _SEVERITIES[severity], file, line, column, pointer, message, hint)


def _lint_chunk(files: list[str], kind: PolicyKind) -> tuple[list[_Sent], tuple[str, str] | None]:
    """A worker's share: its findings, or the (location, problem) of an unreadable file (sent
    as plain values, since the exception itself does not survive pickling)."""
    linter = _WORKER if _WORKER is not None else Linter()
    found: list[Finding] = []
    error = None
    for path in files:
        try:
            found.extend(linter.check_file(path, kind=kind))
        except InputError as exc:
            error = (exc.location, exc.problem)
            break
    sent = [
        (f.check, f.severity.value, f.file, f.line, f.column, f.pointer, f.message, f.hint)
        for f in found
    ]
    return sent, error


def _display(path: str | Path) -> str:
    text = path if isinstance(path, str) and os.sep == "/" else Path(path).as_posix()
    return text[2:] if text.startswith("./") else text


_GLOB = frozenset("*?[")


def collect_files(paths: Iterable[str | Path]) -> list[Path]:
    """The files to lint: each file as given, every *.json below each folder (sorted), and the
    matches of a glob pattern (`policies/**/*.json`) that the shell did not expand.

    Never a silent pass: InputError for a path that does not exist, a folder with no *.json
    file below it, a pattern that matches nothing, a folder that cannot be listed, and a file
    that is not a regular file (a broken link, a pipe, a device). `-` is standard input.
    """
    return [Path(f) for f in _collect(paths)]


def _collect(paths: Iterable[str | Path]) -> list[str]:
    """`collect_files`, as the path strings the linter works with."""
    files: list[str] = []
    given = 0
    for raw in paths:
        given += 1
        text = str(raw)
        if text == "-":
            files.append("-")
            continue
        path = Path(raw)
        if os.path.lexists(path):
            files.extend(_files_at(path, given=True))
        elif _GLOB.intersection(text):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                raise InputError(
                    text,
                    "the pattern matches no file or folder, so nothing would be linted; check "
                    "the pattern.",
                )
            for match in matches:
                files.extend(_files_at(Path(match), given=False))
        else:
            raise InputError(text, "no such file or folder; check the path.")
    if given > 1:
        # Paths that overlap (a folder and a file in it, `x.json` and `./x.json`, a pattern and
        # a folder) name some files twice: each is linted once, under its first spelling. One
        # path cannot (a folder's walk lists each file once), so it skips this.
        seen: set[str] = set()
        unique = []
        for file in files:
            key = file if file == "-" else os.path.normcase(os.path.abspath(file))
            if key not in seen:
                seen.add(key)
                unique.append(file)
        files = unique
    return files


def _files_at(path: Path, *, given: bool) -> list[str]:
    """The file at `path`, or the *.json files below the folder at `path`."""
    if path.is_dir():
        found = _walk(path)
        if not found:
            raise InputError(
                str(path),
                "the folder holds no *.json file, so nothing would be linted; check the path, "
                "or give the policy files themselves.",
            )
        return found
    if given or path.name.endswith(".json"):
        _require_regular(str(path))
        return [str(path)]
    return []


def _require_regular(path: str) -> None:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise InputError(path, "is a broken symbolic link (its target does not exist).") from None
    except OSError as exc:
        raise InputError(path, f"cannot be read ({exc.strerror or exc}).") from None
    if not stat.S_ISREG(mode):
        raise InputError(path, "is not a regular file (a pipe, socket or device).")


def _walk(root: Path) -> list[str]:
    """Every *.json file below `root`, following links to folders once each; InputError for a
    folder that cannot be listed or a *.json entry that is not a readable regular file."""
    found: list[str] = []
    seen: set[tuple[int, int]] = set()
    pending = [str(root)]
    while pending:
        folder = pending.pop()
        try:
            info = os.stat(folder)
            if (info.st_dev, info.st_ino) in seen:
                continue  # a link back up the tree: already walked
            seen.add((info.st_dev, info.st_ino))
            with os.scandir(folder) as entries:
                listed = list(entries)
        except OSError as exc:
            raise InputError(
                folder, f"the folder cannot be listed ({exc.strerror or exc})."
            ) from None
        for entry in listed:
            try:
                is_dir = entry.is_dir()  # follows links; the type comes from the listing
            except OSError:
                is_dir = False
            if is_dir:
                pending.append(entry.path)
            elif entry.name.endswith(".json"):
                try:
                    regular = entry.is_file()
                except OSError:
                    regular = False
                if not regular:
                    _require_regular(entry.path)  # names the problem
                found.append(entry.path)
    found.sort(key=lambda p: p.split(os.sep))
    return found


def lint(
    source: bytes | str | PolicyDocument,
    *,
    name: str = "<policy>",
    kind: PolicyKind | str = PolicyKind.IDENTITY,
    config: LintConfig | None = None,
    now: datetime | None = None,
    registry: CheckRegistry | None = None,
) -> LintResult:
    """Lint one policy, given as its text (or bytes) or as a parsed document."""
    linter = Linter(registry=registry, config=config, now=now)
    if isinstance(source, PolicyDocument):
        findings = linter.check_document(source)
        name = source.name
    else:
        findings = linter.check_source(source, name=name, kind=kind)
    return LintResult(tuple(findings), (name,))


def lint_paths(
    paths: Iterable[str | Path],
    *,
    kind: PolicyKind | str = PolicyKind.IDENTITY,
    config: LintConfig | None = None,
    now: datetime | None = None,
    jobs: int | None = None,
) -> LintResult:
    """Lint files and folders with the built-in checks (see `Linter.lint_paths`)."""
    return Linter(config=config, now=now).lint_paths(paths, kind=kind, jobs=jobs)
