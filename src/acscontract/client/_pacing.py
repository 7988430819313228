"""Pacing: one schedule per endpoint and account that keeps traffic under a share of its limit.

A pacing store holds the schedules, and the counters that go with them:

- `FileStore` (the default): one small file per key under the temp directory
  (`ACSCONTRACT_PACING_DIR` moves it), updated under an exclusive file lock. Every process of
  this machine, of any user, that paces the same endpoint draws from the same schedule, kept on
  the machine's monotonic clock; files unused for a day are pruned.
- `RedisStore` (`redis://HOST:PORT/DB`, also `ACSCONTRACT_PACING_STORE`): every process on every
  machine that names the same store. A slot is taken with GCRA (the generic cell rate algorithm,
  with no burst tolerance) in a Lua script that Redis runs atomically on its own clock, so the
  machines' clocks need not agree.

A schedule gives each request the next free slot `interval` seconds after the previous one. The
interval is chosen so that no sliding window of the limit's length holds more than
`floor(share x limit)` slots, with one interval of slack for a request that leaves late.
"""

from __future__ import annotations

import hashlib
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from acscontract._text import shorten
from acscontract.errors import UsageError

if TYPE_CHECKING:
    from acscontract.spec import FlowControl

__all__ = [
    "PACING_DIR_ENV",
    "PACING_SHARE",
    "PACING_STORE_ENV",
    "FileStore",
    "NoPacing",
    "Pacer",
    "PacingStore",
    "PacingStoreError",
    "RedisStore",
    "SharedPacer",
    "check_pacing_url",
    "pacer_for",
    "pacing_budget",
    "pacing_dir",
    "pacing_interval",
    "pacing_store",
    "schedule_key",
]

PACING_SHARE = 0.8
"""The share of the spec's limit a paced endpoint gets: comfortably under it, never at it."""

PACING_DIR_ENV = "ACSCONTRACT_PACING_DIR"
"""Where the file store keeps its schedules; the system temp directory when unset."""

PACING_STORE_ENV = "ACSCONTRACT_PACING_STORE"
"""A `redis://` URL: the store every process on every machine shares (the file store if unset)."""

# Keys expire this long after their last use, so a store never fills up with old runs.
_TTL_S = 24 * 3600


class PacingStoreError(UsageError):
    """The pacing store failed while in use: nothing more may be sent, since it could not be
    paced (or counted against a budget)."""


class Pacer(Protocol):
    """Decides when the next request may go; `wait` blocks until then."""

    def wait(self) -> float:
        """Block until this caller's slot; return the seconds waited."""
        ...


@dataclass(frozen=True, slots=True)
class NoPacing:
    """For emulators, and for requests that exceed the limit on purpose."""

    def wait(self) -> float:
        return 0.0


class PacingStore(Protocol):
    """Where schedules, counters and reservations live, shared by every process that uses it."""

    @property
    def description(self) -> str:
        """What the store is, without any password (for messages and summaries)."""
        ...

    def next_slot(self, key: str, interval: float) -> float:
        """Take the next free slot of the schedule `key`; return the seconds until it (>= 0)."""
        ...

    def reserve(self, key: str, count: int, limit: int) -> bool:
        """Add `count` to the counter `key` if it stays at or under `limit`; say whether it did."""
        ...

    def release(self, key: str, count: int) -> None:
        """Take `count` back off the counter `key` (never below zero)."""
        ...

    def add(self, key: str, amount: int) -> int:
        """Add `amount` to the counter `key`; return the new value."""
        ...

    def get(self, key: str) -> int:
        """The counter `key` (0 when it was never set)."""
        ...

    def check(self) -> None:
        """Raise UsageError, with one clear line, when the store cannot be used."""
        ...


# --- the file store ----------------------------------------------------------------------------

_SHARED_FOLDER_MODE = 0o1777
"""The default folder, like /tmp itself: every user of the machine paces from it (so two users'
runs share one budget), and the sticky bit keeps each user's files from being removed by others."""

