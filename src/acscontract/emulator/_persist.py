"""Durable emulator state: the live SQLite store, and JSON snapshot files for export and import.

`StateDatabase` is what `acscontract emulator serve --state-file` keeps its state in: an SQLite
database (the standard library's sqlite3) in WAL mode. The emulator writes the changes of each
call in one transaction before the call's answer is sent (`Emulator.attach`), so an answer the
client received is never lost, whether the server is stopped, killed or crashes.

The schema is generic, one JSON value per thing of the world, so new kinds of resources need no
new tables:

    meta   (name)                     -> JSON  format, seed, seed source, clock, gateway offset
    record (kind, key)                -> JSON  streams, accounts, tasks, recordings, faults, ...
    nonce  (until, access_key, nonce)          the gateway's replay memory, ordered by expiry
    change (seq)                      -> JSON  batches committed since the last fold

A call commits one `change` row (its records, meta entries and nonces): one page, whatever it
touched. Every few hundred calls, and when the database is opened or closed, the rows are
folded into the other tables in one transaction. The nonce table is keyed by expiry first, so
new nonces go to the end of its B-tree and expired ones are cut from its start. The emulator
keeps the nonces it checks in memory; the tables are only read back at start-up.

`StateFile` is a JSON snapshot in one file, written atomically; JSON snapshots
(`Emulator.snapshot()`, `GET /_emulator/snapshot`) stay the export and import format.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import sqlite3
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple, Protocol, runtime_checkable

from acscontract.emulator._core import StateStoreError
from acscontract.emulator._state import ChangeBatch, Record, StoredState, store_json
from acscontract.errors import InputError

__all__ = ["StateDatabase", "StateFile", "StateStore"]

_log = logging.getLogger("acscontract.emulator")

STORE_FORMAT = "acscontract-emulator-store/1"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_FORMAT = "format"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    # `seq` keeps the world's order (a list answers oldest first): a record keeps its place when
    # it changes and goes to the end when it is created (again).
    "CREATE TABLE IF NOT EXISTS record (kind TEXT NOT NULL, key TEXT NOT NULL, "
    "value TEXT NOT NULL, seq INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (kind, key)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS nonce (until REAL NOT NULL, access_key TEXT NOT NULL, "
    "nonce TEXT NOT NULL, PRIMARY KEY (until, access_key, nonce)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS change (seq INTEGER PRIMARY KEY, batch TEXT NOT NULL)",
)
_UPSERT_RECORD = (
    "INSERT INTO record (kind, key, value, seq) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value"
)
_DELETE_RECORD = "DELETE FROM record WHERE kind = ? AND key = ?"
_UPSERT_META = "INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)"
_ADD_NONCE = "INSERT OR IGNORE INTO nonce (until, access_key, nonce) VALUES (?, ?, ?)"
# A WAL of up to this many pages before SQLite folds it into the database (4 KiB each).
_WAL_PAGES = 1000
# Records are plain trees of JSON values, so the encoder need not look for cycles.
_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, check_circular=False
)
# `JSONEncoder.encode` builds the C encoder anew on every call; every change a served emulator
# acknowledges is encoded, so the same C encoder (same options) is built once and reused.
_MAKE_C_ENCODER: Any = getattr(json.encoder, "c_make_encoder", None)  # None without _json
_C_ENCODE: Any = (
    None
    if _MAKE_C_ENCODER is None
    else _MAKE_C_ENCODER(
        None,
        _ENCODER.default,
        json.encoder.encode_basestring,
        None,
        _ENCODER.key_separator,
        _ENCODER.item_separator,
        _ENCODER.sort_keys,
        _ENCODER.skipkeys,
        _ENCODER.allow_nan,
    )
)


def _dumps(value: Any) -> str:
    """`value` as compact JSON text (non-ASCII kept; NaN and infinities refused)."""
    if _C_ENCODE is None or value.__class__ is str:
        return _ENCODER.encode(value)
    return "".join(_C_ENCODE(value, 0))


# Record kinds and keys recur from one change to the next: their encoding is remembered.
_dumps_name = functools.lru_cache(maxsize=4096)(store_json)


def _check_folder(path: Path) -> None:
    """The state file's folder exists (or is created, 0700) and is a folder; else InputError."""
    folder = path.parent
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            str(path),
            f"the state file's folder {str(folder)!r} cannot be created ({exc.strerror or exc}); "
            "pick a --state-file in a folder you can write.",
        ) from None
    if not folder.is_dir():
        raise InputError(str(path), f"{str(folder)!r} is not a folder; pick another --state-file.")


