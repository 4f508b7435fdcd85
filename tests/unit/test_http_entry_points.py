"""The portal reaches the HTTP application only through its public entry points (one per use case).

Static checks on the source: no module of the portal imports a private name of our packages, nor
reads a private attribute of the server's state; and the ``/v1`` routes call the same public
methods of :class:`ledger.http.app.ServerState` that the portal's door calls.
"""

from __future__ import annotations

import ast
from pathlib import Path

import ledger.http.app as http_app
import ledger.http.portal as portal_package

PORTAL = Path(portal_package.__file__).parent
ENTRY_POINTS = ("run_command", "customers", "visible_customers", "visible_customer", "view", "history")


def _portal_modules() -> list[Path]:
    return sorted(PORTAL.glob("*.py"))


def test_r18_portal_imports_no_private_name_of_the_http_app_or_other_packages() -> None:
    private: list[str] = []
    for path in _portal_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in (
                "ledger", "commands", "aggregates", "projections", "replay"
            ):
                private += [f"{path.name}: {node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
    assert private == []


def test_r18_portal_reads_no_private_attribute_of_the_server_state() -> None:
    found: list[str] = []
    for path in _portal_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                    and isinstance(node.value, ast.Attribute) and node.value.attr == "state"):
                found.append(f"{path.name}:{node.lineno} .state.{node.attr}")
    assert found == []


def test_r18_api_and_portal_share_the_public_entry_points() -> None:
    for name in ENTRY_POINTS:
        assert getattr(http_app.ServerState, name).__doc__, f"ServerState.{name} is public: it needs a docstring"
    routes = Path(http_app.__file__).read_text().split("def create_app", 1)[1]
    door = (PORTAL / "server_door.py").read_text()
    assert "state.run_command(" in Path(http_app.__file__).read_text()
    for name in ("customers", "view", "history"):
        assert f"_state(request).{name}(" in routes, f"the /v1 route does not call ServerState.{name}"
    for name in ("run_command", "view", "history", "visible_customers", "visible_customer"):
        assert f"self.state.{name}(" in door, f"the portal's door does not call ServerState.{name}"
    for gone in ("_execute", "_view_rows", "_history_rows", "_customers"):
        assert not hasattr(http_app, gone), gone
