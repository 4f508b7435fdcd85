"""``Idempotency-Key``: a retried request returns the first answer and records nothing again.

The key is scoped to the principal. The first request with a key claims a row (a primary-key
insert, so two processes cannot both claim it), runs, and stores its answer; a retry with the same
key and the same request gets that answer back; the same key with a different request is refused
(422), and one that arrives while the first still runs is told to retry (409). Rows live in the
event store's database beside the read models, so they survive a restart. Secrets stay out of the
table: an invitation token in a stored answer is replaced by the ids it is derived from and
derived again (it is a keyed MAC of them) when the answer is replayed.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy.exc
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, Text, insert, select, update

from aggregates.errors import Conflict, InvalidInput
from commands.tokens import issue_token, read_token

MAX_KEY = 255
metadata = MetaData()
idempotency = Table(
    "idempotency_keys", metadata,
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

    def claim(self, principal: str, key: str, print_: str) -> tuple[int, dict[str, Any]] | None:
        """None: this request runs (the key is claimed). Else the stored (status, body) to replay."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(idempotency).values(
                    principal=principal, key=key, fingerprint=print_, state="pending",
                    created_at=datetime.now(UTC).isoformat(),
                ))
            return None
        except sqlalchemy.exc.IntegrityError:
            pass
        with self.engine.connect() as conn:
            row = conn.execute(
                select(idempotency).where(idempotency.c.principal == principal, idempotency.c.key == key)
            ).first()
        if row is None:  # released between our insert and read: try once more
            return self.claim(principal, key, print_)
        if row.fingerprint != print_:
            raise InvalidInput(
                "Idempotency-Key: this key was used for a different request; use a new key",
                field="Idempotency-Key", code="idempotency_key_reused",
            )
        if row.state != "done":
            raise Conflict(
                "Idempotency-Key: the first request with this key is still running; retry shortly",
                field="Idempotency-Key", code="idempotency_in_progress",
            )
        return int(row.status), _restore_secrets(json.loads(row.body), self.secret_key)

    def complete(self, principal: str, key: str, status: int, body: dict[str, Any]) -> None:
        stored = json.dumps(_strip_secrets(body, self.secret_key), ensure_ascii=False, default=str)
        with self.engine.begin() as conn:
            conn.execute(
                update(idempotency)
                .where(idempotency.c.principal == principal, idempotency.c.key == key)
                .values(state="done", status=status, body=stored)
            )

    def release(self, principal: str, key: str) -> None:
        """Forget a claim whose request did not finish (a transient failure): a retry runs again."""
        from sqlalchemy import delete

        with self.engine.begin() as conn:
            conn.execute(
                delete(idempotency).where(
                    idempotency.c.principal == principal, idempotency.c.key == key, idempotency.c.state == "pending"
                )
            )
