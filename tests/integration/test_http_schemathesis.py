"""Schemathesis against a live ``ledger serve``: generated from the published OpenAPI document.

Authenticated with an ops API key, a bounded number of examples per operation, every check but
``positive_data_acceptance`` (the business rules refuse much that the schema allows, e.g. an
e-mail of no real shape or an ``at`` before 2000): no 5xx, every status, content type, header and
body as documented, invalid input refused, no operation served without authentication.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.kit.commands import order
from tests.kit.http import Client, Server, create_key, ledger_cli, without_actor

pytestmark = pytest.mark.integration

SCHEMATHESIS = shutil.which("schemathesis") or str(Path(sys.executable).with_name("schemathesis"))
EXAMPLES = "10"


def test_schemathesis_finds_no_5xx_and_every_response_conforms(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if request.config.getoption("--backend") == "postgres":
        from tests.kit.pg import fresh_database_url

        db = fresh_database_url()
    else:
        db = str(tmp_path / "ledger.db")
    ledger_cli(db, "api-key", "list")
    key = create_key(db, "schemathesis", "--role", "ops")
    server = Server(db, log=tmp_path / "serve.log").start()
    try:
        seeded = Client(server.url, key).ok(without_actor(order(po="PO-ST-1", company="Fuzz Corp")))
        config = tmp_path / "schemathesis.toml"
        config.write_text(f'[parameters]\n"path.customer_id" = "{seeded["customer_id"]}"\n')
        proc = subprocess.run(
            [
                SCHEMATHESIS, "--config-file", str(config), "run", f"{server.url}/openapi.json",
                "-H", f"Authorization: Bearer {key}", "--max-examples", EXAMPLES, "--seed", "7",
                "--checks", "all", "--exclude-checks", "positive_data_acceptance",
                "--phases", "examples,coverage,fuzzing,stateful", "--request-timeout", "30",
                "--workers", "2",
            ],
            capture_output=True, text=True, timeout=900, cwd=tmp_path,  # its cache stays out of the tree
        )
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, output[-6000:]
        assert "passed" in output and "failures" not in output.split("SUMMARY")[-1].lower()
        assert key not in output
    finally:
        server.stop()
    assert "Traceback" not in server.log_text()
