"""Durable emulator state: a state backend Protocol, a JSON file backend, and a debounced saver.

The file backend writes atomically (a temporary file in the same folder, then `os.replace`), so a
crash mid-write leaves the previous state intact.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from acscontract.emulator._core import Emulator
from acscontract.errors import InputError

__all__ = ["StateFile", "StatePersister", "StateStore"]

_log = logging.getLogger("acscontract.emulator")


@runtime_checkable
class StateStore(Protocol):
    """Where an emulator's snapshot lives between runs."""

    def load(self) -> Mapping[str, Any] | None:
        """The stored snapshot, or None when nothing is stored yet."""
        ...

    def save(self, snapshot: Mapping[str, Any]) -> None:
        """Store `snapshot`, replacing what was there."""
        ...


class StateFile:
    """A snapshot in one JSON file, replaced atomically on every save."""

    __slots__ = ("path",)

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"StateFile({str(self.path)!r})"

    def load(self) -> Mapping[str, Any] | None:
        try:
            text = self.path.read_text("utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(
                str(self.path), f"the state file cannot be read ({type(exc).__name__}: {exc})."
            ) from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{self.path}:{exc.lineno}:{exc.colno}",
                f"the state file is not valid JSON ({exc.msg}); delete it to start from the seed.",
            ) from None
        if not isinstance(data, dict):
            raise InputError(
                str(self.path), "the state file does not hold a JSON object; delete it."
            )
        return data

    def save(self, snapshot: Mapping[str, Any]) -> None:
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(snapshot, handle, indent=1, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp, 0o600)  # the snapshot holds the seed's secrets
            os.replace(temp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise


class StatePersister:
    """Saves an emulator's snapshot to a store shortly after each change (debounced).

    `start()` restores the stored state (if any) into the emulator and subscribes to its
    changes; `close()` writes any pending change and stops the background thread.
    """

    def __init__(self, emulator: Emulator, store: StateStore, *, debounce_s: float = 0.05) -> None:
        self.emulator = emulator
        self.store = store
        self.debounce_s = debounce_s
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._write_lock = threading.Lock()
        self.saves = 0

    def restore(self) -> bool:
        """Load the stored snapshot into the emulator; False when the store is empty."""
        snapshot = self.store.load()
        if snapshot is None:
            return False
        self.emulator.restore(snapshot, source=repr(self.store))
        return True

    def start(self, *, restore: bool = True) -> StatePersister:
        """Restore (unless told not to), subscribe to changes and start saving in the background."""
        if restore:
            self.restore()
        self.emulator.subscribe(self._dirty.set)
        self._thread = threading.Thread(
            target=self._run, name="acscontract-emulator-state", daemon=True
        )
        self._thread.start()
        return self

    def flush(self) -> None:
        """Write the current state now."""
        with self._write_lock:
            self._dirty.clear()
            self.store.save(self.emulator.snapshot())
            self.saves += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._dirty.wait(timeout=0.5):
                continue
            if self._stop.wait(self.debounce_s):
                break
            try:
                self.flush()
            except OSError:
                _log.exception("The emulator state could not be saved to %r.", self.store)

    def close(self) -> None:
        """Save pending changes and stop."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._dirty.is_set():
            self.flush()

    def __enter__(self) -> StatePersister:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
