"""The dependency arrows of ARCHITECTURE.md, checked on the source (lazy imports inside functions count).

    ledger → commands → aggregates;  projections → aggregates;  replay → projections, aggregates.

Nothing points back up, product packages never import ``tests`` or ``benchmarks``, and the write
path (``ledger.app`` and its parts) does not read the read models.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("aggregates", "commands", "projections", "replay", "ledger")
ALLOWED: dict[str, set[str]] = {
    "aggregates": {"aggregates"},
    "commands": {"commands", "aggregates"},
    "projections": {"projections", "aggregates"},
    "replay": {"replay", "projections", "aggregates"},
    "ledger": {"ledger", "commands", "aggregates", "projections", "replay"},
}
WRITE_PATH = ("ledger.app", "ledger.unit_of_work", "ledger.library", "ledger.startup")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function, relative imports resolved."""
    found: set[str] = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                found.add(".".join([*base, node.module] if node.module else base))
            elif node.module:
                found.add(node.module)
    return found


def product_modules() -> dict[str, set[str]]:
    return {
        module_name(path): imports_of(path)
        for top in PRODUCT
        for path in sorted((ROOT / top).rglob("*.py"))
    }


GRAPH = product_modules()


def test_the_graph_is_read_from_the_source() -> None:
    assert "ledger.app" in GRAPH and "aggregates.customer" in GRAPH
    assert "commands.registry" in GRAPH["ledger.app"]
    assert imports_of(ROOT / "ledger" / "cli" / "view.py") >= {"ledger.readside"}, "lazy imports are found"


# Support tickets, RMA, Jumpstart and room import (R24-R28) live in the same layers as the rest.
SUPPORT_HOMES = {
    "aggregates.support": {"aggregates"},
    "commands.support_models": {"commands", "aggregates"},
    "commands.support_handlers": {"commands", "aggregates"},
    "commands.registry": {"commands", "aggregates"},
    "projections.tickets": {"projections", "aggregates"},
}


@pytest.mark.parametrize("module", sorted(SUPPORT_HOMES))
def test_the_support_homes_are_in_their_layers(module: str) -> None:
    assert module in GRAPH, f"{module} moved: update ARCHITECTURE.md and this test"
    reached = {i.split(".")[0] for i in GRAPH[module] if i.split(".")[0] in PRODUCT}
    assert reached <= SUPPORT_HOMES[module], f"{module} imports {sorted(reached)}"


@pytest.mark.parametrize("top", PRODUCT)
def test_dependencies_point_one_way(top: str) -> None:
    wrong = {
        (module, imported)
        for module, imported_set in GRAPH.items()
        if module.split(".")[0] == top
        for imported in imported_set
        if imported.split(".")[0] in PRODUCT and imported.split(".")[0] not in ALLOWED[top]
    }
    assert not wrong, f"{top} may import only {sorted(ALLOWED[top])}: {sorted(wrong)}"


def test_no_product_module_imports_the_tests_or_the_benchmarks() -> None:
    wrong = {
        (module, imported)
        for module, imported_set in GRAPH.items()
        for imported in imported_set
        if imported.split(".")[0] in ("tests", "benchmarks")
    }
    assert not wrong, sorted(wrong)


def test_the_write_path_does_not_read_the_read_models() -> None:
    wrong = {
        (module, imported)
        for module in WRITE_PATH
        for imported in GRAPH[module]
        if imported.split(".")[0] in ("projections", "replay") or imported == "ledger.readside"
    }
    assert not wrong, f"ExpireContracts' candidates are injected at bootstrap: {sorted(wrong)}"


STATE_RECORDS = frozenset(
    {"Account", "Contract", "Room", "Device", "Spare", "Invitation", "Rma", "Ticket", "SpareSwap"}
)


