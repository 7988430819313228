"""`stop_signals_deferred`: a stop signal waits for the block, a second Ctrl+C does not."""

from __future__ import annotations

import os
import signal

import pytest

from acscontract._signals import stop_signals_deferred


def _block(done: list[str], ctrl_c: int) -> None:
    with stop_signals_deferred():
        for _ in range(ctrl_c):
            os.kill(os.getpid(), signal.SIGINT)
        done.append("rest of the block")


def test_a_ctrl_c_waits_for_the_block_then_interrupts() -> None:
    done: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        _block(done, 1)
    assert done == ["rest of the block"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_second_ctrl_c_interrupts_at_once() -> None:
    done: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        _block(done, 2)
    assert done == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_sigterm_waits_for_the_block_then_reaches_its_own_handler() -> None:
    caught: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda number, _frame: caught.append(number))
    try:
        with stop_signals_deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            assert caught == []
        assert caught == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)
