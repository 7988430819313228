"""Baselines: accept the findings a project already has, so that only new ones fail.

A finding is identified by its check, file, JSON Pointer and message, with line and column
numbers taken out of the message, so reformatting a file (lines moving) keeps it matched.
Matching counts: two identical findings in the baseline accept two, not three.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from acscontract._files import read_regular_text
from acscontract.errors import InputError
from acscontract.ram._findings import Finding, json_document

__all__ = ["BASELINE_VERSION", "Baseline", "fingerprint"]

BASELINE_VERSION = 1
_POSITIONS = re.compile(r"\b(line|column|lines|columns) \d+")


def _file_key(file: str) -> str:
    text = PurePath(file).as_posix()
    return text[2:] if text.startswith("./") else text


def fingerprint(finding: Finding) -> str:
    """A stable id for a finding that does not change when lines move."""
    import hashlib  # the text report needs no fingerprints

    message = _POSITIONS.sub(r"\1 #", finding.message)
    text = "\0".join((finding.check, _file_key(finding.file), finding.pointer, message))
    # "surrogatepass": a lone surrogate from a policy's "\\ud800" escape hashes as itself.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Baseline:
    """The fingerprints of accepted findings, with how many of each were accepted."""

    counts: Mapping[str, int] = field(default_factory=dict, hash=False)
    source: str | None = None

    @classmethod
    def of(cls, findings: Iterable[Finding]) -> Baseline:
        return cls(dict(Counter(fingerprint(f) for f in findings)))

    @classmethod
    def load(cls, path: str | Path) -> Baseline:
        """Read a baseline file; InputError if it cannot be read or is not a baseline."""
        p = Path(path)
        try:
            data = json.loads(read_regular_text(p))
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
        return cls(dict(Counter(e["fingerprint"] for e in entries)), str(p))

    def split(self, findings: Iterable[Finding]) -> tuple[list[Finding], list[Finding]]:
        """(new findings, findings the baseline accepts), each in the order given."""
        left = Counter(self.counts)
        new: list[Finding] = []
        known: list[Finding] = []
        for f in findings:
            key = fingerprint(f)
            if left[key] > 0:
                left[key] -= 1
                known.append(f)
            else:
                new.append(f)
        return new, known

    def __len__(self) -> int:
        return sum(self.counts.values())

    @staticmethod
    def document(findings: Iterable[Finding]) -> dict[str, Any]:
        """The JSON form of a baseline accepting `findings` (readable, sorted, diff-friendly)."""
        entries = [
            {
                "check": f.check,
                "file": _file_key(f.file),
                "pointer": f.pointer,
                "message": f.message,
                "fingerprint": fingerprint(f),
            }
            for f in sorted(findings, key=Finding.sort_key)
        ]
        return {"version": BASELINE_VERSION, "tool": "acscontract ram lint", "findings": entries}

    @classmethod
    def write(cls, path: str | Path, findings: Iterable[Finding]) -> Baseline:
        """Write a baseline accepting `findings`; InputError if the file cannot be written."""
        findings = list(findings)
        p = Path(path)
        text = json_document(cls.document(findings))
        try:
            p.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InputError(str(p), f"the baseline cannot be written ({exc.strerror}).") from None
        return cls.of(findings)
