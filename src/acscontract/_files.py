"""Reading the files a user names: regular files only.

A path to a device, a pipe or a socket (`/dev/zero`, `/dev/stdin` of a shell that never
closes it) would otherwise be read until memory runs out. The refusal is an OSError, so every
caller's own "cannot be read (<reason>)" message words it.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

__all__ = ["read_regular_bytes", "read_regular_text", "require_regular"]

_NOT_REGULAR = "not a regular file (a pipe, socket or device)"


def read_regular_bytes(path: str | Path) -> bytes:
    """The bytes of the regular file at `path`; OSError (strerror says why) for anything else,
    IsADirectoryError for a folder."""
    require_regular(os.stat(path).st_mode, path)  # before opening: opening a FIFO blocks
    with open(path, "rb") as handle:
        require_regular(os.fstat(handle.fileno()).st_mode, path)  # what was opened
        return handle.read()


def read_regular_text(path: str | Path, encoding: str = "utf-8") -> str:
    """The text of the regular file at `path`; OSError as `read_regular_bytes`, and
    UnicodeDecodeError when it is not `encoding`."""
    return read_regular_bytes(path).decode(encoding)


def require_regular(mode: int, path: str | Path) -> None:
    """IsADirectoryError for a folder's `mode` (from stat), OSError for anything else that is
    not a regular file; nothing for a regular file."""
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
    if not stat.S_ISREG(mode):
        raise OSError(errno.EINVAL, _NOT_REGULAR, str(path))
