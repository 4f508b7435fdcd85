"""The tickets view (SPEC section 3, R24–R26): projector and the plain query function (its tables are
in ``projections.tables``).

``tickets(engine, at, targets, customer_id)`` is the view: every ticket with its status, due times
and the targets missed as of ``at`` (computed from the support-targets table when asked), the room
as the customer saw it at opening, and the RMA and spare-swap state of its failed units.
``ticket_view`` is shared with the as-of view built from the aggregate (``replay.views``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, bindparam, insert, select

from aggregates.customer import Customer
from aggregates.support import SupportTargets, ticket_targets
from projections.tables import key_of, read_rows, table_set, update_by_key


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def ticket_view(
    customer_id: str, *, ticket_id: str, room_id: str, external_room_id: str | None, severity: str, summary: str,
    source: str, support: str, status: str, opened_at: datetime, opened_by: str,
    first_response_at: datetime | None, resolved_at: datetime | None, closed_at: datetime | None, comments: int,
    serial_numbers: list[str], room: dict[str, Any], rmas: list[dict[str, Any]], targets: SupportTargets,
    at: datetime,
) -> dict[str, Any]:
    """One ticket as the tickets view shows it at ``at`` (due times and missed targets from
    ``aggregates.support.ticket_targets`` for ``at``); ``rmas`` are :func:`rma_view` rows."""
    due, missed = ticket_targets(targets, opened_at, support, severity, first_response_at, resolved_at, at)
    return {
        "customer_id": customer_id,
        "ticket_id": ticket_id,
        "room_id": room_id,
        "external_room_id": external_room_id,
        "severity": severity,
        "summary": summary,
        "source": source,
        "support": support,
        "status": status,
        "opened_at": opened_at.isoformat(),
        "opened_by": opened_by,
        "first_response_at": _iso(first_response_at),
        "resolved_at": _iso(resolved_at),
        "closed_at": _iso(closed_at),
        "comments": comments,
        "due": {name: moment.isoformat() for name, moment in due.items()},
        "missed": missed,
        "serial_numbers": serial_numbers,
        "room": room,
        "rma": rmas,
    }


def rma_view(
    serial_number: str, status: str, requested_at: datetime, due: date | None, new_serial_number: str | None,
    spare_no: int | None, done_at: datetime | None,
) -> dict[str, Any]:
    """One failed unit of a ticket in the tickets view: its RMA or spare swap."""
    return {
        "serial_number": serial_number,
        "status": status,
        "requested_at": requested_at.isoformat(),
        "due": _iso(due),
        "new_serial_number": new_serial_number,
        "spare_no": spare_no,
        "done_at": _iso(done_at),
    }


def sort_key(view: dict[str, Any]) -> tuple[str, str, str]:
    return (view["customer_id"], view["opened_at"], view["ticket_id"])


def tickets(
    engine: Engine,
    at: datetime,
    targets: SupportTargets,
    customer_id: str | None = None,
    suffix: str = "",
) -> list[dict[str, Any]]:
    """The tickets view from the read model: a list of JSON-ready dicts (SPEC section 7 keys)."""
    ts = table_set("tickets", suffix)
    t, rt = ts["tickets"], ts["ticket_rmas"]
    rstmt = select(rt)
    if customer_id is not None:
        rstmt = rstmt.where(rt.c.customer_id == customer_id)
    with engine.connect() as conn:
        rows = read_rows(conn, t, customer_id)
        rma_rows = conn.execute(rstmt.order_by(rt.c.requested_at, rt.c.serial_number)).mappings().all()
    rmas: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rma_rows:
        rmas[(r["customer_id"], r["ticket_id"])].append(
            rma_view(r["serial_number"], r["status"], datetime.fromisoformat(r["requested_at"]),
                     date.fromisoformat(r["due"]) if r["due"] else None, r["new_serial_number"], r["spare_no"],
                     _dt(r["done_at"]))
        )
    views = [
        ticket_view(
            r["customer_id"], ticket_id=r["ticket_id"], room_id=r["room_id"], external_room_id=r["external_room_id"],
            severity=r["severity"], summary=r["summary"], source=r["source"], support=r["support"],
            status=r["status"], opened_at=datetime.fromisoformat(r["opened_at"]), opened_by=r["opened_by"],
            first_response_at=_dt(r["first_response_at"]), resolved_at=_dt(r["resolved_at"]),
            closed_at=_dt(r["closed_at"]), comments=r["comments"], serial_numbers=json.loads(r["serial_numbers"]),
            room=json.loads(r["room"]), rmas=rmas.get((r["customer_id"], r["ticket_id"]), []), targets=targets,
            at=at,
        )
        for r in rows
    ]
    return sorted(views, key=sort_key)


def statements(tables: Any) -> dict[str, Any]:
    t, rt = tables["tickets"], tables["ticket_rmas"]
    return {
        "ticket": insert(t),
        "status": update_by_key(t, ("ticket_id",), "status"),
        "resolved": update_by_key(t, ("ticket_id",), "status", "resolved_at"),
        "closed": update_by_key(t, ("ticket_id",), "status", "closed_at"),
        "responded": update_by_key(t, ("ticket_id",), "first_response_at"),
        "comment": t.update().where(key_of(t, "ticket_id")).values(comments=t.c.comments + bindparam("v_delta")),
        "rma": insert(rt),
        "rma_received": update_by_key(rt, ("ticket_id", "serial_number"), "status", "new_serial_number", "done_at"),
    }


def _cid(e: Any) -> str:
    return str(e.originator_id)


def _opened(w: Any, e: Any) -> None:
    w.add("ticket", customer_id=_cid(e), ticket_id=str(e.ticket_id), room_id=str(e.room_id),
          external_room_id=e.external_room_id, severity=e.severity, summary=e.summary, source=e.source,
          support=e.support, opened_at=e.at.isoformat(), opened_by=e.actor,
          room=json.dumps(e.room, sort_keys=True, separators=(",", ":")),
          serial_numbers=json.dumps(list(e.serial_numbers)), status="open", first_response_at=None,
          resolved_at=None, closed_at=None, comments=0)


def _tkey(e: Any) -> dict[str, str]:
    return {"k_customer_id": _cid(e), "k_ticket_id": str(e.ticket_id)}


def _status_changed(w: Any, e: Any) -> None:
    if e.first_response:
        w.add("responded", **_tkey(e), v_first_response_at=e.at.isoformat())
    if e.status == "resolved":
        w.add("resolved", **_tkey(e), v_status=e.status, v_resolved_at=e.at.isoformat())
    elif e.status == "closed":
        w.add("closed", **_tkey(e), v_status=e.status, v_closed_at=e.at.isoformat())
    else:
        w.add("status", **_tkey(e), v_status=e.status)


def _commented(w: Any, e: Any) -> None:
    w.add("comment", **_tkey(e), v_delta=1)
    if e.first_response:
        w.add("responded", **_tkey(e), v_first_response_at=e.at.isoformat())


def _reopened(w: Any, e: Any) -> None:
    w.add("resolved", **_tkey(e), v_status="in_progress", v_resolved_at=None)


def _rma_requested(w: Any, e: Any) -> None:
    w.add("rma", customer_id=_cid(e), ticket_id=str(e.ticket_id), serial_number=e.serial_number,
          requested_at=e.at.isoformat(), status="requested", due=e.due.isoformat(), new_serial_number=None,
          spare_no=None, done_at=None)


def _received(w: Any, e: Any) -> None:
    w.add("rma_received", **_tkey(e), k_serial_number=e.serial_number, v_status="received",
          v_new_serial_number=e.new_serial_number, v_done_at=e.at.isoformat())


def _swapped(w: Any, e: Any) -> None:
    w.add("rma", customer_id=_cid(e), ticket_id=str(e.ticket_id), serial_number=e.serial_number,
          requested_at=e.at.isoformat(), status="swapped", due=None, new_serial_number=e.new_serial_number,
          spare_no=e.spare_no, done_at=e.at.isoformat())


def projector() -> dict[type, Any]:
    """How each customer event changes the tickets tables."""
    return {
        Customer.TicketOpened: _opened,
        Customer.TicketStatusChanged: _status_changed,
        Customer.TicketCommented: _commented,
        Customer.TicketReopened: _reopened,
        Customer.RmaRequested: _rma_requested,
        Customer.ReplacementReceived: _received,
        Customer.SpareUsed: _swapped,
    }