def state_records_named(path: Path) -> set[str]:
    """The customer's state records ``path`` imports (from ``aggregates.customer`` or its ``state`` module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module in ("aggregates.customer", "aggregates.customer.state"):
            found.update(alias.name for alias in node.names if alias.name in STATE_RECORDS or alias.name == "*")
        elif isinstance(node, ast.Import) and any(a.name == "aggregates.customer.state" for a in node.names):
            found.add("aggregates.customer.state")
    return found


def test_the_read_models_rebuild_no_domain_object_to_reuse_its_rules() -> None:
    """Issue 10: the queries and projectors call the pure rule functions with row values; they never build
    a stand-in ``Contract``, ``Invitation`` or ``Ticket`` to borrow its methods."""
    wrong = {
        (module_name(path), name)
        for path in sorted((ROOT / "projections").rglob("*.py"))
        for name in state_records_named(path)
    }
    assert not wrong, sorted(wrong)


def test_the_domain_uses_no_infrastructure() -> None:
    infrastructure = ("sqlalchemy", "psycopg", "kafka", "fastapi", "eventsourcing.postgres", "eventsourcing.sqlite",
                      "eventsourcing.persistence", "eventsourcing.application", "requests", "httpx", "sqlite3")
    wrong = {
        (module, imported)
        for module, imported_set in GRAPH.items()
        if module.split(".")[0] == "aggregates"
        for imported in imported_set
        if imported.startswith(infrastructure)
    }
    assert not wrong, sorted(wrong)


def test_test_modules_import_the_kit_never_each_other() -> None:
    wrong = set()
    for path in sorted((ROOT / "tests").rglob("*.py")):
        if "kit" in path.relative_to(ROOT).parts:
            continue
        for imported in imports_of(path):
            if imported.startswith("tests.") and not imported.startswith("tests.kit"):
                wrong.add((module_name(path), imported))
    assert not wrong, sorted(wrong)


def modules_imported(tree: ast.AST, package: str, known: Collection[str]) -> set[str]:
    """The modules of ``known`` that ``tree`` imports anywhere: at the top, inside a function or under
    ``TYPE_CHECKING``. ``from a import b`` is the module ``a.b`` when there is one, else ``a``; a
    name below a module (``a.b.C``) is that module."""

    def module_of(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, node.module] if node.module else parts)
            else:
                base = node.module or ""
            names = [f"{base}.{alias.name}" for alias in node.names]
        found.update(m for m in map(module_of, names) if m is not None)
    return found


def import_cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other, directly or round a loop (Tarjan's strongly
    connected components of more than one module, or a module importing itself), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.get(module, ())):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1 or module in graph.get(module, ()):
                cycles.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(cycles)


def source_graph(sources: Mapping[str, str]) -> dict[str, set[str]]:
    """The import graph of modules given as source text (``{"pkg.mod": "import …"}``)."""
    return {
        module: modules_imported(ast.parse(text), module.rpartition(".")[0], sources) - {module}
        for module, text in sources.items()
    }


def test_a_cycle_through_a_function_level_or_type_checking_import_is_found() -> None:
    lazy = {
        "pkg.low": "def helper() -> None:\n    from pkg.high import thing\n",
        "pkg.high": "from pkg.low import helper\n",
        "pkg.alone": "import pkg.low\n",
    }
    assert import_cycles(source_graph(lazy)) == [["pkg.high", "pkg.low"]]
    typing_only = {
        "pkg.app": "from pkg import uow\n",
        "pkg.uow": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.app import App\n",
    }
    assert import_cycles(source_graph(typing_only)) == [["pkg.app", "pkg.uow"]]
    round_a_loop = {"p.a": "from . import b\n", "p.b": "def f():\n    import p.c\n", "p.c": "from p.a import x\n"}
    assert import_cycles(source_graph(round_a_loop)) == [["p.a", "p.b", "p.c"]]
    assert import_cycles(source_graph({"p.a": "import p.b\n", "p.b": "import json\n"})) == []


def test_no_import_cycles_not_even_through_lazy_imports() -> None:
    """Modules of the product never import each other round a loop, whether the import is at the top,
    inside a function or only for type checking: the shared piece lives in the lower module, or is
    injected (``create_app(build=…)`` by the bootstrap; the unit of work's ``Ledger`` protocol)."""
    paths = {module_name(path): path for top in PRODUCT for path in sorted((ROOT / top).rglob("*.py"))}
    graph = {
        module: modules_imported(
            ast.parse(path.read_text("utf-8"), str(path)),
            module if path.name == "__init__.py" else module.rpartition(".")[0],
            paths,
        ) - {module}
        for module, path in paths.items()
    }
    assert graph["projections.projectors"] >= {"projections.tables", "projections.tickets"}
    assert "ledger.library" in graph["ledger.app"], "from ledger import library is the module ledger.library"
    assert import_cycles(graph) == []
