"""The notifications consumer (R19): e-mails rendered from the event stream, sent over SMTP once each.

- ``OrderPlaced`` → the purchase confirmation: subject "Logitech Select Service Contract Details",
  from "Logitech Support Services <noreply@logitech.com>", to the end customer, Cc the reseller and
  the distributor, with the PO number, service, term and quantity.
- ``InvitationSent`` and ``UserInvited`` → the welcome invitation: subject "Welcome to Logitech
  Select", to the invited person only (on a first order, the end customer), with the link to accept.
- ``TicketStatusChanged`` and ``TicketReopened`` → a ticket update to the person who opened the ticket
  (R25), when that was a portal user (an e-mail), not support staff or an integration.

The link's token is never on the stream (R15). Tokens are keyed MACs of (customer id, invitation id)
under the ledger's secret key (``commands/tokens.py``), so this consumer, configured with the same
key as the ledger (``LEDGER_SECRET_KEY`` / ``LEDGER_SECRET_FILE``), derives the very token the command
returned from the ids the event carries. A consumer without the key cannot make a working link.

Error policy (SPEC 9): an event whose mails cannot be made or handed over (a message that is not a
valid ledger event, a rendering failure, a recipient the server keeps refusing for ``park_after``
seconds) is parked under its customer (``ledger.ops.parked``); that customer's later events are
parked behind it, in order, while other customers' mails go on. ``ledger parked retry`` marks them
for this consumer to try again (it does so while it runs), ``ledger parked discard`` gives them up.
An outage of the SMTP server itself is not an event's fault: it is waited out as before.

Once per event, also across restarts: a sent-log in the consumer's own SQLite file, keyed by the
event id, is checked before and written right after each mail is accepted by the SMTP server; the
subscriber's positions and dedup memory live in the same file. Each mail's Message-ID is derived
from the event id too, so the one crash window left (after the server accepted a mail, before the
log was written) can only resend the same Message-ID, which mail systems recognise.
"""

from __future__ import annotations

import json
import smtplib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote

from commands.tokens import issue_token
from ledger.ops.metrics import ConsumerStatus
from ledger.ops.parked import Parked, ParkedStore, sqlite_engine
from ledger.stream.envelope import EnvelopeError, StreamEvent, decode, event_id, read_event
from ledger.stream.schemas.models import InvitationSent, OrderPlaced, TicketReopened, TicketStatusChanged, UserInvited
from ledger.stream.subscriber import SqliteCheckpointStore, Subscriber

SENDER = "Logitech Support Services <noreply@logitech.com>"
PURCHASE_SUBJECT = "Logitech Select Service Contract Details"
WELCOME_SUBJECT = "Welcome to Logitech Select"
DEFAULT_PORTAL_URL = "https://select.logitech.com/portal/accept-invitation"
SERVICE_NAMES = {
    "select": "Logitech Select",
    "syncplus": "Logitech Sync Plus",
    "extended_warranty": "Logitech Extended Warranty",
    "jumpstart": "Logitech Jumpstart",
}
TICKET_STATUS_NAMES = {
    "open": "open",
    "in_progress": "in progress",
    "waiting_on_customer": "waiting on you",
    "resolved": "resolved",
    "closed": "closed",
}


class NotifyError(Exception):
    """The consumer cannot go on; the message says why."""


class MailFailed(Exception):
    """This event's mail cannot be handed over (not the server's outage): the event is parked."""


@dataclass(frozen=True)
class Mail:
    event_id: str
    kind: str
    message: EmailMessage

    @property
    def recipients(self) -> list[str]:
        addresses: list[str] = []
        for header in ("To", "Cc"):
            for value in self.message.get_all(header) or []:
                addresses.extend(a.strip() for a in str(value).split(",") if a.strip())
        return addresses


def _message(event: StreamEvent[Any], kind: str, subject: str, to: str, cc: Iterable[str] = ()) -> EmailMessage:
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = to
    cc = [c for c in dict.fromkeys(cc) if c and c != to]
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = f"<{event.id}.{kind}@select-ledger>"
    message["X-Select-Event-Id"] = event.id
    message["X-Select-Customer-Id"] = str(event.customer_id)
    return message


