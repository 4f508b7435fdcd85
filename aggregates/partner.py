"""Service partners (R17): companies whose users act for every customer that delegated to them."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from aggregates.errors import Conflict, RuleViolation
from aggregates.ids import partner_id_for


class Partner(Aggregate):
    class Event(Aggregate.Event):
        at: datetime
        actor: str

    class Registered(Event, Aggregate.Created):
        partner_id: str
        name: str

    class UserAdded(Event):
        email: str

    @staticmethod
    def create_id(partner_id: str) -> UUID:
        return partner_id_for(partner_id)

    @event(Registered)
    def __init__(self, partner_id: str, name: str, at: datetime, actor: str) -> None:
        self.partner_id = partner_id
        self.name = name
        self.last_at = at
        self.users: list[str] = []

    def add_user(self, *, email: str, at: datetime, actor: str) -> None:
        if at < self.last_at:
            raise RuleViolation(
                f"at: {at.isoformat()} is before this partner's latest event",
                rule="R20",
                field="at",
                code="time_went_backwards",
            )
        if email in self.users:
            raise Conflict(
                f"email: {email} is already a user of partner {self.partner_id}",
                rule="R17",
                field="email",
                code="already_a_user",
            )
        self._user_added(email=email, at=at, actor=actor)

    @event(UserAdded)
    def _user_added(self, email: str, at: datetime, actor: str) -> None:
        self.users.append(email)
        self.last_at = max(self.last_at, at)
