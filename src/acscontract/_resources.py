"""Where the bundled spec, contract suite and example policies are.

In a wheel they are mapped under `acscontract/_bundled/` (see pyproject.toml). In a source checkout
(an editable install) they are the folders at the repository root.
"""

from __future__ import annotations

import functools
from pathlib import Path

__all__ = ["DOCS_URL", "PROJECT_URL", "bundled_path", "doc_reference", "install_hint"]

PROJECT_URL = "https://github.com/acscontract/acscontract"
DOCS_URL = f"{PROJECT_URL}/blob/main/docs/"
"""Where the guides are online; the wheel also carries them (`bundled_path("docs")`)."""


def install_hint(extra: str) -> str:
    """How to add an extra. acscontract is not published on PyPI, so never the bare name: anyone
    could publish that name."""
    return (
        f"pip install '.[{extra}]' in a checkout, or "
        f"pip install 'acscontract[{extra}] @ git+{PROJECT_URL}@<commit>'"
    )


_PACKAGE_DIR = Path(__file__).resolve().parent


def bundled_path(name: str) -> Path:
    """The folder `name` (`spec`, `contracts`, `ram_policies` or `docs`) that ships with
    acscontract."""
    wheel = _PACKAGE_DIR / "_bundled" / name
    if wheel.is_dir():
        return wheel
    checkout = _PACKAGE_DIR.parent.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(
        f"acscontract's bundled {name!r} folder is missing from {wheel} and {checkout}; "
        "reinstall acscontract."
    )


@functools.cache
def doc_reference(page: str) -> str:
    """Where a user can read the guide `page` (`ram-lint.md`, `checks/<id>.md`): the copy
    installed with acscontract when there is one, else its address online."""
    try:
        path = bundled_path("docs") / page
    except FileNotFoundError:
        return DOCS_URL + page
    return str(path) if path.is_file() else DOCS_URL + page