def _refuse_foreign_file(path: Path) -> None:
    """InputError if `path` exists and holds something other than an SQLite database."""
    try:
        with path.open("rb") as handle:
            head = handle.read(len(_SQLITE_MAGIC))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise InputError(
            str(path), f"the state file cannot be read ({exc.strerror or exc})."
        ) from None
    if not head or head == _SQLITE_MAGIC:
        return
    if head.lstrip()[:1] == b"{":
        raise InputError(
            str(path),
            "this is a JSON snapshot; the state file is now an SQLite database. Start the "
            "server with a new --state-file and import the snapshot with "
            "POST /_emulator/snapshot.",
        )
    raise InputError(
        str(path),
        "this is not an emulator state database; pick a new --state-file (or delete this one).",
    )


class StateDatabase:
    """The live store: an SQLite database in WAL mode, one transaction per emulator change.

    Opening it checks everything a server needs at start-up: the folder exists (it is created
    when missing) and is writable, the file is an emulator database (or new), and no other
    process has it open. Every problem is an InputError naming the file. The database, its WAL
    and the folder created for it are readable by the owner only: they hold the seed's secrets.

    A write commits one row to the `change` log: all the records, meta entries and nonces of
    one batch, in one page. Every `fold_every` writes (and when the database is opened or
    closed) the log is folded into the `record`, `meta` and `nonce` tables in one transaction.
    A record touched by many calls is then written once, and a call costs one page, not one
    page per record it touched.

    `synchronous` is SQLite's: `NORMAL` (the default) keeps every committed change when the
    process is stopped or killed; `FULL` also when the machine loses power, at the cost of one
    fsync per change.
    """

    def __init__(
        self, path: str | Path, *, synchronous: str = "NORMAL", fold_every: int = 4096
    ) -> None:
        if synchronous.upper() not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be NORMAL or FULL, not {synchronous!r}.")
        if fold_every < 1:
            raise ValueError(f"fold_every must be 1 or more, not {fold_every!r}.")
        self.path = Path(path)
        self.fold_every = fold_every
        self._lock = threading.Lock()
        self._unfolded = _Unfolded()
        self._seq = 0  # the last place taken in the world's order (read from the file)
        _check_folder(self.path)
        _refuse_foreign_file(self.path)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            os.close(fd)
            os.chmod(self.path, 0o600)
        except OSError as exc:
            raise InputError(
                str(self.path),
                f"the state file cannot be created or opened ({exc.strerror or exc}); pick a "
                "--state-file in a folder you can write.",
            ) from None
        try:
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=0.0
            )
        except sqlite3.Error as exc:
            raise InputError(str(self.path), f"the state file cannot be opened ({exc}).") from None
        try:
            self._prepare(synchronous.upper())
            self._recover_log()
        except sqlite3.Error as exc:
            self._db.close()
            raise InputError(str(self.path), self._open_problem(exc)) from None
        except (ValueError, TypeError) as exc:
            self._db.close()
            raise InputError(
                str(self.path),
                f"the state file is damaged ({type(exc).__name__}); pick a new --state-file.",
            ) from None

    def _open_problem(self, exc: sqlite3.Error) -> str:
        text = str(exc)
        if "locked" in text or "busy" in text:
            return "another process (another emulator?) has this state file open; stop it first."
        if "not a database" in text or "malformed" in text:
            return "the state file is damaged or is not an emulator database; pick a new one."
        return f"the state file cannot be used ({text}); pick a --state-file you can write."

    def _prepare(self, synchronous: str) -> None:
        db = self._db
        # Exclusive: one server per file, and no shared-memory file beside it.
        db.execute("PRAGMA locking_mode = EXCLUSIVE")
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()
        if mode is None or str(mode[0]).lower() != "wal":
            raise sqlite3.OperationalError("the database refuses WAL mode")
        db.execute(f"PRAGMA synchronous = {synchronous}")
        db.execute(f"PRAGMA wal_autocheckpoint = {_WAL_PAGES}")
        db.execute("BEGIN IMMEDIATE")  # takes the lock now, so a second server fails at once
        try:
            for statement in _SCHEMA:
                db.execute(statement)
            columns = {row[1] for row in db.execute("PRAGMA table_info(record)")}
            if "seq" not in columns:  # a file from before the order was kept: key order
                db.execute("ALTER TABLE record ADD COLUMN seq INTEGER NOT NULL DEFAULT 0")
            found = db.execute("SELECT COALESCE(MAX(seq), 0) FROM record").fetchone()
            self._seq = int(found[0]) if found else 0
            row = db.execute("SELECT value FROM meta WHERE name = ?", (_FORMAT,)).fetchone()
            if row is None:
                db.execute(_UPSERT_META, (_FORMAT, _dumps(STORE_FORMAT)))
            elif json.loads(row[0]) != STORE_FORMAT:
                raise sqlite3.DatabaseError(
                    f"not a database in format {STORE_FORMAT!r} (it says {json.loads(row[0])!r})"
                )
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise

    def _recover_log(self) -> None:
        """Fold what the change log holds (writes since the last fold, e.g. before a crash)."""
        for (text,) in self._db.execute("SELECT batch FROM change ORDER BY seq").fetchall():
            self._unfolded.add_row(_Unfolded.parse_row(text))
        if self._unfolded:
            self._fold()

    def __repr__(self) -> str:
        return f"StateDatabase({str(self.path)!r})"

    def load(self) -> StoredState | None:
        """What the database holds; None while it holds no state yet."""
        with self._lock:
            try:
                if self._unfolded:
                    self._fold()
                meta_rows = self._db.execute("SELECT name, value FROM meta").fetchall()
                records = self._db.execute(
                    "SELECT kind, key, value FROM record ORDER BY kind, seq, key"
                ).fetchall()
                nonces = self._db.execute("SELECT access_key, nonce, until FROM nonce").fetchall()
            except sqlite3.Error as exc:
                raise InputError(str(self.path), self._open_problem(exc)) from None
        try:
            meta = {name: json.loads(value) for name, value in meta_rows}
            if "seed" not in meta:
                return None
            return StoredState(
                meta=meta,
                records=tuple(Record(k, key, json.loads(v)) for k, key, v in records),
                nonces=tuple((str(a), str(n), float(u)) for a, n, u in nonces),
            )
        except (ValueError, TypeError) as exc:
            raise InputError(
                str(self.path),
                f"the state file is damaged ({type(exc).__name__}); pick a new --state-file.",
            ) from None

    def write(self, batch: ChangeBatch) -> None:
        """Apply one batch in one transaction; StateStoreError (nothing written) if it fails."""
        with self._lock:
            if batch.replace:
                self._replace(batch)
                return
            text, row = _Unfolded.row(batch)
            db = self._db
            try:
                # One statement in autocommit mode is one transaction (the exclusive lock is
                # held since the file was opened): no BEGIN and COMMIT round trips.
                db.execute("INSERT INTO change (batch) VALUES (?)", (text,))
            except sqlite3.Error as exc:  # a failed statement leaves nothing behind
                raise StateStoreError(
                    f"{self.path}: the change could not be written ({exc}); it was not applied."
                ) from None
            self._unfolded.add_row(row)
            if self._unfolded.rows >= self.fold_every:
                try:
                    self._fold()
                except sqlite3.Error:  # the change is safe in the log; fold again later
                    _log.warning("The emulator state log could not be folded yet.", exc_info=True)

    def _replace(self, batch: ChangeBatch) -> None:
        """The whole state, replacing everything stored (log included). Caller holds the lock."""
        upserts = [
            (r.kind, r.key, _dumps(r.value), seq)
            for seq, r in enumerate((r for r in batch.records if r.value is not None), start=1)
        ]
        meta = [(name, _dumps(value)) for name, value in batch.meta.items()]
        nonces = [(until, key, nonce) for key, nonce, until in batch.nonces]
        db = self._db
        try:
            db.execute("BEGIN")
            db.execute("DELETE FROM record")
            db.execute("DELETE FROM nonce")
            db.execute("DELETE FROM change")
            db.execute("DELETE FROM meta WHERE name != ?", (_FORMAT,))
            db.executemany(_UPSERT_RECORD, upserts)
            db.executemany(_UPSERT_META, meta)
            db.executemany(_ADD_NONCE, nonces)
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise StateStoreError(
                f"{self.path}: the state could not be written ({exc}); it was not applied."
            ) from None
        self._unfolded = _Unfolded()
        self._seq = len(upserts)

    def _fold(self) -> None:
        """Move the change log into the tables, in one transaction. Caller holds the lock."""
        unfolded = self._unfolded
        first = self._seq + 1  # new records take the next places, in the order they came
        upserts = [
            (k, key, v, seq)
            for seq, ((k, key), v) in enumerate(
                ((item, v) for item, v in unfolded.records.items() if v is not None), start=first
            )
        ]
        deletes = [(k, key) for (k, key), v in unfolded.records.items() if v is None]
        meta = [(name, _dumps(value)) for name, value in unfolded.meta.items()]
        db = self._db
        try:
            db.execute("BEGIN")
            # A record deleted and created again since the last fold goes to the end.
            db.executemany(_DELETE_RECORD, sorted(unfolded.reborn))
            db.executemany(_UPSERT_RECORD, upserts)
            db.executemany(_DELETE_RECORD, deletes)
            db.executemany(_UPSERT_META, meta)
            db.executemany(_ADD_NONCE, sorted(unfolded.nonces))
            if unfolded.expired_at is not None:
                db.execute("DELETE FROM nonce WHERE until <= ?", (unfolded.expired_at,))
            db.execute("DELETE FROM change")
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise
        self._seq += len(upserts)
        self._unfolded = _Unfolded()

    def close(self) -> None:
        """Fold the log, fold the WAL into the database and close it (the WAL file goes)."""
        with self._lock:
            with contextlib.suppress(sqlite3.Error):
                if self._unfolded:
                    self._fold()
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.close()

    def __enter__(self) -> StateDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Unfolded:
    """The change log's rows since the last fold, merged: the latest value of each record, kept
    as the JSON text the row carried (each value is encoded once, when its change is logged)."""

    __slots__ = ("expired_at", "meta", "nonces", "reborn", "records", "rows")

    def __init__(self) -> None:
        # In the order the records first changed; one deleted and created again moves to the end.
        self.records: dict[tuple[str, str], str | None] = {}
        self.reborn: set[tuple[str, str]] = set()
        self.meta: dict[str, Any] = {}
        self.nonces: list[tuple[float, str, str]] = []
        self.expired_at: float | None = None
        self.rows = 0

    def __bool__(self) -> bool:
        return self.rows > 0

    @staticmethod
    def row(batch: ChangeBatch) -> tuple[str, _Row]:
        """A batch as one change-log row: its JSON text, and the row with encoded values.

        The text is `{"r": [[kind, key, value], ...], "m": ..., "n": ..., "x": ...}`, built
        from each value's own encoding so that folding reuses it.
        """
        records = [
            (r.kind, r.key, None if r.value is None else store_json(r.value)) for r in batch.records
        ]
        parts = [
            '{"r":['
            + ",".join(
                f"[{_dumps_name(kind)},{_dumps_name(key)},{'null' if value is None else value}]"
                for kind, key, value in records
            )
            + "]"
        ]
        if batch.meta:
            parts.append(f'"m":{_dumps(dict(batch.meta))}')
        nonces = [(until, key, nonce) for key, nonce, until in batch.nonces]
        if nonces:
            parts.append(f'"n":{store_json(nonces)}')
        if batch.nonces_expired_at is not None:
            parts.append(f'"x":{_dumps(batch.nonces_expired_at)}')
        row = _Row(records, dict(batch.meta), nonces, batch.nonces_expired_at)
        return ",".join(parts) + "}", row

    @staticmethod
    def parse_row(text: str) -> _Row:
        """A change-log row read back (after a crash): the row with its values encoded again."""
        data = json.loads(text)
        return _Row(
            [
                (str(kind), str(key), None if value is None else _dumps(value))
                for kind, key, value in data["r"]
            ],
            dict(data.get("m", {})),
            [(float(u), str(k), str(n)) for u, k, n in data.get("n", ())],
            None if data.get("x") is None else float(data["x"]),
        )

    def add_row(self, row: _Row) -> None:
        records = self.records
        for kind, key, value in row.records:
            item = (kind, key)
            if value is not None and item in records and records[item] is None:
                del records[item]  # created again: to the end, as in the world
                self.reborn.add(item)
            records[item] = value
        self.meta.update(row.meta)
        self.nonces.extend(row.nonces)
        if row.expired_at is not None:
            self.expired_at = max(row.expired_at, self.expired_at or float("-inf"))
        self.rows += 1


