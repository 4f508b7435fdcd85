"""API keys for operators and integrations (R23), stored only as keyed hashes.

A key is ``lsk_<id>_<secret>``: ``id`` (16 hex digits) finds its row, ``secret`` (32 random bytes,
base64url) is checked against ``HMAC-SHA256(k, id ":" secret)`` with a constant-time comparison,
where ``k`` is derived from the ledger's secret key (``LEDGER_SECRET_KEY``/``LEDGER_SECRET_FILE``,
shared by the command line that creates keys and the server that checks them). The key is printed
once by ``ledger api-key create`` and never stored, logged, put in an event or on the stream: the
table lives beside the read models in the event store's database and is not part of the log.
A revoked key is refused on the next request: every read request reads its row, and the HTTP
writer checks every key of a group of commands in one read before it runs them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import sqlalchemy.exc
from sqlalchemy import Column, Engine, MetaData, String, Table, bindparam, insert, select, update

from aggregates.errors import Conflict, InvalidInput, NotFound
from commands.auth import Principal
from ledger.auth.principal import Unauthenticated

PREFIX = "lsk_"
SCOPES = ("ops", "customer", "partner")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_KEY = re.compile(r"^lsk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")

metadata = MetaData()
api_keys = Table(
    "api_keys", metadata,
    Column("name", String(64), primary_key=True),
    Column("key_id", String(16), nullable=False, unique=True),
    Column("digest", String(64), nullable=False),
    Column("scope", String(16), nullable=False),
    Column("customer_id", String(36)),
    Column("role", String(16)),
    Column("partner_id", String(64)),
    Column("created_at", String(40), nullable=False),
    Column("revoked_at", String(40)),
)
# built once: on the path of every read request, where building a statement costs more than the read
_BY_KEY_ID = select(api_keys).where(api_keys.c.key_id == bindparam("key_id"))


@dataclass(frozen=True)
class ApiKeyInfo:
    """A key's row without its secret: what ``ledger api-key list`` shows."""

    name: str
    scope: str
    customer_id: str | None
    role: str | None
    partner_id: str | None
    created_at: str
    revoked_at: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "principal": f"key:{self.name}", "scope": self.scope,
            "customer_id": self.customer_id, "role": self.role, "partner_id": self.partner_id,
            "created_at": self.created_at, "revoked_at": self.revoked_at,
        }


def _refused() -> Unauthenticated:
    return Unauthenticated(
        "authorization: the API key is not valid or has been revoked (R23)", rule="R23", field="authorization"
    )