_FILE_MODE = 0o666
"""Every file of the store: whoever can reach the folder shares its schedules and budgets (the
folder's own permissions decide who that is)."""

_NAME_LENGTH = 24
_SUFFIXES = (".next", ".slot")
_pruned: set[Path] = set()


def _store_error(path: Path, exc: OSError) -> PacingStoreError:
    return PacingStoreError(
        f"The pacing file {path} cannot be used ({exc.strerror or type(exc).__name__}); set "
        f"{PACING_DIR_ENV} to a folder of your own, or have the file's owner make it and its "
        "folder usable by every user that runs acscontract on this machine (chmod 666 the "
        "file, chmod 1777 the folder)."
    )


def _open_shared(path: Path) -> int:
    """A descriptor of `path`, created readable and writable by whoever reaches the folder.
    A symbolic link is refused, so a planted link cannot redirect writes elsewhere."""
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags, _FILE_MODE)
    except OSError as exc:
        raise _store_error(path, exc) from None
    info = os.fstat(fd)
    if hasattr(os, "fchmod") and info.st_uid == os.geteuid() and info.st_mode & 0o777 != _FILE_MODE:
        with suppress(OSError):  # the umask took the group's and others' write bits away
            os.fchmod(fd, _FILE_MODE)
    return fd


def _lock(fd: int, *, release: bool = False) -> None:
    """Take (or, with `release`, give back) the exclusive lock on the open file `fd`."""
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK if release else msvcrt.LK_LOCK, 1)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_UN if release else fcntl.LOCK_EX)


def _unlock(fd: int) -> None:
    _lock(fd, release=True)


def _same_file(fd: int, path: Path) -> bool:
    """Whether `path` still names the file `fd` is open on (not pruned, not replaced)."""
    try:
        on_disk = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    held = os.fstat(fd)
    return (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino)


@contextmanager
def _locked(path: Path) -> Iterator[IO[bytes]]:
    """`path` opened for update under an exclusive lock that other processes respect.

    Old files are pruned under the same lock (`FileStore.prune`), so after taking it the path is
    checked to still name the locked file; if it was pruned meanwhile, the file is opened again.
    Otherwise two processes could each update a file of their own and share no schedule."""
    while True:
        fd = _open_shared(path)
        _lock(fd)
        if _same_file(fd, path):
            break
        _unlock(fd)
        os.close(fd)
    with os.fdopen(fd, "r+b") as handle:
        try:
            yield handle
        finally:
            handle.flush()
            _unlock(fd)


def _read_numbers(handle: IO[bytes]) -> list[float]:
    handle.seek(0)
    raw = handle.read().decode("ascii", "replace").split()
    try:
        return [float(part) for part in raw]
    except ValueError:
        return []


def _read_number(handle: IO[bytes]) -> float:
    numbers = _read_numbers(handle)
    return numbers[0] if numbers else 0.0


def _write_numbers(handle: IO[bytes], *values: float) -> None:
    handle.seek(0)
    handle.truncate()
    handle.write(" ".join(repr(value) for value in values).encode("ascii"))
    handle.flush()


def _write_number(handle: IO[bytes], value: float) -> None:
    _write_numbers(handle, value)


def _file_name(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:_NAME_LENGTH]


