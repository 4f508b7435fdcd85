"""The portal's pages and forms: server-rendered HTML over the :class:`~ledger.http.portal.door.Door`.

Every page reads through the door with the signed-in principal, so it sees exactly what ``GET /v1/…``
would show that principal; every form becomes one command of SPEC section 4 submitted through the
door, so it is authorized, checked and recorded exactly like ``POST /v1/commands``. A refusal is shown
next to its form in the rule's words, with the HTTP status of the API. Write controls are left out for
viewers, and the server refuses such a request anyway (R16). Every POST carries the session's CSRF
token (:mod:`ledger.http.portal.session`).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from uuid import NAMESPACE_URL, UUID, uuid5

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from aggregates.catalog import SUPPORTED_PRODUCTS, CountryTable
from aggregates.errors import LedgerError
from commands.auth import Principal
from ledger.http.portal.door import Answer, Door, Visible
from ledger.http.portal.session import (
    csrf_token,
    current_principal,
    pop_flash,
    require_csrf,
    set_flash,
)

HERE = Path(__file__).parent
PAGE_SIZE = 50
NAV: tuple[tuple[str, str], ...] = (
    ("orders", "Service Orders"),
    ("rooms", "Rooms"),
    ("spares", "Onsite spares"),
    ("access", "Access"),
    ("support", "Support"),
    ("history", "History"),
)
TICKET_STATUSES = ("open", "in_progress", "waiting_on_customer", "resolved", "closed")
STATUS_WORDS = {"open": "Open", "in_progress": "In progress", "waiting_on_customer": "Waiting on you",
                "resolved": "Resolved", "closed": "Closed"}
SEVERITIES = ("critical", "high", "normal", "low")
SUPPORT_WORDS = {"select": "Select support", "jumpstart": "Jumpstart support", "rma_only": "RMA only (warranty)"}
TICKET_EVENTS = frozenset({"TicketOpened", "TicketStatusChanged", "TicketCommented", "TicketReopened",
                           "RmaRequested", "ReplacementReceived", "SpareUsed"})
ROOM_SELECT_MAX = 200  # more rooms than this: the open-ticket form takes the room's name
ROLE_WORDS = {"admin": "Manage (admin)", "viewer": "View (read only)", "ops": "Operations"}
SERVICE_WORDS = {"select": "Select", "syncplus": "Sync+ (syncplus)", "extended_warranty": "Extended warranty"}
WRITE_ROLES = frozenset({"admin", "ops"})

templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.globals.update(role_words=ROLE_WORDS, service_words=SERVICE_WORDS, status_words=STATUS_WORDS,
                             support_words=SUPPORT_WORDS)
templates.env.autoescape = True


@dataclass(frozen=True)
class Refused:
    """A refusal shown next to the form that caused it."""

    form: str
    words: str
    values: Mapping[str, str]


Context = tuple[Door, Principal, Visible, list[Visible]]


@dataclass(frozen=True)
class Page:
    """One page of a long list."""

    rows: list[dict[str, Any]]
    number: int
    pages: int
    total: int
    extra: str = ""


def paginate(rows: list[dict[str, Any]], number: int, size: int = PAGE_SIZE, extra: str = "") -> Page:
    pages = max(1, math.ceil(len(rows) / size))
    number = min(max(1, number), pages)
    return Page(rows[(number - 1) * size : number * size], number, pages, len(rows), extra)


def _page_number(request: Request) -> int:
    try:
        return int(request.query_params.get("page", "1"))
    except ValueError:
        return 1


class Portal:
    """The pages, bound to a door (the server's state) and the country table."""

    def __init__(self, door_of: Callable[[Request], Door], countries_of: Callable[[Request], CountryTable]) -> None:
        self.door_of = door_of
        self.countries_of = countries_of

    # -- rendering -------------------------------------------------------------------------------

    def render(self, request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        principal = current_principal(request)
        base: dict[str, Any] = {
            "principal": principal,
            "csrf": csrf_token(request),
            "flash": pop_flash(request),
            "customer": None,
            "customers": [],
            "nav": NAV,
            "error": None,
            "title": "Service Portal",
        }
        base.update(context)
        return templates.TemplateResponse(request, template, base, status_code=status)

    def message(self, request: Request, status: int, title: str, message: str) -> HTMLResponse:
        return self.render(request, "message.html", status, title=title, message=message, alert=status >= 400)

    def not_found(self, request: Request) -> HTMLResponse:
        return self.message(request, 404, "Not found", "There is no such page, customer or room for you here.")

    # -- the signed-in context ---------------------------------------------------------------------

    async def _context(self, request: Request, customer_id: str) -> Context | None:
        principal = current_principal(request)
        if principal is None:
            return None
        door = self.door_of(request)
        try:
            cid = UUID(customer_id)
        except ValueError:
            return None
        visible = await run_in_threadpool(door.customers, principal)
        here = next((c for c in visible if c.customer_id == str(cid)), None)
        if here is None:
            return None
        return door, principal, here, visible

    def _signin_redirect(self, request: Request) -> RedirectResponse:
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        request.session["next"] = target
        return RedirectResponse("/auth/signin", status_code=303)

    # -- pages -----------------------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        if request.query_params.get("token"):
            # the welcome e-mail's link is LEDGER_PORTAL_URL?token=… (ledger notify): the invitation page
            return await self.invitation_page(request)
        principal = current_principal(request)
        if principal is None:
            return RedirectResponse("/auth/signin", status_code=303)
        visible = await run_in_threadpool(self.door_of(request).customers, principal)
        if len(visible) == 1:
            return RedirectResponse(f"/c/{visible[0].customer_id}/orders", status_code=303)
        return self.render(request, "customers.html", title="Choose a customer", customers_list=visible,
                           customers=visible, partner=any(not c.owner_admin and c.role != "ops" for c in visible))

    async def switch(self, request: Request) -> Response:
        customer_id = request.query_params.get("customer_id", "")
        if current_principal(request) is None:
            return self._signin_redirect(request)
        if await self._context(request, customer_id) is None:
            return self.not_found(request)
        return RedirectResponse(f"/c/{customer_id}/orders", status_code=303)

    async def _customer_page(
        self, request: Request, customer_id: str, section: str, template: str, status: int = 200, **context: Any
    ) -> Response:
        found = await self._context(request, customer_id)
        if found is None:
            return self._signin_redirect(request) if current_principal(request) is None else self.not_found(request)
        _door, _principal, here, visible = found
        return self.render(
            request, template, status, customer=here, customers=visible, section=section,
            role=here.role, can_write=here.role in WRITE_ROLES, can_manage=here.owner_admin,
            title=f"{dict(NAV)[section]} · {here.name}", **context,
        )

    async def _view(
        self, request: Request, customer_id: str, name: str, as_of: datetime | None = None
    ) -> list[dict[str, Any]]:
        principal = current_principal(request)
        assert principal is not None  # _context checked it
        return await run_in_threadpool(self.door_of(request).view, principal, UUID(customer_id), name, as_of)

    async def orders(self, request: Request, customer_id: str) -> Response:
        if await self._context(request, customer_id) is None:
            return await self._customer_page(request, customer_id, "orders", "orders.html")
        rows = await self._view(request, customer_id, "contracts")
        rows.sort(key=lambda r: (r["status"] != "active", r["po_number"]))
        return await self._customer_page(request, customer_id, "orders", "orders.html", rows=rows)

    async def _rooms_context(self, request: Request, customer_id: str) -> dict[str, Any]:
        rooms = await self._view(request, customer_id, "rooms")
        contracts = await self._view(request, customer_id, "contracts")
        q = request.query_params.get("q", "").strip()[:100]
        if q:
            folded = q.casefold()
            rooms = [r for r in rooms if folded in r["name"].casefold() or folded in r["site"].casefold()]
        rooms.sort(key=lambda r: (r["name"].casefold(), r["room_id"]))
        accounts: dict[str, list[str]] = {}
        for c in sorted(contracts, key=lambda c: c["po_number"]):
            accounts.setdefault(c["account_id"], []).append(c["po_number"])
        for r in rooms:
            accounts.setdefault(r["account_id"], [])
        countries = self.countries_of(request)
        country_rows = [(code, (countries.get(code) or code).name) for code in countries.codes()]  # type: ignore[union-attr]
        country_rows.sort(key=lambda item: item[1])
        return {
            "page": paginate(rooms, _page_number(request), extra=f"&q={quote(q)}" if q else ""),
            "q": q,
            "accounts": [
                {"id": aid, "label": f"Account {aid[:8]}" + (f": {', '.join(pos[:3])}" if pos else "")}
                for aid, pos in accounts.items()
            ],
            "countries": country_rows,
            "default_country": rooms[0]["country"] if rooms else "US",
        }

    async def rooms(self, request: Request, customer_id: str) -> Response:
        return await self._rooms(request, customer_id)

    async def _rooms(
        self, request: Request, customer_id: str, error: Refused | None = None, status: int = 200
    ) -> Response:
        if await self._context(request, customer_id) is None:
            return await self._customer_page(request, customer_id, "rooms", "rooms.html")
        return await self._customer_page(
            request, customer_id, "rooms", "rooms.html", status, error=error,
            **await self._rooms_context(request, customer_id),
        )

    async def room(self, request: Request, customer_id: str, room_id: str) -> Response:
        return await self._room(request, customer_id, room_id)

    async def _room(
        self, request: Request, customer_id: str, room_id: str, error: Refused | None = None, status: int = 200
    ) -> Response:
        if await self._context(request, customer_id) is None:
            return await self._customer_page(request, customer_id, "rooms", "room.html")
        rooms = await self._view(request, customer_id, "rooms")
        room = next((r for r in rooms if r["room_id"] == room_id), None)
        if room is None:
            return self.not_found(request)
        contracts = [
            c for c in await self._view(request, customer_id, "contracts")
            if c["account_id"] == room["account_id"] and c["status"] in ("active", "pending")
            and c["service"] in ("select", "syncplus", "extended_warranty")
        ]
        others = sorted(
            (r for r in rooms if r["room_id"] != room_id and r["account_id"] == room["account_id"] and r["licenses"]),
            key=lambda r: r["name"].casefold(),
        )
        return await self._customer_page(
            request, customer_id, "rooms", "room.html", status, room=room, contracts=contracts,
            other_rooms=others, products=SUPPORTED_PRODUCTS, error=error,
        )

    async def spares(self, request: Request, customer_id: str) -> Response:
        return await self._spares(request, customer_id)

    async def _spares(
        self, request: Request, customer_id: str, error: Refused | None = None, status: int = 200
    ) -> Response:
        if await self._context(request, customer_id) is None:
            return await self._customer_page(request, customer_id, "spares", "spares.html")
        rows = await self._view(request, customer_id, "spares")
        spares = rows[0] if rows else {"active_select_licenses": 0, "entitled": 0, "accrued": 0, "revoked": 0,
                                        "history": [], "allocations": []}
        deployed = sorted({d["product"] for r in await self._view(request, customer_id, "rooms") for d in r["devices"]})
        return await self._customer_page(
            request, customer_id, "spares", "spares.html", status, spares=spares, deployed=deployed, error=error
        )

    async def access(self, request: Request, customer_id: str) -> Response:
        return await self._access(request, customer_id)

    async def _access(
        self, request: Request, customer_id: str, error: Refused | None = None, status: int = 200,
        invited: dict[str, Any] | None = None,
    ) -> Response:
        if await self._context(request, customer_id) is None:
            return await self._customer_page(request, customer_id, "access", "access.html")
        rows = await self._view(request, customer_id, "access")
        access = rows[0] if rows else {"users": [], "invitations": [], "partners": []}
        access.setdefault("sso", None)
        return await self._customer_page(
            request, customer_id, "access", "access.html", status, access=access, error=error, invited=invited,
            sso_enabled=self.door_of(request).sso_commands,
        )

    async def history(self, request: Request, customer_id: str) -> Response:
        found = await self._context(request, customer_id)
        if found is None:
            return await self._customer_page(request, customer_id, "history", "history.html")
        door, principal, _here, _visible = found
        raw = request.query_params.get("as_of", "").strip()
        as_of: datetime | None = None
        error = None
        status = 200
        if raw:
            try:
                as_of = datetime.combine(date.fromisoformat(raw), datetime.max.time(), UTC)
            except ValueError:
                error = Refused("as-of", f"as_of: {raw!r} is not a date (YYYY-MM-DD) (R20)", {})
                status = 422
        try:
            events = await run_in_threadpool(door.history, principal, UUID(customer_id), as_of)
        except LedgerError as refusal:
            events, error, status = [], Refused("as-of", refusal.message, {}), 422
        events.reverse()
        page = paginate(events, _page_number(request), extra=f"&as_of={raw}" if as_of else "")
        rows = [{**e, "summary": summarise(e["data"])} for e in page.rows]
        page = Page(rows, page.number, page.pages, page.total, page.extra)
        return await self._customer_page(
            request, customer_id, "history", "history.html", status, page=page, as_of=raw if as_of else "", error=error
        )

    async def support(self, request: Request, customer_id: str) -> Response:
        return await self._support(request, customer_id)

    async def _support(
        self, request: Request, customer_id: str, error: Refused | None = None, status: int = 200
    ) -> Response:
        """Tickets of the customer (R24, R25), newest first, paged, filtered by status; the open-ticket form."""
        if await self._context(request, customer_id) is None:
            return await self._customer_page(request, customer_id, "support", "support.html")
        wanted = request.query_params.get("status", "")
        wanted = wanted if wanted in TICKET_STATUSES else ""
        tickets = await self._view(request, customer_id, "tickets")
        rooms = await self._view(request, customer_id, "rooms")
        names = {r["room_id"]: r["name"] for r in rooms}
        counts = {s: 0 for s in TICKET_STATUSES}
        for t in tickets:
            counts[t["status"]] = counts.get(t["status"], 0) + 1
        shown = [t for t in tickets if not wanted or t["status"] == wanted]
        shown.sort(key=lambda t: (t["opened_at"], t["ticket_id"]), reverse=True)
        page = paginate(shown, _page_number(request), extra=f"&status={wanted}" if wanted else "")
        rows = [{**t, "room_name": names.get(t["room_id"], t["room"].get("name", ""))} for t in page.rows]
        room_choice = request.query_params.get("room_id", "")
        return await self._customer_page(
            request, customer_id, "support", "support.html", status, error=error,
            page=Page(rows, page.number, page.pages, page.total, page.extra), wanted=wanted, counts=counts,
            statuses=TICKET_STATUSES, severities=SEVERITIES, room_choice=room_choice,
            rooms=sorted(rooms, key=lambda r: (r["name"].casefold(), r["room_id"])) if len(rooms) <= ROOM_SELECT_MAX
            else None,
            chosen_room=next((r for r in rooms if r["room_id"] == room_choice), None),
        )

    async def ticket(self, request: Request, customer_id: str, ticket_id: str) -> Response:
        return await self._ticket(request, customer_id, ticket_id)

    async def _ticket(
        self, request: Request, customer_id: str, ticket_id: str, error: Refused | None = None, status: int = 200
    ) -> Response:
        """One ticket: status, targets, the room as it was when opened, RMAs, and its conversation (R24–R26)."""
        found = await self._context(request, customer_id)
        if found is None:
            return await self._customer_page(request, customer_id, "support", "ticket.html")
        door, principal, _here, _visible = found
        tickets = await self._view(request, customer_id, "tickets")
        ticket = next((t for t in tickets if t["ticket_id"] == ticket_id), None)
        if ticket is None:
            return self.not_found(request)
        events = await run_in_threadpool(door.history, principal, UUID(customer_id), None)
        timeline = [e for e in events if e["type"] in TICKET_EVENTS and e["data"].get("ticket_id") == ticket_id]
        return await self._customer_page(
            request, customer_id, "support", "ticket.html", status, ticket=ticket, timeline=timeline, error=error,
        )

    # -- forms -----------------------------------------------------------------------------------

    async def _submit(
        self, request: Request, customer_id: str, form_id: str, build: Callable[[Mapping[str, str]], dict[str, Any]],
        on_refusal: Callable[[Refused, int], Awaitable[Response]], done: str, success_url: str,
        on_success: Callable[[Answer], Awaitable[Response]] | None = None,
    ) -> Response:
        await require_csrf(request)
        found = await self._context(request, customer_id)
        if found is None:
            return self._signin_redirect(request) if current_principal(request) is None else self.not_found(request)
        door, principal, _here, _visible = found
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str) and k != "csrf_token"}
        answer = await door.command(principal, {**build(form), "customer_id": customer_id})
        if not answer.ok:
            return await on_refusal(Refused(form_id, answer.words, form), answer.status)
        if on_success is not None:
            return await on_success(answer)
        set_flash(request, done)
        return RedirectResponse(success_url, status_code=303)

    async def add_room(self, request: Request, customer_id: str) -> Response:
        def build(f: Mapping[str, str]) -> dict[str, Any]:
            return {"command": "AddRoom", "account_id": f.get("account_id", ""), "name": f.get("name", ""),
                    "site": f.get("site", ""), "country": f.get("country", "")}

        async def refused(error: Refused, status: int) -> Response:
            return await self._rooms(request, customer_id, error, status)

        form = await request.form()
        name = str(form.get("name", "")).strip()
        return await self._submit(request, customer_id, "add-room", build, refused, f"Room {name} added.",
                                  f"/c/{customer_id}/rooms?q={quote(name)}")

    def _room_form(
        self, request: Request, customer_id: str, room_id: str, form_id: str, done: str,
        build: Callable[[Mapping[str, str]], dict[str, Any]],
    ) -> Awaitable[Response]:
        async def refused(error: Refused, status: int) -> Response:
            return await self._room(request, customer_id, room_id, error, status)

        return self._submit(request, customer_id, form_id, build, refused, done, f"/c/{customer_id}/rooms/{room_id}")

    async def assign(self, request: Request, customer_id: str, room_id: str) -> Response:
        return await self._room_form(
            request, customer_id, room_id, "assign", "License assigned.",
            lambda f: {"command": "AssignLicense", "room_id": room_id, "po_number": f.get("po_number", "")},
        )

    async def move_license(self, request: Request, customer_id: str, room_id: str) -> Response:
        # The form names the room (unique within an account, R9); the command takes its id.
        rooms = await self._view(request, customer_id, "rooms") if await self._context(request, customer_id) else []
        here = next((r for r in rooms if r["room_id"] == room_id), None)
        by_name = {r["name"].casefold(): r["room_id"] for r in rooms if here and r["account_id"] == here["account_id"]}

        def build(f: Mapping[str, str]) -> dict[str, Any]:
            name = f.get("from_room", "").strip()
            # an unknown name goes to the command as a fresh id: refused there as "no such room" (R9)
            from_id = by_name.get(name.casefold(), str(uuid5(NAMESPACE_URL, name)))
            return {"command": "MoveLicense", "service": f.get("service", ""), "from_room_id": from_id,
                    "to_room_id": room_id}

        return await self._room_form(request, customer_id, room_id, "move-license", "License moved here.", build)

    async def register_device(self, request: Request, customer_id: str, room_id: str) -> Response:
        return await self._room_form(
            request, customer_id, room_id, "register", "Device registered.",
            lambda f: {"command": "RegisterDevice", "room_id": room_id, "serial_number": f.get("serial_number", ""),
                       "product": f.get("product", ""), "purchased_on": f.get("purchased_on", "")},
        )

    async def move_device(self, request: Request, customer_id: str, room_id: str) -> Response:
        return await self._room_form(
            request, customer_id, room_id, "move-device", "Device moved here.",
            lambda f: {"command": "MoveDevice", "serial_number": f.get("serial_number", ""), "to_room_id": room_id},
        )

    async def allocate_spare(self, request: Request, customer_id: str) -> Response:
        async def refused(error: Refused, status: int) -> Response:
            return await self._spares(request, customer_id, error, status)

        return await self._submit(
            request, customer_id, "allocate",
            lambda f: {"command": "AllocateSpare", "product": f.get("product", ""), "ship_to": f.get("ship_to", "")},
            refused, "Spare allocated.", f"/c/{customer_id}/spares",
        )

    def _access_form(
        self, request: Request, customer_id: str, form_id: str, done: str,
        build: Callable[[Mapping[str, str]], dict[str, Any]],
    ) -> Awaitable[Response]:
        async def refused(error: Refused, status: int) -> Response:
            return await self._access(request, customer_id, error, status)

        return self._submit(request, customer_id, form_id, build, refused, done, f"/c/{customer_id}/access")

    async def invite(self, request: Request, customer_id: str) -> Response:
        await require_csrf(request)
        found = await self._context(request, customer_id)
        if found is None:
            return self._signin_redirect(request) if current_principal(request) is None else self.not_found(request)
        door, principal, _here, _visible = found
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str) and k != "csrf_token"}
        answer = await door.command(principal, {"command": "InviteUser", "customer_id": customer_id,
                                                "email": form.get("email", ""), "role": form.get("role", "")})
        if not answer.ok:
            return await self._access(request, customer_id, Refused("invite", answer.words, form), answer.status)
        invitation = answer.body.get("invitation") or {}
        # The token is shown once, to the admin who caused it (as `POST /v1/commands` returns it), never stored.
        invited = {
            "email": invitation.get("email", form.get("email", "")),
            "expires_at": invitation.get("expires_at"),
            "link": f"{door.portal_url}/accept-invitation?token={invitation.get('token', '')}",
        }
        return await self._access(request, customer_id, invited=invited)

    async def change_role(self, request: Request, customer_id: str) -> Response:
        return await self._access_form(
            request, customer_id, "users", "Role changed.",
            lambda f: {"command": "ChangeRole", "email": f.get("email", ""), "role": f.get("role", "")},
        )

    async def remove_user(self, request: Request, customer_id: str) -> Response:
        return await self._access_form(
            request, customer_id, "users", "User removed.",
            lambda f: {"command": "RemoveUser", "email": f.get("email", "")},
        )

    async def delegate(self, request: Request, customer_id: str) -> Response:
        return await self._access_form(
            request, customer_id, "delegate", "Partner delegation saved.",
            lambda f: {"command": "DelegatePartner", "partner_id": f.get("partner_id", ""), "role": f.get("role", "")},
        )

    async def revoke(self, request: Request, customer_id: str) -> Response:
        return await self._access_form(
            request, customer_id, "partners", "Partner delegation revoked.",
            lambda f: {"command": "RevokePartner", "partner_id": f.get("partner_id", "")},
        )

    async def configure_sso(self, request: Request, customer_id: str) -> Response:
        return await self._access_form(
            request, customer_id, "sso", "Single sign-on saved.",
            lambda f: {"command": "ConfigureSso", "issuer": f.get("issuer", "").strip(),
                       "audience": f.get("audience", "").strip(),
                       "allowed_domains": [d.strip() for d in f.get("allowed_domains", "").split(",") if d.strip()]},
        )

    async def remove_sso(self, request: Request, customer_id: str) -> Response:
        return await self._access_form(
            request, customer_id, "sso", "Single sign-on removed.", lambda f: {"command": "RemoveSso"},
        )

    async def open_ticket(self, request: Request, customer_id: str) -> Response:
        """``OpenTicket`` from the portal (R24): the room by id (chosen from a list) or by its name."""
        found = await self._context(request, customer_id)
        rooms = await self._view(request, customer_id, "rooms") if found else []
        by_name: dict[str, list[str]] = {}
        for r in rooms:
            by_name.setdefault(r["name"].casefold(), []).append(r["room_id"])

        def build(f: Mapping[str, str]) -> dict[str, Any]:
            room_id = f.get("room_id", "").strip()
            if not room_id:
                name = f.get("room_name", "").strip()
                ids = by_name.get(name.casefold(), [])
                # an unknown name goes to the command as a fresh id: refused there as "no such room" (R9)
                room_id = ids[0] if len(ids) == 1 else str(uuid5(NAMESPACE_URL, "room:" + name))
            serials = [s for s in f.get("serial_numbers", "").replace(",", " ").split() if s]
            return {"command": "OpenTicket", "room_id": room_id, "severity": f.get("severity", ""),
                    "summary": f.get("summary", ""), "serial_numbers": serials, "source": "portal"}

        async def refused(error: Refused, status: int) -> Response:
            return await self._support(request, customer_id, error, status)

        async def opened(answer: Answer) -> Response:
            set_flash(request, "Ticket opened.")
            return RedirectResponse(f"/c/{customer_id}/support/{answer.body.get('ticket_id', '')}", status_code=303)

        return await self._submit(request, customer_id, "open-ticket", build, refused, "Ticket opened.",
                                  f"/c/{customer_id}/support", on_success=opened)

    def _ticket_form(
        self, request: Request, customer_id: str, ticket_id: str, form_id: str, done: str,
        build: Callable[[Mapping[str, str]], dict[str, Any]],
    ) -> Awaitable[Response]:
        async def refused(error: Refused, status: int) -> Response:
            return await self._ticket(request, customer_id, ticket_id, error, status)

        return self._submit(request, customer_id, form_id, build, refused, done,
                            f"/c/{customer_id}/support/{quote(ticket_id)}")

    async def comment(self, request: Request, customer_id: str, ticket_id: str) -> Response:
        return await self._ticket_form(
            request, customer_id, ticket_id, "comment", "Comment added.",
            lambda f: {"command": "CommentOnTicket", "ticket_id": ticket_id, "text": f.get("text", "")},
        )

    async def reopen(self, request: Request, customer_id: str, ticket_id: str) -> Response:
        return await self._ticket_form(
            request, customer_id, ticket_id, "reopen", "Ticket reopened.",
            lambda f: {"command": "ReopenTicket", "ticket_id": ticket_id},
        )

    # -- invitations (R15) -------------------------------------------------------------------------

    async def invitation_page(self, request: Request) -> Response:
        token = request.query_params.get("token")
        if token:
            # Keep the token out of the address bar, the history and any Referer: into the session, then away.
            request.session["invite_token"] = token[:512]
            return RedirectResponse("/accept-invitation", status_code=303)
        return self.render(request, "invitation.html", title="Accept your invitation",
                           has_token=bool(request.session.get("invite_token")))

    async def accept_invitation(self, request: Request) -> Response:
        await require_csrf(request)
        principal = current_principal(request)
        token = request.session.get("invite_token")
        if principal is None:
            request.session["next"] = "/accept-invitation"
            return RedirectResponse("/auth/signin", status_code=303)
        return await self.accept_with(request, principal, token)

    async def accept_with(self, request: Request, principal: Principal, token: str | None) -> Response:
        """Accept the invitation in the session as the signed-in principal (R15: its e-mail must match)."""
        if not token:
            return self.render(request, "invitation.html", 400, title="Accept your invitation", has_token=False)
        door = self.door_of(request)
        answer: Answer = await door.command(principal, {"command": "AcceptInvitation", "token": token})
        if not answer.ok:
            return self.render(request, "invitation.html", answer.status, title="Accept your invitation",
                               has_token=True, message=answer.words)
        request.session.pop("invite_token", None)
        customer_id = str(answer.body.get("customer_id", ""))
        visible = await run_in_threadpool(door.customers, principal)
        here = next((c for c in visible if c.customer_id == customer_id), None)
        return self.render(request, "invitation.html", title="Invitation accepted", has_token=False,
                           accepted={"customer_id": customer_id, "name": here.name if here else customer_id})


