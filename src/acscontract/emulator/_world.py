"""The emulator's world: every resource of every account, as plain records.

A record is a dict of a resource's fields (its identifiers and properties, with typed values:
times are Unix seconds). Records live per resource kind and per owning account: another
account's records do not exist for a caller. The world knows nothing about operations; the
effect interpreters (`_effects`), the check registry (`_checks`) and the lifecycle read and
change it. It is not thread-safe on its own: the `Emulator` guards it with its lock.

Every change is journaled as (resource, account, key), so a state store can write exactly the
records a request changed before the response is sent.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from acscontract.spec import Match, Product, Resource

__all__ = ["Change", "ExistsPlan", "RecordKey", "World", "resolve_match"]

_MAX_KEYS = 64
"""A match that allows more keys than this is answered by a scan instead of lookups."""

RecordKey = tuple[str, ...]
"""A record's identifier values, in the order its resource declares its identifiers."""


@dataclass(frozen=True, slots=True)
class Change:
    """One record a change touched: written (`record` is its new value) or deleted (None)."""

    resource: str
    account: str
    key: RecordKey
    record: Mapping[str, Any] | None


def resolve_match(
    match: Match, values: Mapping[str, Any], defaults: Mapping[str, Any] | None = None
) -> dict[str, tuple[Any, ...]]:
    """A match with its `$Name` references replaced by `values` (then `defaults`, then "")."""
    resolved: dict[str, tuple[Any, ...]] = {}
    for name, options in match.items():
        out = []
        for option in options:
            if option.__class__ is str and option[:1] == "$":
                ref = option[1:]
                found = values.get(ref)
                if found is None:
                    found = defaults.get(ref, "") if defaults else ""
                out.append(found)
            else:
                out.append(option)
        resolved[name] = tuple(out)
    return resolved


class ExistsPlan:
    """A match of `resource` worked out once: which of its options are `$Name` references, and,
    when it names every identifier with a few options, how to build the keys it allows.

    `resolve` gives what `resolve_match` gives; `keys` gives what `keys_for` gives for the
    resolved match, without looking at the match's shape again (None: look at every record).
    """

    __slots__ = ("_identifiers", "_options", "resource")

    def __init__(self, resource: Resource, match: Mapping[str, Iterable[Any]]) -> None:
        self.resource = resource.name
        self._options = tuple(
            (
                name,
                tuple(
                    (option[1:], None)
                    if option.__class__ is str and option[:1] == "$"
                    else (None, option)
                    for option in options
                ),
            )
            for name, options in match.items()
        )
        counts = {name: len(options) for name, options in self._options}
        if (
            all(counts.get(name) for name in resource.identifiers)
            and math.prod(counts[name] for name in resource.identifiers) <= _MAX_KEYS
        ):
            self._identifiers: tuple[str, ...] | None = tuple(resource.identifiers)
        else:
            self._identifiers = None

    def resolve(
        self, values: Mapping[str, Any], defaults: Mapping[str, Any]
    ) -> dict[str, tuple[Any, ...]]:
        """The match with its references replaced by `values` (then `defaults`, then "")."""
        resolved: dict[str, tuple[Any, ...]] = {}
        get = values.get
        for name, options in self._options:
            out = []
            for ref, literal in options:
                if ref is None:
                    out.append(literal)
                else:
                    found = get(ref)
                    out.append(found if found is not None else defaults.get(ref, ""))
            resolved[name] = tuple(out)
        return resolved

    def keys(self, resolved: Mapping[str, tuple[Any, ...]]) -> list[RecordKey] | None:
        """Every key the resolved match allows, in the order of its alternatives; None when the
        match does not name every identifier with a few options."""
        names = self._identifiers
        if names is None:
            return None
        if len(names) == 3:  # the common shape (domain, app, stream): no product object
            first, second, third = (resolved[name] for name in names)
            return [(str(a), str(b), str(c)) for a in first for b in second for c in third]
        return [tuple(map(str, key)) for key in itertools.product(*(resolved[n] for n in names))]


def _matches(record: Mapping[str, Any], resolved: Mapping[str, tuple[Any, ...]]) -> bool:
    get = record.get
    for name, options in resolved.items():  # noqa: SIM110 - a loop: all(genexpr) costs more
        if get(name, "") not in options:
            return False
    return True