@dataclass(frozen=True, slots=True)
class FileStore:
    """Schedules and counters in small files under `folder`, each updated under a file lock.

    Schedules run on the machine's monotonic clock (shared by its processes), so a wall clock
    set back or forward neither delays the next run by the jump nor lets it overlap the calls
    already scheduled. Files unused for a day are pruned, as the Redis store's keys expire.
    """

    folder: Path
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)
    shared: bool = False
    """Whether the folder is the default one every user of the machine shares (created 1777)."""

    @property
    def description(self) -> str:
        return f"the file lock store in {self.folder} (this machine only)"

    def path(self, key: str) -> Path:
        """The file that holds the counter `key`."""
        return self.folder / f"{_file_name(key)}.next"

    def schedule_path(self, key: str) -> Path:
        """The file that holds the schedule `key` (monotonic seconds, not the wall clock)."""
        return self.folder / f"{_file_name(key)}.slot"

    def next_slot(self, key: str, interval: float) -> float:
        self._prepare()
        with _locked(self.schedule_path(key)) as handle:
            now = self.clock()
            numbers = _read_numbers(handle)
            following, written = (numbers[0], numbers[1]) if len(numbers) >= 2 else (now, now)
            if written > now:
                # The monotonic clock never goes back within one boot: the file outlived a
                # restart of it. What was still ahead of the schedule when it was written is
                # the most that can be ahead now.
                following = now + max(0.0, following - written)
            slot = max(now, following)
            _write_numbers(handle, slot + interval, now)
        return slot - now

    def reserve(self, key: str, count: int, limit: int) -> bool:
        self._prepare()
        with _locked(self.path(key)) as handle:
            used = int(_read_number(handle))
            if used + count > limit:
                return False
            _write_number(handle, float(used + count))
        return True

    def release(self, key: str, count: int) -> None:
        self._prepare()
        with _locked(self.path(key)) as handle:
            _write_number(handle, float(max(0, int(_read_number(handle)) - count)))

    def add(self, key: str, amount: int) -> int:
        self._prepare()
        with _locked(self.path(key)) as handle:
            value = int(_read_number(handle)) + amount
            _write_number(handle, float(value))
        return value

    def get(self, key: str) -> int:
        path = self.path(key)
        if not path.exists():
            return 0
        with _locked(path) as handle:
            return int(_read_number(handle))

    def _prepare(self) -> None:
        """The folder made (shared when it is the default one), and old files pruned, once per
        process and folder."""
        if self.folder in _pruned and self.folder.is_dir():
            return
        self._make_folder()
        _pruned.add(self.folder)
        self.prune()

    def _make_folder(self) -> None:
        try:
            if not self.shared:
                self.folder.mkdir(parents=True, exist_ok=True)
                return
            self.folder.parent.mkdir(parents=True, exist_ok=True)
            with suppress(FileExistsError):
                self.folder.mkdir(mode=0o700)
            info = os.stat(self.folder, follow_symlinks=False)
            owned = info.st_uid == os.geteuid() if hasattr(os, "geteuid") else True
            if owned and info.st_mode & 0o7777 != _SHARED_FOLDER_MODE and hasattr(os, "chmod"):
                os.chmod(self.folder, _SHARED_FOLDER_MODE)
        except OSError as exc:
            raise UsageError(
                f"The pacing folder {self.folder} cannot be created ({exc.strerror}); set "
                f"{PACING_DIR_ENV} to a writable folder."
            ) from None

    def prune(self, max_age: float = _TTL_S) -> int:
        """Remove this store's files unused for `max_age` seconds (the counters of old runs,
        idle schedules); return how many. Each is removed under its lock, and only while it is
        still unused, so a process updating it meanwhile keeps its value. Files of other users
        that the folder does not let this one remove are left alone."""
        removed = 0
        cutoff = time.time() - max_age
        try:
            entries = list(os.scandir(self.folder))
        except OSError:
            return 0
        for entry in entries:
            stem, suffix = os.path.splitext(entry.name)
            if suffix not in _SUFFIXES or len(stem) != _NAME_LENGTH:
                continue
            try:
                if not entry.is_file(follow_symlinks=False) or entry.stat().st_mtime >= cutoff:
                    continue
                removed += self._remove_if_unused(Path(entry.path), cutoff)
            except (OSError, UsageError):
                continue
        return removed

    @staticmethod
    def _remove_if_unused(path: Path, cutoff: float) -> int:
        flags = os.O_RDWR | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(path, flags)
        try:
            _lock(fd)
            try:
                if os.fstat(fd).st_mtime >= cutoff or not _same_file(fd, path):
                    return 0
                path.unlink()
                return 1
            finally:
                _unlock(fd)
        finally:
            os.close(fd)

    def check(self) -> None:
        self._make_folder()
        if not os.access(self.folder, os.W_OK):
            raise UsageError(
                f"The pacing folder {self.folder} is not writable; set {PACING_DIR_ENV} to a "
                "writable folder, or make it writable for every user that runs acscontract on "
                "this machine (chmod 1777)."
            )


