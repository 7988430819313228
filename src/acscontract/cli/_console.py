"""rich's Console for the commands of the extras (run, probe), with the command line's pipe rule.

rich answers a closed pipe (`acscontract run | head -1`) by raising SystemExit(1); the command
line's convention is a quiet exit 0, which `acscontract.cli.main` gives a BrokenPipeError.
"""

from __future__ import annotations

import errno
import os

import rich.console

__all__ = ["Console"]


class Console(rich.console.Console):
    """A rich Console whose closed pipe is the BrokenPipeError `main` ends quietly on."""

    def on_broken_pipe(self) -> None:
        self.quiet = True  # nothing more to write anywhere
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))
