"""Single sign-on values (R21, R22): issuer URLs, audiences and e-mail domains, as pure functions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

_DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$")


def issuer_problem(issuer: str) -> str | None:
    """Why ``issuer`` cannot be a trusted OpenID Connect issuer, or None when it can.

    An issuer is an absolute ``https`` URL without query or fragment (``http`` only on a loopback
    host, for a provider on the same machine); it is compared with the token's ``iss`` exactly.
    """
    try:
        parts = urlsplit(issuer)
        host = parts.hostname
    except ValueError:
        return "is not a URL"
    if parts.scheme not in ("https", "http") or not host:
        return "must be an absolute https URL"
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        return "must use https (http only on a loopback host)"
    if parts.query or parts.fragment:
        return "must have no query or fragment"
    if parts.username or parts.password:
        return "must not carry credentials"
    return None


def normalise_domain(domain: str) -> str:
    """A domain lower-cased, without a trailing dot; ValueError when it is not a domain name."""
    value = domain.strip().lower().rstrip(".")
    if not _DOMAIN.match(value):
        raise ValueError(f"{domain!r} is not a domain name")
    return value


def email_domain(email: str) -> str:
    """The domain part of an e-mail address, lower-cased."""
    return email.rpartition("@")[2].strip().lower().rstrip(".")


def domain_allowed(email: str, allowed_domains: tuple[str, ...] | frozenset[str]) -> bool:
    """True when the e-mail's domain is exactly one of the allowed domains (R22)."""
    return email_domain(email) in allowed_domains


@dataclass(frozen=True)
class SsoConfig:
    """A customer's own OpenID Connect issuer (R22): its tokens act for users of the allowed domains."""

    issuer: str
    audience: str
    allowed_domains: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "allowed_domains", tuple(self.allowed_domains))