# --- the Redis store ---------------------------------------------------------------------------

# GCRA with no burst tolerance: the theoretical arrival time (TAT) of the next request is kept
# per key; a caller's slot is max(TAT, now) and moves TAT on by one interval. Redis' own clock is
# "now", so callers on machines with different clocks share one schedule. A second key keeps
# when TAT was last written: should Redis' clock be set back, what was ahead of that moment is
# all the next caller waits for, not the jump. The delay goes back as a string: Lua numbers
# would be cut to integers on the way out.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local written = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
if written > now then tat = now + math.max(0, tat - written) end
if tat < now then tat = now end
local ttl = math.ceil((tat + interval - now) * 1000) + tonumber(ARGV[2]) * 1000
redis.call('SET', KEYS[1], string.format('%.6f', tat + interval), 'PX', ttl)
redis.call('SET', KEYS[2], string.format('%.6f', now), 'PX', ttl)
return string.format('%.6f', tat - now)
"""

_RESERVE = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local count = tonumber(ARGV[1])
if used + count > tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], used + count, 'EX', tonumber(ARGV[3]))
return 1
"""

_RELEASE = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0') - tonumber(ARGV[1])
if used < 0 then used = 0 end
redis.call('SET', KEYS[1], used, 'EX', tonumber(ARGV[2]))
return used
"""

_PREFIX = "acscontract:"


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=f"***@{netloc}"))


class RedisStore:
    """Schedules and counters in a Redis server that every process on every machine can reach.

    Every update is one Lua script, which Redis runs atomically; the schedule uses Redis' clock.
    """

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        try:
            import redis
        except ImportError:  # pragma: no cover - redis is a dependency
            raise UsageError(
                "--pacing-store needs the redis package: pip install 'redis>=5'."
            ) from None
        self.url = url
        self._shown = _without_password(url)
        try:
            self._client: Any = redis.Redis.from_url(
                url, socket_timeout=timeout, socket_connect_timeout=timeout
            )
        except ValueError as exc:
            raise UsageError(f"The pacing store {self._shown} is not a usable URL: {exc}") from None
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._gcra = self._client.register_script(_GCRA)
        self._reserve = self._client.register_script(_RESERVE)
        self._release = self._client.register_script(_RELEASE)

    def __repr__(self) -> str:
        return f"RedisStore({self._shown!r})"

    @property
    def description(self) -> str:
        return f"the Redis store {self._shown} (shared by every machine that names it)"

    def _run(self, what: Callable[[], Any]) -> Any:
        try:
            return what()
        except self._errors as exc:
            raise PacingStoreError(
                f"The pacing store {self._shown} failed: {type(exc).__name__}: {exc}"
            ) from None

    def next_slot(self, key: str, interval: float) -> float:
        keys = [_PREFIX + key, f"{_PREFIX}{key}:at"]
        raw = self._run(lambda: self._gcra(keys=keys, args=[repr(interval), _TTL_S]))
        return max(0.0, float(raw))

    def reserve(self, key: str, count: int, limit: int) -> bool:
        done = self._run(lambda: self._reserve(keys=[_PREFIX + key], args=[count, limit, _TTL_S]))
        return bool(int(done))

    def release(self, key: str, count: int) -> None:
        self._run(lambda: self._release(keys=[_PREFIX + key], args=[count, _TTL_S]))

    def add(self, key: str, amount: int) -> int:
        def increment() -> Any:
            pipe = self._client.pipeline()
            pipe.incrby(_PREFIX + key, amount)
            pipe.expire(_PREFIX + key, _TTL_S)
            return pipe.execute()[0]

        return int(self._run(increment))

    def get(self, key: str) -> int:
        raw = self._run(lambda: self._client.get(_PREFIX + key))
        return 0 if raw is None else int(float(raw))

    def check(self) -> None:
        try:
            self._client.ping()
        except self._errors as exc:
            raise UsageError(
                f"The pacing store {self._shown} does not answer ({type(exc).__name__}: {exc}); "
                "start it, or leave --pacing-store out to pace on this machine only."
            ) from None


# --- choosing a store and a schedule -----------------------------------------------------------


def pacing_dir() -> Path:
    """The folder of the file store."""
    configured = os.environ.get(PACING_DIR_ENV)
    return Path(configured) if configured else Path(tempfile.gettempdir()) / "acscontract-pacing"


def pacing_store(url: str | None = None) -> PacingStore:
    """The store `url` names (`redis://HOST:PORT/DB`), else the file store of this machine.

    UsageError, with one clear line, for any other kind of URL.
    """
    if not url:
        return FileStore(pacing_dir(), shared=not os.environ.get(PACING_DIR_ENV))
    check_pacing_url(url)
    return RedisStore(url)


def check_pacing_url(url: str) -> None:
    """UsageError, with one clear line, unless `url` is a Redis URL a pacing store can use."""
    if urlsplit(url).scheme.lower() not in ("redis", "rediss", "unix"):
        raise UsageError(
            f"--pacing-store {shorten(_without_password(url))!r} is not a Redis URL; give "
            "redis://HOST:PORT/DB (or rediss:// for TLS), or leave it out for the file lock store."
        )


def pacing_budget(flow: FlowControl, share: float = PACING_SHARE) -> int:
    """Calls a paced endpoint may get in any window of the spec's limit: `share` of the limit."""
    if flow.limit is None:
        raise LookupError(
            "The spec gives this operation no flow-control limit, so acscontract cannot pace it; "
            "add x-flowControl.limit to the spec."
        )
    return max(1, math.floor(flow.limit * share))


