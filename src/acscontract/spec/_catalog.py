"""The RAM action catalog: what the policy engine knows about each action, derived from the spec.

Entries come from operation specs (`x-ram`); the names of every action of a product come from the
product's official metadata, so the linter can tell a typo from a real action it has no spec for.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from acscontract._resources import bundled_path
from acscontract.spec._terms import ConditionKey, ResourceType

if TYPE_CHECKING:
    from acscontract.spec._model import Operation, Product

__all__ = ["ActionCatalog", "CatalogEntry", "action_catalog", "catalog_for"]


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One action's RAM facts, as the policy engine needs them."""

    action: str
    access_level: str
    writes: bool
    billable: bool
    resource_types: tuple[ResourceType, ...]
    condition_keys: tuple[ConditionKey, ...]
    associated_actions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ActionCatalog:
    """Every catalogued action, every known action name, and the global condition keys."""

    entries: Mapping[str, CatalogEntry]
    known_actions: frozenset[str]
    service_prefixes: frozenset[str]
    global_condition_keys: tuple[ConditionKey, ...]

    def entry(self, action: str) -> CatalogEntry | None:
        """The entry for `action` (matched case-insensitively), or None."""
        return self.entries.get(action.lower())


def _metadata_actions(product: Product) -> frozenset[str]:
    if product.metadata_path is None:
        return frozenset()
    metadata = json.loads(product.metadata_path.read_text(encoding="utf-8"))
    return frozenset(f"{product.ram_action_prefix}:{name}" for name in metadata.get("apis", {}))


def catalog_for(operations: Sequence[Operation]) -> ActionCatalog:
    """Build a catalog from loaded operation specs."""
    entries: dict[str, CatalogEntry] = {}
    known: set[str] = set()
    prefixes: set[str] = set()
    global_keys: dict[str, ConditionKey] = {}
    products: dict[Path, Product] = {}
    for op in operations:
        products[op.product.path] = op.product
        ram = op.ram
        if not ram.known:
            # An imported operation whose RAM facts nobody has documented: its name is a known
            # action (from the metadata), but there is nothing to say about its resources.
            continue
        entries[ram.action.lower()] = CatalogEntry(
            action=ram.action,
            access_level=ram.access_level,
            writes=bool(ram.writes),
            billable=bool(ram.billable),
            resource_types=ram.resource_types,
            condition_keys=ram.condition_keys,
            associated_actions=ram.associated_actions,
        )
        known.add(ram.action)
        for key in op.protocol.global_condition_keys:
            global_keys.setdefault(key.key, key)
    for product in products.values():
        prefixes.add(product.ram_action_prefix)
        known.update(_metadata_actions(product))
    return ActionCatalog(
        entries=entries,
        known_actions=frozenset(known),
        service_prefixes=frozenset(prefixes),
        global_condition_keys=tuple(global_keys.values()),
    )


@functools.cache
def action_catalog() -> ActionCatalog:
    """The catalog of the bundled spec: every operation file under the bundled spec folder.

    Read from the precompiled cache (`acscontract.spec._cache`) when no spec file changed since
    it was built, so that this costs milliseconds, not a load and validation of every file.
    """
    from acscontract.spec._cache import cached

    root = bundled_path("spec")
    return cached("catalog", root, lambda: _build_catalog(root))


def _build_catalog(root: Path) -> ActionCatalog:
    from acscontract.spec._loader import load_operation

    operations = []
    for path in sorted(root.glob("*/*/*.y*ml")):
        if path.stem != "product":
            operations.append(load_operation(path))
    return catalog_for(operations)