@dataclass(slots=True)
class _Collection:
    resource: Resource
    # account -> key -> record: a caller only ever sees its own account's records.
    accounts: dict[str, dict[RecordKey, dict[str, Any]]] = field(default_factory=dict)
    # key -> the accounts holding a record with it (keys are unique per account, not globally).
    owners: dict[RecordKey, set[str]] = field(default_factory=dict)

    def keys_for(self, match: Mapping[str, tuple[Any, ...]]) -> list[RecordKey] | None:
        """Every key a match allows, in the order of its alternatives (the first identifier's
        first), when it names every identifier with a few values; None otherwise."""
        options: list[tuple[Any, ...]] = []
        count = 1
        for name in self.resource.identifiers:
            values = match.get(name)
            if not values:
                return None
            count *= len(values)
            options.append(values)
        if count > _MAX_KEYS:
            return None
        return [tuple(map(str, key)) for key in itertools.product(*options)]

    def key_if_exact(self, match: Mapping[str, tuple[Any, ...]]) -> RecordKey | None:
        """The one key a match names, when it gives exactly one value for every identifier."""
        key = []
        for name in self.resource.identifiers:
            options = match.get(name)
            if options is None or len(options) != 1:
                return None
            key.append(str(options[0]))
        return tuple(key)


def _copy(record: Mapping[str, Any]) -> dict[str, Any]:
    """A copy a caller may change: the record's dict, and its lists and dicts one level down
    (the effect interpreters replace values, they never edit nested ones in place)."""
    return {
        k: (list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v)
        for k, v in record.items()
    }


