"""The Service Portal in a real browser (Debian Chromium through Playwright) against a real ``ledger serve``
and the real OpenID provider (``idp/``, npm ``oidc-provider``). Screenshots: ``.cache/screenshots/``.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from ledger.http.portal import demo
from tests.kit.browser import PHONE, Chromium, axe_violations, html_errors, screenshot
from tests.kit.browser import chromium as chromium  # the session fixture
from tests.kit.http import Client, create_key
from tests.kit.portal import PASSWORD, Portal
from tests.kit.portal import portal as portal  # the module fixture

pytestmark = [pytest.mark.integration, pytest.mark.backend_independent]

ACME = "Acme Corporation"


def sign_in(page: Any, portal: Portal, email: str, path: str = "/") -> None:
    """Open the portal, continue to the provider, sign in there, come back signed in."""
    page.goto(portal.url + path)
    if "/auth/signin" in page.url:
        page.get_by_role("button", name="Continue to sign in").click()
    page.wait_for_url(re.compile(r".*/interaction/.*"))
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(re.escape(portal.url) + r"/.*"))
    page.wait_for_load_state("networkidle")


def see_flash(page: Any, words: str) -> None:
    """Wait for the confirmation of the last form (exactly these words)."""
    page.locator("p.flash", has_text=re.compile("^" + re.escape(words) + "$")).wait_for()


def csrf_of(page: Any) -> str:
    token: str = page.locator("input[name=csrf_token]").first.get_attribute("value")
    return token


def event_count(page: Any, portal: Portal, customer_id: str) -> int:
    """How many events the customer has, read from its History page (as this user sees it)."""
    page.goto(f"{portal.url}/c/{customer_id}/history")
    caption = page.locator("nav.pager span").first
    if caption.count():
        return int(re.search(r"\((\d+) in all\)", caption.inner_text()).group(1))  # type: ignore[union-attr]
    return page.locator("tbody tr").count()


def without_csrf(html: str) -> str:
    """A page without its CSRF token, which is masked afresh on every response (BREACH)."""
    return re.sub(r'name="csrf_token" value="[^"]+"', 'name="csrf_token"', html)


def write_controls(page: Any) -> list[str]:
    """Every form that changes something (all POST forms but sign-out) and every enabled write button."""
    return page.eval_on_selector_all(
        "form[method=post]:not([action='/auth/signout'])", "forms => forms.map(f => f.getAttribute('action'))"
    )


def test_r16_admin_signs_in_sees_contracts_adds_room_assigns_license_registers_device_invites_viewer(
    chromium: Chromium, portal: Portal
) -> None:
    journey = "admin"
    context = chromium.context()
    page = context.new_page()
    sign_in(page, portal, demo.ADMIN)
    acme = portal.customers[ACME]
    assert page.url.endswith(f"/c/{acme}/orders")
    assert page.evaluate("typeof window.htmx") == "object"  # the pinned htmx is served and runs
    rows = page.locator("table tbody tr")
    assert rows.filter(has_text="DEMO-001").count() == 1 and rows.filter(has_text="DEMO-002").count() == 1
    assert "active" in rows.filter(has_text="DEMO-001").inner_text()
    screenshot(page, journey, "1-service-orders")

    page.get_by_role("link", name="Rooms", exact=True).click()
    page.wait_for_url(f"**/c/{acme}/rooms")
    page.get_by_label("Room name").fill("Journey Room")
    page.get_by_label("Site").fill("Chicago office")
    page.get_by_label("Country").select_option("US")
    page.get_by_role("button", name="Add room").click()
    see_flash(page, "Room Journey Room added.")
    screenshot(page, journey, "2-room-added")
    page.get_by_role("link", name="Journey Room").click()
    page.wait_for_selector("h1:has-text('Journey Room')")

    page.get_by_label("Contract (PO)").select_option("DEMO-001")
    page.get_by_role("button", name="Assign license").click()
    see_flash(page, "License assigned.")
    assert page.locator("table").first.locator("tbody").inner_text().count("DEMO-001") == 1
    serial = f"JRN-{uuid.uuid4().hex[:8].upper()}"
    page.get_by_label("Serial number", exact=True).first.fill(serial)
    page.get_by_label("Product").select_option("Rally Bar")
    page.get_by_label("Purchased on").fill("2026-10-01")
    page.get_by_role("button", name="Register device").click()
    see_flash(page, "Device registered.")
    devices = page.locator("table").nth(1).inner_text()
    assert serial in devices and "2029-09" in devices  # warranty ends with the contract (R11)
    screenshot(page, journey, "3-license-and-device")

    # a refusal is shown next to its form, in the rule's words: the serial is taken now (R11)
    page.get_by_label("Serial number", exact=True).first.fill(serial)
    page.get_by_label("Product").select_option("Rally Bar")
    page.get_by_label("Purchased on").fill("2026-10-01")
    page.get_by_role("button", name="Register device").click()
    refusal = page.locator("#register-error")
    refusal.wait_for()
    assert "R11" in refusal.inner_text() and serial in refusal.inner_text()
    screenshot(page, journey, "4-refusal-next-to-form")

    # move the license and the device on to another room of the same account (R10, R11)
    page.get_by_role("link", name="Rooms", exact=True).click()
    page.get_by_role("link", name="Training").click()
    page.wait_for_selector("h1:has-text('Training')")
    page.get_by_label("From room (its name, same account)").fill("Journey Room")
    page.get_by_role("button", name="Move license").click()
    see_flash(page, "License moved here.")
    assert "DEMO-001" in page.locator("table").first.inner_text()
    page.get_by_label("Serial number", exact=True).nth(1).fill(serial)
    page.get_by_role("button", name="Move device").click()
    see_flash(page, "Device moved here.")
    assert serial in page.locator("table").nth(1).inner_text()
    screenshot(page, journey, "4b-moved-here")

    page.get_by_role("link", name="Access").click()
    invite = page.get_by_role("region", name="Invite a co-worker")
    invite.get_by_label("E-mail").fill("newcomer@acme.example")
    invite.get_by_label("Role").select_option("viewer")
    page.get_by_role("button", name="Send invitation").click()
    link = page.locator("a.invite-link")
    link.wait_for()
    invitation_url = link.get_attribute("href")
    assert invitation_url and invitation_url.startswith(portal.url + "/accept-invitation?token=")
    screenshot(page, journey, "5-invitation")

    page.set_viewport_size(PHONE)
    page.get_by_role("link", name="Rooms", exact=True).click()
    page.wait_for_selector("h1:has-text('Rooms')")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")  # no sideways scroll
    screenshot(page, journey, "6-rooms-phone")
    context.close()

    # the invited person opens the link, signs in and is a viewer at once (R15, R16)
    newcomer = chromium.context()
    page = newcomer.new_page()
    page.goto(invitation_url)
    assert "token=" not in page.url  # the token leaves the address bar at once
    page.get_by_role("button", name="Sign in to accept").click()
    page.wait_for_url(re.compile(r".*/interaction/.*"))
    page.get_by_label("E-mail").fill("newcomer@acme.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.locator("p.flash", has_text="now has access to Acme Corporation").wait_for()
    screenshot(page, "invitation", "accepted")
    page.get_by_role("link", name="Open Service Orders").click()
    assert "View (read only)" in page.locator("nav.side").inner_text()
    newcomer.close()


def test_r16_viewer_finds_no_write_control_and_a_crafted_post_is_refused(chromium: Chromium, portal: Portal) -> None:
    context = chromium.context()
    page = context.new_page()
    sign_in(page, portal, demo.VIEWER)
    acme = portal.customers[ACME]
    rooms_before = None
    for section in ("orders", "rooms", "spares", "access", "support", "history"):
        page.goto(f"{portal.url}/c/{acme}/{section}")
        assert write_controls(page) == [], section
        screenshot(page, "viewer", section)
        if section == "rooms":
            rooms_before = page.locator("table tbody tr").count()
            first_room = page.locator("table tbody tr th a").first.get_attribute("href")
    page.goto(portal.url + str(first_room))
    assert write_controls(page) == []
    events = event_count(page, portal, acme)
    page.goto(f"{portal.url}/c/{acme}/rooms")
    crafted = page.request.post(
        f"{portal.url}/c/{acme}/rooms",
        form={"csrf_token": csrf_of(page), "account_id": str(uuid.uuid4()), "name": "Sneaky", "site": "x",
              "country": "US"},
        headers={"Origin": portal.url},
    )
    assert crafted.status == 403
    assert "viewer" in crafted.text() and "(R16)" in crafted.text()
    assert event_count(page, portal, acme) == events  # nothing recorded
    page.goto(f"{portal.url}/c/{acme}/rooms")
    assert page.locator("table tbody tr").count() == rooms_before
    context.close()


def test_r17_partner_user_switches_between_two_delegating_customers_never_sees_a_third(
    chromium: Chromium, portal: Portal
) -> None:
    context = chromium.context()
    page = context.new_page()
    sign_in(page, portal, demo.PARTNER_USER)
    choices = page.locator("ul.choices").inner_text()
    assert "Acme Corporation" in choices and "Initech" in choices and "Umbrella" not in choices
    screenshot(page, "partner", "1-choose")
    page.get_by_role("link", name="Initech").click()
    page.wait_for_selector("h1:has-text('Service Orders')")
    assert "DEMO-101" in page.locator("table").inner_text()
    switcher = page.get_by_role("combobox", name="Customer")
    options = switcher.locator("option").all_inner_texts()
    assert sorted(options) == ["Acme Corporation", "Initech"]
    switcher.select_option(label="Acme Corporation")
    page.get_by_role("button", name="Switch").click()
    page.wait_for_url(f"**/c/{portal.customers[ACME]}/orders")
    assert "DEMO-001" in page.locator("table").inner_text()
    screenshot(page, "partner", "2-switched")
    # least privilege (R17): the partner works rooms but gets no access-management controls
    page.get_by_role("link", name="Access").click()
    page.wait_for_selector("h1:has-text('Access')")
    assert write_controls(page) == []
    page.get_by_role("link", name="Rooms", exact=True).click()
    page.wait_for_selector("h1:has-text('Rooms')")
    assert write_controls(page) == [f"/c/{portal.customers[ACME]}/rooms"]
    # the third customer answers exactly like one that does not exist
    umbrella = page.request.get(f"{portal.url}/c/{portal.customers['Umbrella Corporation']}/orders")
    nowhere = page.request.get(f"{portal.url}/c/{uuid.uuid4()}/orders")
    assert umbrella.status == nowhere.status == 404
    assert without_csrf(umbrella.text()) == without_csrf(nowhere.text())
    context.close()


def test_r15_invitation_accepted_by_a_different_email_is_refused(chromium: Chromium, portal: Portal) -> None:
    admin = chromium.context()
    page = admin.new_page()
    sign_in(page, portal, demo.ADMIN)
    page.goto(f"{portal.url}/c/{portal.customers[ACME]}/access")
    page.get_by_role("region", name="Invite a co-worker").get_by_label("E-mail").fill("forwarded@acme.example")
    page.get_by_role("button", name="Send invitation").click()
    link = page.locator("a.invite-link")
    link.wait_for()
    invitation_url = link.get_attribute("href")
    admin.close()

    stranger = chromium.context()
    page = stranger.new_page()
    sign_in(page, portal, "stranger@acme.example")
    page.goto(str(invitation_url))
    page.get_by_role("button", name="Accept the invitation as stranger@acme.example").click()
    refusal = page.locator("p.refusal")
    refusal.wait_for()
    words = refusal.inner_text()
    assert "R15" in words and "forwarded@acme.example" not in page.locator("header").inner_text()
    assert "cannot be forwarded" in words or "designated" in words or "only for" in words, words
    screenshot(page, "invitation", "wrong-email-refused")
    page.goto(portal.url + "/")
    assert "has no access to any customer" in page.locator("main").inner_text()
    stranger.close()


def test_csrf_less_and_cross_origin_posts_are_refused_and_record_nothing(chromium: Chromium, portal: Portal) -> None:
    context = chromium.context()
    page = context.new_page()
    sign_in(page, portal, demo.ADMIN)
    acme = portal.customers[ACME]
    events = event_count(page, portal, acme)
    page.goto(f"{portal.url}/c/{acme}/rooms")
    account = page.get_by_label("Account").locator("option").first.get_attribute("value")
    form = {"account_id": str(account), "name": "No Token Room", "site": "x", "country": "US"}
    without = page.request.post(f"{portal.url}/c/{acme}/rooms", form=form)
    assert without.status == 403 and "CSRF" in without.text()
    wrong = page.request.post(f"{portal.url}/c/{acme}/rooms", form={**form, "csrf_token": "forged"})
    assert wrong.status == 403
    foreign = page.request.post(
        f"{portal.url}/c/{acme}/rooms", form={**form, "csrf_token": csrf_of(page)},
        headers={"Origin": "http://evil.example"},
    )
    assert foreign.status == 403
    assert event_count(page, portal, acme) == events
    # and the session cookie is HttpOnly and SameSite=Lax (Secure only off loopback)
    cookie = next(c for c in context.cookies() if c["name"] == "ledger_portal")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]
    context.close()


def test_sign_out_ends_the_session(chromium: Chromium, portal: Portal) -> None:
    context = chromium.context()
    page = context.new_page()
    sign_in(page, portal, demo.ADMIN)
    page.get_by_role("button", name="Sign out").click()
    see_flash(page, "You are signed out.")
    page.goto(f"{portal.url}/c/{portal.customers[ACME]}/orders")
    assert "/auth/signin" in page.url
    context.close()


def test_keyboard_skip_link_and_every_form_control_labelled(chromium: Chromium, portal: Portal) -> None:
    context = chromium.context()
    page = context.new_page()
    sign_in(page, portal, demo.ADMIN)
    page.goto(f"{portal.url}/c/{portal.customers[ACME]}/rooms")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"
    # the add-room form can be filled and sent with the keyboard alone
    page.get_by_label("Room name").focus()
    page.keyboard.type("Keyboard Room")
    page.keyboard.press("Tab")
    page.keyboard.type("Keyboard site")
    page.keyboard.press("Tab")  # country select
    page.keyboard.press("Tab")  # the button
    assert page.evaluate("document.activeElement.textContent") == "Add room"
    page.keyboard.press("Enter")
    see_flash(page, "Room Keyboard Room added.")
    context.close()


PAGES = ("orders", "rooms", "room", "spares", "access", "support", "ticket", "history")


def test_every_page_passes_axe_and_the_html_checker_at_1280_px_and_phone_width(
    chromium: Chromium, portal: Portal
) -> None:
    context = chromium.context()
    page = context.new_page()
    sign_in(page, portal, demo.ADMIN)
    acme = portal.customers[ACME]
    page.goto(f"{portal.url}/c/{acme}/rooms")
    room = page.locator("table tbody tr th a").first.get_attribute("href")
    urls = {name: f"{portal.url}/c/{acme}/{name}" for name in PAGES}
    urls["room"] = portal.url + str(room)
    ticket_id = _open_by_api(portal, acme, "Boardroom", "Checked by axe and the HTML checker")
    urls["ticket"] = f"{portal.url}/c/{acme}/support/{ticket_id}"
    urls["history-as-of"] = f"{portal.url}/c/{acme}/history?as_of=2026-10-01"
    findings: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for width in (None, PHONE):
        if width:
            page.set_viewport_size(width)
        for name, url in urls.items():
            page.goto(url)
            violations = axe_violations(page)
            if violations:
                findings[f"{name}@{'phone' if width else '1280'}"] = violations
            sources[name] = page.request.get(url).text()
    anonymous = chromium.context()
    other = anonymous.new_page()
    for name, path in (("signin", "/auth/signin"), ("invitation", "/accept-invitation")):
        other.goto(portal.url + path)
        violations = axe_violations(other)
        if violations:
            findings[name] = violations
        sources[name] = other.request.get(portal.url + path).text()
    anonymous.close()
    partner = chromium.context()
    chooser = partner.new_page()
    sign_in(chooser, portal, demo.PARTNER_USER)
    if violations := axe_violations(chooser):
        findings["chooser"] = violations
    sources["chooser"] = chooser.request.get(portal.url + "/").text()
    partner.close()
    context.close()
    assert findings == {}
    assert html_errors(sources) == {}


def test_api_and_portal_are_one_application(portal: Portal) -> None:
    """The pages are mounted beside /v1 on the same server; the API still wants a bearer credential."""
    assert httpx.get(portal.url + "/v1/customers").status_code == 401
    assert httpx.get(portal.url + "/static/portal/htmx.min.js").text.startswith("var htmx")
    assert "text/html" in httpx.get(portal.url + "/auth/signin").headers["content-type"]


def test_portal_pages_and_htmx_are_gzip_compressed_for_a_browser_that_accepts_it(portal: Portal) -> None:
    """Pages above the size threshold travel gzip-compressed; the same page without gzip is identical."""
    import gzip

    from tests.kit.portal import signin_script

    acme = portal.customers[ACME]
    with httpx.Client(timeout=60.0) as client:
        signin_script(client, portal.url, demo.ADMIN)
        for path in (f"/c/{acme}/rooms", f"/c/{acme}/history", "/static/portal/htmx.min.js"):
            with client.stream("GET", portal.url + path, headers={"Accept-Encoding": "gzip"}) as packed:
                wire = b"".join(packed.iter_raw())
            plain = client.get(portal.url + path, headers={"Accept-Encoding": "identity"})
            assert packed.status_code == plain.status_code == 200, path
            assert packed.headers["content-encoding"] == "gzip", path
            assert "content-encoding" not in plain.headers, path
            assert len(wire) < len(plain.content) / 2, path
            unpacked = gzip.decompress(wire)
            if path.startswith("/static/"):
                assert unpacked == plain.content
            else:  # a page: the same but for its freshly masked CSRF token
                mask = re.compile(rb'name="csrf_token" value="[^"]+"')
                assert mask.sub(b"", unpacked) == mask.sub(b"", plain.content), path
        small = client.get(portal.url + "/livez", headers={"Accept-Encoding": "gzip"})
        assert small.json() == {"status": "ok"} and "content-encoding" not in small.headers


def test_r15_the_welcome_mails_link_opens_the_invitation_page_and_drops_the_token_from_the_address(
    portal: Portal,
) -> None:
    """``ledger notify`` links to ``LEDGER_PORTAL_URL?token=…``; the portal keeps the token in the session."""
    response = httpx.get(portal.url + "/?token=some-token", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/accept-invitation"
    assert "ledger_portal=" in response.headers["set-cookie"]  # the token went into the (signed) session


def test_r22_sign_in_through_the_customers_own_sso_issuer_chosen_by_the_email_domain(
    chromium: Chromium, portal: Portal
) -> None:
    """Acme's admin configures Acme's own issuer; a person typing an acme.example e-mail signs in there."""
    sso = portal.idp["acme"]
    sso.add_user("it@acme.example", password=PASSWORD)
    admin = chromium.context()
    page = admin.new_page()
    sign_in(page, portal, demo.ADMIN)
    page.goto(f"{portal.url}/c/{portal.customers[ACME]}/access")
    form = page.get_by_role("region", name="Single sign-on")
    form.get_by_label("Issuer URL").fill(sso.issuer)
    form.get_by_label("Client id registered at your issuer").fill(sso.client_id)
    form.get_by_label("Allowed e-mail domains (comma-separated)").fill("acme.example")
    form.get_by_role("button", name="Save single sign-on").click()
    see_flash(page, "Single sign-on saved.")
    assert sso.issuer in page.get_by_role("region", name="Single sign-on").inner_text()
    invite = page.get_by_role("region", name="Invite a co-worker")
    invite.get_by_label("E-mail").fill("it@acme.example")
    invite.get_by_role("button", name="Send invitation").click()
    link = page.locator("a.invite-link")
    link.wait_for()
    invitation_url = str(link.get_attribute("href"))
    screenshot(page, "sso", "1-configured")
    admin.close()

    person = chromium.context()
    page = person.new_page()
    page.goto(invitation_url)
    page.get_by_label("Your work e-mail (optional: chooses your company's single sign-on)").fill("it@acme.example")
    page.get_by_role("button", name="Sign in to accept").click()
    page.wait_for_url(re.compile(re.escape(sso.issuer) + r"/interaction/.*"))  # Acme's issuer, not the operator's
    page.get_by_label("E-mail").fill("it@acme.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.locator("p.flash", has_text="now has access to Acme Corporation").wait_for()
    screenshot(page, "sso", "2-accepted-through-acme-issuer")
    # that identity acts on Acme only (R22): Initech answers like a customer that does not exist
    assert page.request.get(f"{portal.url}/c/{portal.customers['Initech']}/orders").status == 404
    person.close()


# ----- Support (R24–R26)


def _ops(portal: Portal) -> Client:
    """Support staff over the API (an ops key): what moves a ticket's status (R25) in these journeys."""
    return Client(portal.url, create_key(portal.server.db, f"support-{uuid.uuid4().hex[:8]}", "--role", "ops"))


