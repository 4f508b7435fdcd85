"""Interop with the reference implementations (SPEC section 8): the Go program in tests/interop/go
verifies the ledger's checkpoints (golang.org/x/mod/sumdb/note), inclusion proofs in tlog-proof@v1
files and consistency proofs (github.com/transparency-dev/merkle), and rejects altered ones.
``make interop`` builds it; the fixture builds it too (Go fetches the pinned modules from the proxy).
A missing Go toolchain fails these tests, it never skips them."""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from commands.parsing import parse_command
from ledger.app import LedgerApplication
from ledger.audit.service import Audit, load_signer
from ledger.config import load_settings
from ledger.demo import generate

pytestmark = pytest.mark.integration

SOURCE = Path(__file__).resolve().parents[1] / "interop" / "go"
BINARY = Path(__file__).resolve().parents[2] / ".cache" / "ledger-interop"


@pytest.fixture(scope="session")
def interop() -> Path:
    go = shutil.which("go")
    if go is None:
        pytest.fail("the Go toolchain is not on PATH: the interop tests need it (never skipped)", pytrace=False)
    BINARY.parent.mkdir(exist_ok=True)
    subprocess.run([go, "build", "-o", str(BINARY), "."], cwd=SOURCE, check=True, timeout=600)
    return BINARY


@pytest.fixture
def ledger(db_url: str, tmp_path: Path) -> Iterator[LedgerApplication]:
    env = {"LEDGER_SECRET_KEY": "interop", "LEDGER_SIGNING_KEY_FILE": str(tmp_path / "sign.key")}
    app = LedgerApplication(load_settings(db_url, env))
    yield app
    app.close()


def _run(binary: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=60)


def test_s8_reference_implementations_verify_checkpoints_and_proofs(
    interop: Path, ledger: LedgerApplication, tmp_path: Path
) -> None:
    commands = [parse_command(c) for c in generate(customers=2, seed=9, expiry_days=0)]
    audit, signer = Audit(ledger), load_signer(ledger.settings)
    ledger.execute_many(commands[:37])
    old = audit.checkpoint(signer)
    ledger.execute_many(commands[37:])
    new = audit.checkpoint(signer)
    (tmp_path / "old").write_text(old.note)
    (tmp_path / "new").write_text(new.note)
    (tmp_path / "consistency").write_text(
        "\n".join(base64.b64encode(h).decode() for h in audit.consistency(old.size, new.size)) + "\n"
    )
    proofs = []
    with audit.reading() as curs:
        rows = [*audit.log.rows(curs, 0, 1), *audit.log.rows(curs, old.size - 1, 2)]
        rows += audit.log.rows(curs, new.size - 1, 1)
    for row in rows:
        path = tmp_path / f"{row.seq}.tlog-proof"
        path.write_text(audit.proof(row.aggregate_id, row.version, signer).bundle.render())
        proofs.append(str(path))
    vkey = str(signer.verifier)
    proc = _run(interop, "-vkey", vkey, "-checkpoint", str(tmp_path / "new"), "-old", str(tmp_path / "old"),
                "-consistency", str(tmp_path / "consistency"), *proofs)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"ok checkpoint size={new.size}" and lines[1] == f"ok consistency {old.size}->{new.size}"
    assert lines[2:] == [f"ok inclusion index={row.seq} size={new.size}" for row in rows]

    # Altered inputs are rejected by the reference code.
    forged = Path(proofs[1]).read_text().split("\n")
    forged[1] = "extra " + base64.b64encode(base64.b64decode(forged[1][6:]).replace(b'"seq"', b'"seq" ')).decode()
    (tmp_path / "forged.tlog-proof").write_text("\n".join(forged))
    bad = _run(interop, "-vkey", vkey, str(tmp_path / "forged.tlog-proof"))
    assert bad.returncode == 1 and "inclusion" in bad.stderr
    (tmp_path / "bad-consistency").write_text((tmp_path / "consistency").read_text().split("\n", 1)[1])
    bad = _run(interop, "-vkey", vkey, "-checkpoint", str(tmp_path / "new"), "-old", str(tmp_path / "old"),
               "-consistency", str(tmp_path / "bad-consistency"))
    assert bad.returncode == 1 and "consistency" in bad.stderr
    other = load_signer(load_settings(str(tmp_path / "x.db"), {"LEDGER_SIGNING_KEY_FILE": str(tmp_path / "k2")}))
    bad = _run(interop, "-vkey", str(other.verifier), "-checkpoint", str(tmp_path / "new"))
    assert bad.returncode == 1 and "signed note" in bad.stderr
