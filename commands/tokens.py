"""Invitation tokens (R15): derived with a keyed MAC, returned to the caller, never stored."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from uuid import UUID

from aggregates.errors import Forbidden

_MAC_BYTES = 20
_PREFIX = "inv_"


def _mac(key: bytes, customer_id: UUID, invitation_id: UUID) -> bytes:
    return hmac.new(key, customer_id.bytes + invitation_id.bytes, hashlib.sha256).digest()[:_MAC_BYTES]


def issue_token(key: bytes, customer_id: UUID, invitation_id: UUID) -> str:
    raw = customer_id.bytes + invitation_id.bytes + _mac(key, customer_id, invitation_id)
    return _PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_token(key: bytes, token: str) -> tuple[UUID, UUID]:
    """Return (customer_id, invitation_id) of a genuine token; refuse anything else."""
    invalid = Forbidden("token: the invitation token is not valid", rule="R15", field="token")
    if not token.startswith(_PREFIX):
        raise invalid
    body = token[len(_PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise invalid from None
    if len(raw) != 32 + _MAC_BYTES:
        raise invalid
    customer_id, invitation_id = UUID(bytes=raw[:16]), UUID(bytes=raw[16:32])
    if not hmac.compare_digest(raw[32:], _mac(key, customer_id, invitation_id)):
        raise invalid
    return customer_id, invitation_id
