"""The installed ``ledger`` command as a subprocess: run a verb, apply JSON Lines, count events."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

LEDGER = shutil.which("ledger") or str(Path(sys.executable).with_name("ledger"))


def ledger(*args: str, stdin: str = "", db: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LEDGER_SECRET_KEY": "cli-test"}
    return subprocess.run(
        [LEDGER, "--db", db, *args], input=stdin, capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


def apply(db: str, *commands: Any) -> tuple[int, list[dict[str, Any]], str]:
    lines = "\n".join(c if isinstance(c, str) else json.dumps(c) for c in commands) + "\n"
    proc = ledger("apply", "-", stdin=lines, db=db)
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    return proc.returncode, results, proc.stderr


def event_count(db: str, customer_id: str) -> int:
    proc = ledger("history", "--customer", customer_id, "--json", db=db)
    assert proc.returncode == 0, proc.stderr
    return len(json.loads(proc.stdout))