def _set_body(message: EmailMessage, lines: list[str]) -> None:
    """Plain text; 7bit when it is ASCII so links stay whole in the raw message."""
    text = "\n".join(lines) + "\n"
    message.set_content(text, cte="7bit" if text.isascii() else "quoted-printable")


def purchase_confirmation(event: StreamEvent[OrderPlaced]) -> Mail:
    order = event.data
    message = _message(
        event,
        "purchase-confirmation",
        PURCHASE_SUBJECT,
        order.end_customer.email,
        [order.reseller.email, order.distributor.email],
    )
    message["X-Select-PO-Number"] = order.po_number
    service = SERVICE_NAMES.get(order.service, order.service)
    if order.years is None:
        years = "90 days from the order"
    else:
        years = f"{order.years} year" + ("s" if order.years != 1 else "")
    address = order.end_customer.address
    lines = [
        f"Dear {order.end_customer.company},",
        "",
        f"thank you for your purchase of {service}. Your service contract is recorded:",
        "",
        f"  PO number:     {order.po_number}",
        f"  Service:       {service}",
        f"  Term:          {years}",
        f"  Licenses:      {order.quantity} (one per room)",
        f"  Ordered on:    {event.effective_at.date().isoformat()}",
        f"  Ship-to:       {address.line1}, {address.postal_code} {address.city}, {address.country}",
        f"  Reseller:      {order.reseller.name}",
        f"  Distributor:   {order.distributor.name}",
        "",
        f"The term starts when the first license is assigned to a room, or {order.grace_days} days after "
        "the order, whichever is earlier.",
        "",
        "Logitech Support Services",
    ]
    _set_body(message, lines)
    return Mail(event.id, "purchase-confirmation", message)


def invitation_link(portal_url: str, token: str) -> str:
    separator = "&" if "?" in portal_url else "?"
    return f"{portal_url}{separator}token={quote(token)}"


def welcome_invitation(
    event: StreamEvent[InvitationSent] | StreamEvent[UserInvited], secret_key: bytes, portal_url: str
) -> Mail:
    invitation = event.data
    token = issue_token(secret_key, event.customer_id, invitation.invitation_id)
    message = _message(event, "welcome-invitation", WELCOME_SUBJECT, invitation.email)
    lines = [
        "Welcome to Logitech Select!",
        "",
        f"You have been invited to the Logitech Select Service Portal as {invitation.role}.",
        "Accept the invitation with this link (it works for your e-mail address only):",
        "",
        f"  {invitation_link(portal_url, token)}",
        "",
        f"The link is valid until {invitation.expires_at.astimezone(UTC).strftime('%Y-%m-%d %H:%M UTC')}.",
        "",
        "Logitech Support Services",
    ]
    _set_body(message, lines)
    return Mail(event.id, "welcome-invitation", message)


def ticket_update(event: StreamEvent[TicketStatusChanged] | StreamEvent[TicketReopened]) -> Mail | None:
    """R25: the ticket's opener hears of every status change (not ops or an integration key)."""
    data = event.data
    if "@" not in data.opened_by:
        return None
    status = data.status if isinstance(data, TicketStatusChanged) else "in_progress"
    words = TICKET_STATUS_NAMES.get(status, status)
    short = str(data.ticket_id)[:8]
    reopened = isinstance(data, TicketReopened)
    subject = f"Logitech Select support ticket {short} " + ("reopened" if reopened else f"is {words}")
    message = _message(event, "ticket-update", subject, data.opened_by)
    message["X-Select-Ticket-Id"] = str(data.ticket_id)
    lines = [
        "Hello,",
        "",
        f"your support ticket {data.ticket_id} " + ("was reopened and is in progress again." if reopened
                                                   else f"is now {words}."),
        f"Changed on {event.effective_at.astimezone(UTC).strftime('%Y-%m-%d %H:%M UTC')}.",
        "",
        "Follow it in the Logitech Select Service Portal, under Support.",
        "",
        "Logitech Support Services",
    ]
    _set_body(message, lines)
    return Mail(event.id, "ticket-update", message)


