"""rich's Console for the commands of the extras (run, probe), with the command line's rules.

- Text is shown as it is: names, URLs, policy lines and answers from a target are not read as
  rich markup (`[/x]` raised MarkupError, `[bold]` vanished into a style), and control
  characters are written as backslash escapes, never sent to the terminal. Styles are given
  as `Text` objects.
- rich answers a closed pipe (`acscontract run | head -1`) by raising SystemExit(1); the
  command line's convention is a quiet exit 0, which `acscontract.cli.main` gives a
  BrokenPipeError.
"""

from __future__ import annotations

import errno
import os
from typing import Any

import rich.console
from rich.text import Text

from acscontract._text import printable

__all__ = ["Console", "safe_text"]


def safe_text(text: str, style: str = "") -> Text:
    """A rich Text of `text` as it is, its control characters escaped."""
    return Text(printable(text), style=style)


class Console(rich.console.Console):
    """A rich Console without markup, whose strings are shown safely and whose closed pipe is
    the BrokenPipeError `main` ends quietly on."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("markup", False)
        super().__init__(*args, **kwargs)

    def render_str(self, text: str, **kwargs: Any) -> Text:
        return super().render_str(printable(text), **kwargs)

    def on_broken_pipe(self) -> None:
        self.quiet = True  # nothing more to write anywhere
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))
