"""``ledger apply``: every input line gets exactly one result line, in order; a bad line is refused alone."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.app import LedgerApplication
from ledger.cli import apply_lines
from ledger.config import load_settings
from ledger.jsonvalues import ENVELOPE_FIELDS
from tests.kit.cli import ledger
from tests.kit.commands import order

pytestmark = pytest.mark.integration

BAD_LINES: dict[str, bytes] = {
    "far_future_with_offset": json.dumps(order(po="PO-BAD", at="9999-12-31T23:59:59-05:00")).encode(),
    "year_0001_with_offset": json.dumps(order(po="PO-BAD", at="0001-01-01T00:00:00+05:00")).encode(),
    "far_future": json.dumps(order(po="PO-BAD", at="9999-12-31T00:00:00Z")).encode(),
    "numeric_at": json.dumps({**order(po="PO-BAD"), "at": 1.7e9}).encode(),
    "deep_nesting": b"[" * 100_000,
    "deep_object_nesting": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "invalid_utf8": b'{"command": "PlaceOrder", "actor": "ops", "po_number": "PO-\xff\xfe"}',
    "huge_exponent": b'{"command": "PlaceOrder", "actor": "ops", "years": 1e999999}',
    "not_json": b"this is not json",
}


def _order_line(n: int) -> bytes:
    return json.dumps(order(po=f"PO-L{n:04d}", company=f"Line {n} Inc", email=f"a{n}@line{n}.example",
                            at="2026-05-04T09:00:00Z")).encode()


def _write(path: Path, lines: list[bytes], prefix: bytes = b"") -> Path:
    path.write_bytes(prefix + b"\n".join(lines) + b"\n")
    return path


@pytest.mark.parametrize("kind", sorted(BAD_LINES))
def test_r18_one_bad_line_in_261_refused_alone_from_a_file(db_url: str, tmp_path: Path, kind: str) -> None:
    lines = [_order_line(n) for n in range(250)] + [BAD_LINES[kind]] + [_order_line(n) for n in range(250, 260)]
    proc = ledger("apply", str(_write(tmp_path / "in.jsonl", lines)), db=db_url)
    assert "Traceback" not in proc.stderr, proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(results) == 261, proc.stderr
    assert [r["ok"] for r in results] == [True] * 250 + [False] + [True] * 10
    assert results[250]["error"]["line"] == 251
    assert proc.returncode in (1, 2), "a refused or malformed line is not exit 0"
    view = json.loads(ledger("view", "contracts", "--json", db=db_url).stdout)
    assert len(view) == 260


def test_r18_utf8_bom_before_line_1_is_read(db_url: str, tmp_path: Path) -> None:
    proc = ledger("apply", str(_write(tmp_path / "bom.jsonl", [_order_line(1), _order_line(2)], b"\xef\xbb\xbf")),
                  db=db_url)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [json.loads(line)["ok"] for line in proc.stdout.splitlines()] == [True, True]


def test_r18_invalid_utf8_from_stdin_and_file_alike(db_url: str, tmp_path: Path) -> None:
    lines = [_order_line(1), BAD_LINES["invalid_utf8"], _order_line(2)]
    from_file = ledger("apply", str(_write(tmp_path / "u.jsonl", lines)), db=db_url)
    results = [json.loads(line) for line in from_file.stdout.splitlines()]
    assert [r["ok"] for r in results] == [True, False, True]
    assert results[1]["error"]["code"] == "malformed_encoding" and results[1]["error"]["field"] == "command"


def test_r18_unreadable_input_is_exit_2(db_url: str, tmp_path: Path) -> None:
    proc = ledger("apply", str(tmp_path / "missing.jsonl"), db=db_url)
    assert proc.returncode == 2 and "FILE" in proc.stderr and not proc.stdout
    folder = ledger("apply", str(tmp_path), db=db_url)
    assert folder.returncode == 2 and "Traceback" not in folder.stderr


def _log(app: LedgerApplication) -> list[tuple[Any, ...]]:
    rows = []
    for n in app.recorder.select_notifications(1, 1_000_000):
        e = app.mapper.to_domain_event(n)
        data = {k: v for k, v in vars(e).items() if k not in ENVELOPE_FIELDS or k in ("at", "actor")}
        rows.append((n.id, n.topic, e.originator_id, e.originator_version, repr(sorted(data.items()))))
    return rows


LINE = st.one_of(
    st.tuples(st.just(True), st.integers(0, 10_000)),
    st.tuples(st.just(False), st.sampled_from(sorted(BAD_LINES))),
)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(
    plan=st.lists(LINE, min_size=1, max_size=40, unique_by=lambda x: ("valid", x[1]) if x[0] else ("bad", id(x))),
    bom=st.booleans(),
)
def test_r18_mixed_file_one_result_per_line_applies_exactly_the_valid_ones(
    fresh_url: Callable[[], str], plan: list[tuple[bool, Any]], bom: bool
) -> None:
    lines = [_order_line(v) if valid else BAD_LINES[v] for valid, v in plan]
    if bom:
        lines[0] = b"\xef\xbb\xbf" + lines[0]
    outputs: list[list[dict[str, Any]]] = []
    logs = []
    for batch_size in (1, 200):
        app = LedgerApplication(load_settings(fresh_url(), {"LEDGER_SECRET_KEY": "mixed"}))
        try:
            out = io.StringIO()
            status = apply_lines(app, iter(lines), out, batch_size)
            results = [json.loads(line) for line in out.getvalue().splitlines()]
            assert len(results) == len(lines)
            assert [r["ok"] for r in results] == [valid for valid, _ in plan]
            assert [r["error"]["line"] for r in results if not r["ok"]] == [
                n for n, (valid, _) in enumerate(plan, start=1) if not valid
            ]
            assert status == (0 if all(valid for valid, _ in plan) else status) and status in (0, 1, 2)
            recorded = {c.po_number for cid in app.customer_ids() for c in app.customer(cid).contracts.values()}
            assert recorded == {f"PO-L{v:04d}" for valid, v in plan if valid}
            outputs.append(results)
            logs.append(_log(app))
        finally:
            app.close()
    assert outputs[0] == outputs[1], "batch size 1 and 200 give the same results"
    assert logs[0] == logs[1], "batch size 1 and 200 give the same ledger"
