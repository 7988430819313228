"""ARCHITECTURE.md matches the imports: its layer table and rules, checked on every module.

The imports are read with `ast` from the source, including those inside functions and under
`TYPE_CHECKING`, so a lazy import cannot hide a dependency.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "acscontract"
ARCHITECTURE = ROOT / "ARCHITECTURE.md"
SHARED = frozenset({"errors", "_text", "_loopback", "_resources", "_files", "_signals"})
TEST_TOOLS = frozenset({"pytest", "_pytest", "hypothesis", "schemathesis"})


@dataclass(frozen=True)
class Import:
    """One import statement's target, as written in one module."""

    module: str  # the importing module, e.g. acscontract.cli._spec
    target: str  # the imported module, e.g. acscontract.spec
    names: tuple[str, ...]  # the names taken from it (`from target import names`), or ()
    at_import: bool  # runs when the module is imported (not in a function, not TYPE_CHECKING)
    line: int

    def __str__(self) -> str:
        what = f"from {self.target} import {', '.join(self.names)}" if self.names else self.target
        return f"{self.module}:{self.line}: {what}"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    return "TYPE_CHECKING" in ast.unparse(node.test)


def _walk(node: ast.AST, at_import: bool) -> Iterator[tuple[ast.AST, bool]]:
    for child in ast.iter_child_nodes(node):
        yield child, at_import
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            yield from _walk(child, False)
        elif isinstance(child, ast.If) and _is_type_checking(child):
            for stmt in child.body:
                yield stmt, False
                yield from _walk(stmt, False)
            for stmt in child.orelse:
                yield stmt, at_import
                yield from _walk(stmt, at_import)
        else:
            yield from _walk(child, at_import)


@cache
def imports() -> tuple[Import, ...]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node, at_import in _walk(ast.parse(path.read_text(encoding="utf-8")), True):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    found.append(Import(module, alias.name, (), at_import, node.lineno))
            elif isinstance(node, ast.ImportFrom):
                target = node.module or ""
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join([*base, *([target] if target else [])])
                names = tuple(alias.name for alias in node.names)
                found.append(Import(module, target, names, at_import, node.lineno))
    return tuple(found)


def layer_of(module: str) -> str:
    """`spec`, `emulator`, ..., `shared` for the root's shared modules, `acscontract` for the
    root package itself."""
    parts = module.split(".")
    if len(parts) == 1:
        return "acscontract"
    return "shared" if parts[1] in SHARED else parts[1]


def subpackage(name: str) -> bool:
    return (PACKAGE / name / "__init__.py").is_file() or (PACKAGE / f"{name}.py").is_file()


def targets(imp: Import) -> list[str]:
    """The acscontract modules an import reaches (`from acscontract import spec` reaches
    `acscontract.spec`)."""
    if imp.target == "acscontract" and imp.names:
        return [f"acscontract.{n}" if subpackage(n) else "acscontract" for n in imp.names]
    return [imp.target] if imp.target.split(".")[0] == "acscontract" else []