class World:
    """The resources of every account, keyed by resource kind, account and identifiers.

    Reads return copies; `scan` and `exists` read in place, for the emulator's own hot paths.
    """

    __slots__ = ("_collections", "_journal", "product")

    def __init__(self, product: Product) -> None:
        self.product = product
        self._collections = {
            name: _Collection(resource) for name, resource in product.resources.items()
        }
        self._journal: list[Change] = []

    def __repr__(self) -> str:
        sizes = ", ".join(
            f"{n}={sum(len(r) for r in c.accounts.values())}" for n, c in self._collections.items()
        )
        return f"World({sizes})"

    # -- reading ---------------------------------------------------------------------------

    def resource(self, name: str) -> Resource:
        """The resource model called `name`."""
        return self._collection(name).resource

    def key_of(self, resource: str, record: Mapping[str, Any]) -> RecordKey:
        """The identifier values of a record of `resource`."""
        identifiers = self._collection(resource).resource.identifiers
        return tuple([str(record.get(name, "")) for name in identifiers])

    def get(self, resource: str, account: str, key: RecordKey) -> dict[str, Any] | None:
        """A copy of one record, or None."""
        found = self._collection(resource).accounts.get(account, {}).get(key)
        return None if found is None else _copy(found)

    def _matching(
        self, resource: str, account: str, match: Mapping[str, tuple[Any, ...]] | None
    ) -> Iterator[dict[str, Any]]:
        collection = self._collection(resource)
        records = collection.accounts.get(account)
        if not records:
            return
        if match:
            key = collection.key_if_exact(match)
            if key is not None:
                found = records.get(key)
                if found is not None and _matches(found, match):
                    yield found
                return
        for record in records.values():
            if not match or _matches(record, match):
                yield record

    def find(
        self,
        resource: str,
        account: str,
        match: Mapping[str, tuple[Any, ...]] | None = None,
    ) -> list[dict[str, Any]]:
        """Copies of the account's records of `resource` that match (a resolved match), oldest
        first."""
        return [_copy(record) for record in self._matching(resource, account, match)]

    def exists(
        self, resource: str, account: str, match: Mapping[str, tuple[Any, ...]] | None = None
    ) -> bool:
        """Whether the account has a record of `resource` that matches."""
        collection = self._collection(resource)
        records = collection.accounts.get(account)
        if not records:
            return False
        if not match:
            return True
        key = collection.key_if_exact(match)
        if key is not None:
            found = records.get(key)
            return found is not None and _matches(found, match)
        keys = collection.keys_for(match)
        if keys is not None:  # a few alternatives of every identifier: look each key up
            for key in keys:
                found = records.get(key)
                if found is not None and _matches(found, match):
                    return True
            return False
        return any(_matches(record, match) for record in records.values())

    def exists_keyed(
        self,
        resource: str,
        account: str,
        keys: Iterable[RecordKey],
        match: Mapping[str, tuple[Any, ...]],
    ) -> bool:
        """Whether the account has a record of `resource` under one of `keys` that matches
        (`keys`: every key the match allows, as `keys_for` gives them; see `ExistsPlan`)."""
        records = self._collection(resource).accounts.get(account)
        if not records:
            return False
        for key in keys:
            found = records.get(key)
            if found is not None and _matches(found, match):
                return True
        return False

    def peek(self, resource: str, account: str, key: RecordKey) -> Mapping[str, Any] | None:
        """One record read in place (do not change it), or None."""
        return self._collection(resource).accounts.get(account, {}).get(key)

    def scan(self, resource: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """(account, record) for every record of `resource`, read in place: do not change them."""
        for account, records in self._collection(resource).accounts.items():
            for record in records.values():
                yield account, record

    def records(self, resource: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """(account, copy of the record) for every record of `resource`, oldest first."""
        for account, record in list(self.scan(resource)):
            yield account, _copy(record)

    def owner_of(self, resource: str, key: RecordKey) -> str | None:
        """The account that owns a record with this key (the first, if several), or None."""
        owners = self._collection(resource).owners.get(key)
        return min(owners) if owners else None

    # -- changing --------------------------------------------------------------------------

    def first(
        self, resource: str, account: str, match: Mapping[str, tuple[Any, ...]] | None = None
    ) -> Mapping[str, Any] | None:
        """The account's first record of `resource` that matches, read in place (do not change
        it), or None.

        When the match names every identifier, "first" follows its alternatives in the spec's
        order (a stream's own configuration before its app's, for `[$StreamName, ""]`);
        otherwise it is the oldest matching record.
        """
        if match:
            collection = self._collection(resource)
            keys = collection.keys_for(match)
            if keys is not None:
                records = collection.accounts.get(account) or {}
                for key in keys:
                    found = records.get(key)
                    if found is not None and _matches(found, match):
                        return found
                return None
        return next(self._matching(resource, account, match), None)

    def put(
        self, resource: str, account: str, record: Mapping[str, Any], *, owned: bool = False
    ) -> RecordKey:
        """Create or replace a record (its key from its identifiers); returns the key.

        The world keeps a copy, unless `owned` says the caller hands over a dict it will not
        touch again (a copy `get` returned, changed).
        """
        stored = record if owned and isinstance(record, dict) else _copy(record)
        key = self.key_of(resource, stored)
        collection = self._collection(resource)
        collection.accounts.setdefault(account, {})[key] = stored
        collection.owners.setdefault(key, set()).add(account)
        self._journal.append(Change(resource, account, key, stored))
        return key

    def delete(self, resource: str, account: str, key: RecordKey) -> bool:
        """Remove a record; False when there was none."""
        collection = self._collection(resource)
        records = collection.accounts.get(account)
        if not records or records.pop(key, None) is None:
            return False
        owners = collection.owners.get(key)
        if owners is not None:
            owners.discard(account)
            if not owners:
                del collection.owners[key]
        self._journal.append(Change(resource, account, key, None))
        return True

    def mark(self) -> int:
        """A position in the journal, for `changes_since`."""
        return len(self._journal)

    def changes_since(self, mark: int) -> list[Change]:
        """The changes journaled after `mark` (a `mark()` taken since the last `take_changes`)."""
        return self._journal[mark:]

    @property
    def has_changes(self) -> bool:
        """Whether records changed since the last `take_changes`."""
        return bool(self._journal)

    def take_changes(self) -> list[Change]:
        """The changes since the last call, oldest first (and forget them)."""
        changes, self._journal = self._journal, []
        return changes

    # -- snapshots -------------------------------------------------------------------------

    def to_json(self) -> dict[str, list[dict[str, Any]]]:
        """Every record, as `{resource: [{"account": ..., "record": {...}}, ...]}`."""
        out: dict[str, list[dict[str, Any]]] = {}
        for name in self._collections:
            entries = [
                {"account": account, "record": copy.deepcopy(dict(record))}
                for account, record in self.scan(name)
            ]
            if entries:
                out[name] = entries
        return out

    def load_json(self, data: Mapping[str, Iterable[Mapping[str, Any]]], source: str) -> None:
        """Add the records `to_json` wrote. ValueError names the first damaged entry."""
        for name, entries in data.items():
            if name not in self._collections:
                raise ValueError(f"{source}: the world has no resource {name!r}")
            for index, entry in enumerate(entries):
                account = entry.get("account") if isinstance(entry, Mapping) else None
                record = entry.get("record") if isinstance(entry, Mapping) else None
                if not isinstance(account, str) or not isinstance(record, Mapping):
                    raise ValueError(f"{source}: {name}[{index}] is not an account and a record")
                self.put(name, account, copy.deepcopy(dict(record)))
        self._journal.clear()

    def _collection(self, name: str) -> _Collection:
        try:
            return self._collections[name]
        except KeyError:
            raise KeyError(
                f"The product {self.product.name} declares no resource {name!r}."
            ) from None