def _open_by_api(portal: Portal, customer_id: str, room: str, summary: str) -> str:
    ops = _ops(portal)
    try:
        rooms = ops.get(f"/v1/customers/{customer_id}/rooms").json()
        room_id = next(r["room_id"] for r in rooms if r["name"] == room)
        opened = ops.ok({"command": "OpenTicket", "customer_id": customer_id, "room_id": room_id,
                         "severity": "normal", "summary": summary, "source": "api"})
        return str(opened["ticket_id"])
    finally:
        ops.close()


def test_r24_r25_admin_opens_a_ticket_comments_and_reopens_it_refusals_next_to_the_form(
    chromium: Chromium, portal: Portal
) -> None:
    journey = "support"
    acme = portal.customers[ACME]
    context = chromium.context()
    page = context.new_page()
    sign_in(page, portal, demo.ADMIN)
    page.get_by_role("link", name="Support", exact=True).click()
    page.wait_for_selector("h1:has-text('Support')")
    screenshot(page, journey, "1-support")

    summary = f"No video from the Rally Bar {uuid.uuid4().hex[:6]}"
    form = page.get_by_role("region", name="Open a ticket")
    form.get_by_label("Room", exact=True).select_option(label="Boardroom (New York HQ)")
    form.get_by_label("Severity").select_option("high")
    form.get_by_label("Summary").fill(summary)
    form.get_by_label("Serial numbers (devices of that room, separated by spaces; optional)").fill("DEMO-SN-001")
    form.get_by_role("button", name="Open ticket").click()
    see_flash(page, "Ticket opened.")
    assert re.search(rf"/c/{acme}/support/[0-9a-f-]{{36}}$", page.url)
    ticket_url = page.url
    facts = page.locator("dl.facts").first.inner_text()
    assert summary in page.locator("h1").inner_text()
    assert "Select support" in facts and "Open" in facts and "high" in facts  # a Select room (R24)
    assert "DEMO-SN-001" in page.locator("table").first.inner_text()  # the room as it was (snapshot, R24)
    screenshot(page, journey, "2-opened")

    page.get_by_label("Comment", exact=True).fill("It started after the firmware update.")
    page.get_by_role("button", name="Add comment").click()
    see_flash(page, "Comment added.")
    assert "It started after the firmware update." in page.locator("ol.timeline").inner_text()
    assert page.get_by_role("button", name="Reopen ticket").count() == 0  # an open ticket is not reopened

    # a crafted reopen of an open ticket: refused in the rule's words, next to the reopen form (R25)
    crafted = page.request.post(ticket_url + "/reopen", form={"csrf_token": csrf_of(page)},
                                headers={"Origin": portal.url})
    assert crafted.status == 409 and "only a resolved ticket can be reopened (R25)" in crafted.text()
    assert 'id="reopen-error"' in crafted.text()

    # support staff resolve it; the admin reopens it within 14 days (R25)
    ticket_id = ticket_url.rsplit("/", 1)[1]
    ops = _ops(portal)
    try:
        for status in ("in_progress", "resolved"):
            ops.ok({"command": "UpdateTicket", "customer_id": acme, "ticket_id": ticket_id, "status": status})
    finally:
        ops.close()
    page.goto(ticket_url)
    assert "Resolved" in page.locator("dl.facts").first.inner_text()
    page.get_by_role("button", name="Reopen ticket").click()
    see_flash(page, "Ticket reopened.")
    assert "In progress" in page.locator("dl.facts").first.inner_text()
    timeline = page.locator("ol.timeline").inner_text()
    assert "to Resolved" in timeline and "reopened it" in timeline
    screenshot(page, journey, "3-reopened")

    # the list: filtered by status, the ticket is under "In progress" and not under "Closed"
    page.goto(f"{portal.url}/c/{acme}/support")
    page.get_by_label("Status").select_option("in_progress")
    page.get_by_role("button", name="Show").click()
    page.locator("caption", has_text="in progress").wait_for()
    assert page.locator("table tbody tr").filter(has_text=summary[:40]).count() == 1
    page.goto(f"{portal.url}/c/{acme}/support?status=closed")
    assert summary[:40] not in page.locator("table tbody").inner_text()

    # a room without a Select license, Jumpstart or device under warranty: refused next to the form (R24)
    page.get_by_role("link", name="Rooms", exact=True).click()
    bare = f"Bare room {uuid.uuid4().hex[:6]}"
    page.get_by_label("Room name").fill(bare)
    page.get_by_label("Site").fill("Basement")
    page.get_by_label("Country").select_option("US")
    page.get_by_role("button", name="Add room").click()
    see_flash(page, f"Room {bare} added.")
    page.get_by_role("link", name="Support", exact=True).click()
    page.wait_for_selector("h1:has-text('Support')")
    form = page.get_by_role("region", name="Open a ticket")
    form.get_by_label("Room", exact=True).select_option(label=f"{bare} (Basement)")
    form.get_by_label("Summary").fill("Nothing works")
    form.get_by_role("button", name="Open ticket").click()
    refusal = page.locator("#open-ticket-error")
    refusal.wait_for()
    assert "(R24)" in refusal.inner_text()
    assert form.get_by_label("Summary").input_value() == "Nothing works"  # what was typed stays
    screenshot(page, journey, "4-refused")
    page.set_viewport_size(PHONE)
    page.goto(ticket_url)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(page, journey, "5-ticket-phone")
    context.close()


