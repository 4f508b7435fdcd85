"""Authentication of HTTP callers: OpenID Connect ID tokens (R21, R22)."""
