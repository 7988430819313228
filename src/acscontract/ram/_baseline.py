"""Baselines: accept the findings a project already has, so that only new ones fail.

A baseline entry identifies a finding by its check, file, JSON Pointer and message, with what
moves when a policy is edited elsewhere taken out: line and column numbers, the number of a
statement (`statement 2`, `/Statement/2`) and the position of an entry in a list (`/Action/3`).
So reformatting a file, or adding statements or list entries above an accepted finding, keeps it
accepted. Matching counts: two identical findings in the baseline accept two, not three.

A baseline file names each file relative to the folder the baseline is in, so it matches
whatever the current folder of the run and however the paths were given (relative, absolute,
`./x`): a baseline at the root of a repository written by `ram lint policies/` there also
accepts `ram lint ../policies` run from a subfolder, or `ram lint "$PWD/policies"`.

A baseline written before these rules (without the `matching` member) is matched as it was:
by `fingerprint`, the id the JSON report and SARIF give each finding.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from acscontract._files import read_regular_text
from acscontract.errors import InputError
from acscontract.ram._findings import Finding, json_document

__all__ = ["BASELINE_VERSION", "Baseline", "baseline_key", "fingerprint"]

BASELINE_VERSION = 1
_POSITIONS = re.compile(r"\b(line|column|lines|columns) \d+")
# Statement numbers in messages ("statement 2", "Statement entry 2"), and list positions in
# JSON Pointers ("/Statement/2/Action/3"; a Pointer escapes "/" in names, so a segment of
# digits is a position, or a member named by digits, which the baseline may ignore too).
_STATEMENT_NUMBERS = re.compile(r"\b([Ss]tatements?|[Ss]tatement entry) \d+")
_LIST_POSITIONS = re.compile(r"/\d+(?=/|$)")
# The top-level member of a baseline file saying how its entries match (the text is for
# readers). A baseline without it was written before, with `fingerprint` ids.
_MATCHING_KEY = "matching"
_MATCHING = (
    "check, file relative to this baseline's folder, pointer and message, without line, "
    "column, statement and list positions"
)


def _file_key(file: str, root: str | None = None) -> str:
    """The file as the fingerprint names it: as given (without `./`), or, with `root`, relative
    to that folder (both made absolute from the current folder first; a file on another drive
    than `root` keeps its absolute path). `<stdin>` is always itself."""
    if root is None or file.startswith("<"):
        return _posix(file)
    return _relative_key(file, root, os.getcwd())


@functools.lru_cache(maxsize=4096)  # called per finding, and a report names few files
def _relative_key(file: str, root: str, cwd: str) -> str:
    absolute = os.path.join(cwd, file)
    try:
        relative = os.path.relpath(absolute, root)
    except ValueError:  # Windows: another drive than the baseline's
        relative = os.path.normpath(absolute)
    return _posix(relative)


def _posix(file: str) -> str:
    text = PurePath(file).as_posix()
    return text[2:] if text.startswith("./") else text


def fingerprint(finding: Finding, root: str | None = None) -> str:
    """A stable id for a finding that does not change when lines move. The file is taken as
    given, or relative to the folder `root` (an absolute path) when one is given."""
    import hashlib  # the text report needs no fingerprints

    message = _POSITIONS.sub(r"\1 #", finding.message)
    text = "\0".join((finding.check, _file_key(finding.file, root), finding.pointer, message))
    # "surrogatepass": a lone surrogate from a policy's "\\ud800" escape hashes as itself.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def baseline_key(finding: Finding, root: str | None = None) -> str:
    """The id a baseline file accepts a finding by: `fingerprint` with the file relative to the
    folder `root` (as given when None), and without statement numbers and list positions, which
    change when statements or entries are added above the finding."""
    import hashlib  # the text report needs no fingerprints

    message = _STATEMENT_NUMBERS.sub(r"\1 #", _POSITIONS.sub(r"\1 #", finding.message))
    pointer = _LIST_POSITIONS.sub("/#", finding.pointer)
    text = "\0".join((finding.check, _file_key(finding.file, root), pointer, message))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Baseline:
    """The fingerprints of accepted findings, with how many of each were accepted.

    The counts are keyed by `baseline_key`. `root` is the absolute folder their files are
    relative to (the baseline file's folder), or None for files as given. `legacy` marks a file
    written before `baseline_key`: its counts are `fingerprint`s, and a finding matches one with
    its file as given or relative to `root`."""

    counts: Mapping[str, int] = field(default_factory=dict, hash=False)
    source: str | None = None
    root: str | None = None
    legacy: bool = False

    @classmethod
    def of(cls, findings: Iterable[Finding], root: str | Path | None = None) -> Baseline:
        folder = None if root is None else os.path.abspath(root)
        return cls(dict(Counter(baseline_key(f, folder) for f in findings)), root=folder)

    @classmethod
    def load(cls, path: str | Path) -> Baseline:
        """Read a baseline file; InputError if it cannot be read or is not a baseline."""
        p = Path(path)
        try:
            # "utf-8-sig": an editor on Windows may save the file with a byte order mark.
            data = json.loads(read_regular_text(p, encoding="utf-8-sig"))
        except FileNotFoundError:
            raise InputError(
                str(p), "no such baseline file; create one with --write-baseline."
            ) from None
        except UnicodeDecodeError as exc:
            raise InputError(
                str(p), f"the baseline is not UTF-8 text (byte {exc.start}); write it again."
            ) from None
        except OSError as exc:
            raise InputError(
                str(p), f"the baseline cannot be read ({exc.strerror or exc})."
            ) from None
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{p}:{exc.lineno}:{exc.colno}", f"the baseline is not valid JSON ({exc.msg})."
            ) from None
        except RecursionError:
            raise InputError(str(p), "the baseline is JSON nested too deeply to read.") from None
        entries = data.get("findings") if isinstance(data, dict) else None
        if (
            not isinstance(data, dict)
            or data.get("version") != BASELINE_VERSION
            or not isinstance(entries, list)
            or not all(
                isinstance(e, dict) and isinstance(e.get("fingerprint"), str) for e in entries
            )
        ):
            raise InputError(
                str(p),
                f"is not an acscontract baseline (version {BASELINE_VERSION} with a list of "
                "findings that each have a fingerprint); write it again with --write-baseline.",
            )
        return cls(
            dict(Counter(e["fingerprint"] for e in entries)),
            str(p),
            root=_folder_of(p),
            legacy=_MATCHING_KEY not in data,
        )

    def split(self, findings: Iterable[Finding]) -> tuple[list[Finding], list[Finding]]:
        """(new findings, findings the baseline accepts), each in the order given."""
        left = Counter(self.counts)
        new: list[Finding] = []
        known: list[Finding] = []
        for f in findings:
            if self.legacy:
                keys = [fingerprint(f), fingerprint(f, self.root)]
            else:
                keys = [baseline_key(f, self.root)]
            key = next((k for k in keys if left[k] > 0), None)
            if key is not None:
                left[key] -= 1
                known.append(f)
            else:
                new.append(f)
        return new, known

    def __len__(self) -> int:
        return sum(self.counts.values())

    @staticmethod
    def document(findings: Iterable[Finding], root: str | Path | None = None) -> dict[str, Any]:
        """The JSON form of a baseline accepting `findings` (readable, sorted, diff-friendly),
        with files relative to the folder `root` (as given when None)."""
        folder = None if root is None else os.path.abspath(root)
        keyed = sorted(((_file_key(f.file, folder), f) for f in findings), key=_by_file_key)
        entries = [
            {
                "check": f.check,
                "file": key,
                "pointer": f.pointer,
                "message": f.message,
                "fingerprint": baseline_key(f, folder),
            }
            for key, f in keyed
        ]
        return {
            "version": BASELINE_VERSION,
            "tool": "acscontract ram lint",
            _MATCHING_KEY: _MATCHING,
            "findings": entries,
        }

    @classmethod
    def write(cls, path: str | Path, findings: Iterable[Finding]) -> Baseline:
        """Write a baseline accepting `findings`, its files relative to its own folder;
        InputError if the file cannot be written."""
        findings = list(findings)
        p = Path(path)
        root = _folder_of(p)
        text = json_document(cls.document(findings, root))
        try:
            p.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InputError(str(p), f"the baseline cannot be written ({exc.strerror}).") from None
        return cls.of(findings, root)


def _folder_of(path: Path) -> str:
    return os.path.dirname(os.path.abspath(path))


def _by_file_key(item: tuple[str, Finding]) -> tuple[str, tuple[str, int, int, int, str]]:
    return item[0], item[1].sort_key()
