"""Replay protection: remember each AccessKey's SignatureNonces for the spec's replay window.

Memory is bounded per AccessKey, never per account: one key's traffic can never push out
another key's nonces. A nonce is never forgotten inside its window. When a key has `capacity`
nonces that have not expired yet, its next new nonce is refused (`Verdict.FULL`) instead of
evicting one; the key can call again as soon as its oldest nonce expires. Expired nonces are
dropped cheaply on every check (each key keeps a heap of expiry times next to its dict).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from enum import Enum

__all__ = ["NonceCache", "Verdict"]


class Verdict(Enum):
    """What the nonce check says about a request."""

    FRESH = "fresh"
    """The nonce is new: it is now remembered."""
    REPLAYED = "replayed"
    """The nonce is remembered for this AccessKey: a replay."""
    FULL = "full"
    """The AccessKey has no room for another nonce inside the window: refuse, forget nothing."""


class _KeyNonces:
    __slots__ = ("expiry", "heap")

    def __init__(self) -> None:
        self.expiry: dict[str, float] = {}
        self.heap: list[tuple[float, str]] = []

    def purge(self, now: float) -> None:
        expiry, heap = self.expiry, self.heap
        while heap and heap[0][0] <= now:
            until, old = heapq.heappop(heap)
            if expiry.get(old) == until:
                del expiry[old]


class NonceCache:
    """Each AccessKey's nonces, each kept until its own expiry time.

    Not thread-safe on its own: the emulator calls it under its state lock.
    """

    __slots__ = ("_keys", "capacity", "window")

    def __init__(self, window: float, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(
                f"A NonceCache needs room for at least one nonce per key; capacity is {capacity}."
            )
        self.window = window
        self.capacity = capacity
        self._keys: dict[str, _KeyNonces] = {}

    def admit(
        self, access_key: str, nonce: str, now: float, keep_until: float = 0.0
    ) -> tuple[Verdict, float]:
        """Check `nonce` for `access_key` at `now` and remember it when it is fresh.

        Returns the verdict and, for a fresh nonce, the time until which it is remembered:
        `max(now + window, keep_until)`. The emulator passes as `keep_until` the time after which
        the request's own timestamp is too old to be accepted, so that a replay is always caught
        by the nonce check or by the timestamp check.
        """
        entry = self._keys.get(access_key)
        if entry is None:
            entry = self._keys[access_key] = _KeyNonces()
        entry.purge(now)
        known = entry.expiry.get(nonce)
        if known is not None and known > now:
            return Verdict.REPLAYED, known
        if len(entry.expiry) >= self.capacity:
            return Verdict.FULL, 0.0
        until = max(now + self.window, keep_until)
        entry.expiry[nonce] = until
        heapq.heappush(entry.heap, (until, nonce))
        return Verdict.FRESH, until

    def remember(self, access_key: str, nonce: str, until: float) -> None:
        """Remember a nonce until `until` (restoring from a store); keeps the later expiry."""
        entry = self._keys.get(access_key)
        if entry is None:
            entry = self._keys[access_key] = _KeyNonces()
        if entry.expiry.get(nonce, -1.0) >= until:
            return
        entry.expiry[nonce] = until
        heapq.heappush(entry.heap, (until, nonce))

    def entries(self, now: float) -> Iterator[tuple[str, str, float]]:
        """Every nonce not expired at `now`: (access key, nonce, until)."""
        for key, entry in self._keys.items():
            for nonce, until in entry.expiry.items():
                if until > now:
                    yield key, nonce, until

    def size(self, access_key: str | None = None) -> int:
        """How many nonces are remembered (for one AccessKey, or over all of them)."""
        if access_key is not None:
            entry = self._keys.get(access_key)
            return 0 if entry is None else len(entry.expiry)
        return sum(len(e.expiry) for e in self._keys.values())

    def clear(self) -> None:
        """Forget every nonce."""
        self._keys.clear()
