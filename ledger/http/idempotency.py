"""``Idempotency-Key``: a retried request returns the first answer and records nothing again.

The key is scoped to the principal. A request whose key has no answer yet runs; the answer of an
accepted command is recorded in the transaction of its events (``ledger.answers``: a crash leaves
both or neither, never a key stuck "in progress"), a refusal's after it (it recorded nothing). A
retry with the same key and the same request gets that answer back; the same key with a
different request is refused (422). Two requests with one key at once (in one server or several)
record it once: the row's primary key fails the second transaction, which then replays the
first's answer. Rows live in the event store's database beside the read models, so they survive
a restart. Secrets stay out of the
table: an invitation token in a stored answer is replaced by the ids it is derived from and
derived again (it is a keyed MAC of them) when the answer is replayed.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy.exc
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, Text, delete, insert, select

from aggregates.errors import InvalidInput
from commands.tokens import issue_token, read_token
from ledger.answers import TABLE, Answer
from ledger.jsonvalues import json_default

MAX_KEY = 255
metadata = MetaData()
idempotency = Table(
    TABLE, metadata,
    Column("principal", String(300), primary_key=True),
    Column("key", String(MAX_KEY), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("state", String(8), nullable=False),
    Column("status", Integer),
    Column("body", Text),
    Column("created_at", String(40), nullable=False),
)
_TOKEN_REF = "__token_of__"


def fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _strip_secrets(value: Any, secret_key: bytes) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == "token" and isinstance(v, str):
                customer_id, invitation_id = read_token(secret_key, v)
                out[_TOKEN_REF] = [str(customer_id), str(invitation_id)]
            else:
                out[k] = _strip_secrets(v, secret_key)
        return out
    if isinstance(value, list):
        return [_strip_secrets(v, secret_key) for v in value]
    return value


def _restore_secrets(value: Any, secret_key: bytes) -> Any:
    from uuid import UUID

    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == _TOKEN_REF:
                out["token"] = issue_token(secret_key, UUID(v[0]), UUID(v[1]))
            else:
                out[k] = _restore_secrets(v, secret_key)
        return out
    if isinstance(value, list):
        return [_restore_secrets(v, secret_key) for v in value]
    return value


class IdempotencyStore:
    """The ``idempotency_keys`` table: stored answers by (principal, key), and their lookup."""

    def __init__(self, engine: Engine, secret_key: bytes) -> None:
        self.engine = engine
        self.secret_key = secret_key
        for attempt in range(5):
            try:
                metadata.create_all(engine)
                break
            except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError, sqlalchemy.exc.OperationalError):
                if attempt == 4:
                    raise

    @staticmethod
    def check_key(key: str) -> None:
        if not key or len(key) > MAX_KEY or not key.isprintable():
            raise InvalidInput(
                f"Idempotency-Key: give 1-{MAX_KEY} printable characters", field="Idempotency-Key",
                code="invalid_idempotency_key",
            )

    def lookup(self, principal: str, key: str, print_: str) -> tuple[int, dict[str, Any]] | None:
        """The stored (status, body) to replay, or None when the key has no answer yet.

        The same key with a different request is refused (422). A ``pending`` row (a claim written
        by an earlier release of this code, whose request never finished) is forgotten."""
        where = (idempotency.c.principal == principal, idempotency.c.key == key)
        with self.engine.connect() as conn:
            row = conn.execute(select(idempotency).where(*where)).first()
        if row is None:
            return None
        if row.state != "done":
            with self.engine.begin() as conn:
                conn.execute(delete(idempotency).where(*where, idempotency.c.state != "done"))
            return None
        if row.fingerprint != print_:
            raise InvalidInput(
                "Idempotency-Key: this key was used for a different request; use a new key",
                field="Idempotency-Key", code="idempotency_key_reused",
            )
        return int(row.status), _restore_secrets(json.loads(row.body), self.secret_key)

    def encode(self, body: dict[str, Any]) -> str:
        """A body as stored: JSON, with invitation tokens replaced by the ids they derive from."""
        return json.dumps(_strip_secrets(body, self.secret_key), ensure_ascii=False, default=json_default)

    def recorded(self, principal: str, key: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(
                select(idempotency.c.key).where(idempotency.c.principal == principal, idempotency.c.key == key)
            ).first() is not None

    def answer(self, principal: str, key: str, print_: str) -> Answer:
        """What the writer needs to record this key's answer in the transaction of its events."""
        return Answer(principal, key, print_, self.encode, lambda: self.recorded(principal, key))

    def store(
        self, principal: str, key: str, print_: str, status: int, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]] | None:
        """Record an answer that came with no events (a refusal, a command that changed nothing).

        None: stored. Else the answer another request recorded first for this key, to replay."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(idempotency).values(
                    principal=principal, key=key, fingerprint=print_, state="done", status=status,
                    body=self.encode(body), created_at=datetime.now(UTC).isoformat(),
                ))
            return None
        except sqlalchemy.exc.IntegrityError:
            return self.lookup(principal, key, print_)