def test_r24_viewer_reads_tickets_without_write_controls_and_crafted_posts_are_403(
    chromium: Chromium, portal: Portal
) -> None:
    acme = portal.customers[ACME]
    summary = f"Viewer can read this {uuid.uuid4().hex[:6]}"
    ticket_id = _open_by_api(portal, acme, "Huddle 1", summary)
    context = chromium.context()
    page = context.new_page()
    sign_in(page, portal, demo.VIEWER)
    page.goto(f"{portal.url}/c/{acme}/support")
    assert summary in page.locator("table tbody").inner_text()  # visible to every user (R24)
    assert write_controls(page) == []
    page.get_by_role("link", name=summary).click()
    page.wait_for_selector(f"h1:has-text('{summary}')")
    assert write_controls(page) == []
    screenshot(page, "viewer", "ticket")
    events = event_count(page, portal, acme)
    page.goto(f"{portal.url}/c/{acme}/support")
    token = csrf_of(page)
    for path, form in (
        ("/support", {"room_id": str(uuid.uuid4()), "severity": "low", "summary": "Sneaky"}),
        (f"/support/{ticket_id}/comment", {"text": "Sneaky"}),
        (f"/support/{ticket_id}/reopen", {}),
    ):
        crafted = page.request.post(f"{portal.url}/c/{acme}{path}", form={"csrf_token": token, **form},
                                    headers={"Origin": portal.url})
        assert crafted.status == 403, path
        assert "viewer" in crafted.text() and ("(R24)" in crafted.text() or "(R25)" in crafted.text()), path
    assert event_count(page, portal, acme) == events  # nothing recorded
    context.close()