@cache
def layer_table() -> dict[str, frozenset[str] | None]:
    """ARCHITECTURE.md's table: package -> the packages it may import (None: everything)."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    section = text.split("## Layers and who may import whom", 1)[1].split("\n## ", 1)[0]
    table: dict[str, frozenset[str] | None] = {}
    for row in re.findall(r"^\| `([^`]+)`[^|]*\| ([^|]+) \|$", section, re.MULTILINE):
        name, allowed = row
        if allowed.strip() == "everything":
            table[name] = None
        else:
            table[name] = frozenset(re.findall(r"`([^`]+)`", allowed.split("(")[0]))
    return table


def test_the_table_is_read_and_names_every_package():
    table = layer_table()
    assert {"spec", "signing", "client", "ram", "emulator", "probe", "contracts", "cli"} <= set(
        table
    )
    layers = {layer_of(i.module) for i in imports()} - {"shared"}
    assert layers <= set(table), f"packages missing from ARCHITECTURE.md: {layers - set(table)}"


def test_every_import_goes_the_way_the_table_allows():
    table = layer_table()
    wrong = []
    for imp in imports():
        source = layer_of(imp.module)
        for target in targets(imp):
            dest = layer_of(target)
            if dest in (source, "shared"):
                continue
            allowed = table.get(source, frozenset())
            if allowed is not None and dest not in allowed:
                wrong.append(f"{imp} ({source} may not import {dest})")
    assert not wrong, "\n".join(wrong)


def test_the_shared_modules_import_only_each_other():
    wrong = [
        str(imp)
        for imp in imports()
        if layer_of(imp.module) == "shared"
        for target in targets(imp)
        if layer_of(target) != "shared"
    ]
    assert not wrong, "\n".join(wrong)


def test_nothing_imports_the_cli_and_nothing_loads_the_pytest_plugin_with_itself():
    plugin = "acscontract.contracts.plugin"
    wrong = []
    for imp in imports():
        for target in targets(imp):
            if layer_of(target) == "cli" and layer_of(imp.module) not in ("cli", "__main__"):
                wrong.append(str(imp))
            named = target == plugin or (
                target == "acscontract.contracts" and "plugin" in imp.names
            )
            if named and imp.at_import:
                wrong.append(f"{imp} (loads the pytest plugin, and pytest, on import)")
    assert not wrong, "\n".join(wrong)


def _exported(module: str) -> set[str] | None:
    """The literal `__all__` of an acscontract module or package, or None if it has none."""
    relative = Path(*module.split(".")[1:])
    path = PACKAGE / relative / "__init__.py"
    if not path.is_file():
        path = PACKAGE / relative.with_suffix(".py")
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        if isinstance(target, ast.Name) and target.id == "__all__" and node.value is not None:  # type: ignore[attr-defined]
            return set(ast.literal_eval(node.value))  # type: ignore[attr-defined]
    return None


def cli_private_imports(found: tuple[Import, ...]) -> list[str]:
    wrong = []
    for imp in found:
        if layer_of(imp.module) != "cli":
            continue
        for target in targets(imp):
            dest = layer_of(target)
            if dest in ("cli", "shared"):
                continue
            if any(part.startswith("_") for part in target.split(".")[1:]):
                wrong.append(f"{imp} (a private module)")
                continue
            exported = _exported(target)
            for name in imp.names if imp.target == target else ():
                submodule = subpackage("/".join([*target.split(".")[1:], name]))
                if name.startswith("_") or (
                    exported is not None and name not in exported and not submodule
                ):
                    wrong.append(f"{imp} ({name} is not in {target}.__all__)")
    return wrong


def test_the_cli_imports_other_packages_by_their_public_names_only():
    wrong = cli_private_imports(imports())
    assert not wrong, "\n".join(wrong)


def test_the_cli_check_catches_a_private_import():
    fake = Import("acscontract.cli._spec", "acscontract.spec._importer", ("x",), False, 1)
    hidden = Import("acscontract.cli._ram", "acscontract.ram", ("_lazy_name",), False, 2)
    assert cli_private_imports((fake, hidden)) == [
        f"{fake} (a private module)",
        f"{hidden} (_lazy_name is not in acscontract.ram.__all__)",
    ]


def test_only_the_in_process_transport_of_the_emulator_imports_the_client():
    wrong = [
        str(imp)
        for imp in imports()
        if layer_of(imp.module) == "emulator"
        and imp.module != "acscontract.emulator._transport"
        and any(layer_of(t) == "client" for t in targets(imp))
    ]
    eager = [
        str(imp)
        for imp in imports()
        if imp.module.startswith("acscontract.emulator")
        and imp.at_import
        and ("acscontract.emulator._transport" in targets(imp) or "_transport" in imp.names)
    ]
    assert not wrong, "\n".join(wrong)
    assert not eager, "the emulator loads its transport (and requests) eagerly:\n" + "\n".join(
        eager
    )


def test_only_the_contracts_import_the_test_tools():
    wrong = [
        str(imp)
        for imp in imports()
        if imp.target.split(".")[0] in TEST_TOOLS and layer_of(imp.module) != "contracts"
    ]
    assert not wrong, "\n".join(wrong)


def _base_modules() -> set[str]:
    """The top-level import names of the base install's dependencies (pyproject.toml)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = {re.split(r"[<>=!~;\[ ]", d, maxsplit=1)[0].lower() for d in project["dependencies"]}
    return {
        module
        for module, dists in packages_distributions().items()
        if any(d.lower() in wanted for d in dists)
    }


@pytest.mark.parametrize("layer", ["spec", "signing", "ram", "shared"])
def test_the_base_packages_load_only_the_base_install(layer):
    allowed = _base_modules() | set(sys.stdlib_module_names) | {"acscontract", "__future__"}
    assert {"yaml", "jsonschema", "referencing", "click"} <= allowed
    wrong = [
        str(imp)
        for imp in imports()
        if layer_of(imp.module) == layer
        and imp.at_import
        and imp.target.split(".")[0] not in allowed
    ]
    assert not wrong, "\n".join(wrong)
