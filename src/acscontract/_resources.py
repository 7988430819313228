"""Where the bundled spec, contract suite and example policies are.

In a wheel they are mapped under `acscontract/_bundled/` (see pyproject.toml). In a source checkout
(an editable install) they are the folders at the repository root.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["bundled_path"]

_PACKAGE_DIR = Path(__file__).resolve().parent


def bundled_path(name: str) -> Path:
    """The folder `name` (`spec`, `contracts` or `ram_policies`) that ships with acscontract."""
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