def test_r17_r24_partner_admin_opens_a_ticket_for_a_delegating_customer_only(
    chromium: Chromium, portal: Portal
) -> None:
    acme = portal.customers[ACME]
    context = chromium.context()
    page = context.new_page()
    sign_in(page, portal, demo.PARTNER_USER)
    page.goto(f"{portal.url}/c/{acme}/support")
    assert write_controls(page) == [f"/c/{acme}/support"]  # an admin delegation opens tickets (R24)
    summary = f"Partner reports a fault {uuid.uuid4().hex[:6]}"
    form = page.get_by_role("region", name="Open a ticket")
    form.get_by_label("Room", exact=True).select_option(label="Huddle 1 (New York HQ)")
    form.get_by_label("Summary").fill(summary)
    form.get_by_role("button", name="Open ticket").click()
    see_flash(page, "Ticket opened.")
    assert demo.PARTNER_USER in page.locator("dl.facts").first.inner_text()  # opened by the partner user
    screenshot(page, "partner", "3-ticket")
    umbrella = page.request.get(f"{portal.url}/c/{portal.customers['Umbrella Corporation']}/support")
    nowhere = page.request.get(f"{portal.url}/c/{uuid.uuid4()}/support")
    assert umbrella.status == nowhere.status == 404 and without_csrf(umbrella.text()) == without_csrf(nowhere.text())
    context.close()
