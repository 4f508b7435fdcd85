"""The portal's session: who is signed in, the CSRF token, one-shot messages.

The session lives in a signed cookie (Starlette's ``SessionMiddleware``, itsdangerous signatures):
``HttpOnly``, ``SameSite=Lax``, ``Secure`` unless the portal is on a loopback host. It holds the
signed-in e-mail, the customers a per-customer SSO identity is limited to (R22), when it expires, a
random CSRF token and, during sign-in, the OpenID Connect state of ``authlib``. It never holds a token
of the identity provider or an invitation token past its use. Authorization is decided again on every
request from the ledger (a removed user or a revoked delegation loses access at once, R17).
"""

from __future__ import annotations

import base64
import hmac
import secrets
import time
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from fastapi import Request

from commands.auth import Principal

USER = "user"
CSRF = "csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class CsrfRefused(Exception):
    """A state-changing request without this session's CSRF token, or from another origin."""


def csrf_token(request: Request) -> str:
    """The session's CSRF token for one page, masked afresh on every call.

    Pages are gzip-compressed and some reflect what the user typed (a search): a token that
    read the same in every response could be recovered byte by byte from compressed sizes
    (BREACH). So each page carries ``mask + (token XOR mask)``, random each time, which
    :func:`require_csrf` unmasks.
    """
    token = request.session.get(CSRF)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[CSRF] = token
    raw = token.encode()
    mask = secrets.token_bytes(len(raw))
    return base64.urlsafe_b64encode(mask + bytes(a ^ b for a, b in zip(raw, mask, strict=True))).decode()


def _unmask(sent: str) -> bytes | None:
    try:
        packed = base64.urlsafe_b64decode(sent.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return None
    half = len(packed) // 2
    if half == 0 or len(packed) != 2 * half:
        return None
    return bytes(a ^ b for a, b in zip(packed[half:], packed[:half], strict=True))


async def require_csrf(request: Request) -> None:
    """Refuse a POST whose form (or ``X-CSRF-Token`` header) lacks the session's token, or a foreign Origin."""
    origin = request.headers.get("origin")
    portal_origin = request.app.state.portal_origin
    if origin is not None and origin != portal_origin:
        raise CsrfRefused(f"the request came from {origin}, not from the portal")
    expected = request.session.get(CSRF)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    unmasked = _unmask(sent) if sent is not None else None
    if not isinstance(expected, str) or unmasked is None or not hmac.compare_digest(expected.encode(), unmasked):
        raise CsrfRefused("the form's CSRF token is missing or does not belong to this session")


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def sign_in(request: Request, email: str, customers: frozenset[str] | None, hours: int, keep: dict[str, Any]) -> None:
    """Start a fresh session for ``email`` (no state of the anonymous session survives but ``keep``)."""
    request.session.clear()
    request.session.update(keep)
    request.session[USER] = {
        "email": email.lower(),
        "customers": sorted(customers) if customers is not None else None,
        "exp": int(time.time()) + hours * 3600,
    }
    request.session[CSRF] = secrets.token_urlsafe(32)


def sign_out(request: Request) -> None:
    request.session.clear()


def current_principal(request: Request) -> Principal | None:
    """The signed-in portal user, or None (no session, or it expired)."""
    user = request.session.get(USER)
    if not isinstance(user, dict):
        return None
    if not isinstance(user.get("exp"), int) or user["exp"] < time.time():
        request.session.pop(USER, None)
        return None
    customers = user.get("customers")
    only = frozenset(UUID(c) for c in customers) if isinstance(customers, list) else None
    return Principal.user(str(user["email"]), only_customers=only)


def set_flash(request: Request, message: str) -> None:
    request.session["flash"] = message[:300]


def pop_flash(request: Request) -> str | None:
    message = request.session.pop("flash", None)
    return message if isinstance(message, str) else None
