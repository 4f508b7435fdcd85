"""Given / when / then for rule tests, through the application (its store, handlers and aggregates).

    rules = Rules(app)                                            # the `rules` fixture
    given = rules.given(order(po="PO-1", quantity=40))          # accepted commands: the history
    rules.when(order(po="PO-2", quantity=40, at=NOVEMBER)).then(
        "OrderPlaced", ("SpareAccrued", {"spare_no": 1, "active_select_licenses": 80}))
    rules.refused(command("AllocateSpare", ...), rule="R14", field="product", code="product_not_deployed")

``given`` runs commands that must be accepted and returns their results (ids for what follows);
``when`` runs one command and records what it did: the events it recorded, in order, of every
aggregate (read back from the store's notification log), or its refusal. ``then`` compares the event
types in order, and for an ``(type, fields)`` pair that the event's data has those fields with those
values; ``refused`` checks the refusal's rule, field and code and that nothing was recorded
(``when(raw, principal=…).refused(…)`` for a command authorized for a principal). ``view`` reads a
view from the read models (caught up), checked equal to the one folded from the customer's events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from aggregates.errors import LedgerError
from commands.auth import Principal
from commands.parsing import parse_command
from ledger.app import LedgerApplication, event_type
from ledger.jsonvalues import event_data
from ledger.readside import catch_up, customer_view_as_of, live_view, open_read_models
from tests.kit.commands import run
from tests.kit.helpers import position, refused

Expected = str | tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Recorded:
    """One event a command recorded: its public type (``SpareAccrued``, ``PurchaseOrder.Reserved``) and data."""

    type: str
    data: dict[str, Any]


@dataclass
class When:
    """What one command did: its result and events, or its refusal."""

    app: LedgerApplication
    raw: dict[str, Any]
    before: int
    result: dict[str, Any] | None = None
    events: list[Recorded] = field(default_factory=list)
    error: LedgerError | None = None

    def then(self, *expected: Expected, only: str | None = "customer") -> dict[str, Any]:
        """Assert the command was accepted and recorded exactly ``expected`` (customer events only,
        unless ``only=None``: every aggregate's); return its result."""
        assert self.result is not None, f"{self.raw['command']} was refused"
        seen = [e for e in self.events if only is None or "." not in e.type]
        wanted = [e if isinstance(e, str) else e[0] for e in expected]
        assert [e.type for e in seen] == wanted, [e.type for e in seen]
        for event, want in zip(seen, expected, strict=True):
            if not isinstance(want, str):
                fields = {k: event.data.get(k) for k in want[1]}
                assert fields == want[1], (event.type, event.data)
        return self.result

    def then_data(self, kind: str) -> list[dict[str, Any]]:
        """The data of the events of type ``kind`` the command recorded, in order."""
        assert self.result is not None, f"{self.raw['command']} was refused"
        return [e.data for e in self.events if e.type == kind]

    def refused(self, *, rule: str, field: str, code: str | None = None) -> LedgerError:
        """Assert the command was refused with ``rule``/``field`` (and ``code``) and recorded nothing."""
        error = self.error
        assert error is not None, f"{self.raw['command']} was accepted: {self.result}"
        assert (error.rule, error.field) == (rule, field), error.as_dict()
        if code is not None:
            assert error.code == code, error.as_dict()
        assert error.message, "a refusal says why"
        assert self.events == [] and position(self.app) == self.before, "a refused command must record nothing"
        return error


class Rules:
    """A rule test's ledger: ``given`` history, ``when`` a command, ``then`` its events or ``refused``."""

    def __init__(self, app: LedgerApplication) -> None:
        self.app = app

    def given(self, *raws: dict[str, Any]) -> list[dict[str, Any]]:
        """Run each command (each must be accepted); return their results in order."""
        return [run(self.app, raw) for raw in raws]

    def when(self, raw: dict[str, Any], *, principal: Principal | None = None) -> When:
        """Run ``raw`` (authorized for ``principal`` when given); what it did is asserted with ``then``
        (or ``refused``)."""
        before = position(self.app)
        outcome = When(self.app, raw, before)
        try:
            if principal is None:
                outcome.result = run(self.app, raw)
            else:
                outcome.result = self.app.execute(parse_command(raw), principal=principal)
        except LedgerError as error:
            assert position(self.app) == before, "a refused command must record nothing"
            outcome.error = error
            return outcome
        for notification in self.app.recorder.select_notifications(before + 1, 1_000_000):
            domain_event = self.app.mapper.to_domain_event(notification)
            outcome.events.append(Recorded(event_type(domain_event), event_data(domain_event)))
        return outcome

    def refused(self, raw: dict[str, Any], *, rule: str, field: str, code: str | None = None) -> LedgerError:
        """When ``raw``: refused with ``rule``/``field`` (and ``code``), nothing recorded (``helpers.refused``)."""
        return refused(self.app, raw, rule=rule, field=field, code=code)

    def view(self, name: str, customer_id: str, at: datetime) -> list[dict[str, Any]]:
        """One customer's view ``name`` at ``at`` from the read models (caught up to the end of the
        log), asserted equal to the same view folded from the customer's events."""
        models = open_read_models(self.app)
        try:
            catch_up(self.app, models)
            live = live_view(self.app, models, name, at, UUID(customer_id))
        finally:
            models.close()
        assert live == customer_view_as_of(self.app, name, UUID(customer_id), at), name
        return live