def pacing_interval(flow: FlowControl, share: float = PACING_SHARE) -> float:
    """The spacing of a paced schedule: any window of `flow.per_seconds` holds at most
    `pacing_budget` slots even when a request leaves up to one interval late."""
    budget = pacing_budget(flow, share)
    return flow.per_seconds / max(1, budget - 1)


def schedule_key(endpoint: str, account: str | None = None) -> str:
    """The schedule of one endpoint and account. Without a known account, every account at the
    endpoint shares one schedule, which is the safe side of the per-account limit."""
    base = endpoint.rstrip("/").lower()
    return "pace:" + hashlib.sha256(f"{base}|{account or '*'}".encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class SharedPacer:
    """Spaces requests `interval` seconds apart across every process that shares the store."""

    store: PacingStore
    key: str
    interval: float
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def wait(self) -> float:
        delay = self.store.next_slot(self.key, self.interval)
        if delay > 0:
            self.sleep(delay)
        return delay


def pacer_for(
    endpoint: str,
    flow: FlowControl,
    *,
    store: PacingStore | None = None,
    account: str | None = None,
    share: float = PACING_SHARE,
) -> SharedPacer:
    """The shared pacer of one endpoint and account: `share` of the spec's limit.

    The limit is per account and every key of an account shares it, so the schedule is keyed by
    the endpoint and the account (when known), whatever credentials a request uses.
    """
    return SharedPacer(
        store if store is not None else pacing_store(None),
        schedule_key(endpoint, account),
        pacing_interval(flow, share),
    )