def mails_for(event: StreamEvent[Any], secret_key: bytes, portal_url: str = DEFAULT_PORTAL_URL) -> list[Mail]:
    """The e-mails one event causes (R19, R25): none for most events."""
    if isinstance(event.data, OrderPlaced):
        return [purchase_confirmation(event)]
    if isinstance(event.data, (TicketStatusChanged, TicketReopened)):
        mail = ticket_update(event)
        return [mail] if mail is not None else []
    if isinstance(event.data, (InvitationSent, UserInvited)):
        return [welcome_invitation(event, secret_key, portal_url)]
    return []


class SentLog:
    """The mails already handed to the SMTP server, keyed by event id and kind."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection
        with self._conn:
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS notifications_sent (event_id TEXT, kind TEXT, recipients TEXT, "
                "message_id TEXT, sent_at TEXT, outcome TEXT, PRIMARY KEY (event_id, kind))"
            )

    def has(self, mail: Mail) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM notifications_sent WHERE event_id=? AND kind=?", (mail.event_id, mail.kind)
        ).fetchone()
        return row is not None

    def record(self, mail: Mail, outcome: str = "sent") -> None:
        with self._conn:
            self._conn.execute(
                "INSERT OR IGNORE INTO notifications_sent VALUES (?, ?, ?, ?, ?, ?)",
                (
                    mail.event_id,
                    mail.kind,
                    ", ".join(mail.recipients),
                    mail.message["Message-ID"],
                    datetime.now(UTC).isoformat(),
                    outcome,
                ),
            )

    def count(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM notifications_sent").fetchone()[0])


class SmtpSender:
    """Hands mails to one SMTP server; reconnects when the connection was lost."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float = 30.0,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.starttls, self.username, self.password = starttls, username, password
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        if self._smtp is None:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password or "")
            self._smtp = smtp
        return self._smtp

    def send(self, message: EmailMessage) -> None:
        try:
            self._connect().send_message(message)
        except smtplib.SMTPServerDisconnected:
            self.close()
            self._connect().send_message(message)

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()


@dataclass
class NotifyStats:
    events: int = 0
    sent: int = 0
    already_sent: int = 0
    rejected: int = 0
    parked: int = 0
    retried: int = 0


