"""A precompiled cache of what the bundled spec derives (the action catalog, loaded operations).

Loading a spec means strict YAML parsing, the meta-schema and semantic checks, and, for the
action catalog, every operation file plus the product's 1.6 MB metadata: hundreds of
milliseconds, against the few that a pre-commit hook of `acscontract ram lint` can afford. So the
result is pickled once and read back on later runs.

Never stale: an entry is keyed on the size and modification time (in nanoseconds) of every file
under the spec folder and of the modules that build the model, the Python version and a format
version. Any change to any of them is a miss, and the entry is rebuilt from the files.

Where: `$ACSCONTRACT_CACHE_DIR` when set (`off` disables the disk cache); otherwise a
`__pycache__` folder next to the spec, like Python's own bytecode cache, or, when the package
folder is read-only, the user's cache folder (`$XDG_CACHE_HOME/acscontract`, `~/.cache/acscontract`,
or `%LOCALAPPDATA%\\acscontract`). When no folder is writable the result stays in memory only.
A cache file is as trusted as the code next to it: it is only ever read from those folders.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
import sys
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["CACHE_FORMAT", "cache_directories", "cached", "signature"]

CACHE_FORMAT = 1
_T = TypeVar("_T")
_CODE_DIR = Path(__file__).resolve().parent


def signature(root: Path) -> tuple[tuple[str, int, int], ...]:
    """(relative path, size, mtime in ns) of every file under `root` and of the spec modules."""
    entries: list[tuple[str, int, int]] = []
    for base, label in ((root, "spec"), (_CODE_DIR, "code")):
        for relative, info in _files(base):
            entries.append((f"{label}:{relative}", *info))
    entries.sort()
    return tuple(entries)


def _files(base: Path) -> Iterator[tuple[str, tuple[int, int]]]:
    """(path relative to `base` with `/` separators, (size, mtime in ns)) of each file below
    `base`. Plain strings and `os.stat`: this runs on every start (hundreds of files), where
    pathlib objects cost more than the system calls."""
    code = base == _CODE_DIR
    top = os.fspath(base)
    cut = len(os.path.join(top, ""))
    for folder, dirs, names in os.walk(top):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        prefix = folder[cut:].replace(os.sep, "/")
        if prefix:
            prefix += "/"
        for name in names:
            if code and not name.endswith(".py"):
                continue
            try:
                info = os.stat(os.path.join(folder, name))
            except OSError:
                continue  # vanished or unreadable: the build itself reports it
            yield prefix + name, (info.st_size, info.st_mtime_ns)


def cache_directories(root: Path) -> list[Path]:
    """Where the cache of the spec under `root` may live, in order of preference."""
    configured = os.environ.get("ACSCONTRACT_CACHE_DIR")
    if configured is not None:
        return [] if configured.strip().lower() in ("", "0", "off", "none") else [Path(configured)]
    places = [root / "__pycache__"]
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        places.append(Path(os.environ["LOCALAPPDATA"]) / "acscontract")
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        places.append(Path(xdg) / "acscontract" if xdg else Path.home() / ".cache" / "acscontract")
    return places


def cached(name: str, root: Path, build: Callable[[], _T]) -> _T:
    """`build()`, or its result from the disk cache when no file under `root` has changed."""
    key = (CACHE_FORMAT, name, sys.version_info[:2], str(root.resolve()), signature(root))
    # The file name only spreads entries over files (the whole key is compared after reading);
    # `name` may come from the user, so only its safe characters are used.
    label = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")[:48] or "entry"
    label += f"-{zlib.crc32(name.encode('utf-8', 'surrogatepass')):08x}"
    digest = f"{zlib.crc32(repr(key).encode('utf-8', 'surrogatepass')):08x}"
    filename = f"acscontract-{label}-{digest}.pickle"
    places = cache_directories(root)
    for place in places:
        found = _read(place / filename, key)
        if found is not None:
            return found[0]  # type: ignore[no-any-return]
    value = build()
    try:
        data = pickle.dumps((key, value), protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, AttributeError, TypeError):
        return value  # a value that cannot be kept is still the right answer, only not cached
    for place in places:
        if _write(place, filename, f"acscontract-{label}-", data):
            break
    return value


def _read(path: Path, key: Any) -> tuple[Any] | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        stored_key, value = pickle.loads(data)  # noqa: S301 - written by this module only
    except Exception:  # noqa: BLE001 - a truncated or foreign file is a miss, never an error
        return None
    return (value,) if stored_key == key else None


def _write(place: Path, filename: str, stem: str, data: bytes) -> bool:
    """Write atomically (a temporary file, then a rename); remove older entries of the same
    name. False when the folder is not writable."""
    import tempfile  # only when writing

    try:
        place.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=place, prefix=".tmp-")
    except OSError:
        return False
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temporary, 0o644)  # readable by every user of a shared installation
        os.replace(temporary, place / filename)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        return False
    for old in place.glob(f"{stem}*.pickle"):
        if old.name != filename:
            with contextlib.suppress(OSError):
                old.unlink()
    return True
