"""Replay protection: remember each account's SignatureNonces for the spec's replay window.

Memory is bounded: each account keeps a dict of nonces next to a heap of their expiry times, so
expired nonces are dropped cheaply on every check, and an account that sends more than `cap`
nonces within the window loses the ones closest to expiry first.
"""

from __future__ import annotations

import heapq

__all__ = ["NonceCache"]


class _AccountNonces:
    __slots__ = ("expiry", "heap")

    def __init__(self) -> None:
        self.expiry: dict[str, float] = {}
        self.heap: list[tuple[float, str]] = []


class NonceCache:
    """Each account's nonces, each kept for at least `window` seconds.

    Not thread-safe on its own: the emulator calls it under its state lock.
    """

    __slots__ = ("_accounts", "cap", "window")

    def __init__(self, window: float, cap: int = 100_000) -> None:
        if cap < 1:
            raise ValueError(f"A NonceCache needs room for at least one nonce; cap is {cap}.")
        self.window = window
        self.cap = cap
        self._accounts: dict[str, _AccountNonces] = {}

    def check_and_add(self, account: str, nonce: str, now: float, keep_until: float = 0.0) -> bool:
        """Record `nonce`; False when it is already remembered for `account` (a replay).

        The nonce is remembered until `max(now + window, keep_until)`. The emulator passes as
        `keep_until` the time after which the request's own timestamp is too old to be accepted,
        so that a replay is always caught by the nonce check or the timestamp check.
        """
        entry = self._accounts.get(account)
        if entry is None:
            entry = self._accounts[account] = _AccountNonces()
        expiry, heap = entry.expiry, entry.heap
        while heap and heap[0][0] <= now:
            until, old = heapq.heappop(heap)
            if expiry.get(old) == until:
                del expiry[old]
        known = expiry.get(nonce)
        if known is not None and known > now:
            return False
        until = max(now + self.window, keep_until)
        expiry[nonce] = until
        heapq.heappush(heap, (until, nonce))
        while len(expiry) > self.cap:
            old_until, old = heapq.heappop(heap)
            if expiry.get(old) == old_until:
                del expiry[old]
        return True

    def size(self) -> int:
        """How many nonces are remembered, over all accounts."""
        return sum(len(e.expiry) for e in self._accounts.values())

    def clear(self) -> None:
        """Forget every nonce."""
        self._accounts.clear()