class _Row(NamedTuple):
    """One change-log row: records as (kind, key, JSON text or None), meta, nonces as (until,
    access key, nonce), and the time before which nonces expired (or None)."""

    records: list[tuple[str, str, str | None]]
    meta: dict[str, Any]
    nonces: list[tuple[float, str, str]]
    expired_at: float | None


@runtime_checkable
class StateStore(Protocol):
    """Where an emulator's JSON snapshot lives between runs (export and import)."""

    def load(self) -> Mapping[str, Any] | None:
        """The stored snapshot, or None when nothing is stored yet."""
        ...

    def save(self, snapshot: Mapping[str, Any]) -> None:
        """Store `snapshot`, replacing what was there."""
        ...


class StateFile:
    """A JSON snapshot in one file, replaced atomically on every save (mode 0600).

    A save writes a temporary file beside the target, then renames it over the target, so a
    crash mid-write leaves the previous snapshot intact; a temporary file left by such a crash
    is removed by the next save.
    """

    __slots__ = ("path",)

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"StateFile({str(self.path)!r})"

    @property
    def _temp_prefix(self) -> str:
        return f".{self.path.name}."

    def load(self) -> Mapping[str, Any] | None:
        try:
            text = self.path.read_text("utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(
                str(self.path), f"the snapshot file cannot be read ({type(exc).__name__})."
            ) from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{self.path}:{exc.lineno}:{exc.colno}",
                f"the snapshot file is not valid JSON ({exc.msg}).",
            ) from None
        if not isinstance(data, dict):
            raise InputError(str(self.path), "the snapshot file does not hold a JSON object.")
        return data

    def save(self, snapshot: Mapping[str, Any]) -> None:
        folder = self.path.parent
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._remove_stale_temporaries()
        fd, temp = tempfile.mkstemp(prefix=self._temp_prefix, suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(snapshot, handle, indent=1, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp, 0o600)  # mkstemp's default, said again: the snapshot holds secrets
            os.replace(temp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise

    def _remove_stale_temporaries(self) -> None:
        for stale in self.path.parent.glob(f"{self._temp_prefix}*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()
