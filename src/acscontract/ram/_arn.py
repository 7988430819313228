"""ARN templates of the catalog as wildcard patterns."""

from __future__ import annotations

import functools
import re

from acscontract.ram._wildcard import ANY_RUN, Pattern

__all__ = ["template_pattern"]

_PLACEHOLDER = re.compile(r"\{#[A-Za-z0-9_]+\}")


@functools.lru_cache(maxsize=256)
def template_pattern(template: str) -> Pattern:
    """The ARNs a template describes: each `{#name}` is any run, every other character literal.

    A literal `*` in the template (the region of `acs:cdn:*:...`) stays a literal character: the
    resource ARN of a request has it as written.
    """
    parts: list[Pattern | str] = []
    last = 0
    for m in _PLACEHOLDER.finditer(template):
        parts.append(template[last : m.start()])
        parts.append(Pattern((ANY_RUN,)))
        last = m.end()
    parts.append(template[last:])
    return Pattern.concat(parts)