class NotificationsConsumer:
    """Reads the stream with the subscriber API and sends each event's mails once."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        *,
        sender: SmtpSender,
        secret_key: bytes,
        state_path: str,
        group_id: str = "select-ledger-notify",
        portal_url: str = DEFAULT_PORTAL_URL,
        from_beginning: bool = False,
        retry_for: float | None = 60.0,
        connect_timeout: float = 15.0,
        log: Callable[[str], None] | None = None,
        park_after: float = 60.0,
        consumer_name: str = "notify",
    ) -> None:
        self.name = consumer_name
        self.park_after = park_after
        self.sender = sender
        self.secret_key = secret_key
        self.portal_url = portal_url
        self.retry_for = retry_for
        self.stats = NotifyStats()
        self._log = log or (lambda _message: None)
        self.store = SqliteCheckpointStore(state_path)
        self.sent_log = SentLog(self.store.connection)
        self.parked = ParkedStore(sqlite_engine(state_path))
        self._blocked = self.parked.blocked_customers(self.name)
        self._in_progress: StreamEvent[Any] | None = None
        self._lag_events = 0
        self._position: int | None = None
        self._last_retry_look = 0.0
        try:
            self.subscriber = Subscriber(
                bootstrap_servers,
                topic,
                group_id,
                from_beginning=from_beginning,
                store=self.store,
                checkpoint_every=50,
                consumer_overrides={"bootstrap_timeout_ms": int(connect_timeout * 1000)},
                log=self._log,
                on_invalid=self._park_invalid,
            )
        except BaseException:
            self.parked.close()
            self.store.close()
            raise

    def _deliver(self, mail: Mail, stop: threading.Event) -> None:
        """Send one mail; retry temporary failures (4xx, connection) with a growing pause.

        Raises MailFailed when this mail cannot be sent while the server works: recipients refused
        with 4xx for ``park_after`` seconds, or a message the server or the client cannot take."""
        pause, failing_since = 1.0, time.monotonic()
        while True:
            try:
                self.sender.send(mail.message)
            except smtplib.SMTPRecipientsRefused as exc:
                codes = {code for code, _ in exc.recipients.values()}
                if all(500 <= code < 600 for code in codes):
                    self._log(f"notify: {mail.kind} for event {mail.event_id} refused by the server: {exc.recipients}")
                    self.sent_log.record(mail, outcome="rejected")
                    self.stats.rejected += 1
                    return
                if time.monotonic() - failing_since >= self.park_after:
                    raise MailFailed(
                        f"{mail.kind}: recipients refused for {self.park_after:.0f} s: {exc.recipients}"
                    ) from None
                error: Exception = exc
            except smtplib.SMTPNotSupportedError as exc:
                raise MailFailed(f"{mail.kind}: the SMTP server cannot take this message: {exc}") from None
            except smtplib.SMTPResponseException as exc:
                if 500 <= exc.smtp_code < 600:
                    self._log(
                        f"notify: {mail.kind} for event {mail.event_id} refused: {exc.smtp_code} {exc.smtp_error!r}"
                    )
                    self.sent_log.record(mail, outcome="rejected")
                    self.stats.rejected += 1
                    return
                error = exc
            except (smtplib.SMTPException, OSError) as exc:
                error = exc
            except (ValueError, TypeError, UnicodeError) as exc:
                raise MailFailed(f"{mail.kind}: the message cannot be sent ({type(exc).__name__}: {exc})") from None
            else:
                self.sent_log.record(mail)
                self.stats.sent += 1
                return
            self.sender.close()
            if self.retry_for is not None and time.monotonic() - failing_since > self.retry_for:
                raise NotifyError(
                    f"cannot hand mail to SMTP server {self.sender.host}:{self.sender.port} "
                    f"({type(error).__name__}: {error}); the event will be retried on the next run"
                )
            self._log(
                f"notify: SMTP {self.sender.host}:{self.sender.port} failed ({type(error).__name__}: {error}); "
                f"retrying in {pause:.0f} s"
            )
            if stop.wait(pause):
                raise NotifyError("stopped while the SMTP server was unavailable")
            pause = min(pause * 2, 30.0)

    def handle(self, event: StreamEvent[Any], stop: threading.Event | None = None) -> None:
        """Send the event's mails, or park it (SPEC 9): behind a parked event of the same customer,
        or when its mails cannot be made or handed over."""
        self.stats.events += 1
        self._in_progress = event
        try:
            customer = str(event.customer_id)
            if customer in self._blocked and customer in self.parked.blocked_customers(self.name):
                self._park(event, "waits behind an earlier parked event of this customer")
                return
            self._blocked.discard(customer)
            error = self._send_all(event, stop or threading.Event())
            if error is not None:
                self._park(event, error)
        finally:
            self._in_progress = None
            self._position = event.position

    def _send_all(self, event: StreamEvent[Any], stop: threading.Event) -> str | None:
        """Send each mail of ``event`` not sent before; the reason when it must be parked, else None."""
        try:
            mails = mails_for(event, self.secret_key, self.portal_url)
        except Exception as exc:
            return f"cannot make its mails ({type(exc).__name__}: {exc})"
        for mail in mails:
            if self.sent_log.has(mail):
                self.stats.already_sent += 1
                continue
            try:
                self._deliver(mail, stop)
            except MailFailed as exc:
                return str(exc)
            self._log(f"notify: sent {mail.kind} for event {mail.event_id} to {', '.join(mail.recipients)}")
        return None

    def _raw(self) -> str:
        message = self.subscriber.current_message
        value = getattr(message, "value", b"") or b""
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)

    def _park(self, event: StreamEvent[Any], error: str) -> None:
        customer = str(event.customer_id)
        if self.parked.park(
            self.name, event_id=event.id, customer_id=customer, position=event.position,
            event_type=event.event, error=error, payload=self._raw(), actor=self.name,
        ):
            self.stats.parked += 1
            self._log(f"notify: parked event {event.id} ({event.event}) of customer {customer}: {error}")
        self._blocked.add(customer)

    def _park_invalid(self, message: Any, error: EnvelopeError) -> None:
        """A message that is not a ledger event this code can read: parked under its subject."""
        value = message.value if isinstance(message.value, bytes) else str(message.value).encode()
        try:
            envelope = json.loads(value)
        except ValueError:
            envelope = {}
        envelope = envelope if isinstance(envelope, dict) else {}
        customer = str(envelope.get("subject") or "unknown")
        ident = str(envelope.get("id") or f"{message.topic}[{message.partition}]@{message.offset}")
        position = envelope.get("ledgerposition")
        if self.parked.park(
            self.name, event_id=ident, customer_id=customer,
            position=position if isinstance(position, int) else None,
            event_type=str(envelope.get("type") or "unknown"), error=f"not a ledger event this code can read: "
            f"{error}", payload=value.decode("utf-8", "replace"), actor=self.name,
        ):
            self.stats.parked += 1
            self._log(f"notify: parked message {ident} of customer {customer}: {error}")
        self._blocked.add(customer)

    def process_retries(self, stop: threading.Event | None = None) -> int:
        """Try again the parked events an operator marked for retry, in original order; an event
        whose customer has an earlier one still parked waits. Returns how many were delivered."""
        stop = stop or threading.Event()
        delivered = 0
        failed: set[str] = set()
        while True:
            due = self.parked.due_retries(self.name)
            if not due:
                break
            for parked in due:
                error = self._retry(parked, failed, stop)
                if error is None:
                    delivered += 1
                    self.stats.retried += 1
                    self._log(f"notify: retried parked event {parked.event_id}: delivered")
                else:
                    failed.add(parked.customer_id)
                    self._log(f"notify: retried parked event {parked.event_id}: parked again ({error})")
                self.parked.retried(parked, delivered=error is None, actor=self.name, error=error or "")
        self._blocked = self.parked.blocked_customers(self.name)
        return delivered

    def _retry(self, parked: Parked, failed: set[str], stop: threading.Event) -> str | None:
        if parked.customer_id in failed or self.parked.earlier_waiting(parked):
            return "waits behind an earlier parked event of this customer"
        try:
            event = read_event(decode(parked.payload))
            if event.id != event_id(event.customer_id, event.aggregate_version):
                raise EnvelopeError(f"id: {event.id} is not the id of this customer's event")
        except EnvelopeError as exc:
            return f"not a ledger event this code can read: {exc}"
        return self._send_all(event, stop)

    def _retries_now(self, stop: threading.Event, every: float = 2.0) -> None:
        now = time.monotonic()
        if now - self._last_retry_look >= every:
            self._last_retry_look = now
            self.process_retries(stop)

    def status(self) -> ConsumerStatus:
        """What the metrics report of this consumer (read from another thread: no Kafka calls)."""
        current = self._in_progress
        if current is not None:
            seconds = max(0.0, (datetime.now(UTC) - current.recorded_at).total_seconds())
            events = max(self._lag_events, 1)
        else:
            events = self._lag_events
            seconds = 0.0 if events == 0 else self._idle_lag_seconds
        return ConsumerStatus(self.name, events, seconds, self._position, parked=self.parked.count(self.name))

    _idle_lag_seconds = 0.0

    def run(
        self, *, until_caught_up: bool = False, idle_timeout: float | None = None, stop: threading.Event | None = None
    ) -> NotifyStats:
        stop = stop or threading.Event()
        self.process_retries(stop)

        def idle() -> None:
            self._lag_events = self.subscriber.lag()
            self._retries_now(stop)

        for event in self.subscriber.events(
            until_caught_up=until_caught_up, idle_timeout=idle_timeout, stop=stop, on_idle=idle
        ):
            self.handle(event, stop)
            self._lag_events = self.subscriber.lag()
            self._idle_lag_seconds = max(0.0, (datetime.now(UTC) - event.recorded_at).total_seconds())
            self._retries_now(stop)
        self.process_retries(stop)
        return self.stats

    def close(self) -> None:
        try:
            self.subscriber.close()
        finally:
            self.sender.close()
            self.parked.close()
            self.store.close()
