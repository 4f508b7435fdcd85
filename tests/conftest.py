"""Fixtures: a fresh ledger application per test, on SQLite (default) or PostgreSQL (--backend)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ledger.app import LedgerApplication
from ledger.bootstrap import build_app
from tests.kit.app import SECRET
from tests.kit.rules import Rules


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="event store the suite runs on (postgres needs LEDGER_TEST_PG_URL)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On ``--backend postgres``, deselect (visibly, in pytest's summary) the tests marked
    ``backend_independent``: they use no store of the selected backend (the OpenID provider and verifier,
    the browser journeys of the portal, the fault tests that make their own stores),
    so the SQLite pass of the same run has already run them."""
    if config.getoption("--backend") != "postgres":
        return
    independent = [item for item in items if item.get_closest_marker("backend_independent")]
    if independent:
        config.hook.pytest_deselected(items=independent)
        items[:] = [item for item in items if not item.get_closest_marker("backend_independent")]


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("--backend"))


@pytest.fixture
def db_url(tmp_path: Path, backend: str) -> str:
    if backend == "sqlite":
        return str(tmp_path / "ledger.db")
    from tests.kit.pg import fresh_database_url

    return fresh_database_url()


@pytest.fixture
def fresh_url(tmp_path: Path, backend: str) -> Callable[[], str]:
    """A factory of empty stores on the selected backend, for tests that need many (hypothesis)."""
    counter = iter(range(1_000_000))

    def factory() -> str:
        if backend == "sqlite":
            return str(tmp_path / f"ledger-{next(counter)}.db")
        from tests.kit.pg import fresh_database_url

        return fresh_database_url()

    return factory


@pytest.fixture
def make_app(db_url: str) -> Iterator[Callable[..., LedgerApplication]]:
    apps: list[LedgerApplication] = []

    # LEDGER_AGGREGATE_CACHE_EVENTS=1 pytest tests/rules: every rule through a cache that keeps
    # only the aggregate last used (evicting by the bound must change no answer)
    bound = {k: v for k, v in os.environ.items() if k == "LEDGER_AGGREGATE_CACHE_EVENTS"}

    def factory(**overrides: str) -> LedgerApplication:
        environ = {"LEDGER_SECRET_KEY": SECRET, **bound, **overrides}
        app = build_app(db_url, environ)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.close()


@pytest.fixture
def app(make_app: Callable[..., LedgerApplication]) -> LedgerApplication:
    return make_app()


@pytest.fixture
def rules(app: LedgerApplication) -> Rules:
    """Given / when / then on the test's application (``tests/kit/rules.py``)."""
    return Rules(app)