class ApiKeyStore:
    """The ``api_keys`` table: create, list, revoke, and resolve a presented key to its principal."""

    def __init__(self, engine: Engine, secret_key: bytes) -> None:
        self.engine = engine
        self._mac_key = hmac.new(secret_key, b"select-ledger api keys v1", hashlib.sha256).digest()
        self._rows: dict[str, Any] = {}  # active rows read before (hashes only), by key id
        for attempt in range(5):
            try:
                metadata.create_all(engine)
                break
            except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError, sqlalchemy.exc.OperationalError):
                if attempt == 4:
                    raise

    def _digest(self, key_id: str, secret: str) -> str:
        return hmac.new(self._mac_key, f"{key_id}:{secret}".encode(), hashlib.sha256).hexdigest()

    def create(
        self,
        name: str,
        *,
        role: str | None = None,
        customer_id: UUID | None = None,
        partner_id: str | None = None,
        now: datetime | None = None,
    ) -> str:
        """Create a key and return it (the only time it is ever available)."""
        if not _NAME.match(name):
            raise InvalidInput(
                f"--name: {name!r} must be 1-64 letters, digits, '.', '_' or '-' (R23)", rule="R23", field="name"
            )
        if customer_id is not None:
            if partner_id is not None:
                raise InvalidInput("--customer and --partner exclude each other (R23)", rule="R23", field="scope")
            if role not in ("admin", "viewer"):
                raise InvalidInput("--role: a customer key is admin or viewer (R23)", rule="R23", field="role")
            scope = "customer"
        elif partner_id is not None:
            if role is not None:
                raise InvalidInput(
                    "--role: a partner key acts with the role each customer delegated to the partner (R23)",
                    rule="R23", field="role",
                )
            scope = "partner"
        elif role == "ops":
            scope = "ops"
        else:
            raise InvalidInput(
                "scope: give --role ops, --customer ID --role admin|viewer, or --partner ID (R23)",
                rule="R23", field="scope",
            )
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        row = {
            "name": name, "key_id": key_id, "digest": self._digest(key_id, secret), "scope": scope,
            "customer_id": str(customer_id) if customer_id else None,
            "role": role if scope == "customer" else None,
            "partner_id": partner_id,
            "created_at": (now or datetime.now(UTC)).isoformat(),
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(api_keys).values(**row))
        except sqlalchemy.exc.IntegrityError:
            raise Conflict(
                f"--name: an API key named {name} exists (names are never reused) (R23)",
                rule="R23", field="name", code="duplicate_key_name",
            ) from None
        return f"{PREFIX}{key_id}_{secret}"

    def list(self) -> list[ApiKeyInfo]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(api_keys).order_by(api_keys.c.name)).all()
        return [
            ApiKeyInfo(r.name, r.scope, r.customer_id, r.role, r.partner_id, r.created_at, r.revoked_at)
            for r in rows
        ]

    def revoke(self, name: str, now: datetime | None = None) -> None:
        with self.engine.begin() as conn:
            done = conn.execute(
                update(api_keys)
                .where(api_keys.c.name == name, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=(now or datetime.now(UTC)).isoformat())
            ).rowcount
            if not done:
                exists = conn.execute(select(api_keys.c.name).where(api_keys.c.name == name)).first()
        if not done and exists is None:
            raise NotFound(f"NAME: no API key named {name} (R23)", rule="R23", field="name")

    def principal_for(self, key: str) -> Principal:
        """The principal of a presented key; Unauthenticated when unknown, wrong or revoked (one read)."""
        key_id, secret = self._parse(key)
        with self.engine.connect() as conn:
            row = conn.execute(_BY_KEY_ID, {"key_id": key_id}).first()
        if row is not None and not row.revoked_at:
            self._rows[key_id] = row
        return self._check(row, key_id, secret)

    def resolve_deferred(self, key: str) -> tuple[Principal, str]:
        """The principal of a key and its id, from a row read before when there is one.

        Whether the key is still active is left to the caller, who must ask :meth:`active` before
        acting (the group-commit writer asks once for every key of a group): a revocation still
        takes effect on the next request.
        """
        key_id, secret = self._parse(key)
        row = self._rows.get(key_id)
        if row is None:
            return self.principal_for(key), key_id
        return self._check(row, key_id, secret), key_id

    def active(self, key_ids: set[str]) -> set[str]:
        """Those of ``key_ids`` that exist and are not revoked, in one read."""
        if not key_ids:
            return set()
        with self.engine.connect() as conn:
            found = conn.execute(
                select(api_keys.c.key_id).where(api_keys.c.key_id.in_(sorted(key_ids)), api_keys.c.revoked_at.is_(None))
            ).scalars().all()
        for key_id in key_ids - set(found):
            self._rows.pop(key_id, None)
        return set(found)

    @staticmethod
    def _parse(key: str) -> tuple[str, str]:
        match = _KEY.match(key)
        if match is None:
            raise _refused()
        key_id, secret = match.groups()
        return key_id, secret

    def _check(self, row: Any, key_id: str, secret: str) -> Principal:
        # Compare even when no row was found, so a miss costs the same as a wrong secret.
        expected = row.digest if row is not None else "0" * 64
        if not hmac.compare_digest(expected, self._digest(key_id, secret)) or row is None or row.revoked_at:
            raise _refused()
        if row.scope == "ops":
            return Principal.ops_key(row.name)
        if row.scope == "customer":
            return Principal.customer_key(row.name, UUID(row.customer_id), row.role)
        return Principal.partner_key(row.name, row.partner_id)
