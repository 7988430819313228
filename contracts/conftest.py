"""The acscontract contract suite. The `acscontract` pytest plugin (installed with acscontract)
supplies the options, fixtures and summary; run it with `acscontract run`, or with
`pytest --pyargs` on this folder and the `--acscontract-*` options."""

from __future__ import annotations

import contextlib

import pytest

from acscontract.contracts.runner import cache_dir, hypothesis_home

_HOME = pytest.StashKey[contextlib.ExitStack]()


def pytest_configure(config: pytest.Config) -> None:
    # hypothesis keeps its files in acscontract's cache folder, never in the current folder.
    stack = contextlib.ExitStack()
    stack.enter_context(hypothesis_home(cache_dir() / "hypothesis"))
    config.stash[_HOME] = stack


def pytest_unconfigure(config: pytest.Config) -> None:
    stack = config.stash.get(_HOME, None)
    if stack is not None:
        stack.close()