def summarise(data: Mapping[str, Any], limit: int = 160) -> str:
    """A short ``key=value`` line of an event's data for the history table."""
    parts = []
    for key, value in data.items():
        if isinstance(value, dict):
            continue
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value[:5])
        parts.append(f"{key}={value}")
    text = ", ".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def router(portal: Portal) -> APIRouter:
    """The portal's routes (excluded from the OpenAPI document: they are pages, not the API)."""
    r = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
    r.add_api_route("/", portal.home, methods=["GET"])
    r.add_api_route("/switch", portal.switch, methods=["GET"])
    r.add_api_route("/accept-invitation", portal.invitation_page, methods=["GET"])
    r.add_api_route("/accept-invitation", portal.accept_invitation, methods=["POST"])
    c = "/c/{customer_id}"
    r.add_api_route(c + "/orders", portal.orders, methods=["GET"])
    r.add_api_route(c + "/rooms", portal.rooms, methods=["GET"])
    r.add_api_route(c + "/rooms", portal.add_room, methods=["POST"])
    r.add_api_route(c + "/rooms/{room_id}", portal.room, methods=["GET"])
    r.add_api_route(c + "/rooms/{room_id}/assign", portal.assign, methods=["POST"])
    r.add_api_route(c + "/rooms/{room_id}/move-license", portal.move_license, methods=["POST"])
    r.add_api_route(c + "/rooms/{room_id}/devices", portal.register_device, methods=["POST"])
    r.add_api_route(c + "/rooms/{room_id}/move-device", portal.move_device, methods=["POST"])
    r.add_api_route(c + "/spares", portal.spares, methods=["GET"])
    r.add_api_route(c + "/spares", portal.allocate_spare, methods=["POST"])
    r.add_api_route(c + "/access", portal.access, methods=["GET"])
    r.add_api_route(c + "/access/invite", portal.invite, methods=["POST"])
    r.add_api_route(c + "/access/role", portal.change_role, methods=["POST"])
    r.add_api_route(c + "/access/remove", portal.remove_user, methods=["POST"])
    r.add_api_route(c + "/access/delegate", portal.delegate, methods=["POST"])
    r.add_api_route(c + "/access/revoke", portal.revoke, methods=["POST"])
    r.add_api_route(c + "/access/sso", portal.configure_sso, methods=["POST"])
    r.add_api_route(c + "/access/sso/remove", portal.remove_sso, methods=["POST"])
    r.add_api_route(c + "/support", portal.support, methods=["GET"])
    r.add_api_route(c + "/support", portal.open_ticket, methods=["POST"])
    r.add_api_route(c + "/support/{ticket_id}", portal.ticket, methods=["GET"])
    r.add_api_route(c + "/support/{ticket_id}/comment", portal.comment, methods=["POST"])
    r.add_api_route(c + "/support/{ticket_id}/reopen", portal.reopen, methods=["POST"])
    r.add_api_route(c + "/history", portal.history, methods=["GET"])
    return r
