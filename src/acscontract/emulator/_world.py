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
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from acscontract.spec import Match, Product, Resource

__all__ = ["Change", "RecordKey", "World", "resolve_match"]

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
    fallback = defaults or {}
    resolved: dict[str, tuple[Any, ...]] = {}
    for name, options in match.items():
        out = []
        for option in options:
            if isinstance(option, str) and option.startswith("$"):
                ref = option[1:]
                out.append(values.get(ref, fallback.get(ref, "")))
            else:
                out.append(option)
        resolved[name] = tuple(out)
    return resolved


def _matches(record: Mapping[str, Any], resolved: Mapping[str, tuple[Any, ...]]) -> bool:
    return all(record.get(name, "") in options for name, options in resolved.items())


@dataclass(slots=True)
class _Collection:
    resource: Resource
    records: dict[tuple[str, RecordKey], dict[str, Any]] = field(default_factory=dict)


class World:
    """The resources of every account, keyed by resource kind, account and identifiers."""

    __slots__ = ("_collections", "_journal", "product")

    def __init__(self, product: Product) -> None:
        self.product = product
        self._collections = {
            name: _Collection(resource) for name, resource in product.resources.items()
        }
        self._journal: list[Change] = []

    def __repr__(self) -> str:
        sizes = ", ".join(f"{n}={len(c.records)}" for n, c in self._collections.items())
        return f"World({sizes})"

    # -- reading ---------------------------------------------------------------------------

    def resource(self, name: str) -> Resource:
        """The resource model called `name`."""
        return self._collection(name).resource

    def key_of(self, resource: str, record: Mapping[str, Any]) -> RecordKey:
        """The identifier values of a record of `resource`."""
        identifiers = self._collection(resource).resource.identifiers
        return tuple(str(record.get(name, "")) for name in identifiers)

    def get(self, resource: str, account: str, key: RecordKey) -> dict[str, Any] | None:
        """A copy of one record, or None."""
        found = self._collection(resource).records.get((account, key))
        return None if found is None else copy.deepcopy(found)

    def find(
        self,
        resource: str,
        account: str,
        match: Mapping[str, tuple[Any, ...]] | None = None,
    ) -> list[dict[str, Any]]:
        """Copies of the account's records of `resource` that match (a resolved match)."""
        return [
            copy.deepcopy(record)
            for (owner, _), record in self._collection(resource).records.items()
            if owner == account and (not match or _matches(record, match))
        ]

    def records(self, resource: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """(account, copy of the record) for every record of `resource`, oldest first."""
        for (owner, _), record in list(self._collection(resource).records.items()):
            yield owner, copy.deepcopy(record)

    def owner_of(self, resource: str, key: RecordKey) -> str | None:
        """The account that owns a record with this key, or None."""
        for owner, found in self._collection(resource).records:
            if found == key:
                return owner
        return None

    # -- changing --------------------------------------------------------------------------

    def put(self, resource: str, account: str, record: Mapping[str, Any]) -> RecordKey:
        """Create or replace a record (its key from its identifiers); returns the key."""
        stored = copy.deepcopy(dict(record))
        key = self.key_of(resource, stored)
        self._collection(resource).records[(account, key)] = stored
        self._journal.append(Change(resource, account, key, stored))
        return key

    def delete(self, resource: str, account: str, key: RecordKey) -> bool:
        """Remove a record; False when there was none."""
        removed = self._collection(resource).records.pop((account, key), None)
        if removed is None:
            return False
        self._journal.append(Change(resource, account, key, None))
        return True

    def take_changes(self) -> list[Change]:
        """The changes since the last call, oldest first (and forget them)."""
        changes, self._journal = self._journal, []
        return changes

    # -- snapshots -------------------------------------------------------------------------

    def to_json(self) -> dict[str, list[dict[str, Any]]]:
        """Every record, as `{resource: [{"account": ..., "record": {...}}, ...]}`."""
        return {
            name: [
                {"account": owner, "record": copy.deepcopy(record)}
                for (owner, _), record in collection.records.items()
            ]
            for name, collection in self._collections.items()
            if collection.records
        }

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
                self.put(name, account, record)
        self._journal.clear()

    def _collection(self, name: str) -> _Collection:
        try:
            return self._collections[name]
        except KeyError:
            raise KeyError(
                f"The product {self.product.name} declares no resource {name!r}."
            ) from None
